"""A science day under mixed load (issue 16, point 7): pupils scanning in and out, staff at two
doors, offline uploads, class check-ins, the venue screen and the attendee list polling, and a
school's record export running as a job in the middle, all against one real server.

    .venv/bin/python bench/science_day.py --engine sqlite
    .venv/bin/python bench/science_day.py --engine postgresql           # starts its own cluster
    .venv/bin/python bench/science_day.py --engine sqlite --strict      # exit 1 on a missed target
    .venv/bin/python bench/science_day.py --engine sqlite --skip offline --json out.json

(``.venv/bin/python -m bench.science_day ...`` works as well; the PostgreSQL run needs Debian's
``postgresql`` package.) A run takes about a minute and a half: seeding, 61 s of load, checks.

**Set-up.** A fresh database (a SQLite file in a temporary directory, or a new database on a
throwaway PostgreSQL cluster started with PostgreSQL's default, durable settings, as
``bench/checkin/run.py`` starts one; ``--pg-durability off`` and ``--database-url`` as there),
migrated, then seeded in bulk: one venue; one published open activity (no capacity, no
geofence, started 10 minutes ago) with a static poster code and a rotating code for the venue
screen; two schools; 3,782 pupils of 15 (no guardian consent needed), of whom the 3,001
self-scanners (one for the warm-up) are bound to WeChat users; two classes of 40 of the first
school in group reservations on a time slot of the activity; accounts for the venue (an admin,
two door staff) and a school admin of the first school; and ``--export-records`` (6,000)
participation records of that school's pupils (source ``manual``), so that its export is above
``SCIPASS_EXPORT_SYNC_ROW_LIMIT`` (5,000): the direct ``GET /record-exports?format=xlsx``
answers 422 ``export_too_large`` (checked before the load) and the school has to use the job.
Tokens are minted with the server's keys (as bench/checkin/run.py does), personal codes with
its personal-code keys (``codes.personal_payload``).

**Server.** ``scipass serve`` (one uvicorn worker) with production settings (SCIPASS_ENV=prod,
fresh keys, log level WARNING) and ``SCIPASS_JOBS_ENABLED=true``, so that it starts the job
worker (``scipass worker``) as its child; unpinned, as in production: the server, the worker,
PostgreSQL and this client share the machine's CPUs as the scheduler decides. A few requests
warm it up (the warm-up pupil scans in and out, one staff scan, the lists) before the load.

**Load**, open loop: each request leaves at its planned time (seconds from the load's start,
``--seed`` fixes the plan) whatever the others are doing:

* 3,000 pupils arrive at uniformly random times within 36 s (Poisson arrivals conditioned on
  their number), each a self-scan entry (``POST /api/v1/checkins``, own token and
  ``Idempotency-Key``, body ``{code, direction}``: 201); 10 % of them send the same request
  with the same key again 0.2–2 s after their answer (a phone on a weak network whose answer
  was lost: 200, the first visit); 60 % scan out (``direction=exit``: 201) 10–25 s after they
  arrived, so the last leave at about 61 s;
* 300 staff scans (``POST /activities/{id}/staff-scans``: 201) at two doors, 150 each, at
  random times within 1–35 s, of 300 other pupils' personal codes (Ed25519, five minutes);
* two offline uploads of 200 scans each (``POST /activities/{id}/offline-scans``, 200 other
  pupils each, taken 1–8 minutes earlier) at 8 s and 28 s, the first uploaded again at 32 s:
  every item accepted, and the re-upload answering exactly the first upload's results;
* two class check-ins of 40 (``POST /reservations/{id}/checkins``) at 4 s and 13 s, all accepted;
* the venue screen's state (``GET /kiosk/{id}/state?token=``) every 2 s and the attendee list
  (``GET /activities/{id}/checkins?limit=50``, venue admin) every 5 s, throughout;
* at 18 s the school admin queues the school's export as XLSX (``POST /record-exports``
  ``{"format": "xlsx"}``: 202), polls ``GET /jobs/{id}`` every 0.5 s until it is done and
  downloads ``GET /jobs/{id}/result``.

The offline uploads, the class check-ins and the export are spread apart so that a spike in the
self-scans' latency can be told to come from one of them. ``--skip PART`` (repeatable: retries,
exits, staff, offline, classes, polls, export) leaves a part out, to see what the rest costs
without it; the checks follow what was sent.

**Client.** Python asyncio on uvloop (httpx only for the set-up): each request on a connection
of its own (``Connection: close``, as from many phones and devices) through a minimal HTTP/1.1
client on asyncio streams (:func:`fetch`). httpx's AsyncClient cost 1.5–4 ms of CPU per
request on this machine, the more the more requests were in flight: in a first run it took
46 s of CPU in 101 s, fell behind its plan by up to a minute and made every latency
meaningless. This client costs about 0.07 ms a request (2–3 s of CPU a run); its own delay
in sending against the plan is printed.

**Figures.** Each request's latency (from opening its connection to the last byte of the
answer) and status; any status but the expected one, a request without an answer, or a wrong
item result is an error. The summary gives count, errors, p50/p95/p99/max per operation over
the whole run and over the export window (from the POST until the job's ``finished_at``; a
request counts when it was in flight during any part of it); the job's time queued, running,
until the client saw it done, and the download; the CPU time of the server (and of its event
loop), the job worker, PostgreSQL and this client, and how busy the CPUs were (the machine is
shared: other processes show there); per 5 s, the self-scans' percentiles next to what else
left then; and what was in flight alongside the slow self-scans (100 ms or more) against all
self-scans.

**Checks afterwards**, in the database: exactly one visit for each pupil scanned in (a
self-scan, staff scan, offline item or class check-in, and the warm-up's), by the expected
source, and none for anyone else; the pupils who scanned out, and only they, have closed
visits; exactly one check-in record for each visit (linked, the same pupil) and no pupil with
two; the seeded records untouched; and the exported file's rows (read back with openpyxl)
equal its ``X-Row-Count`` and the job's ``row_count``. The exit status is 1 when a check fails
or a request erred; with ``--strict`` also when the target is missed: a self-scan p99
(entries, retries and exits together) under 100 ms over the whole run and within the export
window, on both engines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import math
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.checkin.run import (  # noqa: E402
    GIVEN,
    SURNAMES,
    Cluster,
    Pinning,
    cluster_cpu,
    code_version,
    cpu_times,
    cpu_usage,
    database,
    free_port,
    main_thread_cpu,
    postgres_cluster,
    process_cpu,
    server_environment,
    settings_of,
    start_server,
    stop_server,
)

from scipass.account import service as account_service  # noqa: E402
from scipass.account.models import WeChatUser  # noqa: E402
from scipass.activity.models import Activity  # noqa: E402
from scipass.checkin import codes  # noqa: E402
from scipass.checkin.models import ActivityCode  # noqa: E402
from scipass.core import migrations  # noqa: E402
from scipass.core.auth import Principal, Role, issue_access_token  # noqa: E402
from scipass.core.config import Settings  # noqa: E402
from scipass.core.db import Database, make_engine  # noqa: E402
from scipass.org.models import Region, School, Venue  # noqa: E402
from scipass.record.models import ParticipationRecord  # noqa: E402
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot  # noqa: E402
from scipass.roster.models import Student  # noqa: E402

API = "/api/v1"
SELF_SCANNERS = 3_000
ARRIVAL_SECONDS = 36.0
RETRY_SHARE = 0.10
EXIT_SHARE = 0.60
STAFF_SCANS = 300  # at two doors
OFFLINE_ITEMS = 200  # per upload; two uploads
CLASS_SIZE = 40  # two classes
KIOSK_EVERY = 2.0
LIST_EVERY = 5.0
JOB_POLL_EVERY = 0.5
# Apart from each other, so that a spike can be told to come from one of them.
CLASS_AT = (4.0, 13.0)
OFFLINE_AT = (8.0, 28.0, 32.0)  # upload A, upload B, A again
EXPORT_AT = 18.0
PARTS = ("retries", "exits", "staff", "offline", "classes", "polls", "export")
TARGET_P99_MS = 100.0
SLOW_MS = 100.0
PASSWORD = "Bench-science-day-2026"

# Operations, in the order the summary lists them; the first three are the self-scans.
SELF_OPS = ("self-scan entry", "self-scan retry", "self-scan exit")
OPS = (
    *SELF_OPS,
    "staff scan",
    "offline upload",
    "offline re-upload",
    "class check-in",
    "kiosk state",
    "attendee list",
    "export POST",
    "job poll",
    "export download",
)


# --- seed -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    activity_id: int
    poster: str  # the static code's payload
    kiosk_token: str
    # (WeChat user id, student id, school id) of the bound self-scanners; the first is the
    # warm-up pupil's
    self_scanners: list[tuple[int, int, int]]
    door_pupils: list[int]  # staff scans: warm-up pupil first
    offline_pupils: list[int]
    classes: list[tuple[int, list[int]]]  # (reservation id, its 40 pupils)
    accounts: dict[str, Principal]  # venue admin, door 1, door 2, school admin
    export_school_id: int
    bulk_records: int


def seed(url: str, settings: Settings, now: datetime, export_records: int) -> Fixture:
    """Migrate and fill the database in bulk; pupils are allotted to the load's parts here."""
    migrations.upgrade(url)
    db = Database(make_engine(url))
    self_n = SELF_SCANNERS + 1  # and the warm-up pupil
    door_n = STAFF_SCANS + 1
    offline_n = 2 * OFFLINE_ITEMS
    with db.transaction() as session:
        session.add(Region(code="430000", name="湖南省", level="province"))
        session.add(Region(code="430300", name="湘潭市", level="city", parent_code="430000"))
        session.flush()
        schools = [
            School(
                name=name,
                region_code="430300",
                stages="junior,senior",
                area="urban",
                created_at=now,
            )
            for name in ("湘潭市第一中学", "湘潭市第二中学")
        ]
        venue = Venue(
            name="湘潭市科学技术馆",
            kind="science_museum",
            region_code="430300",
            longitude=112.944,
            latitude=27.829,
            phone="0731-55550000",
            created_at=now,
        )
        session.add_all([*schools, venue])
        session.flush()
        school_ids = [s.id or 0 for s in schools]
        activity = Activity(
            venue_id=venue.id,
            kind="science_festival",
            title="科技活动周·科学开放日（压测）",
            starts_at=now - timedelta(minutes=10),
            ends_at=now + timedelta(hours=8),
            place_name="湘潭市科学技术馆",
            admission="open",
            stages="primary,junior,senior",
            credited_minutes=120,
            record_category="science_visit",
            dimension="social_practice",
            status="published",
            created_by="bench",
            created_at=now,
            updated_at=now,
        )
        session.add(activity)
        session.flush()
        activity_id = activity.id or 0
        poster_short, screen_short = codes.new_short_id(), codes.new_short_id()
        screen = ActivityCode(
            activity_id=activity_id,
            kind="rotating",
            short_id=screen_short,
            step_seconds=20,
            created_by="bench",
            created_at=now,
        )
        session.add_all(
            [
                ActivityCode(
                    activity_id=activity_id,
                    kind="static",
                    short_id=poster_short,
                    step_seconds=0,
                    created_by="bench",
                    created_at=now,
                ),
                screen,
            ]
        )
        session.flush()

        session.execute(
            insert(WeChatUser),
            [
                {
                    "openid": f"o-day-{i:05d}",
                    "kind": "student",
                    "created_at": now,
                    "last_login_at": now,
                }
                for i in range(self_n)
            ],
        )
        users = session.execute(text("SELECT id FROM wechat_user ORDER BY openid")).scalars().all()
        born = date(now.year - 15, 1, 1)  # 15: no guardian consent needed

        def pupil(i: int, school: int, class_name: str, user_id: int | None) -> dict[str, Any]:
            return {
                "school_id": school,
                "student_no": f"D{i:05d}",
                "name": SURNAMES[i % 20] + GIVEN[(i * 7) % 20] + GIVEN[(i * 3) % 20],
                "gender": "male" if i % 2 else "female",
                "birth_month": born,
                "stage": "junior",
                "grade": 9,
                "class_name": class_name,
                "wechat_user_id": user_id,
                "created_at": now,
                "updated_at": now,
            }

        rows: list[dict[str, Any]] = []
        for i in range(self_n + door_n + offline_n):
            rows.append(
                pupil(
                    i,
                    school_ids[i % 2],
                    f"{i // 2 % 20 + 1}班",
                    users[i] if i < self_n else None,
                )
            )
        first_class = len(rows)
        for k in range(2 * CLASS_SIZE):  # two classes of the first school
            rows.append(pupil(first_class + k, school_ids[0], f"{21 + k // CLASS_SIZE}班", None))
        session.execute(insert(Student), rows)
        ids = session.execute(text("SELECT id FROM student ORDER BY student_no")).scalars().all()
        self_ids = ids[:self_n]
        door_ids = ids[self_n : self_n + door_n]
        offline_ids = ids[self_n + door_n : self_n + door_n + offline_n]
        class_ids = ids[first_class:]

        accounts: dict[str, Principal] = {}
        for name, role, org in (
            ("venue admin", Role.venue_admin, venue.id),
            ("door 1", Role.venue_staff, venue.id),
            ("door 2", Role.venue_staff, venue.id),
            ("school admin", Role.school_admin, school_ids[0]),
        ):
            account, _ = account_service.create_account(
                session,
                actor=None,
                username=f"bench-{name.replace(' ', '-')}",
                display_name=name,
                role=role,
                org_id=org,
                password=PASSWORD,
                now=now,
            )
            accounts[name] = Principal(
                subject=f"account:{account.id}",
                role=role,
                school_id=account.school_id,
                venue_id=account.venue_id,
            )

        slot = TimeSlot(
            venue_id=venue.id or 0,
            activity_id=activity_id,
            starts_at=activity.starts_at,
            ends_at=activity.ends_at,
            capacity=2 * CLASS_SIZE + 20,
            taken=2 * (CLASS_SIZE + 2),
            school_channel=True,
            created_at=now,
        )
        session.add(slot)
        session.flush()
        classes: list[tuple[int, list[int]]] = []
        for c in range(2):
            members = list(class_ids[c * CLASS_SIZE : (c + 1) * CLASS_SIZE])
            reservation = Reservation(
                slot_id=slot.id or 0,
                kind="group",
                school_id=school_ids[0],
                group_label=f"初三（{21 + c}）班",
                students=CLASS_SIZE,
                escorts=2,
                party_size=CLASS_SIZE + 2,
                status="confirmed",
                made_by=accounts["school admin"].subject,
                created_at=now,
                confirmed_at=now,
            )
            session.add(reservation)
            session.flush()
            session.execute(
                insert(ReservationMember),
                [
                    {"reservation_id": reservation.id, "slot_id": slot.id, "student_id": s}
                    for s in members
                ],
            )
            classes.append((reservation.id or 0, members))

        seed_records(session, school_ids[0], now, export_records)
        pupils = session.execute(
            text(
                "SELECT wechat_user_id, id, school_id FROM student WHERE wechat_user_id IS NOT NULL"
            )
        ).all()
        by_id = {s: (u, s, sc) for u, s, sc in pupils}
        screen_id = screen.id or 0
    db.engine.dispose()
    return Fixture(
        activity_id=activity_id,
        poster=codes.static_payload(settings.code_keyring, poster_short),
        kiosk_token=codes.kiosk_token(settings.code_keyring, screen_id, now + timedelta(hours=2)),
        self_scanners=[by_id[s] for s in self_ids],
        door_pupils=list(door_ids),
        offline_pupils=list(offline_ids),
        classes=classes,
        accounts=accounts,
        export_school_id=school_ids[0],
        bulk_records=export_records,
    )


