"""Server settings: one dataclass, filled from command-line flags or `MANIFESTDB_*` variables."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from manifestdb.manifest.types import AWS_LIMITS, Limits

if TYPE_CHECKING:  # the store (SQLAlchemy) is loaded by the server, not by `manifestdb validate`
    from manifestdb.store.history import Retention

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Settings:
    """Everything a server process needs to know at start."""

    host: str = "127.0.0.1"
    port: int = 8777
    data_dir: Path = Path("./data")
    in_memory: bool = False
    database_url: str | None = None  # sqlite:///... or postgresql://...; overrides data_dir
    limits: Limits = AWS_LIMITS
    s3_endpoint_url: str | None = None
    local_buckets: Path | None = None  # read s3://B/K from LOCAL_BUCKETS/B/K instead of S3
    job_delay: float = 0.0  # seconds the runner waits before applying a job (tests observe states)
    lease_seconds: float = 30.0  # a running job's worker must renew its lease within this time
    runner: bool = True
    # Seconds a model's training may take before it stops with TRAINING_FAILED (docs/models.md).
    training_time_limit: float = 3600.0
    # Judge a change's lines in a helper process while the job stores them (`jobs.engine`).
    engine_helper: bool = True
    log_level: str = "info"
    max_body_bytes: int = 8 * 1024 * 1024  # a 5 MiB change is ~7 MB once base64-encoded
    request_timeout: float = 60.0  # seconds a client has for a request's headers, and its body
    account: str = DEFAULT_ACCOUNT
    auth: str = "off"  # "off": any caller acts for `account`; "sigv4": users of `auth_file`
    auth_file: Path | None = None  # JSON users, keys and policies (holds secrets: never logged)
    insecure_listen: bool = False  # allow a non-loopback host with auth off
    thumbnail_cache_mb: int = 256  # the console's thumbnails on disk under data_dir (0: none)
    console_session_hours: float = 12.0  # how long a console login lasts (auth sigv4)
    secure_cookies: bool = False  # the session cookie is Secure (users come over HTTPS)
    keep_versions: int = 0  # versions of history kept per dataset (0: every one)
    keep_history_mb: float = 0.0  # megabytes of before-images kept per dataset (0: no limit)
    # The TLS proxies in front: only a request whose peer is one of them has its
    # X-Forwarded-Proto and X-Forwarded-Host taken as the origin the browser sees (none: never).
    trusted_proxies: tuple[Network, ...] = ()

    def retention(self) -> Retention:
        """How much history a job keeps when it writes a version (docs/history.md)."""
        from manifestdb.store.history import Retention

        return Retention(
            versions=self.keep_versions or None,
            bytes=round(self.keep_history_mb * 1024 * 1024) if self.keep_history_mb else None,
        )

    def store_url(self) -> str:
        """The database to use: `database_url`, else the embedded SQLite under `data_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'manifestdb.sqlite3').resolve()}"


def parse_trusted_proxies(text: str | None) -> tuple[Network, ...]:
    """`--trusted-proxy`: comma-separated IP addresses or networks (`10.0.0.5,fd00::/8`), or
    ValueError naming the value that is neither."""
    networks = []
    for part in (text or "").split(","):
        item = part.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(
                f"{item[:100]!r} is not an IP address or network: give the "
                "addresses of the TLS proxies in front, comma-separated (e.g. 10.0.0.5,"
                "10.1.0.0/16)"
            ) from None
    return tuple(networks)
