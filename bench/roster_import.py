"""Roster import at scale: 10,000 rows through the HTTP API of a real server process.

    .venv/bin/python bench/roster_import.py                 # SQLite file
    tests/with-postgres.sh .venv/bin/python bench/roster_import.py --postgres

Starts `scipass serve` on a fresh database, logs in as a school admin, and times: the first
import of N rows (CSV, all created), the same file again (all unchanged), and an XLSX with
every student moved to another class (all updated). Target (issue 3): 10,000 rows < 10 s.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
from openpyxl import Workbook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scipass.account import service as account_service  # noqa: E402
from scipass.core import migrations  # noqa: E402
from scipass.core.auth import Role  # noqa: E402
from scipass.core.db import Database, make_engine  # noqa: E402
from scipass.org.models import Region, School  # noqa: E402

PASSWORD = "Bench-admin-2026"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何罗高林"
GIVEN = "子涵雨桐浩然梓萱宇轩欣怡俊熙思彤明轩一诺"


@contextlib.contextmanager
def database(postgres: bool) -> Iterator[str]:
    if postgres:
        from tests.databases import fresh_database

        if not os.environ.get("SCIPASS_TEST_DATABASE_URL"):
            sys.exit(
                "--postgres needs SCIPASS_TEST_DATABASE_URL (run under tests/with-postgres.sh)"
            )
        with tempfile.TemporaryDirectory() as tmp, fresh_database(Path(tmp)) as url:
            yield url
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"


def seed(url: str) -> None:
    migrations.upgrade(url)
    db = Database(make_engine(url))
    now = datetime.now(UTC)
    with db.transaction() as session:
        session.add(Region(code="430000", name="湖南省", level="province"))
        session.flush()
        school = School(
            name="压测学校",
            region_code="430000",
            stages="primary,junior",
            area="urban",
            created_at=now,
        )
        session.add(school)
        session.flush()
        account_service.create_account(
            session,
            actor=None,
            username="bench-admin",
            display_name="压测",
            role=Role.school_admin,
            org_id=school.id,
            password=PASSWORD,
            now=now,
        )
    db.engine.dispose()


def rows(n: int, class_offset: int = 0) -> list[list[str]]:
    grades = [
        "一年级",
        "二年级",
        "三年级",
        "四年级",
        "五年级",
        "六年级",
        "七年级",
        "八年级",
        "九年级",
    ]
    result = []
    for i in range(n):
        grade = i % 9
        year = 2019 - grade
        name = SURNAMES[i % 20] + GIVEN[(i * 7) % 20] + GIVEN[(i * 3) % 20]
        result.append(
            [
                f"B{i:07d}",
                name,
                "男" if i % 2 else "女",
                f"{year}-{i % 12 + 1:02d}",
                grades[grade],
                f"{(i // 9) % 12 + 1 + class_offset}班",
            ]
        )
    return result


def as_csv(data: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["学号", "姓名", "性别", "出生年月", "年级", "班级"])
    writer.writerows(data)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def as_xlsx(data: list[list[str]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("名单")
    sheet.append(["学号", "姓名", "性别", "出生年月", "年级", "班级"])
    for row in data:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    with database(args.postgres) as url:
        seed(url)
        port = free_port()
        env = {**os.environ, "SCIPASS_DATABASE_URL": url, "SCIPASS_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "scipass", "serve", "--port", str(port)], env=env, cwd=ROOT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=120) as client:
                for _ in range(100):
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get("/readyz").status_code == 200:
                            break
                    time.sleep(0.1)
                login = client.post(
                    "/api/v1/auth/login", json={"username": "bench-admin", "password": PASSWORD}
                )
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                first = rows(args.rows)
                moved = rows(args.rows, class_offset=20)
                runs = [
                    ("CSV, all new", as_csv(first), "r.csv"),
                    ("CSV again, all unchanged", as_csv(first), "r.csv"),
                    ("XLSX, all moved class", as_xlsx(moved), "r.xlsx"),
                ]
                engine = "PostgreSQL" if args.postgres else "SQLite"
                print(f"roster import, {args.rows} rows, {engine}")
                for label, content, name in runs:
                    started = time.perf_counter()
                    response = client.post(
                        "/api/v1/roster/import", files={"file": (name, content)}, headers=headers
                    )
                    elapsed = time.perf_counter() - started
                    response.raise_for_status()
                    print(f"  {label:28s} {elapsed:6.2f} s  {response.json()}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
