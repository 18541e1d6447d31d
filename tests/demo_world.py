"""The demo world (``scipass demo``) loaded once and shared by the tests that read it.

Loading the demo takes seconds; tests that only read it, or write and roll back, need not
load it again each. The world lives in an outer transaction on a connection of its own,
rolled back when its fixture ends; each test runs inside a savepoint of it, rolled back at
the test's end, and the app's and the test's sessions join that connection through
savepoints of their own (as tests/conftest.py does for every test). So every test sees the
world exactly as the loader left it, and nothing a test writes reaches the next.

While a world is open its connection holds the database's write lock on SQLite: every test
that uses it must go through its connection (the ``connection`` fixture), never a connection
of its own or a subprocess. A test that needs a database of its own keeps loading the demo
itself (``empty_database_url``).
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from _pytest.mark import MarkDecorator
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from scipass.core.config import Environment, Settings
from scipass.demo import loader


@dataclass(frozen=True)
class DemoWorld:
    now: datetime | None  # None: loaded at the real time
    summary: dict[str, Any]  # what the loader answered (accounts, counts)
    connection: Connection
    upload_dir: Path  # the attachments the loader stored


def loaded_on(*nows: datetime) -> MarkDecorator:
    """Run the test in the demo world loaded on each of these days (one load per day for all
    the tests that share the ``demo_world`` fixture)."""
    return pytest.mark.parametrize(
        "demo_world", nows, indirect=True, ids=lambda now: now.date().isoformat()
    )


@contextmanager
def open_world(
    engine: Engine, database_url: str, directory: Path, now: datetime | None
) -> Iterator[DemoWorld]:
    connection = engine.connect()
    transaction = connection.begin()
    try:
        settings = Settings(
            env=Environment.test,
            database_url=database_url,
            upload_dir=directory / "uploads",
            _env_file=None,  # type: ignore[call-arg]
        )
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            summary = loader.load(session, now=now, settings=settings)
            session.commit()  # releases the session's savepoint: the world stays open
        assert summary is not None, "the test database already held regions"
        yield DemoWorld(now, summary, connection, settings.upload_dir)
    finally:
        transaction.rollback()
        connection.close()


@contextmanager
def inside(world: DemoWorld) -> Iterator[Connection]:
    """The world's connection inside a savepoint of the test's own, rolled back at its end."""
    assert world.connection.in_transaction(), "a test ended the world's transaction"
    savepoint = world.connection.begin_nested()
    try:
        yield world.connection
    finally:
        if savepoint.is_active:
            savepoint.rollback()


def summary_of(world: DemoWorld) -> dict[str, Any]:
    """The loader's answer, the test's own copy."""
    return copy.deepcopy(world.summary)


def copy_uploads(world: DemoWorld, upload_dir: Path) -> None:
    """Start a test's upload directory as the loader left the world's."""
    if world.upload_dir.exists():
        shutil.copytree(world.upload_dir, upload_dir, dirs_exist_ok=True)
