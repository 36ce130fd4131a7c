"""HTTP/1.1 over a plain socket, for what an HTTP library will not send or hides: malformed
requests, a body cut in two, many requests on one connection at a few microseconds each."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

JSON_11 = "application/x-amz-json-1.1"
TARGET_PREFIX = "RekognitionService."
_INTERIM = re.compile(rb"HTTP/1\.[01] 1\d\d ")


class ConnectionClosed(ConnectionError):
    """The server closed the connection before a whole response; `received` is what came."""

    def __init__(self, received: bytes) -> None:
        super().__init__(f"the server closed the connection after {received[:300]!r}")
        self.received = received


class Headers(Mapping[str, str]):
    """A response's headers, looked up by name in any case; iteration gives the names as sent."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs
        self._by_name = {name.lower(): value for name, value in pairs}

    def __getitem__(self, name: str) -> str:
        return self._by_name[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __repr__(self) -> str:
        return f"Headers({self.pairs!r})"


@dataclass
class RawResponse:
    """One response as it came off the socket."""

    status: int
    headers: Headers
    body: bytes
    head: bytes = field(repr=False)

    @property
    def closes(self) -> bool:
        """Whether the server said it closes the connection after this response."""
        return self.headers.get("connection", "").lower() == "close"


class ResponseReader:
    """Reads the responses on a socket one after another (keep-alive), keeping the bytes that
    came after a response for the next one. 1xx interim responses (100 Continue) are skipped.

    A socket timeout propagates as TimeoutError; `received` then holds what came so far. A
    response without Content-Length has no body (the server always sends one).
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received = b""

    def read(self) -> RawResponse:
        """The next whole response."""
        while True:
            head_end = self._until(b"\r\n\r\n")
            head = self.received[:head_end]
            if not _INTERIM.match(head):
                break
            self.received = self.received[head_end + 4 :]
        status_line, *lines = head.decode("latin-1").split("\r\n")
        pairs = [
            (name.strip(), value.strip()) for name, _, value in (h.partition(":") for h in lines)
        ]
        headers = Headers(pairs)
        length = int(headers.get("content-length", "0"))
        start = head_end + 4
        while len(self.received) < start + length:
            self._receive()
        body = self.received[start : start + length]
        self.received = self.received[start + length :]
        return RawResponse(int(status_line.split()[1]), headers, body, head)

    def _until(self, marker: bytes) -> int:
        while (found := self.received.find(marker)) < 0:
            self._receive()
        return found

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed(self.received)
        self.received += chunk


def read_response(sock: socket.socket) -> RawResponse:
    """The first response on `sock` (see ResponseReader)."""
    return ResponseReader(sock).read()


def connect(url: str, timeout: float = 10.0) -> socket.socket:
    """A TCP connection to the host and port of `url` (http://host:port...), without Nagle's
    delay so a small request leaves at once."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def request_head(operation: str | None, host: str = "127.0.0.1", **headers: str) -> bytes:
    """The head of `POST /` for an operation (None: no X-Amz-Target), with JSON 1.1 content
    type; more headers with `_` for `-` (Content_Length="12")."""
    lines = ["POST / HTTP/1.1", f"Host: {host}"]
    if operation is not None:
        lines.append(f"X-Amz-Target: {TARGET_PREFIX}{operation}")
    lines.append(f"Content-Type: {JSON_11}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RawClient:
    """One keep-alive connection that sends one prebuilt request again and again, as wrk does:
    a few microseconds of client CPU a request (urllib3 spends ~0.5 ms)."""

    def __init__(self, url: str, operation: str, body: bytes, timeout: float = 60.0) -> None:
        self.url = url
        self.timeout = timeout
        self.request = request_head(operation, Content_Length=str(len(body))) + body
        self.sock: socket.socket | None = None
        self.reader: ResponseReader | None = None

    def send(self) -> tuple[int, bytes]:
        """The status and body of one request (on a new connection if the last one closed)."""
        if self.sock is None or self.reader is None:
            self.sock = connect(self.url, self.timeout)
            self.reader = ResponseReader(self.sock)
        try:
            self.sock.sendall(self.request)
            response = self.reader.read()
        except BaseException:
            self.close()
            raise
        if response.closes:
            self.close()
        return response.status, response.body

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = self.reader = None
