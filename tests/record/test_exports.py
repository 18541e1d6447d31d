"""Exports of participation records: CSV and XLSX read back cell by cell against the database,
the student's PDF file read back as text, scope per role, filters, masking and the audit log."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.core import pdf_fonts
from scipass.core.auth import Principal, Role
from scipass.core.clock import SHANGHAI
from scipass.core.config import Settings
from scipass.core.db import Database, make_engine
from scipass.core.exports import csv_chunks
from scipass.org.models import School
from scipass.record import chain, labels
from scipass.record import exports as record_exports
from scipass.record.exports import HEADER
from scipass.record.models import ParticipationRecord, RecordEvidence
from scipass.roster.models import Student
from tests.factories import NOW, Side, auth, consent_on_paper, create_record, create_student

API = "/api/v1"
BOM = b"\xef\xbb\xbf"
FORMULA_TITLE = '=HYPERLINK("http://evil.example","科技节")'
AUTUMN_DAY = datetime(2026, 10, 10, 1, 0, tzinfo=UTC)  # 2026-10-10 09:00 in Beijing
SPRING_DAY = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)  # 2025-2026 school year, spring


@dataclass
class Data:
    a1: Student  # side A's student, grade 4, class 1
    a2: Student  # grade 5, class 2
    a3: Student  # grade 4, class 2
    b1: Student  # side B's student
    records: dict[str, ParticipationRecord]


def _evidence(session: Session, record: ParticipationRecord, n: int) -> None:
    for i in range(n):
        session.add(
            RecordEvidence(
                record_id=record.id or 0,
                sha256=f"{record.id:032d}{i:032d}",
                media_type="image/jpeg",
                size=1000,
                filename=f"证书{i}.jpg",
                uploaded_by="wechat:1",
                uploaded_at=NOW,
            )
        )
    session.flush()


@pytest.fixture
def data(session: Session, side_a: Side, side_b: Side) -> Data:
    school_id = side_a.school.id or 0
    a1 = side_a.student
    a2 = create_student(session, school_id=school_id, name="李四", grade=5, class_name="2班")
    a3 = create_student(session, school_id=school_id, name="王五", grade=4, class_name="2班")
    records = {
        "award": create_record(
            session,
            student=a1,
            title=FORMULA_TITLE,
            category="competition",
            dimension="academic",
            role="contestant",
            outcome="一等奖",
            organiser_name="星城市科学技术协会",
            attester_name="刘老师",
            attester_unit="星城市科协",
            attester_phone="13812348000",
            minutes=95,
            status="confirmed",
            started_at=AUTUMN_DAY,
        ),
        "visit": create_record(
            session,
            student=a1,
            title="走进科技馆",
            started_at=datetime(2026, 10, 12, 1, 0, tzinfo=UTC),
            attester_name="陈馆员",
            attester_phone="0731-5555000",
            status="reviewed",
            minutes=120,
        ),
        "spring": create_record(
            session,
            student=a2,
            title="春季科学营",
            started_at=SPRING_DAY,
            dimension="social_practice",
            status="archived",
            minutes=240,
        ),
        "rejected": create_record(session, student=a3, title="未通过的活动", status="rejected"),
        "other_school": create_record(session, student=side_b.student, title="别校的活动"),
    }
    _evidence(session, records["award"], 2)
    _evidence(session, records["spring"], 1)
    for student in (a1, a2, a3, side_b.student):  # all under 14: exported with consent
        consent_on_paper(session, student=student)
    return Data(a1=a1, a2=a2, a3=a3, b1=side_b.student, records=records)


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _expected(session: Session, records: list[ParticipationRecord]) -> list[list[object]]:
    """The export rows as computed here from the database, independently of the exporter."""
    rows = []
    for record in records:
        student = session.get(Student, record.student_id)
        assert student is not None
        evidence = session.exec(
            select(RecordEvidence).where(RecordEvidence.record_id == record.id)
        ).all()
        rows.append(
            [
                student.student_no,
                student.name,
                labels.grade(student.grade),
                student.class_name,
                record.title,
                labels.label(labels.CATEGORY, record.category),
                labels.label(labels.DIMENSION, record.dimension),
                record.organiser_name,
                _local(record.started_at),
                _local(record.ended_at),
                record.minutes,
                labels.label(labels.ROLE, record.role),
                record.outcome,
                labels.label(labels.STATUS, record.status),
                len(evidence),
                record.attester_name
                + (f"（{record.attester_unit}）" if record.attester_unit else ""),
                labels.mask_phone(record.attester_phone) if record.attester_phone else "",
                session.get(School, record.school_id).name,  # type: ignore[union-attr]
                labels.marks(record.student_confirmed_as, record.reflection_by),
            ]
        )
    return rows


def _as_csv_cells(rows: list[list[object]]) -> list[list[str]]:
    """What the CSV holds for ``rows``: text, and a formula-like cell behind an apostrophe."""
    out = []
    for row in rows:
        cells = []
        for value in row:
            text = str(value)
            cells.append("'" + text if text.startswith(("=", "+", "-", "@")) else text)
        out.append(cells)
    return out


def _export(client: TestClient, settings: Settings, who: Principal, **params: Any) -> Any:
    return client.get(f"{API}/record-exports", params=params, headers=auth(settings, who))


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(BOM)
    rows = list(csv.reader(io.StringIO(response.content[len(BOM) :].decode("utf-8"))))
    assert rows[0] == list(HEADER)
    return rows[1:]


def _titles(response: Any) -> list[str]:
    """The activity names of a CSV export, as stored (without the formula guard)."""
    return [row[4].removeprefix("'") for row in _csv(response)]


# --- CSV and XLSX read back ----------------------------------------------------------------


def test_csv_holds_every_column_of_every_record_in_order(
    client: TestClient, settings: Settings, session: Session, side_a: Side, data: Data
) -> None:
    response = _export(client, settings, side_a.principal(Role.school_admin), format="csv")
    rows = _csv(response)
    r = data.records
    # school, grade, class, student number, start: a1 (4, 1班), a3 (4, 2班), a2 (5, 2班)
    expected = _expected(session, [r["award"], r["visit"], r["rejected"], r["spring"]])
    assert rows == _as_csv_cells(expected)
    assert response.headers["x-row-count"] == "4"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''" in disposition
    assert "%E5%86%99%E5%AE%9E%E8%AE%B0%E5%BD%95" in disposition  # 写实记录

    award = rows[0]
    assert award[:4] == [data.a1.student_no, data.a1.name, "四年级", "1班"]
    assert award[4] == "'" + FORMULA_TITLE  # never evaluated as a formula
    assert award[5:8] == ["科技竞赛", "学业水平", "星城市科学技术协会"]
    assert award[8:11] == ["2026-10-10 09:00", "2026-10-10 11:00", "95"]
    assert award[11:] == [
        "参赛选手",
        "一等奖",
        "组织方已确认",
        "2",
        "刘老师（星城市科协）",
        "138****8000",
        side_a.school.name,
        "",  # confirmed by nobody for the pupil: no marks
    ]
    assert "13812348000" not in response.content.decode("utf-8")
    assert rows[1][15:17] == ["陈馆员", "0731****5000"]


def test_xlsx_holds_the_same_rows_with_numbers_as_numbers(
    client: TestClient, settings: Settings, session: Session, side_a: Side, data: Data
) -> None:
    response = _export(client, settings, side_a.principal(Role.school_staff), format="xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    sheet = workbook["写实记录"]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == list(HEADER)
    r = data.records
    expected = _expected(session, [r["award"], r["visit"], r["rejected"], r["spring"]])
    for row in expected:
        row[4] = "'" + str(row[4]) if str(row[4]).startswith("=") else row[4]
        # openpyxl reads an empty cell back as None
        for i, value in enumerate(row):
            if value == "":
                row[i] = None
    assert values[1:] == expected
    assert values[1][10] == 95
    assert values[1][14] == 2
    assert values[1][16] == "138****8000"


def test_accept_language_does_not_change_the_file(
    client: TestClient, settings: Settings, side_a: Side, data: Data
) -> None:
    who = side_a.principal(Role.school_admin)
    chinese = _export(client, settings, who, format="csv")
    english = client.get(
        f"{API}/record-exports",
        params={"format": "csv"},
        headers={**auth(settings, who), "Accept-Language": "en"},
    )
    assert english.content == chinese.content
    assert _csv(english)[0][5] == "科技竞赛"


def test_an_empty_export_still_has_its_header(
    client: TestClient, settings: Settings, side_a: Side, data: Data
) -> None:
    response = _export(
        client, settings, side_a.principal(Role.school_admin), format="csv", school_year=2001
    )
    assert _csv(response) == []
    xlsx = _export(
        client, settings, side_a.principal(Role.school_admin), format="xlsx", school_year=2001
    )
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [list(HEADER)]


def _export_audits(session: Session, action: str) -> list[dict[str, Any]]:
    entries = session.exec(
        select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
    ).all()
    return [json.loads(entry.detail) for entry in entries]


def test_a_control_character_stored_before_the_text_rule_exports_as_valid_xlsx(
    client: TestClient, settings: Settings, session: Session, side_a: Side, data: Data
) -> None:
    """An activity titled with a control character by another organisation, inserted
    directly as rows from before the rule may be: the school's export stays a valid file,
    the character dropped, and the export is logged as done."""
    create_record(
        session,
        student=data.a1,
        title="科技\u0001馆\u0015之夜",
        organiser_name="星城\u0085科技馆",
        started_at=datetime(2026, 10, 13, 1, 0, tzinfo=UTC),
    )
    response = _export(client, settings, side_a.principal(Role.school_staff), format="xlsx")
    assert response.status_code == 200
    assert int(response.headers["x-row-count"]) == 5
    values = [
        list(row)
        for row in load_workbook(io.BytesIO(response.content))
        .worksheets[0]
        .iter_rows(values_only=True)
    ]
    assert len(values) == 6
    titles = {row[4]: row[7] for row in values[1:]}
    assert titles["科技馆之夜"] == "星城科技馆"
    text = _csv(_export(client, settings, side_a.principal(Role.school_staff), format="csv"))
    assert "科技馆之夜" in {row[4] for row in text}
    finished = _export_audits(session, "records_export_finished")
    assert [(f["outcome"], f["rows_sent"], f["format"]) for f in finished] == [
        ("done", 5, "xlsx"),
        ("done", 5, "csv"),
    ]


def test_a_direct_export_that_breaks_while_reading_sends_no_file_and_logs_the_failure(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    data: Data,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rows after the second fail to read (as when the database goes away mid-way): a
    direct export makes the whole file before it sends a byte, so the client gets a problem,
    not a broken file; no entry claims an export, and the failure is logged as a job's is
    (tests/jobs), with no row sent."""
    made = record_exports.export_row
    calls = {"n": 0}

    def failing(row: Any, viewer: Principal) -> list[object]:
        calls["n"] += 1
        if calls["n"] > 2:
            raise ConnectionError("the database went away")
        return made(row, viewer)

    monkeypatch.setattr(record_exports, "export_row", failing)
    response = _export(client, settings, side_a.principal(Role.school_staff), format="csv")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "x-row-count" not in response.headers
    assert _export_audits(session, "records_exported") == []
    finished = _export_audits(session, "records_export_finished")
    assert [(f["outcome"], f["rows_sent"], f["error"]) for f in finished] == [
        ("failed", 0, "ConnectionError")
    ]


