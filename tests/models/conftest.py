"""Fixtures of the model tests: servers with local buckets of generated shapes, stopped when
their test ends (each holds torch, the backbone and its models: ~1 GB)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from models_api import Models

from support.server import ServerFactory


@pytest.fixture
def make_models(start_server: ServerFactory, tmp_path: Path) -> Iterator[Callable[..., Models]]:
    """Make a `Models` (extra `serve` arguments); its server stops at the end of the test."""
    made: list[Models] = []

    def make(*args: str) -> Models:
        models = Models(start_server, tmp_path / f"models-{len(made)}", *args)
        made.append(models)
        return models

    yield make
    for models in made:
        models.server.stop()
