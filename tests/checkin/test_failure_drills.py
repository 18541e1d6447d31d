"""Failure drills (issue 22), PostgreSQL only: real ``scipass serve`` processes under a storm
of pupils' scans.

* One of two instances is killed (SIGKILL) mid-storm: every scan a client was answered 201
  for is in the database afterwards (group commit answers only after the commit), the other
  instance keeps answering, and the scans the killed one never answered are safe to send
  again to the other (one visit each, whether or not the killed one had committed them).
* The PostgreSQL cluster is stopped (``pg_ctl stop -m fast``) mid-storm and started again:
  meanwhile the server answers 503 ``database_unavailable`` with ``Retry-After``, never a
  500 nor a dropped connection, and it serves again by itself once the cluster is back (the
  pool's pre-ping replaces the dead connections).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, insert, text
from sqlmodel import Session

from scipass.account.models import WeChatUser
from scipass.checkin import codes
from scipass.checkin.models import ActivityCode
from scipass.core import migrations
from scipass.core.auth import Principal, Role, issue_access_token
from scipass.core.config import Environment, Settings
from scipass.roster.models import Student
from tests.databases import ENGINE_NAME, fresh_database, own_cluster
from tests.factories import (
    create_activity,
    create_region,
    create_school,
    create_venue,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(ENGINE_NAME != "postgresql", reason="drills on PostgreSQL"),
]

REGION = "940000"
CONNECTIONS = 16  # per instance
RETRY_AFTER = "5"


# --- the scene: one open activity, its poster code, pupils bound to WeChat ------------------


@dataclass(frozen=True)
class Scan:
    student_id: int
    token: str
    key: str


def _seed(url: str, settings: Settings, pupils: int) -> tuple[str, list[Scan]]:
    """Pupils of 15 (no guardian consent needed) and the poster code of an activity running
    now (the servers use the real clock); one scan each, with its own token and key."""
    migrations.upgrade(url)
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        with Session(engine) as s:
            create_region(s, REGION, "演练省", "province", None)
            school = create_school(s, region_code=REGION, stages="junior")
            venue = create_venue(s, region_code=REGION)
            activity = create_activity(
                s,
                venue_id=venue.id or 0,
                admission="open",
                starts_at=now - timedelta(minutes=10),
                ends_at=now + timedelta(hours=2),
            )
            short_id = codes.new_short_id()
            s.add(
                ActivityCode(
                    activity_id=activity.id or 0,
                    kind="static",
                    short_id=short_id,
                    step_seconds=0,
                    created_by="drill",
                    created_at=now,
                )
            )
            s.execute(
                insert(WeChatUser),
                [
                    {"openid": f"o-drill-{i:05d}", "created_at": now, "last_login_at": now}
                    for i in range(pupils)
                ],
            )
            users = s.execute(
                text("SELECT id FROM wechat_user WHERE openid LIKE 'o-drill-%' ORDER BY id")
            ).scalars()
            s.execute(
                insert(Student),
                [
                    {
                        "school_id": school.id,
                        "student_no": f"D{i:05d}",
                        "name": "演练学生",
                        "gender": "female",
                        "birth_month": date(now.year - 15, 1, 1),  # no guardian consent needed
                        "stage": "junior",
                        "grade": 9,
                        "class_name": "1班",
                        "wechat_user_id": user_id,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, user_id in enumerate(users)
                ],
            )
            principals = [
                Principal(
                    subject=f"wechat:{user_id}",
                    role=Role.student,
                    school_id=school_id,
                    student_id=student_id,
                )
                for student_id, school_id, user_id in s.execute(
                    text("SELECT id, school_id, wechat_user_id FROM student ORDER BY id")
                ).all()
            ]
            s.commit()
    finally:
        engine.dispose()
    scans = [
        Scan(p.student_id or 0, issue_access_token(settings, p, now=now)[0], f"drill-{i:08d}")
        for i, p in enumerate(principals)
    ]
    return codes.static_payload(settings.code_keyring, short_id), scans


# --- server processes -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _settings(url: str) -> Settings:
    """The servers' settings (the test environment's keys), to mint their tokens."""
    return Settings(env=Environment.test, database_url=url, _env_file=None)


@contextmanager
def _servers(
    url: str, count: int, workdir: Path
) -> Iterator[list[tuple[str, subprocess.Popen[bytes]]]]:
    """``count`` ``scipass serve`` processes on one database, each on its own port, started
    together; killed afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIPASS_")}
    env |= {
        "SCIPASS_ENV": "test",
        "SCIPASS_DATABASE_URL": url,
        "SCIPASS_JOBS_ENABLED": "false",
        "SCIPASS_LOG_LEVEL": "ERROR",
        "SCIPASS_UPLOAD_DIR": str(workdir / "uploads"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    started: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        for _ in range(count):
            port = _free_port()
            log = workdir / f"server-{port}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "scipass", "serve", "--port", str(port)],
                    env=env,
                    cwd=workdir,  # no .env file here
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append((f"http://127.0.0.1:{port}", process))
        deadline = time.monotonic() + 60
        for base, process in started:
            log = workdir / f"server-{base.rsplit(':', 1)[1]}.log"
            while True:
                assert process.poll() is None, f"a server ended at start-up:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"a server did not start:\n{log.read_text()}"
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        yield started
    finally:
        for _, process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


# --- the storm ------------------------------------------------------------------------------


@dataclass
class Answer:
    scan: Scan
    base: str
    at: float  # time.monotonic() when the answer (or the failure) came
    status: int | None  # None: no HTTP answer (connection refused, reset, timed out)
    body: dict[str, object] | None = None
    retry_after: str | None = None


async def _send(client: httpx.AsyncClient, base: str, payload: str, scan: Scan) -> Answer:
    try:
        response = await client.post(
            f"{base}/api/v1/checkins",
            json={"code": payload},
            headers={"Authorization": f"Bearer {scan.token}", "Idempotency-Key": scan.key},
        )
    except httpx.TransportError:
        return Answer(scan, base, time.monotonic(), None)
    return Answer(
        scan,
        base,
        time.monotonic(),
        response.status_code,
        response.json() if response.content else None,
        response.headers.get("retry-after"),
    )


async def _storm(
    bases: list[str],
    payload: str,
    scans: list[Scan],
    answers: list[Answer],
    *,
    pause: float = 0.0,
    until: asyncio.Event | None = None,
    retry_unavailable: bool = False,
) -> None:
    """Send scans (each once; scan i to instance i mod N), :data:`CONNECTIONS` at a time per
    instance, appending each answer to ``answers`` as it comes, until every scan is sent or
    ``until`` is set. ``pause`` seconds between one connection's requests stretch the storm;
    after a 503 a connection waits 0.1 s (a client backing off) and, with
    ``retry_unavailable``, sends that scan again later (same token and key)."""
    queues = [deque(scans[i :: len(bases)]) for i in range(len(bases))]

    async def lane(base: str, queue: deque[Scan]) -> None:
        async with httpx.AsyncClient(timeout=20) as client:
            while queue and not (until and until.is_set()):
                answer = await _send(client, base, payload, queue.popleft())
                answers.append(answer)
                if answer.status == 503 and retry_unavailable:
                    queue.append(answer.scan)
                await asyncio.sleep(0.1 if answer.status == 503 else pause)

    await asyncio.gather(
        *(lane(base, queues[i]) for i, base in enumerate(bases) for _ in range(CONNECTIONS))
    )


def _check_ins(url: str) -> dict[int, int]:
    """student id -> check-in id, as committed."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT student_id, id FROM check_in")).all()
            counts = connection.execute(
                text(
                    "SELECT (SELECT count(*) FROM check_in), (SELECT count(*) FROM scan_event"
                    " WHERE result = 'accepted'), (SELECT count(*) FROM participation_record"
                    " WHERE source = 'checkin')"
                )
            ).one()
    finally:
        engine.dispose()
    assert counts[0] == counts[1] == counts[2], counts  # each visit with its event and record
    return {student_id: id_ for student_id, id_ in rows}


# --- kill -9 ----------------------------------------------------------------------------------


def test_kill_9_of_one_instance_loses_no_acknowledged_check_in(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        settings = _settings(url)
        payload, scans = _seed(url, settings, 600)
        with _servers(url, 2, tmp_path) as servers:
            (victim_base, victim), (other_base, _) = servers

            answers: list[Answer] = []

            async def drill() -> float:
                storm = asyncio.create_task(
                    _storm([victim_base, other_base], payload, scans, answers, pause=0.02)
                )
                # Kill once the victim is busy: some of its scans answered, others in flight.
                deadline = time.monotonic() + 30
                while sum(a.base == victim_base for a in answers) < 40:
                    assert time.monotonic() < deadline
                    assert not storm.done()
                    await asyncio.sleep(0.01)
                victim.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                await storm
                return killed_at

            killed_at = asyncio.run(drill())

            # What the killed instance never answered may be sent again, to the other one: a
            # scan it had committed comes back as that visit (200, duplicate), one it had not
            # is made now (201); either way one visit per pupil.
            committed = _check_ins(url)
            lost_to_kill = [a for a in answers if a.status is None]
            retried: list[Answer] = []
            asyncio.run(_storm([other_base], payload, [a.scan for a in lost_to_kill], retried))

        ok = [a for a in answers if a.status == 201]
        assert {a.status for a in answers} <= {201, None}, {a.status for a in answers}
        assert all(a.base == victim_base for a in lost_to_kill)
        assert lost_to_kill, "the kill came after the victim's last scan"
        # The other instance kept serving after the kill (its lanes had about 16 scans each
        # left then).
        assert sum(a.base == other_base and a.at > killed_at for a in ok) >= 100

        for answer in ok:  # no acknowledged check-in lost
            assert answer.body is not None
            assert committed.get(answer.scan.student_id) == answer.body["id"], answer

        assert len(retried) == len(lost_to_kill)
        assert {a.status for a in retried} <= {200, 201}, [a.body for a in retried]
        after = _check_ins(url)
        assert len(after) == len(ok) + len(lost_to_kill)
        for answer in retried:
            assert answer.body is not None
            assert after[answer.scan.student_id] == answer.body["id"]
            assert answer.body["duplicate"] is (answer.status == 200)


# --- PostgreSQL restart ---------------------------------------------------------------------

RESUMED_IN_A_ROW = 20  # consecutive 201s that count as "serving again"
RECOVERY_DEADLINE = 60.0  # seconds after the restart the storm goes on waiting for them
RECOVERY_BOUND = 30.0  # seconds: what the test accepts (generous for a loaded CI)


def test_postgresql_restart_mid_storm_answers_503_then_recovers(tmp_path: Path) -> None:
    with own_cluster() as cluster:
        settings = _settings(cluster.url)
        payload, scans = _seed(cluster.url, settings, 3000)
        with _servers(cluster.url, 1, tmp_path) as [(base, _)]:
            answers: list[Answer] = []

            async def drill() -> tuple[float, float | None]:
                """The storm goes on (503s sent again after a back-off) until the server has
                answered RESUMED_IN_A_ROW scans in a row with 201 after the restart, or
                RECOVERY_DEADLINE has passed; returns when the cluster was back and when
                that run of 201s began (None: it never came)."""
                done = asyncio.Event()
                storm = asyncio.create_task(
                    _storm(
                        [base],
                        payload,
                        scans,
                        answers,
                        pause=0.05,
                        until=done,
                        retry_unavailable=True,
                    )
                )
                await asyncio.sleep(0.5)
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, cluster.stop, "fast")
                await asyncio.sleep(1.0)  # requests meanwhile meet a database that is down
                await loop.run_in_executor(None, cluster.start)
                started_at = time.monotonic()
                seen = next((i for i, a in enumerate(answers) if a.at > started_at), len(answers))
                in_a_row, run_began = 0, None
                try:
                    while time.monotonic() < started_at + RECOVERY_DEADLINE:
                        assert not storm.done(), "the storm ran out of scans"
                        for answer in answers[seen:]:
                            if answer.status == 201:
                                in_a_row += 1
                                run_began = answer.at if in_a_row == 1 else run_began
                            else:
                                in_a_row, run_began = 0, None
                        seen = len(answers)
                        if in_a_row >= RESUMED_IN_A_ROW:
                            return started_at, run_began
                        await asyncio.sleep(0.05)
                    return started_at, None
                finally:
                    done.set()
                    await storm

            started_at, run_began = asyncio.run(drill())

        after_restart = [a for a in answers if a.at > started_at]
        assert run_began is not None, (
            f"no {RESUMED_IN_A_ROW} scans in a row answered 201 within {RECOVERY_DEADLINE} s"
            f" of the restart: {[a.status for a in after_restart][-60:]}"
        )
        recovery = run_began - started_at
        print(f"service resumed {recovery:.2f} s after the cluster was back")
        assert recovery < RECOVERY_BOUND, f"recovery took {recovery:.2f} s"
        statuses = {a.status for a in answers}
        assert statuses <= {200, 201, 503}, [a.body for a in answers if a.status not in (201, 503)]
        unavailable = [a for a in answers if a.status == 503]
        assert unavailable, "no request met the stopped database"
        for answer in unavailable:
            assert answer.body is not None
            assert answer.body["code"] == "database_unavailable"
            assert answer.retry_after == RETRY_AFTER
        # Once serving again it stays so: no 503 among the answers that came after (the
        # in-flight requests of the other connections included).
        assert not [a for a in answers if a.status == 503 and a.at >= run_began]

        committed = _check_ins(cluster.url)
        for answer in answers:
            if answer.status in (200, 201):  # committed before the stop, or after
                assert answer.body is not None
                assert committed.get(answer.scan.student_id) == answer.body["id"]
                # 200: a scan sent again whose first 503 had come after its commit
                assert answer.body["duplicate"] is (answer.status == 200)
