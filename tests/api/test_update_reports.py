"""Update reports: GET /_manifestdb/datasets/{arn}/updates and `manifestdb updates`."""

from __future__ import annotations

import subprocess
import sys
import urllib.parse
from typing import Any

import orjson
import pytest
import urllib3

from support.lines import box_line, image_line, manifest
from support.server import new_dataset, wait_for_status


def reports(server: Any, arn: str, **query: Any) -> tuple[int, dict[str, Any]]:
    path = f"/_manifestdb/datasets/{urllib.parse.quote(arn, safe='')}/updates"
    response = urllib3.PoolManager().request("GET", server.url + path, fields=query)
    return response.status, orjson.loads(response.data)


def test_an_update_report_says_what_happened_to_each_line(server: Any, rekognition: Any):
    _, train = new_dataset(rekognition, manifest(image_line("s3://bkt/1.jpg", "cat")))
    bad_box = box_line("s3://bkt/3.jpg", [("dog", 10, 10, 50, 50)])
    bad_box["bounding-box"]["annotations"][0]["top"] = -1
    change = manifest(
        image_line("s3://bkt/1.jpg", "dog"),  # replaces
        image_line("s3://bkt/2.jpg", "bird"),  # adds
        bad_box,  # stored with an error
        *(image_line(f"s3://bkt/more{i}.jpg", "bird") for i in range(10)),
        "not json at all",  # dropped
        image_line("s3://bkt/2.jpg", "fish"),  # dropped: source-ref used earlier in the change
    )
    rekognition.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": change})
    assert wait_for_status(rekognition, train)["Status"] == "UPDATE_COMPLETE"
    status, body = reports(server, train)
    assert status == 200
    latest, first = body["Updates"]
    assert first["kind"] == "update" and first["added"] == 1
    assert latest["outcome"] == "UPDATE_COMPLETE"
    assert latest["lines_read"] == 15
    assert (latest["added"], latest["replaced"]) == (12, 1)
    assert latest["dropped_count"] == 2
    assert [(d["line"], d["code"]) for d in latest["dropped"]] == [
        (14, "ERROR_INVALID_JSON_LINE"),
        (15, "ERROR_DUPLICATE_SOURCE_REF"),
    ]
    assert latest["dropped"][0]["excerpt"] == "not json at all"
    assert latest["dropped"][0]["detail"].startswith("not JSON: ")
    assert latest["dropped"][1]["detail"].startswith('source-ref "s3://bkt/2.jpg" is on an earlier')
    assert latest["entries_with_errors"] == 1
    assert latest["labels_added"] == ["bird", "dog"]
    assert latest["labels_removed"] == ["cat"]
    assert latest["duration_ms"] >= 0 and latest["terminal"] is None


def test_a_failed_update_reports_its_terminal_error(server: Any, rekognition: Any):
    _, train = new_dataset(rekognition)
    rekognition.update_dataset_entries(
        DatasetArn=train,
        Changes={"GroundTruth": b"nope\n{\n" + manifest(image_line("s3://bkt/a", "x"))},
    )
    assert wait_for_status(rekognition, train)["Status"] == "UPDATE_FAILED"
    (latest,) = reports(server, train)[1]["Updates"]
    assert latest["outcome"] == "UPDATE_FAILED"
    assert latest["terminal"]["code"] == "ERROR_TOO_MANY_RECORDS_IN_ERROR"
    assert latest["terminal"]["detail"] == (
        "2 of 3 lines dropped (67%): at most 20% of a change's lines may be"
    )
    assert latest["added"] == 0


def test_a_change_that_is_no_manifest_says_what_it_holds(server: Any, rekognition: Any):
    """paws.common 0.7 sends a character string as a file path: the change is then the path."""
    _, train = new_dataset(rekognition)
    rekognition.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": b"train.manifest"})
    description = wait_for_status(rekognition, train)
    assert description["Status"] == "UPDATE_FAILED"
    assert description["StatusMessage"] == (
        "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT: The manifest file extension or"
        " contents are invalid."
    )
    (latest,) = reports(server, train)[1]["Updates"]
    assert latest["terminal"]["detail"] == (
        'no line of the 14 bytes read is a JSON object (it starts with "train.manifest"): a'
        " manifest is JSON Lines, one object per image"
    )


