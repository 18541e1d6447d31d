"""The job queue, on the database the service already runs (DESIGN.md: large exports run as a
job the caller polls).

* :func:`enqueue` adds a job in the caller's transaction (a request answers 202 with its id).
* :func:`claim` gives a worker the oldest queued job. On PostgreSQL the candidate row is read
  ``FOR UPDATE SKIP LOCKED``, so workers on several hosts pass each other's rows by; on SQLite
  the claim is a write transaction, and the one writer serialises them. Either way the claim
  itself is a conditional update (``WHERE status = 'queued'``): whoever changes the row has
  the job, so two workers never take the same job.
* A running job holds a lease (``lease_until``) that its worker renews while it works. A worker
  that dies stops renewing; once the lease has run out, the next claim puts the job back in
  the queue (``job_retried`` in the audit log) or, after ``max_attempts``, marks it failed
  with ``worker_lost`` (``job_failed``): never lost, never silent.
* A job whose handler meets a transient outage (a 503-type problem) is queued again by
  :func:`retry_later`, not to run before its ``lease_until``, while it has attempts left.
* :func:`finish` and :func:`fail` are conditional on the worker still holding the job, so a
  worker that lost its lease cannot overwrite the outcome of the one that took over.

Job kinds are registered by their domains (:class:`JobKinds`), as scheduled jobs are.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import Principal, Role
from scipass.core.clock import Clock
from scipass.core.config import Settings
from scipass.core.db import HAS_REPLICA, Database, after_commit
from scipass.core.jobs import Jobs
from scipass.core.replica import primary_position
from scipass.jobs.models import Job, JobStatus
from scipass.jobs.storage import ResultStore

logger = logging.getLogger("scipass.jobs")

FAMILY_ROLES = (Role.student, Role.guardian, Role.wechat_user)


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a finished job leaves: a stored file, and how many rows it holds."""

    key: str
    name: str
    plain_name: str  # ASCII, for clients that cannot read filename*
    media_type: str
    size: int
    row_count: int | None
    withheld_count: int | None = None  # rows an export of pupils' records left out


@dataclass(slots=True)
class JobContext:
    """What a job's handler gets: its parameters, who asked (as the principal of the request
    that queued it), the database, the clock, the settings, the result store, and a way to
    report progress (written sparingly: at most every ``progress_seconds``)."""

    job_id: int
    params: dict[str, Any]
    owner: Principal
    database: Database
    clock: Clock
    settings: Settings
    store: ResultStore
    report: Callable[[int, int | None], None]
    # The primary's WAL position when the job was queued: an export read on the read replica
    # waits until the replica has replayed it (None on SQLite).
    primary_lsn: str | None = None

    def progress(self, done: int, total: int | None = None) -> None:
        self.report(done, total)

    def result_key(self, suffix: str) -> str:
        """A fresh, unguessable key for this job's result file."""
        return f"job-{self.job_id}-{secrets.token_hex(8)}.{suffix}"


Handler = Callable[[JobContext], JobResult]


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    handler: Handler
    max_attempts: int = 2


@dataclass
class JobKinds:
    """The kinds of job the domains registered, by name."""

    _kinds: dict[str, JobKind] = field(default_factory=dict)

    def register(self, name: str, handler: Handler, *, max_attempts: int = 2) -> None:
        if name in self._kinds:
            raise ValueError(f"job kind {name!r} is registered twice")
        self._kinds[name] = JobKind(name, handler, max_attempts)

    def get(self, name: str) -> JobKind | None:
        return self._kinds.get(name)

    def names(self) -> list[str]:
        return list(self._kinds)


def owner_of(job: Job) -> Principal:
    """The principal of the request that queued ``job`` (its scope decides what it reads)."""
    params = json.loads(job.params)
    scope = params.get("_owner", {})
    return Principal(
        subject=job.owner_subject,
        role=Role(job.owner_role),
        school_id=scope.get("school_id"),
        venue_id=scope.get("venue_id"),
        bureau_id=scope.get("bureau_id"),
        region_code=scope.get("region_code"),
        student_id=scope.get("student_id"),
    )