def test_csv_comes_in_chunks_of_rows() -> None:
    chunks = list(csv_chunks(["a"], ([i] for i in range(1200)), rows_per_chunk=500))
    assert len(chunks) == 3
    assert chunks[0].startswith(BOM)
    assert b"".join(chunks).decode("utf-8-sig").split("\r\n")[:3] == ["a", "0", "1"]


# --- filters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"school_year": 2026}, ["award", "visit", "rejected"]),
        ({"school_year": 2025}, ["spring"]),
        ({"semester": "spring"}, ["spring"]),
        ({"semester": "autumn", "school_year": 2026}, ["award", "visit", "rejected"]),
        ({"status": "rejected"}, ["rejected"]),
        ({"status": "archived"}, ["spring"]),
        ({"grade": 4}, ["award", "visit", "rejected"]),
        ({"grade": 4, "class_name": "2班"}, ["rejected"]),
        ({"class_name": "2班"}, ["rejected", "spring"]),
        ({"student_id": "a2"}, ["spring"]),
    ],
)
def test_filters_narrow_the_export(
    client: TestClient,
    settings: Settings,
    side_a: Side,
    data: Data,
    params: dict[str, Any],
    expected: list[str],
) -> None:
    if params.get("student_id") == "a2":
        params = {**params, "student_id": data.a2.id}
    response = _export(
        client, settings, side_a.principal(Role.school_admin), format="csv", **params
    )
    assert _titles(response) == [data.records[key].title for key in expected]
    assert response.headers["x-row-count"] == str(len(expected))


