"""Who is using the console: a login with an access key of the auth file, its session cookie and
its CSRF token.

- `--auth off`: no login; every console request acts as the account's root, as the API does.
- `--auth sigv4`: `POST /console/api/login` takes an access key id and secret of the auth file
  (JSON `{"AccessKeyId", "SecretAccessKey", "Region"}`) and answers with a session cookie:
  `HttpOnly` (no script reads it), `SameSite=Strict` (no other site sends it), `Path=/console`,
  a `Max-Age` of `--console-session-hours`, and `Secure` with `--secure-cookies`. The session is
  kept in the database by the hash of its token (`service.sessions`), so every server process of
  a deployment knows it and logging out (`POST /console/api/logout`) ends it everywhere.
  A console request then acts as that user, authorized exactly as the API would authorize the
  same action for them; a request signed with SigV4 (a script) needs no session.
- Every state-changing console request (a POST, the login included) must come from the console's
  own page (`refuse_cross_origin`: the header `X-Manifestdb-Console: 1`, and `Sec-Fetch-Site` and
  `Origin` when the browser sends them; the origin is this server's as the browser sees it,
  `own_origin`: behind a TLS proxy of `--trusted-proxy`, its X-Forwarded-Proto and -Host) and,
  but for the login, carry the session's CSRF token in `X-CSRF-Token` (`GET
  /console/api/session` gives it to the page, never in a cookie). With `--auth off` there is
  no session: the header `X-CSRF-Token: off` and the page rule stand.
- The secret is compared in constant time and never logged, stored or echoed.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from manifestdb.config import Network, Settings
from manifestdb.service import Caller, Service
from manifestdb.service.errors import (
    AccessDeniedException,
    CrossOriginRequestRefused,
    InvalidParameterException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from manifestdb.service.sessions import SessionRecord
from manifestdb.wire.auth import Authenticator, Identity
from manifestdb.wire.body import read_body
from manifestdb.wire.pipeline import Call

COOKIE = "manifestdb_session"
CSRF_HEADER = "x-csrf-token"
CONSOLE_HEADER = "x-manifestdb-console"
NO_SESSION_CSRF = "off"  # the CSRF header's value with --auth off
MAX_LOGIN_BYTES = 4096
DEFAULT_REGION = "us-east-1"
_LOGIN_REFUSED = "The access key id or the secret access key is not right."


class SessionRequired(MissingAuthenticationTokenException):
    """A console request with neither a session nor a signature (`--auth sigv4`)."""


class Sessions:
    """Resolves the identity of console requests and serves login, logout and the session."""

    def __init__(self, service: Service, auth: Authenticator, settings: Settings) -> None:
        self.service = service
        self.auth = auth
        self.settings = settings

    @property
    def login_needed(self) -> bool:
        return self.auth.users is not None

    # -- who is asking ---------------------------------------------------------------------------

    async def session_of(self, request: Request) -> SessionRecord | None:
        token = request.cookies.get(COOKIE)
        if not token or not self.login_needed:
            return None
        return await run_in_threadpool(self.service.find_session, token)

    async def identity(self, request: Request, body: bytes = b"") -> Identity:
        """The identity a console request acts as (`body`: what was read of it, for a SigV4
        signature), or the AWS authentication error."""
        if not self.login_needed or "authorization" in request.headers:
            return self.auth.authenticate_request(request, body)
        record = await self.session_of(request)
        if record is None:
            raise SessionRequired(
                "Missing Authentication Token: log in to the console (POST /console/api/login "
                "with an access key of the auth file), or sign the request with SigV4."
            )
        return self._identity_of(record)

    def _identity_of(self, record: SessionRecord) -> Identity:
        users = self.auth.users
        user = users.lookup(record.access_key_id) if users is not None else None
        if user is None:  # the key left the auth file since the login
            raise UnrecognizedClientException(
                "The access key of this console session is no longer in the auth file: log in "
                "again."
            )
        return Identity(Caller(user.account, record.region, user.arn), user.policy)

    async def check_change(self, request: Request) -> None:
        """A state-changing request: from the console's own page, with the CSRF token."""
        refuse_cross_origin(request, self.settings.trusted_proxies)
        sent = request.headers.get(CSRF_HEADER, "")
        if "authorization" in request.headers:
            return  # signed with SigV4: no cookie is involved, nothing to forge
        if not self.login_needed:
            expected = NO_SESSION_CSRF
        else:
            record = await self.session_of(request)
            expected = record.csrf if record is not None else ""
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise AccessDeniedException(
                "The console change lacks its CSRF token: send the header X-CSRF-Token with the "
                "token of GET /console/api/session (reload the page)."
            )

    # -- routes ----------------------------------------------------------------------------------

    async def login(self, call: Call) -> Response:
        if not self.login_needed:
            raise InvalidParameterException(
                "The server runs with --auth off: the console needs no login."
            )
        # A login has no session yet: the page rule only.
        refuse_cross_origin(call.request, self.settings.trusted_proxies)
        body = await read_body(call.request, MAX_LOGIN_BYTES, self.settings.request_timeout)
        form = _login_form(body)
        users = self.auth.users
        user = users.lookup(form["AccessKeyId"]) if users is not None else None
        secret = form["SecretAccessKey"].encode()
        expected = user.secret_access_key.encode() if user is not None else b"\0" * len(secret)
        if not hmac.compare_digest(secret, expected) or user is None:
            raise UnrecognizedClientException(_LOGIN_REFUSED)
        lifetime = self.settings.console_session_hours * 3600
        token, record = await run_in_threadpool(
            self.service.open_session, user.access_key_id, form["Region"], lifetime
        )
        response = call.json(self._session_document(record))
        response.set_cookie(
            COOKIE,
            token,
            max_age=int(lifetime),
            path="/console",
            secure=self.settings.secure_cookies,
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout(self, call: Call) -> Response:
        await self.check_change(call.request)
        token = call.request.cookies.get(COOKIE)
        if token and self.login_needed:
            await run_in_threadpool(self.service.close_session, token)
        response = call.json({})
        response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")
        return response

    async def session(self, call: Call) -> Response:
        """Who the page acts as, and the CSRF token its changes carry."""
        if not self.login_needed:
            identity = self.auth.authenticate_request(call.request, b"")
            return call.json(
                {
                    "Auth": "off",
                    "User": identity.caller.principal,
                    "Account": identity.caller.account,
                    "Region": identity.caller.region,
                    "CsrfToken": NO_SESSION_CSRF,
                }
            )
        record = await self.session_of(call.request)
        if record is None:
            raise SessionRequired("Missing Authentication Token: log in to the console.")
        return call.json(self._session_document(record))

    def _session_document(self, record: SessionRecord) -> dict[str, Any]:
        identity = self._identity_of(record)
        return {
            "Auth": "sigv4",
            "User": identity.caller.principal,
            "Account": identity.caller.account,
            "Region": record.region,
            "CsrfToken": record.csrf,
            "ExpiresAt": record.expires_at,
        }


def _login_form(body: bytes) -> dict[str, str]:
    try:
        form = orjson.loads(body)
    except orjson.JSONDecodeError:
        form = None
    if not isinstance(form, dict):
        raise InvalidParameterException(
            'Send the login as a JSON object: {"AccessKeyId": ..., "SecretAccessKey": ..., '
            '"Region": ...}.'
        )
    missing = [name for name in ("AccessKeyId", "SecretAccessKey") if not form.get(name)]
    if missing:
        raise InvalidParameterException(f"The login needs {' and '.join(missing)}.")
    region = form.get("Region") or DEFAULT_REGION
    values = [form["AccessKeyId"], form["SecretAccessKey"], region]
    if not all(isinstance(value, str) and 0 < len(value) <= 256 for value in values):
        raise InvalidParameterException(
            "AccessKeyId, SecretAccessKey and Region must be strings of 1 to 256 characters."
        )
    if not all(part.isalnum() for part in region.split("-")):
        raise InvalidParameterException(
            f"Region {region[:40]!r} is not a region such as us-east-1."
        )
    return {"AccessKeyId": values[0], "SecretAccessKey": values[1], "Region": region}


# What a proxy may say in X-Forwarded-Host: a host name or [IPv6] address, and a port.
_FORWARDED_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
FORWARDED_PROTO, FORWARDED_HOST = "x-forwarded-proto", "x-forwarded-host"


def own_origin(request: Request, trusted_proxies: tuple[Network, ...] = ()) -> str:
    """This server's origin as the browser sees it: the scope's scheme and the Host header, or,
    for a request whose peer is a trusted proxy, its X-Forwarded-Proto and X-Forwarded-Host
    (the first value of each: the one the client-facing proxy wrote)."""
    # The scope's scheme and the Host header: request.url would parse a hostile Host.
    scheme = request.scope.get("scheme", "http")
    host = request.headers.get("host", "")
    if _from_trusted_proxy(request, trusted_proxies):
        proto = request.headers.get(FORWARDED_PROTO, "").split(",")[0].strip().lower()
        forwarded = request.headers.get(FORWARDED_HOST, "").split(",")[0].strip()
        if proto in ("http", "https"):
            scheme = proto
        if _FORWARDED_HOST.fullmatch(forwarded):
            host = forwarded
    return f"{scheme}://{host}"


def _from_trusted_proxy(request: Request, trusted_proxies: tuple[Network, ...]) -> bool:
    client = request.scope.get("client")
    if not trusted_proxies or not client:
        return False
    try:
        peer = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(peer in network for network in trusted_proxies)


def refuse_cross_origin(request: Request, trusted_proxies: tuple[Network, ...] = ()) -> None:
    """AccessDeniedException (403) unless a state-changing request comes from the console's page."""
    if request.headers.get(CONSOLE_HEADER) != "1":
        raise CrossOriginRequestRefused(
            "A change through the console must come from the console's page: the request lacks "
            "the header X-Manifestdb-Console: 1."
        )
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        raise CrossOriginRequestRefused(
            f"A change through the console must come from the console's page; this request "
            f"came from a {site} page (Sec-Fetch-Site)."
        )
    origin = request.headers.get("origin")
    own = own_origin(request, trusted_proxies)
    if origin is not None and origin != own:
        hint = ""
        if (
            FORWARDED_PROTO in request.headers or FORWARDED_HOST in request.headers
        ) and not _from_trusted_proxy(request, trusted_proxies):
            peer = (request.scope.get("client") or ("an unknown address",))[0]
            hint = (
                f" X-Forwarded-Proto and X-Forwarded-Host are not trusted from {peer}: behind a "
                "TLS proxy, start the server with --trusted-proxy and the proxy's address."
            )
        raise CrossOriginRequestRefused(
            f"A change through the console must come from the console's page at {own}; this "
            f"request came from {origin[:200]!r} (Origin).{hint}"
        )
