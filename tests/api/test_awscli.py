"""The AWS CLI (v1, from the venv) against a real server, as the README shows it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from support.lines import box_line, image_line, manifest
from support.server import Server

AWS = Path(sys.executable).parent / "aws"
README = Path(__file__).parents[2] / "README.md"
README_ENDPOINT = "http://127.0.0.1:8777"
MISSING_DATASET = "arn:aws:rekognition:us-east-1:123456789012:project/none/dataset/train/1"
ENTRIES = 260


@pytest.fixture
def cli(tmp_path: Path, server: Server) -> Any:
    """Runs `aws <args>` in tmp_path against the server, with only test credentials in sight."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env |= {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
    }

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(AWS), *args]
        if "--endpoint-url" not in args:
            command += ["--endpoint-url", server.url]
        done = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        if check:
            assert done.returncode == 0, (args, done.returncode, done.stderr)
        return done

    return run


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return orjson.loads(done.stdout)


def train_lines(count: int) -> bytes:
    return manifest(
        *(
            box_line(f"s3://my-bucket/img/{i:04d}.jpg", [("car", 10, 10, 100, 80)])
            if i % 5 == 0
            else image_line(f"s3://my-bucket/img/{i:04d}.jpg", ("cat", "dog", "bird")[i % 3])
            for i in range(count)
        )
    )


def wait_with_cli(cli: Any, dataset_arn: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        done = cli("rekognition", "describe-dataset", "--dataset-arn", dataset_arn)
        description: dict[str, Any] = as_json(done)["DatasetDescription"]
        if not description["Status"].endswith("IN_PROGRESS"):
            return description
        assert time.monotonic() < deadline, f"still {description['Status']}"
        time.sleep(0.1)


def readme_commands() -> list[list[str]]:
    """The `aws rekognition ...` lines of the README's code blocks, split as a shell would."""
    text = README.read_text()
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)
    return [
        shlex.split(line)
        for block in blocks
        for line in block.splitlines()
        if line.startswith("aws rekognition ")
    ]


def readme_command(operation: str, server: Server, **values: str) -> list[str]:
    """The README's example of `operation`, aimed at `server`, placeholders replaced."""
    (command,) = [c for c in readme_commands() if c[2] == operation]
    assert README_ENDPOINT in command, command
    args = [server.url if arg == README_ENDPOINT else arg for arg in command[1:]]
    return [values.get(arg, arg) for arg in args]


# -- the README's examples -------------------------------------------------------------------


def test_readme_describe_projects_example_works(cli: Any, server: Server):
    name = f"cli-{uuid.uuid4().hex[:10]}"
    cli("rekognition", "create-project", "--project-name", name)
    found = as_json(cli(*readme_command("describe-projects", server)))["ProjectDescriptions"]
    assert any(f"/{name}/" in project["ProjectArn"] for project in found)


def test_readme_update_dataset_entries_example_loads_the_manifest(
    cli: Any, server: Server, tmp_path: Path
):
    (tmp_path / "train.manifest").write_bytes(train_lines(10))
    project = as_json(
        cli("rekognition", "create-project", "--project-name", f"cli-{uuid.uuid4().hex[:10]}")
    )
    train = as_json(
        cli(
            "rekognition",
            "create-dataset",
            "--project-arn",
            project["ProjectArn"],
            "--dataset-type",
            "TRAIN",
        )
    )["DatasetArn"]
    cli(*readme_command("update-dataset-entries", server, ARN=train))
    description = wait_with_cli(cli, train)
    assert description["Status"] == "UPDATE_COMPLETE", description["StatusMessage"]
    assert description["DatasetStats"]["TotalEntries"] == 10


# -- a whole session with the CLI ------------------------------------------------------------


