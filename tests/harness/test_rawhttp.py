"""manifestdb.harness.rawhttp: responses read off a socket as the server sends them, in pieces,
several on one connection, after a 100 Continue, or cut short."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from manifestdb.harness import (
    ConnectionClosed,
    RawClient,
    ResponseReader,
    ServerProcess,
    read_response,
    request_head,
)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(the server's end, the client's end) of a connected pair of sockets."""
    server, client = socket.socketpair()
    client.settimeout(5)
    with server, client:
        yield server, client


def test_a_response_in_pieces_is_read_whole(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Amzn-RequestId: r1\r\n\r\n0123456789"

    def send_in_pieces() -> None:
        for index in range(0, len(response), 7):
            server.sendall(response[index : index + 7])

    sender = threading.Thread(target=send_in_pieces)
    sender.start()
    answer = read_response(client)
    sender.join()
    assert (answer.status, answer.body) == (200, b"0123456789")
    assert answer.headers["x-amzn-requestid"] == answer.headers["X-Amzn-RequestId"] == "r1"
    assert list(answer.headers) == ["Content-Length", "X-Amzn-RequestId"]
    assert "content-length" in answer.headers and "Connection" not in answer.headers
    assert not answer.closes


def test_responses_on_one_connection_and_a_100_continue(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    server.sendall(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx"
    )
    reader = ResponseReader(client)
    first, second = reader.read(), reader.read()
    assert (first.status, first.body) == (200, b"{}")
    assert (second.status, second.body, second.closes) == (400, b"x", True)
    assert reader.received == b""


def test_no_content_length_is_an_empty_body(pair: tuple[socket.socket, socket.socket]) -> None:
    server, client = pair
    server.sendall(b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    reader = ResponseReader(client)
    assert (reader.read().status, reader.read().status) == (204, 200)


def test_a_close_mid_response_raises_with_what_came(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    server.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234")
    server.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionClosed) as closed:
        read_response(client)
    assert closed.value.received.endswith(b"01234")


def test_a_timeout_leaves_what_came_in_the_reader(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    server, client = pair
    client.settimeout(0.2)
    server.sendall(b"HTTP/1.1 200 OK\r\n")
    reader = ResponseReader(client)
    with pytest.raises(TimeoutError):
        reader.read()
    assert reader.received == b"HTTP/1.1 200 OK\r\n"


def test_request_head() -> None:
    head = request_head("DescribeProjects", Content_Length="2", X_Pad="a")
    assert head == (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: RekognitionService.DescribeProjects"
        b"\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: 2\r\nX-Pad: a\r\n\r\n"
    )
    assert b"X-Amz-Target" not in request_head(None)


def test_the_raw_client_against_a_server(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data", ["--in-memory"]) as server:
        raw = RawClient(server.url, "DescribeProjects", b"{}")
        try:
            assert [raw.send() for _ in range(3)] == [(200, b'{"ProjectDescriptions":[]}')] * 3
            wrong = RawClient(server.url, "DescribeDataset", b"{}")
            status, body = wrong.send()
            assert status == 400 and b"ValidationException" in body
            wrong.close()
        finally:
            raw.close()
