"""The console's login with `--auth sigv4`: a session cookie (HttpOnly, SameSite=Strict, an
expiry), what the session may see (exactly what the API lets its user see), CSRF on changes,
and logout ending it everywhere."""

from __future__ import annotations

import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import orjson
import pytest
import urllib3

from support.auth import ACCOUNT_A, ACCOUNT_B, ALLOW_ALL, client, make_key, start_sigv4
from support.server import Server, ServerFactory, new_dataset

ADMIN_A = make_key(ACCOUNT_A, "console-admin")
READER_A = make_key(ACCOUNT_A, "console-reader")  # may describe, not list entries
ADMIN_B = make_key(ACCOUNT_B, "console-admin-b")
READER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "rekognition:Describe*", "Resource": "*"},
    ],
}
HTTP = urllib3.PoolManager(retries=False)
PAGE = {"X-Manifestdb-Console": "1"}  # what every change of the console's page carries


@pytest.fixture(scope="module")
def server(start_server: ServerFactory, tmp_path_factory: pytest.TempPathFactory) -> Server:
    users = [ADMIN_A.entry(ALLOW_ALL), READER_A.entry(READER_POLICY), ADMIN_B.entry(ALLOW_ALL)]
    started, _ = start_sigv4(
        start_server,
        tmp_path_factory.mktemp("console-auth"),
        users,
        "--console-session-hours",
        "2",
    )
    return started


def login(server: Server, key: Any, secret: str | None = None, **headers: str) -> Any:
    body = {"AccessKeyId": key.access_key_id, "SecretAccessKey": secret or key.secret_access_key}
    return HTTP.request(
        "POST",
        server.url + "/console/api/login",
        body=orjson.dumps({**body, "Region": "us-east-1"}),
        headers={"Content-Type": "application/json", **PAGE, **headers},
    )


def cookie_of(response: Any) -> tuple[str, Any]:
    jar = SimpleCookie()
    jar.load(response.headers["Set-Cookie"])
    morsel = jar["manifestdb_session"]
    return morsel.value, morsel


def get(server: Server, path: str, token: str | None = None) -> Any:
    headers = {"Cookie": f"manifestdb_session={token}"} if token else {}
    return HTTP.request("GET", server.url + path, headers=headers)


def test_a_login_gives_an_http_only_strict_cookie_and_the_csrf_token(server: Server) -> None:
    answer = login(server, ADMIN_A)
    assert answer.status == 200, answer.data
    token, morsel = cookie_of(answer)
    assert morsel["httponly"] and morsel["samesite"] == "strict" and morsel["path"] == "/console"
    assert morsel["max-age"] == "7200" and not morsel["secure"]
    body = orjson.loads(answer.data)
    assert body["User"] == ADMIN_A.arn and body["Account"] == ACCOUNT_A
    assert len(body["CsrfToken"]) >= 32 and body["CsrfToken"] not in answer.headers["Set-Cookie"]
    assert ADMIN_A.secret_access_key not in answer.data.decode()
    session = orjson.loads(get(server, "/console/api/session", token).data)
    assert session["CsrfToken"] == body["CsrfToken"]
    assert ADMIN_A.secret_access_key not in server.log()


@pytest.mark.parametrize(
    ("key_id", "secret"),
    [(ADMIN_A.access_key_id, "wrong-secret"), ("AKIANOBODY0000000000", "whatever")],
)
def test_a_wrong_key_or_secret_is_refused_without_saying_which(
    server: Server, key_id: str, secret: str
) -> None:
    answer = HTTP.request(
        "POST",
        server.url + "/console/api/login",
        body=orjson.dumps({"AccessKeyId": key_id, "SecretAccessKey": secret}),
        headers=PAGE,
    )
    body = orjson.loads(answer.data)
    assert (answer.status, body["__type"]) == (400, "UnrecognizedClientException")
    assert body["Message"] == "The access key id or the secret access key is not right."
    assert "Set-Cookie" not in answer.headers


