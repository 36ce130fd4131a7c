"""Opening the database: engine, SQLite pragmas, migrations, and read/write transactions."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from select import POLLIN, poll
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, insert, select
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool

from manifestdb.store.schema import meta

log = logging.getLogger("manifestdb.store")
MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x6D616E69  # "mani": the advisory lock that serializes migrations
READER_CACHE_KIB = 8 * 1024
# A change into a large dataset touches pages all over it: a bigger writer cache did not make
# it faster (64 MiB vs 16 MiB: the same times at 1,000,000 entries), and each writer connection
# kept its cache, ~50-100 MB of the server's peak RSS.
WRITER_CACHE_KIB = 16 * 1024
WAL_SIZE_LIMIT = 64 * 1024 * 1024  # the WAL file is cut back to this after a full checkpoint
CHECKPOINT_SECONDS = 1.0
IDLE_SECONDS = 0.05  # a checkpoint waits for this long without writes...
DEFER_SECONDS = 5.0  # ...but no longer than this


def normalize_url(url: str) -> str:
    """`postgresql://` URLs use psycopg 3; `sqlite:///` stays as it is."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_database_engine(url: str, *, writer: bool = False) -> Engine:
    """An engine for a `sqlite:///` or `postgresql://` URL, set up for manifestdb's use.

    SQLite gets two: readers (many connections, small page caches) and the writer (SQLite
    writes one transaction at a time anyway: few connections, a larger cache).
    """
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=2 if writer else 8,
            max_overflow=4 if writer else 8,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        cache_kib = WRITER_CACHE_KIB if writer else READER_CACHE_KIB
        event.listen(engine, "connect", lambda conn, _record: _sqlite_on_connect(conn, cache_kib))
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if url.startswith("postgresql+psycopg"):
        engine = create_engine(
            url,
            pool_size=8,
            max_overflow=16,
            # Server-side prepared statements get generic plans that cannot use the trigram
            # index for `LIKE $1` (PERFORMANCE-NOTES): keep every statement unprepared.
            connect_args={"prepare_threshold": None, "application_name": "manifestdb"},
        )
        event.listen(engine, "connect", _postgres_on_connect)
        event.listen(engine, "checkout", _postgres_on_checkout)
        return engine
    raise ValueError(
        f"unsupported database URL {url.split(':', 1)[0]}: use sqlite:///PATH or "
        "postgresql://USER@HOST:PORT/DATABASE"
    )


def _sqlite_on_connect(dbapi_connection: Any, cache_kib: int) -> None:
    # Let SQLAlchemy's begin event issue BEGIN itself instead of pysqlite's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA cache_size=-{cache_kib}")
    cursor.execute("PRAGMA temp_store=MEMORY")
    # Freed pages are not zeroed: a full disk can still take the commit that clears a job's
    # payload (and every replaced line writes less).
    cursor.execute("PRAGMA secure_delete=FAST")
    # Commits never checkpoint (that copied the WAL into the database inside a change's
    # commit); the Checkpointer does it in the background.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    cursor.close()


def _postgres_on_connect(dbapi_connection: Any, _record: Any) -> None:
    """No JIT compilation in manifestdb's sessions: its statements are small and indexed, and
    JIT only starts above a planner cost that a statement reaches when its estimates are off
    (a column whose statistics were dropped made each source-ref lookup spend five times its
    run time compiling)."""
    dbapi_connection.execute("SET jit = off")
    dbapi_connection.commit()


def _postgres_on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Replace a pooled connection the server has ended, without a round trip to ask.

    A server that ends a session (a restart, `pg_terminate_backend`, `idle_session_timeout`)
    sends a FATAL message and closes the socket, so the socket of an ended idle connection has
    something to read, and a live idle one has nothing. pool_pre_ping's `SELECT 1` found the same
    at the cost of a round trip per checkout, a fifth of a DescribeDataset on PostgreSQL. Raising
    DisconnectionError makes the pool drop the connection and check out another.
    """
    if dbapi_connection.closed:
        raise DisconnectionError("the connection is closed")
    poller = poll()
    poller.register(dbapi_connection.fileno(), POLLIN)
    if poller.poll(0):
        raise DisconnectionError("the server ended this connection")


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
    """The engines plus the two kinds of transaction every store module uses."""

    def __init__(self, engine: Engine, writer: Engine | None = None) -> None:
        self.engine = engine
        self.writer = writer or engine
        self.checkpointer = Checkpointer(self.writer) if engine.dialect.name == "sqlite" else None

    @contextmanager
    def read(self, *, snapshot: bool = True) -> Iterator[Connection]:
        """A read transaction: a consistent snapshot (WAL readers never block the writer).

        `snapshot=False` is for a read of one statement, which is consistent on its own: on
        PostgreSQL it runs in autocommit mode, without the BEGIN and COMMIT round trips.
        """
        with self.engine.connect() as connection:
            connection.info["write"] = False
            if not snapshot and connection.dialect.name == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT")
                yield connection
                return
            with connection.begin():
                yield connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed when the block ends and rolled back on an exception."""
        writing = self.checkpointer.writing() if self.checkpointer else nullcontext()
        with writing, self.writer.connect() as connection:
            connection.info["write"] = True
            with connection.begin():
                yield connection

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()
        self.writer.dispose()

    def secret(self, name: str) -> bytes:
        """A random key kept in the database, made on first use (shared by every process)."""
        with self.write() as connection:
            value = connection.execute(select(meta.c.value).where(meta.c.key == name)).scalar()
            if value is None:
                value = secrets.token_hex(32)
                connection.execute(insert(meta).values(key=name, value=value))
        return bytes.fromhex(value)


class Checkpointer:
    """Copies the SQLite WAL back into the database file in a thread of its own.

    PASSIVE checkpoints never wait for readers or the writer. One runs after writes, once no
    write has run for IDLE_SECONDS (or DEFER_SECONDS after the first write it waited for, so a
    steady stream of writes still gets its WAL copied), at most once a CHECKPOINT_SECONDS: an
    UpdateDatasetEntries call's commit is followed at once by its job's write, and copying the
    call's 5 MiB then slowed the job, on the job's clock.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._writers = 0
        self._last_write = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="manifestdb-checkpoint", daemon=True)
        self._thread.start()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around a write transaction: the checkpoint waits for it, and follows it."""
        with self._lock:
            self._writers += 1
        try:
            yield
        finally:
            with self._lock:
                self._writers -= 1
                self._last_write = time.monotonic()
            self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            self._wait_for_quiet()
            if self._stop.is_set():
                return
            try:
                # Outside any transaction: a checkpoint cannot run inside one.
                connection = self._engine.raw_connection()
                try:
                    _busy, wal_pages, moved = connection.execute(
                        "PRAGMA wal_checkpoint(PASSIVE)"
                    ).fetchone()
                    log.debug("checkpoint: %s of %s WAL pages copied", moved, wal_pages)
                finally:
                    connection.close()
            except Exception:
                log.exception("WAL checkpoint failed (it is tried again after the next write)")
            self._stop.wait(CHECKPOINT_SECONDS)

    def _wait_for_quiet(self) -> None:
        deadline = time.monotonic() + DEFER_SECONDS
        while not self._stop.is_set():
            now = time.monotonic()
            with self._lock:
                idle = None if self._writers else now - self._last_write
            if (idle is not None and idle >= IDLE_SECONDS) or now >= deadline:
                return
            self._stop.wait(IDLE_SECONDS - (idle or 0.0))
