"""Running the ASGI app under uvicorn, with a stop on SIGTERM/SIGINT that exits 0."""

from __future__ import annotations

import asyncio
import uuid
from types import FrameType
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from manifestdb.config import Settings

GRACEFUL_STOP_SECONDS = 30
MAX_HEAD_BYTES = 16 * 1024  # the request line and headers; h11's default, which we served before
_HEAD_TOO_LARGE = (
    f"The request line and headers are over {MAX_HEAD_BYTES // 1024} KiB."
    " Send shorter headers; the request itself goes in the JSON body."
)


class _Server(uvicorn.Server):
    """uvicorn re-raises the stop signal after a graceful shutdown, so the process would end
    'killed by SIGTERM'; a stop we handled in full is a clean exit for supervisors and scripts."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


class _HeadTooLarge(Exception):
    """Raised from a parser callback; httptools hands it back wrapped in an HttpParserError."""


class _Protocol(HttpToolsProtocol):
    """uvicorn's httptools (llhttp) protocol with three guards it lacks.

    - A request deadline: a connection must deliver complete request headers within
      `request_timeout` seconds of being opened or of its last response, else it is closed.
      uvicorn's keep-alive timer starts only after a first response and every byte received
      cancels it, so an idle or dripping client would otherwise hold its socket forever (and after
      a 413 the unread rest of a body would be drained for as long as the client sends it).
      The body has its own deadline in `wire.body.read_body`.
    - A size limit on the request line and headers (`MAX_HEAD_BYTES`): llhttp has none, and
      buffers a header that never ends for as long as it is sent.
    - A request that is not valid HTTP/1.x gets an AWS JSON error like every other answer.
    """

    request_timeout: float = 60.0
    _request_deadline: asyncio.TimerHandle | None = None
    _head_bytes = 0  # bytes received since the current request began, while its head is incomplete
    _in_head = True
    _refusal = ""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_request()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._await_request()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._request_deadline is not None:
            self._request_deadline.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self.send_400_response(_HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEAD_BYTES:
            self._refusal = _HEAD_TOO_LARGE
            raise _HeadTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True

    def _await_request(self) -> None:
        if self._request_deadline is not None:
            self._request_deadline.cancel()
        self._request_deadline = self.loop.call_later(
            self.request_timeout, self._request_overdue, self.cycle
        )

    def _request_overdue(self, waited_since: Any) -> None:
        if self.cycle is waited_since and (self.cycle is None or self.cycle.response_complete):
            self.timeout_keep_alive_handler()  # closes the connection

    def send_400_response(self, msg: str) -> None:
        request_id = str(uuid.uuid4())
        code = "BadRequestException"
        message = self._refusal or f"{msg} Send HTTP/1.1 POST / with an X-Amz-Target header."
        body = orjson.dumps(
            {"__type": code, "Message": message, "Code": code, "Logref": request_id}
        )
        head = (
            "HTTP/1.1 400 Bad Request\r\n"
            "content-type: application/x-amz-json-1.1\r\n"
            f"x-amzn-requestid: {request_id}\r\n"
            f"x-amzn-errortype: {code}\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.transport.close()


def run_server(app: Starlette, settings: Settings) -> None:
    """Serve until stopped: SIGTERM/SIGINT stop accepting, let the running job finish, exit 0."""
    protocol = type("ManifestdbHttp", (_Protocol,), {"request_timeout": settings.request_timeout})
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_STOP_SECONDS,
        http=protocol,
        # uvicorn would take X-Forwarded-Proto/For from any loopback peer; the console trusts
        # them only from --trusted-proxy (console.session.own_origin).
        proxy_headers=False,
    )
    _Server(config).run()
