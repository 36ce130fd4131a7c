"""IAM-style policies and accounts hold for the model operations as for every other action: each
needs `rekognition:<Operation>` on the project (CreateProjectVersion, DescribeProjectVersions)
or on the model's ARN (the others), an explicit deny wins, and another account's model does not
exist for the caller."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from models_api import FAST, Models, png
from shapes import draw

from manifestdb.service import MODEL_OPERATIONS
from support.auth import (
    ACCOUNT_A,
    ACCOUNT_B,
    ALLOW_ALL,
    client,
    error_of,
    make_key,
    write_auth_file,
)
from support.lines import manifest
from support.server import ServerFactory, wait_until

PROJECT = "m-policy"
ADMIN = make_key(ACCOUNT_A, "models-admin")
STRANGER = make_key(ACCOUNT_B, "models-stranger")  # may do anything, in account B
OWN = f"arn:aws:rekognition:*:{ACCOUNT_A}:project/{PROJECT}/*"
ELSEWHERE = f"arn:aws:rekognition:*:{ACCOUNT_A}:project/{PROJECT}-other/*"


def users_of(op: str) -> dict[str, Any]:
    """(key, policy) of the three users of an operation: allowed on the project, allowed on
    another project only, and allowed everything but denied this action."""
    action = f"rekognition:{op}"
    return {
        "allowed": (make_key(ACCOUNT_A, f"{op}-allowed"), [_allow(action, OWN)]),
        "elsewhere": (make_key(ACCOUNT_A, f"{op}-elsewhere"), [_allow(action, ELSEWHERE)]),
        "denied": (
            make_key(ACCOUNT_A, f"{op}-denied"),
            [_allow("rekognition:*", "*"), {"Effect": "Deny", "Action": action, "Resource": OWN}],
        ),
    }


def _allow(action: str, resource: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


@pytest.fixture(scope="module")
def models(
    start_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Models]:
    root = tmp_path_factory.mktemp("model-policy")
    entries = [ADMIN.entry(ALLOW_ALL), STRANGER.entry(ALLOW_ALL)]
    for op in MODEL_OPERATIONS:
        for key, statements in users_of(op).values():
            entries.append(key.entry({"Version": "2012-10-17", "Statement": statements}))
    path = write_auth_file(root / "auth.json", entries)
    models = Models(start_server, root, "--auth", "sigv4", "--auth-file", str(path))
    models.client = client(models.server, ADMIN)
    yield models
    models.server.stop()


def test_each_model_operation_needs_its_action_on_its_resource(models: Models) -> None:
    admin = models.client
    project = admin.create_project(ProjectName=PROJECT)["ProjectArn"]
    for kind, lines in (("TRAIN", models.train_lines), ("TEST", models.test_lines)):
        dataset = admin.create_dataset(ProjectArn=project, DatasetType=kind)["DatasetArn"]
        admin.update_dataset_entries(DatasetArn=dataset, Changes={"GroundTruth": manifest(*lines)})
        wait_until(
            lambda d=dataset: admin.describe_dataset(DatasetArn=d)["DatasetDescription"]["Status"]
            == "UPDATE_COMPLETE"
        )
    version = models.train(project)
    models.wait_trained(project)
    image = {"Bytes": png(draw(random.Random(4), ["circle"]).image)}
    calls = {
        "DescribeProjectVersions": lambda c: c.describe_project_versions(ProjectArn=project),
        "CreateProjectVersion": lambda c: c.create_project_version(
            ProjectArn=project, VersionName="v2", OutputConfig={"S3Bucket": "out"}
        ),
        "StartProjectVersion": lambda c: c.start_project_version(
            ProjectVersionArn=version, MinInferenceUnits=1
        ),
        "DetectCustomLabels": lambda c: c.detect_custom_labels(
            ProjectVersionArn=version, Image=image
        ),
        "StopProjectVersion": lambda c: c.stop_project_version(ProjectVersionArn=version),
        "DeleteProjectVersion": lambda c: c.delete_project_version(ProjectVersionArn=version),
    }
    assert set(calls) == set(MODEL_OPERATIONS)
    stranger = client(models.server, STRANGER)
    for op, call in calls.items():  # in an order each allowed call can succeed in
        resource = project if op in ("DescribeProjectVersions", "CreateProjectVersion") else version
        users = users_of(op)
        before = admin.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        for case, reason in (
            ("elsewhere", f"because no identity-based policy allows the rekognition:{op} action"),
            ("denied", "with an explicit deny in an identity-based policy"),
        ):
            key = users[case][0]
            error = error_of(lambda k=key, f=call: f(client(models.server, k)))
            assert error["Code"] == "AccessDeniedException"
            assert error["Message"] == (
                f"User: {key.arn} is not authorized to perform: rekognition:{op} on "
                f"resource: {resource} {reason}"
            )
        error = error_of(lambda f=call: f(stranger))
        assert error["Code"] == "ResourceNotFoundException", op
        after = admin.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        assert after == before  # nothing changed
        call(client(models.server, users["allowed"][0]))
        if op == "StartProjectVersion":
            admin.get_waiter("project_version_running").wait(
                ProjectArn=project, VersionNames=["v1"], WaiterConfig=FAST
            )
        if op == "StopProjectVersion":
            wait_until(lambda: models.describe(project)["Status"] == "STOPPED")
        if op == "CreateProjectVersion":
            models.wait_trained(project, "v2")
    names = [
        d["ProjectVersionArn"].split("/version/")[1].split("/")[0]
        for d in admin.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
    ]
    assert names == ["v2"]  # v1 was deleted by the allowed user


def test_tagging_a_model_at_creation_also_needs_tag_resource(
    make_models: Callable[..., Models], tmp_path: Path
) -> None:
    creator = make_key(ACCOUNT_A, "model-creator")
    entries = [
        ADMIN.entry(ALLOW_ALL),
        creator.entry({"Statement": [_allow("rekognition:CreateProjectVersion", "*")]}),
    ]
    path = write_auth_file(tmp_path / "auth.json", entries)
    models = make_models("--auth", "sigv4", "--auth-file", str(path))
    models.client = client(models.server, ADMIN)
    project = models.project(manifest(*models.train_lines), manifest(*models.test_lines))
    error = error_of(
        lambda: client(models.server, creator).create_project_version(
            ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": "out"}, Tags={"a": "b"}
        )
    )
    name = project.split(":project/")[1].split("/")[0]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].startswith(
        f"User: {creator.arn} is not authorized to perform: rekognition:TagResource on "
        f"resource: arn:aws:rekognition:us-east-1:{ACCOUNT_A}:project/{name}/version/v1/*"
    )
    assert (
        models.client.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        == []
    )
