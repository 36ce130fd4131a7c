"""Auth files, signed raw requests and per-user boto3 clients for the `--auth sigv4` tests."""

from __future__ import annotations

import datetime
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import botocore.session
import orjson
import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from support.raw import Answer
from support.server import Server

ACCOUNT_A = "111122223333"
ACCOUNT_B = "444455556666"
TARGET_PREFIX = "RekognitionService."
CONTENT_TYPE = "application/x-amz-json-1.1"
_HTTP = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=60))
_SESSION = botocore.session.get_session()

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass(frozen=True)
class Key:
    """One user of an auth file: ARN, access key and secret."""

    arn: str
    access_key_id: str
    secret_access_key: str

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    def entry(self, policy: dict[str, Any]) -> dict[str, Any]:
        return {
            "arn": self.arn,
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
            "policy": policy,
        }


def make_key(account: str, name: str) -> Key:
    """A user with a key id and a secret derived from its name (unique, and easy to grep for)."""
    digest = hashlib.sha256(f"{account}/{name}".encode()).hexdigest()
    return Key(
        arn=f"arn:aws:iam::{account}:user/{name}",
        access_key_id="AKIA" + digest[:16].upper(),
        secret_access_key=f"{digest[16:40]}/SeCrEt+{name}",
    )


def write_auth_file(path: Path, users: list[dict[str, Any]], mode: int = 0o600) -> Path:
    """Write an auth file atomically (a reader never sees half of it) with `mode`."""
    scratch = path.with_suffix(".tmp")
    scratch.write_bytes(orjson.dumps({"users": users}, option=orjson.OPT_INDENT_2))
    os.chmod(scratch, mode)
    os.replace(scratch, path)
    return path


def client(server: Server, key: Key, region: str = "us-east-1", **config: Any) -> Any:
    return boto3.session.Session(botocore_session=_SESSION).client(
        "rekognition",
        endpoint_url=server.url,
        region_name=region,
        aws_access_key_id=key.access_key_id,
        aws_secret_access_key=key.secret_access_key,
        config=Config(retries={"max_attempts": 1}, **config),
    )


def signed_request(
    server: Server,
    key: Key,
    operation: str,
    params: dict[str, Any],
    region: str = "us-east-1",
    at: datetime.datetime | None = None,
    token: str | None = None,
) -> AWSRequest:
    """A request signed by botocore's SigV4Auth, at `at` (default: now)."""
    request = AWSRequest(
        method="POST",
        url=server.url + "/",
        data=orjson.dumps(params),
        headers={"X-Amz-Target": TARGET_PREFIX + operation, "Content-Type": CONTENT_TYPE},
    )
    credentials = Credentials(key.access_key_id, key.secret_access_key, token)
    signer = SigV4Auth(credentials, "rekognition", region)
    if at is None:
        signer.add_auth(request)
    else:
        with pytest.MonkeyPatch.context() as patch:
            # botocore reads the signing time from this one function: sign "at" a chosen time.
            patch.setattr(botocore.auth, "get_current_datetime", lambda: at)
            signer.add_auth(request)
    return request


def send(
    server: Server,
    request: AWSRequest,
    body: bytes | None = None,
    drop: tuple[str, ...] = (),
    **changed: str,
) -> Answer:
    """Send a signed request, optionally with another body or headers changed after signing."""
    headers = {
        k: v for k, v in request.headers.items() if k.lower() not in {d.lower() for d in drop}
    }
    headers.update({name.replace("_", "-"): value for name, value in changed.items()})
    data = request.body if body is None else body
    response = _HTTP.request(request.method, request.url, body=data, headers=headers)
    return Answer(response.status, response.headers, response.data)


def raw_post(server: Server, operation: str, params: dict[str, Any], **headers: str) -> Answer:
    named = {"X-Amz-Target": TARGET_PREFIX + operation, "Content-Type": CONTENT_TYPE}
    named.update({name.replace("_", "-"): value for name, value in headers.items()})
    response = _HTTP.request("POST", server.url + "/", body=orjson.dumps(params), headers=named)
    return Answer(response.status, response.headers, response.data)


def error_of(call: Any) -> dict[str, Any]:
    """The botocore error dict of a call that must fail."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as raised:
        call()
    return dict(raised.value.response["Error"])


def projects_named(rekognition: Any, name: str) -> list[dict[str, Any]]:
    found = rekognition.describe_projects(ProjectNames=[name])["ProjectDescriptions"]
    return list(found)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def start_sigv4(
    start_server: Any, directory: Path, users: list[dict[str, Any]], *args: str
) -> tuple[Server, Path]:
    """A `--auth sigv4` server reading an auth file of `users` written in `directory`."""
    path = write_auth_file(directory / "auth.json", users)
    server = start_server("--auth", "sigv4", "--auth-file", str(path), *args)
    return server, path


def alice_policy() -> dict[str, Any]:
    """The policy of the issue's example auth file."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["rekognition:Describe*", "rekognition:List*"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": "rekognition:UpdateDatasetEntries",
                "Resource": f"arn:aws:rekognition:*:{ACCOUNT_A}:project/flowers/*",
            },
            {"Effect": "Deny", "Action": "rekognition:Delete*", "Resource": "*"},
        ],
    }
