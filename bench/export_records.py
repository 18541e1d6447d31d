"""Record export at scale (issue 5): CSV and XLSX of 20,000 and 200,000 participation records
through the HTTP API of a real server process, with the server's memory sampled.

    .venv/bin/python bench/export_records.py --records 200000          # SQLite file
    tests/with-postgres.sh sh -c \\
      '.venv/bin/python bench/export_records.py --database-url "$SCIPASS_TEST_DATABASE_URL"'

Creates a fresh database (SQLite in a temporary directory, or a new database on the PostgreSQL
server of ``--database-url``, dropped afterwards), migrates it, bulk-inserts N records for ten
schools of one city (N/10 per school, 20 records per student, one or two evidence files on
every third record), starts ``scipass serve`` (one uvicorn worker) and logs in as the city's
bureau. It then exports one school (N/10 rows) and the whole city (N rows), each as CSV and
XLSX, as jobs (issue 16: above ``SCIPASS_EXPORT_SYNC_ROW_LIMIT`` an export runs in the job
worker that ``scipass serve`` starts): ``POST /record-exports``, polling ``GET /jobs/{id}``,
then downloading the file. It prints rows, seconds until the file's first byte and in all
(from the POST), the worker process's CPU seconds (user and system, from /proc: the figure to
compare on a machine shared with other work), bytes and the worker's peak RSS during each
export (``VmHWM`` from /proc, reset before each run through ``/proc/<pid>/clear_refs``;
sampled ``VmRSS`` where that is not allowed). The warm-up (an empty export) is direct.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scipass.account import service as account_service  # noqa: E402
from scipass.consent.models import ConsentRecord  # noqa: E402
from scipass.consent.service import NOTICE_VERSION  # noqa: E402
from scipass.core import migrations  # noqa: E402
from scipass.core.auth import Role  # noqa: E402
from scipass.core.db import Database, make_engine  # noqa: E402
from scipass.org.models import Bureau, Region, School  # noqa: E402
from scipass.record.models import ParticipationRecord, RecordEvidence  # noqa: E402
from scipass.roster.models import Student  # noqa: E402

PASSWORD = "Bench-bureau-2026"
SCHOOLS = 10
RECORDS_PER_STUDENT = 20
BATCH = 10_000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
GIVEN = "子涵雨桐浩然梓萱宇轩欣怡俊熙思彤明轩一诺"
TITLES = ("走进科技馆", "科学第一课", "机器人社团", "青少年科技创新大赛", "小小科普辅导员")
CATEGORIES = ("science_visit", "course_lecture", "inquiry", "competition", "volunteer")
DIMENSIONS = ("social_practice", "academic", "academic", "academic", "moral")
STATUSES = ("pending", "confirmed", "reviewed", "publicised", "archived")


@contextlib.contextmanager
def database(server_url: str | None) -> Iterator[str]:
    """A new, empty database: a SQLite file, or one created on ``server_url``'s server."""
    if not server_url:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    server = make_url(server_url)
    name = f"scipass_bench_{secrets.token_hex(4)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield server.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def seed(url: str, records: int) -> list[int]:
    """Migrate and fill the database; return the school ids."""
    migrations.upgrade(url)
    db = Database(make_engine(url))
    now = datetime.now(UTC)
    per_school = records // SCHOOLS
    students_per_school = max(1, per_school // RECORDS_PER_STUDENT)
    started = time.perf_counter()
    with db.transaction() as session:
        session.add(Region(code="430000", name="湖南省", level="province"))
        session.add(Region(code="430300", name="湘潭市", level="city", parent_code="430000"))
        session.add(Region(code="430381", name="湘乡市", level="county", parent_code="430300"))
        session.flush()
        bureau = Bureau(name="湘潭市教育局", region_code="430300", created_at=now)
        session.add(bureau)
        schools = [
            School(
                name=f"湘乡市第{i + 1}小学",
                region_code="430381",
                stages="primary,junior",
                area="urban",
                created_at=now,
            )
            for i in range(SCHOOLS)
        ]
        session.add_all(schools)
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
        school_ids = [school.id or 0 for school in schools]
        students = [
            {
                "school_id": school_id,
                "student_no": f"X{s:02d}{i:06d}",
                "name": SURNAMES[i % 20] + GIVEN[(i * 7) % 20] + GIVEN[(i * 3) % 20],
                "gender": "male" if i % 2 else "female",
                "birth_month": date(2016 - i % 6, i % 12 + 1, 1),
                "stage": "primary",
                "grade": i % 6 + 1,
                "class_name": f"{(i // 6) % 8 + 1}班",
                "created_at": now,
                "updated_at": now,
            }
            for s, school_id in enumerate(school_ids)
            for i in range(students_per_school)
        ]
        session.execute(insert(Student), students)
        student_rows = session.execute(text("SELECT id, school_id FROM student ORDER BY id")).all()
        # Every guardian signed the school's paper form for exports to the 综评 platform: the
        # exports hold every record, and the exporter's consent check (issue 20) is measured
        # on every pupil under 14.
        session.execute(
            insert(ConsentRecord),
            [
                {
                    "student_id": student_id,
                    "purpose": "record_export",
                    "decision": "grant",
                    "notice_version": NOTICE_VERSION,
                    "channel": "paper",
                    "guardian_name": "家长",
                    "recorded_by": "bench",
                    "recorded_at": now,
                }
                for student_id, _school_id in student_rows
            ],
        )

        record_table = ParticipationRecord.__table__  # type: ignore[attr-defined]
        evidence_table = RecordEvidence.__table__  # type: ignore[attr-defined]
        base = datetime(2026, 9, 7, 1, 0, tzinfo=UTC)
        pending: list[dict[str, object]] = []
        made = 0
        for student_id, school_id in student_rows:
            for k in range(RECORDS_PER_STUDENT):
                if made >= records:
                    break
                kind = (student_id + k) % 5
                start = base + timedelta(days=k * 3, hours=k % 5)
                pending.append(
                    {
                        "student_id": student_id,
                        "school_id": school_id,
                        "source": "manual",
                        "source_ref": f"bench-{k}",
                        "organiser_school_id": school_id,
                        "organiser_name": "湘潭市科学技术馆",
                        "title": f"{TITLES[kind]}（第{k + 1}次）",
                        "category": CATEGORIES[kind],
                        "dimension": DIMENSIONS[kind],
                        "place": "湘潭市科学技术馆",
                        "started_at": start,
                        "ended_at": start + timedelta(hours=2),
                        "school_year": 2026,
                        "semester": "autumn",
                        "minutes": 120,
                        "role": "participant",
                        "outcome": "一等奖" if kind == 3 else "",
                        "reflection": "",
                        "attester_name": "刘老师",
                        "attester_unit": "湘潭市科学技术馆",
                        "attester_phone": "13812348000",
                        "status": STATUSES[kind],
                        "status_reason": "",
                        "created_at": now,
                        "created_by": "bench",
                        "updated_at": now,
                    }
                )
                made += 1
                if len(pending) >= BATCH:
                    session.execute(insert(record_table), pending)
                    pending = []
        if pending:
            session.execute(insert(record_table), pending)
        ids = session.execute(
            text("SELECT id FROM participation_record WHERE id % 3 = 0 ORDER BY id")
        ).scalars()
        evidence = [
            {
                "record_id": record_id,
                "sha256": f"{record_id:064d}"[: 64 - copy] + "f" * copy,
                "media_type": "image/jpeg",
                "size": 1000,
                "filename": "证书.jpg",
                "uploaded_by": "bench",
                "uploaded_at": now,
            }
            for record_id in ids
            for copy in range(1 + record_id % 2)
        ]
        for i in range(0, len(evidence), BATCH):
            session.execute(insert(evidence_table), evidence[i : i + BATCH])
    db.engine.dispose()
    print(
        f"seeded {made:,} records of {len(student_rows):,} students in {SCHOOLS} schools "
        f"({time.perf_counter() - started:.1f} s)"
    )
    return school_ids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class RssWatch:
    """The peak resident memory of a process during a block (kB)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._resettable = True

    def __enter__(self) -> RssWatch:
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # resets VmHWM
        except OSError:
            self._resettable = False
        self.peak = _status_kb(self.pid, "VmRSS")
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _status_kb(self.pid, "VmRSS"))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._resettable:
            self.peak = max(self.peak, _status_kb(self.pid, "VmHWM"))


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) that process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def download(
    client: httpx.Client, pid: int, params: dict[str, object]
) -> tuple[int, float, float, float, int, int]:
    """(rows, seconds to the first byte, seconds in all, the server's CPU seconds, bytes,
    peak RSS kB)."""
    with RssWatch(pid) as watch:
        cpu = cpu_seconds(pid)
        started = time.perf_counter()
        first = 0.0
        size = lines = 0
        with client.stream("GET", "/api/v1/record-exports", params=params) as response:
            response.raise_for_status()
            rows = int(response.headers["x-row-count"])
            for chunk in response.iter_bytes():
                if not first:
                    first = time.perf_counter() - started
                size += len(chunk)
                lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu
    if params["format"] == "csv" and lines != rows + 1:
        sys.exit(f"the CSV has {lines - 1} rows, the server announced {rows}")
    return rows, first, elapsed, cpu, size, watch.peak


def worker_pid(server_pid: int) -> int:
    """The job worker ``scipass serve`` started as its child."""
    for _ in range(100):
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == server_pid and b"worker" in command:
                return int(entry.name)
        time.sleep(0.1)
    sys.exit("scipass serve started no job worker")


def export_job(
    client: httpx.Client, pid: int, params: dict[str, object]
) -> tuple[int, float, float, float, int, int]:
    """An export as a job (issue 16): POST, poll until done, download. (rows, seconds until
    the file's first byte, seconds in all, the worker's CPU seconds, bytes, the worker's peak
    RSS kB)."""
    with RssWatch(pid) as watch:
        cpu = cpu_seconds(pid)
        started = time.perf_counter()
        job = client.post("/api/v1/record-exports", json=params)
        job.raise_for_status()
        job_id = job.json()["id"]
        while True:
            status = client.get(f"/api/v1/jobs/{job_id}").json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        if status["status"] != "done":
            sys.exit(f"export job {job_id} failed: {status['error_code']}")
        first = 0.0
        size = lines = 0
        with client.stream("GET", status["download_url"]) as response:
            response.raise_for_status()
            rows = int(response.headers["x-row-count"])
            for chunk in response.iter_bytes():
                if not first:
                    first = time.perf_counter() - started
                size += len(chunk)
                lines += chunk.count(b"\n")
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu
    if params["format"] == "csv" and lines != rows + 1:
        sys.exit(f"the CSV has {lines - 1} rows, the job announced {rows}")
    return rows, first, elapsed, cpu, size, watch.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--records", type=int, default=200_000, help="records in the city (one school has 1/10)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server URL; the benchmark creates (and drops) a database on it",
    )
    args = parser.parse_args()
    with database(args.database_url) as url:
        school_ids = seed(url, args.records)
        port = free_port()
        env = {
            **os.environ,
            "SCIPASS_DATABASE_URL": url,
            "SCIPASS_LOG_LEVEL": "WARNING",
            "SCIPASS_JOBS_ENABLED": "true",  # exports of this size run in the job worker
            "SCIPASS_WORKER_POLL_SECONDS": "0.1",
            "SCIPASS_JOB_RESULTS_DIR": str(Path(tempfile.mkdtemp(prefix="scipass-bench-jobs-"))),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "scipass", "serve", "--port", str(port)], env=env, cwd=ROOT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=600) as client:
                for _ in range(200):
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get("/readyz").status_code == 200:
                            break
                    time.sleep(0.1)
                login = client.post(
                    "/api/v1/auth/login", json={"username": "bench-bureau", "password": PASSWORD}
                )
                login.raise_for_status()
                client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
                # Warm up: every module the exports use is imported before measuring.
                for fmt in ("csv", "xlsx"):
                    download(client, server.pid, {"format": fmt, "school_year": 2001})
                worker = worker_pid(server.pid)
                baseline = _status_kb(worker, "VmRSS")
                engine = "PostgreSQL" if args.database_url else "SQLite"
                print(
                    f"record export as jobs, {engine}; job worker RSS after warm-up "
                    f"{baseline / 1024:.0f} MB (CPU and peak RSS below are the worker's)"
                )
                print(
                    f"  {'scope':8s} {'format':6s} {'rows':>8s} {'first byte':>10s} "
                    f"{'total':>8s} {'CPU':>7s} {'rows/s':>8s} {'size':>9s} {'peak RSS':>9s}"
                )
                for scope, params in (
                    ("school", {"school_id": school_ids[0]}),
                    ("city", {}),
                ):
                    for fmt in ("csv", "xlsx"):
                        rows, first, elapsed, cpu, size, peak = export_job(
                            client, worker, {"format": fmt, **params}
                        )
                        print(
                            f"  {scope:8s} {fmt:6s} {rows:8,d} {first:9.2f}s {elapsed:7.2f}s "
                            f"{cpu:6.1f}s {rows / elapsed:8,.0f} {size / 1e6:7.1f}MB "
                            f"{peak / 1024:7.0f}MB"
                        )
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
