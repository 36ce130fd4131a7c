"""`manifestdb worker` (apply queued jobs, no HTTP) and `manifestdb migrate` (upgrade a schema)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from manifestdb.commands.options import (
    DatabaseUrl,
    JobDelay,
    KeepHistoryMb,
    KeepVersions,
    LeaseSeconds,
    LimitProfile,
    LocalBuckets,
    LogLevel,
    NoEngineHelper,
    S3EndpointUrl,
    TrainingTimeLimit,
    cannot_open_database,
    create_data_dir,
    limit_profile,
)
from manifestdb.config import Settings


def worker_command(
    database_url: DatabaseUrl = None,
    data_dir: Annotated[
        Path, typer.Option(envvar="MANIFESTDB_DATA_DIR", help="The SQLite database's folder.")
    ] = Path("./data"),
    concurrency: Annotated[
        int,
        typer.Option(
            envvar="MANIFESTDB_CONCURRENCY", min=1, max=256, help="Jobs applied at the same time."
        ),
    ] = 1,
    limits: LimitProfile = "aws",
    s3_endpoint_url: S3EndpointUrl = None,
    local_buckets: LocalBuckets = None,
    job_delay: JobDelay = 0.0,
    lease_seconds: LeaseSeconds = 30.0,
    training_time_limit: TrainingTimeLimit = 3600.0,
    log_level: LogLevel = "info",
    no_engine_helper: NoEngineHelper = False,
    keep_versions: KeepVersions = 0,
    keep_history_mb: KeepHistoryMb = 0.0,
) -> None:
    """Apply queued creates, updates, distributions and deletions; stop on SIGTERM or Ctrl-C."""
    import logging
    import signal
    import threading

    from sqlalchemy.exc import SQLAlchemyError

    from manifestdb.jobs.runner import Runner
    from manifestdb.store import Store

    log = logging.getLogger("manifestdb")
    configure_logging(log_level)
    settings = Settings(
        data_dir=data_dir,
        database_url=database_url,
        limits=limit_profile(limits),
        s3_endpoint_url=s3_endpoint_url,
        local_buckets=local_buckets,
        job_delay=job_delay,
        lease_seconds=lease_seconds,
        training_time_limit=training_time_limit,
        log_level=log_level,
        keep_versions=keep_versions,
        keep_history_mb=keep_history_mb,
        engine_helper=not no_engine_helper,
    )
    try:
        store = Store(settings.store_url())
    except SQLAlchemyError as error:
        cannot_open_database(settings.store_url(), error)
    runner = Runner(store, settings, concurrency=concurrency)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    runner.start()
    log.info("manifestdb worker %s: %d thread(s) on %s", runner.name, concurrency, store.dialect)
    stopping.wait()
    log.info("stopping: letting running jobs finish")
    runner.stop()
    store.close()


def migrate_command(
    database_url: DatabaseUrl = None,
    data_dir: Annotated[
        Path, typer.Option(envvar="MANIFESTDB_DATA_DIR", help="The SQLite database's folder.")
    ] = Path("./data"),
) -> None:
    """Create or upgrade the database schema to this release (servers also do it at start)."""
    from sqlalchemy.exc import SQLAlchemyError

    from manifestdb.store import Store

    settings = Settings(data_dir=data_dir, database_url=database_url)
    if not database_url:
        create_data_dir(data_dir)
    try:
        Store(settings.store_url()).close()
    except SQLAlchemyError as error:
        cannot_open_database(settings.store_url(), error)
    typer.echo("manifestdb: the database schema is up to date")


def configure_logging(level: str) -> None:
    import logging

    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