def test_without_a_session_the_data_routes_ask_for_a_login(server: Server) -> None:
    for path in ("/console/api/projects", "/console/api/session"):
        body = orjson.loads(get(server, path).data)
        assert body["__type"] == "MissingAuthenticationTokenException"
        assert "log in to the console" in body["Message"]
    forged = orjson.loads(get(server, "/console/api/projects", "forged-token").data)
    assert forged["__type"] == "MissingAuthenticationTokenException"


def test_a_session_sees_what_its_user_may_see_and_no_other_account(server: Server) -> None:
    _, mine = new_dataset(client(server, ADMIN_A))
    _, theirs = new_dataset(client(server, ADMIN_B))
    token, _ = cookie_of(login(server, ADMIN_A))
    projects = orjson.loads(get(server, "/console/api/projects", token).data)
    arns = {d["DatasetArn"] for p in projects["ProjectDescriptions"] for d in p["Datasets"]}
    assert mine in arns and theirs not in arns
    other = get(server, f"/console/api/datasets/{urllib.parse.quote(theirs, safe='')}", token)
    assert orjson.loads(other.data)["__type"] == "ResourceNotFoundException"

    reader, _ = cookie_of(login(server, READER_A))
    path = f"/console/api/datasets/{urllib.parse.quote(mine, safe='')}"
    assert get(server, path, reader).status == 200  # DescribeDataset is allowed
    denied = orjson.loads(get(server, path + "/entries", reader).data)
    assert denied["__type"] == "AccessDeniedException"
    assert denied["Message"].startswith(
        f"User: {READER_A.arn} is not authorized to perform: rekognition:ListDatasetEntries on "
        f"resource: {mine}"
    )


def test_logout_needs_the_csrf_token_and_ends_the_session(server: Server) -> None:
    answer = login(server, ADMIN_A)
    token, _ = cookie_of(answer)
    csrf = orjson.loads(answer.data)["CsrfToken"]
    cookie = {"Cookie": f"manifestdb_session={token}", **PAGE}
    url = server.url + "/console/api/logout"
    for headers in (
        cookie,  # no token
        {**cookie, "X-CSRF-Token": "not-it"},
        {**cookie, "X-CSRF-Token": csrf, "Origin": "https://evil.example"},
        {**cookie, "X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"},
    ):
        refused = orjson.loads(HTTP.request("POST", url, headers=headers).data)
        assert refused["__type"] == "AccessDeniedException", headers
    assert get(server, "/console/api/projects", token).status == 200  # still logged in
    done = HTTP.request("POST", url, headers={**cookie, "X-CSRF-Token": csrf})
    assert done.status == 200
    assert "manifestdb_session=" in done.headers["Set-Cookie"]
    assert "Max-Age=0" in done.headers["Set-Cookie"] or "expires" in done.headers["Set-Cookie"]
    after = orjson.loads(get(server, "/console/api/projects", token).data)
    assert after["__type"] == "MissingAuthenticationTokenException"  # the old cookie is dead


def test_a_login_from_another_origin_is_refused(server: Server) -> None:
    answer = login(server, ADMIN_A, Origin="https://evil.example")
    assert orjson.loads(answer.data)["__type"] == "AccessDeniedException"
    assert "Set-Cookie" not in answer.headers


def test_secure_cookies_and_auth_off(start_server: ServerFactory, tmp_path: Path) -> None:
    secure, _ = start_sigv4(start_server, tmp_path, [ADMIN_A.entry(ALLOW_ALL)], "--secure-cookies")
    _, morsel = cookie_of(login(secure, ADMIN_A))
    assert morsel["secure"]
    open_server = start_server()
    refused = orjson.loads(login(open_server, ADMIN_A).data)
    assert refused["__type"] == "InvalidParameterException"
    session = orjson.loads(get(open_server, "/console/api/session").data)
    assert session["Auth"] == "off" and session["CsrfToken"] == "off"
