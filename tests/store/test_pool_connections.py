"""PostgreSQL connections from the pool: one the server has ended is replaced on checkout
without a round trip to ask (no pool_pre_ping), a one-statement read runs without a
transaction of its own yet leaves its connection as it found it, and no session compiles
statements with JIT."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, text

from manifestdb.store import Store

pytestmark = pytest.mark.parametrize("engine", ["postgres"], indirect=True)


def _backend_pid(store: Store) -> int:
    with store.read() as tx:
        return int(tx.conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _status(store: Store, *, snapshot: bool) -> TransactionStatus:
    with store.read(snapshot=snapshot) as tx:
        tx.conn.execute(text("SELECT 1"))
        dbapi = tx.conn.connection.dbapi_connection
        assert isinstance(dbapi, psycopg.Connection)
        return dbapi.info.transaction_status


def test_a_connection_the_server_ended_is_replaced_on_checkout(
    store: Store, engine: Engine
) -> None:
    first = _backend_pid(store)
    assert _backend_pid(store) == first  # the pool hands the same idle connection back
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (first,)).fetchone() == (True,)
        deadline = time.monotonic() + 10
        while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (first,)).fetchone():
            assert time.monotonic() < deadline
            time.sleep(0.05)
    # The next reads and writes just work, on a new connection.
    second = _backend_pid(store)
    assert second != first
    with store.write() as tx:
        assert tx.conn.execute(text("SELECT 1")).scalar_one() == 1


def test_a_one_statement_read_runs_outside_a_transaction(store: Store) -> None:
    assert _status(store, snapshot=True) == TransactionStatus.INTRANS
    assert _status(store, snapshot=False) == TransactionStatus.IDLE  # autocommit: no BEGIN
    # The connection went back to the pool out of autocommit: snapshots are snapshots again.
    assert _status(store, snapshot=True) == TransactionStatus.INTRANS


def _compiles(connection: Connection) -> bool:
    """Whether a plan past the (lowered) JIT threshold is compiled on this connection."""
    with connection.begin():
        connection.execute(text("SET LOCAL jit_above_cost = 0"))
        plan = connection.execute(text("EXPLAIN ANALYZE SELECT count(*) FROM entries")).scalars()
        return any(line.startswith("JIT") for line in plan)


def test_sessions_do_not_jit_compile_statements(store: Store, engine: Engine) -> None:
    with engine.connect() as plain:
        if not _compiles(plain):
            pytest.skip("this PostgreSQL server compiles nothing with JIT (jit off, or no LLVM)")
    with store.engine.connect() as pooled:
        assert not _compiles(pooled)
        assert pooled.execute(text("SHOW jit")).scalar_one() == "off"
    for snapshot in (True, False):
        with store.read(snapshot=snapshot) as tx:
            assert tx.conn.execute(text("SHOW jit")).scalar_one() == "off"
