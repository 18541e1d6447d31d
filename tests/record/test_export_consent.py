"""Exports to the 综评 platform keep the guardian's ``record_export`` consent (issue 20 point 1):
the records of pupils under 14 without it are left out of every format, direct and as a job,
the count is in the answer, the job and the audit entries, pupils with consent and pupils of
14 and over are exported, a pupil's own copy is not filtered, and the school lists the pupils
who block an export."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import literal, select
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from scipass.audit.models import AuditLog
from scipass.consent import service as consent_service
from scipass.consent.models import ConsentRecord, Purpose
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.jobs import queue
from scipass.jobs import worker as job_worker
from scipass.jobs.storage import store_for
from scipass.main import job_kinds
from scipass.roster.models import Student
from scipass.roster.visibility import mask_name
from tests.factories import (
    NOW,
    Side,
    auth,
    consent_on_paper,
    create_record,
    create_student,
    grant_consent,
)

API = "/api/v1"
TODAY = date(2026, 10, 14)  # NOW in Beijing


@dataclass
class Class:
    young: Student  # 10, no decision: withheld
    refused: Student  # 10, the guardian refused: withheld
    turning: Student  # born 2012-10: 14 this month, still asked until November: withheld
    consented: Student  # 10, a paper consent: exported
    older: Student  # born 2012-09: 14 since October, needs none: exported
    other_school: Student  # side B, 10, no decision


def _pupil(session: Session, side: Side, name: str, **overrides: Any) -> Student:
    return create_student(
        session, school_id=side.school.id or 0, name=name, class_name="3班", **overrides
    )


@pytest.fixture
def pupils(session: Session, side_a: Side, side_b: Side) -> Class:
    young = _pupil(session, side_a, "赵小一")
    refused = _pupil(session, side_a, "钱小二")
    turning = _pupil(session, side_a, "孙小三", birth_month=date(2012, 10, 1))
    consented = _pupil(session, side_a, "李小四")
    older = _pupil(session, side_a, "周小五", birth_month=date(2012, 9, 1))
    other = _pupil(session, side_b, "吴小六")
    consent_on_paper(session, student=consented)
    consent_on_paper(session, student=refused)
    session.add(
        ConsentRecord(
            student_id=refused.id or 0,
            purpose="record_export",
            decision="refuse",
            notice_version=consent_service.NOTICE_VERSION,
            channel="paper",
            guardian_name="钱妈妈",
            recorded_by="account:1",
            recorded_at=NOW + timedelta(minutes=1),
        )
    )
    for pupil, n in ((young, 2), (refused, 1), (turning, 1), (consented, 2), (older, 1)):
        for i in range(n):
            create_record(session, student=pupil, title=f"{pupil.name}的活动{i}")
    create_record(session, student=other, title="别校的活动")
    session.commit()
    return Class(young, refused, turning, consented, older, other)


EXPORTED_NAMES = ["李小四", "李小四", "周小五"]


def _names(response: Any, fmt: str) -> list[str]:
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    else:
        sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
        assert sheet is not None
        rows = [[str(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0][1] == "姓名"
    return sorted(row[1] for row in rows[1:])


def _entries(session: Session, action: str) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.exec(
        sql_select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
    ).all()
    return [json.loads(row.detail) for row in rows]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_direct_export_leaves_out_pupils_under_14_without_consent_and_counts_them(
    client: TestClient, settings: Settings, session: Session, side_a: Side, pupils: Class, fmt: str
) -> None:
    teacher = side_a.principal(Role.school_staff)
    response = client.get(
        f"{API}/record-exports",
        params={"format": fmt, "class_name": "3班"},
        headers=auth(settings, teacher),
    )
    assert response.status_code == 200, response.text
    assert _names(response, fmt) == sorted(EXPORTED_NAMES)
    assert response.headers["x-row-count"] == "3"
    assert response.headers["x-withheld-count"] == "4"  # young 2, refused 1, turning 1
    assert response.headers["x-withheld-students"] == "3"
    (exported,) = _entries(session, "records_exported")
    assert (exported["row_count"], exported["withheld_rows"], exported["withheld_students"]) == (
        3,
        4,
        3,
    )
    (finished,) = _entries(session, "records_export_finished")
    assert (finished["outcome"], finished["withheld_rows"]) == ("done", 4)


@pytest.fixture
def quiet(settings: Settings, tmp_path: Path) -> Settings:
    settings.job_progress_seconds = 3600
    settings.job_lease_seconds = 3600
    settings.job_results_dir = tmp_path / "results"
    return settings


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_job_leaves_out_the_same_pupils_and_says_how_many(
    app: FastAPI,
    client: TestClient,
    quiet: Settings,
    session: Session,
    side_a: Side,
    clock: FrozenClock,
    pupils: Class,
    fmt: str,
) -> None:
    admin = side_a.principal(Role.school_admin)
    queued = client.post(f"{API}/record-exports", json={"format": fmt}, headers=auth(quiet, admin))
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    database = app.state.db
    claimed = queue.claim(database, worker="w1", now=clock.now(), lease=timedelta(minutes=1))
    assert claimed is not None
    assert claimed.id == job_id
    job_worker.execute(
        database, clock, quiet, job_kinds(), claimed, worker="w1", store=store_for(quiet)
    )
    done = client.get(f"{API}/jobs/{job_id}", headers=auth(quiet, admin)).json()
    assert done["status"] == "done"
    # side A's own default pupil (10, no consent, no record) adds nothing
    assert (done["row_count"], done["withheld_count"]) == (3, 4)
    assert (done["progress_done"], done["progress_total"]) == (3, 3)
    result = client.get(done["download_url"], headers=auth(quiet, admin))
    assert result.status_code == 200
    assert _names(result, fmt) == sorted(EXPORTED_NAMES)
    assert (result.headers["x-row-count"], result.headers["x-withheld-count"]) == ("3", "4")
    exported = [e for e in _entries(session, "records_exported") if e.get("job_id") == job_id]
    assert [(e["row_count"], e["withheld_rows"], e["withheld_students"]) for e in exported] == [
        (3, 4, 3)
    ]


def test_a_bureau_export_leaves_them_out_too_and_a_grant_brings_them_back(
    client: TestClient, settings: Settings, session: Session, side_a: Side, pupils: Class
) -> None:
    bureau = side_a.principal(Role.bureau)
    first = client.get(
        f"{API}/record-exports", params={"format": "csv"}, headers=auth(settings, bureau)
    )
    assert first.status_code == 200
    assert (first.headers["x-row-count"], first.headers["x-withheld-count"]) == ("3", "4")
    consent_on_paper(session, student=pupils.young)  # the teacher asked; the guardian signed
    session.commit()
    second = client.get(
        f"{API}/record-exports", params={"format": "csv"}, headers=auth(settings, bureau)
    )
    assert (second.headers["x-row-count"], second.headers["x-withheld-count"]) == ("5", "2")
    assert _names(second, "csv").count(mask_name("赵小一")) == 2


def test_a_pupils_own_export_is_the_familys_copy_and_is_not_filtered(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    pupil = side_a.student  # 10, no record_export decision
    create_record(session, student=pupil, title="我的活动")
    session.commit()
    response = client.get(
        f"{API}/record-exports",
        params={"format": "csv"},
        headers=auth(settings, side_a.principal(Role.student)),
    )
    assert response.status_code == 200
    assert _names(response, "csv") == [pupil.name]
    assert "x-withheld-count" not in response.headers
    (entry,) = _entries(session, "records_exported")
    assert "withheld_rows" not in entry


def test_withheld_rows_do_not_count_against_the_direct_limit(
    client: TestClient, settings: Settings, side_a: Side, pupils: Class
) -> None:
    settings.export_sync_row_limit = 3  # 7 records in scope, 3 of them exported
    teacher = side_a.principal(Role.school_staff)
    response = client.get(
        f"{API}/record-exports", params={"format": "csv"}, headers=auth(settings, teacher)
    )
    assert response.status_code == 200, response.text
    settings.export_sync_row_limit = 2
    refused = client.get(
        f"{API}/record-exports", params={"format": "csv"}, headers=auth(settings, teacher)
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "export_too_large")


# --- the school's list of pupils who block an export ----------------------------------------


def _withheld(client: TestClient, settings: Settings, who: Principal, **params: Any) -> Any:
    return client.get(f"{API}/record-exports/withheld", params=params, headers=auth(settings, who))


def test_the_school_lists_the_pupils_who_block_an_export(
    client: TestClient, settings: Settings, side_a: Side, pupils: Class
) -> None:
    response = _withheld(client, settings, side_a.principal(Role.school_staff))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 3
    by_id = {item["student_id"]: item for item in body["items"]}
    assert set(by_id) == {pupils.young.id, pupils.refused.id, pupils.turning.id}
    young = by_id[pupils.young.id]
    assert (young["name"], young["student_no"], young["withheld_records"]) == (
        "赵小一",
        pupils.young.student_no,
        2,
    )
    assert (young["grade"], young["class_name"]) == (4, "3班")
    assert young["decision"] is None
    assert by_id[pupils.refused.id]["decision"] == "refuse"
    assert by_id[pupils.turning.id]["withheld_records"] == 1
    # ordered by school, grade, class, 学号
    assert [i["student_no"] for i in body["items"]] == sorted(
        i["student_no"] for i in body["items"]
    )
    # the same filters as the export
    narrowed = _withheld(
        client, settings, side_a.principal(Role.school_staff), student_id=pupils.young.id
    )
    assert [i["student_id"] for i in narrowed.json()["items"]] == [pupils.young.id]
    paged = _withheld(client, settings, side_a.principal(Role.school_staff), limit=2, offset=2)
    assert (paged.json()["total"], len(paged.json()["items"])) == (3, 1)


def test_a_bureau_sees_its_regions_blocked_pupils_masked_and_nobody_elses(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, pupils: Class
) -> None:
    body = _withheld(client, settings, side_a.principal(Role.bureau)).json()
    assert {i["name"] for i in body["items"]} == {
        mask_name(n) for n in ("赵小一", "钱小二", "孙小三")
    }
    # no 学号 and no guardian's decision: the school asks the guardians, not the bureau
    assert {(i["student_no"], i["decision"]) for i in body["items"]} == {(None, None)}
    other = _withheld(client, settings, side_b.principal(Role.bureau)).json()
    assert [i["student_id"] for i in other["items"]] == [pupils.other_school.id]
    foreign = _withheld(
        client, settings, side_a.principal(Role.school_staff), school_id=side_b.school.id
    )
    assert (foreign.status_code, foreign.json()["code"]) == (404, "organisation_not_found")


def test_a_guardians_grant_in_the_mini_program_takes_the_pupil_off_the_list(
    client: TestClient, settings: Settings, session: Session, side_a: Side, pupils: Class
) -> None:
    create_record(session, student=side_a.student, title="有监护人的孩子")
    session.commit()
    teacher = side_a.principal(Role.school_staff)
    listed = {i["student_id"] for i in _withheld(client, settings, teacher).json()["items"]}
    assert side_a.student.id in listed
    grant_consent(
        session, student=side_a.student, link=side_a.guardian_link, purposes=["record_export"]
    )
    session.commit()
    listed = {i["student_id"] for i in _withheld(client, settings, teacher).json()["items"]}
    assert side_a.student.id not in listed


# --- the rule itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "today", [date(2026, 10, 1), date(2026, 10, 31), date(2026, 12, 31), date(2027, 1, 1)]
)
def test_the_sql_age_rule_is_the_python_one(session: Session, today: date) -> None:
    """needs_consent_clause (what the exporter filters by) answers as needs_consent does
    (what check-in asks), for every birth month around the 14th and 18th birthdays."""
    for purpose in (Purpose.record_export, Purpose.volunteering):
        for months_back in range(12 * 12, 12 * 20):
            year, month = divmod(today.year * 12 + today.month - 1 - months_back, 12)
            born = date(year, month + 1, 1)
            clause = consent_service.needs_consent_clause(literal(born), purpose, today)
            in_sql = bool(session.execute(select(clause)).scalar_one())
            assert in_sql == consent_service.needs_consent(born, purpose, today), (born, purpose)


def test_the_notice_says_what_refusing_exports_does_and_earlier_grants_still_count(
    client: TestClient, session: Session, side_a: Side
) -> None:
    notice = client.get(f"{API}/consent-notice").json()
    assert notice["version"] == consent_service.NOTICE_VERSION
    assert "不含孩子的记录" in notice["text"]
    session.add(
        ConsentRecord(
            student_id=side_a.student.id or 0,
            purpose="record_export",
            decision="grant",
            notice_version="2026-12",  # the wording before this rule was written in
            channel="paper",
            guardian_name="王妈妈",
            recorded_by="account:1",
            recorded_at=NOW,
        )
    )
    session.flush()
    assert consent_service.has_consent(
        session, student=side_a.student, purpose=Purpose.record_export, today=TODAY
    )