def test_bad_filter_values_are_validation_errors(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    who = side_a.principal(Role.school_admin)
    for params in ({"semester": "summer"}, {"status": "lost"}, {"format": "pdf"}, {"grade": 13}):
        response = _export(client, settings, who, **params)
        assert response.status_code == 422, params
        assert response.json()["code"] == "validation_failed"


# --- scope -----------------------------------------------------------------------------------


def test_a_school_exports_only_its_own_records(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, data: Data
) -> None:
    who = side_a.principal(Role.school_admin)
    titles = _titles(_export(client, settings, who, format="csv"))
    assert data.records["other_school"].title not in titles
    other = _export(client, settings, who, format="csv", school_id=side_b.school.id)
    assert other.status_code == 404
    assert other.json()["code"] == "organisation_not_found"
    # a student of another school, or another region, gives nothing
    assert _titles(_export(client, settings, who, format="csv", student_id=data.b1.id)) == []
    assert _titles(_export(client, settings, who, format="csv", region_code="960101")) == []
    own = _export(client, settings, who, format="csv", school_id=side_a.school.id)
    assert len(_titles(own)) == 4


def test_a_bureau_exports_inside_its_region_only(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, data: Data
) -> None:
    who = side_a.principal(Role.bureau)  # region 970100
    assert len(_titles(_export(client, settings, who, format="csv"))) == 4
    county = _export(client, settings, who, format="csv", region_code="970101")
    assert len(_titles(county)) == 4
    school = _export(client, settings, who, format="csv", school_id=side_a.school.id)
    assert len(_titles(school)) == 4

    outside = _export(client, settings, who, format="csv", region_code="960100")
    assert outside.status_code == 403
    assert outside.json()["code"] == "outside_region"
    province = _export(client, settings, who, format="csv", region_code="970000")
    assert province.status_code == 403
    other_school = _export(client, settings, who, format="csv", school_id=side_b.school.id)
    assert other_school.status_code == 404
    assert other_school.json()["code"] == "organisation_not_found"
    assert _titles(_export(client, settings, who, format="csv", student_id=data.b1.id)) == []

    theirs = _titles(_export(client, settings, side_b.principal(Role.bureau), format="csv"))
    assert theirs == [data.records["other_school"].title]


def test_the_platform_admin_exports_everything(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, data: Data
) -> None:
    who = side_a.principal(Role.platform_admin)
    titles = _titles(_export(client, settings, who, format="csv"))
    assert set(titles) >= {record.title for record in data.records.values()}
    only_b = _export(client, settings, who, format="csv", school_id=side_b.school.id)
    assert _titles(only_b) == [data.records["other_school"].title]
    missing = _export(client, settings, who, format="csv", school_id=999_999)
    assert missing.status_code == 404


def test_a_student_exports_only_their_own_records(
    client: TestClient, settings: Settings, side_a: Side, data: Data
) -> None:
    who = side_a.principal(Role.student)
    titles = _titles(_export(client, settings, who, format="csv"))
    assert titles == [FORMULA_TITLE, data.records["visit"].title]
    # asking for a classmate still gives only their own rows
    other = _titles(_export(client, settings, who, format="csv", student_id=data.a2.id))
    assert other == titles
    response = _export(client, settings, who, format="csv")
    assert "%E5%BC%A0%E5%B0%8F%E6%98%8E" in response.headers["content-disposition"]  # 张小明


@pytest.mark.parametrize("role", [Role.guardian, Role.venue_staff, Role.venue_admin])
def test_guardians_and_venues_may_not_export(
    client: TestClient, settings: Settings, side_a: Side, data: Data, role: Role
) -> None:
    who = side_a.principal(role)
    response = _export(client, settings, who, format="csv")
    assert response.status_code == 403
    assert response.json()["code"] == "role_forbidden"
    pdf = client.get(f"{API}/students/{data.a1.id}/record-file", headers=auth(settings, who))
    assert pdf.status_code == 403
    mine = client.get(f"{API}/me/record-file", headers=auth(settings, who))
    if role is Role.guardian:  # the child's own file, for a named child only (family mode)
        assert mine.status_code == 422
        assert mine.json()["code"] == "student_id_required"
    else:
        assert mine.status_code == 403


def test_an_anonymous_caller_is_asked_to_log_in(client: TestClient) -> None:
    response = client.get(f"{API}/record-exports")
    assert response.status_code == 401


# --- audit -----------------------------------------------------------------------------------


def _audits(session: Session) -> list[AuditLog]:
    session.expire_all()
    return list(
        session.exec(
            select(AuditLog).where(AuditLog.action == "records_exported").order_by(col(AuditLog.id))
        ).all()
    )


def test_every_export_is_audited_with_filter_and_row_count(
    client: TestClient, settings: Settings, session: Session, side_a: Side, data: Data
) -> None:
    who = side_a.principal(Role.school_staff)
    response = _export(client, settings, who, format="xlsx", grade=4, status="confirmed")
    assert response.status_code == 200
    (entry,) = _audits(session)
    assert entry.actor == who.subject
    assert entry.actor_role == "school_staff"
    assert entry.object_type == "participation_record"
    assert entry.school_id == side_a.school.id
    assert entry.region_code == side_a.school.region_code
    assert json.loads(entry.detail) == {
        "format": "xlsx",
        "filter": {"school_id": side_a.school.id, "grade": 4, "status": "confirmed"},
        "row_count": 1,
        "withheld_rows": 0,  # every pupil here has the guardian's record_export consent
        "withheld_students": 0,
    }

    bureau = side_a.principal(Role.bureau)
    assert _export(client, settings, bureau, format="csv").status_code == 200
    entry = _audits(session)[-1]
    assert entry.school_id is None
    assert entry.region_code == side_a.region_code
    assert json.loads(entry.detail)["row_count"] == 4

    refused = _export(client, settings, bureau, format="csv", region_code="960100")
    assert refused.status_code == 403
    assert len(_audits(session)) == 2


# --- the student's file (PDF) ----------------------------------------------------------------


def _archive(session: Session, records: list[ParticipationRecord]) -> str:
    """Archive ``records`` in order as a chain; return its head hash."""
    previous = chain.GENESIS
    for seq, record in enumerate(records, start=1):
        record.status = "archived"
        record.archived_at = NOW
        record.archive_seq = seq
        record.prev_hash = previous
        evidence = chain.evidence_hashes(session, [record.id or 0]).get(record.id or 0, [])
        record.content_hash = chain.content_hash(record, evidence, previous)
        previous = record.content_hash
        session.add(record)
    session.flush()
    return previous


def _pdf_text(response: Any) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    return "".join(page.extract_text() for page in reader.pages)


def _squeezed(text: str) -> str:
    return "".join(text.split())


def test_the_record_file_lists_records_totals_and_the_chain_head(
    client: TestClient, settings: Settings, session: Session, side_a: Side, data: Data
) -> None:
    r = data.records
    head = _archive(session, [r["award"], r["visit"]])
    assert head != chain.GENESIS
    assert chain.verify(session, data.a1.id or 0).valid
    assert chain.head(session, data.a1.id or 0) == (2, head)
    extra = create_record(
        session,
        student=data.a1,
        title="机器人社团",
        minutes=45,
        status="pending",
        dimension="moral",
        started_at=datetime(2026, 11, 2, 8, 0, tzinfo=UTC),
    )
    create_record(session, student=data.a1, title="已撤回的活动", status="withdrawn")

    response = client.get(
        f"{API}/students/{data.a1.id}/record-file",
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    text = _pdf_text(response)
    flat = _squeezed(text)
    assert "科技实践档案" in flat
    assert data.a1.name in flat
    assert side_a.school.name in flat
    assert "四年级1班" in flat
    for record in (r["award"], r["visit"], extra):
        assert _squeezed(record.title) in flat
    assert "已撤回的活动" not in flat  # withdrawn records do not count
    assert "记录数：3条" in flat
    assert f"总时长：{95 + 120 + 45}分钟" in flat
    assert "学业水平95分钟" in flat
    assert "社会实践120分钟" in flat
    assert "思想品德45分钟" in flat
    assert "归档链长度：2" in flat
    assert "归档链头哈希" in flat
    assert head in flat
    assert "生成时间：2026-10-1410:00" in flat
    assert "全部学年" in flat
    disposition = response.headers["content-disposition"]
    assert "%E7%A7%91%E6%8A%80%E5%AE%9E%E8%B7%B5%E6%A1%A3%E6%A1%88" in disposition  # 科技实践档案

    (entry,) = _audits(session)
    assert json.loads(entry.detail) == {
        "format": "pdf",
        "filter": {"student_id": data.a1.id},
        "row_count": 3,
    }
    assert entry.object_id == f"student:{data.a1.id}"


def test_the_record_file_follows_its_filter(
    client: TestClient, settings: Settings, side_a: Side, data: Data
) -> None:
    who = auth(settings, side_a.principal(Role.school_admin))
    url = f"{API}/students/{data.a2.id}/record-file"
    spring = _squeezed(
        _pdf_text(client.get(url, params={"school_year": 2025, "semester": "spring"}, headers=who))
    )
    assert "春季科学营" in spring
    assert "2025-2026学年第二学期" in spring
    assert "记录数：1条" in spring
    assert "归档链长度：0" in spring
    assert chain.GENESIS in spring
    autumn = _squeezed(_pdf_text(client.get(url, params={"semester": "autumn"}, headers=who)))
    assert "春季科学营" not in autumn
    assert "（无记录）" in autumn
    assert "记录数：0条" in autumn
    rejected = client.get(
        f"{API}/students/{data.a3.id}/record-file", params={"status": "rejected"}, headers=who
    )
    assert "未通过的活动" in _squeezed(_pdf_text(rejected))


def test_a_student_gets_their_own_file(
    client: TestClient, settings: Settings, side_a: Side, data: Data
) -> None:
    who = auth(settings, side_a.principal(Role.student))
    flat = _squeezed(_pdf_text(client.get(f"{API}/me/record-file", headers=who)))
    assert "走进科技馆" in flat
    assert "春季科学营" not in flat
    staff_route = client.get(f"{API}/students/{data.a1.id}/record-file", headers=who)
    assert staff_route.status_code == 403


def test_a_file_outside_the_callers_scope_is_not_found(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, data: Data
) -> None:
    for who in (side_b.principal(Role.school_admin), side_b.principal(Role.bureau)):
        response = client.get(
            f"{API}/students/{data.a1.id}/record-file", headers=auth(settings, who)
        )
        assert response.status_code == 404
        assert response.json()["code"] == "student_not_found"
    missing = client.get(
        f"{API}/students/999999/record-file",
        headers=auth(settings, side_a.principal(Role.platform_admin)),
    )
    assert missing.status_code == 404
    bureau = client.get(
        f"{API}/students/{data.a1.id}/record-file",
        headers=auth(settings, side_a.principal(Role.bureau)),
    )
    assert bureau.status_code == 200


def test_without_a_truetype_font_the_file_is_made_with_the_built_in_font(
    client: TestClient,
    settings: Settings,
    side_a: Side,
    data: Data,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The system font paths hidden and the configured font missing: the file is still made
    (never a 503 for a font), in the built-in STSong-Light, which is referenced, not embedded."""
    monkeypatch.setattr(pdf_fonts, "SYSTEM_FONTS", ((tmp_path / "absent.ttc", 0),))
    settings.pdf_font_path = tmp_path / "missing.ttf"
    response = client.get(
        f"{API}/students/{data.a1.id}/record-file",
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert response.status_code == 200
    reader = PdfReader(io.BytesIO(response.content))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert "/STSong-Light" in {str(fonts[key].get_object()["/BaseFont"]) for key in fonts}
    assert "科技实践档案" in "".join(reader.pages[0].extract_text().split())


# --- the database under a streaming export ---------------------------------------------------


def test_a_streaming_export_does_not_hold_up_writers(database_url: str) -> None:
    """The export's own session reads without the SQLite write lock, so a check-in made while
    a large export streams does not wait for it (real connections, committed, cleaned up)."""
    db = Database(make_engine(database_url, busy_timeout_ms=200))
    reader = db.read_only_session()
    try:
        rows = reader.exec(
            select(AuditLog.id).execution_options(yield_per=10)  # an open cursor, mid-read
        )
        rows.fetchmany(1)
        started = time.perf_counter()
        with db.transaction() as writer:
            probe = AuditLog(at=NOW, action="export_probe", detail="{}")
            writer.add(probe)
            writer.flush()
            writer.delete(probe)
        assert time.perf_counter() - started < 2
        rows.close()
    finally:
        reader.close()
        db.engine.dispose()
