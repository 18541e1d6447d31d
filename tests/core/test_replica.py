"""The read replica (``SCIPASS_REPLICA_DATABASE_URL``, scipass.core.replica): exports and the
compliance dashboards read on a streaming replica of the test cluster, an export only once the
replica has replayed the primary's WAL position of when it was asked for (waiting, then failing
with ``replica_behind``); audit entries are written on the primary. SQLite refuses the setting.

The replica is a real one: ``pg_basebackup -R`` of the test cluster, started on a port of its
own. Its replay is paused (``pg_wal_replay_pause``) to hold it behind the primary on purpose."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from scipass.audit.models import AuditLog
from scipass.core import migrations
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import ConfigurationError, Environment, Settings, load_settings
from scipass.core.db import Database
from scipass.core.replica import record_end, wait_for_replay
from scipass.jobs import worker as job_worker
from scipass.jobs.models import Job
from scipass.jobs.storage import store_for
from scipass.main import job_kinds
from tests.conftest import FROZEN_AT
from tests.databases import ENGINE_NAME, SERVER_URL, fresh_database, streaming_replica
from tests.factories import Side, auth, consent_on_paper, create_record, create_side, create_student
from tests.tools import require_tool

API = "/api/v1"


# --- on both engines ------------------------------------------------------------------------


def test_sqlite_refuses_a_replica() -> None:
    with pytest.raises(ValidationError, match="SCIPASS_REPLICA_DATABASE_URL"):
        Settings(
            database_url="sqlite:///var/x.db",
            replica_database_url="postgresql+psycopg://postgres@127.0.0.1:5433/scipass",
            _env_file=None,  # type: ignore[call-arg]
        )
    with pytest.raises(ConfigurationError, match="SQLite has none"):
        load_settings(
            database_url="postgresql+psycopg://postgres@127.0.0.1:5432/scipass",
            replica_database_url="sqlite:///var/replica.db",
            _env_file=None,
        )


def test_the_wait_is_for_the_end_of_the_last_record_not_past_a_page_header() -> None:
    # the last record ended at a page's end: the insert position is past the next header
    assert record_end("0/1002018", segment_offset=0x2018, block_size=8192) == "0/1002000"
    assert record_end("1/28", segment_offset=0x28, block_size=8192) == "1/0"  # a segment's start
    assert record_end("0/1002058", segment_offset=0x2058, block_size=8192) == "0/1002058"
    assert record_end("A/FF000040", segment_offset=0x40, block_size=8192) == "A/FF000040"


# --- PostgreSQL: a primary and a streaming replica ------------------------------------------

postgresql_only = pytest.mark.skipif(
    ENGINE_NAME != "postgresql", reason="a streaming replica of the PostgreSQL test cluster"
)


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A migrated database of its own on the test cluster, and the URL of the same database
    on a streaming replica of the cluster."""
    bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
    where = bindirs[-1] / "pg_basebackup" if bindirs else Path("pg_basebackup")
    tool = require_tool(str(where), package="postgresql")
    with fresh_database(tmp_path_factory.mktemp("replica")) as primary_url:
        migrations.upgrade(primary_url)
        with streaming_replica(SERVER_URL, tool) as replica_server:
            name = make_url(primary_url).database
            replica_url = make_url(replica_server).set(database=name)
            yield primary_url, replica_url.render_as_string(hide_password=False)


