"""SigV4 with `--auth sigv4`: each way a signature is wrong gets AWS's error; nothing changes."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import botocore
import orjson
import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from support.auth import (
    ACCOUNT_A,
    ALLOW_ALL,
    Key,
    alice_policy,
    client,
    error_of,
    make_key,
    projects_named,
    raw_post,
    send,
    signed_request,
    start_sigv4,
    utcnow,
)
from support.server import Server, ServerFactory

ADMIN = make_key(ACCOUNT_A, "admin")
ALICE = make_key(ACCOUNT_A, "alice")
NOBODY = make_key(ACCOUNT_A, "nobody")  # in the file, with a policy that allows nothing
STRANGER = make_key(ACCOUNT_A, "stranger")  # not in the file
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
STAMP = r"(\d{8}T\d{6}Z)"


@pytest.fixture(scope="module")
def server(start_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Server:
    users = [
        ADMIN.entry(ALLOW_ALL),
        ALICE.entry(alice_policy()),
        NOBODY.entry({"Version": "2012-10-17", "Statement": []}),
    ]
    started, _ = start_sigv4(
        start_server, tmp_path_factory.mktemp("sigv4"), users, "--log-level", "debug"
    )
    return started


@pytest.fixture(scope="module")
def admin(server: Server) -> Any:
    return client(server, ADMIN)


def new_name() -> str:
    return f"s-{uuid.uuid4().hex[:12]}"


def assert_error(answer: Any, code: str, message: str | None = None) -> None:
    assert answer.status == 400, (answer.status, answer.body)
    assert answer.code == code, answer.body
    assert answer.headers["X-Amzn-Errortype"] == code
    if message is not None:
        assert answer.json["Message"] == message


def test_the_right_secret_passes(server: Server, admin: Any) -> None:
    name = new_name()
    arn = admin.create_project(ProjectName=name)["ProjectArn"]
    assert arn.startswith(f"arn:aws:rekognition:us-east-1:{ACCOUNT_A}:project/{name}/")
    alice = client(server, ALICE)
    assert [p["ProjectArn"] for p in projects_named(alice, name)] == [arn]


def test_a_wrong_secret(server: Server, admin: Any) -> None:
    name = new_name()
    wrong = Key(ADMIN.arn, ADMIN.access_key_id, "not-the-secret-of-admin")
    error = error_of(lambda: client(server, wrong).create_project(ProjectName=name))
    assert error == {"Code": "InvalidSignatureException", "Message": MISMATCH}
    assert projects_named(admin, name) == []


def test_an_unknown_key(server: Server, admin: Any) -> None:
    name = new_name()
    error = error_of(lambda: client(server, STRANGER).create_project(ProjectName=name))
    assert error == {
        "Code": "UnrecognizedClientException",
        "Message": "The security token included in the request is invalid.",
    }
    assert projects_named(admin, name) == []


def test_no_signature(server: Server, admin: Any) -> None:
    name = new_name()
    answer = raw_post(server, "CreateProject", {"ProjectName": name})
    assert_error(answer, "MissingAuthenticationTokenException", "Missing Authentication Token")
    unsigned = client(server, ADMIN, signature_version=botocore.UNSIGNED)
    error = error_of(lambda: unsigned.create_project(ProjectName=name))
    assert error["Code"] == "MissingAuthenticationTokenException"
    assert projects_named(admin, name) == []


def test_a_body_altered_after_signing(server: Server, admin: Any) -> None:
    signed_name, sent_name = new_name(), new_name()
    request = signed_request(server, ADMIN, "CreateProject", {"ProjectName": signed_name})
    assert send(server, request).status == 200  # the request as signed is fine ...
    request = signed_request(server, ADMIN, "CreateProject", {"ProjectName": signed_name + "x"})
    answer = send(server, request, body=orjson.dumps({"ProjectName": sent_name}))
    assert_error(answer, "InvalidSignatureException", MISMATCH)  # ... altered, it is not
    assert projects_named(admin, sent_name) == []
    assert projects_named(admin, signed_name + "x") == []


def test_a_target_altered_after_signing(server: Server, admin: Any) -> None:
    project = admin.create_project(ProjectName=new_name())["ProjectArn"]
    dataset = admin.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    request = signed_request(server, ADMIN, "DescribeDataset", {"DatasetArn": dataset})
    answer = send(server, request, X_Amz_Target="RekognitionService.DeleteDataset")
    assert_error(answer, "InvalidSignatureException", MISMATCH)
    status = admin.describe_dataset(DatasetArn=dataset)["DatasetDescription"]["Status"]
    assert status == "CREATE_COMPLETE"


def test_a_date_16_minutes_old(server: Server, admin: Any) -> None:
    name = new_name()
    signed_at = utcnow() - datetime.timedelta(minutes=16)
    request = signed_request(server, ADMIN, "CreateProject", {"ProjectName": name}, at=signed_at)
    answer = send(server, request)
    assert_error(answer, "InvalidSignatureException")
    match = re.fullmatch(
        f"Signature expired: {STAMP} is now earlier than {STAMP} \\({STAMP} - 15 min\\.\\)",
        answer.json["Message"],
    )
    assert match, answer.json["Message"]
    assert match[1] == signed_at.strftime("%Y%m%dT%H%M%SZ")
    earliest, now = (datetime.datetime.strptime(m, "%Y%m%dT%H%M%SZ") for m in match.group(2, 3))
    assert now - earliest == datetime.timedelta(minutes=15)
    assert projects_named(admin, name) == []


def test_a_date_16_minutes_ahead(server: Server, admin: Any) -> None:
    name = new_name()
    signed_at = utcnow() + datetime.timedelta(minutes=16)
    request = signed_request(server, ADMIN, "CreateProject", {"ProjectName": name}, at=signed_at)
    answer = send(server, request)
    assert_error(answer, "InvalidSignatureException")
    assert re.fullmatch(
        f"Signature not yet current: {STAMP} is still later than {STAMP} "
        f"\\({STAMP} \\+ 15 min\\.\\)",
        answer.json["Message"],
    )
    assert projects_named(admin, name) == []


def test_a_date_14_minutes_old_is_in_the_window(server: Server, admin: Any) -> None:
    name = new_name()
    signed_at = utcnow() - datetime.timedelta(minutes=14)
    request = signed_request(server, ADMIN, "CreateProject", {"ProjectName": name}, at=signed_at)
    assert send(server, request).status == 200
    assert len(projects_named(admin, name)) == 1


def test_temporary_credentials_are_refused(server: Server, admin: Any) -> None:
    name = new_name()
    request = signed_request(
        server, ADMIN, "CreateProject", {"ProjectName": name}, token="FwoGZXIvYXdzEXAMPLE"
    )
    answer = send(server, request)
    assert_error(answer, "UnrecognizedClientException")
    assert "does not accept temporary credentials" in answer.json["Message"]
    assert projects_named(admin, name) == []


def test_the_credential_scope_is_checked(server: Server) -> None:
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=b"{}",
        headers={"X-Amz-Target": "RekognitionService.DescribeProjects"},
    )
    credentials = Credentials(ADMIN.access_key_id, ADMIN.secret_access_key)
    SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    assert_error(
        send(server, request),
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'rekognition'.",
    )
    request = signed_request(server, ADMIN, "DescribeProjects", {}, region="US_EAST")
    assert_error(send(server, request), "InvalidSignatureException")


def test_a_claimed_body_hash_must_be_the_body_s(server: Server) -> None:
    request = signed_request(server, ADMIN, "DescribeProjects", {})
    answer = send(server, request, X_Amz_Content_Sha256="UNSIGNED-PAYLOAD")
    assert_error(answer, "InvalidSignatureException")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer abc",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=x",
        "AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIA/20240101/us-east-1/rekognition/aws4_request",
        "AWS4-HMAC-SHA256 ,,,,==,=,",
        "AWS4-HMAC-SHA256 Credential=////, SignedHeaders=;;;, Signature=",
    ],
)
def test_malformed_authorization_headers(server: Server, authorization: str) -> None:
    answer = raw_post(server, "DescribeProjects", {}, Authorization=authorization)
    assert_error(answer, "IncompleteSignatureException")


def test_garbage_signatures_never_500(server: Server) -> None:
    today = utcnow().strftime("%Y%m%d")
    scope = f"{ADMIN.access_key_id}/{today}/us-east-1/rekognition/aws4_request"
    for signed_headers, signature in [
        ("host;x-amz-date", "zz" * 40),
        ("host;x-amz-date;x-amz-target", "ÿ" * 10),
        ("HOST;X-AMZ-DATE;X-AMZ-TARGET;missing-header", "0" * 64),
        ("x-amz-date;x-amz-target", "0" * 64),
        ("host;x-amz-date", "0" * 64),
    ]:
        authorization = (
            f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={signed_headers}, "
            f"Signature={signature}"
        )
        answer = raw_post(
            server,
            "DescribeProjects",
            {},
            Authorization=authorization,
            X_Amz_Date=utcnow().strftime("%Y%m%dT%H%M%SZ"),
        )
        assert answer.status == 400, (signed_headers, answer.body)
        assert answer.code == "InvalidSignatureException"
    for date in ["yesterday", "20241301T000000Z", ""]:
        authorization = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=00"
        answer = raw_post(
            server, "DescribeProjects", {}, Authorization=authorization, X_Amz_Date=date
        )
        assert_error(answer, "IncompleteSignatureException")


def test_no_date_header(server: Server) -> None:
    request = signed_request(server, ADMIN, "DescribeProjects", {})
    answer = send(server, request, drop=("X-Amz-Date",))
    assert_error(answer, "IncompleteSignatureException")
    assert "X-Amz-Date" in answer.json["Message"]


def test_the_signed_region_is_the_region_of_arns(server: Server, admin: Any) -> None:
    name = new_name()
    ireland = client(server, ADMIN, region="eu-west-1")
    arn = ireland.create_project(ProjectName=name)["ProjectArn"]
    assert arn.startswith(f"arn:aws:rekognition:eu-west-1:{ACCOUNT_A}:project/{name}/")
    assert projects_named(admin, name) == []
    error = error_of(lambda: admin.create_dataset(ProjectArn=arn, DatasetType="TRAIN"))
    assert error["Code"] == "ResourceNotFoundException"
    assert [p["ProjectArn"] for p in projects_named(ireland, name)] == [arn]


def updates_url(server: Server, dataset: str) -> str:
    quoted = urllib.parse.quote(dataset, safe="")
    return f"{server.url}/_manifestdb/datasets/{quoted}/updates?max_results=5"


def signed_get(url: str, key: Key) -> urllib3.BaseHTTPResponse:
    request = AWSRequest(method="GET", url=url)
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    SigV4Auth(credentials, "rekognition", "us-east-1").add_auth(request)
    return urllib3.request("GET", url, headers=dict(request.headers.items()), retries=False)


def test_update_reports_need_a_signature_and_describe_dataset(server: Server, admin: Any) -> None:
    project = admin.create_project(ProjectName=new_name())["ProjectArn"]
    dataset = admin.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    url = updates_url(server, dataset)
    unsigned = urllib3.request("GET", url, retries=False)
    assert unsigned.status == 400
    assert orjson.loads(unsigned.data)["__type"] == "MissingAuthenticationTokenException"
    allowed = signed_get(url, ALICE)
    assert allowed.status == 200, allowed.data
    assert orjson.loads(allowed.data)["DatasetArn"] == dataset
    denied = signed_get(url, NOBODY)
    assert denied.status == 400
    body = orjson.loads(denied.data)
    assert body["__type"] == "AccessDeniedException"
    assert body["Message"].startswith(
        f"User: {NOBODY.arn} is not authorized to perform: rekognition:DescribeDataset on "
        f"resource: {dataset}"
    )


def test_the_updates_command_signs_with_the_standard_credentials(
    server: Server, admin: Any, tmp_path: Path
) -> None:
    project = admin.create_project(ProjectName=new_name())["ProjectArn"]
    dataset = admin.create_dataset(ProjectArn=project, DatasetType="TRAIN")["DatasetArn"]
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env |= {
        "AWS_ACCESS_KEY_ID": ALICE.access_key_id,
        "AWS_SECRET_ACCESS_KEY": ALICE.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    command = [sys.executable, "-m", "manifestdb.cli", "updates", dataset]
    done = subprocess.run(
        [*command, "--endpoint-url", server.url], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["DatasetArn"] == dataset


def test_secrets_never_reach_logs_or_answers(server: Server, admin: Any) -> None:
    wrong = Key(ADMIN.arn, ADMIN.access_key_id, "wrong-secret-wrong-secret")
    answers = [
        error_of(lambda: client(server, wrong).describe_projects()),
        error_of(lambda: client(server, NOBODY).describe_projects()),
        error_of(lambda: client(server, ALICE).create_project(ProjectName=new_name())),
    ]
    admin.describe_projects()
    log = server.log()
    assert "DescribeProjects 200" in log  # the log is the one of this server, at debug level
    for secret in (ADMIN, ALICE, NOBODY):
        assert secret.secret_access_key not in log
        assert all(secret.secret_access_key not in str(answer) for answer in answers)
    assert "wrong-secret-wrong-secret" not in log