def seed_records(session: Any, school_id: int, now: datetime, count: int) -> None:
    """``count`` records of the school's pupils from earlier in the year, as the record
    package's rows look (one bulk insert; their shape follows bench/export_records.py)."""
    pupils = (
        session.execute(
            text("SELECT id FROM student WHERE school_id = :s ORDER BY id"), {"s": school_id}
        )
        .scalars()
        .all()
    )
    titles = ("走进科技馆", "科学第一课", "机器人社团", "青少年科技创新大赛", "小小科普辅导员")
    statuses = ("pending", "confirmed", "reviewed", "publicised", "archived")
    base = datetime(2026, 9, 7, 1, 0, tzinfo=UTC)
    rows = []
    for n in range(count):
        student_id = pupils[n % len(pupils)]
        k = n // len(pupils)
        kind = n % 5
        start = base + timedelta(days=k * 5 + kind, hours=kind)
        rows.append(
            {
                "student_id": student_id,
                "school_id": school_id,
                "source": "manual",
                "source_ref": f"day-bench-{n}",
                "organiser_school_id": school_id,
                "organiser_name": "湘潭市第一中学",
                "title": f"{titles[kind]}（第{k + 1}次）",
                "category": "science_visit",
                "dimension": "social_practice",
                "place": "湘潭市科学技术馆",
                "started_at": start,
                "ended_at": start + timedelta(hours=2),
                "school_year": 2026,
                "semester": "autumn",
                "minutes": 120,
                "role": "participant",
                "outcome": "",
                "reflection": "",
                "attester_name": "刘老师",
                "attester_unit": "湘潭市第一中学",
                "attester_phone": "13812348000",
                "status": statuses[kind],
                "status_reason": "",
                "created_at": now,
                "created_by": "bench",
                "updated_at": now,
            }
        )
    table = ParticipationRecord.__table__  # type: ignore[attr-defined]
    for i in range(0, len(rows), 5_000):
        session.execute(insert(table), rows[i : i + 5_000])


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class Plan:
    """Every request of the load, prepared before it starts (tokens minted, bodies built)."""

    # a pupil: student id, arrives at, token, body, retries after (s after the answer), leaves at
    entries: list[tuple[int, float, str, bytes, float | None, float | None]]
    staff: list[tuple[float, int, int, bytes]]  # at, door (0/1), student id, body
    offline: list[tuple[list[int], bytes]]  # upload A, upload B: their pupils, body
    classes: list[tuple[int, list[int], bytes]]  # reservation id, its pupils, body
    tokens: dict[str, str]  # the accounts' tokens
    exit_pupils: set[int]


