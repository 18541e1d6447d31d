"""The job queue and the worker (issue 16): bulk exports as jobs, scheduled jobs once per
interval across workers, lost workers, expiry, and who may read a job."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.core import migrations
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock, SystemClock
from scipass.core.config import Environment, Settings
from scipass.core.db import Database, make_engine
from scipass.core.jobs import Jobs
from scipass.jobs import queue
from scipass.jobs import worker as job_worker
from scipass.jobs.models import Job
from scipass.jobs.storage import store_for
from scipass.main import job_kinds
from scipass.roster.models import Student
from tests.factories import Side, auth, consent_on_paper, create_record, create_student

API = "/api/v1"


@pytest.fixture
def quiet(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose heartbeat stays out of the way of a test's one connection."""
    settings.job_progress_seconds = 3600
    settings.job_lease_seconds = 3600
    settings.job_results_dir = tmp_path / "results"
    return settings


def _records(session: Session, side: Side, n: int) -> None:
    for i in range(n):
        student = create_student(session, school_id=side.school.id or 0, name=f"学生{i}")
        consent_on_paper(session, student=student)  # exported to the 综评 platform
        create_record(session, student=student, status="confirmed", minutes=30 + i)
    session.commit()


def _queue_export(client: TestClient, settings: Settings, who: Principal, **body: Any) -> Any:
    return client.post(f"{API}/record-exports", json=body, headers=auth(settings, who))


def _audits(session: Session, action: str) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.exec(
        select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
    ).all()
    return [json.loads(r.detail) | {"_object_id": r.object_id} for r in rows]


def test_an_export_job_goes_from_queued_to_running_to_done_and_equals_a_direct_export(
    app: FastAPI,
    client: TestClient,
    quiet: Settings,
    session: Session,
    side_a: Side,
    clock: FrozenClock,
) -> None:
    _records(session, side_a, 7)
    admin = side_a.principal(Role.school_admin)
    queued = _queue_export(client, quiet, admin, format="csv")
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    assert queued.json()["status"] == "queued"
    assert queued.json()["download_url"] is None

    database = app.state.db
    claimed = queue.claim(database, worker="w1", now=clock.now(), lease=timedelta(minutes=1))
    assert claimed is not None
    assert claimed.id == job_id
    running = client.get(f"{API}/jobs/{job_id}", headers=auth(quiet, admin)).json()
    assert running["status"] == "running"
    assert running["attempts"] == 1
    job_worker.execute(
        database, clock, quiet, job_kinds(), claimed, worker="w1", store=store_for(quiet)
    )
    done = client.get(f"{API}/jobs/{job_id}", headers=auth(quiet, admin)).json()
    assert done["status"] == "done"
    assert done["row_count"] == 7
    assert (done["progress_done"], done["progress_total"]) == (7, 7)
    assert done["download_url"] == f"/api/v1/jobs/{job_id}/result"

    result = client.get(done["download_url"], headers=auth(quiet, admin))
    assert result.status_code == 200
    direct = client.get(
        f"{API}/record-exports", params={"format": "csv"}, headers=auth(quiet, admin)
    )
    assert direct.status_code == 200
    assert result.content == direct.content
    assert result.headers["x-row-count"] == direct.headers["x-row-count"] == "7"
    assert result.headers["content-disposition"] == direct.headers["content-disposition"]
    lines = result.content.decode("utf-8-sig").strip().split("\r\n")
    assert len(lines) == 1 + 7
    exported = [a for a in _audits(session, "records_exported") if a.get("job_id") == job_id]
    assert [a["row_count"] for a in exported] == [7]
    finished = [a for a in _audits(session, "records_export_finished") if a.get("job_id") == job_id]
    assert [(a["outcome"], a["rows_sent"]) for a in finished] == [("done", 7)]
    assert [a["_object_id"] for a in _audits(session, "job_queued")] == [str(job_id)]


def test_an_xlsx_export_job_makes_a_workbook(
    app: FastAPI,
    client: TestClient,
    quiet: Settings,
    session: Session,
    side_a: Side,
    clock: FrozenClock,
) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    _records(session, side_a, 3)
    staff = side_a.principal(Role.school_staff)
    job_id = _queue_export(client, quiet, staff).json()["id"]
    ran = job_worker.run_next(
        app.state.db, clock, quiet, job_kinds(), worker="w1", store=store_for(quiet)
    )
    assert ran is not None
    result = client.get(f"{API}/jobs/{job_id}/result", headers=auth(quiet, staff))
    assert result.status_code == 200
    sheet = load_workbook(BytesIO(result.content), read_only=True).active
    assert sheet is not None
    assert len(list(sheet.iter_rows(values_only=True))) == 1 + 3


