"""Running the ASGI app under uvicorn, with a stop on SIGTERM/SIGINT that exits 0."""

from __future__ import annotations

import asyncio
import uuid
from types import FrameType
from typing import Any

import h11
import orjson
import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

from manifestdb.config import Settings

GRACEFUL_STOP_SECONDS = 30


class _Server(uvicorn.Server):
    """uvicorn re-raises the stop signal after a graceful shutdown, so the process would end
    'killed by SIGTERM'; a stop we handled in full is a clean exit for supervisors and scripts."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


class _Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with two guards it lacks.

    - A request deadline: a connection must deliver complete request headers within
      `request_timeout` seconds of being opened or of its last response, else it is closed.
      uvicorn's keep-alive timer starts only after a first response and every byte received
      cancels it, so an idle or dripping client would otherwise hold its socket forever (and after
      a 413 the unread rest of a body would be drained for as long as the client sends it).
      The body has its own deadline in `wire.app.read_body`.
    - A request that is not HTTP/1.1 gets an AWS JSON error like every other answer.
    """

    request_timeout: float = 60.0
    _request_deadline: asyncio.TimerHandle | None = None

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

    def _await_request(self) -> None:
        if self._request_deadline is not None:
            self._request_deadline.cancel()
        self._request_deadline = self.loop.call_later(
            self.request_timeout, self._request_overdue, self.cycle
        )

    def _request_overdue(self, waited_since: Any) -> None:
        if self.cycle is waited_since and (self.cycle is None or self.cycle.response_complete):
            try:
                self.timeout_keep_alive_handler()  # closes the connection
            except h11.LocalProtocolError:
                self.transport.close()

    def send_400_response(self, msg: str) -> None:
        request_id = str(uuid.uuid4())
        code = "BadRequestException"
        body = orjson.dumps(
            {
                "__type": code,
                "Message": f"{msg} Send HTTP/1.1 POST / with an X-Amz-Target header.",
                "Code": code,
                "Logref": request_id,
            }
        )
        headers = [
            (b"content-type", b"application/x-amz-json-1.1"),
            (b"x-amzn-requestid", request_id.encode()),
            (b"x-amzn-errortype", code.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
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
    )
    _Server(config).run()
