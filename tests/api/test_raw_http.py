"""Raw HTTP against a real server: malformed requests, limits, headers and routes.

Every answer must be an AWS JSON 1.1 answer (status, `__type`/`Message`, `X-Amzn-Errortype`,
`x-amzn-RequestId`, content type), never a 5xx, and the server must stay healthy throughout.
"""

from __future__ import annotations

import re
import select
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

import manifestdb
from manifestdb.harness import connect
from manifestdb.service import OPERATIONS as SERVED_OPERATIONS
from support.lines import image_line, manifest
from support.raw import (
    CONTENT_TYPE,
    Answer,
    b64,
    call,
    check_error,
    check_ok,
    check_request_id,
    post,
    read_answer,
    send,
)
from support.server import Server, new_dataset

MISSING_DATASET = "arn:aws:rekognition:us-east-1:123456789012:project/none/dataset/train/1"
SERVED = list(SERVED_OPERATIONS)  # every served operation, in the order of the spec
MAX_BODY = 8 * 1024 * 1024
MAX_CHANGE = 5_242_880


@pytest.fixture(scope="module", autouse=True)
def log_start(server: Server) -> int:
    """Where this module's part of the shared server's log begins."""
    return len(server.log())


# -- a well-formed request -------------------------------------------------------------------


def test_a_success_carries_the_aws_headers(server: Server):
    body = check_ok(call(server.url, "DescribeProjects", {}))
    assert type(body["ProjectDescriptions"]) is list


def test_request_ids_differ_between_requests(server: Server):
    ids = {check_request_id(call(server.url, "DescribeProjects", {})) for _ in range(3)}
    ids.add(check_request_id(call(server.url, "DescribeProjects", {"MaxResults": 0})))
    assert len(ids) == 4


@pytest.mark.parametrize(
    "content_type",
    [
        CONTENT_TYPE,
        "application/x-amz-json-1.1; charset=utf-8",
        "application/x-amz-json-1.0",
        "application/json",
        None,
    ],
)
def test_json_content_types_and_none_are_accepted(server: Server, content_type: str | None):
    check_ok(post(server.url, "DescribeProjects", b"{}", content_type=content_type))


def test_unknown_and_null_members_are_ignored(server: Server):
    body = check_ok(call(server.url, "DescribeProjects", {"Unknown": 1, "MaxResults": None}))
    assert "ProjectDescriptions" in body


