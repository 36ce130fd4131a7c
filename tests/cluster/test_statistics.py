"""PostgreSQL plans by statistics: a job that writes a large share of a dataset refreshes them."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from support.lines import image_line, manifest
from support.server import (
    Server,
    new_dataset,
    wait_for_status,
)

pytestmark = pytest.mark.postgres


def _statistics(url: str) -> tuple[object, float]:
    """(when `entries` was last analyzed by hand, the row count the planner believes)."""
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT s.last_analyze, c.reltuples FROM pg_stat_user_tables s "
            "JOIN pg_class c ON c.oid = s.relid WHERE s.relname = 'entries'"
        ).fetchone()
    assert row is not None
    return row[0], float(row[1])


def _analyzed_after(url: str, before: object) -> tuple[object, float]:
    deadline = time.monotonic() + 10
    while True:
        analyzed, rows = _statistics(url)
        if analyzed is not None and analyzed != before:
            return analyzed, rows
        if time.monotonic() > deadline:
            raise AssertionError("entries was not analyzed")
        time.sleep(0.1)


def test_a_large_change_refreshes_statistics_and_a_small_one_does_not(
    database: str, tmp_path: Path
) -> None:
    server = Server(tmp_path / "s", database_url=database).start()
    try:
        client = server.client()
        assert _statistics(database)[0] is None
        lines = [image_line(f"s3://bkt/{i:05d}.jpg", f"l{i % 5}") for i in range(2000)]
        _, dataset = new_dataset(client, manifest(*lines))
        analyzed, rows = _analyzed_after(database, None)
        assert rows == 2000  # the planner knows the dataset's size

        small = image_line("s3://bkt/00001.jpg", "changed")
        client.update_dataset_entries(DatasetArn=dataset, Changes={"GroundTruth": manifest(small)})
        assert wait_for_status(client, dataset)["Status"] == "UPDATE_COMPLETE"
        time.sleep(1)  # an ANALYZE would follow the commit at once
        assert _statistics(database) == (analyzed, 2000)

        more = [image_line(f"s3://bkt/{i:05d}.jpg", "x") for i in range(2000, 2500)]
        client.update_dataset_entries(DatasetArn=dataset, Changes={"GroundTruth": manifest(*more)})
        assert wait_for_status(client, dataset)["Status"] == "UPDATE_COMPLETE"
        assert _analyzed_after(database, analyzed)[1] == 2500  # 500 of 2,500 entries: refreshed
    finally:
        server.stop()