@pytest.fixture
def pair(replicated: tuple[str, str], tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    primary_url, replica_url = replicated
    settings = Settings(
        env=Environment.test,
        database_url=primary_url,
        replica_database_url=replica_url,
        replica_wait_seconds=20,
        job_results_dir=tmp_path / "results",
        job_progress_seconds=3600,
        job_lease_seconds=3600,
        upload_dir=tmp_path / "uploads",
        _env_file=None,  # type: ignore[call-arg]
    )
    database = Database.from_settings(settings)
    assert database.replica is not None
    try:
        yield settings, database
    finally:
        _replay(database.replica, pause=False)
        database.dispose()


def _replay(replica: Engine, *, pause: bool) -> None:
    """Pause or resume the replica's replay, and wait until it has."""
    call, state = ("pg_wal_replay_pause", "paused") if pause else ("pg_wal_replay_resume", "")
    with replica.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"SELECT {call}()"))
        deadline = time.monotonic() + 10
        while pause and time.monotonic() < deadline:
            now = connection.execute(text("SELECT pg_get_wal_replay_pause_state()")).scalar()
            if now == state:
                return
            time.sleep(0.01)
        assert not pause, "the replica's replay did not pause"


def _side(database: Database, county: str) -> Side:
    with database.transaction() as session:
        side = create_side(
            session, province=county[:2] + "0000", city=county[:4] + "00", county=county
        )
    return side


def _records(database: Database, side: Side, n: int) -> None:
    with database.transaction() as session:
        for i in range(n):
            student = create_student(session, school_id=side.school.id or 0, name=f"学生{i}")
            consent_on_paper(session, student=student)
            create_record(session, student=student, status="confirmed", minutes=30 + i)


def _job(database: Database, job_id: int) -> Job:
    with database.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


@pytest.fixture
def app_for(make_app: Callable[..., FastAPI]) -> Callable[[Settings, Database], FastAPI]:
    def build(settings: Settings, database: Database) -> FastAPI:
        return make_app(settings, database=database, clock=FrozenClock(FROZEN_AT))

    return build


def _run_next(settings: Settings, database: Database, *, later: int = 0) -> None:
    ran = job_worker.run_next(
        database,
        FrozenClock(FROZEN_AT + timedelta(seconds=later)),
        settings,
        job_kinds(),
        worker="w1",
        store=store_for(settings),
    )
    assert ran is not None


def _replica_waiter(replica: Engine, *, deadline: float) -> bool:
    """Whether another connection to the replica asks for its replay position
    (:func:`wait_for_replay`'s question) from now on, polled until ``deadline``. An idle
    connection shows its last query too: only a question asked after this call counts."""
    with replica.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        since = connection.execute(text("SELECT clock_timestamp()")).scalar()
        while time.monotonic() < deadline:
            asking = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                    " AND query LIKE '%pg_last_wal_replay_lsn()%' AND query_start > :since"
                ),
                {"since": since},
            ).scalar()
            if asking:
                return True
            time.sleep(0.05)
    return False


def _exported(database: Database, job_id: int) -> list[dict[str, Any]]:
    with database.transaction() as session:
        rows = session.exec(
            select(AuditLog.detail).where(AuditLog.action == "records_exported")
        ).all()
    return [d for d in map(json.loads, rows) if d.get("job_id") == job_id]


