"""manifestdb: a self-hosted, wire-compatible Amazon Rekognition Custom Labels dataset service."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    __version__: str


def __getattr__(name: str) -> str:
    # `__version__` is looked up on first use: importing importlib.metadata would cost
    # `manifestdb validate` more than the rest of its start-up.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("manifestdb")
    except PackageNotFoundError:  # running from a source tree without install
        found = "0.0.0"
    globals()["__version__"] = found
    return found
