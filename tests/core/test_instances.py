"""Several instances on one database (issue 22, README "Several instances"): two real
``scipass serve`` processes on one PostgreSQL database refuse a code the other revoked as soon
as the change's notification arrives, and count a pupil's scans against one rate; two
``scipass worker`` processes run a due scheduled job once between them; a queued job whose
worker was killed is taken up by another once its lease has run out; and prod refuses several
server processes on SQLite.

Every process here is a subprocess of the test, on a database of this module's own."""

from __future__ import annotations

import itertools
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text, update
from sqlmodel import Session, col, select

from scipass.checkin import codes, issuing
from scipass.checkin.models import ActivityCode
from scipass.checkin.views import ACTIVITY, CODE, ActivityView, CodeView, ScanCache
from scipass.core import migrations, notify
from scipass.core.auth import Principal, Role
from scipass.core.config import Environment, Settings
from scipass.core.db import READ_ONLY_OPTION, make_engine
from scipass.jobs import queue
from scipass.jobs.models import Job, JobSchedule, JobStatus
from tests.databases import ENGINE_NAME, fresh_database
from tests.factories import open_activity_now, token
from tests.startup import PROD, serve_refused

RATE = 20  # scans a minute per pupil, in both instances
CACHE_SECONDS = 300  # how long the servers keep a code for scans
on_postgresql = pytest.mark.skipif(
    ENGINE_NAME != "postgresql", reason="several server processes need PostgreSQL"
)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("instances")) as url:
        migrations.upgrade(url)
        yield url


@pytest.fixture(scope="module")
def engine(database: str) -> Iterator[Engine]:
    engine = make_engine(database)
    yield engine
    engine.dispose()


