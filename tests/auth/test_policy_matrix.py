"""Each operation, allowed or denied by action, resource, wildcard, Deny, Not*.

One user per (operation, case), each with its own policy in one auth file; each case acts on its
own project, named in advance so that policies can name it as users do
(`arn:aws:rekognition:*:ACCOUNT:project/NAME/*`). A denied call changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from manifestdb.service import MODEL_OPERATIONS
from manifestdb.service import OPERATIONS as SERVED_OPERATIONS
from support.auth import ACCOUNT_A, ALLOW_ALL, client, error_of, make_key, start_sigv4
from support.lines import image_line, manifest
from support.server import Server, ServerFactory, wait_for_status

ADMIN = make_key(ACCOUNT_A, "matrix-admin")
COPIER = make_key(ACCOUNT_A, "copier")  # may create datasets in m-copy-target, not read others
COPIER_FULL = make_key(ACCOUNT_A, "copier-full")  # and may list the entries of m-copy-source
# Every served operation, in the order of the spec, but those of models: a case of those needs a
# trained model, so tests/models/test_model_policy.py holds them to the same rules.
OPERATIONS = [op for op in SERVED_OPERATIONS if op not in MODEL_OPERATIONS]
TAGGER = make_key(ACCOUNT_A, "tagger")  # may create projects, not tag them
LINES = manifest(
    *(image_line(f"s3://bkt/{i}.jpg", "rose" if i % 2 else "tulip") for i in range(10))
)


def own(op: str, project: str) -> str:
    """The pattern a user would write for this case's project (`*` for DescribeProjects)."""
    return (
        "*"
        if op == "DescribeProjects"
        else f"arn:aws:rekognition:*:{ACCOUNT_A}:project/{project}/*"
    )


def elsewhere(op: str, project: str) -> str:
    """A pattern that does not cover this case's resource."""
    if op == "DescribeProjects":
        return f"arn:aws:rekognition:*:{ACCOUNT_A}:project/*"  # an ARN never matches "*"
    return f"arn:aws:rekognition:*:{ACCOUNT_A}:project/{project}-other/*"


def other_op(op: str) -> str:
    return OPERATIONS[(OPERATIONS.index(op) + 1) % len(OPERATIONS)]


def allow(
    action: str | list[str], resource: str, key: str = "Action", res_key: str = "Resource"
) -> dict[str, Any]:
    return {"Effect": "Allow", key: action, res_key: resource}


def deny(action: str, resource: str) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def wildcard_action(op: str) -> str:
    # A prefix wildcard and a `?`, in another case: actions match case-insensitively.
    return "REKOGNITION:" + op[:3].lower() + "?" + op[4:6].upper() + "*"


def wildcard_resource(op: str, project: str) -> str:
    if op == "DescribeProjects":
        return "*"
    return f"arn:aws:rekognition:us-east-?:{ACCOUNT_A}:project/{project[:-2]}*"


CASES: dict[str, tuple[Callable[[str, str], list[dict[str, Any]]], bool]] = {
    "action": (lambda op, p: [allow(f"rekognition:{op}", own(op, p))], True),
    "other-action": (lambda op, p: [allow(f"rekognition:{other_op(op)}", "*")], False),
    "other-resource": (lambda op, p: [allow(f"rekognition:{op}", elsewhere(op, p))], False),
    "wildcard": (lambda op, p: [allow(wildcard_action(op), wildcard_resource(op, p))], True),
    "deny-over-allow": (
        lambda op, p: [allow("rekognition:*", "*"), deny(f"rekognition:{op}", own(op, p))],
        False,
    ),
    "deny-wildcard": (lambda op, p: [allow(f"rekognition:{op}", "*"), deny("*", "*")], False),
    "deny-other": (
        lambda op, p: [allow(f"rekognition:{op}", "*"), deny(f"rekognition:{other_op(op)}", "*")],
        True,
    ),
    "not-action": (lambda op, p: [allow(f"rekognition:{op}", "*", key="NotAction")], False),
    "not-action-other": (
        lambda op, p: [allow([f"rekognition:{other_op(op)}"], own(op, p), key="NotAction")],
        True,
    ),
    "not-resource": (
        lambda op, p: [allow(f"rekognition:{op}", own(op, p), res_key="NotResource")],
        False,
    ),
    "not-resource-other": (
        lambda op, p: [allow(f"rekognition:{op}", elsewhere(op, p), res_key="NotResource")],
        True,
    ),
}


