"""Fixtures of the console's tests: a server reading a local bucket of real images, a dataset of
every kind of entry, and a Chromium page (Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from console_kit import chromium_path, jsonl, make_bucket, sample_lines

from support.server import Server, ServerFactory, new_dataset


@dataclass
class Sample:
    """The sample dataset: its project, dataset ARN and lines."""

    project_arn: str
    dataset_arn: str
    lines: list[dict[str, Any]]


@pytest.fixture(scope="session")
def buckets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("buckets")
    make_bucket(root)
    return root


@pytest.fixture(scope="session")
def console(start_server: ServerFactory, buckets: Path) -> Server:
    return start_server("--local-buckets", str(buckets), "--job-delay", "0")


@pytest.fixture(scope="session")
def sample(console: Server) -> Sample:
    lines = sample_lines()
    project_arn, dataset_arn = new_dataset(console.client(), jsonl(lines))
    return Sample(project_arn, dataset_arn, lines)


# Module-scoped: Playwright's sync API runs an event loop in this thread while it is open, and
# tests elsewhere call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    # Shown with a failing test's output: what the page itself reported.
    opened.on("console", lambda message: print(f"browser {message.type}: {message.text}"))
    opened.on("pageerror", lambda error: print(f"browser error: {error}"))
    yield opened
    context.close()
