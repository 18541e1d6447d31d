"""A queued job that meets a transient outage (a 503-type problem: the read replica behind,
the file storage down) is queued again with a backoff while it has attempts left, and fails
for good after its last (issue 22). A job notes the primary's WAL position only when a read
replica will wait for it."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from scipass.audit.models import AuditLog
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.core.db import HAS_REPLICA, Database
from scipass.core.replica import ReplicaBehind
from scipass.core.storage import StorageUnavailable
from scipass.jobs import queue
from scipass.jobs import worker as job_worker
from scipass.jobs.models import Job
from scipass.jobs.storage import store_for
from tests.conftest import FROZEN_AT
from tests.databases import ENGINE_NAME
from tests.jobs.test_queue import OWNER, shared  # noqa: F401


def _kinds(outcomes: list[Exception | None], *, max_attempts: int = 2) -> queue.JobKinds:
    """A kind whose handler raises the next of ``outcomes`` (None: succeeds)."""
    kinds = queue.JobKinds()

    def handler(context: queue.JobContext) -> queue.JobResult:
        problem = outcomes.pop(0)
        if problem is not None:
            raise problem
        key = context.result_key("txt")
        size = context.store.put(key, [b"ok"])
        return queue.JobResult(key, "r.txt", "r.txt", "text/plain", size, 1)

    kinds.register("flaky", handler, max_attempts=max_attempts)
    return kinds


def _enqueue(database: Database, kinds: queue.JobKinds, clock: FrozenClock) -> int:
    kind = kinds.get("flaky")
    assert kind is not None
    with database.transaction() as session:
        job = queue.enqueue(session, kind=kind, params={}, owner=OWNER, now=clock.now())
    assert job.id is not None
    return job.id


def _job(database: Database, job_id: int) -> Job:
    with database.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job


def _reasons(database: Database, action: str) -> list[str]:
    with database.transaction() as session:
        details = session.exec(select(AuditLog.detail).where(AuditLog.action == action)).all()
    return [json.loads(detail)["reason"] for detail in details]


def test_a_transient_outage_queues_the_job_again_after_a_backoff(
    shared: tuple[Database, Settings],  # noqa: F811
) -> None:
    database, settings = shared
    clock = FrozenClock(FROZEN_AT)
    kinds = _kinds([ReplicaBehind("副本落后", "replica behind"), None])
    job_id = _enqueue(database, kinds, clock)
    store = store_for(settings)

    def run() -> Job | None:
        return job_worker.run_next(database, clock, settings, kinds, worker="w1", store=store)

    assert run() is not None
    again = _job(database, job_id)
    assert (again.status, again.attempts, again.worker) == ("queued", 1, None)
    assert again.lease_until == FROZEN_AT + timedelta(seconds=30)  # not before then
    assert _reasons(database, "job_retried") == ["replica_behind"]

    assert run() is None  # backing off: no worker takes it yet
    clock.advance(timedelta(seconds=29))
    assert run() is None
    clock.advance(timedelta(seconds=1))
    assert run() is not None
    done = _job(database, job_id)
    assert (done.status, done.attempts, done.error_code) == ("done", 2, None)
    assert _reasons(database, "job_failed") == []


def test_an_outage_on_the_last_attempt_fails_the_job(
    shared: tuple[Database, Settings],  # noqa: F811
) -> None:
    database, settings = shared
    clock = FrozenClock(FROZEN_AT)
    down = StorageUnavailable("存储不可用", "storage down")
    kinds = _kinds([down, down, down])
    job_id = _enqueue(database, kinds, clock)
    store = store_for(settings)
    for attempt in (1, 2):
        assert job_worker.run_next(database, clock, settings, kinds, worker="w1", store=store)
        clock.advance(timedelta(seconds=30 * attempt))  # the backoff grows with the attempts
    failed = _job(database, job_id)
    assert (failed.status, failed.attempts, failed.error_code) == (
        "failed",
        2,
        "storage_unavailable",
    )
    assert _reasons(database, "job_retried") == ["storage_unavailable"]
    assert _reasons(database, "job_failed") == ["storage_unavailable"]
    assert job_worker.run_next(database, clock, settings, kinds, worker="w1", store=store) is None


def test_a_read_cancelled_on_the_standby_is_queued_again(
    shared: tuple[Database, Settings],  # noqa: F811
) -> None:
    """A long read on a hot standby can be cancelled by a recovery conflict (SQLSTATE 40001,
    an ``OperationalError``), as can a read whose connection drops: tried again later."""
    database, settings = shared
    clock = FrozenClock(FROZEN_AT)
    cancelled = OperationalError(
        "SELECT ...", {}, Exception("canceling statement due to conflict with recovery")
    )
    kinds = _kinds([cancelled, None])
    job_id = _enqueue(database, kinds, clock)
    store = store_for(settings)
    assert job_worker.run_next(database, clock, settings, kinds, worker="w1", store=store)
    assert _job(database, job_id).status == "queued"
    clock.advance(timedelta(seconds=30))
    assert job_worker.run_next(database, clock, settings, kinds, worker="w1", store=store)
    assert _job(database, job_id).status == "done"
    assert _reasons(database, "job_retried") == ["OperationalError"]


def test_an_error_that_is_not_an_outage_fails_at_once(
    shared: tuple[Database, Settings],  # noqa: F811
) -> None:
    database, settings = shared
    clock = FrozenClock(FROZEN_AT)
    kinds = _kinds([ValueError("a bug"), None])
    job_id = _enqueue(database, kinds, clock)
    store = store_for(settings)
    assert job_worker.run_next(database, clock, settings, kinds, worker="w1", store=store)
    failed = _job(database, job_id)
    assert (failed.status, failed.attempts, failed.error_code) == ("failed", 1, "ValueError")


def test_without_a_replica_a_job_notes_no_wal_position(
    shared: tuple[Database, Settings],  # noqa: F811
) -> None:
    """No WAL function is called when nothing will wait for the position (a managed
    PostgreSQL may refuse them)."""
    database, _ = shared
    clock = FrozenClock(FROZEN_AT)
    job_id = _enqueue(database, _kinds([]), clock)
    assert _job(database, job_id).primary_lsn is None


@pytest.mark.skipif(ENGINE_NAME != "postgresql", reason="WAL positions are PostgreSQL's")
def test_a_refused_wal_position_is_null_and_the_job_still_queued(
    shared: tuple[Database, Settings],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    database, _ = shared
    clock = FrozenClock(FROZEN_AT)
    kinds = _kinds([])
    with database.transaction() as session:
        assert queue._queued_position(session) is None  # no replica: not asked
        session.info[HAS_REPLICA] = True
        position = queue._queued_position(session)
        assert position is not None  # with one, the primary's position

    def refused(connection: Connection) -> str:
        # an error from the server, as one refusing WAL functions to the application's role
        connection.execute(text("SELECT pg_current_wal_insert_lsn() + 'x'"))
        raise AssertionError("unreachable")

    monkeypatch.setattr(queue, "primary_position", refused)
    kind = kinds.get("flaky")
    assert kind is not None
    with caplog.at_level(logging.WARNING, "scipass.jobs"), database.transaction() as session:
        session.info[HAS_REPLICA] = True
        job = queue.enqueue(session, kind=kind, params={}, owner=OWNER, now=clock.now())
        job_id = job.id
    assert job_id is not None
    assert _job(database, job_id).primary_lsn is None  # queued all the same, with NULL
    assert "WAL position could not be read" in caplog.text
