"""The auth file: what is refused at load (with where and why), permissions, no secret in errors."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from manifestdb.wire.authfile import AuthFileError, UserDirectory, load_users
from support.auth import ALLOW_ALL, make_key, write_auth_file

ALICE = make_key("111122223333", "alice")


def user(**changes: Any) -> dict[str, Any]:
    entry = ALICE.entry(ALLOW_ALL)
    entry.update(changes)
    return {key: value for key, value in entry.items() if value is not None}


def test_a_valid_file(tmp_path: Path) -> None:
    path = write_auth_file(tmp_path / "auth.json", [user()])
    users = load_users(path)
    loaded = users[ALICE.access_key_id]
    assert loaded.account == "111122223333"
    assert loaded.arn == ALICE.arn
    assert ALICE.secret_access_key not in repr(loaded)


@pytest.mark.parametrize(
    ("users", "named"),
    [
        ([user(arn="alice")], "users[0].arn: must be an IAM user ARN"),
        ([user(arn="arn:aws:iam::1111:user/alice")], "users[0].arn"),
        ([user(access_key_id="short")], "users[0].access_key_id"),
        ([user(secret_access_key="tooshort")], "users[0].secret_access_key: must be"),
        ([user(secret_access_key=None)], "users[0]: secret_access_key is missing"),
        ([user(policy=None)], "users[0]: policy is missing"),
        ([user(polcy={})], "users[0]: unknown key 'polcy'"),
        ([user(), user()], "users[1]: access_key_id AKIA"),
        (
            [user(policy={"Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]})],
            "users[0].policy.Statement[0].Effect",
        ),
    ],
)
def test_problems_are_named(tmp_path: Path, users: list[Any], named: str) -> None:
    path = write_auth_file(tmp_path / "auth.json", users)
    with pytest.raises(AuthFileError) as raised:
        load_users(path)
    message = str(raised.value)
    assert message.startswith(f"auth file {path}: ")
    assert named in message
    assert ALICE.secret_access_key not in message
    assert "tooshort" not in message


def test_not_json_names_the_place_not_the_text(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text('{"users": [{"secret_access_key": "hush-hush-hush-hush" oops}]}')
    path.chmod(0o600)
    with pytest.raises(AuthFileError, match=r"is not valid JSON .*line 1 column") as raised:
        load_users(path)
    assert "hush" not in str(raised.value)


def test_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text("[]")
    path.chmod(0o600)
    with pytest.raises(AuthFileError, match='a "users" list'):
        load_users(path)


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o620, 0o602, 0o666])
def test_loose_permissions_are_refused(tmp_path: Path, mode: int) -> None:
    path = write_auth_file(tmp_path / "auth.json", [user()], mode=mode)
    with pytest.raises(AuthFileError, match=f"chmod 600 {path}"):
        load_users(path)


def test_group_readable_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_auth_file(tmp_path / "auth.json", [user()], mode=0o640)
    with caplog.at_level(logging.WARNING, logger="manifestdb.auth"):
        assert ALICE.access_key_id in load_users(path)
    assert "readable by its group" in caplog.text


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AuthFileError, match="cannot be read"):
        load_users(tmp_path / "nothing.json")


def test_reload_keeps_the_old_users_when_the_new_file_is_bad(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_auth_file(tmp_path / "auth.json", [user()])
    directory = UserDirectory(path)
    path.write_text("{not json")
    with caplog.at_level(logging.ERROR, logger="manifestdb.auth"):
        assert directory.reload() is False
    assert "previous users stay in force" in caplog.text
    assert directory.lookup(ALICE.access_key_id) is not None
    bob = make_key("444455556666", "bob")
    write_auth_file(path, [bob.entry(ALLOW_ALL)])
    assert directory.reload() is True
    assert directory.lookup(ALICE.access_key_id) is None
    assert directory.lookup(bob.access_key_id) is not None
