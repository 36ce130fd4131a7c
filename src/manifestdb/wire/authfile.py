"""The auth file of `--auth sigv4`: users, access keys and policies; checked, loaded, reloaded.

```json
{"users": [{"arn": "arn:aws:iam::111122223333:user/alice",
            "access_key_id": "AKIAALICE0000000000A", "secret_access_key": "...",
            "policy": {"Version": "2012-10-17", "Statement": [...]}}]}
```

A user's account is the one in its ARN. The file is read whole at start (a problem stops the
server with a message naming it) and again on SIGHUP (a problem keeps the users already loaded
and is logged). Permissions: a file that others can read, or that group or others can write, is
refused; one that its group can read is accepted with a warning. Secrets never appear in
messages, logs or reprs.
"""

from __future__ import annotations

import logging
import re
import stat
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from manifestdb.wire.policy import Policy, PolicyError, parse_policy

log = logging.getLogger("manifestdb.auth")

_USER_ARN = re.compile(r"^arn:aws:iam::(?P<account>\d{12}):user/[\w+=,.@/-]{1,512}$")
_ACCESS_KEY_ID = re.compile(r"^\w{16,128}$")
MIN_SECRET_LENGTH = 16
_USER_KEYS = frozenset({"arn", "access_key_id", "secret_access_key", "policy"})


class AuthFileError(Exception):
    """The auth file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class User:
    """One access key of the auth file and what its holder may do."""

    arn: str
    account: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    policy: Policy = field(repr=False)


def check_permissions(path: Path) -> None:
    """Refuse a file others can read or group/others can write; warn when its group can read."""
    try:
        info = path.stat()
    except OSError as error:
        raise AuthFileError(f"auth file {path}: cannot be read ({error.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise AuthFileError(f"auth file {path}: is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise AuthFileError(
            f"auth file {path}: is writable by its group or by others (mode {mode:04o}), so "
            f"anyone who can write it can let themselves in. Run: chmod 600 {path}"
        )
    if mode & stat.S_IROTH:
        raise AuthFileError(
            f"auth file {path}: is readable by every user (mode {mode:04o}) and holds secret "
            f"keys. Run: chmod 600 {path}"
        )
    if mode & stat.S_IRGRP:
        log.warning(
            "auth file %s is readable by its group (mode %04o); chmod 600 it unless that group "
            "is meant to read the secret keys",
            path,
            mode,
        )


def load_users(path: Path) -> dict[str, User]:
    """The users of the auth file by access key id, or AuthFileError naming the problem."""
    check_permissions(path)
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as error:
        raise AuthFileError(f"auth file {path}: cannot be read ({error.strerror})") from None
    except orjson.JSONDecodeError as error:
        # The decoder's message gives line and column only, never the text (which holds secrets).
        raise AuthFileError(
            f"auth file {path}: is not valid JSON ({error.msg}, line "
            f"{error.lineno} column {error.colno})"
        ) from None
    try:
        return parse_users(document)
    except AuthFileError as error:
        raise AuthFileError(f"auth file {path}: {error}") from None


def parse_users(document: Any) -> dict[str, User]:
    """The decoded auth file -> users by access key id, or AuthFileError."""
    if not isinstance(document, Mapping) or not isinstance(document.get("users"), list):
        raise AuthFileError('must be a JSON object with a "users" list')
    unknown = sorted(set(document) - {"users"})
    if unknown:
        raise AuthFileError(f'unknown key {unknown[0]!r} at the top level (only "users")')
    users: dict[str, User] = {}
    for index, item in enumerate(document["users"]):
        user = _user(item, f"users[{index}]")
        if user.access_key_id in users:
            raise AuthFileError(
                f"users[{index}]: access_key_id {user.access_key_id} is used twice; each key "
                "belongs to one user"
            )
        users[user.access_key_id] = user
    if not users:
        log.warning("the auth file has no users: every request will be refused")
    return users


def _user(item: Any, where: str) -> User:
    if not isinstance(item, Mapping):
        raise AuthFileError(f"{where}: must be a JSON object")
    for key in item:
        if key not in _USER_KEYS:
            raise AuthFileError(
                f"{where}: unknown key {key!r} (a user has arn, access_key_id, "
                "secret_access_key and policy)"
            )
    for key in ("arn", "access_key_id", "secret_access_key", "policy"):
        if key not in item:
            raise AuthFileError(f"{where}: {key} is missing")
    arn = item["arn"]
    match = _USER_ARN.match(arn) if isinstance(arn, str) else None
    if match is None:
        raise AuthFileError(
            f'{where}.arn: must be an IAM user ARN such as "arn:aws:iam::111122223333:user/alice"'
        )
    key_id = item["access_key_id"]
    if not isinstance(key_id, str) or not _ACCESS_KEY_ID.match(key_id):
        raise AuthFileError(
            f"{where}.access_key_id: must be 16 to 128 letters, digits or underscores"
        )
    secret = item["secret_access_key"]
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH or not secret.isprintable():
        # Never echo the value: say only what is wrong with it.
        raise AuthFileError(
            f"{where}.secret_access_key: must be a string of at least {MIN_SECRET_LENGTH} "
            "printable characters"
        )
    try:
        policy = parse_policy(item["policy"], f"{where}.policy")
    except PolicyError as error:
        raise AuthFileError(str(error)) from None
    return User(
        arn=arn,
        account=match["account"],
        access_key_id=key_id,
        secret_access_key=secret,
        policy=policy,
    )


class UserDirectory:
    """The users of one auth file: looked up by access key id, replaced whole on reload.

    Lookups read one immutable dict reference, so a request sees the old users or the new ones,
    never a mix; the lock only keeps two reloads from racing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._users = load_users(path)
        log.info("auth sigv4: %d access keys loaded from %s", len(self._users), path)

    def lookup(self, access_key_id: str) -> User | None:
        return self._users.get(access_key_id)

    def reload(self) -> bool:
        """Read the file again; on a problem keep the current users and log it."""
        with self._lock:
            try:
                users = load_users(self.path)
            except AuthFileError as error:
                log.error("auth file not reloaded, the previous users stay in force: %s", error)
                return False
            except Exception:
                log.exception("auth file not reloaded, the previous users stay in force")
                return False
            self._users = users
        log.info("auth file reloaded: %d access keys from %s", len(users), self.path)
        return True