def test_a_direct_export_above_the_limit_names_the_job_endpoint(
    client: TestClient, quiet: Settings, session: Session, side_a: Side
) -> None:
    _records(session, side_a, 3)
    quiet.export_sync_row_limit = 2
    refused = client.get(
        f"{API}/record-exports",
        params={"format": "csv"},
        headers=auth(quiet, side_a.principal(Role.school_admin)),
    )
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "export_too_large"
    assert body["job_endpoint"] == "/api/v1/record-exports"
    assert _audits(session, "records_exported") == []


def test_another_organisations_job_is_not_found(
    app: FastAPI,
    client: TestClient,
    quiet: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    clock: FrozenClock,
) -> None:
    _records(session, side_a, 2)
    teacher = side_a.principal(Role.school_staff)
    job_id = _queue_export(client, quiet, teacher, format="csv").json()["id"]
    job_worker.run_next(
        app.state.db, clock, quiet, job_kinds(), worker="w1", store=store_for(quiet)
    )
    other_school = side_b.school.id
    for stranger in (
        Principal(subject="account:700001", role=Role.school_admin, school_id=other_school),
        Principal(subject="account:700002", role=Role.school_staff, school_id=other_school),
        Principal(subject="account:700003", role=Role.bureau, region_code=side_a.region_code),
        # a colleague at the same school who is not its admin
        Principal(subject="account:700004", role=Role.school_staff, school_id=side_a.school.id),
    ):
        for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/result"):
            hidden = client.get(API + path, headers=auth(quiet, stranger))
            assert hidden.status_code == 404, (stranger, path)
            assert hidden.json()["code"] == "job_not_found"
        assert client.get(f"{API}/jobs", headers=auth(quiet, stranger)).json()["total"] == 0
    # the caller, and their school's admin, read it
    admin = Principal(subject="account:888888", role=Role.school_admin, school_id=side_a.school.id)
    for reader in (teacher, admin):
        assert (
            client.get(f"{API}/jobs/{job_id}/result", headers=auth(quiet, reader)).status_code
            == 200
        )
        assert client.get(f"{API}/jobs", headers=auth(quiet, reader)).json()["total"] == 1


def test_expired_results_are_gone_and_answer_410(
    app: FastAPI,
    client: TestClient,
    quiet: Settings,
    session: Session,
    side_a: Side,
    clock: FrozenClock,
) -> None:
    _records(session, side_a, 2)
    admin = side_a.principal(Role.school_admin)
    job_id = _queue_export(client, quiet, admin, format="csv").json()["id"]
    job_worker.run_next(
        app.state.db, clock, quiet, job_kinds(), worker="w1", store=store_for(quiet)
    )
    files = list((quiet.job_results_dir).iterdir())
    assert len(files) == 1
    clock.advance(timedelta(hours=quiet.job_result_ttl_hours, seconds=1))
    # past its expiry, before the purge has run: already gone for the caller
    headers = auth(quiet, admin, now=clock.now())
    late = client.get(f"{API}/jobs/{job_id}/result", headers=headers)
    assert late.status_code == 410
    assert late.json()["code"] == "job_result_gone"
    with Session(bind=session.connection(), join_transaction_mode="create_savepoint") as purge:
        assert queue.expire_results(purge, store=store_for(quiet), now=clock.now()) == 1
        purge.commit()
    assert list(quiet.job_results_dir.iterdir()) == []
    status = client.get(f"{API}/jobs/{job_id}", headers=headers).json()
    assert status["status"] == "expired"
    assert status["download_url"] is None
    assert client.get(f"{API}/jobs/{job_id}/result", headers=headers).status_code == 410


def test_a_job_not_done_answers_409(
    client: TestClient, quiet: Settings, session: Session, side_a: Side
) -> None:
    admin = side_a.principal(Role.school_admin)
    job_id = _queue_export(client, quiet, admin).json()["id"]
    early = client.get(f"{API}/jobs/{job_id}/result", headers=auth(quiet, admin))
    assert early.status_code == 409
    assert early.json()["code"] == "job_not_done"