def make_plan(
    settings: Settings, fixture: Fixture, now: datetime, rng: random.Random, skip: set[str]
) -> Plan:
    """The requests of the load, without the parts in ``skip`` (see ``--skip``)."""
    scanners = fixture.self_scanners[1:]  # the first is the warm-up pupil's
    arrivals = sorted(rng.uniform(0, ARRIVAL_SECONDS) for _ in scanners)
    rng.shuffle(scanners)
    body = json.dumps({"code": fixture.poster, "direction": "entry"}).encode()
    entries = []
    for at, (user_id, student_id, school_id) in zip(arrivals, scanners, strict=True):
        principal = Principal(
            subject=f"wechat:{user_id}",
            role=Role.student,
            school_id=school_id,
            student_id=student_id,
        )
        token, _ = issue_access_token(settings, principal, now=now)
        retry = rng.uniform(0.2, 2.0) if rng.random() < RETRY_SHARE else None
        leaves = at + rng.uniform(10, 25) if rng.random() < EXIT_SHARE else None
        entries.append(
            (
                student_id,
                at,
                token,
                body,
                None if "retries" in skip else retry,
                None if "exits" in skip else leaves,
            )
        )

    keys = codes.personal_keys(settings.personal_code_keys.get_secret_value())
    ttl = timedelta(seconds=settings.personal_code_ttl_seconds)
    staff = []
    for n, student_id in enumerate(fixture.door_pupils[1:]):  # the first: the warm-up's
        scan = {
            "code": codes.personal_payload(keys, student_id, now + ttl),
            "direction": "entry",
            "nonce": secrets.token_hex(8),
        }
        staff.append((rng.uniform(1, 35), n % 2, student_id, json.dumps(scan).encode()))
    staff.sort()

    offline = []
    for u in range(2):
        pupils = fixture.offline_pupils[u * OFFLINE_ITEMS : (u + 1) * OFFLINE_ITEMS]
        items = []
        for student_id in pupils:
            taken = now - timedelta(seconds=rng.uniform(60, 480))
            items.append(
                {
                    "nonce": secrets.token_hex(8),
                    "code": codes.personal_payload(keys, student_id, taken + ttl),
                    "scan_time": taken.isoformat(),
                    "direction": "entry",
                }
            )
        offline.append((pupils, json.dumps({"device": f"door-{u + 1}", "items": items}).encode()))

    classes = [
        (rid, members, json.dumps({"student_ids": members, "nonce": uuid.uuid4().hex}).encode())
        for rid, members in fixture.classes
    ]
    tokens = {
        name: issue_access_token(settings, principal, now=now)[0]
        for name, principal in fixture.accounts.items()
    }
    exit_pupils = {e[0] for e in entries if e[5] is not None}
    return Plan(
        entries,
        [] if "staff" in skip else staff,
        [] if "offline" in skip else offline,
        [] if "classes" in skip else classes,
        tokens,
        exit_pupils,
    )


