"""Crash safety: SIGKILL at random moments while 5 MiB changes are applied loses nothing.

Each round sends one 5 MiB change (bench/data.py's realistic lines, each marked with the number of
the change that wrote it: mostly replacements of random existing images, some new images), kills
the server at a seeded random moment of one of four phases (during the call; right after its 200;
in the middle of the apply; around the commit), sometimes kills it again while it re-applies the
requeued job, restarts it on the same data directory and checks that:

- the database file passes `PRAGMA integrity_check` after every kill;
- once settled the dataset is `UPDATE_COMPLETE` (never left `*_IN_PROGRESS`);
- its entries, stats and labels are exactly the state before the change, or exactly the state
  after it (every line of the change carries its mark, every other line is byte-identical, new
  images come last in order), and the counters agree with the entries;
- a change answered 200 is never lost; at the end every applied change has exactly one update
  report, with the added/replaced counts of a single application, and one `done` job.

Sizes: MANIFESTDB_CRASH_KILLS (default 24), MANIFESTDB_CRASH_SEED.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import urllib3
from reliability_kit import (
    Api,
    Change,
    Snapshot,
    check_counters,
    env_int,
    integrity_check,
    job_states,
    marked_change,
    new_dataset,
    read_only,
    snapshot,
    update,
)

KILLS = env_int("MANIFESTDB_CRASH_KILLS", 24)
SEED = env_int("MANIFESTDB_CRASH_SEED", 20_240_601)
pytestmark = pytest.mark.timeout(60 + 15 * KILLS)  # pytest-timeout: ~3 s a kill, and room
PHASES = ("during the call", "right after the 200", "mid-apply", "around the commit")
NEW_EVERY = 20  # one line in 20 is a new image; the rest replace existing ones


class Model:
    """What the dataset must hold: images in order of first addition, and each one's mark."""

    def __init__(self) -> None:
        self.refs: list[str] = []
        self.marks: dict[str, int] = {}

    def apply(self, change: Change) -> None:
        self.refs.extend(change.new)
        for ref in change.refs:
            self.marks[ref] = change.number

    def check(self, snap: Snapshot, previous: Snapshot | None, number: int) -> None:
        """`snap` is the previous state with change `number` applied once, whole."""
        parsed = snap.parsed()
        assert [entry["source-ref"] for entry in parsed] == self.refs
        assert [entry["change"] for entry in parsed] == [self.marks[r] for r in self.refs]
        if previous is not None:
            refs = (entry["source-ref"] for entry in previous.parsed())
            old = dict(zip(refs, previous.entries, strict=True))
            for ref, line in zip(self.refs, snap.entries, strict=True):
                if self.marks[ref] != number:
                    assert line == old[ref], f"{ref} changed without being in change {number}"


def test_sigkill_at_random_moments_keeps_every_change_whole_and_applied_once(
    start_server: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    server = start_server(data_dir=data_dir)
    api = Api(server.url)
    arn = new_dataset(api, "crash-safety")
    model = Model()

    first = marked_change(0, [], 0, SEED, NEW_EVERY)
    started = time.monotonic()
    assert update(api, arn, first.payload).status == 200
    call_seconds = time.monotonic() - started
    assert api.settle(arn)["Status"] == "UPDATE_COMPLETE"
    model.apply(first)
    applied: list[Change] = [first]
    before = snapshot(api, arn)
    check_counters(before)
    model.check(before, None, 0)
    apply_seconds = api.reports(arn)[-1]["duration_ms"] / 1000

    landings: Counter[str] = Counter()
    kills = number = 0
    while kills < KILLS:
        number += 1
        change = marked_change(
            number, model.refs, 1_000_000 * number, SEED, NEW_EVERY
        )  # new images of change n have indexes n*10^6...
        phase = PHASES[number % len(PHASES)]
        outcome: dict[str, Any] = {}

        def send(change: Change = change, outcome: dict[str, Any] = outcome) -> None:
            try:
                outcome["status"] = update(Api(server.url), arn, change.payload).status
            except urllib3.exceptions.HTTPError as error:
                outcome["error"] = error

        caller = threading.Thread(target=send)
        caller.start()
        if phase == "during the call":
            time.sleep(rng.uniform(0, 0.9 * call_seconds))
        else:
            caller.join(60)
            assert outcome.get("status") == 200, outcome
            time.sleep(
                {
                    "right after the 200": rng.uniform(0, 0.02),
                    "mid-apply": rng.uniform(0.1, 0.8) * apply_seconds,
                    "around the commit": rng.uniform(0.8, 2.0) * apply_seconds,
                }[phase]
            )
        killed_at = time.time()
        server.kill()
        kills += 1
        caller.join(60)
        accepted = outcome.get("status") == 200
        assert accepted or "error" in outcome, f"the call answered {outcome}"
        assert integrity_check(data_dir, tmp_path / "check") == "ok"
        server.start()
        api = Api(server.url)
        if number % 5 == 0 and api.describe(arn)["Status"] == "UPDATE_IN_PROGRESS":
            # Kill it again while it applies the requeued job.
            time.sleep(rng.uniform(0, apply_seconds))
            server.kill()
            kills += 1
            landings["again, while re-applying after a restart"] += 1
            assert integrity_check(data_dir, tmp_path / "check") == "ok"
            server.start()
            api = Api(server.url)

        description = api.settle(arn)
        assert description["Status"] == "UPDATE_COMPLETE", description
        after = snapshot(api, arn)
        check_counters(after)
        if after.same_data(before):
            assert not accepted, f"change {number} was answered 200 and then lost ({phase})"
            landings["during the call, before its commit (no 200, nothing applied)"] += 1
        else:
            model.apply(change)
            model.check(after, before, number)
            applied.append(change)
            report = api.reports(arn)[-1]
            assert (report["added"], report["replaced"]) == (len(change.new), change.replaced)
            apply_seconds = report["duration_ms"] / 1000
            if not accepted:
                landings["during the call, after its commit (applied, no 200)"] += 1
            elif report["finished_at"] <= killed_at:
                landings["after the apply committed"] += 1
            else:
                landings["after the 200, before the apply committed (re-applied)"] += 1
        before = after

    # Every applied change exactly once: one report each, with the counts of one application.
    reports = api.reports(arn)
    assert [r["outcome"] for r in reports] == ["UPDATE_COMPLETE"] * len(applied)
    assert [(r["added"], r["replaced"], r["lines_read"]) for r in reports] == [
        (len(c.new), c.replaced, len(c.refs)) for c in applied
    ][-len(reports) :]
    final = snapshot(api, arn)
    model.check(final, before, -1)
    assert server.stop(signal.SIGTERM) == 0
    assert job_states(data_dir) == {("update", "done"): len(applied)}
    with read_only(data_dir) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    # The kills landed at different points of the change's life.
    assert {
        "during the call, before its commit (no 200, nothing applied)",
        "after the 200, before the apply committed (re-applied)",
        "after the apply committed",
    } <= set(landings), landings

    figures = {
        "kills": kills,
        "changes_sent": number,
        "changes_applied": len(applied) - 1,
        "bytes_per_change": len(first.payload),
        "entries_at_the_end": final.stats["TotalEntries"],
        "landings": dict(landings),
        "seconds": round(time.monotonic() - started, 1),
    }
    (tmp_path / "crash-figures.json").write_text(json.dumps(figures, indent=2))
    with capsys.disabled():
        print(f"\ncrash safety: {json.dumps(figures)}")
