"""Resource limits: big bodies are refused unread, slow and stalled clients are cut off, one update
at most waits per dataset, and a full disk gives InternalServerError or SERVICE_ERROR, never
corruption or a dataset stuck *_IN_PROGRESS."""

from __future__ import annotations

import errno
import select
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from reliability_kit import (
    JSON_11,
    Api,
    check_counters,
    integrity_check,
    job_states,
    marked_change,
    new_dataset,
    read_only,
    snapshot,
    update,
)

from manifestdb.harness import connect, request_head
from support.raw import read_answer

TIMEOUT = 2.0  # the servers' --request-timeout here
SLACK = 3.0  # seconds a cut-off may take beyond it on a busy CI machine


@pytest.fixture(scope="module")
def strict(start_server: Any) -> Any:
    return start_server("--request-timeout", str(TIMEOUT))


def _connect(server: Any) -> socket.socket:
    return connect(server.url, timeout=TIMEOUT + SLACK + 5)


def _response(sock: socket.socket) -> tuple[int, Mapping[str, str], bytes]:
    """One HTTP response read off a raw socket (with a Content-Length)."""
    answer = read_answer(sock)
    return answer.status, answer.headers, answer.body


def _aws_error(status: int, headers: Mapping[str, str], body: bytes, code: str) -> str:
    assert headers["content-type"] == JSON_11
    assert headers["x-amzn-errortype"] == code
    assert headers["x-amzn-requestid"]
    document = orjson.loads(body)
    assert document["__type"] == code and document["Message"], document
    return str(document["Message"])


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes `sock` (reading and dropping anything it still sends)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for {seconds}s") from None
    return time.monotonic() - started


# -- bodies over the limit -------------------------------------------------------------------


def test_a_huge_declared_body_is_refused_at_once_without_being_read(strict: Any) -> None:
    with _connect(strict) as sock:
        started = time.monotonic()
        sock.sendall(
            request_head("UpdateDatasetEntries", Content_Length=str(50 * 1024**3)) + b'{"Da'
        )
        status, headers, body = _response(sock)
        assert time.monotonic() - started < 1.0, "413 came only after waiting for the body"
        assert status == 413
        assert "larger than" in _aws_error(status, headers, body, "RequestEntityTooLargeException")
        # A client that keeps trickling its 50 GiB is cut off after the request timeout.
        sock.setblocking(False)
        deadline = time.monotonic() + TIMEOUT + SLACK
        closed = False
        while time.monotonic() < deadline and not closed:
            try:
                sock.send(b"x" * 1024)
                readable, _, _ = select.select([sock], [], [], 0.2)
                closed = bool(readable) and sock.recv(65536) == b""
            except (BrokenPipeError, ConnectionResetError):
                closed = True
        assert closed, "the server drained a refused body for longer than the request timeout"


def test_a_chunked_body_is_refused_once_it_passes_the_limit(strict: Any) -> None:
    """No Content-Length: the server counts while it reads and answers 413 once past 8 MiB,
    long before the client has sent its 64 MiB."""
    chunk = b"x" * (256 * 1024)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with _connect(strict) as sock:
        sock.sendall(request_head("UpdateDatasetEntries", Transfer_Encoding="chunked"))
        sent = 0
        answered = False
        while sent < 64 * 1024 * 1024:
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            if select.select([sock], [], [], 0)[0]:
                answered = True
                break
        if not answered:
            assert select.select([sock], [], [], TIMEOUT + SLACK)[0], "no answer"
        assert sent < 32 * 1024 * 1024, f"the server read {sent} bytes before refusing"
        status, headers, body = _response(sock)
        assert status == 413
        _aws_error(status, headers, body, "RequestEntityTooLargeException")


# -- slow and stalled clients ----------------------------------------------------------------


def test_a_client_that_stalls_its_body_gets_408_and_is_cut_off(strict: Any) -> None:
    with _connect(strict) as sock:
        started = time.monotonic()
        sock.sendall(request_head("DescribeProjects", Content_Length="100") + b'{"MaxResu')
        status, headers, body = _response(sock)
        waited = time.monotonic() - started
        assert TIMEOUT - 0.2 <= waited < TIMEOUT + SLACK
        assert status == 408
        assert headers["connection"] == "close"
        _aws_error(status, headers, body, "RequestTimeoutException")
        _closed_within(sock, SLACK)


