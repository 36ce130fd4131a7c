"""`mock_rekognition` in detail: forms, settings, isolation, clean-up, threads, the CLI inside."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from toolkit_cli import Toolkit

from manifestdb.harness import free_port
from manifestdb.testing import MockRekognition, mock_rekognition
from support.lines import image_line, manifest

CREDENTIALS = {"aws_access_key_id": "k", "aws_secret_access_key": "s", "region_name": "us-east-1"}


def client(**kwargs: Any) -> Any:
    return boto3.client("rekognition", **{**CREDENTIALS, **kwargs})


def new_dataset(rk: Any, name: str = "p") -> str:
    project = rk.create_project(ProjectName=name)["ProjectArn"]
    return str(rk.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"])


def our_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("manifestdb")]


def test_settings_reach_the_server() -> None:
    with mock_rekognition(job_delay=0.3, account="111122223333") as mock:
        rk = client()
        dataset = new_dataset(rk)
        assert ":111122223333:" in dataset
        rk.update_dataset_entries(
            DatasetArn=dataset, Changes={"GroundTruth": manifest(image_line("s3://bkt/a.jpg", "x"))}
        )
        status = rk.describe_dataset(DatasetArn=dataset)["DatasetDescription"]["Status"]
        assert status == "UPDATE_IN_PROGRESS"
        assert mock.settings is not None and mock.settings.job_delay == 0.3


@mock_rekognition()
def test_called_decorator_and_fixtures(tmp_path: Path) -> None:
    assert tmp_path.is_dir()  # pytest still sees the test's own arguments
    assert client().describe_projects()["ProjectDescriptions"] == []


def project_arns(rk: Any) -> list[str]:
    return [project["ProjectArn"] for project in rk.describe_projects()["ProjectDescriptions"]]


@mock_rekognition
class TestDecoratedClass:
    """Each test method runs in a fresh mock of its own (the methods run in this order)."""

    def test_one(self) -> None:
        rk = client()
        assert project_arns(rk) == []
        arn = rk.create_project(ProjectName="same")["ProjectArn"]
        assert arn.startswith("arn:aws:rekognition:us-east-1:123456789012:project/same/")
        assert project_arns(rk) == [arn]

    def test_two_is_fresh(self) -> None:
        rk = client()
        assert project_arns(rk) == []  # test_one's project is gone with its mock
        arn = rk.create_project(ProjectName="same")["ProjectArn"]  # no ResourceInUseException
        assert project_arns(rk) == [arn]

    def not_a_test(self) -> bool:
        return True


def test_the_class_decorator_wraps_only_test_methods() -> None:
    assert hasattr(TestDecoratedClass.test_one, "__wrapped__")
    assert not hasattr(TestDecoratedClass.not_a_test, "__wrapped__")
    # Outside the test methods nothing is mocked: this call goes to a port nothing listens on.
    with pytest.raises(EndpointConnectionError):
        client(
            endpoint_url=f"http://127.0.0.1:{free_port()}",
            config=Config(retries={"max_attempts": 1}),
        ).describe_projects()


@mock_rekognition(account="111122223333")
class TestDecoratedClassWithSettings:
    def test_the_settings_reach_each_method(self) -> None:
        rk = client()
        arn = rk.create_project(ProjectName="set")["ProjectArn"]
        assert ":111122223333:project/set/" in arn
        assert project_arns(rk) == [arn]


def test_coroutine_function() -> None:
    @mock_rekognition
    async def work() -> int:
        rk = client()
        new_dataset(rk)
        return len(rk.describe_projects()["ProjectDescriptions"])

    assert asyncio.run(work()) == 1


def test_clients_made_before_the_mock_and_any_endpoint_are_answered() -> None:
    port = free_port()  # nothing listens there
    early = client(
        endpoint_url=f"http://127.0.0.1:{port}", config=Config(retries={"total_max_attempts": 1})
    )
    with mock_rekognition():
        assert early.describe_projects()["ProjectDescriptions"] == []
    with pytest.raises(EndpointConnectionError):
        early.describe_projects()  # outside the mock the request goes out again


def test_clean_up_after_an_error() -> None:
    mock = MockRekognition()
    with pytest.raises(ZeroDivisionError), mock:
        new_dataset(client())
        assert mock.data_dir is not None and mock.data_dir.is_dir()
        assert any(name.startswith("manifestdb-runner") for name in our_threads())
        raise ZeroDivisionError
    assert mock.data_dir is not None and not mock.data_dir.exists()
    assert our_threads() == []


def test_nested_mocks() -> None:
    with mock_rekognition():
        client().create_project(ProjectName="outer")
        with mock_rekognition():
            assert client().describe_projects()["ProjectDescriptions"] == []
        names = [
            p["ProjectArn"].split("/")[1]
            for p in client().describe_projects()["ProjectDescriptions"]
        ]
        assert names == ["outer"]


def test_a_mock_cannot_start_twice() -> None:
    with MockRekognition() as mock, pytest.raises(RuntimeError, match="already active"):
        mock.start()


def test_placeholder_credentials_and_region_only_when_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with mock_rekognition():
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
        assert boto3.client("rekognition").describe_projects()["ProjectDescriptions"] == []
    assert "AWS_ACCESS_KEY_ID" not in os.environ and "AWS_DEFAULT_REGION" not in os.environ

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mine")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    with mock_rekognition():
        assert os.environ["AWS_ACCESS_KEY_ID"] == "mine"
        arn = boto3.client("rekognition").create_project(ProjectName="p")["ProjectArn"]
        assert arn.startswith("arn:aws:rekognition:ap-south-1:")


def test_threads_share_the_mock() -> None:
    with mock_rekognition():
        rk = client()

        def create(index: int) -> str:
            return str(rk.create_project(ProjectName=f"p{index}")["ProjectArn"])

        with ThreadPoolExecutor(8) as pool:
            arns = list(pool.map(create, range(24)))
        assert len(set(arns)) == 24
        assert len(rk.describe_projects()["ProjectDescriptions"]) == 24


def test_push_and_export_commands_inside_the_mock(tmp_path: Path) -> None:
    lines = [image_line(f"s3://bkt/{i:03d}.jpg", "a" if i % 2 else "b") for i in range(60)]
    path = tmp_path / "m.manifest"
    path.write_bytes(manifest(*lines))
    with mock_rekognition():
        dataset = new_dataset(client())
        tools = Toolkit(endpoint=None)
        pushed = tools.push(str(path), "--dataset-arn", dataset, "--max-change-bytes", "4000")
        assert pushed.exit_code == 0, pushed.stderr
        assert "entries now in the dataset: 60" in pushed.stdout
        assert "change 4:" in pushed.stderr
        exported = tools.export(dataset, "--label", "a")
        assert exported.exit_code == 0, exported.stderr
        assert len(exported.stdout.splitlines()) == 30


def test_startup_takes_well_under_a_second() -> None:
    started = time.perf_counter()
    with mock_rekognition():
        client().describe_projects()
    assert time.perf_counter() - started < 3


def test_with_motos_s3_for_a_manifest() -> None:
    from moto import mock_aws

    lines = manifest(*(image_line(f"s3://photos/{i}.jpg", "x") for i in range(3)))
    with mock_aws(), mock_rekognition():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="manifests")
        boto3.client("s3", region_name="us-east-1").put_object(
            Bucket="manifests", Key="train.manifest", Body=lines
        )
        rk = client()
        project = rk.create_project(ProjectName="from-s3")["ProjectArn"]
        source = {
            "GroundTruthManifest": {"S3Object": {"Bucket": "manifests", "Name": "train.manifest"}}
        }
        dataset = rk.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource=source)
        arn = dataset["DatasetArn"]
        while (description := rk.describe_dataset(DatasetArn=arn)["DatasetDescription"])[
            "Status"
        ] == "CREATE_IN_PROGRESS":
            time.sleep(0.02)
        assert description["Status"] == "CREATE_COMPLETE", description
        assert description["DatasetStats"]["TotalEntries"] == 3


def test_a_mock_left_running_is_cleaned_up_at_exit() -> None:
    import subprocess
    import sys

    script = (
        "from manifestdb.testing import mock_rekognition\n"
        "mock = mock_rekognition().start()\n"
        "print(mock.data_dir)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert not Path(done.stdout.strip()).exists()