def project_of(op: str, case: str) -> str:
    return f"m-{op.lower()}-{case}-00"


def user_of(op: str, case: str) -> Any:
    return make_key(ACCOUNT_A, f"m-{op.lower()}-{case}")


@pytest.fixture(scope="module")
def server(start_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Server:
    target = f"arn:aws:rekognition:*:{ACCOUNT_A}:project/m-copy-target/*"
    source = f"arn:aws:rekognition:*:{ACCOUNT_A}:project/m-copy-source/*"
    copy = allow("rekognition:CreateDataset", target)
    users = [
        ADMIN.entry(ALLOW_ALL),
        TAGGER.entry({"Statement": [allow("rekognition:CreateProject", "*")]}),
        COPIER.entry({"Statement": [copy]}),
        COPIER_FULL.entry({"Statement": [copy, allow("rekognition:ListDatasetEntries", source)]}),
    ]
    for op in OPERATIONS:
        for case, (statements, _) in CASES.items():
            policy = {"Version": "2012-10-17", "Statement": statements(op, project_of(op, case))}
            users.append(user_of(op, case).entry(policy))
    started, _ = start_sigv4(start_server, tmp_path_factory.mktemp("matrix"), users)
    return started


@dataclass
class Setup:
    """What the admin prepared for one case, and how to call the operation on it."""

    project: str
    project_arn: str | None = None
    train: str | None = None
    test: str | None = None


def prepare(admin: Any, op: str, name: str) -> Setup:
    setup = Setup(project=name)
    if op in ("CreateProject", "DescribeProjects"):
        return setup
    setup.project_arn = admin.create_project(ProjectName=name)["ProjectArn"]
    if op in ("DeleteProject", "CreateDataset"):
        return setup
    setup.train = admin.create_dataset(ProjectArn=setup.project_arn, DatasetType="TRAIN")[
        "DatasetArn"
    ]
    admin.update_dataset_entries(DatasetArn=setup.train, Changes={"GroundTruth": LINES})
    wait_for_status(admin, setup.train)
    if op == "DistributeDatasetEntries":
        setup.test = admin.create_dataset(ProjectArn=setup.project_arn, DatasetType="TEST")[
            "DatasetArn"
        ]
    admin.tag_resource(ResourceArn=setup.train, Tags={"kept": "yes"})
    return setup


def invoke(rekognition: Any, op: str, setup: Setup) -> Any:
    calls: dict[str, Callable[[], Any]] = {
        "CreateProject": lambda: rekognition.create_project(ProjectName=setup.project),
        "DescribeProjects": lambda: rekognition.describe_projects(),
        "DeleteProject": lambda: rekognition.delete_project(ProjectArn=setup.project_arn),
        "CreateDataset": lambda: rekognition.create_dataset(
            ProjectArn=setup.project_arn, DatasetType="TRAIN"
        ),
        "DescribeDataset": lambda: rekognition.describe_dataset(DatasetArn=setup.train),
        "DeleteDataset": lambda: rekognition.delete_dataset(DatasetArn=setup.train),
        "UpdateDatasetEntries": lambda: rekognition.update_dataset_entries(
            DatasetArn=setup.train,
            Changes={"GroundTruth": manifest(image_line("s3://bkt/new.jpg", "daisy"))},
        ),
        "ListDatasetEntries": lambda: rekognition.list_dataset_entries(DatasetArn=setup.train),
        "ListDatasetLabels": lambda: rekognition.list_dataset_labels(DatasetArn=setup.train),
        "DistributeDatasetEntries": lambda: rekognition.distribute_dataset_entries(
            Datasets=[{"Arn": setup.train}, {"Arn": setup.test}]
        ),
        "TagResource": lambda: rekognition.tag_resource(
            ResourceArn=setup.train, Tags={"new": "tag"}
        ),
        "UntagResource": lambda: rekognition.untag_resource(
            ResourceArn=setup.train, TagKeys=["kept"]
        ),
        "ListTagsForResource": lambda: rekognition.list_tags_for_resource(ResourceArn=setup.train),
    }
    return calls[op]()


def snapshot(admin: Any, name: str) -> Any:
    """Everything a call could have changed in the case's project, read by the admin."""
    projects = admin.describe_projects(ProjectNames=[name])["ProjectDescriptions"]
    state: list[Any] = [projects]
    for project in projects:
        for dataset in project["Datasets"]:
            arn = dataset["DatasetArn"]
            try:  # an allowed delete may finish between the two calls
                state.append(admin.describe_dataset(DatasetArn=arn)["DatasetDescription"])
                state.append(admin.list_dataset_entries(DatasetArn=arn)["DatasetEntries"])
                state.append(admin.list_tags_for_resource(ResourceArn=arn)["Tags"])
            except ClientError as error:
                state.append(error.response["Error"]["Code"])
    return state


def resource_of(op: str, setup: Setup, admin: Any) -> list[str]:
    if op == "CreateProject":
        return [f"arn:aws:rekognition:us-east-1:{ACCOUNT_A}:project/{setup.project}/*"]
    if op == "DescribeProjects":
        return ["*"]
    if op in ("DeleteProject", "CreateDataset"):
        return [str(setup.project_arn)]
    return [arn for arn in (setup.train, setup.test) if arn]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("op", OPERATIONS)
def test_policy_matrix(server: Server, op: str, case: str) -> None:
    admin = client(server, ADMIN)
    name = project_of(op, case)
    setup = prepare(admin, op, name)
    user = user_of(op, case)
    rekognition = client(server, user)
    allowed = CASES[case][1]
    before = snapshot(admin, name)
    if allowed:
        invoke(rekognition, op, setup)
        if op not in (
            "DescribeDataset",
            "ListDatasetEntries",
            "ListDatasetLabels",
            "DescribeProjects",
            "ListTagsForResource",
        ):
            assert snapshot(admin, name) != before, "an allowed change changed nothing"
        return
    error = error_of(lambda: invoke(rekognition, op, setup))
    assert error["Code"] == "AccessDeniedException"
    prefix = f"User: {user.arn} is not authorized to perform: rekognition:{op} on resource: "
    assert error["Message"].startswith(prefix), error["Message"]
    resource, _, reason = error["Message"][len(prefix) :].partition(" ")
    assert resource in resource_of(op, setup, admin)
    explicit = case.startswith("deny-")
    assert reason == (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the rekognition:{op} action"
    )
    assert snapshot(admin, name) == before


def test_copying_a_dataset_also_needs_list_dataset_entries_on_the_source(server: Server) -> None:
    admin = client(server, ADMIN)
    source_project = admin.create_project(ProjectName="m-copy-source")["ProjectArn"]
    source = admin.create_dataset(ProjectArn=source_project, DatasetType="TRAIN")["DatasetArn"]
    admin.update_dataset_entries(DatasetArn=source, Changes={"GroundTruth": LINES})
    wait_for_status(admin, source)
    target = admin.create_project(ProjectName="m-copy-target")["ProjectArn"]
    error = error_of(
        lambda: client(server, COPIER).create_dataset(
            ProjectArn=target, DatasetType="TRAIN", DatasetSource={"DatasetArn": source}
        )
    )
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].startswith(
        f"User: {COPIER.arn} is not authorized to perform: rekognition:ListDatasetEntries on "
        f"resource: {source}"
    )
    datasets = admin.describe_projects(ProjectNames=["m-copy-target"])["ProjectDescriptions"]
    assert datasets[0]["Datasets"] == []
    copy = client(server, COPIER_FULL).create_dataset(
        ProjectArn=target, DatasetType="TRAIN", DatasetSource={"DatasetArn": source}
    )["DatasetArn"]
    assert wait_for_status(admin, copy)["DatasetStats"]["TotalEntries"] == 10


def test_tagging_at_creation_also_needs_tag_resource(server: Server) -> None:
    """As AWS: CreateProject with Tags needs rekognition:TagResource too."""
    tagger = client(server, TAGGER)
    error = error_of(lambda: tagger.create_project(ProjectName="m-tagged", Tags={"a": "b"}))
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"].startswith(
        f"User: {TAGGER.arn} is not authorized to perform: rekognition:TagResource on "
        f"resource: arn:aws:rekognition:us-east-1:{ACCOUNT_A}:project/m-tagged/*"
    )
    admin = client(server, ADMIN)
    assert admin.describe_projects(ProjectNames=["m-tagged"])["ProjectDescriptions"] == []
    tagger.create_project(ProjectName="m-tagged")  # without tags: CreateProject is enough
    assert len(admin.describe_projects(ProjectNames=["m-tagged"])["ProjectDescriptions"]) == 1
