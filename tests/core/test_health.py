"""/healthz says the process is up; /readyz says the database is reachable and at head."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from sqlmodel import Session

from scipass.core.config import Environment, Settings
from scipass.main import create_app
from scipass.org.models import Region, School, Venue
from tests.conftest import REPO_ROOT
from tests.databases import ENGINE_NAME


def _cli(
    *args: str, database_url: str, cwd: Path, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SCIPASS_DATABASE_URL": database_url,
        "SCIPASS_ENV": "dev",
        **(extra or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "scipass", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _settings(url: str) -> Settings:
    return Settings(env=Environment.test, database_url=url, _env_file=None)  # type: ignore[call-arg]


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_follows_migration_and_demo_loads(empty_database_url: str, tmp_path: Path) -> None:
    with TestClient(create_app(_settings(empty_database_url))) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["code"] == "database_not_ready"

        migrated = _cli("migrate", database_url=empty_database_url, cwd=REPO_ROOT)
        assert migrated.returncode == 0, migrated.stderr
        response = client.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ready"}

    # `make run` then loads the demo once; a second run leaves the data alone.
    first = _cli("demo", database_url=empty_database_url, cwd=tmp_path)
    second = _cli("demo", database_url=empty_database_url, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "demo data loaded" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "already present" in second.stdout
    engine = create_engine(empty_database_url)
    try:
        with Session(engine) as session:
            counts = [
                session.scalar(select(func.count()).select_from(t)) for t in (Region, School, Venue)
            ]
    finally:
        engine.dispose()
    assert counts[0] >= 15
    assert counts[1] >= 15
    assert counts[2] >= 10


def test_readyz_is_503_when_database_unreachable() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"
    with TestClient(create_app(_settings(url))) as client:
        response = client.get("/readyz", headers={"Accept-Language": "en"})
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "database_not_ready"
    assert body["detail"] == "The database cannot be reached"
    assert "127.0.0.1" not in response.text


def test_create_admin_then_log_in(empty_database_url: str, tmp_path: Path) -> None:
    assert _cli("migrate", database_url=empty_database_url, cwd=REPO_ROOT).returncode == 0
    env_password = {"SCIPASS_ADMIN_PASSWORD": "Platform-admin-1"}
    created = _cli(
        "create-admin",
        "--username",
        "root",
        database_url=empty_database_url,
        cwd=tmp_path,
        extra=env_password,
    )
    assert created.returncode == 0, created.stderr
    again = _cli(
        "create-admin",
        "--username",
        "root",
        database_url=empty_database_url,
        cwd=tmp_path,
        extra=env_password,
    )
    assert again.returncode == 1
    assert "用户名已被使用" in again.stderr
    weak = _cli(
        "create-admin",
        "--username",
        "r2",
        database_url=empty_database_url,
        cwd=tmp_path,
        extra={"SCIPASS_ADMIN_PASSWORD": "short"},
    )
    assert weak.returncode == 1
    with TestClient(create_app(_settings(empty_database_url))) as client:
        response = client.post(
            "/api/v1/auth/login", json={"username": "root", "password": "Platform-admin-1"}
        )
    assert response.status_code == 200
    assert response.json()["role"] == "platform_admin"


def test_platform_operator_builds_an_organisation_from_the_cli(
    empty_database_url: str, tmp_path: Path
) -> None:
    assert _cli("migrate", database_url=empty_database_url, cwd=REPO_ROOT).returncode == 0
    steps = [
        ("create-region", "430000", "湖南省", "--level", "province"),
        ("create-region", "430381", "湘乡市", "--level", "county", "--parent", "430000"),
        ("create-bureau", "湘乡市教育局", "--region", "430381"),
        ("create-school", "湘乡市实验小学", "--region", "430381", "--stages", "primary"),
    ]
    for step in steps:
        result = _cli(*step, database_url=empty_database_url, cwd=tmp_path)
        assert result.returncode == 0, (step, result.stderr)
    # a city under a county is refused, with the problem code
    bad = _cli(
        "create-region",
        "430300",
        "湘潭市",
        "--level",
        "city",
        "--parent",
        "430381",
        database_url=empty_database_url,
        cwd=tmp_path,
    )
    assert bad.returncode == 1
    assert "parent_region_invalid" in bad.stderr
    created = _cli(
        "create-account",
        "sy-admin",
        "--role",
        "school_admin",
        "--org-id",
        "1",
        database_url=empty_database_url,
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    password = created.stdout.strip().rsplit(" ", 1)[-1]
    with TestClient(create_app(_settings(empty_database_url))) as client:
        login = client.post(
            "/api/v1/auth/login", json={"username": "sy-admin", "password": password}
        )
    assert login.status_code == 200
    assert login.json()["role"] == "school_admin"
    assert login.json()["password_change_required"] is True


@pytest.mark.skipif(ENGINE_NAME != "postgresql", reason="the change listener is PostgreSQL's")
def test_readyz_waits_for_the_change_listener(client: TestClient) -> None:
    """A process that does not LISTEN would miss revocations: not ready until it does."""
    listener = client.app.state.listener  # type: ignore[attr-defined]
    assert listener is not None
    deadline = time.monotonic() + 30
    while not listener.listening.is_set():
        assert time.monotonic() < deadline, "the listener did not start"
        time.sleep(0.02)
    assert client.get("/readyz").status_code == 200

    woken: list[bool] = []
    deaf = SimpleNamespace(listening=threading.Event(), wake=lambda: woken.append(True))
    client.app.state.listener = deaf  # type: ignore[attr-defined]
    try:
        response = client.get("/readyz", headers={"Accept-Language": "en"})
    finally:
        client.app.state.listener = listener  # type: ignore[attr-defined]
    assert response.status_code == 503
    assert response.json()["code"] == "database_not_ready"
    assert response.json()["detail"] == "Not yet listening for changes (LISTEN)"
    assert woken == [True]  # asked to reconnect now rather than after its back-off
    assert client.get("/healthz").status_code == 200  # alive all the same
