"""Throw-away PostgreSQL databases for tests and benchmarks, made on an existing database of the
server (the admin URL) and dropped at the end. psycopg is imported on first use."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path


def postgres_problem(admin_url: str) -> str | None:
    """Why no PostgreSQL can be used at `admin_url`, or None when it can."""
    try:
        import psycopg

        with psycopg.connect(admin_url, connect_timeout=3):
            return None
    except Exception as error:
        return f"PostgreSQL is not reachable at {admin_url} ({type(error).__name__}: {error})"


def database_url(url: str, name: str) -> str:
    """`url` with its database replaced by `name` (user, host and query kept)."""
    base, _, query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + (f"?{query}" if query else "")


class PostgresDatabases:
    """Fresh databases `<prefix><pid>_<n>_<tag>` on the server of `admin_url` (an existing
    database, used only to create and drop them); `drop_all` at the end, also on failure."""

    def __init__(self, admin_url: str, prefix: str = "manifestdb_test_") -> None:
        self.admin_url = admin_url
        self.prefix = prefix
        self.created: list[str] = []
        self._count = 0

    def create(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"{self.prefix}{os.getpid()}_{self._count}_{uuid.uuid4().hex[:6]}"
        self._count += 1
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return database_url(self.admin_url, name)

    def drop(self, url: str) -> None:
        """Drop a database made by `create` (stop its servers first; FORCE ends the sessions
        left)."""
        import psycopg

        name = url.partition("?")[0].rsplit("/", 1)[1]
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with contextlib.suppress(ValueError):
            self.created.remove(name)

    def drop_all(self) -> None:
        """Drop every database made here; one that cannot be dropped does not stop the rest."""
        for name in list(self.created):
            with contextlib.suppress(Exception):
                self.drop(database_url(self.admin_url, name))

    def drop_abandoned(self) -> list[str]:
        """Drop the databases of this prefix whose process is gone (killed before `drop_all`,
        on this machine); their names."""
        import psycopg

        dropped = []
        pattern = re.escape(self.prefix) + r"(\d+)_\d+(_[0-9a-f]+)?"
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            names = connection.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (self.prefix,)
            ).fetchall()
            for (name,) in names:
                found = re.fullmatch(pattern, name)
                if found and not Path(f"/proc/{found[1]}").exists():
                    connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    dropped.append(name)
        return dropped

    def server_settings(self, *names: str) -> dict[str, str]:
        """`SHOW <name>` for each name (server_version, shared_buffers, ...)."""
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=5) as connection:
            return {
                name: str(connection.execute(f"SHOW {name}").fetchall()[0][0]) for name in names
            }
