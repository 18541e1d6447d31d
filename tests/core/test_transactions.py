"""One unit of work per request: committed before the response, or answered as a problem."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session

from scipass.core.config import Settings
from scipass.core.db import Database, SessionDep
from scipass.main import create_app
from scipass.org.models import Region
from tests.conftest import REPO_ROOT

TEST_CODE = "990000"


@pytest.fixture
def real_app(settings: Settings) -> Iterator[FastAPI]:
    """The app over its own engine, committing for real (no test transaction around it)."""
    app = create_app(settings)

    @app.post("/test-regions", name="test-region-create")
    def create_region(session: SessionDep) -> dict[str, str]:
        session.add(Region(code=TEST_CODE, name="测试区", level="province"))
        session.flush()
        return {"code": TEST_CODE}

    yield app
    db: Database = app.state.db
    with db.transaction() as session:
        region = session.get(Region, TEST_CODE)
        if region is not None:
            session.delete(region)
    db.engine.dispose()


def _stored(app: FastAPI) -> bool:
    with Session(app.state.db.engine) as session:
        return session.get(Region, TEST_CODE) is not None


def test_write_commits_before_the_response(real_app: FastAPI) -> None:
    with TestClient(real_app) as client:
        response = client.post("/test-regions")
    assert response.status_code == 200
    assert _stored(real_app)


def test_failed_commit_answers_a_problem_and_leaves_nothing(real_app: FastAPI) -> None:
    def refuse(_session: Session) -> None:
        raise RuntimeError("the disk is full")

    event.listen(real_app.state.db.sessionmaker, "before_commit", refuse)
    try:
        with TestClient(real_app, raise_server_exceptions=False) as client:
            response = client.post("/test-regions")
    finally:
        event.remove(real_app.state.db.sessionmaker, "before_commit", refuse)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "internal_error"
    assert "disk" not in response.text
    assert not _stored(real_app)


def test_only_core_db_and_group_commit_commit() -> None:
    package = REPO_ROOT / "backend" / "scipass"
    committers = {package / "core" / "db.py", package / "core" / "group_commit.py"}
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path not in committers and re.search(r"\.commit\(", path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
