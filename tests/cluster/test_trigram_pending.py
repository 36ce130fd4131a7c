"""PostgreSQL's trigram index takes new source-refs into a pending list (GIN fastupdate) that
every SourceRefContains search reads in full; the job runner merges it after each job."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from support.lines import image_line, manifest
from support.server import Server, all_entries, new_dataset, wait_for_status, wait_until

pytestmark = pytest.mark.postgres


def _pending_pages(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as connection:
        row = connection.execute(
            "SELECT pending_pages FROM pgstatginindex('ix_entries_source_ref_trgm')"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_each_job_leaves_the_trigram_index_without_pending_entries(
    database: str, tmp_path: Path
) -> None:
    with psycopg.connect(database, autocommit=True) as connection:
        try:
            connection.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        except psycopg.Error as error:
            pytest.skip(f"pgstattuple (to read the index's pending list) is not available: {error}")
    server = Server(tmp_path / "s", database_url=database).start()
    try:
        client = server.client()
        lines = [image_line(f"s3://bkt/a/{i:05d}.jpg", f"l{i % 5}") for i in range(600)]
        _, dataset = new_dataset(client, manifest(*lines))
        # The merge follows each job's commit: give it a moment, then nothing may be pending.
        wait_until(lambda: not _pending_pages(database), 10, "the create's entries stayed pending")
        more = [image_line(f"s3://bkt/b/{i:05d}.jpg", "new") for i in range(600)]
        client.update_dataset_entries(DatasetArn=dataset, Changes={"GroundTruth": manifest(*more)})
        assert wait_for_status(client, dataset)["Status"] == "UPDATE_COMPLETE"
        wait_until(lambda: not _pending_pages(database), 10, "the update's entries stayed pending")
        # Merged entries are found as before.
        found = all_entries(client, dataset, SourceRefContains="b/0004")
        want = [f"s3://bkt/b/{i:05d}.jpg" for i in range(40, 50)]
        assert [e["source-ref"] for e in found] == want
    finally:
        server.stop()
