"""Measures the manifest engine (its target: `manifestdb validate` >= 100,000 lines/s on one core).

Prints lines/s, medians of `--runs` (5), of:
- `check_line` alone, on the lines of a seeded ~5 MiB change;
- `ChangeReader` over that change (with and without the per-label tallies `validate` reports);
- the `manifestdb validate` command on a ~100 MB generated manifest (wall time, start-up
  included; also per CPU-second).
The lines are those of the suite (bench/data.py: 5% unlabeled, half image-level, half boxes, ~1%
with an error); the manifest is cached with the suite's, under bench/.cache/. One core: the
engine runs in this (single-threaded) process, the command under `taskset -c 0` when it can.
On a shared machine compare numbers of one run, not across runs. A micro-benchmark for
profiling the engine; `bench/run.py` runs the whole suite.
Run: `.venv/bin/python bench/bench_validate.py [--mib 5] [--cli-lines 165000] [--runs 5]`.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import data
from manifestdb.manifest import ChangeReader, check_line

CACHE = Path(__file__).resolve().parent / ".cache" / "buckets" / data.BUCKET


def median_seconds(run: Callable[[], object], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def report(what: str, lines: int, seconds: float, note: str = "") -> None:
    print(f"{what:<38} {seconds * 1000:9.1f} ms  {lines / seconds:>9,.0f} lines/s{note}")


def bench_engine(mib: float, runs: int) -> None:
    change = data.change(3, 0, 0, max_bytes=int(mib * 2**20)).payload
    lines = change.split(b"\n")[:-1]

    def judge_lines() -> None:
        for number, line in enumerate(lines, 1):
            check_line(line, number)

    def read(label_tallies: bool) -> ChangeReader:
        reader = ChangeReader(label_tallies=label_tallies)
        for _entry in reader.read([change]):
            pass
        if reader.terminal() is not None:
            raise SystemExit(f"unexpected terminal outcome: {reader.terminal()}")
        return reader

    reader = read(True)
    print(
        f"change: {len(change) / 2**20:.2f} MiB, {reader.lines_read:,} lines, "
        f"{len(change) / reader.lines_read:.0f} bytes/line, "
        f"{reader.entries_with_errors} with errors"
    )
    count = reader.lines_read
    report("check_line", count, median_seconds(judge_lines, runs))
    report("ChangeReader", count, median_seconds(lambda: read(True), runs))
    report("ChangeReader(label_tallies=False)", count, median_seconds(lambda: read(False), runs))


def bench_cli(count: int, runs: int) -> None:
    path = data.manifest(CACHE, count)
    command = [sys.executable, "-m", "manifestdb.cli", "validate", "--limits", "relaxed"]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    walls, cpus = [], []
    for _ in range(runs):
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [*command, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"validate exited {done.returncode}: {done.stderr.decode()[-500:]}")
    size = path.stat().st_size
    print(f"manifest: {path.name}, {size / 1e6:.1f} MB, {count:,} lines")
    cpu = statistics.median(cpus)
    report("manifestdb validate (wall)", count, statistics.median(walls))
    report("manifestdb validate (CPU)", count, cpu, "  start-up included")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=float, default=5.0, help="size of the change")
    parser.add_argument("--cli-lines", type=int, default=165_000, help="~100 MB (0: skip)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bench_engine(args.mib, args.runs)
    if args.cli_lines:
        bench_cli(args.cli_lines, args.runs)


if __name__ == "__main__":
    main()
