"""The suite's own shortcuts (tests/conftest.py) keep doing what they claim: each test's app
answers through the routes built once, and nothing it cannot honour is silently ignored."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from scipass.console import router as console_router
from scipass.core.db import get_session


def test_the_apps_included_routers_are_the_ones_built_once(
    app: FastAPI, client: TestClient, built_routes: list[BaseRoute]
) -> None:
    included = [r for r in app.routes if hasattr(r, "original_router")]
    # health, the API, the kiosk, the children's processing-rules page and the console's: if
    # FastAPI changes how it includes routers, every test builds its routes again (half a
    # second each) and this says so
    assert len(included) == 4 + len(console_router.routers())
    assert all(any(r is built for built in built_routes) for r in included)
    assert client.get("/api/v1/regions").status_code == 200
    assert app.state.settings is not None


def test_dependency_overrides_are_refused_not_ignored(app: FastAPI) -> None:
    with pytest.raises(RuntimeError, match="create_app"):
        app.dependency_overrides[get_session] = lambda: None
    with pytest.raises(RuntimeError, match="create_app"):
        app.dependency_overrides.update({get_session: lambda: None})