def test_an_empty_change_says_what_to_send(rekognition: Any):
    """paws.common 0.8 sends a character string as an empty change."""
    _, train = new_dataset(rekognition)
    with pytest.raises(rekognition.exceptions.ClientError) as raised:
        rekognition.update_dataset_entries(DatasetArn=train, Changes={"GroundTruth": b""})
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith(
        "1 validation error detected: Value at 'changes.groundTruth' failed to satisfy"
        " constraint: Member must have length greater than or equal to 1"
    )
    assert "The change received is empty (0 bytes)" in error["Message"]
    assert 'readBin(path, "raw", file.size(path))' in error["Message"]


def test_reports_paginate_newest_first_and_keep_the_last_hundred(server: Any, rekognition: Any):
    _, train = new_dataset(rekognition)
    for i in range(103):
        rekognition.update_dataset_entries(
            DatasetArn=train, Changes={"GroundTruth": manifest(image_line(f"s3://bkt/{i}", "x"))}
        )
        wait_for_status(rekognition, train)
    seen, token = [], None
    while True:
        status, body = reports(
            server, train, max_results=40, **({"next_token": token} if token else {})
        )
        assert status == 200
        seen += body["Updates"]
        token = body.get("NextToken")
        if not token:
            break
    assert len(seen) == 100
    assert [u["id"] for u in seen] == sorted((u["id"] for u in seen), reverse=True)
    assert all(u["added"] == 1 for u in seen)


@pytest.mark.parametrize(
    ("arn", "status", "code"),
    [
        (
            "arn:aws:rekognition:us-east-1:123456789012:project/x/dataset/train/1",
            400,
            "ResourceNotFoundException",
        ),
        ("not-an-arn", 400, "ResourceNotFoundException"),
    ],
)
def test_reports_of_a_missing_dataset_are_an_aws_error(
    server: Any, arn: str, status: int, code: str
):
    got_status, body = reports(server, arn)
    assert (got_status, body["__type"]) == (status, code)


def test_bad_paging_parameters_are_refused(server: Any, rekognition: Any):
    _, train = new_dataset(rekognition)
    assert reports(server, train, max_results="many")[1]["__type"] == "InvalidParameterException"
    assert reports(server, train, max_results=0)[1]["__type"] == "InvalidParameterException"
    assert reports(server, train, next_token="forged")[1]["__type"] == (
        "InvalidPaginationTokenException"
    )


# Strings that once reached int(), SQL or the token reader unchecked: Unicode digits ("²".isdigit()
# is true, int("²") raises), digits past what int() reads, NUL (PostgreSQL text holds none),
# lone surrogates and control characters (percent-encoded, as a client would send them).
HOSTILE_VALUES = ["²", "١٢", "9" * 5000, "1\x00", "\ud800", "\x1b[31m", "-1", " 5", "5 ", "+5"]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_max_results_is_invalid_not_a_500(server: Any, rekognition: Any, value: str):
    _, train = new_dataset(rekognition)
    path = f"/_manifestdb/datasets/{urllib.parse.quote(train, safe='')}/updates"
    encoded = urllib.parse.quote(value, safe="", errors="surrogatepass")
    response = urllib3.PoolManager().request("GET", f"{server.url}{path}?max_results={encoded}")
    body = orjson.loads(response.data)
    assert (response.status, body["__type"]) == (400, "InvalidParameterException"), body
    assert "max_results must be a whole number" in body["Message"]


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_hostile_arns_and_tokens_are_aws_errors_not_a_500(
    server: Any, rekognition: Any, value: str
):
    _, train = new_dataset(rekognition)
    quoted = urllib.parse.quote(value, safe="", errors="surrogatepass")
    arn = urllib.parse.quote(train, safe="")
    http = urllib3.PoolManager()
    for path in (
        f"/_manifestdb/datasets/{quoted}/updates",
        f"/_manifestdb/datasets/{arn}{quoted}/updates",
        f"/_manifestdb/datasets/{arn}/updates?next_token={quoted}",
    ):
        response = http.request("GET", server.url + path)
        body = orjson.loads(response.data)
        assert response.status == 400, (path, body)
        assert body["__type"] in {
            "ResourceNotFoundException",
            "InvalidPaginationTokenException",
        }, (path, body)


def test_the_updates_command_prints_the_reports(server: Any, rekognition: Any):
    _, train = new_dataset(rekognition, manifest(image_line("s3://bkt/1.jpg", "cat")))
    result = subprocess.run(
        [sys.executable, "-m", "manifestdb.cli", "updates", train, "--endpoint-url", server.url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    (report,) = orjson.loads(result.stdout)["Updates"]
    assert report["added"] == 1 and report["outcome"] == "UPDATE_COMPLETE"
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "manifestdb.cli",
            "updates",
            train.replace("/train/", "/test/"),
            "--endpoint-url",
            server.url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert "ResourceNotFoundException" in missing.stderr
