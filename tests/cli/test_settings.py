"""Every setting of `serve`, `worker` and `migrate`, given a value it cannot take (by flag or by
`MANIFESTDB_*` variable): a usage error (exit 2) that names the option, the value found and the
rule, before anything starts; a database that cannot be opened says which and why (exit 1).
Never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from manifestdb.harness import free_port
from support.server import Server, ServerFactory


def run(tmp_path: Path, command: str, *args: str, **env: str) -> tuple[int, str]:
    """The command's exit code and its stderr, whitespace and Rich's box drawing folded."""
    data = tmp_path / "data"
    where = [] if "--data-dir" in args or "--database-url" in args else ["--data-dir", str(data)]
    chosen = "--port" in args or "MANIFESTDB_PORT" in env
    port = ["--port", str(free_port())] if command == "serve" and not chosen else []
    environment = {**os.environ, "COLUMNS": "300", **env}
    for name in list(environment):
        if name.startswith("MANIFESTDB_") and name not in env:
            del environment[name]  # only the variable under test
    done = subprocess.run(
        [sys.executable, "-m", "manifestdb.cli", command, *where, *port, *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=environment,
    )
    text = re.sub(r"[│╭╮╰╯─]+", " ", done.stderr)
    return done.returncode, re.sub(r"\s+", " ", text)


NOT_A_FILE = "/nonexistent/manifestdb"

# (command, arguments, variables, what the message must say)
REFUSED: list[tuple[str, list[str], dict[str, str], list[str]]] = [
    ("serve", ["--port", "70000"], {}, ["'--port'", "70000", "0<=x<=65535"]),
    ("serve", ["--port", "-1"], {}, ["'--port'", "-1"]),
    (
        "serve",
        [],
        {"MANIFESTDB_PORT": "http"},
        ["MANIFESTDB_PORT", "'http' is not a valid integer"],
    ),
    (
        "serve",
        ["--job-delay", "nan"],
        {},
        ["'--job-delay'", "nan is not allowed", "from 0 to 3600"],
    ),
    ("serve", ["--job-delay", "-1"], {}, ["'--job-delay'", "-1 is not allowed"]),
    ("serve", [], {"MANIFESTDB_JOB_DELAY": "inf"}, ["MANIFESTDB_JOB_DELAY", "inf is not allowed"]),
    ("serve", ["--request-timeout", "0"], {}, ["'--request-timeout'", "more than 0 to 86400"]),
    ("serve", ["--request-timeout", "inf"], {}, ["'--request-timeout'", "inf is not allowed"]),
    (
        "serve",
        ["--lease-seconds", "0.5"],
        {},
        ["'--lease-seconds'", "0.5 is not allowed", "from 1"],
    ),
    ("serve", ["--lease-seconds", "nan"], {}, ["'--lease-seconds'", "nan is not allowed"]),
    ("serve", ["--keep-history-mb", "inf"], {}, ["'--keep-history-mb'", "inf is not allowed"]),
    ("serve", ["--keep-history-mb", "-1"], {}, ["'--keep-history-mb'", "megabytes from 0"]),
    ("serve", ["--keep-versions", "99999999999999999999"], {}, ["'--keep-versions'", "2147483647"]),
    ("serve", ["--keep-versions", "-1"], {}, ["'--keep-versions'", "-1"]),
    ("serve", ["--console-session-hours", "nan"], {}, ["'--console-session-hours'", "hours"]),
    ("serve", ["--console-session-hours", "0"], {}, ["'--console-session-hours'", "from 0.01"]),
    ("serve", ["--thumbnail-cache-mb", "-1"], {}, ["'--thumbnail-cache-mb'", "-1"]),
    ("serve", ["--log-level", "bogus"], {}, ["'--log-level'", "'bogus' is not a log level"]),
    ("serve", [], {"MANIFESTDB_LOG_LEVEL": "verbose"}, ["MANIFESTDB_LOG_LEVEL", "'verbose'"]),
    ("serve", ["--database-url", "foo://bar"], {}, ["'--database-url'", "scheme 'foo'"]),
    ("serve", ["--database-url", "/var/db.sqlite"], {}, ["'--database-url'", "no URL"]),
    ("serve", ["--s3-endpoint-url", "notaurl"], {}, ["'--s3-endpoint-url'", "'notaurl'"]),
    (
        "serve",
        ["--s3-endpoint-url", "http://h:99999"],
        {},
        ["'--s3-endpoint-url'", "no valid port"],
    ),
    ("serve", ["--local-buckets", NOT_A_FILE], {}, ["'--local-buckets'", "does not exist"]),
    ("serve", ["--host", "not a host", "--insecure-listen"], {}, ["--host:", "'not a host'"]),
    ("serve", ["--trusted-proxy", "300.1.1.1"], {}, ["--trusted-proxy:", "'300.1.1.1' is not"]),
    ("serve", ["--limits", "huge"], {}, ["--limits", "aws, relaxed"]),
    ("serve", ["--auth", "sigv5"], {}, ["--auth", "off or sigv4"]),
    ("worker", ["--concurrency", "0"], {}, ["'--concurrency'", "1<=x<=256"]),
    ("worker", ["--concurrency", "1000"], {}, ["'--concurrency'", "1000"]),
    ("worker", ["--job-delay", "nan"], {}, ["'--job-delay'", "nan is not allowed"]),
    ("worker", [], {"MANIFESTDB_LEASE_SECONDS": "-inf"}, ["MANIFESTDB_LEASE_SECONDS", "-inf"]),
    ("worker", ["--database-url", "mysql://u@h/db"], {}, ["'--database-url'", "scheme 'mysql'"]),
    ("migrate", ["--database-url", "foo://x"], {}, ["'--database-url'", "scheme 'foo'"]),
]


@pytest.mark.parametrize(
    ("command", "args", "env", "said"),
    REFUSED,
    ids=[
        f"{c} {' '.join(a) or ' '.join(f'{k}={v}' for k, v in e.items())}" for c, a, e, _ in REFUSED
    ],
)
def test_a_setting_it_cannot_take_is_a_usage_error_naming_it(
    tmp_path: Path, command: str, args: list[str], env: dict[str, str], said: list[str]
) -> None:
    code, stderr = run(tmp_path, command, *args, **env)
    assert code == 2, stderr
    assert "Traceback" not in stderr
    for words in said:
        assert words in stderr, stderr
    assert not (tmp_path / "data").exists() or command == "migrate"  # nothing was started


def test_a_database_url_s_password_is_never_repeated(tmp_path: Path) -> None:
    code, stderr = run(tmp_path, "serve", "--database-url", "mysql://alice:hunter2@db/x")
    assert code == 2 and "hunter2" not in stderr and "scheme 'mysql'" in stderr
    unreachable = "postgresql://alice:hunter2@127.0.0.1:1/x"
    code, stderr = run(tmp_path, "serve", "--database-url", unreachable)
    assert code == 1 and "hunter2" not in stderr, stderr
    assert "postgresql://alice:***@127.0.0.1:1/x cannot be opened" in stderr
    assert "Connection refused" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_a_database_that_cannot_be_opened_says_which_and_why(tmp_path: Path, command: str) -> None:
    url = "sqlite:////nonexistent/manifestdb/db.sqlite3"
    code, stderr = run(tmp_path, command, "--database-url", url)
    assert code == 1, stderr
    assert f"manifestdb: cannot start: the database {url} cannot be opened: unable to open" in (
        stderr
    )
    assert "Traceback" not in stderr
    code, stderr = run(tmp_path, command, "--database-url", "postgresql://nobody@127.0.0.1:1/x")
    assert code == 1 and "Connection refused" in stderr and "Traceback" not in stderr, stderr


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_a_data_dir_that_cannot_be_one_is_refused(tmp_path: Path, command: str) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("not a folder\n")
    code, stderr = run(tmp_path, command, "--data-dir", str(afile))
    assert code == 2, stderr
    assert f"--data-dir: '{afile}' cannot be the data directory: it is a file" in stderr
    assert "Traceback" not in stderr
    code, stderr = run(tmp_path, command, "--data-dir", str(afile / "below"))
    assert code == 2 and "cannot be the data directory" in stderr and "Traceback" not in stderr


def test_local_buckets_must_be_a_folder(tmp_path: Path) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("not a folder\n")
    code, stderr = run(tmp_path, "serve", "--local-buckets", str(afile))
    assert code == 2 and "'--local-buckets'" in stderr and "is a file" in stderr, stderr


def test_the_edges_of_each_range_are_taken(start_server: ServerFactory) -> None:
    """What the checks allow still serves: a level in capitals, an empty endpoint variable
    (unset), the lowest lease and session, a fractional timeout."""
    server: Server = start_server(
        "--log-level",
        "WARNING",
        "--console-session-hours",
        "0.01",
        "--request-timeout",
        "2.5",
        env={"MANIFESTDB_S3_ENDPOINT_URL": ""},
    )
    assert server.client().describe_projects()["ProjectDescriptions"] == []
