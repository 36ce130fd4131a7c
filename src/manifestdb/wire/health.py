"""`GET /_manifestdb/health`: the server is up, its version and its database dialect."""

from __future__ import annotations

from starlette.responses import Response

from manifestdb import __version__
from manifestdb.wire.pipeline import Call, Handler


def health_handler(dialect: str) -> Handler:
    async def health(call: Call) -> Response:
        return call.json({"status": "ok", "version": __version__, "database": dialect})

    return health