def test_a_body_sent_slower_than_the_timeout_allows_is_cut_off(strict: Any) -> None:
    """A deadline for the whole body, not per read: a byte every 0.3 s does not keep it alive."""
    with _connect(strict) as sock:
        started = time.monotonic()
        sock.sendall(request_head("DescribeProjects", Content_Length="1000"))
        status = 0
        while time.monotonic() - started < TIMEOUT + SLACK:
            try:
                sock.send(b" ")
            except (BrokenPipeError, ConnectionResetError):
                break
            if select.select([sock], [], [], 0.3)[0]:
                status, _, _ = _response(sock)
                break
        assert status == 408
        assert time.monotonic() - started < TIMEOUT + SLACK


def test_idle_and_dripping_connections_are_closed_and_do_not_block_others(strict: Any) -> None:
    idle = [_connect(strict) for _ in range(40)]
    dripping = [_connect(strict) for _ in range(5)]
    partial = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: x\r\n"
    try:
        started = time.monotonic()
        # While they hold their sockets, a normal client is served at once.
        api = Api(strict.url)
        call = time.monotonic()
        api.ok("DescribeProjects", {})
        assert time.monotonic() - call < 1.0
        # Headers dripped a byte at a time never complete: the deadline is not reset by data.
        open_dripping = list(dripping)
        position = 0
        while open_dripping and time.monotonic() - started < TIMEOUT + SLACK:
            for sock in list(open_dripping):
                try:
                    sock.send(partial[position % len(partial) : position % len(partial) + 1])
                except (BrokenPipeError, ConnectionResetError):
                    open_dripping.remove(sock)
            position += 1
            time.sleep(0.2)
        for sock in idle + dripping:
            _closed_within(sock, TIMEOUT + SLACK)
        assert time.monotonic() - started < TIMEOUT + 2 * SLACK
    finally:
        for sock in idle + dripping:
            sock.close()


def test_a_keep_alive_connection_still_serves_one_request_after_another(strict: Any) -> None:
    """The deadline counts from the last response: a busy connection lives on."""
    body = b"{}"
    with _connect(strict) as sock:
        for _ in range(3):
            sock.sendall(request_head("DescribeProjects", Content_Length=str(len(body))) + body)
            status, _, _ = _response(sock)
            assert status == 200
            time.sleep(TIMEOUT / 2)


def test_malformed_http_gets_an_aws_error(strict: Any) -> None:
    for garbage in (
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # TLS to a plain port
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: twelve\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X-Long: " + b"a" * 70_000 + b"\r\n\r\n",
    ):
        with _connect(strict) as sock:
            sock.sendall(garbage)
            status, headers, body = _response(sock)
            assert status == 400
            _aws_error(status, headers, body, "BadRequestException")


def test_request_headers_over_16_kib_are_refused_however_they_arrive(strict: Any) -> None:
    """llhttp itself has no limit on headers; ours is 16 KiB for the request line and headers."""
    body = b"{}"
    # Just under the limit: served.
    with _connect(strict) as sock:
        sock.sendall(
            request_head("DescribeProjects", X_Pad="a" * 15_000, Content_Length="2") + body
        )
        status, _, answer = _response(sock)
        assert status == 200, answer
    over = request_head("DescribeProjects", X_Pad="a" * 17_000, Content_Length="2") + body
    in_pieces = [over[i : i + 1024] for i in range(0, len(over), 1024)]
    many = request_head(
        "DescribeProjects", Content_Length="2", **{f"X_{i}": "b" * 90 for i in range(200)}
    )
    for pieces in ([over], in_pieces, [many]):
        with _connect(strict) as sock:
            for piece in pieces:
                try:
                    sock.sendall(piece)
                except (BrokenPipeError, ConnectionResetError):
                    break  # refused part-way: the answer is already waiting
            status, headers, answer = _response(sock)
            assert status == 400
            message = _aws_error(status, headers, answer, "BadRequestException")
            assert "16 KiB" in message and "headers" in message, message
            _closed_within(sock, SLACK)
    # The same connection-level limit never touched a normal client.
    assert Api(strict.url).ok("DescribeProjects", {})


# -- how many updates wait -------------------------------------------------------------------