def _env(database: str, directory: Path, **settings: str) -> dict[str, str]:
    """The environment of a subprocess run with ``cwd=directory``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCIPASS_")}
    env |= {
        "SCIPASS_ENV": "test",
        "SCIPASS_DATABASE_URL": database,
        "SCIPASS_LOG_LEVEL": "WARNING",
        "SCIPASS_JOB_RESULTS_DIR": str(directory / "results"),
        "SCIPASS_UPLOAD_DIR": str(directory / "uploads"),
        # run from ``directory`` (no .env file there), importing what this process imports
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    return env | {f"SCIPASS_{name.upper()}": value for name, value in settings.items()}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def servers(
    database: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    """Two instances on the module's database, without job workers: ``scipass serve``, and
    ``scipass serve --workers 2`` (two server processes behind one port). They keep codes for
    scans far longer than the tests last (CACHE_SECONDS): a copy dropped is dropped because a
    notification said so."""
    if ENGINE_NAME != "postgresql":
        pytest.skip("several server processes need PostgreSQL")
    directory = tmp_path_factory.mktemp("servers")
    env = _env(
        database,
        directory,
        jobs_enabled="false",
        scan_rate_per_minute=str(RATE),
        scan_cache_seconds=str(CACHE_SECONDS),
    )
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "scipass", "serve", "--port", str(port), "--workers", workers],
            cwd=directory,
            env=env,
        )
        for port, workers in zip(ports, ["1", "2"], strict=True)
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 60
        for process, url in zip(processes, urls, strict=True):
            while True:
                assert process.poll() is None, "scipass serve exited"
                assert time.monotonic() < deadline, "scipass serve did not start"
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
        # each of the three server processes listens for changes on a connection of its own
        _wait(lambda: _listeners(engine) == 3, "not every server process listens")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _scene(engine: Engine, name: str) -> dict[str, Any]:
    """A published activity open now with a static code, and a pupil of 15 bound to WeChat,
    committed (the servers run on the real clock)."""
    now = datetime.now(UTC)
    region = f"96{sum(name.encode()) % 10000:04d}"
    with Session(engine) as s:
        scene = open_activity_now(s, region_code=region, label=f"instances-{name}")
        user, school, venue = scene.user, scene.school, scene.venue
        student, activity = scene.student, scene.activity
        code = ActivityCode(
            activity_id=activity.id or 0,
            kind="static",
            short_id=codes.new_short_id(),
            created_by="test",
            created_at=now,
        )
        s.add(code)
        s.commit()
        settings = _settings()
        pupil = Principal(
            subject=f"wechat:{user.id}",
            role=Role.student,
            school_id=school.id,
            student_id=student.id,
        )
        staff = Principal(subject="account:900002", role=Role.venue_staff, venue_id=venue.id)
        return {
            "code": code.id,
            "short_id": code.short_id,
            "staff_principal": staff,
            "payload": codes.static_payload(settings.code_keyring, code.short_id),
            "pupil": token(settings, pupil, now=now),
            "staff": token(settings, staff, now=now),
        }


def _settings() -> Settings:
    return Settings(env=Environment.test, _env_file=None)


@on_postgresql
def test_the_listener_hears_committed_changes_and_starts_afresh_after_a_dropped_connection(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "scipass.notify")
    heard: list[str] = []
    resets: list[float] = []
    listener = notify.Listener(
        engine,
        on_message=heard.append,
        on_reset=lambda: resets.append(time.monotonic()),
        retry_seconds=0.1,
    ).start()

    def change(name: str, *, commit: bool = True) -> None:
        with Session(engine) as s:
            notify.send(s, "code", name)
            if commit:
                s.commit()

    try:
        _wait(listener.listening.is_set, "the listener did not start")
        assert len(resets) == 1
        change("ROLLED", commit=False)  # never announced
        change("FIRST")
        _wait(lambda: heard == ["code:FIRST"], f"heard {heard}")
        with Session(engine) as s:  # the server drops the listener's connection
            dropped = s.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": notify.APPLICATION_NAME},
            ).scalar_one()
        assert dropped == 1
        # it reconnects, and drops everything kept: what was sent meanwhile was not heard
        _wait(lambda: len(resets) == 2 and listener.listening.is_set(), "no reconnection")
        # the outage and its end, logged once each
        said = [r.getMessage() for r in caplog.records if r.name == "scipass.notify"]
        assert [m.split(" (")[0].split(" after")[0] for m in said] == [
            "listening for changes failed",
            "listening for changes again",
        ], said
        change("AGAIN")
        _wait(lambda: heard == ["code:FIRST", "code:AGAIN"], f"heard {heard}")
    finally:
        listener.stop()


def test_the_listener_backs_off_logs_an_outage_once_and_wakes_on_demand(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server that refuses connections (nothing listens on port 1): the listener tries
    again after 0.05 s, 0.1 s, 0.2 s..., at most 0.4 s, with one warning for the outage."""
    caplog.set_level(logging.DEBUG, "scipass.notify")
    unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    attempts: list[float] = []
    listener = notify.Listener(
        unreachable, on_message=print, on_reset=lambda: None, retry_seconds=0.05
    )
    listener._max_retry = 0.4
    connect = listener._listen

    def counted() -> None:
        attempts.append(time.monotonic())
        connect()

    listener._listen = counted  # type: ignore[method-assign]
    listener.start()
    try:
        _wait(lambda: len(attempts) >= 7, f"{len(attempts)} attempts")
        gaps = [b - a for a, b in itertools.pairwise(list(attempts))]
        least = [min(0.05 * 2**i, 0.4) for i in range(len(gaps))]
        assert all(gap >= pause * 0.9 for gap, pause in zip(gaps, least, strict=True)), gaps
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.getMessage() for r in warnings] == [
            "listening for changes failed (OperationalError); reconnecting"
        ]
        assert not listener.listening.is_set()
    finally:
        listener.stop()

    # woken (as /readyz does when the database answers), it tries at once, not after its pause
    slow = notify.Listener(unreachable, on_message=print, on_reset=lambda: None, retry_seconds=60)
    tried: list[float] = []
    first = slow._listen

    def noted() -> None:
        tried.append(time.monotonic())
        first()

    slow._listen = noted  # type: ignore[method-assign]
    slow.start()
    try:
        _wait(lambda: len(tried) == 1, "no first attempt")
        slow.wake()
        _wait(lambda: len(tried) == 2, "not woken: still in its 60 s pause")
    finally:
        slow.stop()
        unreachable.dispose()


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_a_cache_drops_the_code_or_the_activity_it_hears_of() -> None:
    cache = ScanCache()
    for short_id, activity_id in (("AAA", 7), ("BBB", 7), ("CCC", 8)):
        view = cast(ActivityView, SimpleNamespace(id=activity_id))
        cache._targets[short_id] = (time.monotonic() + 5, cast(CodeView, None), view)
    cache.changed(f"{CODE}:CCC")
    assert set(cache._targets) == {"AAA", "BBB"}
    cache.changed(f"{ACTIVITY}:8")  # its code is gone already
    assert set(cache._targets) == {"AAA", "BBB"}
    cache.changed(f"{ACTIVITY}:7")
    assert cache._targets == {}


