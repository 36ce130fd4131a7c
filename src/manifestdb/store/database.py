"""Opening the database: engine, SQLite pragmas, migrations, and read/write transactions."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, insert, select
from sqlalchemy.pool import QueuePool

from manifestdb.store.schema import meta

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x6D616E69  # "mani": the advisory lock that serializes migrations


def normalize_url(url: str) -> str:
    """`postgresql://` URLs use psycopg 3; `sqlite:///` stays as it is."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_database_engine(url: str) -> Engine:
    """An engine for a `sqlite:///` or `postgresql://` URL, set up for manifestdb's use."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=8,
            max_overflow=16,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if url.startswith("postgresql+psycopg"):
        return create_engine(
            url,
            pool_size=8,
            max_overflow=16,
            pool_pre_ping=True,
            # Server-side prepared statements get generic plans that cannot use the trigram
            # index for `LIKE $1` (PERFORMANCE-NOTES): keep every statement unprepared.
            connect_args={"prepare_threshold": None, "application_name": "manifestdb"},
        )
    raise ValueError(
        f"unsupported database URL {url.split(':', 1)[0]}: use sqlite:///PATH or "
        "postgresql://USER@HOST:PORT/DATABASE"
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's begin event issue BEGIN itself instead of pysqlite's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # A writer takes the write lock up front so two writers never deadlock on an upgrade.
    mode = "BEGIN IMMEDIATE" if connection.info.get("write") else "BEGIN"
    connection.exec_driver_sql(mode)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        connection.info["write"] = True
        if engine.dialect.name == "postgresql":
            # Servers and workers starting together must not migrate at the same time.
            connection.exec_driver_sql("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
            connection.commit()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
            connection.commit()


class Database:
    """The engine plus the two kinds of transaction every store module uses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: a consistent snapshot (WAL readers never block the writer)."""
        with self.engine.connect() as connection:
            connection.info["write"] = False
            with connection.begin():
                yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed when the block ends and rolled back on an exception."""
        with self.engine.connect() as connection:
            connection.info["write"] = True
            with connection.begin():
                yield connection

    def secret(self, name: str) -> bytes:
        """A random key kept in the database, made on first use (shared by every process)."""
        with self.write() as connection:
            value = connection.execute(select(meta.c.value).where(meta.c.key == name)).scalar()
            if value is None:
                value = secrets.token_hex(32)
                connection.execute(insert(meta).values(key=name, value=value))
        return bytes.fromhex(value)
