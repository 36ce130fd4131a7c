"""The hardware floor of a 5 MiB change: what SQLite does with no service around it.

    python bench/floor.py --manifest FILE --entries N --payload CHANGE [--payload ...] [--db F]

Builds a bare table holding the first N lines of FILE (like a dataset of N entries), keyed by
(dataset, source-ref) and with no other index, then for each payload, timed: parse it line by
line with orjson, and upsert the (source-ref, line) rows in ONE transaction (WAL,
synchronous=NORMAL, a 64 MiB cache: the server's writer has 16 MiB). The WAL is checkpointed
after each timed run, off the clock, as the server does off its request path. Prints JSON:
`{"entries": N, "fill_s": ..., "runs_s": [...], "rows": [...]}`.

Several `--entries` measure several sizes in turn, in one table filled further between sizes;
each run starts from exactly that many rows (the rows a run added are deleted, off the clock).

--back-to-back: the floor of changes that follow each other with no pause. A size's payloads
are applied in order, each keeping the rows it added (the table grows as a dataset does), and
each run's PASSIVE checkpoint is on its clock, right after its commit: the next change finds
the WAL as this one left it.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

DATASET = 1
KEY = b'"source-ref":"'

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    dataset_id INTEGER NOT NULL,
    source_ref TEXT NOT NULL,
    line TEXT NOT NULL,
    PRIMARY KEY (dataset_id, source_ref)
)
"""
UPSERT = (
    "INSERT INTO entries (dataset_id, source_ref, line) VALUES (?, ?, ?) "
    "ON CONFLICT (dataset_id, source_ref) DO UPDATE SET line = excluded.line"
)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute(SCHEMA)
    return conn


def manifest_rows(path: Path, start: int, stop: int) -> Iterator[tuple[int, str, str]]:
    """Rows for lines start..stop-1: the source-ref is cut from the text (no parse needed to
    fill; generated lines start with it)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle):
            if number >= stop:
                return
            if number < start:
                continue
            text = raw.rstrip(b"\n")
            at = text.index(KEY) + len(KEY)
            yield DATASET, text[at : text.index(b'"', at)].decode(), text.decode()


def fill(conn: sqlite3.Connection, manifest: Path, start: int, stop: int) -> float:
    """Insert manifest lines start..stop-1 (not timed as part of the floor)."""
    began = time.perf_counter()
    rows = manifest_rows(manifest, start, stop)
    while True:
        batch = [row for _, row in zip(range(50_000), rows, strict=False)]
        if not batch:
            break
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO entries VALUES (?, ?, ?)", batch)
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - began


def payload_rows(payload: bytes) -> list[tuple[int, str, str]]:
    """The timed parse of both floors: each line with orjson, as (dataset, source-ref, line)."""
    rows = []
    for raw in payload.splitlines():
        if not raw.strip():
            continue
        record = orjson.loads(raw)
        rows.append((DATASET, record["source-ref"], raw.decode()))
    return rows


def apply(
    conn: sqlite3.Connection, payload: bytes, back_to_back: bool = False
) -> tuple[float, int]:
    """The floor itself: parse every line with orjson, upsert (source-ref, line) rows, commit.
    Then, off the clock, the rows it added are removed again, so that every run of a size
    starts from exactly that many rows, and the WAL is checkpointed. `back_to_back`: the rows
    stay and a PASSIVE checkpoint runs on the clock."""
    top = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM entries").fetchone()[0])
    began = time.perf_counter()
    rows = payload_rows(payload)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(UPSERT, rows)
    conn.execute("COMMIT")
    if back_to_back:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        return time.perf_counter() - began, len(rows)
    elapsed = time.perf_counter() - began
    conn.execute("DELETE FROM entries WHERE rowid > ?", (top,))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return elapsed, len(rows)


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])


def measure(
    manifest: Path,
    sizes: list[int],
    payloads: dict[int, list[bytes]],
    db: Path,
    back_to_back: bool = False,
) -> list[dict[str, Any]]:
    """For each size (ascending): fill the table up to that many manifest lines, then time each
    of that size's payloads. Back to back, a larger size starts from a fresh table."""
    conn = connect(db)
    results: list[dict[str, Any]] = []
    filled = 0
    try:
        for size in sorted(sizes):
            if back_to_back and filled:
                conn.execute("DELETE FROM entries")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                filled = 0
            fill_s = fill(conn, manifest, filled, size) if size > filled else 0.0
            filled = max(filled, size)
            before = count(conn)
            runs, rows = [], []
            for payload in payloads.get(size, []):
                elapsed, applied = apply(conn, payload, back_to_back)
                runs.append(elapsed)
                rows.append(applied)
            results.append(
                {"entries": size, "rows_before": before, "fill_s": fill_s, "runs_s": runs}
            )
    finally:
        conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--entries", type=int, action="append", required=True)
    parser.add_argument(
        "--payload",
        action="append",
        default=[],
        help="SIZE:FILE, a change to time at SIZE entries (repeat; in order)",
    )
    parser.add_argument("--db", type=Path, default=None, help="default: a temporary file")
    parser.add_argument(
        "--back-to-back",
        action="store_true",
        help="each payload keeps its rows and checkpoints on the clock (see above)",
    )
    options = parser.parse_args()
    payloads: dict[int, list[bytes]] = {}
    for item in options.payload:
        size, _, name = item.partition(":")
        payloads.setdefault(int(size), []).append(Path(name).read_bytes())
    if options.db is not None:
        results = measure(
            options.manifest, options.entries, payloads, options.db, options.back_to_back
        )
    else:
        with tempfile.TemporaryDirectory(prefix="manifestdb-floor-") as folder:
            db = Path(folder) / "f.db"
            results = measure(options.manifest, options.entries, payloads, db, options.back_to_back)
    sys.stdout.write(orjson.dumps({"sizes": results}).decode() + "\n")


if __name__ == "__main__":
    main()
