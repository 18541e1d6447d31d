"""The scheduled archive job: run once, from the CLI, and by the server at start-up."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, delete
from sqlmodel import Session

from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.core.db import Database
from scipass.core.ratelimit import RateLimitCounter
from scipass.jobs import worker as job_worker
from scipass.main import create_app, scheduled_jobs
from scipass.record import notices as record_notices
from scipass.record.models import ParticipationRecord, RecordNotice
from tests.factories import NOW, Side, create_record


def _closed_notice_record(session: Session, side: Side) -> ParticipationRecord:
    notice = RecordNotice(
        school_id=side.school.id or 0,
        title="上学期公示",
        working_days=5,
        starts_at=NOW - timedelta(days=10),
        ends_at=NOW - timedelta(days=1),
        record_count=1,
        opened_by="account:900001",
    )
    session.add(notice)
    session.flush()
    return create_record(session, student=side.student, status="publicised", notice_id=notice.id)


def _status(session: Session, record: ParticipationRecord) -> str:
    session.expire_all()
    stored = session.get(ParticipationRecord, record.id)
    assert stored is not None
    return stored.status


def test_run_once_archives_what_is_due(
    session: Session,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    side_a: Side,
    settings: Settings,
) -> None:
    # Counters other tests' committed scans may have left would count in purge-telemetry: gone
    # in this test's own transaction (rolled back at its end).
    session.execute(delete(RateLimitCounter))
    record = _closed_notice_record(session, side_a)
    done = scheduled_jobs().run_once(Database(engine, bind=connection), clock, settings)
    assert done == {
        "close-visits": 0,
        "publish-competition-results": 0,
        "archive-records": 1,
        "purge-telemetry": 0,
        "purge-idempotency-keys": 0,
        "clean-evidence": 0,
        "expire-job-results": 0,
        "carry-out-deletions": 0,
        "delete-unbound-wechat-users": 0,
        "purge-console-sessions": 0,
    }
    assert _status(session, record) == "archived"
    assert scheduled_jobs().run_once(Database(engine, bind=connection), clock, settings) == {
        "close-visits": 0,
        "publish-competition-results": 0,
        "archive-records": 0,
        "purge-telemetry": 0,
        "purge-idempotency-keys": 0,
        "clean-evidence": 0,
        "expire-job-results": 0,
        "carry-out-deletions": 0,
        "delete-unbound-wechat-users": 0,
        "purge-console-sessions": 0,
    }


def test_the_worker_runs_the_due_jobs_and_the_api_process_none(
    session: Session,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    settings: Settings,
    side_a: Side,
) -> None:
    record = _closed_notice_record(session, side_a)
    enabled = settings.model_copy(update={"jobs_enabled": True, "jobs_interval_seconds": 3600})
    database = Database(engine, bind=connection)
    app = create_app(enabled, database=database, clock=clock)
    with TestClient(app) as client:  # the API process: no scheduler, even when enabled
        client.get("/healthz")
    assert _status(session, record) == "publicised"
    # the worker's turn: the archive job is due (a first start), and runs
    done = job_worker.run_due(database, clock, enabled, scheduled_jobs(), worker="w1")
    assert done["archive-records"] == 1
    assert _status(session, record) == "archived"
    # within the interval nothing is due again, for this worker or another
    assert job_worker.run_due(database, clock, enabled, scheduled_jobs(), worker="w2") == {}


def test_the_server_runs_no_jobs_by_default(
    session: Session,
    engine: Engine,
    connection: Connection,
    clock: FrozenClock,
    settings: Settings,
    side_a: Side,
) -> None:
    record = _closed_notice_record(session, side_a)
    app = create_app(settings, database=Database(engine, bind=connection), clock=clock)
    with TestClient(app) as client:
        client.get("/healthz")
    assert _status(session, record) == "publicised"


def test_notice_then_archive_in_one_session_keeps_the_chain_valid(
    session: Session, settings: Settings, side_a: Side
) -> None:
    from scipass.core.auth import Role
    from scipass.record import chain
    from scipass.record.repository import RecordFilter

    record = create_record(
        session, student=side_a.student, status="reviewed", student_confirmed_at=NOW
    )
    notice = record_notices.open_notice(
        session,
        actor=side_a.principal(Role.school_admin),
        settings=settings,
        title="一次会话内的公示",
        filters=RecordFilter(),
        record_ids=None,
        now=NOW,
    )
    assert record.notice_id == notice.id  # the loaded object sees the bulk update
    assert record_notices.archive_due(session, now=notice.ends_at) == 1
    report = chain.verify(session, side_a.student.id or 0)
    assert report.valid
    assert report.length == 1


def test_an_upheld_objection_takes_the_record_off_the_notice(
    session: Session, settings: Settings, side_a: Side
) -> None:
    from scipass.core.auth import Role
    from scipass.core.pagination import PageParams
    from scipass.record.repository import RecordFilter

    kept, wrong = (
        create_record(session, student=side_a.student, status="reviewed", student_confirmed_at=NOW)
        for _ in range(2)
    )
    admin = side_a.principal(Role.school_admin)
    notice = record_notices.open_notice(
        session,
        actor=admin,
        settings=settings,
        title="公示",
        filters=RecordFilter(),
        record_ids=None,
        now=NOW,
    )
    objection = record_notices.object_to(
        session,
        actor=side_a.principal(Role.student),
        record_id=wrong.id or 0,
        reason="这次我没有参加",
        now=NOW,
    )
    record_notices.resolve_objection(
        session,
        actor=admin,
        objection_id=objection.id or 0,
        uphold=True,
        resolution="核实未参加",
        now=NOW,
    )
    rows, total = record_notices.notice_entries(
        session, notice=notice, page=PageParams(limit=20, offset=0)
    )
    assert [record.id for record, _ in rows] == [kept.id]
    assert total == 1
