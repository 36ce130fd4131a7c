"""The `manifestdb` command: serve the API, validate manifests, read update reports."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from manifestdb.commands.convert import convert_command
from manifestdb.commands.export import export_command
from manifestdb.commands.history import (
    delete_entries_command,
    diff_command,
    revert_command,
    versions_command,
)
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
    number_in,
)
from manifestdb.commands.push import push_command
from manifestdb.commands.validate import validate_command
from manifestdb.commands.worker import configure_logging, migrate_command, worker_command
from manifestdb.config import Settings, parse_trusted_proxies

app = typer.Typer(
    help="manifestdb: a self-hosted Amazon Rekognition Custom Labels dataset service.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("validate")(validate_command)
app.command("convert")(convert_command)
app.command("push")(push_command)
app.command("export")(export_command)
app.command("worker")(worker_command)
app.command("migrate")(migrate_command)
app.command("versions")(versions_command)
app.command("diff")(diff_command)
app.command("revert")(revert_command)
app.command("delete-entries")(delete_entries_command)


def _version(value: bool) -> None:
    if value:
        from manifestdb import __version__

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
    port: Annotated[
        int,
        typer.Option(
            envvar="MANIFESTDB_PORT", min=0, max=65535, help="Port to listen on (0: any free one)."
        ),
    ] = 8777,
    data_dir: Annotated[
        Path, typer.Option(envvar="MANIFESTDB_DATA_DIR", help="Where the SQLite database lives.")
    ] = Path("./data"),
    in_memory: Annotated[
        bool,
        typer.Option(
            envvar="MANIFESTDB_IN_MEMORY",
            help="Keep nothing: a throw-away database, removed at exit.",
        ),
    ] = False,
    limits: LimitProfile = "aws",
    s3_endpoint_url: S3EndpointUrl = None,
    local_buckets: LocalBuckets = None,
    job_delay: JobDelay = 0.0,
    log_level: LogLevel = "info",
    database_url: DatabaseUrl = None,
    no_runner: Annotated[
        bool,
        typer.Option(
            "--no-runner",
            envvar="MANIFESTDB_NO_RUNNER",
            help="Serve the API only; `manifestdb worker` processes apply the jobs.",
        ),
    ] = False,
    lease_seconds: LeaseSeconds = 30.0,
    training_time_limit: TrainingTimeLimit = 3600.0,
    no_engine_helper: NoEngineHelper = False,
    keep_versions: KeepVersions = 0,
    keep_history_mb: KeepHistoryMb = 0.0,
    auth: Annotated[
        str,
        typer.Option(
            envvar="MANIFESTDB_AUTH",
            help="off: any caller acts for account 123456789012 (loopback only); "
            "sigv4: SigV4 signatures and IAM policies of --auth-file.",
        ),
    ] = "off",
    auth_file: Annotated[
        Path | None,
        typer.Option(
            envvar="MANIFESTDB_AUTH_FILE",
            help="JSON users, access keys and policies for --auth sigv4 (chmod 600; re-read on "
            "SIGHUP).",
        ),
    ] = None,
    insecure_listen: Annotated[
        bool,
        typer.Option(
            envvar="MANIFESTDB_INSECURE_LISTEN",
            help="Allow a non-loopback --host with --auth off (anyone who reaches it gets in).",
        ),
    ] = False,
    request_timeout: Annotated[
        float,
        typer.Option(
            envvar="MANIFESTDB_REQUEST_TIMEOUT",
            callback=number_in(0, 86400, "seconds", above=True),
            help="Seconds a client has to send a request's headers (from connecting or from its "
            "last response), and again its body; a slower client is cut off.",
        ),
    ] = 60.0,
    thumbnail_cache_mb: Annotated[
        int,
        typer.Option(
            envvar="MANIFESTDB_THUMBNAIL_CACHE_MB",
            min=0,
            max=10**9,
            help="Megabytes of console thumbnails kept on disk under --data-dir (0: none kept).",
        ),
    ] = 256,
    console_session_hours: Annotated[
        float,
        typer.Option(
            envvar="MANIFESTDB_CONSOLE_SESSION_HOURS",
            callback=number_in(0.01, 24 * 366, "hours"),
            help="Hours a console login lasts (--auth sigv4); logging out ends it before.",
        ),
    ] = 12.0,
    secure_cookies: Annotated[
        bool,
        typer.Option(
            envvar="MANIFESTDB_SECURE_COOKIES",
            help="Mark the console's session cookie Secure: set it when users reach the server "
            "over HTTPS (a TLS proxy in front), so the cookie never travels in clear.",
        ),
    ] = False,
    trusted_proxy: Annotated[
        str | None,
        typer.Option(
            envvar="MANIFESTDB_TRUSTED_PROXY",
            help="IP addresses or networks (comma-separated) of the TLS proxies in front: a "
            "request from one of them has its X-Forwarded-Proto and X-Forwarded-Host taken as "
            "the origin the browser sees. Unset: those headers are never trusted.",
        ),
    ] = None,
) -> None:
    """Serve the Rekognition dataset API and the web console over HTTP."""
    import tempfile

    from sqlalchemy.exc import SQLAlchemyError

    from manifestdb.wire.app import create_app
    from manifestdb.wire.authfile import AuthFileError
    from manifestdb.wire.server import run_server

    limit_settings = limit_profile(limits)
    try:
        trusted_proxies = parse_trusted_proxies(trusted_proxy)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--trusted-proxy") from None
    _check_auth_options(auth, auth_file, host, insecure_listen)
    _check_host(host)
    configure_logging(log_level)
    os.umask(0o077)  # the database, its WAL and anything else written stay private to this user
    scratch = None
    if in_memory:
        shm = Path("/dev/shm")
        scratch = tempfile.TemporaryDirectory(
            prefix="manifestdb-", dir=shm if shm.is_dir() else None
        )
        data_dir = Path(scratch.name)
    _prepare_data_dir(data_dir)
    settings = Settings(
        host=host,
        port=port,
        data_dir=data_dir,
        in_memory=in_memory,
        limits=limit_settings,
        database_url=database_url,
        runner=not no_runner,
        engine_helper=not no_engine_helper,
        lease_seconds=lease_seconds,
        training_time_limit=training_time_limit,
        s3_endpoint_url=s3_endpoint_url,
        local_buckets=local_buckets,
        job_delay=job_delay,
        log_level=log_level,
        auth=auth,
        auth_file=auth_file,
        insecure_listen=insecure_listen,
        request_timeout=request_timeout,
        thumbnail_cache_mb=thumbnail_cache_mb,
        console_session_hours=console_session_hours,
        secure_cookies=secure_cookies,
        keep_versions=keep_versions,
        keep_history_mb=keep_history_mb,
        trusted_proxies=trusted_proxies,
    )
    try:
        try:
            asgi_app = create_app(settings)
        except AuthFileError as error:
            typer.echo(f"manifestdb: cannot start: {error}", err=True)
            raise typer.Exit(2) from None
        except SQLAlchemyError as error:
            cannot_open_database(settings.store_url(), error)
        run_server(asgi_app, settings)
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
    request = urllib.request.Request(url, headers=_signature_headers("GET", url))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            sys.stdout.write(response.read().decode() + "\n")
    except urllib.error.HTTPError as error:
        sys.stderr.write(error.read().decode() + "\n")
        raise typer.Exit(1) from None
    except urllib.error.URLError as error:
        sys.stderr.write(f"cannot reach {endpoint_url}: {error.reason}\n")
        raise typer.Exit(2) from None


def _signature_headers(method: str, url: str) -> dict[str, str]:
    """SigV4 headers from the standard AWS credential chain; none when there are no credentials."""
    import botocore.session

    from manifestdb.config import DEFAULT_REGION
    from manifestdb.wire.auth import sign_request

    session = botocore.session.get_session()
    resolver = session.get_component("credential_provider")
    for instance_credentials in ("iam-role", "container-role"):  # temporary: the server refuses
        resolver.remove(instance_credentials)
    credentials = session.get_credentials()
    if credentials is None:
        return {}
    frozen = credentials.get_frozen_credentials()
    region = session.get_config_variable("region") or DEFAULT_REGION
    return sign_request(
        method, url, region, frozen.access_key or "", frozen.secret_key or "", frozen.token
    )


def _check_auth_options(auth: str, auth_file: Path | None, host: str, insecure: bool) -> None:
    if auth not in ("off", "sigv4"):
        raise typer.BadParameter("choose off or sigv4", param_hint="--auth")
    if auth == "sigv4" and auth_file is None:
        raise typer.BadParameter(
            "--auth sigv4 needs --auth-file (users, access keys, policies)",
            param_hint="--auth-file",
        )
    if auth == "off" and auth_file is not None:
        raise typer.BadParameter("is read only with --auth sigv4", param_hint="--auth-file")
    if auth == "off" and not insecure and not _is_loopback(host):
        raise typer.BadParameter(
            f"{host} is not a loopback address, and with --auth off anyone who reaches it can "
            "read and change every dataset. Use --auth sigv4 --auth-file FILE, or add "
            "--insecure-listen if the network itself is trusted.",
            param_hint="--host",
        )


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def _check_host(host: str) -> None:
    """A --host this machine can listen on: an address, or a name it resolves."""
    import socket

    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise typer.BadParameter(
            f"{host[:200]!r} is not an address or a name this machine resolves ({reason}): "
            "give an IP address such as 127.0.0.1 or 0.0.0.0, or a host name",
            param_hint="--host",
        ) from None


def _prepare_data_dir(data_dir: Path) -> None:
    """Create the data directory private (0700); warn when an existing one is not."""
    import logging
    import stat

    create_data_dir(data_dir, 0o700, " (or --in-memory)")
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise typer.BadParameter(
            f"{str(data_dir)[:200]!r} cannot be the data directory: this user cannot write "
            "into it. Give a folder manifestdb may write",
            param_hint="--data-dir",
        )
    mode = stat.S_IMODE(data_dir.stat().st_mode)
    if mode & 0o077:
        logging.getLogger("manifestdb").warning(
            "data directory %s has mode %04o: other users can reach the datasets. "
            "Run: chmod 700 %s",
            data_dir,
            mode,
            data_dir,
        )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
