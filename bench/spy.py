"""Sampling the server with py-spy during a phase, and a text summary of where the time went.

py-spy is not a project dependency: `.venv/bin/pip install py-spy`, then `bench/run.py --profile`.
Profiled timings are inflated (py-spy pauses the process to sample): use them for shares, not
for figures.

    python bench/spy.py FILE.txt [--top 30]    # summarize a raw (collapsed stacks) file
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path


def py_spy() -> str | None:
    return shutil.which("py-spy") or (
        str(Path(sys.executable).parent / "py-spy")
        if (Path(sys.executable).parent / "py-spy").exists()
        else None
    )


@contextlib.contextmanager
def record(pid: int, output: Path, rate: int = 200) -> Iterator[None]:
    """py-spy attached to `pid` for the block, writing collapsed stacks to `output`."""
    executable = py_spy()
    if executable is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    command = [executable, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw"]
    with output.with_suffix(".log").open("wb") as log:
        spy = subprocess.Popen(
            [*command, "--output", str(output), "--nonblocking"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(10)


CATEGORIES = (  # (label, what a frame name contains), the first match from the leaf wins
    ("PostgreSQL (psycopg: send, wait, fetch)", "psycopg/"),
    ("SQLite commit", "do_commit"),
    ("SQLite executemany", "do_executemany"),
    ("SQLite execute", "do_execute"),
    ("SQLite fetch", "fetch"),
    ("manifest engine (check_line, ChangeReader)", "line.py:"),
    ("manifest engine (check_line, ChangeReader)", "attributes.py:"),
    ("manifest engine (check_line, ChangeReader)", "change.py:"),
    ("SQLAlchemy (compile, cursor, rows)", "sqlalchemy"),
    ("store (entries.py, listing.py ...)", "entries.py:"),
    ("HTTP (uvicorn, starlette, httptools)", "httptools"),
    ("HTTP (uvicorn, starlette, httptools)", "uvicorn"),
    ("HTTP (uvicorn, starlette, httptools)", "starlette"),
)
FOCUS = "JobApplier.run"


def _stacks(path: Path) -> Iterator[tuple[list[str], list[str], int]]:
    for raw in path.read_text().splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if stack and count_text.isdigit():
            frames = stack.split(";")
            yield [_name(frame) for frame in frames], frames, int(count_text)


def _category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for label, needle in CATEGORIES:
            if needle in frame:
                return label
    return "other Python"


def summarize(path: Path, top: int = 30) -> str:
    """Where the samples are: per category and per function (self and inclusive shares), over
    all threads and within the job runner's `JobApplier.run`."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    focus_own: Counter[str] = Counter()
    sql_callers: Counter[str] = Counter()
    total = focused = 0
    for names, frames, count in _stacks(path):
        total += count
        own[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
        if any(FOCUS in name for name in names):
            focused += count
            category = _category(frames)
            categories[category] += count
            focus_own[names[-1]] += count
            if category.startswith(("SQLite", "PostgreSQL")):
                sql_callers[f"{category}: {_caller(frames)}"] += count
    if not total:
        return f"{path.name}: no samples\n"
    lines = [f"{path.name}: {total} samples (non-idle threads), {focused} in {FOCUS}", ""]
    if focused:
        lines += [f"Within {FOCUS}:", "", "| share | where |", "|--|--|"]
        for label, count in categories.most_common():
            lines.append(f"| {100 * count / focused:.1f}% | {label} |")
        lines += ["", "| self | function (within the job) |", "|--|--|"]
        for name, count in focus_own.most_common(top):
            lines.append(f"| {100 * count / focused:.1f}% | {name} |")
        lines += ["", "| share | database time by the manifestdb line that called it |", "|--|--|"]
        for name, count in sql_callers.most_common(top):
            lines.append(f"| {100 * count / focused:.1f}% | {name} |")
        lines.append("")
    lines += ["All threads:", "", "| self | inclusive | function |", "|--|--|--|"]
    for name, count in own.most_common(top):
        share, whole = 100 * count / total, 100 * inclusive[name] / total
        lines.append(f"| {share:.1f}% | {whole:.1f}% | {name} |")
    return "\n".join(lines) + "\n"


def _caller(frames: list[str]) -> str:
    """The deepest manifestdb frame, as `package/file.py:line function`."""
    for frame in reversed(frames):
        function, _, where = frame.partition(" (")
        if "manifestdb/" in where:
            return f"{where.rstrip(')').split('manifestdb/', 1)[1]} {function}"
    return "?"


def _name(frame: str) -> str:
    """`function (path/file.py:123)` -> `file.py:function`."""
    function, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    return f"{file.rsplit('/', 1)[-1]}:{function}" if file else function


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    options = parser.parse_args()
    sys.stdout.write(summarize(options.file, options.top))


if __name__ == "__main__":
    main()
