"""Whatever a request carries, authentication answers an AWS error or an identity, never a crash."""

from __future__ import annotations

import datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from manifestdb.config import Settings
from manifestdb.service.errors import ServiceError
from manifestdb.wire.auth import Authenticator
from support.auth import ALLOW_ALL, make_key, write_auth_file

ALICE = make_key("111122223333", "alice")
NOW = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
printable = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)


@pytest.fixture(scope="module")
def authenticator(tmp_path_factory: pytest.TempPathFactory) -> Authenticator:
    path = write_auth_file(tmp_path_factory.mktemp("fuzz") / "auth.json", [ALICE.entry(ALLOW_ALL)])
    return Authenticator(Settings(auth="sigv4", auth_file=path), clock=lambda: NOW.timestamp())


def signed_headers(body: bytes, path: str = "/", query: str = "") -> list[tuple[str, str]]:
    request = AWSRequest(
        method="POST",
        url=f"http://localhost:8777{path}" + (f"?{query}" if query else ""),
        data=body,
        headers={"X-Amz-Target": "RekognitionService.DescribeProjects"},
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("botocore.auth.get_current_datetime", lambda: NOW)
        SigV4Auth(
            Credentials(ALICE.access_key_id, ALICE.secret_access_key), "rekognition", "us-east-1"
        ).add_auth(request)
    headers = [(name, value) for name, value in request.headers.items()]
    return [*headers, ("Host", "localhost:8777")]


def test_a_signed_request_is_accepted_in_process(authenticator: Authenticator) -> None:
    body = b'{"MaxResults": 5}'
    identity = authenticator.authenticate("POST", "/", "", signed_headers(body), body)
    assert identity.caller.principal == ALICE.arn
    assert identity.caller.account == "111122223333"
    path, query = "/_manifestdb/datasets/arn%3Aaws%3Ax/updates", "max_results=5&next_token=a%2Fb"
    headers = signed_headers(b"", path, query)
    assert authenticator.authenticate("POST", path, query, headers, b"").caller.region == (
        "us-east-1"
    )


@settings(max_examples=300, deadline=None)
@given(
    authorization=printable,
    date=printable,
    extra=st.lists(st.tuples(printable, printable), max_size=4),
    path=printable,
    query=printable,
    body=st.binary(max_size=64),
)
def test_garbage_never_crashes(
    authenticator: Authenticator,
    authorization: str,
    date: str,
    extra: list[tuple[str, str]],
    path: str,
    query: str,
    body: bytes,
) -> None:
    headers = [("Authorization", authorization), ("X-Amz-Date", date), *extra]
    try:
        authenticator.authenticate("POST", path, query, headers, body)
    except ServiceError as error:
        assert error.status == 400
        assert ALICE.secret_access_key not in error.message


@settings(max_examples=200, deadline=None)
@given(
    signed_list=st.lists(
        st.sampled_from(["host", "x-amz-date", "x-amz-target", "content-type", "x-odd", "Host"]),
        max_size=6,
    ),
    signature=printable,
    path=printable,
    body=st.binary(max_size=64),
)
def test_near_misses_are_refused(
    authenticator: Authenticator, signed_list: list[str], signature: str, path: str, body: bytes
) -> None:
    scope = f"{ALICE.access_key_id}/20240501/us-east-1/rekognition/aws4_request"
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={';'.join(signed_list)}, "
        f"Signature={signature}"
    )
    headers = [
        ("Authorization", authorization),
        ("X-Amz-Date", "20240501T120000Z"),
        ("Host", "localhost"),
        ("X-Amz-Target", "RekognitionService.DescribeProjects"),
    ]
    with pytest.raises(ServiceError) as raised:
        authenticator.authenticate("POST", path or "/", "", headers, body)
    assert raised.value.code in {"InvalidSignatureException", "IncompleteSignatureException"}


def test_a_signature_from_another_secret_is_refused(authenticator: Authenticator) -> None:
    body = b"{}"
    headers = signed_headers(body)
    tampered = [
        (n, v.replace("Signature=", "Signature=0") if n == "Authorization" else v)
        for n, v in headers
    ]
    with pytest.raises(ServiceError, match="does not match"):
        authenticator.authenticate("POST", "/", "", tampered, body)