def test_a_change_reaches_the_processs_own_receivers_once_it_commits(
    engine: Engine,
) -> None:
    class Receiver:
        def __init__(self) -> None:
            self.heard: list[str] = []

        def changed(self, message: str) -> None:
            self.heard.append(message)

    receiver = Receiver()
    heard = receiver.heard
    notify.hear_locally(receiver)
    with Session(engine) as session:
        notify.send(session, ACTIVITY, 8)
        session.rollback()  # never announced
        notify.send(session, ACTIVITY, 9)
        assert heard == []  # not before the commit
        session.commit()
    assert heard == [f"{ACTIVITY}:9"]


def test_a_process_drops_its_copy_of_a_revoked_code_once_the_revocation_commits(
    engine: Engine,
) -> None:
    scene = _scene(engine, "forget")
    cache = ScanCache(seconds=CACHE_SECONDS)
    notify.hear_locally(cache)  # as the app does with its own
    with Session(engine) as writer:
        issuing.revoke_code(
            writer,
            settings=_settings(),
            actor=scene["staff_principal"],
            code_id=scene["code"],
            reason="海报被拍照转发",
            now=datetime.now(UTC),
        )
        # A read of the code before the revocation commits sees it, and keeps it. (On SQLite
        # a read-only transaction, which does not queue behind the writer as a scan does.)
        with Session(engine) as reader:
            reader.connection(execution_options={READ_ONLY_OPTION: True})
            before = cache.target(reader, scene["short_id"])
        assert before is not None
        assert before[0].revoked_at is None
        writer.commit()
    # once it has committed, this process reads the code again
    with Session(engine) as reader:
        after = cache.target(reader, scene["short_id"])
    assert after is not None
    assert after[0].revoked_at is not None


def _listeners(engine: Engine) -> int:
    with Session(engine) as s:
        return int(
            s.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": notify.APPLICATION_NAME},
            ).scalar_one()
        )


def _scan(base: str, scene: dict[str, Any], key: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/v1/checkins",
        json={"code": scene["payload"]},
        headers={"Authorization": f"Bearer {scene['pupil']}", "Idempotency-Key": key},
        timeout=10,
    )