# -- bodies that are not one JSON object -----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"this is not json", "Could not parse the request body as JSON"),
        (b'{"MaxResults": 1', "Could not parse the request body as JSON"),
        (b'{"MaxResults": NaN}', "Could not parse the request body as JSON"),
        (b"\xff\xfe{}", "Could not parse the request body as JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "Could not parse the request body as JSON"),
        (b'[{"MaxResults": 1}]', "Start of list found where not expected"),
        (b'"DescribeProjects"', "must be a JSON object, not a string"),
        (b"null", "must be a JSON object, not null"),
        (b"42", "must be a JSON object, not a number"),
        (b"true", "must be a JSON object, not a boolean"),
        (b"", "the request body is empty"),
        (b"  \n", "the request body is empty"),
    ],
    ids=[
        "text",
        "truncated",
        "nan",
        "not-utf8",
        "deeply-nested",
        "array",
        "string",
        "null",
        "number",
        "boolean",
        "empty",
        "blank",
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_serialization_error(
    server: Server, body: bytes, says: str
):
    message = check_error(post(server.url, "DescribeProjects", body), "SerializationException")
    assert says in message


# -- targets and content types ---------------------------------------------------------------


def test_a_missing_target_is_an_unknown_operation(server: Server):
    message = check_error(post(server.url, None, b"{}"), "UnknownOperationException")
    assert "X-Amz-Target" in message and "RekognitionService.<Operation>" in message


@pytest.mark.parametrize(
    "target",
    ["RekognitionService.NoSuchThing", "Foo.DescribeProjects", "DescribeProjects", "x" * 5000],
)
def test_an_unknown_target_is_an_unknown_operation(server: Server, target: str):
    answer = send(server.url, body=b"{}", X_Amz_Target=target, Content_Type=CONTENT_TYPE)
    message = check_error(answer, "UnknownOperationException")
    assert "RekognitionService.<Operation>" in message
    assert len(message) < 500  # a huge header is not echoed whole


@pytest.mark.parametrize("operation", ["DetectLabels", "CopyProjectVersion", "IndexFaces"])
def test_a_rekognition_operation_not_served_says_what_is(server: Server, operation: str):
    message = check_error(post(server.url, operation, b"{}"), "UnsupportedOperationException")
    assert message.startswith(f"{operation} is not implemented")
    for served in SERVED:
        assert served in message


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
def test_a_foreign_content_type_is_refused(server: Server, content_type: str):
    answer = post(server.url, "DescribeProjects", b"{}", content_type=content_type)
    message = check_error(answer, "UnknownOperationException")
    assert content_type in message and CONTENT_TYPE in message


# -- the body size limit ---------------------------------------------------------------------


def _request_head(server: Server, length_header: str) -> bytes:
    return (
        "POST / HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{urlsplit(server.url).port}\r\n"
        "X-Amz-Target: RekognitionService.UpdateDatasetEntries\r\n"
        f"Content-Type: {CONTENT_TYPE}\r\n"
        f"{length_header}\r\n"
        "\r\n"
    ).encode()


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(server: Server):
    with connect(server.url) as sock:
        sock.sendall(_request_head(server, f"Content-Length: {MAX_BODY + 1024 * 1024}"))
        sock.sendall(b'{"DatasetArn": "' + b"a" * 1000)  # the rest never comes
        answer = read_answer(sock, timeout=10)
    message = check_error(answer, "RequestEntityTooLargeException", status=413)
    assert str(MAX_BODY) in message


def test_a_chunked_body_over_the_limit_is_refused_once_it_passes_the_limit(server: Server):
    chunk = b" " * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with connect(server.url) as sock:
        sock.sendall(_request_head(server, "Transfer-Encoding: chunked"))
        # Send until the server answers; the terminating chunk is never sent.
        # Past the limit, wait a little for the answer before sending more.
        while not select.select([sock], [], [], 0 if sent <= MAX_BODY else 1)[0]:
            assert sent <= MAX_BODY + 16 * len(chunk), "the server kept reading past its limit"
            sock.sendall(framed)
            sent += len(chunk)
        answer = read_answer(sock, timeout=10)
    check_error(answer, "RequestEntityTooLargeException", status=413)
    assert sent > MAX_BODY - len(chunk)  # not refused before the limit was reached


def test_a_body_just_under_the_limit_is_read(server: Server):
    body = orjson.dumps({"DatasetArn": MISSING_DATASET, "Pad": "x" * (MAX_BODY - 200)})
    assert len(body) < MAX_BODY
    check_error(post(server.url, "DescribeDataset", body), "ResourceNotFoundException")


def test_the_too_large_message_names_only_real_commands(server: Server):
    answer = post(server.url, "DescribeProjects", b" " * (MAX_BODY + 1))
    message = check_error(answer, "RequestEntityTooLargeException", status=413)
    for command in re.findall(r"`manifestdb (\w+)", message):
        help_run = subprocess.run(
            [sys.executable, "-m", "manifestdb.cli", command, "--help"],
            capture_output=True,
            timeout=60,
        )
        assert help_run.returncode == 0, f"`manifestdb {command}` does not exist"


# -- Changes.GroundTruth -------------------------------------------------------------------


def _update(server: Server, ground_truth: Any, arn: str = MISSING_DATASET) -> Answer:
    return call(
        server.url,
        "UpdateDatasetEntries",
        {"DatasetArn": arn, "Changes": {"GroundTruth": ground_truth}},
    )


def test_an_empty_ground_truth_is_a_validation_error(server: Server):
    message = check_error(_update(server, ""), "ValidationException")
    assert message.startswith(
        "1 validation error detected: Value at 'changes.groundTruth' failed to satisfy "
        "constraint: Member must have length greater than or equal to 1. The change received is"
        " empty (0 bytes)"
    )


def test_a_ground_truth_one_byte_over_5_mib_is_a_validation_error(server: Server):
    message = check_error(_update(server, b64(b"a" * (MAX_CHANGE + 1))), "ValidationException")
    assert message == (
        "1 validation error detected: Value at 'changes.groundTruth' failed to satisfy "
        "constraint: Member must have length less than or equal to 5242880"
    )


def test_a_ground_truth_of_exactly_5_mib_passes_validation(server: Server):
    # It reaches the service, which looks for the dataset.
    check_error(_update(server, b64(b"a" * MAX_CHANGE)), "ResourceNotFoundException")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("abc", "Base64 encoded length is expected a multiple of 4 bytes but found: 3"),
        ("ab!=", "Invalid Base64 character: '!'"),
        ("YQ=a", "Invalid Base64"),
        ('{"source-ref": "s3://my-bucket/k.jpg"}', "can not be converted to a Blob"),
    ],
)
def test_ground_truth_that_is_not_base64_is_a_serialization_error(
    server: Server, text: str, reason: str
):
    message = check_error(_update(server, text), "SerializationException")
    assert message.startswith("Value at 'changes.groundTruth' can not be converted to a Blob")
    assert reason in message


