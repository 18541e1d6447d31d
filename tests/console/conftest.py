"""Fixtures of the console's browser tests: one demo server and one Chromium per test module
(a module may define its own, as the door scanner's does for its fake camera)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.console.browser import DemoServer, demo_server, open_browser


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoServer]:
    with demo_server(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])) as found:
        yield found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with open_browser() as found:
        yield found
