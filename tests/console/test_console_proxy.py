"""The console behind a TLS-terminating proxy (the browser on https, the server on http): the
Origin of a change is compared with the origin the browser sees, which X-Forwarded-Proto and
X-Forwarded-Host give only when the request's peer is a proxy of `--trusted-proxy`; without the
setting (the default) those headers are never trusted. Real servers, raw HTTP over a socket."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import orjson
import pytest

from manifestdb.harness import ServerProcess, free_port
from manifestdb.harness.rawhttp import connect
from support.raw import Answer, read_answer
from support.server import Server, ServerFactory

PUBLIC = "labels.example.com"


@pytest.fixture(scope="module")
def plain(start_server: ServerFactory) -> Server:
    return start_server()


@pytest.fixture(scope="module")
def behind_proxy(start_server: ServerFactory) -> Server:
    """The proxy is on this host: the setting given by its environment variable."""
    return start_server(env={"MANIFESTDB_TRUSTED_PROXY": "10.0.0.0/8, 127.0.0.1"})


@pytest.fixture(scope="module")
def other_proxy(start_server: ServerFactory) -> Server:
    """A proxy elsewhere: requests of this host are not the proxy's (the flag)."""
    return start_server("--trusted-proxy", "192.0.2.7")


def create_project(server: Server, **headers: str) -> tuple[Answer, str]:
    """POST CreateProject from "the console's page" with these headers (`_` for `-`)."""
    name = f"p-{uuid.uuid4().hex[:10]}"
    body = orjson.dumps({"ProjectName": name})
    head = {
        "Host": server.url.removeprefix("http://"),
        "Content-Type": "application/x-amz-json-1.1",
        "Content-Length": str(len(body)),
        "X-Manifestdb-Console": "1",
        "X-CSRF-Token": "off",
        "Sec-Fetch-Site": "same-origin",
        **{name.replace("_", "-"): value for name, value in headers.items()},
    }
    request = "POST /console/api/operations/CreateProject HTTP/1.1\r\n" + "".join(
        f"{key}: {value}\r\n" for key, value in head.items()
    )
    with connect(server.url) as sock:
        sock.sendall(request.encode() + b"\r\n" + body)
        return read_answer(sock), name


def projects(server: Server) -> set[str]:
    described = server.client().describe_projects()["ProjectDescriptions"]
    return {project["ProjectArn"].split(":project/")[1].split("/")[0] for project in described}


# The browser's request as the proxy passes it on: the public Host kept, or the server's own
# Host with the public one in X-Forwarded-Host.
THROUGH_PROXY = [
    {"Host": PUBLIC, "X_Forwarded_Proto": "https"},
    {"X_Forwarded_Proto": "https", "X_Forwarded_Host": PUBLIC},
    {"X_Forwarded_Proto": "https, http", "X_Forwarded_Host": f"{PUBLIC}, internal:8080"},
]


@pytest.mark.parametrize("headers", THROUGH_PROXY, ids=["host kept", "forwarded host", "chain"])
def test_a_change_through_the_trusted_proxy_is_accepted(
    behind_proxy: Server, headers: dict[str, str]
) -> None:
    answer, name = create_project(behind_proxy, Origin=f"https://{PUBLIC}", **headers)
    assert answer.status == 200, answer.body
    assert name in projects(behind_proxy)


@pytest.mark.parametrize("headers", THROUGH_PROXY, ids=["host kept", "forwarded host", "chain"])
def test_without_the_setting_the_same_change_is_refused(
    plain: Server, headers: dict[str, str]
) -> None:
    answer, name = create_project(plain, Origin=f"https://{PUBLIC}", **headers)
    assert answer.status == 403, answer.body
    assert answer.code == "AccessDeniedException"
    message = answer.json["Message"]
    assert f"this request came from 'https://{PUBLIC}' (Origin)" in message
    assert "X-Forwarded-Proto and X-Forwarded-Host are not trusted from 127.0.0.1" in message
    assert "--trusted-proxy" in message
    assert name not in projects(plain)


def test_a_forged_forwarded_proto_is_not_trusted_by_default(plain: Server) -> None:
    """A client of the server itself says it came over https: the server's origin stays http."""
    own = plain.url.removeprefix("http://")
    answer, name = create_project(plain, Origin=f"https://{own}", X_Forwarded_Proto="https")
    assert answer.status == 403, answer.body
    assert f"page at http://{own};" in answer.json["Message"]
    assert name not in projects(plain)
    # The plain http page of the server itself still works.
    answer, name = create_project(plain, Origin=f"http://{own}", X_Forwarded_Proto="https")
    assert answer.status == 200, answer.body


def test_forwarded_headers_from_a_peer_that_is_not_the_proxy_are_refused(
    other_proxy: Server,
) -> None:
    answer, name = create_project(
        other_proxy, Origin=f"https://{PUBLIC}", X_Forwarded_Proto="https", X_Forwarded_Host=PUBLIC
    )
    assert answer.status == 403, answer.body
    assert "not trusted from 127.0.0.1" in answer.json["Message"]
    assert name not in projects(other_proxy)


@pytest.mark.parametrize(
    ("origin", "headers"),
    [
        ("https://evil.example", {"X_Forwarded_Proto": "https", "X_Forwarded_Host": PUBLIC}),
        (f"http://{PUBLIC}", {"X_Forwarded_Proto": "https", "X_Forwarded_Host": PUBLIC}),
        # A forwarded host that is no host is not taken: the origin is the Host header's.
        (f"https://{PUBLIC}/x", {"X_Forwarded_Proto": "https", "X_Forwarded_Host": f"{PUBLIC}/x"}),
    ],
    ids=["other site", "http origin", "malformed forwarded host"],
)
def test_the_trusted_proxy_s_origin_is_the_only_one_accepted(
    behind_proxy: Server, origin: str, headers: dict[str, str]
) -> None:
    answer, name = create_project(behind_proxy, Origin=origin, **headers)
    assert answer.status == 403, answer.body
    assert answer.code == "AccessDeniedException"
    assert name not in projects(behind_proxy)


def test_a_trusted_proxy_that_is_no_address_stops_serve(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, ["--trusted-proxy", "127.0.0.1,proxy.local"], port=free_port())
    result = subprocess.run(
        server.command(), capture_output=True, text=True, timeout=60, env=server.env
    )
    assert result.returncode == 2
    said = " ".join(result.stderr.replace("│", " ").split())  # the words of typer's framed error
    assert "--trusted-proxy" in said
    assert "'proxy.local' is not an IP address or network" in said