# --- the load ---------------------------------------------------------------------------------


class Answer:
    """An HTTP answer: status, header fields (lower-case names) and the whole body."""

    def __init__(self, status: int, fields: dict[str, str], body: bytes) -> None:
        self.status, self.fields, self.body = status, fields, body

    def json(self) -> Any:
        return json.loads(self.body)


async def fetch(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes | None
) -> Answer:
    """One request on a connection of its own (``Connection: close``), as from a phone or a
    device of its own: HTTP/1.1 over asyncio streams, with a body by ``Content-Length`` or
    chunked. httpx's client cost 1.5–4 ms of CPU per request here (more the more requests
    are in flight), against 0.07 ms for this on uvloop: on two shared cores, httpx made the
    client the bottleneck of the run."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        fields = {}
        for line in head[1:]:
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        if "content-length" in fields:
            content = await reader.readexactly(int(fields["content-length"]))
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            content = b"".join(chunks)
        else:
            content = await reader.read()
        return Answer(status, fields, content)
    finally:
        writer.close()


@dataclass
class Sample:
    op: str
    start: float  # seconds since the load started
    end: float
    status: int  # 0: no answer (a transport error)
    ok: bool
    lag: float = 0.0  # how late it left against the plan (this client's own delay)
    note: str = ""
    pupils: tuple[int, ...] = ()  # whom it scanned

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000


@dataclass
class Export:
    job_id: int | None = None
    posted: float | None = None  # client time of the POST
    done_seen: float | None = None  # client time of the poll that saw it done
    job: dict[str, Any] = field(default_factory=dict)  # its last state
    row_count_header: int | None = None
    content: bytes = b""


class Load:
    """Runs the plan against the server and keeps every request's sample."""

    def __init__(self, port: int, fixture: Fixture, plan: Plan, skip: set[str]) -> None:
        self.port, self.fixture, self.plan, self.skip = port, fixture, plan, skip
        self.samples: list[Sample] = []
        self.export = Export()
        self.offline_results: list[list[tuple[str, str, int | None]]] = []
        self.first_errors: list[str] = []
        self.t0 = 0.0
        self.wall0 = 0.0
        self.stop = asyncio.Event()

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def to_load_time(self, at: datetime) -> float:
        """A server timestamp (UTC, same machine) on this load's clock."""
        return at.timestamp() - self.wall0

    async def at(self, offset: float) -> float:
        """Sleep until ``offset`` into the load; how late we are."""
        delay = offset - self.now()
        if delay > 0:
            await asyncio.sleep(delay)
        return max(0.0, self.now() - offset)

    async def call(
        self,
        op: str,
        method: str,
        path: str,
        *,
        expected: int,
        token: str | None = None,
        body: bytes | None = None,
        key: str | None = None,
        lag: float = 0.0,
        pupils: tuple[int, ...] = (),
    ) -> tuple[Sample, Answer | None]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if key:
            headers["Idempotency-Key"] = key
        start = self.now()
        try:
            answer = await fetch(self.port, method, path, headers, body)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            note = f"{type(e).__name__}: {e}"
            sample = Sample(op, start, self.now(), 0, False, lag, note, pupils)
            self.record(sample)
            return sample, None
        sample = Sample(op, start, self.now(), answer.status, True, lag, pupils=pupils)
        if answer.status != expected:
            sample.ok = False
            sample.note = answer.body[:300].decode("utf-8", "replace")
        self.record(sample)
        return sample, answer

    def record(self, sample: Sample) -> None:
        self.samples.append(sample)
        if not sample.ok and len(self.first_errors) < 8:
            self.first_errors.append(f"{sample.op} {sample.status}: {sample.note}")

    def fail(self, sample: Sample, note: str) -> None:
        """A request answered with the right status but the wrong content."""
        sample.ok = False
        sample.note = note
        if len(self.first_errors) < 8:
            self.first_errors.append(f"{sample.op}: {note}")

    # --- the parts of the day ---

    async def pupil(
        self,
        student_id: int,
        at: float,
        token: str,
        body: bytes,
        retry: float | None,
        leaves: float | None,
    ) -> None:
        key, pupils = uuid.uuid4().hex, (student_id,)
        path = f"{API}/checkins"
        lag = await self.at(at)
        await self.call(
            "self-scan entry",
            "POST",
            path,
            expected=201,
            token=token,
            body=body,
            key=key,
            lag=lag,
            pupils=pupils,
        )
        if retry is not None:  # the answer got lost on a weak network: same request, same key
            await asyncio.sleep(retry)
            await self.call(
                "self-scan retry",
                "POST",
                path,
                expected=200,
                token=token,
                body=body,
                key=key,
                pupils=pupils,
            )
        if leaves is not None:
            lag = await self.at(leaves)
            await self.call(
                "self-scan exit",
                "POST",
                path,
                expected=201,
                token=token,
                body=body.replace(b'"entry"', b'"exit"'),
                key=uuid.uuid4().hex,
                lag=lag,
                pupils=pupils,
            )

    async def staff_scan(self, at: float, door: int, student_id: int, body: bytes) -> None:
        lag = await self.at(at)
        await self.call(
            "staff scan",
            "POST",
            f"{API}/activities/{self.fixture.activity_id}/staff-scans",
            expected=201,
            token=self.plan.tokens[f"door {door + 1}"],
            body=body,
            lag=lag,
            pupils=(student_id,),
        )

    async def offline_upload(self, at: float, which: int, again: bool) -> None:
        pupils, body = self.plan.offline[which]
        lag = await self.at(at)
        sample, answer = await self.call(
            "offline re-upload" if again else "offline upload",
            "POST",
            f"{API}/activities/{self.fixture.activity_id}/offline-scans",
            expected=200,
            token=self.plan.tokens["venue admin"],
            body=body,
            lag=lag,
            pupils=tuple(pupils),
        )
        if answer is None or not sample.ok:
            return
        result = answer.json()
        items = [(i["key"], i["result"], i["check_in_id"]) for i in result["items"]]
        if not again and result["accepted"] != OFFLINE_ITEMS:
            self.fail(sample, f"accepted {result['accepted']} of {OFFLINE_ITEMS}: {result}"[:300])
        if again and items != self.offline_results[which]:
            self.fail(sample, "the re-upload answered other results than the first upload")
        if not again:
            self.offline_results.append(items)

    async def class_checkin(
        self, at: float, reservation_id: int, pupils: list[int], body: bytes
    ) -> None:
        lag = await self.at(at)
        sample, answer = await self.call(
            "class check-in",
            "POST",
            f"{API}/reservations/{reservation_id}/checkins",
            expected=200,
            token=self.plan.tokens["school admin"],
            body=body,
            lag=lag,
            pupils=tuple(pupils),
        )
        if answer is not None and sample.ok and answer.json()["accepted"] != CLASS_SIZE:
            self.fail(sample, f"accepted {answer.json()['accepted']} of {CLASS_SIZE}")

    async def every(self, seconds: float, op: str, path: str, token: str | None) -> None:
        """A poller (the venue screen, the attendee list) until the load ends."""
        tick = 0
        while not self.stop.is_set():
            lag = await self.at(tick * seconds)
            await self.call(op, "GET", path, expected=200, token=token, lag=lag)
            tick += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), max(0.0, tick * seconds - self.now()))

    async def export_job(self, at: float) -> None:
        """The school's export as a job: POST, poll until done, download."""
        token = self.plan.tokens["school admin"]
        lag = await self.at(at)
        self.export.posted = self.now()
        sample, answer = await self.call(
            "export POST",
            "POST",
            f"{API}/record-exports",
            expected=202,
            token=token,
            body=json.dumps({"format": "xlsx"}).encode(),
            lag=lag,
        )
        if answer is None or not sample.ok:
            return
        job_id = answer.json()["id"]
        self.export.job_id = job_id
        while True:
            await asyncio.sleep(JOB_POLL_EVERY)
            sample, answer = await self.call(
                "job poll", "GET", f"{API}/jobs/{job_id}", expected=200, token=token
            )
            if answer is None or not sample.ok:
                continue
            job = answer.json()
            self.export.job = job
            if job["status"] in ("done", "failed", "expired"):
                self.export.done_seen = self.now()
                if job["status"] != "done":
                    self.fail(sample, f"the job ended {job['status']}: {job.get('error_code')}")
                    return
                break
        sample, answer = await self.call(
            "export download", "GET", job["download_url"], expected=200, token=token
        )
        if answer is not None and sample.ok:
            self.export.content = answer.body
            self.export.row_count_header = int(answer.fields.get("x-row-count", "-1"))

    async def run(self) -> None:
        fixture, plan = self.fixture, self.plan
        self.t0, self.wall0 = time.perf_counter(), time.time()
        pollers = []
        if "polls" not in self.skip:
            screen = f"/kiosk/{fixture.activity_id}/state?token={fixture.kiosk_token}"
            attendees = f"{API}/activities/{fixture.activity_id}/checkins?limit=50"
            pollers = [
                asyncio.create_task(self.every(KIOSK_EVERY, "kiosk state", screen, None)),
                asyncio.create_task(
                    self.every(LIST_EVERY, "attendee list", attendees, plan.tokens["venue admin"])
                ),
            ]
        work = [self.pupil(*entry) for entry in plan.entries]
        work += [self.staff_scan(*scan) for scan in plan.staff]
        if plan.offline:
            work += [
                self.offline_upload(OFFLINE_AT[0], 0, False),
                self.offline_upload(OFFLINE_AT[1], 1, False),
                self.offline_upload(OFFLINE_AT[2], 0, True),
            ]
        work += [
            self.class_checkin(at, rid, pupils, body)
            for at, (rid, pupils, body) in zip(CLASS_AT, plan.classes, strict=False)
        ]
        if "export" not in self.skip:
            work.append(self.export_job(EXPORT_AT))
        await asyncio.gather(*work)
        self.stop.set()
        await asyncio.gather(*pollers)

    def unanswered(self, ops: Iterable[str]) -> set[int]:
        """Pupils of requests that got no answer: whether they reached the server is unknown."""
        return {p for s in self.samples if s.op in ops and s.status == 0 for p in s.pupils}