@on_postgresql
def test_a_code_revoked_through_one_instance_is_refused_by_the_other_at_once(
    servers: list[str], engine: Engine
) -> None:
    scene = _scene(engine, "revoke")
    first, second = servers
    # the second instance's processes have the code in their caches (kept for 300 s): each
    # scan comes on a connection of its own, which either process may take
    primed = [_scan(second, scene, f"revoke-before-{n}").status_code for n in range(6)]
    assert primed == [201] + [200] * 5
    revoked = httpx.post(
        f"{first}/api/v1/codes/{scene['code']}/revoke",
        json={"reason": "海报被拍照转发"},
        headers={"Authorization": f"Bearer {scene['staff']}"},
        timeout=10,
    )
    assert revoked.status_code == 200, revoked.text
    # Long before their copies would expire, both processes hear of the revocation: the
    # instance refuses the code five times in a row (on new connections, either process).
    # The polls slow down while the code is still accepted, to stay well within the pupil's
    # rate (twice the rate would be refused as a flood, whatever the code).
    deadline = time.monotonic() + 30
    answers: list[tuple[int, str]] = []
    pause = 0.05
    while answers[-5:] != [(400, "code_revoked")] * 5 and time.monotonic() < deadline:
        answer = _scan(second, scene, f"revoke-after-{len(answers):03d}")
        answers.append((answer.status_code, answer.json().get("code", "")))
        pause = 0.05 if answer.status_code == 400 else min(2.0, pause * 2)
        time.sleep(pause)
    assert answers[-5:] == [(400, "code_revoked")] * 5, f"after 30 s: {answers}"


@on_postgresql
def test_a_pupils_scan_rate_counts_across_both_instances(
    servers: list[str], engine: Engine
) -> None:
    scene = _scene(engine, "rate")
    # The rate's window is the minute on the clock (core/ratelimit.py): the scans start with
    # at least half a minute left in it, and the test checks that they all fell in it.
    left = 60 - time.time() % 60
    if left < 30:
        time.sleep(left + 0.5)
    minute = int(time.time() // 60)
    answers = [_scan(servers[n % 2], scene, f"rate-{n:03d}") for n in range(RATE + 1)]
    assert int(time.time() // 60) == minute, "the scans took more than half a minute"
    assert [a.status_code for a in answers[:RATE]] == [201] + [200] * (RATE - 1), [
        a.text for a in answers
    ]
    # the pupil's RATE + 1st scan this minute, of which neither instance saw more than half
    assert answers[RATE].status_code == 429, answers[RATE].text
    assert answers[RATE].json()["code"] == "rate_limited"


@pytest.fixture(scope="module")
def workers(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[subprocess.Popen[bytes]], Path]]:
    """Two ``scipass worker`` processes with probes (tests/core/probed_worker.py) on the
    module's database: scheduled jobs every hour, queued jobs' leases of 6 s (renewed about
    every 2 s while their handler runs), polling every 0.1 s. Killed afterwards."""
    directory = tmp_path_factory.mktemp("workers")
    probe = directory / "probe"
    env = _env(
        database,
        directory,
        jobs_interval_seconds="3600",
        worker_poll_seconds="0.1",
        job_lease_seconds="6",
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.core.probed_worker", str(probe)],
            cwd=directory,
            env=env,
        )
        for _ in range(2)
    ]
    try:
        yield processes, probe
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=20)


def _lines(probe: Path) -> list[list[str]]:
    return [line.split() for line in probe.read_text().splitlines()] if probe.exists() else []


def _until(
    condition: Callable[[], bool], processes: list[subprocess.Popen[bytes]], what: str
) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert all(process.poll() is None for process in processes), "a worker exited"
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _passes(probe: Path, pid: int) -> int:
    return sum(1 for line in _lines(probe) if line == ["pass", str(pid)])