def test_at_most_one_update_waits_per_dataset(start_server: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server("--job-delay", "1", data_dir=data_dir)
    api = Api(server.url)
    arns = [new_dataset(api, f"queue-{n}") for n in range(3)]
    payloads = [
        marked_change(n, [], 0, seed=9, new_every=1, max_bytes=256 * 1024).payload for n in range(4)
    ]
    for arn in arns:
        assert update(api, arn, payloads[0]).status == 200
        for payload in payloads[1:]:
            reply = update(api, arn, payload)
            assert reply.status == 400
            assert reply.json["__type"] == "ResourceInUseException"
    with read_only(data_dir) as connection:
        waiting = connection.execute(
            "SELECT dataset_id, count(*) FROM jobs WHERE state IN ('queued', 'running') "
            "GROUP BY dataset_id"
        ).fetchall()
    assert sorted(count for _, count in waiting) == [1, 1, 1]
    for arn in arns:
        assert api.settle(arn)["Status"] == "UPDATE_COMPLETE"
        assert {e["change"] for e in snapshot(api, arn).parsed()} == {0}
        assert update(api, arn, payloads[1]).status == 200  # free again once it is done
    server.stop()


# -- a full disk -----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB tmpfs as the data directory (the server log stays outside it)."""
    mount = tmp_path / "data"
    mount.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", str(mount)],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"cannot run mount to make a small disk: {error}")
    if mounted.returncode != 0:
        pytest.skip(
            "the full-disk test mounts a 32 MiB tmpfs, which needs root or CAP_SYS_ADMIN: "
            + mounted.stderr.decode(errors="replace").strip()
        )
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(directory: Path, leave: int) -> Path:
    filler = directory / "filler"
    with filler.open("ab", buffering=0) as out:
        free = shutil.disk_usage(directory).free
        while free > leave:
            try:
                out.write(b"\0" * min(free - leave, 1024 * 1024))
            except OSError as error:  # the server took the last of it meanwhile: full anyway
                assert error.errno == errno.ENOSPC, error
                break
            free = shutil.disk_usage(directory).free
    return filler


def test_a_full_disk_gives_errors_not_corruption(
    start_server: Any, small_disk: Path, tmp_path: Path
) -> None:
    server = start_server("--job-delay", "0.5", data_dir=small_disk)
    try:
        api = Api(server.url)
        arn = new_dataset(api, "full-disk")
        size = 1024 * 1024
        first = marked_change(0, [], 0, seed=11, new_every=1, max_bytes=size)
        assert update(api, arn, first.payload).status == 200
        assert api.settle(arn)["Status"] == "UPDATE_COMPLETE"
        before = snapshot(api, arn)

        # The disk fills up between the call (200: the job is queued) and the apply.
        second = marked_change(1, first.refs, 10**6, seed=11, new_every=4, max_bytes=size)
        assert update(api, arn, second.payload).status == 200
        filler = _fill(small_disk, leave=64 * 1024)
        # Calls that must write while the disk is full: 200 as long as SQLite finds room in its
        # WAL, then a well-formed InternalServerError, and the dataset is not left busy.
        accepted: dict[str, bytes] = {}
        refused = 0
        for n in range(8):
            payload = marked_change(n, [], 0, seed=12, new_every=1, max_bytes=2 * size).payload
            try:
                extra = new_dataset(api, f"full-disk-{n}")
            except AssertionError as error:  # CreateProject/CreateDataset could not write
                assert "InternalServerError" in str(error), error
                refused += 1
                break
            reply = update(api, extra, payload)
            if reply.status == 200:
                accepted[extra] = payload
                continue
            assert reply.status == 500 and reply.json["__type"] == "InternalServerError", reply
            assert api.describe(extra)["Status"] == "CREATE_COMPLETE"
            refused += 1
            break
        assert refused, "the disk never filled up"
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # reads keep working; no half-applied change shows
            status = api.describe(arn)
            assert status["Status"] == "UPDATE_IN_PROGRESS" or (
                status["Status"],
                status["StatusMessageCode"],
            ) == ("UPDATE_FAILED", "SERVICE_ERROR"), status
            assert status["DatasetStats"] == before.stats
            time.sleep(0.1)

        filler.unlink()  # space again: the failure is recorded, nothing of the change is in
        description = api.settle(arn, timeout=30)
        assert (description["Status"], description["StatusMessageCode"]) == (
            "UPDATE_FAILED",
            "SERVICE_ERROR",
        ), description
        after = snapshot(api, arn)
        assert after.same_data(before)
        check_counters(after)

        for extra, payload in accepted.items():  # each one whole, or failed with nothing in
            description = api.settle(extra, timeout=30)
            entries = snapshot(api, extra).entries
            if description["Status"] == "UPDATE_COMPLETE":
                assert len(entries) == payload.count(b"\n")
            else:
                assert description["StatusMessageCode"] == "SERVICE_ERROR", description
                assert entries == []

        # The dataset takes updates again, and the database is sound.
        assert update(api, arn, second.payload).status == 200
        assert api.settle(arn)["Status"] == "UPDATE_COMPLETE"
        assert {e["change"] for e in snapshot(api, arn).parsed()} == {0, 1}
        assert server.stop(signal.SIGTERM) == 0
        assert integrity_check(small_disk, tmp_path / "check") == "ok"
        assert job_states(small_disk)[("update", "failed")] >= 1
    finally:
        server.stop()
