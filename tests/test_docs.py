"""Docs that tests keep true: every `serve`/`worker` setting is in the README, every path that
docs/architecture.md names exists."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer

from manifestdb.cli import app

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()


def settings_rows() -> list[str]:
    """The rows of the README's settings table (the one under '## Settings')."""
    section = README.split("\n## Settings", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `--")]


def options_of(command: str) -> list[click.Option]:
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    params = group.commands[command].params
    return [p for p in params if isinstance(p, click.Option) and p.name not in {"help"}]


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_every_option_and_variable_is_in_the_settings_table(command: str) -> None:
    rows = settings_rows()
    missing = []
    for option in options_of(command):
        flag = max(option.opts, key=len)
        envvars = [option.envvar] if isinstance(option.envvar, str) else list(option.envvar or [])
        row = next((r for r in rows if f"`{flag}`" in r.split("|")[1]), None)
        if row is None:
            missing.append(f"{flag} has no row")
            continue
        missing.extend(
            f"{flag}: {name} not in its row" for name in envvars if f"`{name}`" not in row
        )
        if not envvars:
            missing.append(f"{flag} has no environment variable")
    assert not missing, f"README settings table of `manifestdb {command}`: {missing}"


def test_the_settings_table_names_no_option_that_is_gone() -> None:
    known = {max(o.opts, key=len) for c in ("serve", "worker", "migrate") for o in options_of(c)}
    flags = {row.split("|")[1].strip().strip("`") for row in settings_rows()}
    assert flags <= known, f"rows for options that do not exist: {sorted(flags - known)}"


PACKAGE = ROOT / "src" / "manifestdb"
# In the layer diagram a path is named relative to the package (`wire/app.py`); elsewhere in
# backticks it may also be relative to the repository (`bench/run.py`, `tests/support/`).
PATH = re.compile(r"(?<![\w/.-])((?:[a-z_]+/)+(?:[\w-]+\.py)?|[a-z_]+\.py)(?![\w/])")


def named_paths(text: str) -> set[str]:
    """The paths a doc names: every `dir/`, `dir/module.py` and `module.py` in its code blocks
    and in backticks (URLs, absolute paths and `s3://` names are not paths of the repository)."""
    blocks = re.findall(r"```.*?\n(.*?)```", text, flags=re.S)
    spans = blocks + re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    found = set()
    for span in spans:
        for match in PATH.finditer(span):
            start = match.start()
            if span[max(0, start - 5) : start].endswith(("://", ":/")):
                continue
            found.add(match[1].rstrip("/"))
    return found


def exists(path: str) -> bool:
    """A path relative to the package or the repository (a bare module: in some package)."""
    if "/" in path:
        return (PACKAGE / path).exists() or (ROOT / path).exists()
    return any(PACKAGE.rglob(path))


def test_every_path_the_architecture_names_exists() -> None:
    paths = named_paths(ARCHITECTURE)
    assert len(paths) > 10, paths  # the doc does name its modules
    missing = sorted(path for path in paths if not exists(path))
    assert not missing, f"docs/architecture.md names paths that do not exist: {missing}"


LAYERS = {"wire", "service", "store", "jobs", "manifest", "commands", "console"}


def test_the_architecture_names_every_module() -> None:
    """A module the picture leaves out is one a reader cannot place: each is named by its path,
    or by a folder the doc names as a whole (`manifest/formats/`)."""
    named = named_paths(ARCHITECTURE)
    folders = {path for path in named if not path.endswith(".py")}
    unnamed = []
    for module in sorted(PACKAGE.rglob("*.py")):
        relative = module.relative_to(PACKAGE).as_posix()
        if module.name == "__init__.py" or "migrations/" in relative:
            continue
        if relative in named or relative.rsplit("/", 1)[0] in folders - LAYERS:
            continue
        unnamed.append(relative)
    assert not unnamed, f"docs/architecture.md does not name these modules: {unnamed}"
