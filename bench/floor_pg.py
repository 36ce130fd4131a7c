"""The floor of a 5 MiB change on PostgreSQL: bench/floor.py, with psycopg 3 instead of sqlite3.

    python bench/floor_pg.py --database-url URL --manifest FILE --entries N --payload SIZE:CHANGE

The same measure as bench/floor.py (same options but --db, same JSON out), in the (empty)
database at URL: a bare table keyed by (dataset, source-ref), no other index, filled with COPY
with the first N lines of FILE (then a CHECKPOINT, if the role may, so that the fill is not
written out during the runs); each timed run parses the payload line by line with orjson and
upserts the (source-ref, line) rows in ONE transaction (`executemany` of INSERT ... ON CONFLICT
DO UPDATE, which psycopg pipelines), committed with the server's settings as they are (as the
service's commits are). Off the clock, the rows a run added are deleted again: the unindexed
identity column `id` plays SQLite's rowid (a run's new rows are those above the last id before
it).

--back-to-back: as bench/floor.py's, a size's payloads in order, each keeping its rows (nothing
is deleted between them, nothing waited for); a larger size starts from a fresh table.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg
from floor import DATASET, manifest_rows, payload_rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id bigint GENERATED ALWAYS AS IDENTITY,
    dataset_id bigint NOT NULL,
    source_ref text NOT NULL,
    line text NOT NULL,
    PRIMARY KEY (dataset_id, source_ref)
)
"""
UPSERT = (
    "INSERT INTO entries (dataset_id, source_ref, line) VALUES (%s, %s, %s) "
    "ON CONFLICT (dataset_id, source_ref) DO UPDATE SET line = excluded.line"
)
LAST_ID = "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM entries_id_seq"


def fill(conn: psycopg.Connection[Any], manifest: Path, start: int, stop: int) -> float:
    """COPY manifest lines start..stop-1 in (not timed as part of the floor)."""
    began = time.perf_counter()
    with conn.cursor().copy("COPY entries (dataset_id, source_ref, line) FROM STDIN") as copy:
        for row in manifest_rows(manifest, start, stop):
            copy.write_row(row)
    with contextlib.suppress(psycopg.errors.InsufficientPrivilege):  # superuser or pg_checkpoint
        conn.execute("CHECKPOINT")
    return time.perf_counter() - began


def apply(
    conn: psycopg.Connection[Any], payload: bytes, back_to_back: bool = False
) -> tuple[float, int]:
    """The floor itself: parse every line with orjson, upsert (source-ref, line) rows, commit.
    Then, off the clock, the rows it added are deleted (by their source-refs, through the key);
    `back_to_back`: they stay."""
    top = conn.execute(LAST_ID).fetchall()[0][0]
    began = time.perf_counter()
    rows = payload_rows(payload)
    with conn.transaction():
        conn.cursor().executemany(UPSERT, rows)
    elapsed = time.perf_counter() - began
    if back_to_back:
        return elapsed, len(rows)
    conn.execute(
        "DELETE FROM entries WHERE dataset_id = %s AND source_ref = ANY(%s) AND id > %s",
        (DATASET, [row[1] for row in rows], top),
    )
    return elapsed, len(rows)


def measure(
    url: str,
    manifest: Path,
    sizes: list[int],
    payloads: dict[int, list[bytes]],
    back_to_back: bool = False,
) -> list[dict[str, Any]]:
    """For each size (ascending): fill the table up to that many manifest lines, then time each
    of that size's payloads."""
    results: list[dict[str, Any]] = []
    filled = 0
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        for size in sorted(sizes):
            if back_to_back and filled:
                conn.execute("TRUNCATE entries")
                filled = 0
            fill_s = fill(conn, manifest, filled, size) if size > filled else 0.0
            filled = max(filled, size)
            before = conn.execute("SELECT count(*) FROM entries").fetchall()[0][0]
            runs = [apply(conn, payload, back_to_back)[0] for payload in payloads.get(size, [])]
            results.append(
                {"entries": size, "rows_before": before, "fill_s": fill_s, "runs_s": runs}
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="an empty PostgreSQL database")
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--entries", type=int, action="append", required=True)
    parser.add_argument(
        "--payload",
        action="append",
        default=[],
        help="SIZE:FILE, a change to time at SIZE entries (repeat; in order)",
    )
    parser.add_argument("--back-to-back", action="store_true", help="see above")
    options = parser.parse_args()
    payloads: dict[int, list[bytes]] = {}
    for item in options.payload:
        size, _, name = item.partition(":")
        payloads.setdefault(int(size), []).append(Path(name).read_bytes())
    results = measure(
        options.database_url, options.manifest, options.entries, payloads, options.back_to_back
    )
    sys.stdout.write(orjson.dumps({"sizes": results}).decode() + "\n")


if __name__ == "__main__":
    main()
