"""`manifestdb serve` with auth: the AWS CLI with a profile, bad auth files, SIGHUP, listening."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from manifestdb.harness import free_port
from support.auth import (
    ACCOUNT_A,
    ALLOW_ALL,
    alice_policy,
    client,
    error_of,
    make_key,
    start_sigv4,
    write_auth_file,
)
from support.server import Server, ServerFactory, wait_until

AWS = Path(sys.executable).parent / "aws"
ADMIN = make_key(ACCOUNT_A, "serve-admin")
ALICE = make_key(ACCOUNT_A, "alice")
NEWBIE = make_key(ACCOUNT_A, "newbie")


def serve(*args: str, tmp_path: Path, env: dict[str, str] | None = None) -> Any:
    """Run `manifestdb serve` expecting it to refuse to start: its exit code and stderr."""
    server = Server(tmp_path / "data", args, env=env, port=free_port())
    done = subprocess.run(
        server.command(), capture_output=True, text=True, timeout=60, env=server.env
    )
    assert done.returncode != 0, "the server started"
    return done


def test_the_aws_cli_with_a_profile(start_server: ServerFactory, tmp_path: Path) -> None:
    server, _ = start_sigv4(
        start_server, tmp_path, [ADMIN.entry(ALLOW_ALL), ALICE.entry(alice_policy())]
    )
    (tmp_path / "credentials").write_text(
        f"[admin]\naws_access_key_id = {ADMIN.access_key_id}\n"
        f"aws_secret_access_key = {ADMIN.secret_access_key}\n"
        f"[alice]\naws_access_key_id = {ALICE.access_key_id}\n"
        f"aws_secret_access_key = {ALICE.secret_access_key}\n"
    )
    (tmp_path / "config").write_text(
        "[profile admin]\nregion = us-east-1\n[profile alice]\nregion = us-east-1\n"
    )
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }

    def aws(profile: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(AWS), "--profile", profile, "--endpoint-url", server.url, "rekognition"]
        return subprocess.run(
            [*command, *args], env=env, capture_output=True, text=True, timeout=60
        )

    created = aws("admin", "create-project", "--project-name", "flowers")
    assert created.returncode == 0, created.stderr
    arn = orjson.loads(created.stdout)["ProjectArn"]
    assert f":{ACCOUNT_A}:project/flowers/" in arn
    listed = aws("alice", "describe-projects")
    assert listed.returncode == 0, listed.stderr
    assert [p["ProjectArn"] for p in orjson.loads(listed.stdout)["ProjectDescriptions"]] == [arn]
    denied = aws("alice", "delete-project", "--project-arn", arn)
    assert denied.returncode != 0
    assert "AccessDeniedException" in denied.stderr
    assert "with an explicit deny in an identity-based policy" in denied.stderr
    (tmp_path / "credentials").write_text(
        f"[admin]\naws_access_key_id = {ADMIN.access_key_id}\naws_secret_access_key = wrong-one\n"
    )
    wrong = aws("admin", "describe-projects")
    assert wrong.returncode != 0
    assert "InvalidSignatureException" in wrong.stderr


@pytest.mark.parametrize(
    ("content", "mode", "named"),
    [
        (b'{"users": [', 0o600, "is not valid JSON"),
        (b'{"users": {}}', 0o600, 'a "users" list'),
        (
            orjson.dumps(
                {
                    "users": [
                        ADMIN.entry(
                            {
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "*",
                                        "Resource": "*",
                                        "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                                    }
                                ],
                            }
                        )
                    ]
                }
            ),
            0o600,
            "users[0].policy.Statement[0].Condition: conditions are not supported",
        ),
        (orjson.dumps({"users": [ADMIN.entry(ALLOW_ALL)]}), 0o644, "readable by every user"),
    ],
)
def test_a_bad_auth_file_stops_the_server(
    tmp_path: Path, content: bytes, mode: int, named: str
) -> None:
    path = tmp_path / "auth.json"
    path.write_bytes(content)
    path.chmod(mode)
    done = serve("--auth", "sigv4", "--auth-file", str(path), tmp_path=tmp_path)
    assert done.returncode == 2
    assert f"manifestdb: cannot start: auth file {path}: " in done.stderr
    assert named in done.stderr
    assert ADMIN.secret_access_key not in done.stderr + done.stdout


def test_auth_options_that_do_not_go_together(tmp_path: Path) -> None:
    done = serve("--auth", "sigv4", tmp_path=tmp_path)
    assert "--auth sigv4 needs --auth-file" in done.stderr
    done = serve("--auth-file", str(tmp_path / "a.json"), tmp_path=tmp_path)
    assert "is read only with --auth sigv4" in done.stderr
    done = serve("--auth", "basic", tmp_path=tmp_path)
    assert "choose off or sigv4" in done.stderr
    done = serve("--auth", "sigv4", "--auth-file", str(tmp_path / "none.json"), tmp_path=tmp_path)
    assert "cannot be read" in done.stderr


def test_sighup_rereads_the_auth_file(start_server: ServerFactory, tmp_path: Path) -> None:
    path = write_auth_file(tmp_path / "auth.json", [ADMIN.entry(ALLOW_ALL)])
    # Set by environment variables this time.
    server = start_server(env={"MANIFESTDB_AUTH": "sigv4", "MANIFESTDB_AUTH_FILE": str(path)})
    newbie = client(server, NEWBIE)
    assert error_of(newbie.describe_projects)["Code"] == "UnrecognizedClientException"

    write_auth_file(path, [ADMIN.entry(ALLOW_ALL), NEWBIE.entry(ALLOW_ALL)])
    hang_up(server)
    wait_until(lambda: succeeds(newbie.describe_projects))

    path.write_text("{ not json")
    path.chmod(0o600)
    hang_up(server)
    wait_until(lambda: "auth file not reloaded" in server.log())
    assert server.process is not None and server.process.poll() is None
    newbie.describe_projects()  # the users already loaded stay

    write_auth_file(path, [ADMIN.entry(ALLOW_ALL)])
    hang_up(server)
    wait_until(lambda: not succeeds(newbie.describe_projects))
    assert error_of(newbie.describe_projects)["Code"] == "UnrecognizedClientException"
    client(server, ADMIN).describe_projects()


def hang_up(server: Server) -> None:
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)


def succeeds(call: Any) -> bool:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError:
        return False
    return True


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_auth_off_refuses_a_non_loopback_host(tmp_path: Path, host: str) -> None:
    done = serve("--host", host, tmp_path=tmp_path)
    assert done.returncode == 2
    assert "is not a loopback address" in done.stderr
    assert "--insecure-listen" in done.stderr
    done = serve(tmp_path=tmp_path, env={"MANIFESTDB_HOST": host})
    assert "is not a loopback address" in done.stderr


def test_insecure_listen_or_sigv4_may_listen_anywhere(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    open_server = start_server("--host", "0.0.0.0", "--insecure-listen")
    assert client(open_server, ADMIN).describe_projects()["ProjectDescriptions"] == []
    signed, _ = start_sigv4(start_server, tmp_path, [ADMIN.entry(ALLOW_ALL)], "--host", "0.0.0.0")
    assert client(signed, ADMIN).describe_projects()["ProjectDescriptions"] == []


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("db", False),
    ],
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # typer's, on import
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    from manifestdb.cli import _is_loopback

    assert _is_loopback(host) is loopback


def test_the_data_directory_is_created_private(start_server: ServerFactory, tmp_path: Path) -> None:
    data_dir = tmp_path / f"fresh-{uuid.uuid4().hex[:6]}"
    server = start_server(data_dir=data_dir)
    client(server, ADMIN).create_project(ProjectName="private")
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for path in data_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_an_open_data_directory_is_warned_about(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "open"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    server = start_server(data_dir=data_dir)
    assert f"data directory {data_dir} has mode 0755" in server.log()
