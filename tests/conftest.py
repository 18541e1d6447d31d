"""Test fixtures.

The suite runs on SQLite, and on PostgreSQL when ``SCIPASS_TEST_DATABASE_URL`` names a server.
The test database is built by running the migrations. Each test runs in a transaction that is
rolled back at its end; the app's sessions join it through savepoints, so a request commits
exactly as in production while the test leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlmodel import Session

from scipass.core import migrations
from scipass.core.clock import FrozenClock
from scipass.core.config import Environment, Settings
from scipass.core.db import Database, make_engine
from scipass.main import create_app
from tests.databases import ENGINE_NAME, fresh_database
from tests.factories import Side, create_side

REPO_ROOT = Path(__file__).resolve().parents[1]
FROZEN_AT = datetime(2026, 10, 14, 2, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Beijing


def pytest_report_header() -> str:
    return f"scipass database engine: {ENGINE_NAME}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own, with no tables, for tests that migrate or break it."""
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env=Environment.test,
        database_url=database_url,
        upload_dir=tmp_path / "uploads",
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    connection = engine.connect()
    transaction = connection.begin()
    try:
        yield connection
    finally:
        transaction.rollback()
        connection.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    """A session inside the test's transaction, for arranging data and checking results."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        yield session


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(FROZEN_AT)


@pytest.fixture
def app(settings: Settings, engine: Engine, connection: Connection, clock: FrozenClock) -> FastAPI:
    return create_app(settings, database=Database(engine, bind=connection), clock=clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def side_a(session: Session) -> Side:
    return create_side(session, province="970000", city="970100", county="970101")


@pytest.fixture
def side_b(session: Session) -> Side:
    return create_side(session, province="960000", city="960100", county="960101")
