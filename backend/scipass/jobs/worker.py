"""``scipass worker``: the process that runs what must not run on the request path.

In a loop it (1) starts each scheduled job that is due, once per interval across all
workers and hosts (:func:`run_due`), and (2) takes the oldest queued job and runs it
(:func:`run_next`), renewing its lease from a heartbeat thread while the handler works. It
sleeps ``SCIPASS_WORKER_POLL_SECONDS`` when there was nothing to do. The API process runs
neither: ``scipass serve`` starts one worker as a child process in the single-machine setup,
and more may run on other hosts against the same database.

Scheduled jobs claim their turn with a conditional update of ``job_schedule.due_at``
(``WHERE due_at <= now``): whichever worker moves it on runs the job; the others see no row
changed and skip it. A worker that dies while running one blocks nothing: the next run is due
one interval later whatever happened to this one.
"""

from __future__ import annotations

import json
import logging
import os
import select as io_select
import signal
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from scipass.core import metrics
from scipass.core.clock import Clock
from scipass.core.config import Settings
from scipass.core.db import Database
from scipass.core.errors import ProblemError, ServiceUnavailable
from scipass.core.jobs import Jobs
from scipass.jobs import queue
from scipass.jobs.models import Job, JobSchedule
from scipass.jobs.storage import ResultStore, store_for

logger = logging.getLogger("scipass.worker")

# A queued job that met a transient outage (:func:`_transient`) runs again no sooner than
# this times its attempts so far.
RETRY_BACKOFF = timedelta(seconds=30)

_SCHEDULE = JobSchedule.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


def worker_name() -> str:
    """This worker's name in the queue and the schedule: host and process."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def run_due(
    database: Database,
    clock: Clock,
    settings: Settings,
    jobs: Jobs,
    *,
    worker: str,
    stopping: Callable[[], bool] | None = None,
) -> dict[str, int]:
    """Run each scheduled job whose turn has come and that this worker claimed; how much
    each did. A failing job is logged and the others still run. Once ``stopping()`` is true
    (the worker told to end) no further job is claimed: those stay due for the next worker."""
    done: dict[str, int] = {}
    interval = timedelta(seconds=settings.jobs_interval_seconds)
    now = clock.now()
    # One read to see what is due (an idle worker polls every second: on SQLite it must not
    # queue for the one writer the scans use); a write only to claim a due job's turn.
    reader = database.read_only_session()
    try:
        known = dict(reader.exec(select(JobSchedule.name, JobSchedule.due_at)).all())
    finally:
        reader.close()
    for name in jobs.names():
        if stopping is not None and stopping():
            break
        if name in known and known[name] > now:
            continue
        now = clock.now()
        with database.transaction() as session:
            _ensure_row(session, name, now)
            claimed = session.execute(
                update(JobSchedule)
                .where(col(JobSchedule.name) == name, col(JobSchedule.due_at) <= now)
                .values(due_at=now + interval, last_started_at=now, last_worker=worker)
            ).rowcount  # type: ignore[attr-defined]  # CursorResult of an UPDATE
        if not claimed:
            continue
        started = time.perf_counter()
        try:
            with database.transaction() as session:
                done[name] = jobs.run(name, session, clock.now(), settings)
        except Exception:
            logger.exception("scheduled job %s failed", name)
            metrics.job_run("scheduled", name, "failed", time.perf_counter() - started)
        else:
            metrics.job_run("scheduled", name, "ok", time.perf_counter() - started)
    return done


def _ensure_row(session: Session, name: str, now: datetime) -> None:
    """The schedule's row for ``name``, due now, unless it is there already (a first start,
    or a job a new release added)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(_SCHEDULE).on_conflict_do_nothing(index_elements=["name"]),
        {"name": name, "due_at": now},
    )


class _Heartbeat:
    """Renews a running job's lease, and writes its progress, from a thread of its own:
    progress at most every ``every`` seconds (on SQLite each write takes the one writer),
    the lease at least every third of its length."""

    def __init__(
        self, database: Database, clock: Clock, settings: Settings, job_id: int, worker: str
    ) -> None:
        self.database, self.clock = database, clock
        self.job_id, self.worker = job_id, worker
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.every = settings.job_progress_seconds
        self._progress: tuple[int, int | None] | None = None
        self._written_at = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._beat, name=f"job-{job_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self, done: int, total: int | None) -> None:
        with self._lock:
            self._progress = (done, total)

    def _beat(self) -> None:
        renew_every = min(self.every, self.lease.total_seconds() / 3)
        while not self._stop.wait(renew_every):
            with self._lock:
                progress, self._progress = self._progress, None
            done, total = progress if progress is not None else (None, None)
            try:
                held = queue.renew(
                    self.database,
                    job_id=self.job_id,
                    worker=self.worker,
                    until=self.clock.now() + self.lease,
                    done=done,
                    total=total,
                )
            except Exception:
                logger.exception("could not renew the lease of job %s", self.job_id)
                continue
            if not held:
                self.lost = True
                logger.warning("job %s: lease lost to another worker", self.job_id)
                return


