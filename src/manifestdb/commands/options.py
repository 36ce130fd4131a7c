"""Options that `serve` and `worker` share: one definition each, flag and environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from manifestdb.manifest.types import LIMIT_PROFILES, Limits

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="MANIFESTDB_DATABASE_URL",
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
        help="S3 endpoint to read manifests from (default: AWS).",
    ),
]
LocalBuckets = Annotated[
    Path | None,
    typer.Option(
        envvar="MANIFESTDB_LOCAL_BUCKETS",
        help="Read s3://BUCKET/KEY from DIR/BUCKET/KEY instead of S3.",
    ),
]
JobDelay = Annotated[
    float,
    typer.Option(
        envvar="MANIFESTDB_JOB_DELAY",
        help="Seconds to wait before applying each job (to observe *_IN_PROGRESS).",
    ),
]
LeaseSeconds = Annotated[
    float,
    typer.Option(
        envvar="MANIFESTDB_LEASE_SECONDS",
        help="A running job is claimed again when its worker has not renewed its lease for "
        "this long.",
        min=1.0,
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
KeepVersions = Annotated[
    int,
    typer.Option(
        envvar="MANIFESTDB_KEEP_VERSIONS",
        min=0,
        help="Versions of history each dataset keeps; older ones are folded into the oldest "
        "kept (0: keep every version).",
    ),
]
KeepHistoryMb = Annotated[
    float,
    typer.Option(
        envvar="MANIFESTDB_KEEP_HISTORY_MB",
        min=0.0,
        help="Megabytes of history (the lines versions replaced or removed) each dataset "
        "keeps; older versions are folded (0: no limit).",
    ),
]
LogLevel = Annotated[
    str, typer.Option(envvar="MANIFESTDB_LOG_LEVEL", help="debug, info, warning or error.")
]


def limit_profile(name: str) -> Limits:
    """The Limits of a profile name, or a usage error naming the choices."""
    if name not in LIMIT_PROFILES:
        raise typer.BadParameter(
            f"choose one of {', '.join(LIMIT_PROFILES)}", param_hint="--limits"
        )
    return LIMIT_PROFILES[name]
