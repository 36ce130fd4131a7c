"""The boto3 Rekognition client `push` and `export` share, built from the standard AWS settings.

`--profile`, `--region` and `--endpoint-url` override the usual sources: the environment
(`AWS_PROFILE`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_REKOGNITION`, and
`MANIFESTDB_ENDPOINT_URL` through the options' envvar) and `~/.aws/config`. With none of them the
client talks to AWS itself. A client given an endpoint but no region uses `us-east-1`, the
region a manifestdb server assumes. Throttling and transient errors are retried with botocore's
standard exponential backoff.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

DEFAULT_REGION = "us-east-1"
RETRY_ATTEMPTS = 10

EndpointOption = Annotated[
    str | None,
    typer.Option(
        envvar="MANIFESTDB_ENDPOINT_URL",
        help="Service endpoint, e.g. http://127.0.0.1:8777 (default: AWS_ENDPOINT_URL, else AWS).",
        show_default=False,
    ),
]
ProfileOption = Annotated[
    str | None, typer.Option(help="AWS profile (default: AWS_PROFILE or default).")
]
RegionOption = Annotated[
    str | None, typer.Option(help="AWS region (default: AWS_DEFAULT_REGION or the profile's).")
]


class CommandError(Exception):
    """A failure to report in one line and exit with `exit_code`."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def aws_session(profile: str | None = None, region: str | None = None) -> Any:
    """A boto3 session for `profile` (else the configured one) and `region`."""
    return _sessions(profile, region)[0]


def s3_client(profile: str | None = None, region: str | None = None) -> Any:
    """An S3 client of the same profile and region (for reading image headers)."""
    return aws_session(profile, region).client("s3")


def _sessions(profile: str | None, region: str | None) -> tuple[Any, Any]:
    """(boto3 session, the botocore session under it)."""
    import boto3
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    core = botocore.session.Session(profile=profile)
    try:
        return boto3.session.Session(botocore_session=core, region_name=region), core
    except ProfileNotFound as error:
        raise CommandError(str(error), 2) from None


def rekognition_client(
    endpoint_url: str | None = None, profile: str | None = None, region: str | None = None
) -> Any:
    """A Rekognition client for the given (or configured) profile, region and endpoint."""
    from botocore.config import Config

    from manifestdb import __version__

    session, core = _sessions(profile, region)
    configured_endpoint = endpoint_url or core.get_config_variable("endpoint_url")
    region_name = session.region_name
    if region_name is None:
        if not configured_endpoint:
            raise CommandError(
                "no AWS region: pass --region or set AWS_DEFAULT_REGION (or give --endpoint-url "
                "for a manifestdb server)",
                2,
            )
        region_name = DEFAULT_REGION
    config = Config(
        retries={"mode": "standard", "max_attempts": RETRY_ATTEMPTS},
        user_agent_extra=f"manifestdb-cli/{__version__}",
    )
    return session.client(
        "rekognition", region_name=region_name, endpoint_url=endpoint_url, config=config
    )


def history_client(endpoint_url: str | None, profile: str | None, region: str | None) -> Any:
    """The history client (manifestdb.client) of the same profile, region and endpoint."""
    from manifestdb.client import HistoryClient

    try:
        return HistoryClient(endpoint_url, profile=profile, region=region)
    except ValueError as error:
        raise CommandError(str(error), 2) from None


def describe_error(error: BaseException) -> tuple[str, int]:
    """A one-line message and an exit code for an error a boto3 call raised."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        ParamValidationError,
    )

    if isinstance(error, CommandError):
        return str(error), error.exit_code
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code", "Error")
        return f"{code}: {details.get('Message') or error}", 1
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or use "
            "--profile (any values do for a manifestdb server with authentication off)",
            2,
        )
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url', 'the endpoint')}", 2
    if isinstance(error, ParamValidationError):
        return str(error), 2
    return f"{type(error).__name__}: {error}", 1


@contextmanager
def reported_errors(command: str) -> Iterator[None]:
    """Turn AWS and command errors into `manifestdb COMMAND: message` and an exit status."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (CommandError, ClientError, BotoCoreError) as error:
        message, code = describe_error(error)
        typer.echo(f"manifestdb {command}: {message}", err=True)
        raise typer.Exit(code) from None