def run_next(
    database: Database,
    clock: Clock,
    settings: Settings,
    kinds: queue.JobKinds,
    *,
    worker: str,
    store: ResultStore,
) -> Job | None:
    """Claim the oldest queued job and run it to its end; the job as claimed, or None."""
    job = queue.claim(
        database,
        worker=worker,
        now=clock.now(),
        lease=timedelta(seconds=settings.job_lease_seconds),
    )
    if job is not None:
        execute(database, clock, settings, kinds, job, worker=worker, store=store)
    return job


def execute(
    database: Database,
    clock: Clock,
    settings: Settings,
    kinds: queue.JobKinds,
    job: Job,
    *,
    worker: str,
    store: ResultStore,
) -> None:
    """Run a job ``worker`` claimed: its handler, with the lease renewed meanwhile, then its
    outcome (done with the result, or failed with the error's name)."""
    assert job.id is not None
    kind = kinds.get(job.kind)
    if kind is None:
        queue.fail(database, job=job, worker=worker, error_code="unknown_kind", now=clock.now())
        metrics.job_run("queued", "unknown", "failed", 0.0)  # a name no release knows
        return
    started = time.perf_counter()
    with _Heartbeat(database, clock, settings, job.id, worker) as beat:
        context = queue.JobContext(
            job_id=job.id,
            params=json.loads(job.params),
            owner=queue.owner_of(job),
            database=database,
            clock=clock,
            settings=settings,
            store=store,
            report=beat.report,
            primary_lsn=job.primary_lsn,
        )
        try:
            result = kind.handler(context)
        except Exception as exc:
            # a problem's own code (``replica_behind``), otherwise the exception's name
            code = exc.code if isinstance(exc, ProblemError) else type(exc).__name__
            if _transient(exc) and queue.retry_later(
                database,
                job=job,
                worker=worker,
                error_code=code,
                now=clock.now(),
                after=RETRY_BACKOFF * job.attempts,
            ):
                logger.warning("job %s (%s): %s, queued again", job.id, job.kind, code)
                metrics.job_run("queued", job.kind, "retried", time.perf_counter() - started)
                return
            logger.exception("job %s (%s) failed", job.id, job.kind)
            queue.fail(database, job=job, worker=worker, error_code=code, now=clock.now())
            metrics.job_run("queued", job.kind, "failed", time.perf_counter() - started)
            return
    ttl = timedelta(hours=settings.job_result_ttl_hours)
    if not queue.finish(
        database, job_id=job.id, worker=worker, result=result, now=clock.now(), ttl=ttl
    ):
        store.delete(result.key)  # another worker took the job over; its result counts
        metrics.job_run("queued", job.kind, "lost", time.perf_counter() - started)
        return
    metrics.job_run("queued", job.kind, "ok", time.perf_counter() - started)


def _transient(exc: Exception) -> bool:
    """An outage the same job may get past later: a 503-type problem (the replica behind, the
    storage down), or the database's ``OperationalError`` (a connection lost, or a read on a
    hot standby cancelled by a recovery conflict, SQLSTATE 40001)."""
    return isinstance(exc, ServiceUnavailable | OperationalError)


def run(
    settings: Settings, *, stop: threading.Event | None = None, parent: int | None = None
) -> None:
    """The worker's loop, until ``stop`` is set (or SIGTERM / SIGINT in the main thread), or
    until the process ``parent`` (the server that started it) has ended."""
    from scipass.core.clock import SystemClock
    from scipass.main import job_kinds, scheduled_jobs

    stop = stop or threading.Event()
    # The handlers only note the signal: one that took a lock (stop.set() did) waited forever
    # when the signal came while the main thread held that lock, in stop.wait() or in another
    # handler, and the worker outlived its server. The wakeup fd ends the idle wait at once.
    signalled: list[int] = []
    wakeup: tuple[int, int] | None = None
    if threading.current_thread() is threading.main_thread():
        wakeup = os.pipe()
        for fd in wakeup:
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(wakeup[1])
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda signum, _frame: signalled.append(signum))

    def stopping() -> bool:
        return bool(signalled) or stop.is_set()

    def idle(seconds: float) -> None:
        if wakeup is None:
            stop.wait(seconds)
            return
        io_select.select([wakeup[0]], [], [], seconds)
        with suppress(BlockingIOError):
            os.read(wakeup[0], 512)

    database = Database.from_settings(settings)
    clock = SystemClock()
    jobs, kinds = scheduled_jobs(), job_kinds()
    store = store_for(settings)
    name = worker_name()
    logger.info("worker %s started: jobs %s, kinds %s", name, jobs.names(), kinds.names())
    try:
        while not stopping():
            if parent is not None and os.getppid() != parent:
                logger.info("worker %s: the server has ended", name)
                break
            busy = False
            try:
                done = run_due(database, clock, settings, jobs, worker=name, stopping=stopping)
                if any(done.values()):
                    logger.info("scheduled jobs done: %s", done)
                busy = (
                    run_next(database, clock, settings, kinds, worker=name, store=store) is not None
                )
            except Exception:
                logger.exception("worker loop failed; trying again")
                idle(settings.worker_poll_seconds)
            if not busy:
                idle(settings.worker_poll_seconds)
    finally:
        database.dispose()
        if wakeup is not None:
            signal.set_wakeup_fd(-1)
            for fd in wakeup:
                os.close(fd)
        logger.info("worker %s stopped", name)
