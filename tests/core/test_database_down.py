"""While the database cannot be reached, every request answers 503 ``database_unavailable``
with ``Retry-After`` (never a 500), and the service recovers by itself when it is back."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from scipass.core import migrations
from scipass.core.auth import Principal, Role, issue_access_token
from scipass.core.clock import FrozenClock
from scipass.core.config import Environment, Settings
from scipass.main import create_app
from tests.conftest import FROZEN_AT
from tests.databases import ENGINE_NAME, own_cluster


def _settings(url: str, tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        env=Environment.test,
        database_url=url,
        upload_dir=tmp_path / "uploads",
        _env_file=None,  # type: ignore[call-arg]
        **overrides,  # type: ignore[arg-type]
    )


def _assert_unavailable(response: object) -> None:
    assert response.status_code == 503, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert response.headers["retry-after"] == "5"  # type: ignore[attr-defined]
    assert response.json()["code"] == "database_unavailable"  # type: ignore[attr-defined]


def _requests(client: TestClient, settings: Settings) -> list[object]:
    """A public list, a login, a staff read and a scan (the check-in fast path: a forged
    code, refused and stored as a scan event)."""
    scanner, _ = issue_access_token(
        settings, Principal(subject="wechat:1", role=Role.wechat_user), now=FROZEN_AT
    )
    staff, _ = issue_access_token(
        settings, Principal(subject="account:1", role=Role.platform_admin), now=FROZEN_AT
    )
    return [
        client.get("/api/v1/schools"),
        client.post("/api/v1/auth/login", json={"username": "nobody", "password": "x" * 12}),
        client.get("/api/v1/audit-logs", headers={"Authorization": f"Bearer {staff}"}),
        client.post(
            "/api/v1/checkins",
            json={"code": "HTTPS://SCIPASS.EXAMPLE.CN/C/S.7KQ2M9AB.K1.KGL5MB75Y6XT2LTE"},
            headers={"Authorization": f"Bearer {scanner}", "Idempotency-Key": "k" * 16},
        ),
    ]


@pytest.mark.slow
@pytest.mark.skipif(ENGINE_NAME != "postgresql", reason="stops a PostgreSQL cluster")
def test_postgresql_stopped_mid_test_answers_503_and_recovers(tmp_path: Path) -> None:
    with own_cluster() as cluster:
        migrations.upgrade(cluster.url)
        settings = _settings(cluster.url, tmp_path)
        app = create_app(settings, clock=FrozenClock(FROZEN_AT))
        with TestClient(app, raise_server_exceptions=False) as client:
            before = _requests(client, settings)
            assert [r.status_code for r in before] == [200, 401, 200, 400]  # type: ignore[attr-defined]
            cluster.stop("immediate")
            for response in _requests(client, settings):
                _assert_unavailable(response)
            ready = client.get("/readyz")
            assert ready.status_code == 503
            cluster.start()
            after = _requests(client, settings)
            assert [r.status_code for r in after] == [200, 401, 200, 400]  # type: ignore[attr-defined]


def test_sqlite_locked_beyond_the_busy_timeout_answers_503(tmp_path: Path) -> None:
    """SQLite's nearest equivalent: another process holds the database exclusively for
    longer than the busy timeout."""
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    migrations.upgrade(url)
    settings = _settings(url, tmp_path, sqlite_busy_timeout_ms=100)
    app = create_app(settings, clock=FrozenClock(FROZEN_AT))
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/api/v1/schools").status_code == 200
        holder.execute("BEGIN EXCLUSIVE")
        try:
            for response in _requests(client, settings):
                _assert_unavailable(response)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert client.get("/api/v1/schools").status_code == 200
