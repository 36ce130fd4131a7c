"""Crash safety of history: SIGKILL while a revert, a restore or a deletion of entries applies
leaves the dataset and its history at the version before or the version after, never between.

Each round asks for one of them on a dataset of two 5 MiB changes (the second replacing most of
the first), kills the server at a seeded random moment after the call's 200, restarts it on the
same data directory and checks that the dataset is exactly the state it had before the job or
exactly the state the job makes (entries in order, stats, labels), that its latest version says
the same (one version more, of the job's kind, or none), and that every version is still read
as it was. Sizes: MANIFESTDB_HISTORY_KILLS (default 3: one of each), MANIFESTDB_CRASH_SEED.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from reliability_kit import (
    Api,
    Snapshot,
    check_counters,
    env_int,
    integrity_check,
    marked_change,
    new_dataset,
    snapshot,
    update,
)

from manifestdb.client import HistoryClient
from manifestdb.harness.process import CLIENT_REGION, PLACEHOLDER_KEY

KILLS = env_int("MANIFESTDB_HISTORY_KILLS", 3)
SEED = env_int("MANIFESTDB_CRASH_SEED", 20_240_601)
pytestmark = pytest.mark.timeout(120 + 30 * KILLS)


def history_of(url: str) -> HistoryClient:
    return HistoryClient(
        url,
        region=CLIENT_REGION,
        aws_access_key_id=PLACEHOLDER_KEY,
        aws_secret_access_key=PLACEHOLDER_KEY,
    )


def latest_version(history: HistoryClient, arn: str) -> dict[str, Any]:
    return dict(history.list_dataset_versions(DatasetArn=arn, MaxResults=1)["Versions"][0])


def without(snap: Snapshot, refs: set[str]) -> list[str]:
    return [line for line in snap.entries if orjson.loads(line)["source-ref"] not in refs]


def test_sigkill_during_revert_restore_or_deletion_leaves_a_whole_version(
    start_server: Any, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    server = start_server(data_dir=data_dir)
    api, history = Api(server.url), history_of(server.url)
    arn = new_dataset(api, "crash-history")
    first = marked_change(1, [], 0, SEED)
    assert update(api, arn, first.payload).status == 200
    api.settle(arn)
    second = marked_change(2, first.refs, 1_000_000, SEED, new_every=5)
    assert update(api, arn, second.payload).status == 200
    api.settle(arn)
    apply_seconds = api.reports(arn)[-1]["duration_ms"] / 1000
    landed = 0

    for round_number in range(KILLS):
        before = snapshot(api, arn)
        latest = latest_version(history, arn)["VersionNumber"]
        kind = ("revert", "restore", "delete_entries")[round_number % 3]
        if kind == "revert":
            history.revert_dataset_version(DatasetArn=arn, VersionNumber=latest, Force=True)
        elif kind == "restore":
            history.restore_dataset_version(DatasetArn=arn, VersionNumber=1)
        else:
            doomed = set(rng.sample([orjson.loads(e)["source-ref"] for e in before.entries], 500))
            history.delete_dataset_entries(DatasetArn=arn, SourceRefs=sorted(doomed))
        time.sleep(rng.uniform(0.05, 1.5) * apply_seconds)
        server.kill()
        assert integrity_check(data_dir, tmp_path / "check") == "ok"
        server.start()
        api, history = Api(server.url), history_of(server.url)
        assert api.settle(arn)["Status"] == "UPDATE_COMPLETE"
        after = snapshot(api, arn)
        check_counters(after)
        now = latest_version(history, arn)
        # Killed before its commit, the job was requeued and applied after the restart; killed
        # after, it is applied already: either way one version more, whole, never half of one.
        if now["VersionNumber"] == latest + 1:
            assert now["Kind"] == kind
            landed += 1
            if kind == "delete_entries":
                assert after.entries == without(before, doomed)
            elif kind == "restore":
                assert after.entries == read_at(history, arn, 1)
        else:
            assert now["VersionNumber"] == latest and after.same_data(before), (
                f"round {round_number} ({kind}): the dataset changed without a version"
            )
        # Every version still reads as a whole dataset whose counters agree.
        for version in (1, now["VersionNumber"]):
            lines = read_at(history, arn, version)
            stats = history.describe_dataset_version(DatasetArn=arn, VersionNumber=version)
            assert stats["Version"]["DatasetStats"]["TotalEntries"] == len(lines)
        assert read_at(history, arn, now["VersionNumber"]) == after.entries
        apply_seconds = max(apply_seconds, api.reports(arn)[-1]["duration_ms"] / 1000)
    assert landed == KILLS, f"{KILLS - landed} of {KILLS} accepted jobs were lost"


def read_at(history: HistoryClient, arn: str, version: int) -> list[str]:
    return list(
        history.paginate(
            "ListDatasetEntriesAtVersion",
            "DatasetEntries",
            DatasetArn=arn,
            VersionNumber=version,
            MaxResults=100,
        )
    )
