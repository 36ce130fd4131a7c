"""A/B of a 5 MiB change between two revisions, on the same machine at the same time.

    python bench/ab.py --base REV [--entries N] [--pairs P] [--backend sqlite|postgresql]

Comparing two runs of `bench/run.py` made minutes apart compares the machine as much as the code:
on this 2-core VM the same command varies by +-20 % from one run to the next. Here both codes
serve at once: the base revision from a `git worktree` (its `src/` first on `PYTHONPATH`), this
checkout's code as the head. Each builds its own N-entry dataset, the same way `bench/run.py`
does, then both get the same changes in alternating order (base first, then head first, ...),
each timed call to UPDATE_COMPLETE once both servers are quiet. A first change on each is not
timed. The figure is the median of the per-pair ratios head / base, with every pair shown, and
the medians of both sides.

The result is printed as markdown and written as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import report  # noqa: E402
import run  # noqa: E402
from run import MIB  # noqa: E402
from server import BenchDatabases, Client, Server, wait_database_quiet, wait_quiet  # noqa: E402

import data  # noqa: E402


def worktree(rev: str, folder: Path) -> Path:
    """A detached worktree of `rev` in `folder`; its `src/`."""
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(folder), rev],
        check=True,
        capture_output=True,
    )
    return folder / "src"


def package_of(env: dict[str, str]) -> Path:
    """Where a server started with `env` imports manifestdb from."""
    found = subprocess.run(
        [sys.executable, "-c", "import manifestdb; print(manifestdb.__file__)"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(found.stdout.strip()).parent


def quiet(servers: list[Server]) -> None:
    """Wait until no server (nor its database) is still busy with the previous change."""
    for server in servers:
        wait_quiet(server.pid)
        if server.database_url is not None:
            wait_database_quiet(server.database_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the revision to compare with (git rev)")
    parser.add_argument("--entries", type=int, default=1_000_000, help="N (default 1M)")
    parser.add_argument("--pairs", type=int, default=10, help="timed changes per side (10)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", default=run.DEFAULT_DATABASE_URL)
    parser.add_argument("--output", type=Path, default=None, help="JSON file")
    options = parser.parse_args()
    config = run.Config.make(
        argparse.Namespace(
            quick=False,
            entries=options.entries,
            runs=options.pairs + 1,
            no_curve=True,
            backend=options.backend,
        )
    )
    databases = BenchDatabases(options.database_url) if options.backend == "postgresql" else None
    base_rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", options.base],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    head_rev = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="manifestdb-ab-") as folder:
        work = Path(folder)
        base_src = worktree(base_rev, work / "base-tree")
        try:
            suite = run.Suite(config, work, None, databases)
            suite.prepare()
            sides = {
                "base": {"PYTHONPATH": str(base_src)},
                "head": {"PYTHONPATH": str(ROOT / "src")},
            }
            servers: dict[str, Server] = {}
            arns: dict[str, str] = {}
            try:
                for name, env in sides.items():
                    package = package_of(env)
                    if not package.is_relative_to(env["PYTHONPATH"]):
                        sys.exit(f"[ab] {name}: manifestdb imports from {package}, not its tree")
                    data_dir = work / name
                    data_dir.mkdir()
                    server = Server(
                        data_dir,
                        suite.buckets,
                        log=work / f"server-{name}.log",
                        database_url=suite.fresh_database(),
                        env=env,
                    ).start()
                    servers[name] = server
                    client = Client(server.url)
                    project = client.call("CreateProject", {"ProjectName": "ab"})["ProjectArn"]
                    started = time.perf_counter()
                    arns[name], _ = suite.build(server, client, project, config.entries)
                    print(
                        f"[ab] {name}: {config.entries:,} entries in "
                        f"{time.perf_counter() - started:.0f} s",
                        flush=True,
                    )
                pairs = measure(servers, arns, suite.main_changes)
            finally:
                for server in servers.values():
                    server.stop()
                if databases is not None:
                    databases.drop_all()
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(work / "base-tree")],
                check=False,
                capture_output=True,
            )
    result = summarize(pairs)
    result.update(
        base=base_rev,
        head=head_rev,
        backend=options.backend,
        entries=config.entries,
        change_bytes=len(suite.main_changes[0].payload),
        change_lines=suite.main_changes[0].lines,
        machine=report.machine(),
        seconds=time.perf_counter() - began,
    )
    print(markdown(result))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    suffix = "" if options.backend == "sqlite" else f"-{options.backend}"
    output = options.output or BENCH / "results" / f"{stamp}-ab{suffix}.json"
    output.parent.mkdir(exist_ok=True)
    output.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"\nResults: {output}")


def measure(
    servers: dict[str, Server], arns: dict[str, str], changes: list[data.Change]
) -> list[dict[str, Any]]:
    """The changes to both sides, alternating which goes first; the first one untimed."""
    clients = {name: Client(server.url) for name, server in servers.items()}
    everyone = list(servers.values())
    pairs = []
    for number, change in enumerate(changes):
        order = ["base", "head"] if number % 2 == 0 else ["head", "base"]
        pair: dict[str, Any] = {"first": order[0]}
        for name in order:
            quiet(everyone)
            found = run.timed_update(servers[name], clients[name], arns[name], change, change.new)
            pair[name] = {
                "seconds": found["seconds"],
                "server_apply_ms": found["server_apply_ms"],
                "peak_rss_mib": found["peak_rss"] / MIB,
            }
        if number == 0:
            print("[ab] warm-up change done (not timed)", flush=True)
            continue
        pair["ratio"] = pair["head"]["seconds"] / pair["base"]["seconds"]
        print(
            f"[ab] pair {number}: base {pair['base']['seconds']:.3f} s, "
            f"head {pair['head']['seconds']:.3f} s, x{pair['ratio']:.2f} ({order[0]} first)",
            flush=True,
        )
        pairs.append(pair)
    return pairs


def summarize(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = sorted(pair["ratio"] for pair in pairs)
    sides = {}
    for name in ("base", "head"):
        seconds = [pair[name]["seconds"] for pair in pairs]
        applied = [pair[name]["server_apply_ms"] or 0 for pair in pairs]
        sides[name] = {
            "median_s": statistics.median(seconds),
            "min_s": min(seconds),
            "max_s": max(seconds),
            "median_apply_ms": statistics.median(applied),
        }
    return {
        "pairs": pairs,
        "sides": sides,
        "median_ratio": statistics.median(ratios),
        "ratio_of_medians": sides["head"]["median_s"] / sides["base"]["median_s"],
        "head_slower_pairs": sum(ratio > 1 for ratio in ratios),
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        f"A/B, {result['backend']}, {result['entries']:,} entries, a change of "
        f"{result['change_bytes']:,} bytes ({result['change_lines']:,} lines): "
        f"base {result['base']}, head {result['head']}",
        "",
        "| pair | first | base (s) | head (s) | head / base |",
        "|---|---|---|---|---|",
    ]
    for number, pair in enumerate(result["pairs"], 1):
        rows.append(
            f"| {number} | {pair['first']} | {pair['base']['seconds']:.3f} | "
            f"{pair['head']['seconds']:.3f} | {pair['ratio']:.2f} |"
        )
    base, head = result["sides"]["base"], result["sides"]["head"]
    rows += [
        "",
        f"Median: base {base['median_s']:.3f} s (apply {base['median_apply_ms']:.0f} ms), "
        f"head {head['median_s']:.3f} s (apply {head['median_apply_ms']:.0f} ms); "
        f"median of the pair ratios x{result['median_ratio']:.3f}, ratio of the medians "
        f"x{result['ratio_of_medians']:.3f}; head slower in {result['head_slower_pairs']} of "
        f"{len(result['pairs'])} pairs.",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    main()