def test_an_export_job_that_breaks_half_way_fails_and_says_so(
    app: FastAPI,
    client: TestClient,
    quiet: Settings,
    session: Session,
    side_a: Side,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rows after the second fail to read (the database gone mid-way): the job fails,
    no file is left, and the audit log says the export failed after 2 rows."""
    from scipass.record import exports as record_exports

    _records(session, side_a, 5)
    made = record_exports.export_row
    calls = {"n": 0}

    def failing(row: Any, viewer: Principal) -> list[object]:
        calls["n"] += 1
        if calls["n"] > 2:
            raise ConnectionError("the database went away")
        return made(row, viewer)

    monkeypatch.setattr(record_exports, "export_row", failing)
    admin = side_a.principal(Role.school_admin)
    job_id = _queue_export(client, quiet, admin, format="csv").json()["id"]
    job_worker.run_next(
        app.state.db, clock, quiet, job_kinds(), worker="w1", store=store_for(quiet)
    )
    status = client.get(f"{API}/jobs/{job_id}", headers=auth(quiet, admin)).json()
    assert (status["status"], status["error_code"]) == ("failed", "ConnectionError")
    assert not quiet.job_results_dir.exists() or list(quiet.job_results_dir.iterdir()) == []
    finished = _audits(session, "records_export_finished")
    assert [(f["outcome"], f["rows_sent"], f["error"]) for f in finished] == [
        ("failed", 2, "ConnectionError")
    ]
    assert [(f["outcome"], f["reason"]) for f in _audits(session, "job_failed")] == [
        ("failed", "ConnectionError")
    ]
    assert _audits(session, "records_exported") == []


# --- several workers, on a database of their own (committed data, real connections) ----------


@pytest.fixture
def shared(empty_database_url: str, tmp_path: Path) -> tuple[Database, Settings]:
    migrations.upgrade(empty_database_url)
    settings = Settings(
        env=Environment.test,
        database_url=empty_database_url,
        job_results_dir=tmp_path / "results",
        job_lease_seconds=2,
        job_progress_seconds=0.5,
        _env_file=None,  # type: ignore[call-arg]
    )
    database = Database(make_engine(empty_database_url))
    yield database, settings
    database.engine.dispose()


OWNER = Principal(subject="account:1", role=Role.school_admin, school_id=None)


def _noted_kinds(seen: list[int], *, max_attempts: int = 2) -> queue.JobKinds:
    kinds = queue.JobKinds()

    def handler(context: queue.JobContext) -> queue.JobResult:
        seen.append(context.job_id)
        time.sleep(0.01)
        key = context.result_key("txt")
        size = context.store.put(key, [b"ok"])
        return queue.JobResult(key, "r.txt", "r.txt", "text/plain", size, 1)

    kinds.register("note", handler, max_attempts=max_attempts)
    return kinds


def _enqueue(database: Database, kinds: queue.JobKinds, n: int) -> list[int]:
    kind = kinds.get("note")
    assert kind is not None
    ids = []
    with database.transaction() as session:
        for _ in range(n):
            ids.append(
                queue.enqueue(
                    session, kind=kind, params={}, owner=OWNER, now=SystemClock().now()
                ).id
                or 0
            )
    return ids


def test_two_workers_never_take_the_same_job(shared: tuple[Database, Settings]) -> None:
    database, settings = shared
    seen: list[int] = []
    kinds = _noted_kinds(seen)
    ids = _enqueue(database, kinds, 30)
    store = store_for(settings)
    start = threading.Barrier(4)

    def work(name: str) -> None:
        start.wait()
        while job_worker.run_next(
            database, SystemClock(), settings, kinds, worker=name, store=store
        ):
            pass

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(seen) == Counter(ids)  # each job ran exactly once
    with database.transaction() as session:
        statuses = session.exec(select(Job.status, Job.attempts)).all()
    assert set(statuses) == {("done", 1)}


def test_a_scheduled_job_due_in_two_workers_at_once_runs_once(
    shared: tuple[Database, Settings],
) -> None:
    database, settings = shared
    runs: list[str] = []
    jobs = Jobs()
    jobs.register("count", lambda session, now, settings: runs.append("x") or 1)
    start = threading.Barrier(3)
    results: list[dict[str, int]] = []

    def turn(name: str) -> None:
        start.wait()
        results.append(job_worker.run_due(database, SystemClock(), settings, jobs, worker=name))

    threads = [threading.Thread(target=turn, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert runs == ["x"]
    assert sorted(len(r) for r in results) == [0, 0, 1]


def test_a_worker_told_to_stop_claims_no_further_scheduled_job(
    shared: tuple[Database, Settings],
) -> None:
    """SIGTERM while a first start runs every job: the job running ends, the rest are left
    due (for the next worker) instead of keeping the stopping worker alive."""
    database, settings = shared
    stop = threading.Event()
    runs: list[str] = []
    jobs = Jobs()
    jobs.register("first", lambda session, now, settings: runs.append("first") or stop.set() or 1)
    jobs.register("second", lambda session, now, settings: runs.append("second") or 1)
    done = job_worker.run_due(
        database, SystemClock(), settings, jobs, worker="w", stopping=stop.is_set
    )
    assert (runs, done) == (["first"], {"first": 1})
    # not claimed: due at once for the next worker
    assert job_worker.run_due(database, SystemClock(), settings, jobs, worker="w2") == {"second": 1}


_DOOMED = """
import sys, time
from datetime import timedelta
from scipass.core.clock import SystemClock
from scipass.core.db import Database, make_engine
from scipass.jobs import queue
database = Database(make_engine(sys.argv[1]))
job = queue.claim(database, worker="doomed", now=SystemClock().now(), lease=timedelta(seconds=1))
print("claimed", job.id if job else None, flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("max_attempts", [2, 1], ids=["retried", "failed"])
def test_a_job_whose_worker_is_killed_is_retried_or_marked_failed(
    shared: tuple[Database, Settings], max_attempts: int
) -> None:
    database, settings = shared
    seen: list[int] = []
    kinds = _noted_kinds(seen, max_attempts=max_attempts)
    (job_id,) = _enqueue(database, kinds, 1)
    doomed = subprocess.Popen(
        [sys.executable, "-c", _DOOMED, settings.database_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert doomed.stdout is not None
        assert doomed.stdout.readline().split() == ["claimed", str(job_id)]
    finally:
        doomed.kill()  # the worker dies holding the job
        doomed.wait()
    time.sleep(1.2)  # its lease runs out
    store = store_for(settings)
    job_worker.run_next(database, SystemClock(), settings, kinds, worker="w2", store=store)
    with database.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        audits = session.exec(
            select(AuditLog.action, AuditLog.detail).where(AuditLog.object_type == "job")
        ).all()
    actions = {action: json.loads(detail) for action, detail in audits}
    if max_attempts == 2:
        assert (job.status, job.attempts, job.worker) == ("done", 2, "w2")
        assert seen == [job_id]
        assert actions["job_retried"]["reason"] == "worker_lost"
        assert actions["job_retried"]["outcome"] == "queued_again"
    else:
        assert (job.status, job.error_code) == ("failed", "worker_lost")
        assert seen == []
        assert actions["job_failed"]["reason"] == "worker_lost"
        assert actions["job_failed"]["outcome"] == "failed"


def test_an_attendee_export_job_equals_the_direct_list_and_is_audited(
    app: FastAPI,
    client: TestClient,
    quiet: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    clock: FrozenClock,
) -> None:
    from scipass.checkin.models import CheckIn
    from tests.factories import create_activity

    activity = create_activity(session, venue_id=side_a.venue.id or 0)
    for i in range(3):
        student = create_student(session, school_id=side_a.school.id or 0, name=f"到场{i}")
        session.add(
            CheckIn(
                activity_id=activity.id or 0,
                student_id=student.id or 0,
                school_id=side_a.school.id or 0,
                day=clock.now().date(),
                source="self_scan",
                entered_at=clock.now(),
                operator="test",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    session.commit()
    staff = side_a.principal(Role.venue_staff)
    path = f"{API}/activities/{activity.id}/attendee-exports"
    stranger = Principal(subject="account:700009", role=Role.venue_staff, venue_id=side_b.venue.id)
    assert client.post(path, headers=auth(quiet, stranger)).status_code == 404  # not theirs
    queued = client.post(path, headers=auth(quiet, staff))
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    job_worker.run_next(
        app.state.db, clock, quiet, job_kinds(), worker="w1", store=store_for(quiet)
    )
    result = client.get(f"{API}/jobs/{job_id}/result", headers=auth(quiet, staff))
    assert result.status_code == 200, result.text
    direct = client.get(f"{API}/activities/{activity.id}/checkins.csv", headers=auth(quiet, staff))
    assert result.content == direct.content
    assert result.headers["x-row-count"] == direct.headers["x-row-count"] == "3"
    audits = [a for a in _audits(session, "checkins_exported") if a.get("job_id") == job_id]
    assert [(a["row_count"], a["outcome"]) for a in audits] == [(3, "done")]
    # above the direct limit, the list names its job endpoint
    quiet.export_sync_row_limit = 2
    refused = client.get(f"{API}/activities/{activity.id}/checkins.csv", headers=auth(quiet, staff))
    assert refused.status_code == 422
    assert refused.json()["job_endpoint"] == f"/api/v1/activities/{activity.id}/attendee-exports"


def test_a_classs_record_files_come_as_one_zip_of_pdfs(
    app: FastAPI,
    client: TestClient,
    quiet: Settings,
    session: Session,
    side_a: Side,
    side_b: Side,
    clock: FrozenClock,
) -> None:
    import zipfile
    from io import BytesIO

    # two pupils of one name: both files kept; a pupil of 14 needs no guardian's consent; a
    # pupil under 14 whose guardian has not consented to exports is left out and counted
    for name, born, consented in (
        ("张三", date(2016, 3, 1), True),
        ("张三", date(2016, 5, 1), True),
        ("李四", date(2012, 1, 1), False),
        ("王五", date(2015, 9, 1), False),
    ):
        student = create_student(
            session,
            school_id=side_a.school.id or 0,
            name=name,
            grade=6,
            class_name="3班",
            birth_month=born,
        )
        create_record(session, student=student, status="confirmed")
        if consented:
            consent_on_paper(session, student=student)
    session.commit()
    teacher = side_a.principal(Role.school_staff)
    stranger = Principal(
        subject="account:700010", role=Role.school_staff, school_id=side_b.school.id
    )
    body = {"school_id": side_a.school.id, "grade": 6, "class_name": "3班"}
    refused = client.post(f"{API}/record-files", json=body, headers=auth(quiet, stranger))
    assert refused.status_code == 404
    queued = client.post(
        f"{API}/record-files", json={"grade": 6, "class_name": "3班"}, headers=auth(quiet, teacher)
    )
    assert queued.status_code == 202, queued.text
    job_worker.run_next(
        app.state.db, clock, quiet, job_kinds(), worker="w1", store=store_for(quiet)
    )
    status = client.get(f"{API}/jobs/{queued.json()['id']}", headers=auth(quiet, teacher)).json()
    assert (status["status"], status["row_count"]) == ("done", 3), status
    result = client.get(status["download_url"], headers=auth(quiet, teacher))
    assert result.headers["content-type"] == "application/zip"
    assert result.headers["x-withheld-count"] == "1"
    assert status["withheld_count"] == 1
    with zipfile.ZipFile(BytesIO(result.content)) as bundle:
        names = bundle.namelist()
        assert len(names) == 3
        assert len(set(names)) == 3
        assert all(bundle.read(n).startswith(b"%PDF") for n in names)
    [entry] = [a for a in _audits(session, "records_exported") if a.get("format") == "pdf-zip"]
    assert (entry["files"], entry["outcome"]) == (3, "done")
    assert (entry["withheld_rows"], entry["withheld_students"]) == (1, 1)
    [wang] = session.exec(select(Student).where(Student.name == "王五")).all()
    assert not any(n.startswith(f"{wang.student_no}-") for n in names)
    # one pupil's own file is not an export to the platform: the school still makes it
    own = client.get(f"{API}/students/{wang.id}/record-file", headers=auth(quiet, teacher))
    assert own.status_code == 200, own.text
    assert own.content.startswith(b"%PDF")


def test_a_record_files_zip_that_fails_is_not_counted_as_an_export(
    app: FastAPI,
    client: TestClient,
    quiet: Settings,
    session: Session,
    side_a: Side,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As a table export: ``records_exported`` only once the ZIP is stored (the yearly audit
    report counts it as an export), ``records_export_finished`` with ``failed`` otherwise."""
    from scipass.record import record_file

    student = create_student(session, school_id=side_a.school.id or 0, grade=6, class_name="3班")
    create_record(session, student=student, status="confirmed")
    consent_on_paper(session, student=student)
    session.commit()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(record_file, "render_file", broken)
    teacher = side_a.principal(Role.school_staff)
    queued = client.post(
        f"{API}/record-files", json={"grade": 6, "class_name": "3班"}, headers=auth(quiet, teacher)
    )
    assert queued.status_code == 202, queued.text
    job_worker.run_next(
        app.state.db, clock, quiet, job_kinds(), worker="w1", store=store_for(quiet)
    )
    status = client.get(f"{API}/jobs/{queued.json()['id']}", headers=auth(quiet, teacher)).json()
    assert (status["status"], status["error_code"]) == ("failed", "ConnectionError")
    assert _audits(session, "records_exported") == []
    [finished] = _audits(session, "records_export_finished")
    assert (finished["format"], finished["outcome"], finished["files"]) == ("pdf-zip", "failed", 0)
    assert finished["error"] == "ConnectionError"
