"""School staff's console pages over the API: records review one by one and in bulk, the roster
import with every bad row against its line, public notices and objections, exports and the
pupils they leave out; and a school officer kept to their own school by URL and by form."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scipass.core.auth import Role
from scipass.jobs.models import Job
from scipass.record.models import ParticipationRecord, RecordNotice, RecordObjection
from scipass.roster.models import Student
from tests.console.signing import create_staff, sign_in
from tests.factories import NOW, Side, create_record, create_student

JSON = {"Accept": "application/json"}
HEADER = "学号,姓名,性别,出生年月,年级,班级"


def _client(app: FastAPI, session: Session, side: Side, role: Role, tag: str) -> tuple[Any, str]:
    name = create_staff(session, username=f"{tag}-{role.value}", role=role, org_id=side.school.id)
    client = TestClient(app, raise_server_exceptions=False)
    return client, sign_in(client, name)


def _ready(session: Session, student: Student, **overrides: Any) -> ParticipationRecord:
    """A record the organiser and the pupil confirmed: waiting for the school's review."""
    values: dict[str, Any] = {
        "status": "confirmed",
        "confirmed_at": NOW,
        "student_confirmed_at": NOW,
        "student_confirmed_as": "student",
    }
    values.update(overrides)
    return create_record(session, student=student, **values)


def _status(session: Session, *records: ParticipationRecord) -> list[str]:
    session.expire_all()
    return [
        found.status
        for r in records
        if (found := session.get(ParticipationRecord, r.id)) is not None
    ]


def _from(page: str) -> dict[str, str]:
    """The headers of a form posted from ``page`` without JavaScript (the browser's referer)."""
    return {"Referer": "http://testserver" + page}


def _roster(*lines: str) -> bytes:
    return ("\r\n".join((HEADER, *lines)) + "\r\n").encode("utf-8-sig")


# --- records review ---------------------------------------------------------------------------


def test_the_review_list_pages_and_filters_on_the_server(
    app: FastAPI, session: Session, side_a: Side, side_b: Side
) -> None:
    visit = _ready(session, side_a.student, title="科技馆参观", category="science_visit")
    club = _ready(session, side_a.student, title="机器人社团", category="inquiry")
    done = create_record(session, student=side_a.student, title="已审核的记录", status="reviewed")
    _ready(session, side_b.student, title="另一所学校的记录")
    teacher, _csrf = _client(app, session, side_a, Role.school_staff, "a")

    waiting = teacher.get("/console/school/records")
    assert waiting.status_code == 200
    assert visit.title in waiting.text
    assert club.title in waiting.text
    assert done.title not in waiting.text  # by default: waiting for review
    assert "另一所学校的记录" not in waiting.text
    kind = teacher.get("/console/school/records", params={"category": "inquiry"})
    assert club.title in kind.text
    assert visit.title not in kind.text
    everything = teacher.get("/console/school/records", params={"status": "all", "limit": 1})
    assert "第 1 / 3 页，共 3 条" in everything.text
    assert "offset=1" in everything.text
    bad = teacher.get("/console/school/records", params={"category": "party"})
    assert bad.status_code == 422  # the API's validation, as the problem page


