"""Reading a request body: refused early when it is too large, cut off when it comes too slowly."""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request

from manifestdb.service.errors import (
    ClientClosedRequest,
    RequestEntityTooLargeException,
    RequestTimeoutException,
    ServiceError,
)


async def read_body(request: Request, limit: int, timeout: float | None) -> bytes:
    """The request body, refused without reading it whole when it is over `limit` bytes, and
    cut off when it takes longer than `timeout` seconds (the server's `request_timeout`)."""
    declared = request.headers.get("content-length") or ""
    # HTTP parsers let only ASCII digits through; a number too long for int() is too large too.
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise _too_large(limit)
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
