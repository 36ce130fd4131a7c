"""The results of a run: rows of figure / measured / target / ratio, as markdown and as plots."""

from __future__ import annotations

import math
import os
import platform
import re
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BACKEND_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def markers(backend: str) -> tuple[str, str]:
    """The comments around a backend's table in docs/benchmarks.md."""
    return f"<!-- bench:{backend}:start -->", f"<!-- bench:{backend}:end -->"


@dataclass
class Row:
    """One line of the table. `measured` and `target` are parallel (e.g. p50 and p99)."""

    key: str
    what: str
    unit: str
    target: list[float]
    better: str = "<="  # or ">="
    measured: list[float] | None = None
    note: str = ""
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratios(self) -> list[float] | None:
        if self.measured is None:
            return None
        return [m / t if t else math.nan for m, t in zip(self.measured, self.target, strict=True)]

    @property
    def met(self) -> bool | None:
        if self.measured is None:
            return None
        if self.better == "<=":
            return all(m <= t for m, t in zip(self.measured, self.target, strict=True))
        return all(m >= t for m, t in zip(self.measured, self.target, strict=True))

    def as_dict(self) -> dict[str, Any]:
        return dict(asdict(self), ratios=self.ratios, met=self.met)


def _number(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def markdown(rows: list[Row]) -> str:
    lines = [
        "| figure | measured | target | ratio | met |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        target = " / ".join(_number(t) for t in row.target)
        target = f"{row.better.replace('<=', '≤').replace('>=', '≥')} {target} {row.unit}"
        what = row.what + (f" ({row.note})" if row.note else "")
        if row.measured is None:
            reason = (row.error or "not measured").replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {what} | **not measured**: {reason[:300]} | {target} | | |")
            continue
        measured = " / ".join(_number(m) for m in row.measured) + f" {row.unit}"
        ratios = " / ".join(f"{r:.2f}" for r in (row.ratios or []))
        lines.append(f"| {what} | {measured} | {target} | {ratios} | {'✅' if row.met else '❌'} |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for raw in Path("/proc/cpuinfo").read_text().splitlines():
            if raw.startswith("model name"):
                cpu = raw.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        for raw in Path("/proc/meminfo").read_text().splitlines():
            if raw.startswith("MemTotal:"):
                memory = int(raw.split()[1]) * 1024
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory / 2**30, 1),
        "arch": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def update_doc(
    doc: Path, rows: list[Row], results: dict[str, Any], backend: str = "sqlite"
) -> bool:
    """Replace the backend's table between its markers in docs/benchmarks.md; False if there
    are none."""
    if not doc.exists():
        return False
    text = doc.read_text()
    start, end = markers(backend)
    if start not in text or end not in text:
        return False
    info = results["machine"]
    if backend == "postgresql":
        settings = info.get("postgresql_settings", {})
        database = (
            f"PostgreSQL {info.get('postgresql', '?')} on the same machine ("
            + ", ".join(f"{name} {value}" for name, value in settings.items())
            + ")"
        )
    else:
        database = f"SQLite {info['sqlite']}"
    header = (
        f"Run {info['date']} with `{results['command']}` (N = {results['entries']:,} entries, "
        f"{results['runs']} runs per change figure, {results['elapsed_s']:.0f} s in all). "
        f"Machine: {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB, "
        f"Python {info['python']}, {database}. Load average (1, 5, 15 min) at "
        f"start {_loads(info['load_average_at_start'])}, at the end "
        f"{_loads(info.get('load_average_at_end', []))}."
    )
    if backend == "postgresql":
        header += (
            " RSS figures are the manifestdb server's (its process and its engine helper's,"
            " summed; PostgreSQL's own processes are not counted); the floor is"
            " `bench/floor_pg.py`."
        )
    if max(info["load_average_at_start"][:1] or [0]) > 0.5:
        header += (
            " **Other work was running on the machine during this run** (a load above 0.5"
            " before the suite started): treat the figures as pessimistic."
        )
    block = f"{start}\n{header}\n\n{markdown(rows)}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    doc.write_text(pattern.sub(lambda _: block, text, count=1))
    return True


def _loads(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values) or "?"


def plot_latency(latencies: list[tuple[str, float, float]], path: Path, title: str) -> None:
    """Horizontal bars of p50 and p99 per query, log scale, with the targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not latencies:
        return
    names = [name for name, _, _ in latencies]
    p50 = [value for _, value, _ in latencies]
    p99 = [value for _, _, value in latencies]
    figure, axes = plt.subplots(figsize=(9, 0.42 * len(latencies) + 1.6))
    positions = list(range(len(latencies)))
    axes.barh([p - 0.2 for p in positions], p50, height=0.4, label="p50", color="#4c72b0")
    axes.barh([p + 0.2 for p in positions], p99, height=0.4, label="p99", color="#dd8452")
    for position, value in zip(positions, p50, strict=True):
        axes.annotate(f"{value:.1f}", (value, position - 0.2), fontsize=6, va="center")
    for position, value in zip(positions, p99, strict=True):
        axes.annotate(f"{value:.1f}", (value, position + 0.2), fontsize=6, va="center")
    axes.set_yticks(positions, names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.axvline(5, color="#4c72b0", linestyle="--", linewidth=1, label="p50 target (list)")
    axes.axvline(50, color="#dd8452", linestyle="--", linewidth=1, label="p99 target (list)")
    axes.axvline(2, color="grey", linestyle=":", linewidth=1, label="p50 target (describe)")
    axes.set_xlabel("milliseconds (log scale), client side over HTTP")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_apply(
    curve: list[dict[str, Any]], path: Path, title: str, database: str = "SQLite"
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [p for p in curve if p.get("service_s") is not None]
    if not points:
        return
    figure, axes = plt.subplots(figsize=(7, 4.2))
    xs = [p["entries"] for p in points]
    axes.plot(xs, [p["service_s"] for p in points], "o-", label="manifestdb (call to COMPLETE)")
    floor = [p for p in curve if p.get("floor_s") is not None]
    if floor:
        axes.plot(
            [p["entries"] for p in floor],
            [p["floor_s"] for p in floor],
            "s--",
            label=f"floor (orjson + bare {database} upsert)",
        )
        axes.plot(
            [p["entries"] for p in floor],
            [2.5 * p["floor_s"] for p in floor],
            ":",
            color="grey",
            label="2.5 × floor",
        )
    axes.axhline(1.0, color="red", linewidth=0.8, linestyle="--", label="target at 1M: 1.0 s")
    axes.axhline(0.4, color="orange", linewidth=0.8, linestyle="--", label="target empty: 0.4 s")
    axes.set_xlabel("entries in the dataset before the change")
    _save_against_size(figure, axes, path, title, "seconds (median)")


def plot_push(
    pushes: dict[str, list[tuple[float, float]]], path: Path, title: str, target: float
) -> None:
    """Push throughput against the dataset's size, one line per push (bench/bench_ingest.py)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not any(pushes.values()):
        return
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for label, points in pushes.items():
        if points:
            axes.plot([x for x, _ in points], [y for _, y in points], ".-", label=label)
    axes.axhline(
        target, color="red", linewidth=0.8, linestyle="--", label=f"target: {target:,.0f} lines/s"
    )
    axes.set_xlabel("entries in the dataset (start of each 5 changes)")
    _save_against_size(figure, axes, path, title, "lines/s, end to end", y_thousands=True)


def _save_against_size(
    figure: Any, axes: Any, path: Path, title: str, ylabel: str, y_thousands: bool = False
) -> None:
    """The end of a plot against the dataset's size: axes in thousands ("250k"), from 0, the
    title, legend and grid, saved to `path` and closed."""
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    thousands = matplotlib.ticker.FuncFormatter(
        lambda value, _: f"{value / 1000:,.0f}k" if value else "0"
    )
    axes.xaxis.set_major_formatter(thousands)
    if y_thousands:
        axes.yaxis.set_major_formatter(thousands)
    axes.set_ylabel(ylabel)
    axes.set_ylim(bottom=0)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
