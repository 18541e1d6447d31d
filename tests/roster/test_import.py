"""Roster import: all or nothing, every bad row reported, CSV in UTF-8 or GB18030, and XLSX."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Role
from scipass.core.config import Settings
from scipass.roster.models import Student
from tests.factories import Side, auth

HEADER = "学号,姓名,性别,出生年月,年级,班级"
GOOD = [
    "2026001,王子涵,男,2016-03,四年级,1班",
    "2026002,李雨桐,女,2016/11,四年级,1",
    "2026003,欧阳·明轩,男,2015年7月,五年级,2班",
]


def _csv(*lines: str, encoding: str = "utf-8-sig") -> bytes:
    return ("\r\n".join((HEADER, *lines)) + "\r\n").encode(encoding)


def _upload(client: TestClient, settings: Settings, side: Side, content: bytes, name: str):
    return client.post(
        "/api/v1/roster/import",
        files={"file": (name, content, "application/octet-stream")},
        headers=auth(settings, side.principal(Role.school_admin)),
    )


def _students(session: Session, side: Side) -> dict[str, Student]:
    session.expire_all()
    rows = session.exec(select(Student).where(Student.school_id == side.school.id)).all()
    return {s.student_no: s for s in rows}


def test_good_csv_imports(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    response = _upload(client, settings, side_a, _csv(*GOOD), "名单.csv")
    assert response.status_code == 200, response.text
    assert response.json() == {"created": 3, "updated": 0, "unchanged": 0}
    students = _students(session, side_a)
    assert students["2026002"].class_name == "1班"  # "1" normalised
    assert students["2026002"].birth_month.isoformat() == "2016-11-01"
    assert students["2026003"].grade == 5
    assert students["2026003"].name == "欧阳·明轩"
    assert all(
        s.binding_code and s.guardian_code for no, s in students.items() if no.startswith("2026")
    )
    entry = session.exec(select(AuditLog).where(AuditLog.action == "roster_imported")).one()
    assert '"created": 3' in entry.detail


def test_one_bad_row_imports_nothing_and_every_bad_row_is_listed(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    before = set(_students(session, side_a))
    content = _csv(
        GOOD[0],
        "2026001,重复学号,男,2016-03,四年级,1班",  # line 3: duplicate
        "2026004,赵可馨,女,2016-13,四年级,1班",  # line 4: bad month
        "2026005,钱浩然,男,2016-03,十年级,1班",  # line 5: unknown grade
        "2026006,孙一诺,未知,2016-03,高一,",  # line 6: gender, stage, class
        GOOD[1],
    )
    response = _upload(client, settings, side_a, content, "名单.csv")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "roster_invalid"
    found = {(e["line"], e["column"]) for e in body["errors"]}
    assert found == {
        (3, "学号"),
        (4, "出生年月"),
        (5, "年级"),
        (6, "性别"),
        (6, "年级"),  # 高一 is not a stage of this primary+junior school
        (6, "班级"),
    }
    assert "第 2 行" in next(e["reason"] for e in body["errors"] if e["line"] == 3)
    assert set(_students(session, side_a)) == before  # nothing changed


def test_missing_column_is_reported(client: TestClient, settings: Settings, side_a: Side) -> None:
    content = "学号,姓名,性别,年级,班级\r\n1,王,男,四年级,1班\r\n".encode()
    body = _upload(client, settings, side_a, content, "x.csv").json()
    assert body["code"] == "roster_invalid"
    assert body["errors"] == [
        {"line": 1, "column": "出生年月", "reason": "缺少该列（请使用下载的模板）"}
    ]


def test_gb18030_csv_as_excel_saves_it(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    content = _csv(*GOOD, "2026009,龘䶮,女,2016-05,四年级,3班", encoding="gb18030")
    response = _upload(client, settings, side_a, content, "名单.csv")
    assert response.json() == {"created": 4, "updated": 0, "unchanged": 0}
    assert _students(session, side_a)["2026009"].name == "龘䶮"


def test_xlsx_imports_with_columns_in_any_order_and_excel_dates(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["班级", "学号", "姓名", "性别", "出生年月", "年级", "备注"])
    excel_date = datetime(2016, 4, 1)  # noqa: DTZ001 - Excel date cells carry no zone
    sheet.append(["2班", 2026101, "周思彤", "女", excel_date, "四年级", "科学兴趣小组"])
    sheet.append(["2班", "2026102", "吴皓轩", "男", "2013-09", "七年级", None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = _upload(client, settings, side_a, buffer.getvalue(), "名单.xlsx")
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    students = _students(session, side_a)
    assert students["2026101"].birth_month.isoformat() == "2016-04-01"
    assert (students["2026102"].stage, students["2026102"].grade) == ("junior", 7)


def test_reimport_upserts_by_student_number(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    _upload(client, settings, side_a, _csv(*GOOD), "a.csv").raise_for_status()
    codes = _students(session, side_a)["2026001"].binding_code
    changed = _csv(
        GOOD[0],
        "2026002,李雨桐,女,2016-11,五年级,3班",  # moved up a grade
        GOOD[2],
        "2026004,赵可馨,女,2016-02,四年级,1班",
    )
    response = _upload(client, settings, side_a, changed, "b.csv")
    assert response.json() == {"created": 1, "updated": 1, "unchanged": 2}
    students = _students(session, side_a)
    assert (students["2026002"].grade, students["2026002"].class_name) == (5, "3班")
    assert students["2026001"].binding_code == codes  # codes survive a re-import


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "空"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", ".xls"),
        (b"PK\x03\x04broken", "XLSX"),
    ],
)
def test_unreadable_files(
    client: TestClient, settings: Settings, side_a: Side, content: bytes, fragment: str
) -> None:
    response = _upload(client, settings, side_a, content, "x")
    assert response.status_code == 400
    assert response.json()["code"] == "roster_file_unreadable"
    assert fragment in response.json()["detail"]


def test_templates_download_and_reimport(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    headers = auth(settings, side_a.principal(Role.school_staff))
    csv_template = client.get("/api/v1/roster/template", params={"format": "csv"}, headers=headers)
    assert csv_template.content.startswith(b"\xef\xbb\xbf" + HEADER.encode())
    assert "attachment" in csv_template.headers["content-disposition"]
    xlsx = client.get("/api/v1/roster/template", headers=headers)
    sheet = load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert [c.value for c in next(sheet.iter_rows())] == HEADER.split(",")
    # The template with its example row is itself importable.
    response = _upload(client, settings, side_a, csv_template.content, "模板.csv")
    assert response.json()["created"] == 1


def test_staff_may_not_import(client: TestClient, settings: Settings, side_a: Side) -> None:
    response = client.post(
        "/api/v1/roster/import",
        files={"file": ("a.csv", _csv(*GOOD), "text/csv")},
        headers=auth(settings, side_a.principal(Role.school_staff)),
    )
    assert response.status_code == 403


def test_names_in_any_script_import(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    names = ["𠮷野家", "王〇", "ᠪᠠᠲᠤ", "阿依古丽·买买提", "Anna-Maria O'Neil"]
    rows = [f"20263{i:02d},{name},女,2016-05,四年级,1班" for i, name in enumerate(names)]
    response = _upload(client, settings, side_a, _csv(*rows), "名单.csv")
    assert response.status_code == 200, response.text
    stored = {s.name for s in _students(session, side_a).values()}
    assert set(names) <= stored
    digits = _upload(client, settings, side_a, _csv("2026399,王2,女,2016-05,四年级,1班"), "x.csv")
    assert {(e["line"], e["column"]) for e in digits.json()["errors"]} == {(2, "姓名")}


def test_bad_file_changes_no_existing_student_and_logs_nothing(
    client: TestClient, settings: Settings, side_a: Side, session: Session
) -> None:
    _upload(client, settings, side_a, _csv(*GOOD), "a.csv").raise_for_status()
    before = {no: (s.grade, s.class_name) for no, s in _students(session, side_a).items()}
    imports = len(session.exec(select(AuditLog)).all())
    content = _csv(
        "2026002,李雨桐,女,2016-11,五年级,3班",  # a valid update of an existing student
        "2026007,坏月份,女,2016-13,四年级,1班",
    )
    response = _upload(client, settings, side_a, content, "b.csv")
    assert response.status_code == 422
    after = {no: (s.grade, s.class_name) for no, s in _students(session, side_a).items()}
    assert after == before
    assert len(session.exec(select(AuditLog)).all()) == imports