def test_an_update_with_valid_base64_is_applied(server: Server, rekognition: Any):
    _, train = new_dataset(rekognition)
    check_ok(_update(server, b64(manifest(image_line("s3://my-bucket/1.jpg", "cat"))), arn=train))
    deadline = time.monotonic() + 30
    while True:
        description = rekognition.describe_dataset(DatasetArn=train)["DatasetDescription"]
        if description["Status"] != "UPDATE_IN_PROGRESS" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert description["Status"] == "UPDATE_COMPLETE"
    assert description["DatasetStats"]["TotalLabels"] == 1


# -- constraints and types -------------------------------------------------------------------


@pytest.mark.parametrize(
    "operation", ["DescribeProjects", "ListDatasetEntries", "ListDatasetLabels"]
)
def test_max_results_101_has_aws_message(server: Server, operation: str):
    answer = call(server.url, operation, {"DatasetArn": MISSING_DATASET, "MaxResults": 101})
    assert check_error(answer, "ValidationException") == (
        "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 100"
    )


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        (
            "DescribeProjects",
            {"MaxResults": 0},
            "1 validation error detected: Value '0' at 'maxResults' failed to satisfy "
            "constraint: Member must have value greater than or equal to 1",
        ),
        (
            "ListDatasetEntries",
            {},
            "1 validation error detected: Value null at 'datasetArn' failed to satisfy "
            "constraint: Member must not be null",
        ),
        (
            "UpdateDatasetEntries",
            {"DatasetArn": MISSING_DATASET, "Changes": {}},
            "1 validation error detected: Value null at 'changes.groundTruth' failed to satisfy "
            "constraint: Member must not be null",
        ),
        (
            "CreateProject",
            {"ProjectName": "a b"},
            "1 validation error detected: Value 'a b' at 'projectName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+",
        ),
        (
            "DescribeProjects",
            {"ProjectNames": []},
            "1 validation error detected: Value '[]' at 'projectNames' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1",
        ),
        (
            "DescribeProjects",
            {"Features": ["X"]},
            "1 validation error detected: Value 'X' at 'features.1.member' failed to satisfy "
            "constraint: Member must satisfy enum value set: [CONTENT_MODERATION, CUSTOM_LABELS]",
        ),
        (
            "DescribeProjects",
            {"NextToken": "a" * 1025},
            "at 'nextToken' failed to satisfy constraint: "
            "Member must have length less than or equal to 1024",
        ),
    ],
    ids=["min", "required", "nested-required", "pattern", "list-min", "enum", "token-length"],
)
def test_constraint_violations_are_validation_errors(
    server: Server, operation: str, params: dict[str, Any], message: str
):
    said = check_error(call(server.url, operation, params), "ValidationException")
    assert said == message or (message.startswith("at ") and message in said)


