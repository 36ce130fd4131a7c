"""The push and export commands run through Typer's test runner, for the toolkit tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer
from typer.testing import CliRunner

from manifestdb.commands.export import export_command
from manifestdb.commands.push import push_command

CREDENTIALS_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Outcome:
    """What one command run printed and its exit status."""

    exit_code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes


class Toolkit:
    """Runs `push` and `export` as the CLI would, against one endpoint."""

    def __init__(self, endpoint: str | None) -> None:
        self.endpoint = endpoint
        self.app = typer.Typer()
        self.app.command("push")(push_command)
        self.app.command("export")(export_command)

    def run(self, *args: str, input: bytes | None = None, **env: str) -> Outcome:
        extra = ["--endpoint-url", self.endpoint] if self.endpoint else []
        result: Any = CliRunner().invoke(
            self.app, [*args, *extra], input=input, env={**CREDENTIALS_ENV, **env}
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Outcome(result.exit_code, result.stdout, result.stderr, result.stdout_bytes)

    def push(self, *args: str, **kwargs: Any) -> Outcome:
        return self.run("push", *args, **kwargs)

    def export(self, *args: str, **kwargs: Any) -> Outcome:
        return self.run("export", *args, **kwargs)
