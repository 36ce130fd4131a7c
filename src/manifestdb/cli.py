"""The `manifestdb` command: serve the API, validate manifests, read update reports."""

from __future__ import annotations

import logging
import sys
import tempfile
import urllib.parse
from pathlib import Path
from typing import Annotated

import typer

from manifestdb import __version__
from manifestdb.commands.validate import validate_command
from manifestdb.config import Settings
from manifestdb.manifest.types import LIMIT_PROFILES

app = typer.Typer(
    help="manifestdb: a self-hosted Amazon Rekognition Custom Labels dataset service.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("validate")(validate_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"manifestdb {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """manifestdb: a self-hosted Amazon Rekognition Custom Labels dataset service."""


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="MANIFESTDB_HOST", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(envvar="MANIFESTDB_PORT", help="Port to listen on.")] = 8777,
    data_dir: Annotated[
        Path, typer.Option(envvar="MANIFESTDB_DATA_DIR", help="Where the SQLite database lives.")
    ] = Path("./data"),
    in_memory: Annotated[
        bool,
        typer.Option(envvar="MANIFESTDB_IN_MEMORY",
                     help="Keep nothing: a throw-away database, removed at exit."),
    ] = False,
    limits: Annotated[
        str, typer.Option(envvar="MANIFESTDB_LIMITS", help="Limit profile: aws or relaxed.")
    ] = "aws",
    s3_endpoint_url: Annotated[
        str | None,
        typer.Option(envvar="MANIFESTDB_S3_ENDPOINT_URL",
                     help="S3 endpoint to read manifests from (default: AWS)."),
    ] = None,
    local_buckets: Annotated[
        Path | None,
        typer.Option(envvar="MANIFESTDB_LOCAL_BUCKETS",
                     help="Read s3://BUCKET/KEY from DIR/BUCKET/KEY instead of S3."),
    ] = None,
    job_delay: Annotated[
        float,
        typer.Option(envvar="MANIFESTDB_JOB_DELAY",
                     help="Seconds to wait before applying each job (to observe *_IN_PROGRESS)."),
    ] = 0.0,
    log_level: Annotated[
        str, typer.Option(envvar="MANIFESTDB_LOG_LEVEL", help="debug, info, warning or error.")
    ] = "info",
) -> None:
    """Serve the Rekognition dataset API over HTTP."""
    import uvicorn

    from manifestdb.wire.app import create_app

    if limits not in LIMIT_PROFILES:
        raise typer.BadParameter(f"choose one of {', '.join(LIMIT_PROFILES)}", param_hint="--limits")
    _configure_logging(log_level)
    scratch = None
    if in_memory:
        shm = Path("/dev/shm")
        scratch = tempfile.TemporaryDirectory(prefix="manifestdb-", dir=shm if shm.is_dir() else None)
        data_dir = Path(scratch.name)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        host=host,
        port=port,
        data_dir=data_dir,
        in_memory=in_memory,
        limits=LIMIT_PROFILES[limits],
        s3_endpoint_url=s3_endpoint_url,
        local_buckets=local_buckets,
        job_delay=job_delay,
        log_level=log_level,
    )
    try:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            timeout_graceful_shutdown=30,
        )
    finally:
        if scratch is not None:
            scratch.cleanup()


@app.command()
def updates(
    dataset_arn: Annotated[str, typer.Argument(help="The dataset whose update reports to show.")],
    endpoint_url: Annotated[
        str, typer.Option(envvar="MANIFESTDB_ENDPOINT_URL", help="The manifestdb server.")
    ] = "http://127.0.0.1:8777",
    max_results: Annotated[int, typer.Option(help="Reports per page (1-100).")] = 20,
) -> None:
    """Print the update reports of a dataset as JSON, newest first."""
    import urllib.error
    import urllib.request

    url = (
        f"{endpoint_url.rstrip('/')}/_manifestdb/datasets/"
        f"{urllib.parse.quote(dataset_arn, safe='')}/updates?max_results={max_results}"
    )
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            sys.stdout.write(response.read().decode() + "\n")
    except urllib.error.HTTPError as error:
        sys.stderr.write(error.read().decode() + "\n")
        raise typer.Exit(1) from None
    except urllib.error.URLError as error:
        sys.stderr.write(f"cannot reach {endpoint_url}: {error.reason}\n")
        raise typer.Exit(2) from None


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