@postgresql_only
def test_an_export_job_reads_the_replica_once_it_has_replayed_the_jobs_position(
    pair: tuple[Settings, Database], app_for: Callable[[Settings, Database], FastAPI]
) -> None:
    settings, database = pair
    assert database.replica is not None
    side = _side(database, "960101")
    admin = side.principal(Role.school_admin)
    _records(database, side, 3)
    with TestClient(app_for(settings, database), raise_server_exceptions=False) as client:
        first = client.post(f"{API}/record-exports", json={}, headers=auth(settings, admin))
        assert first.status_code == 202, first.text
        first_id = first.json()["id"]
        position = _job(database, first_id).primary_lsn
        assert position is not None
        assert re.fullmatch(r"[0-9A-F]+/[0-9A-F]+", position)

        # The replica holds what the job was asked for, then falls behind: two more records
        # are committed on the primary after the job's position.
        wait_for_replay(database.replica, position, timeout=20)
        _replay(database.replica, pause=True)
        _records(database, side, 2)
        _run_next(settings, database)
        done = _job(database, first_id)
        assert (done.status, done.row_count) == ("done", 3)  # the replica's rows, not 5
        # its audit entry is on the primary (the replica, paused and read-only, has none)
        assert [a["row_count"] for a in _exported(database, first_id)] == [3]

        # A job asked for after those two waits until the replica has replayed them.
        second_id = client.post(
            f"{API}/record-exports", json={}, headers=auth(settings, admin)
        ).json()["id"]
        worker = threading.Thread(target=_run_next, args=(settings, database))
        worker.start()
        deadline = time.monotonic() + 30
        while _job(database, second_id).status == "queued" and time.monotonic() < deadline:
            time.sleep(0.02)
        # Claimed, it waits for the paused replica (its connection there keeps asking for
        # the replay position) and neither finishes nor gives up while the replica is behind.
        assert _replica_waiter(database.replica, deadline=time.monotonic() + 30)
        assert _job(database, second_id).status == "running"
        assert _replica_waiter(database.replica, deadline=time.monotonic() + 30)  # still
        assert _job(database, second_id).status == "running"
        assert worker.is_alive()
        _replay(database.replica, pause=False)
        worker.join(timeout=30)
        assert not worker.is_alive()
        second = _job(database, second_id)
        assert (second.status, second.row_count) == ("done", 5)
        result = client.get(f"{API}/jobs/{second_id}/result", headers=auth(settings, admin))
        assert result.status_code == 200
        assert result.headers["x-row-count"] == "5"


@postgresql_only
def test_a_replica_that_stays_behind_fails_the_export_clearly(
    pair: tuple[Settings, Database], app_for: Callable[[Settings, Database], FastAPI]
) -> None:
    settings, database = pair
    assert database.replica is not None
    settings.replica_wait_seconds = 0.3
    hurried = Database.from_settings(settings)
    try:
        side = _side(database, "960201")
        admin = side.principal(Role.school_admin)
        _records(database, side, 1)
        _replay(database.replica, pause=True)
        _records(database, side, 1)
        with TestClient(app_for(settings, hurried), raise_server_exceptions=False) as client:
            direct = client.get(f"{API}/record-exports", headers=auth(settings, admin))
            assert direct.status_code == 503, direct.text
            assert direct.json()["code"] == "replica_behind"
            assert direct.headers["retry-after"] == "30"
            job_id = client.post(
                f"{API}/record-exports", json={}, headers=auth(settings, admin)
            ).json()["id"]
        _run_next(settings, hurried)
        again = _job(database, job_id)  # a transient outage: queued again, after a backoff
        assert (again.status, again.attempts, again.error_code) == ("queued", 1, None)
        _run_next(settings, hurried, later=30)  # its last attempt
        failed = _job(database, job_id)
        assert (failed.status, failed.error_code) == ("failed", "replica_behind")
        assert _exported(database, job_id) == []  # nothing was read, nothing is counted
    finally:
        hurried.dispose()


@postgresql_only
def test_the_compliance_dashboard_reads_the_replica(
    pair: tuple[Settings, Database], app_for: Callable[[Settings, Database], FastAPI]
) -> None:
    settings, database = pair
    assert database.replica is not None
    with database.reporting_session() as session:
        assert session.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
    _replay(database.replica, pause=True)
    side = _side(database, "960301")  # committed on the primary, not yet on the replica
    headers = auth(settings, side.principal(Role.school_admin))
    with TestClient(app_for(settings, database), raise_server_exceptions=False) as client:
        behind = client.get(f"{API}/schools/{side.school.id}/compliance", headers=headers)
        assert behind.status_code == 404, behind.text
        _replay(database.replica, pause=False)
        position = database.primary_position()
        assert position is not None
        wait_for_replay(database.replica, position, timeout=20)
        caught_up = client.get(f"{API}/schools/{side.school.id}/compliance", headers=headers)
        assert caught_up.status_code == 200, caught_up.text
        assert caught_up.json()["school_id"] == side.school.id
