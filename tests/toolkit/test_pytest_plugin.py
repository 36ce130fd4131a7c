"""The `manifestdb` pytest plugin (the `pytest11` entry point), in a pytester run."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = """
import time
import urllib.request


def test_endpoint_is_a_live_server(manifestdb_endpoint):
    assert manifestdb_endpoint.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(manifestdb_endpoint + "/_manifestdb/health") as answer:
        assert answer.status == 200


def test_client_round_trip(rekognition_client):
    project = rekognition_client.create_project(ProjectName="plugin")["ProjectArn"]
    dataset = rekognition_client.create_dataset(ProjectArn=project, DatasetType="TRAIN")
    arn = dataset["DatasetArn"]
    line = (
        b'{"source-ref":"s3://bucket/a.jpg","l":1,"l-metadata":{"class-name":"x","confidence":1,'
        b'"type":"groundtruth/image-classification","human-annotated":"yes",'
        b'"creation-date":"2024-01-01T00:00:00"}}'
    )
    rekognition_client.update_dataset_entries(DatasetArn=arn, Changes={"GroundTruth": line})
    while True:
        status = rekognition_client.describe_dataset(DatasetArn=arn)["DatasetDescription"]
        if status["Status"] != "UPDATE_IN_PROGRESS":
            break
        time.sleep(0.05)
    assert status["DatasetStats"]["TotalEntries"] == 1


def test_same_server_for_the_session(manifestdb_endpoint, rekognition_client):
    assert rekognition_client.meta.endpoint_url == manifestdb_endpoint
    names = [p["ProjectArn"].split("/")[1] for p in
             rekognition_client.describe_projects()["ProjectDescriptions"]]
    assert names == ["plugin"]
"""


def test_fixtures_in_a_user_test_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=3)


def test_fixtures_are_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*manifestdb_endpoint*session scope*", "*rekognition_client*"])