def test_several_violations_are_listed_together(server: Server):
    message = check_error(
        call(server.url, "CreateDataset", {"ProjectArn": "x", "DatasetType": "VALID"}),
        "ValidationException",
    )
    assert message.startswith("3 validation errors detected: ")
    assert (
        "Value 'VALID' at 'datasetType' failed to satisfy constraint: Member must satisfy "
        "enum value set: [TRAIN, TEST]" in message
    )
    assert (
        "at 'projectArn' failed to satisfy constraint: Member must have length greater "
        "than or equal to 20" in message
    )
    assert message.count("; ") == 2


@pytest.mark.parametrize(
    ("operation", "params", "message"),
    [
        (
            "DescribeProjects",
            {"MaxResults": "10"},
            "STRING_VALUE can not be converted to an Integer",
        ),
        (
            "DescribeProjects",
            {"MaxResults": 1.5},
            "NUMBER_VALUE can not be converted to an Integer",
        ),
        ("DescribeProjects", {"MaxResults": True}, "TRUE_VALUE can not be converted to an Integer"),
        (
            "DescribeProjects",
            b'{"MaxResults": 1000000000000000000000000000000}',
            "NUMBER_VALUE can not be converted to an Integer",
        ),
        ("DescribeDataset", {"DatasetArn": 5}, "NUMBER_VALUE can not be converted to a String"),
        ("DescribeDataset", {"DatasetArn": False}, "FALSE_VALUE can not be converted to a String"),
        (
            "DescribeDataset",
            {"DatasetArn": [MISSING_DATASET]},
            "Start of list found where not expected",
        ),
        (
            "DescribeDataset",
            {"DatasetArn": {"Arn": MISSING_DATASET}},
            "Start of structure or map found where not expected.",
        ),
        (
            "ListDatasetEntries",
            {"DatasetArn": MISSING_DATASET, "Labeled": "yes"},
            "STRING_VALUE can not be converted to a Boolean",
        ),
        (
            "ListDatasetEntries",
            {"DatasetArn": MISSING_DATASET, "Labeled": 1},
            "NUMBER_VALUE can not be converted to a Boolean",
        ),
        (
            "ListDatasetEntries",
            {"DatasetArn": MISSING_DATASET, "ContainsLabels": "cat"},
            "Expected list or null",
        ),
        (
            "DescribeProjects",
            {"ProjectNames": {"a": "b"}},
            "Start of structure or map found where not expected.",
        ),
        (
            "CreateProject",
            {"ProjectName": "p", "Tags": ["a"]},
            "Start of list found where not expected",
        ),
        ("UpdateDatasetEntries", {"DatasetArn": MISSING_DATASET, "Changes": "x"}, "Expected null"),
        (
            "UpdateDatasetEntries",
            {"DatasetArn": MISSING_DATASET, "Changes": {"GroundTruth": 5}},
            "NUMBER_VALUE can not be converted to a Blob",
        ),
    ],
)
def test_wrong_json_types_are_serialization_errors(
    server: Server, operation: str, params: dict[str, Any] | bytes, message: str
):
    body = params if isinstance(params, bytes) else orjson.dumps(params)
    assert check_error(post(server.url, operation, body), "SerializationException") == message


# -- pagination tokens -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_datasets(rekognition: Any) -> tuple[str, str]:
    lines = manifest(*(image_line(f"s3://my-bucket/{i}.jpg", f"label{i % 3}") for i in range(6)))
    _, first = new_dataset(rekognition, lines)
    _, second = new_dataset(rekognition, lines)
    return first, second


def _entries(server: Server, **params: Any) -> Answer:
    return call(server.url, "ListDatasetEntries", {"MaxResults": 2, **params})


def test_a_token_continues_its_own_query(server: Server, two_datasets: tuple[str, str]):
    first, _ = two_datasets
    seen: list[str] = []
    token: str | None = ""  # "" means the first page
    while token is not None:
        page = check_ok(_entries(server, DatasetArn=first, NextToken=token))
        seen += page["DatasetEntries"]
        token = page.get("NextToken")
        assert token != ""  # the last page has no NextToken key at all
    assert len(seen) == len(set(seen)) == 6