def test_a_due_scheduled_job_runs_once_between_two_workers(
    workers: tuple[list[subprocess.Popen[bytes]], Path], engine: Engine
) -> None:
    processes, probe = workers
    # the first start: every scheduled job is due, each runs once between the two
    _until(
        lambda: all(_passes(probe, p.pid) >= 3 for p in processes),
        processes,
        "the workers did not go through their loop",
    )
    ran = [line[1] for line in _lines(probe) if line[0] == "ran"]
    assert "archive-records" in ran
    assert len(ran) == len(set(ran)), ran
    # then the archive job falls due again while both poll every 0.1 s: again once
    for _round in range(3):
        seen = len(_lines(probe))
        with Session(engine) as s:
            s.execute(
                update(JobSchedule)
                .where(col(JobSchedule.name) == "archive-records")
                .values(due_at=datetime.now(UTC))
            )
            s.commit()
        passes = {p.pid: _passes(probe, p.pid) for p in processes}

        def each_passed(passes: dict[int, int] = passes) -> bool:
            return all(_passes(probe, pid) >= n + 3 for pid, n in passes.items())

        _until(each_passed, processes, "the workers did not go through their loop")
        again = [line for line in _lines(probe)[seen:] if line[:2] == ["ran", "archive-records"]]
        assert len(again) == 1, _lines(probe)[seen:]


def test_a_job_whose_worker_was_killed_is_taken_up_after_its_lease(
    workers: tuple[list[subprocess.Popen[bytes]], Path], engine: Engine
) -> None:
    processes, probe = workers
    with Session(engine) as s:
        job = queue.enqueue(
            s,
            kind=queue.JobKind("sleepy", _never, max_attempts=3),
            params={},
            owner=Principal(subject="account:900004", role=Role.platform_admin),
            now=datetime.now(UTC),
        )
        s.commit()
        job_id = job.id

    def started() -> list[str]:
        return [line[2] for line in _lines(probe) if line[:2] == ["sleepy", str(job_id)]]

    _until(lambda: len(started()) == 1, processes, "no worker started the job")
    (first,) = [p for p in processes if str(p.pid) == started()[0]]
    (other,) = [p for p in processes if p is not first]
    claimed = _job(engine, job_id)
    assert claimed.worker is not None
    assert claimed.worker.endswith(f":{first.pid}")
    assert claimed.lease_until is not None
    first_lease = claimed.lease_until

    def renewed() -> bool:
        lease_until = _job(engine, job_id).lease_until
        return lease_until is not None and lease_until > first_lease

    # its worker renews the lease while the handler runs
    _until(renewed, processes, "the lease was never renewed")
    held = _job(engine, job_id)
    assert held.status == JobStatus.running.value
    assert held.worker == claimed.worker
    assert held.attempts == 1
    assert started() == [str(first.pid)]  # the other worker passed it by
    first.kill()
    first.wait(timeout=20)
    lease_until = _job(engine, job_id).lease_until
    assert lease_until is not None
    # nobody renews the lease now: once it has run out, the other worker takes the job up
    _until(lambda: len(started()) == 2, [other], "the killed worker's job was never taken up")
    assert datetime.now(UTC) >= lease_until
    taken = _job(engine, job_id)
    assert started()[1] == str(other.pid)
    assert taken.status == JobStatus.running.value
    assert taken.worker is not None
    assert taken.worker.endswith(f":{other.pid}")
    assert taken.attempts == 2


def _never(_context: queue.JobContext) -> queue.JobResult:
    raise AssertionError("run by the workers only")


def _job(engine: Engine, job_id: int | None) -> Job:
    with Session(engine) as s:
        return s.exec(select(Job).where(Job.id == job_id)).one()


def test_prod_refuses_several_server_processes_on_sqlite(tmp_path: Path) -> None:
    env = _env(f"sqlite:///{tmp_path}/prod.db", tmp_path, **PROD)
    line = serve_refused(env, tmp_path, "--workers", "2", "--port", str(_free_port()))
    assert line == (
        "scipass: refusing to start in prod: SQLite serves one process, not --workers 2: "
        "set SCIPASS_DATABASE_URL to PostgreSQL (see README, Settings)"
    )
    # one process on SQLite, and several on PostgreSQL, are fine
    prod = Settings(**PROD, database_url=f"sqlite:///{tmp_path}/prod.db", _env_file=None)  # type: ignore[arg-type]
    prod.check(workers=1)
    prod.database_url = "postgresql+psycopg://scipass@db.internal/scipass"
    prod.check(workers=4)
