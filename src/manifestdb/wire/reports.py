"""`GET /_manifestdb/datasets/{dataset ARN}/updates`: update reports as JSON, newest first."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from manifestdb.config import Settings
from manifestdb.service import Service
from manifestdb.service.errors import InvalidParameterException
from manifestdb.wire.auth import Authenticator
from manifestdb.wire.body import read_body
from manifestdb.wire.pipeline import Call, Handler

_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


def updates_handler(settings: Settings, service: Service, auth: Authenticator) -> Handler:
    async def updates(call: Call) -> Response:
        request = call.request
        body = await read_body(request, settings.max_body_bytes, settings.request_timeout)
        identity = auth.authenticate_request(request, body)
        # Update reports are read like the dataset itself (a manifestdb choice).
        auth.authorize(identity, "DescribeDataset", {"DatasetArn": request.path_params["arn"]})
        raw_max = request.query_params.get("max_results")
        if raw_max is not None and not _WHOLE_NUMBER.fullmatch(raw_max):
            raise InvalidParameterException(
                f"max_results must be a whole number of ASCII digits, 1 to 100; got "
                f"{raw_max[:20]!r}."
            )
        result = await run_in_threadpool(
            service.list_update_reports,
            identity.caller,
            request.path_params["arn"],
            request.query_params.get("next_token"),
            int(raw_max) if raw_max is not None else None,
        )
        return call.json(result)

    return updates