async def warm_up(base: str, fixture: Fixture, plan: Plan, settings: Settings) -> str:
    """A few requests before the load (imports, caches, the first connections): the warm-up
    pupil scans in and out, one staff scan, the lists; and the direct export, which must be
    refused as too large. Returns what the direct export answered."""
    user_id, student_id, school_id = fixture.self_scanners[0]
    principal = Principal(
        subject=f"wechat:{user_id}", role=Role.student, school_id=school_id, student_id=student_id
    )
    token, _ = issue_access_token(settings, principal, now=datetime.now(UTC))
    keys = codes.personal_keys(settings.personal_code_keys.get_secret_value())
    expires = datetime.now(UTC) + timedelta(minutes=5)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def expect(status: int, method: str, path: str, **kw: Any) -> httpx.Response:
            response = await client.request(method, path, **kw)
            if response.status_code != status:
                sys.exit(f"warm-up {method} {path}: {response.status_code} {response.text[:300]}")
            return response

        for direction, status in (("entry", 201), ("exit", 201)):
            await expect(
                status,
                "POST",
                f"{API}/checkins",
                json={"code": fixture.poster, "direction": direction},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
            )
        await expect(
            201,
            "POST",
            f"{API}/activities/{fixture.activity_id}/staff-scans",
            json={
                "code": codes.personal_payload(keys, fixture.door_pupils[0], expires),
                "nonce": secrets.token_hex(8),
            },
            headers={"Authorization": f"Bearer {plan.tokens['door 1']}"},
        )
        venue = {"Authorization": f"Bearer {plan.tokens['venue admin']}"}
        school = {"Authorization": f"Bearer {plan.tokens['school admin']}"}
        for _ in range(3):
            await expect(
                200, "GET", f"/kiosk/{fixture.activity_id}/state?token={fixture.kiosk_token}"
            )
            await expect(
                200,
                "GET",
                f"{API}/activities/{fixture.activity_id}/checkins?limit=50",
                headers=venue,
            )
            await expect(200, "GET", f"{API}/jobs", headers=school)
        direct = await expect(
            422, "GET", f"{API}/record-exports", params={"format": "xlsx"}, headers=school
        )
        return str(direct.json().get("code"))


