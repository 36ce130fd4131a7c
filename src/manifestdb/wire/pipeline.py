"""The one request pipeline: every route of the server is a handler wrapped by `Pipeline.endpoint`.

For every request, whatever route it takes, the pipeline
- assigns the request id (`x-amzn-RequestId` on every answer, `Logref` in every error body),
- maps a `ServiceError` to the AWS JSON 1.1 error shape (`__type`, `Message`, `X-Amzn-Errortype`,
  its HTTP status) and any other exception to `InternalServerError` (500, same shape, logged with
  its traceback), so no client ever sees a stack trace or a `text/plain` answer,
- writes one access-log line: `<operation> <status> <milliseconds>ms`.

Routes that Starlette itself refuses (no such path, wrong method) take `Pipeline.no_route`, which
answers the same way.

A fault can be injected for the tests of this promise: in a server started with `MANIFESTDB_FAULT=1`
in its environment, a request carrying the header `X-Manifestdb-Fault` raises an unexpected
exception where its handler runs, on any route (docs/reliability.md). Without the variable the
header is ignored.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from manifestdb.service.errors import (
    InternalServerError,
    RequestTimeoutException,
    ServiceError,
    UnknownOperationException,
)
from manifestdb.wire.protocol import CONTENT_TYPE, error_body_of

FAULT_VARIABLE = "MANIFESTDB_FAULT"
FAULT_HEADER = "x-manifestdb-fault"
access_log = logging.getLogger("manifestdb.access")
log = logging.getLogger("manifestdb")


class InjectedFault(RuntimeError):
    """The unexpected exception `MANIFESTDB_FAULT` raises (tests only)."""


@dataclass
class Call:
    """One request on its way through the pipeline, as a handler sees it."""

    request: Request
    operation: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.perf_counter)

    def json(
        self,
        document: bytes | Mapping[str, Any] | list[Any],
        *,
        status: int = 200,
        media_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """A JSON answer carrying this call's request id (`document` may be serialized already)."""
        body = document if isinstance(document, bytes) else orjson.dumps(document)
        return Response(
            body,
            status_code=status,
            media_type=media_type,
            headers={"x-amzn-RequestId": self.request_id, **(headers or {})},
        )

    def error(self, error: ServiceError, status: int | None = None) -> Response:
        """The AWS JSON error answer of `error`."""
        headers = {"X-Amzn-Errortype": error.code}
        if isinstance(error, RequestTimeoutException):
            # A body cut off by its deadline is unread: the connection cannot carry another request.
            headers["Connection"] = "close"
        return self.json(
            error_body_of(error, self.request_id),
            status=status or error.status,
            media_type=CONTENT_TYPE,
            headers=headers,
        )


Handler = Callable[[Call], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class Pipeline:
    """Wraps handlers into Starlette endpoints that all answer, fail and log the same way."""

    def __init__(self, faults: bool | None = None) -> None:
        if faults is None:
            faults = os.environ.get(FAULT_VARIABLE, "") not in ("", "0")
        self.faults = faults

    def endpoint(self, operation: str | Callable[[Request], str], handler: Handler) -> Endpoint:
        """The endpoint of `handler`; `operation` names its calls in the log (or finds the name
        in the request, as `POST /` does from `X-Amz-Target`)."""
        name_of = operation if callable(operation) else (lambda _request: operation)

        async def endpoint(request: Request) -> Response:
            call = Call(request, name_of(request))
            return await self.run(call, handler)

        return endpoint

    async def run(self, call: Call, handler: Handler) -> Response:
        try:
            if self.faults and FAULT_HEADER in call.request.headers:
                raise InjectedFault(f"fault injected into {call.operation} ({FAULT_HEADER})")
            response = await handler(call)
        except ServiceError as error:
            response = call.error(error)
        except Exception:
            log.exception("unexpected error in %s (request %s)", call.operation, call.request_id)
            response = call.error(
                InternalServerError(f"An internal error occurred. Request id: {call.request_id}.")
            )
        access_log.info(
            "%s %d %.1fms",
            call.operation,
            response.status_code,
            (time.perf_counter() - call.started) * 1000,
        )
        return response

    async def no_route(self, request: Request, exc: Exception) -> Response:
        """Starlette's 404 and 405, as AWS JSON errors through the same pipeline."""
        status = exc.status_code if isinstance(exc, HTTPException) else 404

        async def refuse(call: Call) -> Response:
            error = UnknownOperationException(
                # The scope's path, not request.url: building the URL parses the Host header, and
                # a Host such as "[" makes that raise.
                f"No route for {request.method} {request.scope.get('path', '')}. Rekognition "
                "requests are POST / with an X-Amz-Target header."
            )
            return call.error(error, status)

        return await self.run(Call(request, "-"), refuse)