def enqueue(
    session: Session,
    *,
    kind: JobKind,
    params: dict[str, Any],
    owner: Principal,
    now: datetime,
) -> Job:
    """Queue a job in ``session``'s transaction; the worker takes it once that commits."""
    scope = {
        "school_id": owner.school_id,
        "venue_id": owner.venue_id,
        "bureau_id": owner.bureau_id,
        "region_code": owner.region_code,
        "student_id": owner.student_id,
    }
    job = Job(
        kind=kind.name,
        params=json.dumps({**params, "_owner": scope}, ensure_ascii=False, sort_keys=True),
        owner_subject=owner.subject,
        owner_role=owner.role.value,
        # a family's job (a pupil's, or a guardian's for a child) is theirs alone: the
        # school's admins see staff's jobs of their organisation, never a family's copy
        owner_org=None if owner.role in FAMILY_ROLES else owner.org,
        status=JobStatus.queued.value,
        max_attempts=kind.max_attempts,
        created_at=now,
        primary_lsn=_queued_position(session),
    )
    session.add(job)
    session.flush()
    audit_service.record(
        session,
        action=audit_service.Action.job_queued,
        at=now,
        actor=owner,
        object_type="job",
        object_id=job.id,
        school_id=owner.school_id,
        region_code=owner.region_code,
        kind=kind.name,
    )
    return job


def _queued_position(session: Session) -> str | None:
    """The primary's WAL position for a job read on the read replica; None without a replica
    (nothing waits for it: no WAL function is called, which a managed PostgreSQL may refuse)
    or when the server refuses the call (logged): the export then waits for the position
    at its start, later than this one, so it still misses nothing committed before."""
    if not session.info.get(HAS_REPLICA):
        return None
    try:
        with session.begin_nested():  # a refused call must not abort the caller's transaction
            return primary_position(session.connection())
    except DBAPIError as exc:
        logger.warning(
            "the primary's WAL position could not be read (%s): the job waits for the "
            "position at its start",
            type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
        )
        return None


def _reap(session: Session, *, now: datetime) -> None:
    """Jobs whose worker stopped renewing its lease: queued again while attempts remain,
    otherwise failed with ``worker_lost``; each with its audit entry."""
    lost = session.exec(
        select(Job)
        .where(Job.status == JobStatus.running.value, col(Job.lease_until) < now)
        .order_by(col(Job.id))
        .limit(20)
        .with_for_update(skip_locked=True)
    ).all()
    for job in lost:
        again = job.attempts < job.max_attempts
        changed = session.execute(
            update(Job)
            .where(
                col(Job.id) == job.id,
                col(Job.status) == JobStatus.running.value,
                col(Job.lease_until) < now,
            )
            .values(
                status=JobStatus.queued.value if again else JobStatus.failed.value,
                worker=None,
                lease_until=None,
                finished_at=None if again else now,
                error_code=None if again else "worker_lost",
            )
        ).rowcount  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        if not changed:
            continue
        _audit_outcome(
            session,
            job,
            again=again,
            reason="worker_lost",
            now=now,
        )
        logger.warning(
            "job %s (%s): worker %s lost, %s",
            job.id,
            job.kind,
            job.worker,
            "queued again" if again else "failed",
        )


def _audit_outcome(session: Session, job: Job, *, again: bool, reason: str, now: datetime) -> None:
    """A job queued again after its worker was lost (``job_retried``), or failed
    (``job_failed``), with the reason, in the audit log."""
    owner = owner_of(job)
    audit_service.record(
        session,
        action=audit_service.Action.job_retried if again else audit_service.Action.job_failed,
        at=now,
        actor=owner,
        object_type="job",
        object_id=job.id,
        school_id=owner.school_id,
        region_code=owner.region_code,
        kind=job.kind,
        attempts=job.attempts,
        reason=reason,
        outcome="queued_again" if again else "failed",
    )


def _due(now: datetime) -> Any:
    """A queued job may run now: no ``lease_until`` (a queued job's not-before time, set when
    a transient outage put it back, :func:`retry_later`), or one that has passed."""
    return or_(col(Job.lease_until).is_(None), col(Job.lease_until) <= now)


