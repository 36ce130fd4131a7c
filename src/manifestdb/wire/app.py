"""The HTTP face: an ASGI app that serves the Rekognition JSON 1.1 API and manifestdb's extras.

Routes: `POST /` (every operation, by `X-Amz-Target`), `GET /_manifestdb/health`, and
`GET /_manifestdb/datasets/{dataset ARN}/updates` (update reports). Every answer is JSON with an
`x-amzn-RequestId`; every error is an AWS-style error, never a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from manifestdb import __version__
from manifestdb.config import Settings
from manifestdb.jobs.runner import Runner
from manifestdb.service import OPERATIONS, Service
from manifestdb.service.errors import (
    InternalServerError,
    RequestEntityTooLargeException,
    ServiceError,
    UnknownOperationException,
)
from manifestdb.store import Store
from manifestdb.wire.auth import Authenticator
from manifestdb.wire.protocol import CONTENT_TYPE, Protocol
from manifestdb.wire.reports import updates_endpoint

access_log = logging.getLogger("manifestdb.access")
INLINE_READS = frozenset({"DescribeDataset", "DescribeProjects", "ListDatasetLabels"})
log = logging.getLogger("manifestdb")


class Api:
    """Glue between HTTP and the service: parse, authorize, call, serialize, log."""

    def __init__(self, settings: Settings, store: Store, runner: Runner | None) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner
        self.service = Service(store, settings, on_job=runner.notify if runner else None)
        self.protocol = Protocol(OPERATIONS)
        self.auth = Authenticator(settings)
        # Sub-millisecond SQLite reads run on the event loop: handing them to a worker thread
        # cost more than the read (anything that may wait on a lock or the network does not).
        self.inline_operations = INLINE_READS if store.dialect == "sqlite" else frozenset()

    async def rekognition(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        operation = logged_operation(request.headers.get("x-amz-target"))
        try:
            body = await read_body(request, self.settings.max_body_bytes)
            identity = self.auth.authenticate_request(request, body)
            operation, params = self.protocol.parse(
                request.headers.get("x-amz-target"), request.headers.get("content-type"), body
            )
            self.auth.authorize(identity, operation, params)
            if operation in self.inline_operations:
                result = self.service.call(operation, identity.caller, params)
            else:
                result = await run_in_threadpool(
                    self.service.call, operation, identity.caller, params
                )
            response = self.respond(self.protocol.serialize(operation, result), 200, request_id)
        except ServiceError as error:
            response = self.error(error, request_id)
        except Exception:
            log.exception("unexpected error in %s (request %s)", operation, request_id)
            response = self.error(
                InternalServerError(f"An internal error occurred. Request id: {request_id}."),
                request_id,
            )
        access_log.info(
            "%s %d %.1fms", operation, response.status_code, (time.perf_counter() - started) * 1000
        )
        return response

    def respond(self, body: bytes, status: int, request_id: str, **headers: str) -> Response:
        return Response(
            body,
            status_code=status,
            media_type=CONTENT_TYPE,
            headers={"x-amzn-RequestId": request_id, **headers},
        )

    def error(self, error: ServiceError, request_id: str) -> Response:
        # A body cut off by its deadline is unread: the connection cannot carry another request.
        closing = {"Connection": "close"} if isinstance(error, RequestTimeoutException) else {}
        return self.respond(
            self.protocol.error_body(error, request_id),
            error.status,
            request_id,
            **{"X-Amzn-Errortype": error.code},
            **closing,
        )

    async def health(self, _request: Request) -> Response:
        body = {"status": "ok", "version": __version__, "database": self.store.dialect}
        return Response(
            orjson.dumps(body),
            media_type="application/json",
            headers={"x-amzn-RequestId": str(uuid.uuid4())},
        )

    async def not_found(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        error = UnknownOperationException(
            # The scope's path, not request.url: building the URL parses the Host header, and a
            # Host such as "[" makes that raise (a 500 instead of this error).
            f"No route for {request.method} {request.scope.get('path', '')}. Rekognition "
            "requests are POST / with an X-Amz-Target header."
        )
        error.status = status  # type: ignore[misc]
        return self.error(error, str(uuid.uuid4()))


_TARGET = re.compile(r"RekognitionService\.([A-Za-z]{1,64})")


def logged_operation(target: str | None) -> str:
    """The operation a request names, for the access log even when it is refused ('-': none)."""
    match = _TARGET.fullmatch(target or "")
    return match[1] if match else "-"


class RequestTimeoutException(ServiceError):
    """The body did not arrive within the request timeout (botocore retries this code)."""

    code = "RequestTimeoutException"
    status = 408


class ClientClosedRequest(ServiceError):
    """The client went away before its body was read: logged as 499 (nginx's name), not 500."""

    code = "ClientClosedRequest"
    status = 499


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused without reading it whole when it is over `limit` bytes, and
    cut off when it takes longer than the server's `request_timeout` to arrive."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    api = getattr(request.app.state, "api", None)
    timeout = api.settings.request_timeout if isinstance(api, Api) else None
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                parts.append(chunk)
    except ClientDisconnect:
        raise ClientClosedRequest("The client closed the connection while sending.") from None
    except TimeoutError:
        raise RequestTimeoutException(
            f"The request body did not arrive within {timeout:g} seconds ({size} bytes came). "
            "Send it again; on a slow link, ask the operator to raise --request-timeout."
        ) from None
    return b"".join(parts)


def _too_large(limit: int) -> ServiceError:
    return RequestEntityTooLargeException(
        f"The request body is larger than {limit} bytes. UpdateDatasetEntries takes at most "
        "5 MiB of changes a call: split the manifest (`manifestdb push` does it for you)."
    )


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    """The ASGI app of one server process (it owns the store unless one is given)."""
    store = store or Store(settings.store_url())
    runner = Runner(store, settings) if settings.runner else None
    api = Api(settings, store, runner)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        api.auth.watch_reload_signal(asyncio.get_running_loop())
        if runner:
            # Embedded SQLite has one server process: whatever was running is from our last run.
            runner.start(requeue=store.dialect == "sqlite")
        log.info(
            "manifestdb %s serving (%s, limits %s)",
            __version__,
            store.dialect,
            settings.limits.name,
        )
        try:
            yield
        finally:
            api.auth.stop_watching(asyncio.get_running_loop())
            if runner:
                await run_in_threadpool(runner.stop)
            store.close()

    handlers: dict[Any, Any] = {404: api.not_found, 405: api.not_found}
    app = Starlette(
        routes=[
            Route("/", api.rekognition, methods=["POST"]),
            Route("/_manifestdb/health", api.health, methods=["GET"]),
            Route(
                "/_manifestdb/datasets/{arn:path}/updates", updates_endpoint(api), methods=["GET"]
            ),
        ],
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.api = api
    return app
