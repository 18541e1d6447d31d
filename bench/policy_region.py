"""The bureau's compliance view and ledger at scale (issue 19): a city's schools judged by its
policy pack, through the HTTP API of a real server process.

    .venv/bin/python bench/policy_region.py --schools 500                 # SQLite file
    tests/with-postgres.sh sh -c '.venv/bin/python bench/policy_region.py \\
        --schools 5000 --database-url "$SCIPASS_TEST_DATABASE_URL"'

Creates a fresh database (as ``bench/export_records.py`` does), migrates it and fills a city
of the Hunan chain (湘潭市, so the Hunan and Xiangtan rules apply: a venue visit a year,
after-school science every week, the city's counsellor training) with ``--schools`` schools
in districts of 100, each with 50 pupils and 20 records a pupil (``--records-per-pupil``) for
the school year so far: one after-school activity of its own a week (a school in seven skips
one week) and two group visits (the whole school) to the 100 venue activities of the city (a
school in five visits none), plus a counsellor training. It then starts ``scipass serve``
(one uvicorn worker), logs in as the city's bureau and times ``GET /api/v1/compliance`` (the
region view, JSON) and ``GET /api/v1/compliance/ledger.xlsx`` (the ledger) for the current
term, ``--runs`` times
each after a warm-up, with the server process's CPU seconds and peak RSS (VmHWM, reset before
each run) and the answer's size. Generating the data is part of this script, never of the
test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.export_records import (  # noqa: E402
    GIVEN,
    SURNAMES,
    RssWatch,
    cpu_seconds,
    database,
    free_port,
)

from scipass.account import service as account_service  # noqa: E402
from scipass.activity.models import Activity  # noqa: E402
from scipass.core import migrations  # noqa: E402
from scipass.core.auth import Role  # noqa: E402
from scipass.core.clock import SHANGHAI, local_date, term_of  # noqa: E402
from scipass.core.db import Database, make_engine  # noqa: E402
from scipass.org.measures_models import CounsellorTraining, CounsellorTrainingAttendee  # noqa: E402
from scipass.org.models import Bureau, Region, School, Venue  # noqa: E402
from scipass.policy.periods import default_term_window, term_weeks  # noqa: E402
from scipass.record.models import ParticipationRecord  # noqa: E402
from scipass.roster.models import Student  # noqa: E402

PASSWORD = "Bench-bureau-2026"
PUPILS = 50
VENUE_ACTIVITIES = 100
SCHOOLS_PER_DISTRICT = 100
BATCH = 10_000


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI).astimezone(UTC)


def seed(url: str, schools: int, records_per_pupil: int) -> int:
    """Migrate and fill the database; return the number of records."""
    migrations.upgrade(url)
    db = Database(make_engine(url))
    now = datetime.now(UTC)
    today = local_date(now)
    term = term_of(today)
    weeks = [w for w in term_weeks(default_term_window(term)) if w.start <= today]
    started = time.perf_counter()
    districts = (schools + SCHOOLS_PER_DISTRICT - 1) // SCHOOLS_PER_DISTRICT
    made = 0
    with db.transaction() as session:
        session.add(Region(code="430000", name="湖南省", level="province"))
        session.add(Region(code="430300", name="湘潭市", level="city", parent_code="430000"))
        codes = [f"4303{d + 1:02d}" for d in range(districts)]
        session.add_all(
            Region(code=code, name=f"第{d + 1}区", level="county", parent_code="430300")
            for d, code in enumerate(codes)
        )
        session.flush()
        bureau = Bureau(name="湘潭市教育局", region_code="430300", created_at=now)
        venue = Venue(
            name="湘潭市科学技术馆",
            kind="science_museum",
            region_code=codes[0],
            longitude=112.9,
            latitude=27.8,
            created_at=now,
        )
        session.add_all([bureau, venue])
        session.flush()
        account_service.create_account(
            session,
            actor=None,
            username="bench-bureau",
            display_name="压测",
            role=Role.bureau,
            org_id=bureau.id,
            password=PASSWORD,
            now=now,
        )
        session.execute(
            insert(School),
            [
                {
                    "name": f"第{i + 1}学校",
                    "region_code": codes[i // SCHOOLS_PER_DISTRICT],
                    "stages": "primary,junior",
                    "area": "rural" if i % 3 == 0 else "urban",
                    "address": "",
                    "created_at": now,
                }
                for i in range(schools)
            ],
        )
        school_ids = list(session.execute(text("SELECT id FROM school ORDER BY id")).scalars())
        activity = _activity_defaults(now)
        first_day = default_term_window(term).start
        span = max(1, (today - first_day).days)
        session.execute(
            insert(Activity),
            [
                {
                    **activity,
                    "venue_id": venue.id,
                    "title": f"走进科技馆（第{k + 1}场）",
                    "starts_at": _at(first_day + timedelta(days=k * span // VENUE_ACTIVITIES), 9),
                    "ends_at": _at(first_day + timedelta(days=k * span // VENUE_ACTIVITIES), 11),
                }
                for k in range(VENUE_ACTIVITIES)
            ],
        )
        own = [
            {
                **activity,
                "kind": "club",
                "school_id": school_id,
                "after_school": True,
                "title": f"课后科学社团（第{w + 1}周）",
                "starts_at": _at(week.start + timedelta(days=2), 16),
                "ends_at": _at(week.start + timedelta(days=2), 17),
            }
            for s, school_id in enumerate(school_ids)
            for w, week in enumerate(weeks)
            if not (s % 7 == 0 and w == len(weeks) // 2)
        ]
        for i in range(0, len(own), BATCH):
            session.execute(insert(Activity), own[i : i + BATCH])
        rows = session.execute(
            select(Activity.id, Activity.school_id, Activity.starts_at).order_by(Activity.id)
        ).all()
        venue_activities = [(a, at) for a, school, at in rows if school is None]
        by_school: dict[int, list[tuple[int, datetime]]] = {}
        for activity_id, school_id, at in rows:
            if school_id is not None:
                by_school.setdefault(school_id, []).append((activity_id, at))
        pending: list[dict[str, object]] = []
        record_table = ParticipationRecord.__table__  # type: ignore[attr-defined]
        for s, school_id in enumerate(school_ids):
            session.execute(
                insert(Student),
                [
                    {
                        "school_id": school_id,
                        "student_no": f"B{s:05d}{i:03d}",
                        "name": SURNAMES[i % 20] + GIVEN[(i * 7) % 20] + GIVEN[(i * 3) % 20],
                        "gender": "male" if i % 2 else "female",
                        "birth_month": date(2016 - i % 6, i % 12 + 1, 1),
                        "stage": "primary",
                        "grade": i % 6 + 1,
                        "class_name": f"{(i // 6) % 8 + 1}班",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(PUPILS)
                ],
            )
            pupils = list(
                session.execute(
                    text("SELECT id FROM student WHERE school_id = :s ORDER BY id"),
                    {"s": school_id},
                ).scalars()
            )
            mine = by_school.get(school_id, [])
            for p, pupil in enumerate(pupils):
                for k in range(records_per_pupil):
                    if (s % 5 != 0 and k < 2) or not mine:  # the school's two group visits
                        activity_id, at = venue_activities[(s * 3 + k) % len(venue_activities)]
                    else:  # its own after-school activities
                        activity_id, at = mine[(p * 7 + k * 13) % len(mine)]
                    pending.append(_record(pupil, school_id, activity_id, at, k, now))
                    made += 1
            if len(pending) >= BATCH:
                session.execute(insert(record_table), pending)
                pending = []
        if pending:
            session.execute(insert(record_table), pending)
        training = CounsellorTraining(
            bureau_id=bureau.id or 0,
            region_code="430300",
            title="科技辅导员培训",
            held_on=first_day + timedelta(days=30),
            created_by="bench",
            created_at=now,
        )
        session.add(training)
        session.flush()
        session.execute(
            insert(CounsellorTrainingAttendee),
            [
                {"training_id": training.id, "name": f"学员{i}", "school_id": school_ids[i]}
                for i in range(min(150, len(school_ids)))
            ],
        )
    # What autovacuum does on a live server: statistics, and the visibility map that lets the
    # records index answer alone (an index-only scan) after a bulk load.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(
            text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE")
        )
    db.engine.dispose()
    print(
        f"seeded {schools:,} schools in {districts} districts, {len(rows):,} activities, "
        f"{made:,} records ({time.perf_counter() - started:.0f} s)"
    )
    return made


def _activity_defaults(now: datetime) -> dict[str, object]:
    """A published venue visit's columns, with the model's defaults for the rest."""
    model = Activity(
        kind="venue_visit",
        title="",
        starts_at=now,
        ends_at=now,
        place_name="湘潭市科学技术馆",
        admission="open",
        stages="primary,junior",
        credited_minutes=90,
        record_category="science_visit",
        dimension="social_practice",
        status="published",
        created_by="bench",
        created_at=now,
        updated_at=now,
    )
    table = Activity.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    return {
        column.name: getattr(model, column.name)
        for column in table.columns
        if getattr(model, column.name) is not None and column.name != "id"
    }


def _record(
    pupil: int, school_id: int, activity_id: int, at: datetime, k: int, now: datetime
) -> dict[str, object]:
    term = term_of(local_date(at))
    return {
        "student_id": pupil,
        "school_id": school_id,
        "source": "checkin",
        "source_ref": f"bench-{activity_id}-{pupil}-{k}",
        "activity_id": activity_id,
        "organiser_school_id": school_id,
        "organiser_name": "湘潭市科学技术馆",
        "title": "科学实践活动",
        "category": "science_visit",
        "dimension": "social_practice",
        "place": "湘潭市科学技术馆",
        "started_at": at,
        "ended_at": at + timedelta(hours=1),
        "school_year": term.school_year,
        "semester": term.semester.value,
        "minutes": 60,
        "role": "participant",
        "outcome": "",
        "reflection": "",
        "attester_name": "刘老师",
        "attester_unit": "湘潭市科学技术馆",
        "attester_phone": "",
        "status": "confirmed" if k % 9 else "rejected",
        "status_reason": "",
        "created_at": now,
        "created_by": "bench",
        "updated_at": now,
    }


def timed(client: httpx.Client, pid: int, url: str) -> tuple[float, float, int, int]:
    """(seconds, the server's CPU seconds, bytes, the server's peak RSS kB)."""
    with RssWatch(pid) as watch:
        cpu = cpu_seconds(pid)
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        cpu = cpu_seconds(pid) - cpu
    return elapsed, cpu, len(response.content), watch.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schools", type=int, default=500)
    parser.add_argument("--records-per-pupil", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL; the benchmark creates (and drops) a database on it",
    )
    args = parser.parse_args()
    with database(args.database_url) as url:
        records = seed(url, args.schools, args.records_per_pupil)
        port = free_port()
        env = {
            **os.environ,
            "SCIPASS_DATABASE_URL": url,
            "SCIPASS_LOG_LEVEL": "WARNING",
            "SCIPASS_JOB_RESULTS_DIR": str(Path(tempfile.mkdtemp(prefix="scipass-bench-jobs-"))),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "scipass", "serve", "--port", str(port)], env=env, cwd=ROOT
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
                for _ in range(300):
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get("/readyz").status_code == 200:
                            break
                    time.sleep(0.1)
                login = client.post(
                    "/api/v1/auth/login", json={"username": "bench-bureau", "password": PASSWORD}
                )
                login.raise_for_status()
                client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
                view = client.get("/api/v1/compliance")  # warm-up, and a look at the answer
                view.raise_for_status()
                for table in view.json()["rules"]:
                    print(f"  {table['rule_id']}: {table['total']}")
                engine = "PostgreSQL" if args.database_url else "SQLite"
                print(f"{engine}: {args.schools:,} schools, {records:,} records")
                print(
                    f"  {'what':8s} {'run':>3s} {'seconds':>8s} {'CPU':>6s} {'size':>9s}"
                    f" {'peak RSS':>9s}"
                )
                for what, path in (
                    ("view", "/api/v1/compliance"),
                    ("ledger", "/api/v1/compliance/ledger.xlsx"),
                ):
                    for run in range(args.runs):
                        elapsed, cpu, size, peak = timed(client, server.pid, path)
                        print(
                            f"  {what:8s} {run + 1:3d} {elapsed:7.2f}s {cpu:5.2f}s "
                            f"{size / 1e3:7.0f}kB {peak / 1024:7.0f}MB"
                        )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
