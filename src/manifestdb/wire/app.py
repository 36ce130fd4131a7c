"""The composition root: one server process's store, job runner, service and routes.

Routes, each a handler behind the one request pipeline (`wire.pipeline`): `POST /` (every
operation, by `X-Amz-Target`; `wire.api`), `GET /_manifestdb/health` (`wire.health`) and
`GET /_manifestdb/datasets/{dataset ARN}/updates` (update reports; `wire.reports`),
`POST /_manifestdb/history/{Operation}` (history; `wire.history`), and the web
console's routes under `/console/` with `GET /` redirecting there (`console.routes`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from manifestdb import __version__
from manifestdb.config import Settings
from manifestdb.console.routes import Console
from manifestdb.console.session import Sessions
from manifestdb.jobs.runner import Runner
from manifestdb.service import OPERATIONS, Service
from manifestdb.store import Store
from manifestdb.wire.api import Api, logged_operation
from manifestdb.wire.auth import Authenticator
from manifestdb.wire.health import health_handler
from manifestdb.wire.history import history_handler, history_operation
from manifestdb.wire.pipeline import Pipeline
from manifestdb.wire.protocol import Protocol
from manifestdb.wire.reports import updates_handler

log = logging.getLogger("manifestdb")


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    """The ASGI app of one server process (it owns the store unless one is given)."""
    store = store or Store(settings.store_url())
    runner = Runner(store, settings) if settings.runner else None
    service = Service(store, settings, on_job=runner.notify if runner else None)
    auth = Authenticator(settings)
    pipeline = Pipeline()
    protocol = Protocol(OPERATIONS)
    api = Api(settings, service, protocol, auth)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        auth.watch_reload_signal(asyncio.get_running_loop())
        if runner:
            # Embedded SQLite has one server process: whatever was running is from our last run.
            runner.start(requeue=store.dialect == "sqlite")
        log.info(
            "manifestdb %s serving (%s, limits %s)",
            __version__,
            store.dialect,
            settings.limits.name,
        )
        try:
            yield
        finally:
            auth.stop_watching(asyncio.get_running_loop())
            if runner:
                await run_in_threadpool(runner.stop)
            store.close()

    routes = [
        Route("/", pipeline.endpoint(logged_operation, api), methods=["POST"]),
        Route(
            "/_manifestdb/health",
            pipeline.endpoint("Health", health_handler(store.dialect)),
            methods=["GET"],
        ),
        Route(
            "/_manifestdb/datasets/{arn:path}/updates",
            pipeline.endpoint("ListUpdateReports", updates_handler(settings, service, auth)),
            methods=["GET"],
        ),
        Route(
            "/_manifestdb/history/{operation}",
            pipeline.endpoint(history_operation, history_handler(settings, service, auth)),
            methods=["POST"],
        ),
        *Console(service, protocol, auth, Sessions(service, auth, settings)).routes(pipeline),
    ]
    handlers: dict[Any, Any] = {404: pipeline.no_route, 405: pipeline.no_route}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    # A path with a slash too many is no route (an AWS error), not a redirect without a body.
    app.router.redirect_slashes = False
    app.state.pipeline = pipeline
    return app
