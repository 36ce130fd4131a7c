"""`POST /`: the Rekognition JSON 1.1 API. Parse, authenticate, authorize, call, serialize."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from manifestdb.config import Settings
from manifestdb.service import Service
from manifestdb.wire.auth import Authenticator
from manifestdb.wire.body import read_body
from manifestdb.wire.pipeline import Call
from manifestdb.wire.protocol import CONTENT_TYPE, Protocol

INLINE_READS = frozenset({"DescribeDataset", "DescribeProjects", "ListDatasetLabels"})
_TARGET = re.compile(r"RekognitionService\.([A-Za-z]{1,64})")


def logged_operation(request: Request) -> str:
    """The operation a request names, for the log even when it is refused ('-': none)."""
    match = _TARGET.fullmatch(request.headers.get("x-amz-target") or "")
    return match[1] if match else "-"


class Api:
    """The handler of `POST /` (errors are the pipeline's to answer)."""

    def __init__(
        self, settings: Settings, service: Service, protocol: Protocol, auth: Authenticator
    ) -> None:
        self.settings = settings
        self.service = service
        self.protocol = protocol
        self.auth = auth
        # Sub-millisecond SQLite reads run on the event loop: handing them to a worker thread
        # cost more than the read (anything that may wait on a lock or the network does not).
        self.inline_operations = INLINE_READS if service.store.dialect == "sqlite" else frozenset()

    async def __call__(self, call: Call) -> Response:
        request = call.request
        body = await read_body(request, self.settings.max_body_bytes, self.settings.request_timeout)
        identity = self.auth.authenticate_request(request, body)
        operation, params = self.protocol.parse(
            request.headers.get("x-amz-target"), request.headers.get("content-type"), body
        )
        self.auth.authorize(identity, operation, params)
        if operation in self.inline_operations:
            result = self.service.call(operation, identity.caller, params)
        else:
            result = await run_in_threadpool(self.service.call, operation, identity.caller, params)
        return call.json(self.protocol.serialize(operation, result), media_type=CONTENT_TYPE)