def test_a_bulk_review_changes_the_records_and_reports_each(
    app: FastAPI, session: Session, side_a: Side
) -> None:
    first = _ready(session, side_a.student)
    second = _ready(session, side_a.student)
    unconfirmed = _ready(session, side_a.student, student_confirmed_at=None)
    teacher, csrf = _client(app, session, side_a, Role.school_staff, "a")
    page = teacher.get("/console/school/records")
    assert 'action="/console/do/record-review-bulk"' in page.text
    assert page.text.count('name="record_ids"') == 3

    answer = teacher.post(
        "/console/do/record-review-bulk",
        data={
            "csrf_token": csrf,
            "record_ids": [str(first.id), str(second.id), str(unconfirmed.id)],
            "decision": "approve",
            "reason": "",
        },
        headers=JSON,
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert (result["succeeded"], result["failed"]) == (2, 1)
    failed = next(i for i in result["items"] if not i["ok"])
    assert failed == {
        "record_id": unconfirmed.id,
        "ok": False,
        "status": None,
        "code": "student_confirmation_required",
    }
    assert _status(session, first, second, unconfirmed) == ["reviewed", "reviewed", "confirmed"]

    # Returning in bulk needs a reason: the API's problem, and nothing changes.
    refused = teacher.post(
        "/console/do/record-review-bulk",
        data={
            "csrf_token": csrf,
            "_form": "bulk-review",
            "record_ids": [str(unconfirmed.id)],
            "decision": "reject",
        },
        headers=_from("/console/school/records"),
        follow_redirects=True,
    )
    assert "请填写原因" in refused.text
    assert _status(session, unconfirmed) == ["confirmed"]


def test_one_record_is_approved_or_returned_with_a_reason(
    app: FastAPI, session: Session, side_a: Side
) -> None:
    record = _ready(session, side_a.student, title="科学探究课")
    teacher, csrf = _client(app, session, side_a, Role.school_staff, "a")
    page = teacher.get(f"/console/school/records/{record.id}")
    assert page.status_code == 200
    assert "科学探究课" in page.text
    assert "流转记录" in page.text
    url = "/console/do/record-review"
    form = {
        "csrf_token": csrf,
        "_form": "reject",
        "path.record_id": str(record.id),
        "decision": "reject",
    }
    back = _from(f"/console/school/records/{record.id}")
    nothing = teacher.post(url, data=form, headers=back, follow_redirects=True)
    assert "请填写原因" in nothing.text
    assert _status(session, record) == ["confirmed"]
    returned = teacher.post(
        url, data={**form, "reason": "时长有误"}, headers=back, follow_redirects=True
    )
    assert returned.status_code == 200
    assert _status(session, record) == ["rejected"]
    assert "时长有误" in teacher.get(f"/console/school/records/{record.id}").text


# --- roster ------------------------------------------------------------------------------------


def test_a_roster_with_bad_rows_shows_each_rows_error_with_its_line(
    app: FastAPI, session: Session, side_a: Side
) -> None:
    admin, csrf = _client(app, session, side_a, Role.school_admin, "a")
    bad = _roster(
        "2026001,王子涵,男,2016-03,四年级,1班",
        "2026002,李雨桐,女,2016-13,四年级,1班",  # line 3: no 13th month
        "2026003,,男,2016-03,四年级,1班",  # line 4: no name
    )
    form = {"csrf_token": csrf, "_form": "roster-import"}
    files = {"file": ("名单.csv", bad, "text/csv")}
    # Without JavaScript: back to the roster page, the errors as a table of lines.
    page = admin.post(
        "/console/do/roster-import",
        data=form,
        files=files,
        headers=_from("/console/school/roster"),
        follow_redirects=True,
    )
    assert page.status_code == 200
    assert "名单有误，未导入任何数据" in page.text
    rows = re.findall(r"<tr><td>第 (\d+) 行</td><td>([^<]*)</td><td>([^<]+)</td></tr>", page.text)
    assert [(line, column) for line, column, _ in rows] == [("3", "出生年月"), ("4", "姓名")]
    assert "共 2 处错误" in page.text
    # A script gets the API's problem, whose row errors the page's script shows.
    scripted = admin.post("/console/do/roster-import", data=form, files=files, headers=JSON)
    assert scripted.status_code == 422
    assert [(e["line"], e["column"]) for e in scripted.json()["errors"]] == [
        (3, "出生年月"),
        (4, "姓名"),
    ]
    session.expire_all()
    numbers = session.exec(select(Student.student_no).where(Student.school_id == side_a.school.id))
    assert "2026001" not in set(numbers)  # one bad row: nothing imported

    good = {"file": ("名单.csv", _roster("2026001,王子涵,男,2016-03,四年级,1班"), "text/csv")}
    done = admin.post("/console/do/roster-import", data=form, files=good, headers=JSON)
    assert done.status_code == 200
    assert done.json()["result"] == {"created": 1, "updated": 0, "unchanged": 0}
    listed = admin.get("/console/school/roster", params={"q": "2026001"})
    assert "王子涵" in listed.text


def test_a_teacher_sees_no_import_and_the_api_refuses_it(
    app: FastAPI, session: Session, side_a: Side
) -> None:
    teacher, csrf = _client(app, session, side_a, Role.school_staff, "a")
    page = teacher.get("/console/school/roster")
    assert page.status_code == 200
    assert "roster-import" not in page.text  # the API admits school admins only
    assert "roster-binding-codes" not in page.text
    files = {"file": ("名单.csv", _roster("2026001,王子涵,男,2016-03,四年级,1班"), "text/csv")}
    answer = teacher.post(
        "/console/do/roster-import", data={"csrf_token": csrf}, files=files, headers=JSON
    )
    assert answer.status_code == 403


def test_binding_codes_download_per_class(app: FastAPI, session: Session, side_a: Side) -> None:
    create_student(session, school_id=side_a.school.id or 0, name="五年级学生", grade=5)
    admin, csrf = _client(app, session, side_a, Role.school_admin, "a")
    answer = admin.post(
        "/console/do/roster-binding-codes",
        data={"csrf_token": csrf, "query.grade": "4", "query.class_name": "1班"},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    text = answer.content.decode("utf-8-sig")
    assert side_a.student.student_no in text
    assert "五年级学生" not in text


# --- notices and objections ---------------------------------------------------------------------


def test_an_admin_opens_a_notice_and_resolves_an_objection(
    app: FastAPI, session: Session, side_a: Side
) -> None:
    reviewed = create_record(session, student=side_a.student, title="科技节", status="reviewed")
    admin, csrf = _client(app, session, side_a, Role.school_admin, "a")
    opened = admin.post(
        "/console/do/notice-open",
        data={
            "csrf_token": csrf,
            "_form": "notice-open",
            "_done": "公示已发布",
            "title": "秋季学期公示",
            "grade": "",
            "class_name": "",
        },
        headers=_from("/console/school/notices"),
        follow_redirects=True,
    )
    assert opened.status_code == 200
    assert "公示已发布" in opened.text
    notice = session.exec(select(RecordNotice)).one()
    assert _status(session, reviewed) == ["publicised"]
    entries = admin.get(f"/console/school/notices/{notice.id}")
    assert "科技节" in entries.text

    objection = RecordObjection(
        record_id=reviewed.id or 0,
        notice_id=notice.id or 0,
        raised_by="wechat:1",
        raised_role="guardian",
        reason="孩子那天生病没去",
        raised_at=NOW,
        status="open",
        resolution="",
    )
    session.add(objection)
    session.flush()
    page = admin.get("/console/school/notices")
    assert "孩子那天生病没去" in page.text
    resolved = admin.post(
        "/console/do/objection-resolve",
        data={
            "csrf_token": csrf,
            "path.objection_id": str(objection.id),
            "_form": f"resolve-{objection.id}",
            "_done": "异议已处理",
            "decision": "uphold",
            "resolution": "经核实未参加",
        },
        headers=_from("/console/school/notices"),
        follow_redirects=True,
    )
    assert "异议已处理" in resolved.text
    session.expire_all()
    stored = session.get(RecordObjection, objection.id)
    assert stored is not None
    assert stored.status == "upheld"
    assert _status(session, reviewed) == ["rejected"]


# --- exports ------------------------------------------------------------------------------------


def test_exports_show_the_withheld_pupils_and_count(
    app: FastAPI, session: Session, side_a: Side
) -> None:
    # side_a's pupil is 10 and no guardian agreed to the record export.
    create_record(session, student=side_a.student, status="archived")
    teacher, csrf = _client(app, session, side_a, Role.school_staff, "a")
    page = teacher.get("/console/school/exports")
    assert page.status_code == 200
    assert "未获“评价导出”同意的学生（共 1 人）" in page.text
    assert side_a.student.student_no in page.text
    assert "从未作答" in page.text
    answer = teacher.post(
        "/console/do/record-export",
        data={"csrf_token": csrf, "query.format": "csv"},
        headers=JSON,
    )
    assert answer.status_code == 200
    assert answer.headers["x-withheld-count"] == "1"
    assert answer.headers["x-withheld-students"] == "1"
    assert "attachment" in answer.headers["content-disposition"]

    queued = teacher.post(
        "/console/do/record-export-job",
        data={"csrf_token": csrf, "format": "xlsx", "grade": "4"},
        headers=JSON,
    )
    assert queued.status_code == 200, queued.text
    job_id = queued.json()["result"]["id"]
    job = session.get(Job, job_id)
    assert job is not None
    assert job.kind == "record-export"
    polled = teacher.get(f"/console/api/v1/jobs/{job_id}", headers=JSON)
    assert polled.status_code == 200
    assert polled.json()["status"] == "queued"
    listed = teacher.get("/console/school/exports")
    assert f'data-job="{job_id}"' in listed.text


def test_a_pupils_pdf_file_downloads(app: FastAPI, session: Session, side_a: Side) -> None:
    create_record(session, student=side_a.student, status="reviewed")
    teacher, csrf = _client(app, session, side_a, Role.school_staff, "a")
    answer = teacher.post(
        "/console/do/record-file",
        data={"csrf_token": csrf, "path.student_id": str(side_a.student.id)},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")


# --- another school's pages, by URL and by form ---------------------------------------------------


def test_a_school_officer_cannot_reach_another_schools_pages_or_forms(
    app: FastAPI, session: Session, side_a: Side, side_b: Side
) -> None:
    theirs = _ready(session, side_a.student, title="甲校的记录")
    published = create_record(session, student=side_a.student, status="publicised")
    notice = RecordNotice(
        school_id=side_a.school.id or 0,
        title="甲校公示",
        working_days=5,
        starts_at=NOW,
        ends_at=NOW.replace(year=2027),
        record_count=1,
        opened_by="account:1",
    )
    session.add(notice)
    session.flush()
    objection = RecordObjection(
        record_id=published.id or 0,
        notice_id=notice.id or 0,
        raised_by="wechat:1",
        raised_role="guardian",
        reason="有误",
        raised_at=NOW,
        status="open",
        resolution="",
    )
    session.add(objection)
    session.flush()
    for role in (Role.school_staff, Role.school_admin):
        other, csrf = _client(app, session, side_b, role, "b")
        # By URL: the pages naming side A's objects answer the API's 404.
        for url in (f"/console/school/records/{theirs.id}", f"/console/school/notices/{notice.id}"):
            assert other.get(url).status_code == 404, (role, url)
        for url in ("/console/school/records", "/console/school/notices"):
            page = other.get(url, params={"status": "all"})
            assert page.status_code == 200
            assert "甲校" not in page.text
            assert "有误" not in page.text
        assert side_a.student.student_no not in other.get("/console/school/roster").text
        assert side_a.student.student_no not in other.get("/console/school/exports").text
        # By form: every write on side A's objects is refused and changes nothing.
        forms: list[tuple[str, dict[str, str]]] = [
            ("record-review", {"path.record_id": str(theirs.id), "decision": "approve"}),
            ("record-file", {"path.student_id": str(side_a.student.id)}),
            ("objection-resolve", {"path.objection_id": str(objection.id), "decision": "uphold"}),
        ]
        for operation, fields in forms:
            answer = other.post(
                f"/console/do/{operation}",
                data={"csrf_token": csrf, "resolution": "改", **fields},
                headers=JSON,
            )
            assert answer.status_code in (403, 404), (role, operation, answer.text)
        bulk = other.post(
            "/console/do/record-review-bulk",
            data={"csrf_token": csrf, "record_ids": [str(theirs.id)], "decision": "approve"},
            headers=JSON,
        )
        assert bulk.status_code == 200
        assert bulk.json()["result"]["items"][0]["code"] == "record_not_found"
        notice_open = other.post(
            "/console/do/notice-open",
            data={"csrf_token": csrf, "title": "乙校公示", "record_ids": [str(published.id)]},
            headers=JSON,
        )
        assert notice_open.status_code in (403, 409), notice_open.text
    session.expire_all()
    assert _status(session, theirs, published) == ["confirmed", "publicised"]
    stored = session.get(RecordObjection, objection.id)
    assert stored is not None
    assert stored.status == "open"
    assert (
        session.exec(
            select(RecordNotice).where(col(RecordNotice.school_id) == side_b.school.id)
        ).all()
        == []
    )
