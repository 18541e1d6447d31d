"""The demo tests share one load of the demo world per day they load it on (tests/demo_world.py):
a test names its days with ``@loaded_on(...)``, pytest groups the tests of a day across the
package, and each test runs in a savepoint of the world, rolled back at its end.

The demo loader stores the entries' attachments: the world keeps them in a directory of its
own, and each test's app starts with a copy of them in the test's own upload directory;
settings read from the environment point into the test's own directory, not under ./var."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from scipass.core.config import Settings
from tests.demo_world import DemoWorld, copy_uploads, inside, open_world, summary_of


@pytest.fixture(autouse=True)
def _uploads_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SCIPASS_UPLOAD_DIR", str(tmp_path / "demo-uploads"))


@pytest.fixture(scope="package")
def demo_world(
    request: pytest.FixtureRequest,
    engine: Engine,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DemoWorld]:
    now = getattr(request, "param", None)
    if now is None:
        pytest.fail("say on which days the test loads the demo: @loaded_on(...)")
    with open_world(engine, database_url, tmp_path_factory.mktemp("demo-world"), now) as world:
        yield world


@pytest.fixture
def connection(demo_world: DemoWorld) -> Iterator[Connection]:
    with inside(demo_world) as connection:
        yield connection


@pytest.fixture
def settings(settings: Settings, demo_world: DemoWorld) -> Settings:
    copy_uploads(demo_world, settings.upload_dir)
    return settings


@pytest.fixture
def demo(demo_world: DemoWorld) -> dict[str, Any]:
    """What ``scipass demo`` answered when it loaded the world: the accounts and counts."""
    return summary_of(demo_world)


@pytest.fixture
def now(demo_world: DemoWorld) -> datetime:
    """The moment the world was loaded at."""
    assert demo_world.now is not None
    return demo_world.now
