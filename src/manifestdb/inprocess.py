"""An ASGI app served inside the calling process: no socket, its own event loop thread.

`manifestdb.testing` uses it to answer botocore's requests with the real app (lifespan included,
so the job runner runs) while the caller's thread, and any event loop it runs, stay untouched.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

REQUEST_TIMEOUT = 300.0


class RawBody:
    """The raw body object botocore reads an AWSResponse's content from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kwargs: Any) -> Any:
        yield self._body

    def read(self, *_args: Any) -> bytes:
        body, self._body = self._body, b""
        return body


class AsgiHost:
    """Runs an ASGI app with its lifespan on a private event loop thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="manifestdb-mock", daemon=True)
        self.state: dict[str, Any] = {}
        self._to_app: asyncio.Queue[dict[str, Any]] | None = None
        self._events: dict[str, asyncio.Future[None]] = {}
        self._task: asyncio.Task[None] | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coroutine: Any, timeout: float = REQUEST_TIMEOUT) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def start(self) -> None:
        self.thread.start()
        try:
            self.call(self._lifespan("startup"))
        except BaseException:
            self.stop(lifespan=False)
            raise

    def stop(self, lifespan: bool = True) -> None:
        try:
            if lifespan and self._task is not None:
                self.call(self._lifespan("shutdown"))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(30)
            if not self.thread.is_alive():
                self.loop.close()

    async def _lifespan(self, phase: str) -> None:
        if self._to_app is None:
            self._to_app = asyncio.Queue()
            loop = asyncio.get_running_loop()
            self._events = {"startup": loop.create_future(), "shutdown": loop.create_future()}
            scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
            self._task = loop.create_task(self.app(scope, self._to_app.get, self._lifespan_sent))
        await self._to_app.put({"type": f"lifespan.{phase}"})
        assert self._task is not None
        done = self._events[phase]
        await asyncio.wait({done, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not done.done():
            self._task.result()  # the app ended without answering: raise what it raised
            raise RuntimeError(f"the app ended during lifespan {phase}")
        done.result()

    async def _lifespan_sent(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        for phase, future in self._events.items():
            if future.done():
                continue
            if kind == f"lifespan.{phase}.complete":
                future.set_result(None)
            elif kind == f"lifespan.{phase}.failed":
                future.set_exception(RuntimeError(message.get("message") or f"{phase} failed"))

    async def request(
        self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Send one HTTP request through the app; (status, headers, body) of its response."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": parts.scheme or "http",
            "path": unquote(parts.path) or "/",
            "raw_path": (parts.path or "/").encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": (parts.hostname or "localhost", port),
            "state": dict(self.state),
        }
        finished = asyncio.Event()
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        status = 500
        response_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await finished.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_headers.extend(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    finished.set()

        try:
            await self.app(scope, receive, send)
        finally:
            finished.set()
        return status, response_headers, b"".join(chunks)
