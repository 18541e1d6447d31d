"""Self-scans while bulk writes run (issue 16, point 5): how long a pupil's own scan waits
while a venue device uploads 200 offline scans or a teacher checks in a class of 40.

    .venv/bin/python bench/checkin/bulk_while_scanning.py --engine sqlite
    .venv/bin/python bench/checkin/bulk_while_scanning.py --engine postgresql
    .venv/bin/python bench/checkin/bulk_while_scanning.py --engine postgresql --capped
    .venv/bin/python bench/checkin/bulk_while_scanning.py --engine sqlite --runs 3 --rate 50

Each run migrates a fresh database (as ``bench/checkin/run.py`` does: a SQLite file, or a
database on a throwaway PostgreSQL cluster the script starts) and inserts one venue, one
published open activity started 10 minutes ago (no capacity; with ``--capped`` a capacity of
100,000, so that every scan takes a place), its static poster code, and three kinds of
pupils of 15 (no guardian consent needed): pupils bound to WeChat who scan the poster
themselves, pupils whose personal codes a venue tablet scanned offline (200 a round), and one
class of 40 a round with a confirmed group reservation of a slot of the activity.

The server is ``scipass serve`` (one uvicorn worker, SCIPASS_ENV=prod, jobs off), pinned to
CPU 0; this script (the client) and PostgreSQL run on CPU 1. The client sends self-scans
(``POST /api/v1/checkins``, each pupil once, 201 expected) at a steady rate (open loop: one
every ``1/rate`` seconds, whatever the answers) while it runs rounds of: a pause, an offline
upload of 200 new scans (``POST /activities/{id}/offline-scans``, venue staff), a pause, a
class check-in of 40 (``POST /reservations/{id}/checkins``, school staff). The first round
warms the server up and does not count; then the self-scans run alone for a few seconds, then
``--rounds`` rounds are measured. Each bulk request must answer every item ``accepted``, each
self-scan 201, and the database must hold one visit for each.

A self-scan counts as "during" a bulk request when the two were in flight at the same time
(it may have been sent a little before the bulk request arrived); its latency is from sending
to the whole answer. The figures: p50, p99 and max of the self-scans alone, between bulk
requests, during uploads and during class check-ins, and how long the bulk requests took.
Target: a self-scan is answered within 100 ms while a bulk write runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.checkin.run import (  # noqa: E402
    GIVEN,
    SURNAMES,
    Cluster,
    Pinning,
    code_version,
    cpu_times,
    cpu_usage,
    database,
    free_port,
    postgres_cluster,
    process_cpu,
    server_environment,
    settings_of,
    start_server,
    stop_server,
)

from scipass.account.models import WeChatUser  # noqa: E402
from scipass.activity.models import Activity  # noqa: E402
from scipass.checkin import cards, codes  # noqa: E402
from scipass.checkin.models import ActivityCode  # noqa: E402
from scipass.core import migrations  # noqa: E402
from scipass.core.auth import Principal, Role, issue_access_token  # noqa: E402
from scipass.core.config import Settings  # noqa: E402
from scipass.core.db import Database, make_engine  # noqa: E402
from scipass.org.models import Region, School, Venue  # noqa: E402
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot  # noqa: E402
from scipass.roster.models import Student  # noqa: E402

UPLOAD = 200  # offline scans per upload
CLASS = 40  # pupils per class check-in
TARGET_MS = 100.0


@dataclass(frozen=True)
class Scene:
    venue_id: int
    school_id: int
    activity_id: int
    payload: str  # the poster code
    scanners: list[tuple[int, int]]  # (WeChat user id, student id): self-scans
    offline: list[int]  # student ids, UPLOAD a round
    classes: list[tuple[int, list[int]]]  # (reservation id, its pupils), one a round


def seed(
    url: str,
    settings: Settings,
    *,
    scanners: int,
    rounds: int,
    now: datetime,
    capacity: int | None,
) -> Scene:
    migrations.upgrade(url)
    db = Database(make_engine(url))
    with db.transaction() as session:
        session.add(Region(code="430000", name="湖南省", level="province"))
        session.add(Region(code="430300", name="湘潭市", level="city", parent_code="430000"))
        session.flush()
        school = School(
            name="湘潭市第一中学",
            region_code="430300",
            stages="junior",
            area="urban",
            created_at=now,
        )
        venue = Venue(
            name="湘潭市科学技术馆",
            kind="science_museum",
            region_code="430300",
            longitude=112.944,
            latitude=27.829,
            created_at=now,
        )
        session.add_all([school, venue])
        session.flush()
        activity = Activity(
            venue_id=venue.id,
            kind="venue_visit",
            title="科技节（压测）",
            capacity=capacity,
            starts_at=now - timedelta(minutes=10),
            ends_at=now + timedelta(hours=8),
            place_name="湘潭市科学技术馆",
            admission="open",
            stages="junior",
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
        short_id = codes.new_short_id()
        session.add(
            ActivityCode(
                activity_id=activity.id or 0,
                kind="static",
                short_id=short_id,
                created_by="bench",
                created_at=now,
            )
        )
        session.execute(
            insert(WeChatUser),
            [
                {
                    "openid": f"o-bulk-{i:05d}",
                    "kind": "student",
                    "created_at": now,
                    "last_login_at": now,
                }
                for i in range(scanners)
            ],
        )
        users = session.execute(text("SELECT id FROM wechat_user ORDER BY openid")).scalars().all()
        pupils = scanners + rounds * (UPLOAD + CLASS)
        session.execute(
            insert(Student),
            [
                {
                    "school_id": school.id,
                    "student_no": f"B{i:05d}",
                    "name": SURNAMES[i % 20] + GIVEN[(i * 7) % 20] + GIVEN[(i * 3) % 20],
                    "gender": "male" if i % 2 else "female",
                    "birth_month": date(now.year - 15, 1, 1),
                    "stage": "junior",
                    "grade": 9,
                    "class_name": f"{i // 40 % 20 + 1}班",
                    "wechat_user_id": users[i] if i < scanners else None,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(pupils)
            ],
        )
        ids = session.execute(text("SELECT id FROM student ORDER BY student_no")).scalars().all()
        offline = ids[scanners : scanners + rounds * UPLOAD]
        class_pupils = ids[scanners + rounds * UPLOAD :]
        classes = []
        for n in range(rounds):
            slot = TimeSlot(
                venue_id=venue.id or 0,
                activity_id=activity.id,
                starts_at=now - timedelta(minutes=10),
                ends_at=now + timedelta(hours=2),
                capacity=CLASS + 5,
                taken=CLASS + 1,
                status="open",
                created_at=now,
            )
            session.add(slot)
            session.flush()
            reservation = Reservation(
                slot_id=slot.id or 0,
                kind="group",
                school_id=school.id or 0,
                group_label=f"九年级{n + 1}班",
                students=CLASS,
                escorts=1,
                party_size=CLASS + 1,
                status="confirmed",
                made_by="account:2",
                created_at=now,
                confirmed_at=now,
            )
            session.add(reservation)
            session.flush()
            members = list(class_pupils[n * CLASS : (n + 1) * CLASS])
            session.execute(
                insert(ReservationMember),
                [
                    {"reservation_id": reservation.id, "slot_id": slot.id, "student_id": s}
                    for s in members
                ],
            )
            classes.append((reservation.id or 0, members))
        scene = Scene(
            venue_id=venue.id or 0,
            school_id=school.id or 0,
            activity_id=activity.id or 0,
            payload=codes.static_payload(settings.code_keyring, short_id),
            scanners=list(zip(users, ids[:scanners], strict=True)),
            offline=list(offline),
            classes=classes,
        )
    db.engine.dispose()
    return scene


# --- the client -------------------------------------------------------------------------------


@dataclass
class Timed:
    sent: float
    answered: float = 0.0
    status: int = 0

    @property
    def ms(self) -> float:
        return (self.answered - self.sent) * 1000


@dataclass
class Bulk:
    kind: str  # "upload" or "class"
    sent: float
    answered: float = 0.0
    status: int = 0
    warmup: bool = False
    results: dict[str, int] = field(default_factory=dict)

    @property
    def ms(self) -> float:
        return (self.answered - self.sent) * 1000


def _token(settings: Settings, principal: Principal) -> str:
    return issue_access_token(settings, principal, now=datetime.now(UTC))[0]


async def drive(
    base: str, settings: Settings, scene: Scene, args: argparse.Namespace
) -> tuple[list[Timed], list[Bulk], float]:
    """Self-scans and bulk requests as sent and answered, and when the measured part began."""
    scans: list[Timed] = []
    bulks: list[Bulk] = []
    measured_from = [0.0]
    venue_staff = {
        "Authorization": "Bearer "
        + _token(
            settings, Principal(subject="account:1", role=Role.venue_staff, venue_id=scene.venue_id)
        )
    }
    teacher = {
        "Authorization": "Bearer "
        + _token(
            settings,
            Principal(subject="account:2", role=Role.school_staff, school_id=scene.school_id),
        )
    }
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        pending: set[asyncio.Task[None]] = set()
        stop = asyncio.Event()

        async def one_scan(user_id: int, student_id: int) -> None:
            bearer = _token(
                settings,
                Principal(
                    subject=f"wechat:{user_id}",
                    role=Role.student,
                    school_id=scene.school_id,
                    student_id=student_id,
                ),
            )
            timed = Timed(sent=time.perf_counter())
            scans.append(timed)
            response = await client.post(
                "/api/v1/checkins",
                json={"code": scene.payload},
                headers={"Authorization": f"Bearer {bearer}", "Idempotency-Key": uuid.uuid4().hex},
            )
            timed.answered, timed.status = time.perf_counter(), response.status_code

        async def scanning() -> None:
            interval = 1 / args.rate
            start = time.perf_counter()
            for n, (user_id, student_id) in enumerate(scene.scanners):
                if stop.is_set():
                    return
                delay = start + n * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(one_scan(user_id, student_id))
                pending.add(task)
                task.add_done_callback(pending.discard)
            print("  ! ran out of pupils to scan (raise --scanners): no more self-scans")

        async def bulk(
            kind: str, url: str, body: dict[str, Any], headers: dict[str, str], *, warmup: bool
        ) -> None:
            record = Bulk(kind=kind, sent=time.perf_counter(), warmup=warmup)
            bulks.append(record)
            response = await client.post(url, json=body, headers=headers)
            record.answered, record.status = time.perf_counter(), response.status_code
            if response.status_code == 200:
                for item in response.json()["items"]:
                    record.results[item["result"]] = record.results.get(item["result"], 0) + 1

        scanner = asyncio.create_task(scanning())
        # Round 0 warms the server's bulk paths up; neither it nor the scans sent until it
        # ends count.
        for n in range(args.rounds + 1):
            if n == 1:
                await asyncio.sleep(args.pause)
                measured_from[0] = time.perf_counter()
                await asyncio.sleep(args.alone_seconds)
            await asyncio.sleep(args.pause)
            now = datetime.now(UTC)
            items = [
                {
                    "nonce": uuid.uuid4().hex,
                    "code": cards.personal_code(
                        settings, student_id=student_id, expires_at=now + timedelta(minutes=5)
                    ),
                    "scan_time": (now - timedelta(seconds=30)).isoformat(),
                }
                for student_id in scene.offline[n * UPLOAD : (n + 1) * UPLOAD]
            ]
            await bulk(
                "upload",
                f"/api/v1/activities/{scene.activity_id}/offline-scans",
                {"device": "bench-tablet", "items": items},
                venue_staff,
                warmup=n == 0,
            )
            await asyncio.sleep(args.pause)
            reservation_id, pupils = scene.classes[n]
            await bulk(
                "class",
                f"/api/v1/reservations/{reservation_id}/checkins",
                {"student_ids": pupils, "nonce": uuid.uuid4().hex},
                teacher,
                warmup=n == 0,
            )
        await asyncio.sleep(args.pause)
        stop.set()
        await scanner
        await asyncio.gather(*pending)
    return scans, bulks, measured_from[0]


# --- figures ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(name: str, values: list[float]) -> dict[str, Any]:
    return {
        "name": name,
        "n": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
    }


def figures(scans: list[Timed], bulks: list[Bulk], start: float) -> list[dict[str, Any]]:
    def during(kind: str, scan: Timed) -> bool:
        """Whether the scan was in flight while a bulk request of ``kind`` was."""
        return any(
            b.kind == kind and scan.sent <= b.answered and scan.answered >= b.sent for b in bulks
        )

    scans = [s for s in scans if s.sent >= start]
    bulks = [b for b in bulks if not b.warmup]
    uploads = [b for b in bulks if b.kind == "upload"]
    classes = [b for b in bulks if b.kind == "class"]
    first_bulk = min(b.sent for b in bulks)
    alone = [s.ms for s in scans if s.sent < first_bulk]
    upload = [s.ms for s in scans if during("upload", s)]
    klass = [s.ms for s in scans if during("class", s)]
    between = [
        s.ms
        for s in scans
        if s.sent >= first_bulk and not during("upload", s) and not during("class", s)
    ]
    return [
        summary("self-scans alone (before the measured bulks)", alone),
        summary("self-scans between bulk requests", between),
        summary(f"self-scans during an upload of {UPLOAD}", upload),
        summary(f"self-scans during a class check-in of {CLASS}", klass),
        summary(f"offline uploads of {UPLOAD} (duration)", [b.ms for b in uploads]),
        summary(f"class check-ins of {CLASS} (duration)", [b.ms for b in classes]),
    ]


def verify(url: str, scene: Scene, scans: list[Timed], bulks: list[Bulk]) -> list[str]:
    problems = []
    statuses: dict[int, int] = {}
    for scan in scans:
        statuses[scan.status] = statuses.get(scan.status, 0) + 1
    if set(statuses) != {201}:
        problems.append(f"self-scan statuses {statuses}")
    for b in bulks:
        wanted = UPLOAD if b.kind == "upload" else CLASS
        if b.status != 200 or b.results != {"accepted": wanted}:
            problems.append(f"{b.kind}: status {b.status}, results {b.results}")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            visits = connection.execute(text("SELECT count(*) FROM check_in")).scalar_one()
    finally:
        engine.dispose()
    expected = len(scans) + sum(UPLOAD if b.kind == "upload" else CLASS for b in bulks)
    if visits != expected:
        problems.append(f"{visits} visits in the database, {expected} expected")
    return problems


def run_once(args: argparse.Namespace, cluster: Cluster | None, pinning: Pinning) -> list[dict]:
    with (
        tempfile.TemporaryDirectory(prefix="scipass-bench-bulk.") as tmp,
        database(cluster.url if cluster else None, Path(tmp)) as url,
    ):
        environment = server_environment(url, "WARNING", args.extra)
        settings = settings_of(environment)
        # Round 0 warms the server up (drive).
        now = datetime.now(UTC)
        capacity = 100_000 if args.capped else None
        scene = seed(
            url,
            settings,
            scanners=args.scanners,
            rounds=args.rounds + 1,
            now=now,
            capacity=capacity,
        )
        print(f"  code: {code_version()}")
        port = free_port()
        server = start_server(environment, port, Path(tmp), pinning, profile=False)
        try:
            if pinning.client is not None:
                os.sched_setaffinity(0, {pinning.client})
            cpus_before, server_before = cpu_times(), process_cpu(server.pid)
            begun = time.perf_counter()
            scans, bulks, start = asyncio.run(
                drive(f"http://127.0.0.1:{port}", settings, scene, args)
            )
            elapsed = time.perf_counter() - begun
            cpus = cpu_usage(cpus_before, cpu_times())
            server_share = (process_cpu(server.pid) - server_before) / elapsed
        finally:
            stop_server(server)
        problems = verify(url, scene, scans, bulks)
    rows = figures(scans, bulks, start)
    print(f"  {'':48s} {'n':>5s} {'p50 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    for row in rows:
        print(
            f"  {row['name']:48s} {row['n']:5d} {row['p50']:8.1f} {row['p99']:8.1f} "
            f"{row['max']:8.1f}"
        )
    if pinning.server is not None:
        busy = cpus[f"cpu{pinning.server}"]["busy"]
        print(
            f"  CPU {pinning.server} (the server's) was {busy:.0%} busy, the server used "
            f"{server_share:.0%}: other processes took about {max(0.0, busy - server_share):.0%}"
        )
    during = [r for r in rows if r["name"].startswith("self-scans during")]
    worst = max(r["max"] for r in during)
    print(
        f"  slowest self-scan during a bulk write: {worst:.1f} ms  "
        f"[target <= {TARGET_MS:.0f} ms: {'met' if worst <= TARGET_MS else 'MISSED'}]"
    )
    for problem in problems:
        print(f"  ! {problem}")
    if problems:
        sys.exit(1)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=8, help="upload + class check-in rounds")
    parser.add_argument("--rate", type=float, default=40.0, help="self-scans per second")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between bulk requests")
    parser.add_argument("--alone-seconds", type=float, default=3.0)
    parser.add_argument("--scanners", type=int, default=6000, help="pupils who self-scan")
    parser.add_argument(
        "--capped",
        action="store_true",
        help="give the activity a capacity (100,000): every scan then takes a place",
    )
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--pg-durability", choices=["default", "off"], default="default", help="see run.py"
    )
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--no-pin", action="store_true")
    args = parser.parse_args()
    args.extra = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item}: expected NAME=VALUE")
        args.extra["SCIPASS_" + name.upper().removeprefix("SCIPASS_")] = value
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset")
    pinning = Pinning(server=0, client=1) if pin else Pinning(server=None, client=None)
    with contextlib.ExitStack() as stack:
        cluster = None
        if args.engine == "postgresql":
            cluster = stack.enter_context(
                postgres_cluster(pinning.client, durable=args.pg_durability == "default")
            )
        runs = []
        for run in range(1, args.runs + 1):
            print(
                f"bulk writes while scanning, run {run}/{args.runs}: {args.engine}"
                f"{f' {cluster.version}' if cluster else ''}"
                f"{', capped activity' if args.capped else ''}; {args.rounds} rounds of an upload "
                f"of {UPLOAD} and a class of {CLASS}; self-scans at {args.rate:g}/s; "
                f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
            )
            runs.append(run_once(args, cluster, pinning))
    if args.runs > 1:
        print("per run (p50 / p99 / max ms):")
        for i, row in enumerate(runs[0]):
            cells = [f"{r[i]['p50']:.1f} / {r[i]['p99']:.1f} / {r[i]['max']:.1f}" for r in runs]
            print(f"  {row['name']:48s} " + "; ".join(cells))
        medians = {
            row["name"]: statistics.median(r[i]["p99"] for r in runs)
            for i, row in enumerate(runs[0])
        }
        print("median p99: " + ", ".join(f"{k} {v:.1f}" for k, v in medians.items()))


if __name__ == "__main__":
    main()
