"""Who signed a request and what they may do: SigV4 verification and IAM authorization at the edge.

`--auth off` (the default): any request is accepted and acts for the configured account, in the
region of its SigV4 credential scope (`us-east-1` without one), as emulators do.
`--auth sigv4`: each request must carry an `Authorization` header signed with an access key of the
auth file (see `authfile`); the expected signature is computed by botocore's own `SigV4Auth` from
the request as received, restricted to the headers the client signed, at the client's
`X-Amz-Date`, which must be within 15 minutes of the server's clock. The caller then acts for the
account of its user ARN, in the signed region, and each operation is checked against the user's
policy (`policy`) on the resources of `PERMISSIONS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from starlette.requests import Request

from manifestdb.config import DEFAULT_REGION, Settings
from manifestdb.service.context import Caller
from manifestdb.service.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from manifestdb.wire.authfile import User, UserDirectory
from manifestdb.wire.policy import PERMISSIONS, Policy, check_permissions

log = logging.getLogger("manifestdb.auth")

AUTH_MODES = ("off", "sigv4")
SERVICE = "rekognition"
ALGORITHM = "AWS4-HMAC-SHA256"
WINDOW = timedelta(minutes=15)
TIMESTAMP = "%Y%m%dT%H%M%SZ"
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/(?P<region>[a-z0-9-]{1,32})/")
_REGION = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller; `policy` None means everything is allowed (auth off)."""

    caller: Caller
    policy: Policy | None = None


# -- authentication -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The parts of a SigV4 `Authorization` header."""

    access_key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> SignedRequest:
    """The `Authorization` header -> its parts, or IncompleteSignatureException."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported AWS 'algorithm': only {ALGORITHM} (SigV4) is accepted."
        )
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, equals, content = item.strip().partition("=")
        if equals:
            parts[name] = content
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not parts.get(name)
    ]
    if missing:
        raise IncompleteSignatureException(" ".join(missing))
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or not all(scope):
        raise IncompleteSignatureException(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            "keyid/date/region/service/term."
        )
    return SignedRequest(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        terminator=scope[4],
        signed_headers=tuple(parts["SignedHeaders"].split(";")),
        signature=parts["Signature"],
    )


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's SigV4 signer, told which headers the client signed instead of choosing them."""

    def __init__(self, credentials: Credentials, region: str, headers: HTTPHeaders) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = headers

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        return self._signed


def expected_signature(
    signed: SignedRequest, user: User, request: AWSRequest, headers: HTTPHeaders
) -> str:
    """The signature botocore computes for `request` with the user's secret, at its X-Amz-Date."""
    signer = _ReceivedRequestSigner(
        Credentials(user.access_key_id, user.secret_access_key), signed.region, headers
    )
    canonical = signer.canonical_request(request)
    return str(signer.signature(signer.string_to_sign(request, canonical), request))


