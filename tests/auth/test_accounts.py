"""Two users in two accounts, both allowed everything: neither sees nor touches the other's data.

Even with the exact ARNs in hand, the other account's projects and datasets do not exist for
them (ResourceNotFoundException), as on AWS.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.auth import ACCOUNT_A, ACCOUNT_B, ALLOW_ALL, client, error_of, make_key, start_sigv4
from support.lines import image_line, manifest
from support.server import Server, ServerFactory, wait_for_status

ANNA = make_key(ACCOUNT_A, "anna")
BORIS = make_key(ACCOUNT_B, "boris")
LINES = manifest(*(image_line(f"s3://bkt/{i}.jpg", "rose" if i % 2 else "tulip") for i in range(6)))


@pytest.fixture(scope="module")
def server(start_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Server:
    users = [ANNA.entry(ALLOW_ALL), BORIS.entry(ALLOW_ALL)]
    started, _ = start_sigv4(start_server, tmp_path_factory.mktemp("accounts"), users)
    return started


@pytest.fixture(scope="module")
def anna(server: Server) -> Any:
    return client(server, ANNA)


@pytest.fixture(scope="module")
def boris(server: Server) -> Any:
    return client(server, BORIS)


@pytest.fixture(scope="module")
def annas(anna: Any) -> dict[str, str]:
    """Anna's project with a TRAIN dataset of lines and an empty TEST dataset."""
    project = anna.create_project(ProjectName="shared-name")["ProjectArn"]
    train = anna.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    anna.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": LINES})
    wait_for_status(anna, train)
    test = anna.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    return {"project": project, "train": train, "test": test}


def state(anna: Any, annas: dict[str, str]) -> Any:
    return (
        anna.describe_projects()["ProjectDescriptions"],
        anna.describe_dataset(DatasetArn=annas["train"])["DatasetDescription"],
        anna.list_dataset_entries(DatasetArn=annas["train"])["DatasetEntries"],
    )


def test_arns_carry_the_account_of_the_user(annas: dict[str, str]) -> None:
    assert annas["project"].startswith(f"arn:aws:rekognition:us-east-1:{ACCOUNT_A}:project/")
    assert f":{ACCOUNT_A}:" in annas["train"]


def test_the_other_account_sees_nothing(boris: Any, annas: dict[str, str]) -> None:
    seen = [p["ProjectArn"] for p in boris.describe_projects()["ProjectDescriptions"]]
    assert all(f":{ACCOUNT_B}:" in arn for arn in seen)
    found = boris.describe_projects(ProjectNames=["shared-name"])["ProjectDescriptions"]
    assert annas["project"] not in [p["ProjectArn"] for p in found]


def test_the_same_name_in_both_accounts(boris: Any, anna: Any, annas: dict[str, str]) -> None:
    arn = boris.create_project(ProjectName="shared-name")["ProjectArn"]
    assert arn.startswith(f"arn:aws:rekognition:us-east-1:{ACCOUNT_B}:project/shared-name/")
    names = [p["ProjectArn"] for p in anna.describe_projects()["ProjectDescriptions"]]
    assert annas["project"] in names
    assert arn not in names


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("describe_dataset", lambda a: {"DatasetArn": a["train"]}),
        ("list_dataset_entries", lambda a: {"DatasetArn": a["train"]}),
        ("list_dataset_labels", lambda a: {"DatasetArn": a["train"]}),
        (
            "update_dataset_entries",
            lambda a: {
                "DatasetArn": a["train"],
                "Changes": {"GroundTruth": manifest(image_line("s3://bkt/x.jpg", "x"))},
            },
        ),
        ("delete_dataset", lambda a: {"DatasetArn": a["train"]}),
        ("delete_project", lambda a: {"ProjectArn": a["project"]}),
        ("create_dataset", lambda a: {"ProjectArn": a["project"], "DatasetType": "TRAIN"}),
        (
            "distribute_dataset_entries",
            lambda a: {"Datasets": [{"Arn": a["train"]}, {"Arn": a["test"]}]},
        ),
    ],
)
def test_exact_arns_of_the_other_account_do_not_exist(
    anna: Any, boris: Any, annas: dict[str, str], operation: str, params: Any
) -> None:
    before = state(anna, annas)
    error = error_of(lambda: getattr(boris, operation)(**params(annas)))
    assert error["Code"] == "ResourceNotFoundException", error
    assert state(anna, annas) == before


def test_copying_from_the_other_account_is_not_found(
    anna: Any, boris: Any, annas: dict[str, str]
) -> None:
    own = boris.create_project(ProjectName="copy-into")["ProjectArn"]
    error = error_of(
        lambda: boris.create_dataset(
            ProjectArn=own, DatasetType="TRAIN", DatasetSource={"DatasetArn": annas["train"]}
        )
    )
    assert error["Code"] == "ResourceNotFoundException"
    found = boris.describe_projects(ProjectNames=["copy-into"])["ProjectDescriptions"]
    assert found[0]["Datasets"] == []


def test_a_region_is_its_own_space_too(server: Server, annas: dict[str, str]) -> None:
    tokyo = client(server, ANNA, region="ap-northeast-1")
    assert tokyo.describe_projects()["ProjectDescriptions"] == []
    error = error_of(lambda: tokyo.describe_dataset(DatasetArn=annas["train"]))
    assert error["Code"] == "ResourceNotFoundException"