def claim(database: Database, *, worker: str, now: datetime, lease: timedelta) -> Job | None:
    """The oldest queued job, now running for ``worker`` until ``now + lease``; None when
    the queue is empty. Lost workers' jobs are dealt with first (:func:`_reap`). An idle
    queue costs one read, not a write transaction: on SQLite a poll must not queue for the
    one writer the scans use."""
    reader = database.read_only_session()
    try:
        waiting = reader.exec(
            select(Job.id)
            .where(
                or_(
                    and_(col(Job.status) == JobStatus.queued.value, _due(now)),
                    and_(col(Job.status) == JobStatus.running.value, col(Job.lease_until) < now),
                )
            )
            .limit(1)
        ).first()
    finally:
        reader.close()
    if waiting is None:
        return None
    with database.transaction() as session:
        _reap(session, now=now)
        candidate = session.exec(
            select(Job.id)
            .where(Job.status == JobStatus.queued.value, _due(now))
            .order_by(col(Job.id))
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if candidate is None:
            return None
        changed = session.execute(
            update(Job)
            .where(col(Job.id) == candidate, col(Job.status) == JobStatus.queued.value, _due(now))
            .values(
                status=JobStatus.running.value,
                worker=worker,
                lease_until=now + lease,
                attempts=Job.attempts + 1,
                started_at=now,
            )
        ).rowcount  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        if not changed:
            return None
        job = session.get(Job, candidate, populate_existing=True)
        assert job is not None
        session.expunge(job)
        return job


def _held(job_id: int | None, worker: str) -> tuple[Any, ...]:
    """The job is running for ``worker`` still (no other worker has taken it over)."""
    return (
        col(Job.id) == job_id,
        col(Job.worker) == worker,
        col(Job.status) == JobStatus.running.value,
    )


def renew(
    database: Database,
    *,
    job_id: int,
    worker: str,
    until: datetime,
    done: int | None = None,
    total: int | None = None,
) -> bool:
    """Extend the lease (and write the progress) while ``worker`` still holds the job."""
    values: dict[str, Any] = {"lease_until": until}
    if done is not None:
        values["progress_done"] = done
    if total is not None:
        values["progress_total"] = total
    with database.transaction() as session:
        changed = session.execute(
            update(Job).where(*_held(job_id, worker)).values(**values)
        ).rowcount  # type: ignore[attr-defined]  # CursorResult of an UPDATE
    return bool(changed)


def finish(
    database: Database,
    *,
    job_id: int,
    worker: str,
    result: JobResult,
    now: datetime,
    ttl: timedelta,
) -> bool:
    """Mark the job done with its result; False when another worker took it meanwhile."""
    with database.transaction() as session:
        changed = session.execute(
            update(Job)
            .where(*_held(job_id, worker))
            .values(
                status=JobStatus.done.value,
                lease_until=None,
                finished_at=now,
                result_key=result.key,
                result_name=result.name,
                result_plain_name=result.plain_name,
                result_media_type=result.media_type,
                result_size=result.size,
                row_count=result.row_count,
                withheld_count=result.withheld_count,
                progress_done=result.row_count if result.row_count is not None else 0,
                progress_total=result.row_count,
                expires_at=now + ttl,
            )
        ).rowcount  # type: ignore[attr-defined]  # CursorResult of an UPDATE
    return bool(changed)


def fail(database: Database, *, job: Job, worker: str, error_code: str, now: datetime) -> bool:
    """Mark the job failed (its handler raised); audited with the reason."""
    with database.transaction() as session:
        changed = session.execute(
            update(Job)
            .where(*_held(job.id, worker))
            .values(
                status=JobStatus.failed.value,
                lease_until=None,
                finished_at=now,
                error_code=error_code[:40],
            )
        ).rowcount  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        if changed:
            _audit_outcome(session, job, again=False, reason=error_code, now=now)
    return bool(changed)


def retry_later(
    database: Database, *, job: Job, worker: str, error_code: str, now: datetime, after: timedelta
) -> bool:
    """Queue the job again, not to run before ``now + after``, when its handler met a
    transient outage (a 503-type problem: the replica behind, the storage down) and it has
    attempts left; audited ``job_retried`` with the reason. False when it has none left (or
    another worker took it): the caller then fails it."""
    with database.transaction() as session:
        changed = session.execute(
            update(Job)
            .where(*_held(job.id, worker), col(Job.attempts) < col(Job.max_attempts))
            .values(
                status=JobStatus.queued.value,
                worker=None,
                lease_until=now + after,  # queued: not before then (:func:`_due`)
                progress_done=0,
                progress_total=None,
            )
        ).rowcount  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        if changed:
            _audit_outcome(session, job, again=True, reason=error_code, now=now)
    return bool(changed)


def expire_results(session: Session, *, store: ResultStore, now: datetime, limit: int = 500) -> int:
    """Delete the results past their expiry and mark their jobs expired (a scheduled job)."""
    due = session.exec(
        select(Job)
        .where(Job.status == JobStatus.done.value, col(Job.expires_at) <= now)
        .order_by(col(Job.id))
        .limit(limit)
    ).all()
    expired = 0
    for job in due:
        changed = session.execute(
            update(Job)
            .where(col(Job.id) == job.id, col(Job.status) == JobStatus.done.value)
            .values(status=JobStatus.expired.value)
        ).rowcount  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        if changed and job.result_key:
            after_commit(session, _deleter(store, job.result_key))
            expired += 1
    return expired


def _deleter(store: ResultStore, key: str) -> Callable[[], None]:
    def delete() -> None:
        store.delete(key)

    return delete


def expire_results_job(session: Session, now: datetime, settings: Settings) -> int:
    """The scheduled job: delete the job results past their expiry."""
    from scipass.jobs.storage import store_for

    return expire_results(session, store=store_for(settings), now=now)


def register_jobs(jobs: Jobs) -> None:
    jobs.register("expire-job-results", expire_results_job)
