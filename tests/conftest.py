"""Test fixtures.

The suite runs on SQLite, and on PostgreSQL when ``SCIPASS_TEST_DATABASE_URL`` names a server.
The test database is built by running the migrations. Each test runs in a transaction that is
rolled back at its end; the app's sessions join it through savepoints, so a request commits
exactly as in production while the test leaves nothing behind.

Each test gets an app of its own (``make_app``), answering through routes built once for the
session, and the test process hashes passwords with argon2's cheapest parameters: both cost
a large share of the suite's time otherwise.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest
from argon2 import PasswordHasher, profiles
from fastapi import FastAPI, routing
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlmodel import Session
from starlette.routing import BaseRoute

from scipass.account import passwords
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


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes() -> Iterator[None]:
    """Passwords hashed in the test process with argon2id's cheapest parameters.

    The recommended ones cost about 0.1 s of CPU a hash or a check, and the suite hashes and
    checks hundreds of passwords (every demo load hashes twenty). Hashes made with other
    parameters (by a CLI subprocess) still verify: argon2 reads them from the hash."""
    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", cheap)
        patch.setattr(passwords, "_DUMMY_HASH", cheap.hash(secrets.token_urlsafe(16)))
        yield


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


class _NoOverrides(dict[Any, Any]):
    """The dependency overrides of an app whose included routes are shared (``make_app``)."""

    def _refuse(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise RuntimeError(
            "this app answers through routes shared by the tests' apps (make_app in "
            "tests/conftest.py), which would ignore dependency overrides: build the app with "
            "create_app to override one"
        )

    __setitem__ = update = setdefault = __ior__ = _refuse  # type: ignore[assignment]


def _include_key(route: BaseRoute) -> tuple[Any, ...] | None:
    """What an included router's routes are built from, but the app that includes it."""
    context = getattr(route, "include_context", None)
    original = getattr(route, "original_router", None)
    if original is None or not dataclasses.is_dataclass(context):
        return None
    return (type(route), original, dataclasses.replace(context, dependency_overrides_provider=None))


@pytest.fixture(scope="session")
def built_routes(database_url: str, engine: Engine) -> Iterator[list[BaseRoute]]:
    """The included routers of one app, with every route's dependencies and models built.

    create_app builds each route's dependencies and request and response models for the app
    that includes it, when the app first answers: about half a second per app, which each
    test paid. They depend only on the routers (module-level, the same for every app), so
    ``make_app`` gives each test's app these already-built ones in place of its own, and
    keeps the rest of the app (state, middleware, error handlers, lifespan, routes added by
    the test) its own. The one thing bound to the app that built them is where dependency
    overrides are looked up, so overrides are refused on these apps."""
    template = create_app(
        Settings(env=Environment.test, database_url=database_url, _env_file=None),  # type: ignore[call-arg]
        database=Database(engine),
        clock=FrozenClock(FROZEN_AT),
    )
    template.dependency_overrides = _NoOverrides()
    for _ in routing.iter_route_contexts(template.routes):
        pass  # builds every included route
    yield list(template.routes)
    template.state.wechat.close()


@pytest.fixture
def make_app(built_routes: list[BaseRoute]) -> Callable[..., FastAPI]:
    """``create_app``, answering through the routes built once (``built_routes``)."""

    def make(settings: Settings, **kwargs: Any) -> FastAPI:
        return with_built_routes(create_app(settings, **kwargs), built_routes)

    return make


def with_built_routes(app: FastAPI, built_routes: list[BaseRoute]) -> FastAPI:
    """The app, its included routers replaced with the same ones built once."""
    routes = app.router.routes
    for index, route in enumerate(routes):
        key = _include_key(route)
        if key is not None:
            routes[index] = next((b for b in built_routes if _include_key(b) == key), route)
    app.dependency_overrides = _NoOverrides()
    return app


@pytest.fixture
def app(
    settings: Settings,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    make_app: Callable[..., FastAPI],
) -> FastAPI:
    return make_app(settings, database=Database(engine, bind=connection), clock=clock)


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
