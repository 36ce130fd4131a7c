"""The history commands as a user runs them (the installed `manifestdb` executable, standard AWS
environment variables): versions, diff, revert (and --to), delete-entries, export --version."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from history_kit import build

from support.server import Server, all_entries, new_dataset

EXECUTABLE = str(Path(sys.executable).parent / "manifestdb")


def manifestdb(
    server: Server, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MANIFESTDB_ENDPOINT_URL": server.url,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [EXECUTABLE, *args], capture_output=True, text=True, env=env, input=stdin, timeout=120
    )


def test_history_from_the_command_line(server: Server, rekognition: Any, history: Any) -> None:
    _, arn = new_dataset(rekognition)
    snaps = build(rekognition, history, arn)
    listed = manifestdb(server, "versions", arn)
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if "update" in line or "created" in line]
    assert len(rows) == 4 and "arn:aws:iam::123456789012:root" in rows[0]
    as_json = orjson.loads(manifestdb(server, "versions", arn, "--json").stdout)
    assert [v["VersionNumber"] for v in as_json["Versions"]] == [3, 2, 1, 0]

    diff = manifestdb(server, "diff", arn, "1", "2")
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.splitlines() == [  # in source-ref order
        "~ s3://bkt/img/1.jpg",
        "+ s3://bkt/img/12.jpg",
        "+ s3://bkt/img/13.jpg",
        "~ s3://bkt/img/2.jpg",
    ]
    assert "2 added, 0 removed, 2 changed" in diff.stderr

    exported = manifestdb(server, "export", arn, "--version", "1")
    assert exported.returncode == 0, exported.stderr
    assert [orjson.loads(line) for line in exported.stdout.splitlines()] == snaps[1].entries["{}"]

    refused = manifestdb(server, "revert", arn, "2")
    assert refused.returncode == 1
    assert "ConflictException" in refused.stderr and "Force=true" in refused.stderr
    reverted = manifestdb(server, "revert", arn, "3")
    assert reverted.returncode == 0, reverted.stderr
    assert "revert of version 3 applied: version 4" in reverted.stderr
    assert all_entries(rekognition, arn) == snaps[2].entries["{}"]

    restored = manifestdb(server, "revert", arn, "--to", "1")
    assert restored.returncode == 0 and "restore to version 1 applied: version 5" in restored.stderr
    assert all_entries(rekognition, arn) == snaps[1].entries["{}"]

    deleted = manifestdb(
        server,
        "delete-entries",
        arn,
        "--from-file",
        "-",
        stdin="s3://bkt/img/0.jpg\ns3://bkt/img/10.jpg\n",
    )
    assert deleted.returncode == 0, deleted.stderr
    assert "deletion applied: version 6" in deleted.stderr and "removed 2" in deleted.stderr
    by_filter = manifestdb(server, "delete-entries", arn, "--label", "unicorn")
    assert by_filter.returncode == 1
    assert "matches no entry of the dataset" in by_filter.stderr
    both = manifestdb(server, "delete-entries", arn, "--label", "cat", "--source-ref", "s3://x/y")
    assert both.returncode == 2 and "not both" in both.stderr
