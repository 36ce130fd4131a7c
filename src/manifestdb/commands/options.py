"""Options that `serve` and `worker` share: one definition each, flag and environment variable.

Every setting is checked where it is read, flag or `MANIFESTDB_*` variable alike: a value out of
its range, not a number (`nan`, `inf`), of the wrong form (a database or endpoint URL, a log
level) or naming a folder that is not one is a usage error (exit 2) that names the option, the
value found and the rule, before anything starts.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from manifestdb.manifest.types import LIMIT_PROFILES, Limits

LOG_LEVELS = ("debug", "info", "warning", "error")
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "postgresql+psycopg")


def number_in(
    low: float, high: float, unit: str, *, above: bool = False
) -> Callable[[float], float]:
    """A check of a number option: finite and from `low` (excluded when `above`) to `high`."""

    def check(value: float) -> float:
        inside = (value > low if above else value >= low) and value <= high
        if not (math.isfinite(value) and inside):
            lowest = f"more than {low:g}" if above else f"from {low:g}"
            raise typer.BadParameter(f"{value:g} is not allowed: give {unit} {lowest} to {high:g}")
        return value

    return check


def _log_level(value: str) -> str:
    if value.lower() not in LOG_LEVELS:
        raise typer.BadParameter(f"{value!r} is not a log level: choose {', '.join(LOG_LEVELS)}")
    return value.lower()


def _database_url(value: str | None) -> str | None:
    if not value:
        return None  # unset (an empty variable too): SQLite under --data-dir
    scheme, colon, rest = value.partition(":")
    if not colon or scheme.lower() not in DATABASE_SCHEMES or not rest.startswith("//"):
        # The value may hold a password: only its scheme is repeated.
        found = f"a URL of scheme {scheme!r}" if colon else "no URL"
        raise typer.BadParameter(
            f"{found} is not a database manifestdb can use: give sqlite:///PATH or "
            "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        )
    return value


def _endpoint_url(value: str | None) -> str | None:
    if not value:
        return None  # unset: AWS's own endpoint
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter(
            f"{value[:200]!r} is not an endpoint URL: give http(s)://HOST[:PORT], e.g. "
            "http://127.0.0.1:9000"
        )
    try:
        parts.port  # noqa: B018 (a port out of range or not a number raises)
    except ValueError:
        raise typer.BadParameter(
            f"{value[:200]!r} has no valid port: give http(s)://HOST[:PORT] with a port from 1 "
            "to 65535"
        ) from None
    return value


def create_data_dir(data_dir: Path, mode: int = 0o777, hint: str = "") -> None:
    """Create the data directory (and its parents), or a --data-dir usage error saying why."""
    try:
        data_dir.mkdir(mode=mode, parents=True, exist_ok=True)
    except OSError as error:
        why = (
            "it is a file"
            if data_dir.is_file() or isinstance(error, FileExistsError)
            else (error.strerror or str(error))
        )
        raise typer.BadParameter(
            f"{str(data_dir)[:200]!r} cannot be the data directory: {why}. Give a folder "
            f"manifestdb may create and write{hint}",
            param_hint="--data-dir",
        ) from None


def cannot_open_database(url: str, error: Exception) -> NoReturn:
    """Say that the database cannot be opened, and why (no traceback), and exit 1."""
    from sqlalchemy.engine import make_url

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL SQLAlchemy cannot read is shown by its scheme
        shown = url.partition(":")[0] + ":..."
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    typer.echo(
        f"manifestdb: cannot start: the database {shown} cannot be opened: "
        f"{reason[0] if reason else type(error).__name__}",
        err=True,
    )
    raise typer.Exit(1)


DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="MANIFESTDB_DATABASE_URL",
        callback=_database_url,
        help="postgresql://USER@HOST:PORT/DB for a shared PostgreSQL (default: SQLite in "
        "--data-dir).",
    ),
]
LimitProfile = Annotated[
    str, typer.Option(envvar="MANIFESTDB_LIMITS", help="Limit profile: aws or relaxed.")
]
S3EndpointUrl = Annotated[
    str | None,
    typer.Option(
        envvar="MANIFESTDB_S3_ENDPOINT_URL",
        callback=_endpoint_url,
        help="S3 endpoint to read manifests from (default: AWS).",
    ),
]
LocalBuckets = Annotated[
    Path | None,
    typer.Option(
        envvar="MANIFESTDB_LOCAL_BUCKETS",
        exists=True,
        file_okay=False,
        dir_okay=True,
        help="Read s3://BUCKET/KEY from DIR/BUCKET/KEY instead of S3.",
    ),
]
JobDelay = Annotated[
    float,
    typer.Option(
        envvar="MANIFESTDB_JOB_DELAY",
        callback=number_in(0, 3600, "seconds"),
        help="Seconds to wait before applying each job (to observe *_IN_PROGRESS).",
    ),
]
LeaseSeconds = Annotated[
    float,
    typer.Option(
        envvar="MANIFESTDB_LEASE_SECONDS",
        help="A running job is claimed again when its worker has not renewed its lease for "
        "this long.",
        callback=number_in(1, 86400, "seconds"),
    ),
]
NoEngineHelper = Annotated[
    bool,
    typer.Option(
        "--no-engine-helper",
        envvar="MANIFESTDB_NO_ENGINE_HELPER",
        help="Judge a change's lines in the job's own thread, not in a helper process beside "
        "it (slower on 2+ cores; for hosts that forbid starting processes).",
    ),
]
TrainingTimeLimit = Annotated[
    float,
    typer.Option(
        envvar="MANIFESTDB_TRAINING_TIME_LIMIT",
        callback=number_in(1, 7 * 86400, "seconds"),
        help="Seconds a model's training may take; a longer one stops with TRAINING_FAILED.",
    ),
]
KeepVersions = Annotated[
    int,
    typer.Option(
        envvar="MANIFESTDB_KEEP_VERSIONS",
        min=0,
        max=2**31 - 1,
        help="Versions of history each dataset keeps; older ones are folded into the oldest "
        "kept (0: keep every version).",
    ),
]
KeepHistoryMb = Annotated[
    float,
    typer.Option(
        envvar="MANIFESTDB_KEEP_HISTORY_MB",
        callback=number_in(0, 1e9, "megabytes"),
        help="Megabytes of history (the lines versions replaced or removed) each dataset "
        "keeps; older versions are folded (0: no limit).",
    ),
]
LogLevel = Annotated[
    str,
    typer.Option(
        envvar="MANIFESTDB_LOG_LEVEL", callback=_log_level, help="debug, info, warning or error."
    ),
]


def limit_profile(name: str) -> Limits:
    """The Limits of a profile name, or a usage error naming the choices."""
    if name not in LIMIT_PROFILES:
        raise typer.BadParameter(
            f"choose one of {', '.join(LIMIT_PROFILES)}", param_hint="--limits"
        )
    return LIMIT_PROFILES[name]