class Authenticator:
    """Authenticates requests and authorizes operations for one server process."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        if settings.auth not in AUTH_MODES:
            raise ValueError(f"auth mode must be one of {', '.join(AUTH_MODES)}")
        self.settings = settings
        self.clock = clock
        self.users: UserDirectory | None = None
        if settings.auth == "sigv4":
            if settings.auth_file is None:
                raise ValueError("--auth sigv4 needs --auth-file")
            self.users = UserDirectory(settings.auth_file)

    def authenticate_request(self, request: Request, body: bytes) -> Identity:
        """`authenticate` for a Starlette request whose body has been read."""
        raw_path = request.scope.get("raw_path")
        path = (
            raw_path.decode("utf-8", "replace")
            if isinstance(raw_path, bytes)
            else quote(request.url.path)
        )
        query = request.scope.get("query_string", b"").decode("utf-8", "replace")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        return self.authenticate(request.method, path, query, headers, body)

    def authenticate(
        self,
        method: str,
        path: str,
        query: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
    ) -> Identity:
        """The identity a request acts as, or the AWS authentication error it deserves."""
        received = HTTPHeaders()
        for name, value in headers:
            received[name.lower()] = value
        authorization = received.get("authorization")
        if self.users is None:
            return Identity(self._anonymous(authorization))
        if not authorization:
            if "x-amz-signature=" in query.lower():
                raise MissingAuthenticationTokenException(
                    "Missing Authentication Token: query-string (presigned) signatures are not "
                    "supported by manifestdb; sign with an Authorization header."
                )
            raise MissingAuthenticationTokenException("Missing Authentication Token")
        signed = parse_authorization(authorization)
        amz_date = self._check_date(received.get("x-amz-date"), signed)
        self._check_scope(signed, amz_date)
        if received.get("x-amz-security-token") is not None:
            raise UnrecognizedClientException(
                f"{INVALID_TOKEN} manifestdb does not accept temporary credentials (session "
                "tokens): sign with an access key of its auth file."
            )
        user = self.users.lookup(signed.access_key_id)
        if user is None:
            raise UnrecognizedClientException(INVALID_TOKEN)
        self._check_signature(signed, user, amz_date, method, path, query, received, body)
        return Identity(Caller(user.account, signed.region, user.arn), user.policy)

    def authorize(self, identity: Identity, operation: str, params: Mapping[str, Any]) -> None:
        """AccessDeniedException unless the identity may run `operation` with these params."""
        if identity.policy is not None:
            needed = PERMISSIONS[operation](identity.caller, params)
            check_permissions(identity.policy, identity.caller.principal, needed)

    def _anonymous(self, authorization: str | None) -> Caller:
        region = DEFAULT_REGION
        match = _SCOPE.search(authorization) if authorization else None
        if match:
            region = match["region"]
        account = self.settings.account
        return Caller(account=account, region=region, principal=f"arn:aws:iam::{account}:root")

    def _check_date(self, amz_date: str | None, signed: SignedRequest) -> str:
        if amz_date is None:
            raise IncompleteSignatureException(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header. manifestdb reads X-Amz-Date."
            )
        if not _AMZ_DATE.match(amz_date) or _parse_time(amz_date) is None:
            raise IncompleteSignatureException(
                "X-Amz-Date must be in ISO-8601 'basic format' (YYYYMMDD'T'HHMMSS'Z')."
            )
        if signed.date != amz_date[:8]:
            raise InvalidSignatureException(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                f"from HTTP: '{signed.date[:8]}' != '{amz_date[:8]}', from '{amz_date}'."
            )
        return amz_date

    def _check_scope(self, signed: SignedRequest, amz_date: str) -> None:
        if signed.service != SERVICE:
            raise InvalidSignatureException(
                f"Credential should be scoped to correct service: '{SERVICE}'."
            )
        if not _REGION.match(signed.region):
            raise InvalidSignatureException("Credential should be scoped to a valid region.")
        if signed.terminator != "aws4_request":
            raise InvalidSignatureException(
                "Credential should be scoped with a valid terminator: 'aws4_request'."
            )
        signed_at = _parse_time(amz_date)
        now = datetime.fromtimestamp(int(self.clock()), UTC)
        assert signed_at is not None  # checked by _check_date
        if signed_at < now - WINDOW:
            raise InvalidSignatureException(
                f"Signature expired: {amz_date} is now earlier than "
                f"{_format(now - WINDOW)} ({_format(now)} - 15 min.)"
            )
        if signed_at > now + WINDOW:
            raise InvalidSignatureException(
                f"Signature not yet current: {amz_date} is still later than "
                f"{_format(now + WINDOW)} ({_format(now)} + 15 min.)"
            )

    def _check_signature(
        self,
        signed: SignedRequest,
        user: User,
        amz_date: str,
        method: str,
        path: str,
        query: str,
        received: HTTPHeaders,
        body: bytes,
    ) -> None:
        names = {name.strip().lower() for name in signed.signed_headers}
        if "host" not in names:
            raise InvalidSignatureException(
                "'Host' must be a 'SignedHeader' in the AWS Authorization."
            )
        if "x-amz-target" in received and "x-amz-target" not in names:
            # A manifestdb choice: an unsigned target would let the signature be replayed on
            # another operation. Every AWS SDK signs it.
            raise InvalidSignatureException("'X-Amz-Target' must be a 'SignedHeader'.")
        claimed_hash = received.get("x-amz-content-sha256")
        if claimed_hash is not None and not hmac.compare_digest(
            claimed_hash.encode("utf-8", "replace"), hashlib.sha256(body).hexdigest().encode()
        ):
            raise InvalidSignatureException(
                "The provided 'x-amz-content-sha256' header does not match what was computed."
            )
        to_sign = HTTPHeaders()
        for name in sorted(names):
            for value in received.get_all(name) or [""]:
                to_sign[name] = value
        # The host part of the URL is never used: the Host header comes from `to_sign`.
        request = AWSRequest(
            method=method.upper(),
            url=f"http://manifestdb{path}" + (f"?{query}" if query else ""),
            data=body,
        )
        request.context["timestamp"] = amz_date
        try:
            expected = expected_signature(signed, user, request, to_sign)
        except Exception:  # a request botocore cannot canonicalize cannot have been signed
            log.debug("cannot compute the signature of a request", exc_info=True)
            raise InvalidSignatureException(MISMATCH) from None
        if not hmac.compare_digest(expected.encode(), signed.signature.encode("utf-8", "replace")):
            raise InvalidSignatureException(MISMATCH)

    # -- SIGHUP: re-read the auth file ------------------------------------------------------------

    def watch_reload_signal(self, loop: asyncio.AbstractEventLoop) -> None:
        """Re-read the auth file on SIGHUP (auth sigv4 only; off the event loop's thread)."""
        users = self.users
        if users is None:
            return
        try:
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, users.reload))
        except (NotImplementedError, RuntimeError, ValueError):
            log.warning(
                "SIGHUP cannot be watched here: restart the server to re-read the auth file"
            )

    def stop_watching(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.users is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGHUP)


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def _format(moment: datetime) -> str:
    return moment.strftime(TIMESTAMP)


def sign_request(
    method: str,
    url: str,
    region: str,
    access_key: str,
    secret_key: str,
    token: str | None = None,
    body: bytes = b"",
) -> dict[str, str]:
    """Headers that SigV4-sign a request to this server (the `manifestdb` CLI's own calls)."""
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials(access_key, secret_key, token), SERVICE, region).add_auth(request)
    return dict(request.headers.items())
