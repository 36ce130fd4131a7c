"""Fixtures for the format tests: the test data folder, the `convert` command, manifest checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from manifestdb.commands.convert import convert_command
from manifestdb.manifest import Entry, check_line

FORMATS_DATA = Path(__file__).parent.parent / "data" / "formats"

Convert = Callable[..., Result]


@pytest.fixture
def data() -> Path:
    """tests/data/formats: tiny images and hand-checked files in each format."""
    return FORMATS_DATA


@pytest.fixture
def convert() -> Convert:
    """Run `convert` with these arguments (strings or paths), as the CLI would."""
    app = typer.Typer()
    app.command("convert")(convert_command)

    @app.callback()
    def _group() -> None:
        """Keeps `convert` a subcommand, as in `manifestdb convert`."""

    runner = CliRunner()

    def run(*args: str | Path, stdin: str | None = None) -> Result:
        return runner.invoke(app, ["convert", *map(str, args)], input=stdin)

    return run


@pytest.fixture
def valid_manifest() -> Callable[[Path], list[Entry]]:
    """Judge every line of a manifest with `check_line`: none dropped, none with an error."""

    def judge(path: Path) -> list[Entry]:
        entries = []
        for number, line in enumerate(path.read_bytes().splitlines(), 1):
            entry = check_line(line, number)
            assert isinstance(entry, Entry), entry
            assert not entry.has_errors, (line, entry.problems)
            entries.append(entry)
        return entries

    return judge


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and a region, for moto's in-process S3."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    yield
