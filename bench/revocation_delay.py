"""How long a code revoked through one instance stays accepted by another (issue 22: within
one second), on PostgreSQL:

    tests/with-postgres.sh .venv/bin/python bench/revocation_delay.py --rounds 30

Makes a fresh database on the server named by ``SCIPASS_TEST_DATABASE_URL`` (or
``--database-url``), migrates it, and starts two ``scipass serve`` processes (one uvicorn
worker each, no job worker). Each round adds a static code, has the second instance accept a
scan of it (so the code sits in its 5-second cache), revokes it through the first instance,
and then scans it at the second instance back to back until it answers ``code_revoked``. The
delay is from the revocation's answer (its commit, hence its ``NOTIFY``) to the second
instance's first refusal; each poll is one real scan, so the figure includes up to one scan's
round trip. Without the notification the second instance would go on accepting for up to 5 s.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT))  # tests.factories builds the scene

from tests.factories import open_activity_now  # noqa: E402

from scipass.checkin import codes  # noqa: E402
from scipass.checkin.models import ActivityCode  # noqa: E402
from scipass.core import migrations  # noqa: E402
from scipass.core.auth import Principal, Role, issue_access_token  # noqa: E402
from scipass.core.config import Environment, Settings  # noqa: E402


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _seed(url: str, rounds: int) -> tuple[list[tuple[int, str]], str, str]:
    """The codes (id, payload) of an activity open now, and a pupil's and a staff member's
    tokens."""
    settings = Settings(env=Environment.test, _env_file=None)
    now = datetime.now(UTC)
    engine = create_engine(url)
    with Session(engine) as s:
        scene = open_activity_now(s, region_code="950000", label="delay")
        user, school, venue = scene.user, scene.school, scene.venue
        student, activity = scene.student, scene.activity
        made = [
            ActivityCode(
                activity_id=activity.id or 0,
                kind="static",
                short_id=codes.new_short_id(),
                created_by="bench",
                created_at=now,
            )
            for _ in range(rounds)
        ]
        s.add_all(made)
        s.commit()
        found = [(c.id or 0, codes.static_payload(settings.code_keyring, c.short_id)) for c in made]
        pupil = Principal(
            subject=f"wechat:{user.id}",
            role=Role.student,
            school_id=school.id,
            student_id=student.id,
        )
        staff = Principal(subject="account:900002", role=Role.venue_staff, venue_id=venue.id)
    engine.dispose()
    return (
        found,
        issue_access_token(settings, pupil, now=now)[0],
        issue_access_token(settings, staff, now=now)[0],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get("SCIPASS_TEST_DATABASE_URL"))
    args = parser.parse_args()
    if not args.database_url or not args.database_url.startswith("postgresql"):
        sys.exit("needs PostgreSQL: run under tests/with-postgres.sh or give --database-url")
    server = make_url(args.database_url)
    name = f"scipass_delay_{secrets.token_hex(4)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server.set(database=name).render_as_string(hide_password=False)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        migrations.upgrade(url)
        found, pupil, staff = _seed(url, args.rounds)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCIPASS_")} | {
            "SCIPASS_ENV": "test",
            "SCIPASS_DATABASE_URL": url,
            "SCIPASS_JOBS_ENABLED": "false",
            "SCIPASS_LOG_LEVEL": "WARNING",
            "SCIPASS_SCAN_RATE_PER_MINUTE": "1000000",
            "PYTHONPATH": str(ROOT / "backend"),
        }
        ports = [_port(), _port()]
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "scipass", "serve", "--port", str(port)], cwd=ROOT, env=env
            )
            for port in ports
        ]
        first, second = (f"http://127.0.0.1:{port}" for port in ports)
        client = httpx.Client(timeout=10)
        for base in (first, second):
            while True:
                try:
                    if client.get(f"{base}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
        pupil_headers = {"Authorization": f"Bearer {pupil}"}
        delays, polls, scan_times = [], [], []
        for n, (code_id, payload) in enumerate(found):

            def scan(key: str, payload: str = payload) -> httpx.Response:
                return client.post(
                    f"{second}/api/v1/checkins",
                    json={"code": payload},
                    headers=pupil_headers | {"Idempotency-Key": key},
                )

            assert scan(f"prime-{n:04d}").status_code in (200, 201)
            revoked = client.post(
                f"{first}/api/v1/codes/{code_id}/revoke",
                json={"reason": "测延迟"},
                headers={"Authorization": f"Bearer {staff}"},
            )
            answered = time.perf_counter()
            assert revoked.status_code == 200, revoked.text
            tries = 0
            while True:
                tries += 1
                sent = time.perf_counter()
                answer = scan(f"poll-{n:04d}-{tries:04d}")
                scan_times.append(time.perf_counter() - sent)
                if answer.status_code == 400:
                    assert answer.json()["code"] == "code_revoked", answer.text
                    break
                assert time.perf_counter() - answered < 10, "never refused"
            delays.append((time.perf_counter() - answered) * 1000)
            polls.append(tries)
        delays.sort()
        print(
            f"{len(delays)} revocations: revoked → refused by the other instance "
            f"median {statistics.median(delays):.1f} ms, "
            f"p95 {delays[int(0.95 * (len(delays) - 1))]:.1f} ms, max {delays[-1]:.1f} ms; "
            f"scans per revocation until refused: median {statistics.median(polls)}, "
            f"max {max(polls)}; one scan's round trip median "
            f"{statistics.median(scan_times) * 1000:.1f} ms"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
