"""`GET /_manifestdb/datasets/{dataset ARN}/updates`: update reports as JSON, newest first."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from manifestdb.service.errors import InvalidParameterException, ServiceError

if TYPE_CHECKING:
    from manifestdb.wire.app import Api


def updates_endpoint(api: Api) -> Callable[[Request], Awaitable[Response]]:
    async def updates(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        try:
            from manifestdb.wire.app import read_body

            body = await read_body(request, api.settings.max_body_bytes)
            identity = api.auth.authenticate_request(request, body)
            # Update reports are read like the dataset itself (a manifestdb choice).
            api.auth.authorize(
                identity, "DescribeDataset", {"DatasetArn": request.path_params["arn"]}
            )
            raw_max = request.query_params.get("max_results")
            if raw_max is not None and not raw_max.isdigit():
                raise InvalidParameterException("max_results must be a whole number, 1 to 100.")
            result = await run_in_threadpool(
                api.service.list_update_reports,
                identity.caller,
                request.path_params["arn"],
                request.query_params.get("next_token"),
                int(raw_max) if raw_max is not None else None,
            )
            response = Response(
                orjson.dumps(result),
                media_type="application/json",
                headers={"x-amzn-RequestId": request_id},
            )
        except ServiceError as error:
            response = api.error(error, request_id)
        api_log(response.status_code, started)
        return response

    return updates


def api_log(status: int, started: float) -> None:
    from manifestdb.wire.app import access_log

    access_log.info("ListUpdateReports %d %.1fms", status, (time.perf_counter() - started) * 1000)