def test_a_dataset_session_with_the_cli(cli: Any, tmp_path: Path):
    name = f"cli-{uuid.uuid4().hex[:10]}"
    project = as_json(cli("rekognition", "create-project", "--project-name", name))["ProjectArn"]
    assert re.fullmatch(rf"arn:aws:rekognition:us-east-1:123456789012:project/{name}/\d+", project)
    train = as_json(
        cli("rekognition", "create-dataset", "--project-arn", project, "--dataset-type", "TRAIN")
    )["DatasetArn"]

    # CLI v1 base64-encodes a blob given as text in JSON input, as the AWS docs show it.
    changes = {"GroundTruth": train_lines(ENTRIES).decode()}
    (tmp_path / "changes.json").write_bytes(orjson.dumps(changes))
    done = cli(
        "rekognition",
        "update-dataset-entries",
        "--dataset-arn",
        train,
        "--changes",
        "file://changes.json",
    )
    assert done.stdout.strip() == ""  # an empty output prints nothing

    description = wait_with_cli(cli, train)
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["StatusMessageCode"] == "SUCCESS"
    assert description["DatasetStats"] == {
        "LabeledEntries": ENTRIES,
        "TotalEntries": ENTRIES,
        "TotalLabels": 4,
        "ErrorEntries": 0,
    }

    labels = as_json(cli("rekognition", "list-dataset-labels", "--dataset-arn", train))
    counts = {
        label["LabelName"]: label["LabelStats"] for label in labels["DatasetLabelDescriptions"]
    }
    assert counts == {
        "bird": {"EntryCount": 69, "BoundingBoxCount": 0},
        "car": {"EntryCount": 52, "BoundingBoxCount": 52},
        "cat": {"EntryCount": 69, "BoundingBoxCount": 0},
        "dog": {"EntryCount": 70, "BoundingBoxCount": 0},
    }

    # The CLI follows NextToken on its own: 7 pages of 40 make one list.
    listed = as_json(
        cli("rekognition", "list-dataset-entries", "--dataset-arn", train, "--page-size", "40")
    )
    assert "NextToken" not in listed
    refs = [orjson.loads(entry)["source-ref"] for entry in listed["DatasetEntries"]]
    assert refs == [f"s3://my-bucket/img/{i:04d}.jpg" for i in range(ENTRIES)]

    found = as_json(cli("rekognition", "describe-projects", "--project-names", name))
    (description,) = found["ProjectDescriptions"]
    assert description["ProjectArn"] == project
    assert [d["DatasetArn"] for d in description["Datasets"]] == [train]
    assert description["Datasets"][0]["Status"] == "UPDATE_COMPLETE"


def test_the_cli_resumes_from_its_own_starting_token(cli: Any, rekognition: Any):
    project = rekognition.create_project(ProjectName=f"cli-{uuid.uuid4().hex[:10]}")
    train = rekognition.create_dataset(ProjectArn=project["ProjectArn"], DatasetType="TRAIN")[
        "DatasetArn"
    ]
    rekognition.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": train_lines(25)})
    wait_with_cli(cli, train)
    base = ["rekognition", "list-dataset-entries", "--dataset-arn", train, "--labeled"]
    first = as_json(cli(*base, "--page-size", "4", "--max-items", "10"))
    assert len(first["DatasetEntries"]) == 10
    rest = as_json(cli(*base, "--page-size", "4", "--starting-token", first["NextToken"]))
    assert "NextToken" not in rest
    refs = [orjson.loads(e)["source-ref"] for e in first["DatasetEntries"] + rest["DatasetEntries"]]
    assert refs == [f"s3://my-bucket/img/{i:04d}.jpg" for i in range(25)]


# -- errors ----------------------------------------------------------------------------------


def test_a_missing_dataset_is_resource_not_found(cli: Any):
    done = cli("rekognition", "describe-dataset", "--dataset-arn", MISSING_DATASET, check=False)
    assert done.returncode in (254, 255)
    assert "(ResourceNotFoundException)" in done.stderr
    assert "DescribeDataset" in done.stderr and MISSING_DATASET in done.stderr
    assert done.stdout == ""


def test_a_server_side_validation_error_reaches_the_user(cli: Any):
    done = cli("rekognition", "describe-projects", "--max-results", "101", check=False)
    assert done.returncode in (254, 255)
    assert (
        "(ValidationException) when calling the DescribeProjects operation: 1 validation error "
        "detected: Value '101' at 'maxResults' failed to satisfy constraint: Member must have "
        "value less than or equal to 100"
    ) in done.stderr


def test_an_operation_not_served_is_reported_by_name(cli: Any):
    done = cli("rekognition", "detect-labels", "--image", "Bytes=aGVsbG8=", check=False)
    assert done.returncode in (254, 255)
    assert "(UnsupportedOperationException)" in done.stderr
    assert "DetectLabels is not implemented" in done.stderr
