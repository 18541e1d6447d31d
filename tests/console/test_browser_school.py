"""A school's day in the console, in Chromium on the demo world (和平小学): import a small roster
with one bad row (its line shown, then the fixed file imported), review records in bulk, open
a public notice, export the records and see who lacks consent, read the school's compliance;
a teacher books a class visit and checks the class in at the door; each main page checked with
axe-core and saved as a screenshot."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from scipass.activity.models import Activity
from scipass.checkin.models import CheckIn
from scipass.org.models import School, Venue
from scipass.record.models import ParticipationRecord, RecordNotice
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot
from scipass.roster.models import Student
from tests.console.browser import (
    DEMO_NOW,
    TABLET_PORTRAIT,
    DemoServer,
    PageProblems,
    check_accessibility,
    screenshot,
    signed_in,
)

pytestmark = pytest.mark.slow

HEADER = "学号,姓名,性别,出生年月,年级,班级"


def _roster(path: Path, *lines: str) -> Path:
    path.write_bytes(("\r\n".join((HEADER, *lines)) + "\r\n").encode("utf-8-sig"))
    return path


def test_a_school_admins_day(server: DemoServer, browser: Any, tmp_path: Path) -> None:
    page = signed_in(browser, server, "heping-admin", viewport=TABLET_PORTRAIT)
    problems = PageProblems(page)

    # The roster: one bad row is shown against its line, and nothing is imported.
    page.get_by_role("link", name="学生名单").first.click()
    page.wait_for_url("**/console/school/roster")
    bad = _roster(
        tmp_path / "名单.csv",
        "H2026901,陈一鸣,男,2016-04,四年级,1班",
        "H2026902,林小雨,女,2016-13,四年级,1班",  # line 3: no 13th month
    )
    page.get_by_label("名单文件").set_input_files(str(bad))
    page.get_by_role("button", name="导入").click()
    errors = page.locator("[data-roster-errors]")
    errors.wait_for()
    assert "名单有误" in page.get_by_role("alert").first.inner_text()
    assert errors.locator("tbody tr").all_inner_texts() == ["第 3 行\t出生年月\t" + _reason(errors)]
    check_accessibility(page)
    screenshot(page, "school-roster")
    problems.seen.clear()  # the refused import answered 422, which the browser logs
    with server.session() as session:
        assert session.exec(select(Student).where(Student.student_no == "H2026901")).first() is None
    fixed = _roster(
        tmp_path / "名单-改.csv",
        "H2026901,陈一鸣,男,2016-04,四年级,1班",
        "H2026902,林小雨,女,2016-12,四年级,1班",
    )
    page.get_by_label("名单文件").set_input_files(str(fixed))
    page.get_by_role("button", name="导入").click()
    imported = page.locator("[data-import-result]")
    imported.wait_for()
    assert "新增 2 人" in imported.inner_text()
    with server.session() as session:
        assert session.exec(select(Student).where(Student.student_no == "H2026902")).one()

    # Records waiting for review, approved in bulk; the API says which it could not approve.
    page.get_by_role("link", name="记录审核").first.click()
    page.wait_for_url("**/console/school/records")
    rows = page.locator("tr[data-record]")
    assert rows.count() > 0
    check_accessibility(page)
    screenshot(page, "school-records")
    ids = [int(r) for r in rows.evaluate_all("rows => rows.map(r => r.dataset.record)")]
    page.get_by_label("全选本页记录").check()
    page.get_by_role("button", name="提交审核").click()
    summary = page.locator("[data-bulk-summary]")
    summary.wait_for()
    assert "已处理" in summary.inner_text()
    with server.session() as session:
        statuses = dict(
            session.exec(
                select(ParticipationRecord.id, ParticipationRecord.status).where(
                    col(ParticipationRecord.id).in_(ids)
                )
            ).all()
        )
    reviewed = [i for i in ids if statuses[i] == "reviewed"]
    assert reviewed, statuses
    shown = page.locator(f'tr[data-record="{reviewed[0]}"] [data-status]').inner_text()
    assert shown == "学校已审核"

    # A public notice of the reviewed records.
    page.get_by_role("link", name="公示与异议").first.click()
    page.wait_for_url("**/console/school/notices")
    page.get_by_label("公示标题").fill("四年级1班科学实践公示")
    page.get_by_role("button", name="发布公示").click()
    page.get_by_role("link", name="四年级1班科学实践公示").wait_for()
    with server.session() as session:
        notice = session.exec(
            select(RecordNotice).where(RecordNotice.title == "四年级1班科学实践公示")
        ).one()
        assert notice.record_count >= len(reviewed)
    check_accessibility(page)
    screenshot(page, "school-notices")

    # Exports: the pupils who lack consent, and a CSV that says how many records it left out.
    page.get_by_role("link", name="导出").first.click()
    page.wait_for_url("**/console/school/exports")
    with page.expect_download() as download:
        page.get_by_role("button", name="下载 CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    result = page.locator("[data-export-result]")
    result.wait_for()
    assert "已导出" in result.inner_text()
    check_accessibility(page)
    screenshot(page, "school-exports")

    # The school's own compliance, with what is missing.
    page.get_by_role("link", name="达标情况").first.click()
    page.wait_for_url("**/console/school/compliance")
    assert "和平小学" in page.get_by_role("heading", level=1).inner_text()
    assert page.locator("tbody tr").count() > 0
    check_accessibility(page)
    screenshot(page, "school-compliance")
    assert problems.seen == []


def _reason(errors: Any) -> str:
    return str(errors.locator("tbody tr td").nth(2).inner_text())


def test_a_teacher_books_a_class_visit_and_checks_the_class_in(
    server: DemoServer, browser: Any
) -> None:
    """A teacher books 四年级1班 into a slot of today's open day at 湘潭市科技馆 (the whole class
    ticked at once), then at the door unticks an absent pupil and checks the class in: each
    pupil's result is shown, and only the ticked pupils are checked in."""
    with server.session() as session:
        venue = session.exec(select(Venue).where(Venue.name == "湘潭市科技馆")).one()
        open_day = session.exec(
            select(Activity).where(Activity.title == "科技活动周·科技馆开放日")
        ).one()
        today = TimeSlot(
            venue_id=venue.id or 0,
            activity_id=open_day.id,
            starts_at=DEMO_NOW + timedelta(minutes=30),
            ends_at=DEMO_NOW + timedelta(hours=2),
            capacity=80,
            note="开放日 团体专场",
            created_at=DEMO_NOW,
        )
        session.add(today)
        session.commit()
        slot_id = today.id
        school_id = session.exec(
            select(School.id).where(School.name == "湘潭市雨湖区和平小学")
        ).one()
    page = signed_in(browser, server, "heping-teacher", viewport=TABLET_PORTRAIT)
    problems = PageProblems(page)

    page.get_by_role("link", name="团体参观").first.click()
    page.wait_for_url("**/console/school/visits")
    page.get_by_role("combobox", name="场馆", exact=True).select_option(label="湘潭市科技馆")
    page.get_by_role("combobox", name="年级").select_option(label="四年级")
    page.get_by_role("textbox", name="班级").fill("1班")
    page.get_by_role("button", name="查看时段和学生").click()
    page.locator(f"#slot-{slot_id}").wait_for()
    page.locator(f"#slot-{slot_id}").check()
    page.get_by_label("选择全班").check()
    class_ids = sorted(
        int(v)
        for v in page.locator('input[name="student_ids"]:checked').evaluate_all(
            "boxes => boxes.map(b => b.value)"
        )
    )
    assert len(class_ids) > 2
    check_accessibility(page)
    screenshot(page, "school-visits")
    page.get_by_role("button", name="提交预约").click()
    page.wait_for_url("**/console/school/visits")
    with server.session() as session:
        booked = session.exec(select(Reservation).where(Reservation.slot_id == slot_id)).one()
        members = session.exec(
            select(ReservationMember.student_id).where(
                ReservationMember.reservation_id == booked.id
            )
        ).all()
    assert (booked.kind, booked.status) == ("group", "confirmed")
    assert sorted(members) == class_ids
    assert booked.school_id == school_id

    # At the door: every member ticked, the absent one unticked, one submit.
    page.locator(f'tr[data-reservation="{booked.id}"]').get_by_role(
        "link", name="名单与签到"
    ).click()
    page.wait_for_url(f"**/console/school/visits/{booked.id}")
    boxes = page.locator('input[name="student_ids"]')
    assert boxes.count() == len(class_ids)
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    absent = int(str(boxes.first.get_attribute("value")))
    boxes.first.uncheck()
    page.get_by_role("button", name="提交签到").click()
    summary = page.locator("[data-checkin-summary]")
    summary.wait_for()
    assert "签到" in summary.inner_text()
    results = page.locator("td[data-result]")
    assert results.first.inner_text() == ""  # the absent pupil: no result
    assert all(results.nth(i).inner_text() for i in range(1, results.count()))
    with server.session() as session:
        checked_in = set(
            session.exec(
                select(CheckIn.student_id).where(
                    CheckIn.activity_id == open_day.id,
                    col(CheckIn.student_id).in_(class_ids),
                )
            ).all()
        )
    assert absent not in checked_in
    assert checked_in  # the pupils with a participation consent
    check_accessibility(page)
    screenshot(page, "school-visit-checkin")
    assert problems.seen == []