@pytest.mark.parametrize(
    "forged",
    ["forged", "AAAA", "eyJvcGVyYXRpb24iOiAiTGlzdERhdGFzZXRFbnRyaWVzIn0", "%%%%", "a" * 1024],
)
def test_a_forged_token_is_refused(server: Server, two_datasets: tuple[str, str], forged: str):
    first, _ = two_datasets
    answer = _entries(server, DatasetArn=first, NextToken=forged)
    check_error(answer, "InvalidPaginationTokenException")


def test_a_tampered_token_is_refused(server: Server, two_datasets: tuple[str, str]):
    first, _ = two_datasets
    token = check_ok(_entries(server, DatasetArn=first))["NextToken"]
    for index in (0, len(token) // 2, len(token) - 2):
        flipped = token[:index] + ("B" if token[index] != "B" else "C") + token[index + 1 :]
        answer = _entries(server, DatasetArn=first, NextToken=flipped)
        check_error(answer, "InvalidPaginationTokenException")


@pytest.mark.parametrize(
    "other",
    [
        {"Labeled": True},
        {"HasErrors": False},
        {"SourceRefContains": "s3://"},
        {"ContainsLabels": ["label0"]},
        {"dataset": "second"},
    ],
    ids=["labeled", "has-errors", "source-ref", "labels", "other-dataset"],
)
def test_a_token_from_another_query_is_refused(
    server: Server, two_datasets: tuple[str, str], other: dict[str, Any]
):
    first, second = two_datasets
    token = check_ok(_entries(server, DatasetArn=first))["NextToken"]
    params = dict(other)
    arn = second if params.pop("dataset", None) else first
    message = check_error(
        _entries(server, DatasetArn=arn, NextToken=token, **params),
        "InvalidPaginationTokenException",
    )
    assert "different request" in message


def test_a_token_from_another_operation_is_refused(server: Server, two_datasets: tuple[str, str]):
    first, _ = two_datasets
    labels_token = check_ok(
        call(server.url, "ListDatasetLabels", {"DatasetArn": first, "MaxResults": 1})
    )["NextToken"]
    check_error(
        _entries(server, DatasetArn=first, NextToken=labels_token),
        "InvalidPaginationTokenException",
    )
    entries_token = check_ok(_entries(server, DatasetArn=first))["NextToken"]
    answer = call(
        server.url, "ListDatasetLabels", {"DatasetArn": first, "NextToken": entries_token}
    )
    check_error(answer, "InvalidPaginationTokenException")
    answer = call(server.url, "DescribeProjects", {"NextToken": entries_token})
    check_error(answer, "InvalidPaginationTokenException")


# -- routes outside the API ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("DELETE", "/", 405), ("PUT", "/", 405), ("GET", "/nope", 404), ("POST", "/nope", 404)],
)
def test_other_routes_answer_a_json_error(server: Server, method: str, path: str, status: int):
    message = check_error(send(server.url, method, path), "UnknownOperationException", status)
    assert f"{method} {path}" in message and "X-Amz-Target" in message


def test_health_reports_the_version(server: Server):
    answer = send(server.url, "GET", "/_manifestdb/health")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    body = answer.json
    assert body["status"] == "ok"
    assert body["version"] == manifestdb.__version__


def test_health_carries_a_request_id(server: Server):
    check_request_id(send(server.url, "GET", "/_manifestdb/health"))


def test_the_access_log_names_the_operation_of_a_refused_request(server: Server):
    check_error(call(server.url, "DescribeProjects", {"MaxResults": 101}), "ValidationException")
    time.sleep(0.2)
    last = [line for line in server.log().splitlines() if "manifestdb.access" in line][-1]
    assert "DescribeProjects 400" in last


# -- after all of it -------------------------------------------------------------------------


def test_the_server_is_still_healthy_and_never_failed(
    server: Server, rekognition: Any, log_start: int
):
    assert send(server.url, "GET", "/_manifestdb/health").json["status"] == "ok"
    assert "ProjectDescriptions" in rekognition.describe_projects(MaxResults=1)
    log = server.log()[log_start:]
    assert "manifestdb.access: DescribeProjects 200" in log
    assert "Traceback" not in log
    assert "unexpected error" not in log
    assert not re.search(r"manifestdb\.access: \S+ 5\d\d ", log)