def run_loop(work: Coroutine[Any, Any, None]) -> None:
    """Run the load on uvloop (uvicorn's loop, installed with it), else on asyncio's own."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(work)
    else:
        uvloop.run(work)


# --- figures ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between the nearest ranks (as numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    low, high = math.floor(k), math.ceil(k)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def stats(samples: Iterable[Sample]) -> dict[str, float]:
    chosen = list(samples)
    ms = [s.ms for s in chosen]
    return {
        "n": len(chosen),
        "errors": sum(not s.ok for s in chosen),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms) if ms else math.nan,
    }


def overlaps(sample: Sample, start: float, end: float) -> bool:
    return sample.start <= end and sample.end >= start


def table(rows: dict[str, dict[str, float]], title: str) -> None:
    print(f"\n  {title}")
    print(
        f"  {'operation':22s} {'n':>6s} {'errors':>6s} "
        + " ".join(f"{p:>8s}" for p in ("p50", "p95", "p99", "max"))
    )
    for name, row in rows.items():
        if not row["n"]:
            continue
        print(
            f"  {name:22s} {row['n']:6,d} {row['errors']:6,d} {row['p50']:8.1f} "
            f"{row['p95']:8.1f} {row['p99']:8.1f} {row['max']:8.1f}"
        )


def by_op(samples: list[Sample]) -> dict[str, dict[str, float]]:
    rows = {"self-scan (all)": stats(s for s in samples if s.op in SELF_OPS)}
    rows.update({op: stats(s for s in samples if s.op == op) for op in OPS})
    return rows


def timeline(load: Load, job_run: tuple[float, float] | None) -> None:
    """Per 5 s: the self-scans that left in it, and what else left in it."""
    print("\n  per 5 s (self-scans by the time they left; others: requests that left then)")
    print(f"  {'s':>7s} {'scans':>6s} {'p50':>7s} {'p99':>7s} {'max':>7s}  alongside")
    end = max(s.end for s in load.samples)
    for b in range(math.ceil(end / 5)):
        lo, hi = b * 5.0, b * 5.0 + 5.0
        inside = [s for s in load.samples if lo <= s.start < hi]
        scans = [s.ms for s in inside if s.op in SELF_OPS]
        others = Counter(s.op for s in inside if s.op not in SELF_OPS)
        notes = [f"{k} {v}" for k, v in others.items() if k not in ("kiosk state", "job poll")]
        if job_run and job_run[0] < hi and job_run[1] >= lo:
            notes.append("EXPORT JOB RUNNING")
        print(
            f"  {lo:3.0f}-{hi:3.0f} {len(scans):6d} {percentile(scans, 50):7.1f} "
            f"{percentile(scans, 99):7.1f} {max(scans, default=math.nan):7.1f}  " + ", ".join(notes)
        )


def waited_behind(load: Load, job_run: tuple[float, float] | None) -> dict[str, Any]:
    """What was in flight alongside the slow self-scans, against all self-scans."""
    scans = [s for s in load.samples if s.op in SELF_OPS]
    slow = [s for s in scans if s.ms >= SLOW_MS]
    others = [s for s in load.samples if s.op not in SELF_OPS]
    kinds = [op for op in OPS if op not in SELF_OPS]

    def share(group: list[Sample], kind: str) -> float:
        if not group:
            return math.nan
        if kind == "export job (worker)":
            if job_run is None:
                return 0.0
            hits = sum(overlaps(s, *job_run) for s in group)
        else:
            spans = [(o.start, o.end) for o in others if o.op == kind]
            hits = sum(any(overlaps(s, a, b) for a, b in spans) for s in group)
        return hits / len(group)

    result = {}
    print(
        f"\n  slow self-scans (>= {SLOW_MS:.0f} ms): {len(slow)} of {len(scans)}; "
        "share of them with each kind of request in flight, against all self-scans:"
    )
    for kind in [*kinds, "export job (worker)"]:
        a, b = share(slow, kind), share(scans, kind)
        result[kind] = {"slow": a, "all": b}
        if b or a:
            print(f"    {kind:22s} slow {a:6.1%}   all {b:6.1%}")
    return result


def worker_pid(server_pid: int) -> int | None:
    """The job worker that ``scipass serve`` started as its child."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == server_pid and b"worker" in (entry / "cmdline").read_bytes():
                return int(entry.name)
    return None


