"""Running the ASGI app under uvicorn, with a stop on SIGTERM/SIGINT that exits 0."""

from __future__ import annotations

from types import FrameType

import uvicorn
from starlette.applications import Starlette

from manifestdb.config import Settings

GRACEFUL_STOP_SECONDS = 30


class _Server(uvicorn.Server):
    """uvicorn re-raises the stop signal after a graceful shutdown, so the process would end
    'killed by SIGTERM'; a stop we handled in full is a clean exit for supervisors and scripts."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def run_server(app: Starlette, settings: Settings) -> None:
    """Serve until stopped: SIGTERM/SIGINT stop accepting, let the running job finish, exit 0."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_STOP_SECONDS,
    )
    _Server(config).run()