def xlsx_rows(content: bytes) -> int:
    """Data rows of the exported workbook (all sheets, without each sheet's header row)."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(content), read_only=True)
    rows = 0
    for sheet in workbook.worksheets:
        rows += max(0, sum(1 for row in sheet.iter_rows(values_only=True) if any(row)) - 1)
    workbook.close()
    return rows


def verify(
    url: str, fixture: Fixture, plan: Plan, unsure_in: set[int], unsure_out: set[int]
) -> tuple[dict[str, Any], list[str]]:
    """Counts in the database after the load, and what is wrong with them; ``unsure_*``: the
    pupils of scans in (out) that got no answer."""
    activity = {"a": fixture.activity_id}
    warm_pupil = fixture.self_scanners[0][1]  # scanned in and out in the warm-up
    wanted_sources = {
        "self_scan": {warm_pupil} | {e[0] for e in plan.entries},
        "staff_scan": {fixture.door_pupils[0]} | {s[2] for s in plan.staff},
        "offline": {p for pupils, _ in plan.offline for p in pupils},
        "group": {p for _, pupils, _ in plan.classes for p in pupils},
    }
    expected_in = set().union(*wanted_sources.values())
    expected_out = plan.exit_pupils | {warm_pupil}
    engine = create_engine(url)
    problems = []
    try:
        with engine.connect() as c:

            def one(sql: str) -> int:
                return int(c.execute(text(sql), activity).scalar_one())

            visits = [
                (r[0], r[1], r[2] is not None)
                for r in c.execute(
                    text(
                        "SELECT student_id, source, exited_at FROM check_in WHERE activity_id = :a"
                    ),
                    activity,
                )
            ]
            counts = {
                "visits": len(visits),
                "pupils with a visit": len({v[0] for v in visits}),
                "visits by source": dict(Counter(v[1] for v in visits)),
                "visits closed": sum(v[2] for v in visits),
                "check-in records": one(
                    "SELECT count(*) FROM participation_record "
                    "WHERE source = 'checkin' AND activity_id = :a"
                ),
                "pupils with a check-in record": one(
                    "SELECT count(DISTINCT student_id) FROM participation_record "
                    "WHERE source = 'checkin' AND activity_id = :a"
                ),
                "visits linked to their pupil's record": one(
                    "SELECT count(DISTINCT c.record_id) FROM check_in c JOIN participation_record r"
                    " ON r.id = c.record_id AND r.student_id = c.student_id"
                    " WHERE c.activity_id = :a"
                ),
                "seeded records": one(
                    "SELECT count(*) FROM participation_record WHERE source = 'manual'"
                ),
                "scan events": one("SELECT count(*) FROM scan_event WHERE activity_id = :a"),
                "scan events refused": one(
                    "SELECT count(*) FROM scan_event WHERE activity_id = :a AND result = 'refused'"
                ),
                "exporting school's records": int(
                    c.execute(
                        text("SELECT count(*) FROM participation_record WHERE school_id = :s"),
                        {"s": fixture.export_school_id},
                    ).scalar_one()
                ),
            }
    finally:
        engine.dispose()
    pupils_in = {v[0] for v in visits}
    pupils_out = {v[0] for v in visits if v[2]}
    # A request without an answer may or may not have reached the server (it counts as an
    # error already): its pupils may have a visit, or not.
    sure_in, sure_out = expected_in - unsure_in, expected_out - unsure_out
    if len(visits) != len(pupils_in) or not sure_in <= pupils_in <= expected_in:
        problems.append(
            f"visits: {len(visits)} for {len(pupils_in)} pupils, expected exactly one for each "
            f"of the {len(expected_in)} pupils scanned in ({len(sure_in - pupils_in)} missing, "
            f"{len(pupils_in - expected_in)} unexpected, {len(unsure_in)} unanswered)"
        )
    wanted = {k: len(v) for k, v in wanted_sources.items() if v}
    if not unsure_in and counts["visits by source"] != wanted:
        problems.append(f"visits by source {counts['visits by source']}, expected {wanted}")
    if not sure_out <= pupils_out <= expected_out:
        problems.append(
            f"closed visits: {len(pupils_out)}, expected those of the {len(expected_out)} pupils "
            f"who scanned out ({len(sure_out - pupils_out)} missing, "
            f"{len(pupils_out - expected_out)} unexpected, {len(unsure_out)} unanswered)"
        )
    for key in (
        "check-in records",
        "pupils with a check-in record",
        "visits linked to their pupil's record",
    ):
        if counts[key] != len(visits):
            problems.append(f"{key}: {counts[key]}, expected one for each of {len(visits)} visits")
    if counts["seeded records"] != fixture.bulk_records:
        problems.append(
            f"seeded records: {counts['seeded records']}, expected {fixture.bulk_records}"
        )
    return counts, problems


# --- one run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace, cluster: Cluster | None) -> dict[str, Any]:
    server_url = cluster.url if cluster else args.database_url
    with (
        tempfile.TemporaryDirectory(prefix="scipass-bench-day.") as tmp,
        database(server_url, Path(tmp)) as url,
    ):
        workdir = Path(tmp)
        extra = {"SCIPASS_JOBS_ENABLED": "true", **args.extra}
        environment = server_environment(url, args.log_level, extra)
        settings = settings_of(environment)
        started = time.perf_counter()
        fixture = seed(url, settings, datetime.now(UTC), args.export_records)
        pupils = len(fixture.self_scanners) + len(fixture.door_pupils)
        pupils += len(fixture.offline_pupils) + 2 * CLASS_SIZE
        print(
            f"  seeded {pupils:,} pupils and {args.export_records:,} records of the exporting "
            f"school ({time.perf_counter() - started:.1f} s)"
        )
        version = code_version()
        print(f"  code: {version}")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(environment, port, workdir, Pinning(None, None), profile=False)
        try:
            time.sleep(2)  # the worker's first round of scheduled jobs
            worker = worker_pid(server.pid)
            if worker is None:
                sys.exit("the job worker did not start (SCIPASS_JOBS_ENABLED=true)")
            rng = random.Random(args.seed)
            plan = make_plan(settings, fixture, datetime.now(UTC), rng, args.skip)
            direct = asyncio.run(warm_up(base, fixture, plan, settings))
            print(f"  warm-up done; the direct XLSX export answered 422 {direct}")
            load = Load(port, fixture, plan, args.skip)
            cpu = {
                "server": process_cpu(server.pid),
                "loop": main_thread_cpu(server.pid),
                "worker": process_cpu(worker),
                "db": cluster_cpu(cluster.postmaster) if cluster else 0.0,
                "client": time.process_time(),
            }
            cpus_before = cpu_times()
            run_loop(load.run())
            seconds = load.now()
            cpus = cpu_usage(cpus_before, cpu_times())
            used = {
                "server": process_cpu(server.pid) - cpu["server"],
                "loop": main_thread_cpu(server.pid) - cpu["loop"],
                "worker": process_cpu(worker) - cpu["worker"],
                "db": (cluster_cpu(cluster.postmaster) - cpu["db"]) if cluster else None,
                "client": time.process_time() - cpu["client"],
            }
        finally:
            stop_server(server)
        entering = (*SELF_OPS[:2], "staff scan", "offline upload", "offline re-upload")
        entering += ("class check-in",)
        unsure_in, unsure_out = load.unanswered(entering), load.unanswered(["self-scan exit"])
        counts, problems = verify(url, fixture, plan, unsure_in, unsure_out)
    return report(args, load, fixture, counts, problems, used, cpus, seconds, version)


def report(
    args: argparse.Namespace,
    load: Load,
    fixture: Fixture,
    counts: dict[str, Any],
    problems: list[str],
    used: dict[str, float | None],
    cpus: dict[str, Any],
    seconds: float,
    version: str,
) -> dict[str, Any]:
    export = load.export
    job = export.job
    window: tuple[float, float] | None = None
    job_run: tuple[float, float] | None = None
    if export.posted is not None and job.get("finished_at"):
        finished = load.to_load_time(datetime.fromisoformat(job["finished_at"]))
        window = (export.posted, finished)
        if job.get("started_at"):
            job_run = (load.to_load_time(datetime.fromisoformat(job["started_at"])), finished)

    overall = by_op(load.samples)
    table(overall, f"whole run ({seconds:.1f} s, {len(load.samples):,} requests), latency in ms:")
    during: dict[str, dict[str, float]] = {}
    if window is not None:
        during = by_op([s for s in load.samples if overlaps(s, *window)])
        table(
            during,
            f"export window ({window[0]:.1f}–{window[1]:.1f} s: from the POST until the job's "
            f"finished_at; requests in flight in it), latency in ms:",
        )
    lags = [s.lag * 1000 for s in load.samples if s.op in SELF_OPS]
    print(
        f"\n  this client's own delay in sending self-scans (against the plan): p99 "
        f"{percentile(lags, 99):.1f} ms, max {max(lags, default=0):.1f} ms"
    )

    rows_in_file = xlsx_rows(export.content) if export.content else None
    job_figures: dict[str, Any] = {}
    if job.get("created_at") and job.get("started_at") and job.get("finished_at"):
        created = datetime.fromisoformat(job["created_at"])
        begun = datetime.fromisoformat(job["started_at"])
        finished = datetime.fromisoformat(job["finished_at"])
        downloads = [s for s in load.samples if s.op == "export download"]
        job_figures = {
            "queued_s": (begun - created).total_seconds(),
            "ran_s": (finished - begun).total_seconds(),
            "post_to_done_seen_s": (export.done_seen or 0) - (export.posted or 0),
            "download_s": downloads[0].ms / 1000 if downloads else None,
            "bytes": len(export.content),
            "rows_header": export.row_count_header,
            "rows_job": job.get("row_count"),
            "rows_file": rows_in_file,
        }
        print(
            f"  export job {export.job_id}: queued {job_figures['queued_s']:.2f} s, ran "
            f"{job_figures['ran_s']:.2f} s (started_at → finished_at), POST → done seen by the "
            f"client {job_figures['post_to_done_seen_s']:.2f} s, download "
            f"{job_figures['download_s'] or 0:.2f} s; {len(export.content) / 1e6:.2f} MB, "
            f"X-Row-Count {export.row_count_header}, job row_count {job.get('row_count')}, "
            f"rows in the file {rows_in_file}"
        )
    elif "export" not in args.skip:
        problems.append(f"the export job did not finish: {job or 'not queued'}")
    now_records = counts["exporting school's records"]
    if export.content and not (
        rows_in_file == export.row_count_header == job.get("row_count")
        and fixture.bulk_records <= (rows_in_file or 0) <= now_records
    ):
        problems.append(
            f"export: {rows_in_file} rows in the file, X-Row-Count {export.row_count_header}, "
            f"job row_count {job.get('row_count')} (the school has {fixture.bulk_records:,} "
            f"seeded and {now_records:,} records now)"
        )

    timeline(load, job_run)
    behind = waited_behind(load, job_run)

    busy = " ".join(f"{n} {u['busy']:.0%}" for n, u in sorted(cpus.items()))
    busy += f", steal up to {max(u['steal'] for u in cpus.values()):.0%}"
    db_cpu = f", PostgreSQL {used['db']:.1f} s" if used["db"] is not None else ""
    print(
        f"\n  CPU during the load ({seconds:.1f} s): server {used['server']:.1f} s (event loop "
        f"{used['loop']:.1f} s; {used['server'] / len(load.samples) * 1000:.2f} ms a request), "
        f"job worker {used['worker']:.1f} s{db_cpu}, this client {used['client']:.1f} s; "
        f"busy: {busy}"
    )

    print(
        "\n  database: "
        + "; ".join(f"{k} {v}" for k, v in counts.items() if k != "visits by source")
        + f"; visits by source {counts['visits by source']}"
    )
    errors = sum(not s.ok for s in load.samples)
    for line in load.first_errors:
        print(f"    first errors: {line}")
    self_all = overall["self-scan (all)"]["p99"]
    self_window = during.get("self-scan (all)", {}).get("p99", math.nan)
    targets = {"self-scan p99, whole run": self_all}
    if "export" not in args.skip:
        targets["self-scan p99, export window"] = self_window
    missed = [k for k, v in targets.items() if not v < TARGET_P99_MS]
    print()
    for name, value in targets.items():
        verdict = "met" if value < TARGET_P99_MS else "MISSED"
        print(f"  {name}: {value:.1f} ms  [target < {TARGET_P99_MS:.0f} ms: {verdict}]")
    print(
        f"  errors (unexpected status or content): {errors}  "
        f"[target 0: {'met' if not errors else 'MISSED'}]"
    )
    if problems:
        for problem in problems:
            print(f"  COUNTS WRONG: {problem}")
    else:
        print(
            "  counts: exactly one visit and one record per pupil scanned in, the right ones "
            "closed, the export's X-Row-Count equals its rows  [met]"
        )
    return {
        "engine": args.engine,
        "skip": sorted(args.skip),
        "code": version,
        "seconds": seconds,
        "overall": overall,
        "export_window": during,
        "window": window,
        "job": job_figures,
        "cpu_s": used,
        "cpus": cpus,
        "counts": counts,
        "problems": problems,
        "errors": errors,
        "first_errors": load.first_errors,
        "missed": missed,
        "waited_behind": behind,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--database-url",
        help="with --engine postgresql: use this server (a new database is created and dropped) "
        "instead of starting a throwaway cluster; its CPU is then not measured",
    )
    parser.add_argument(
        "--pg-durability",
        choices=["default", "off"],
        default="default",
        help="the throwaway cluster's settings: PostgreSQL's defaults, or fsync, "
        "synchronous_commit and full_page_writes off as in tests/with-postgres.sh",
    )
    parser.add_argument(
        "--export-records",
        type=int,
        default=6_000,
        help="records of the exporting school seeded before the run (above the sync limit)",
    )
    parser.add_argument("--seed", type=int, default=16, help="of the random plan")
    parser.add_argument(
        "--skip",
        action="append",
        choices=PARTS,
        default=[],
        help="leave a part of the load out (repeatable), to see what the rest costs without it",
    )
    parser.add_argument("--log-level", default="WARNING", help="the server's SCIPASS_LOG_LEVEL")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another server setting, e.g. --set WORKER_POLL_SECONDS=0.2 (SCIPASS_ optional)",
    )
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed, too")
    args = parser.parse_args()
    args.extra = {}
    args.skip = set(args.skip)
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item}: expected NAME=VALUE")
        args.extra["SCIPASS_" + name.upper().removeprefix("SCIPASS_")] = value
    if args.database_url and args.engine != "postgresql":
        parser.error("--database-url goes with --engine postgresql")

    with contextlib.ExitStack() as stack:
        cluster = None
        if args.engine == "postgresql" and not args.database_url:
            cluster = stack.enter_context(
                postgres_cluster(None, durable=args.pg_durability == "default")
            )
        if args.engine == "sqlite":
            engine = "SQLite file (WAL, synchronous=NORMAL)"
        elif cluster:
            durability = "defaults" if cluster.durable else "fsync/synchronous_commit off"
            engine = f"PostgreSQL {cluster.version} (throwaway cluster, {durability})"
        else:
            engine = f"PostgreSQL at {make_url(args.database_url).render_as_string()}"
        print(
            f"science day: {engine}; scipass serve (1 uvicorn worker + the job worker, "
            f"SCIPASS_ENV=prod, log {args.log_level}, jobs on"
            + "".join(f", {k}={v}" for k, v in args.extra.items())
            + f"), unpinned; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
            + (f"; without: {', '.join(sorted(args.skip))}" if args.skip else "")
        )
        result = run(args, cluster)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    failed = bool(result["problems"]) or result["errors"] > 0
    sys.exit(1 if failed or (args.strict and result["missed"]) else 0)


if __name__ == "__main__":
    main()
