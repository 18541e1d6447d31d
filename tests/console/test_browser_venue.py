"""A venue worker's day in Chromium, on the demo (湘潭市科技馆, xtkjg-admin): a new activity
created and published, its poster downloaded and its kiosk screen opened, its arrivals watched
live, a pupil's record confirmed; the profile and the exports opened. Each main page checked
with axe-core and saved as a screenshot; what each step changed is read back from the
database."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlmodel import select

from scipass.activity.models import Activity
from scipass.checkin.models import CheckIn, ScanEvent
from scipass.record.models import ParticipationRecord
from scipass.roster.models import Student
from tests.console.browser import (
    DEMO_NOW,
    DemoServer,
    PageProblems,
    check_accessibility,
    screenshot,
    signed_in,
)

pytestmark = pytest.mark.slow

TITLE = "周三科学秀：会跳舞的电磁铁"


def _arrive(server: DemoServer, activity_id: int, n: int) -> None:
    """A pupil checked in and another refused at the door (as scans would leave them)."""
    with server.database.transaction() as session:
        pupil = session.exec(select(Student).order_by(Student.id).offset(n)).first()  # type: ignore[arg-type]
        assert pupil is not None
        session.add(
            CheckIn(
                activity_id=activity_id,
                student_id=pupil.id or 0,
                school_id=pupil.school_id,
                day=date(2026, 10, 14),
                source="staff_scan",
                entered_at=DEMO_NOW,
                operator="account:1",
                created_at=DEMO_NOW,
                updated_at=DEMO_NOW,
            )
        )
        session.add(
            ScanEvent(
                activity_id=activity_id,
                direction="entry",
                source="self_scan",
                operator=f"wechat:browser-{n}",
                nonce=f"browser-{n}",
                fingerprint=f"browser-{n}",
                server_time=DEMO_NOW,
                result="refused",
                reason="consent_required",
            )
        )


def test_a_venue_worker_runs_an_activity(server: DemoServer, browser: Any) -> None:
    page = signed_in(browser, server, "xtkjg-admin")
    problems = PageProblems(page)

    # activities: a new one, saved as a draft
    page.get_by_role("link", name="活动", exact=True).first.click()
    page.wait_for_url("**/console/venue/activities")
    check_accessibility(page)
    screenshot(page, "venue-activities")
    page.get_by_role("link", name="新建活动").click()
    page.get_by_label("活动类型").select_option("lecture")
    page.get_by_label("活动名称").fill("电")  # too short: the problem beside the field
    page.get_by_label("开始时间").fill("2026-10-14T10:30")
    page.get_by_label("结束时间").fill("2026-10-14T16:00")
    page.get_by_role("button", name="保存草稿").click()
    error = page.locator("#activity-new-title-error")
    error.wait_for(state="visible")
    assert error.inner_text().strip()
    assert page.get_by_label("活动名称").get_attribute("aria-invalid") == "true"
    assert problems.seen == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]  # the refused form, as the API answers it
    problems.seen.clear()
    page.get_by_label("活动名称").fill(TITLE)
    page.get_by_label("小学").check()
    page.get_by_role("button", name="保存草稿").click()
    page.wait_for_url("**/console/venue/activities?status=draft")
    with server.session() as session:
        made = session.exec(select(Activity).where(Activity.title == TITLE)).one()
    assert made.status == "draft"

    # its page: published, a poster downloaded, the kiosk opened in a new tab
    page.get_by_role("link", name=TITLE).click()
    page.wait_for_url(f"**/console/venue/activities/{made.id}")
    page.get_by_role("button", name="发布活动").click()
    page.locator("h1 .badge", has_text="已发布").wait_for()
    with server.session() as session:
        assert session.get(Activity, made.id).status == "published"  # type: ignore[union-attr]
    page.get_by_role("button", name="生成海报码").click()
    poster = page.get_by_role("link", name="下载 A4 签到海报（PDF）")
    with page.expect_download() as download:
        poster.click()
    assert download.value.suggested_filename.endswith(".pdf")
    page.get_by_role("button", name="生成大屏动态码").click()
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="打开大屏页面（新窗口）").click()
    kiosk = opened.value
    kiosk.wait_for_load_state()
    assert re.search(r"/kiosk/\d+\?token=", kiosk.url)
    assert TITLE in kiosk.content()
    kiosk.close()
    check_accessibility(page)
    screenshot(page, "venue-activity")

    # arrivals: counts by hour and refusals by reason, refreshed while the page is open
    _arrive(server, made.id or 0, 0)
    page.get_by_role("link", name="现场到场情况").click()
    page.wait_for_url(f"**/console/venue/activities/{made.id}/arrivals")
    visits = page.locator('[data-total="visits"]')
    assert visits.inner_text() == "1"
    assert (
        "需要监护人同意记录参与活动后才能签到" in page.locator('[data-rows="reasons"]').inner_text()
    )
    _arrive(server, made.id or 0, 1)
    # the page asks every 5 seconds; wait for its next answer
    page.locator('[data-total="visits"]:text-is("2")').wait_for()
    assert visits.inner_text() == "2"
    assert page.locator('[data-total="refused"]').inner_text() == "2"
    assert "10:00" in page.locator('[data-rows="hours"]').inner_text()
    check_accessibility(page)
    screenshot(page, "venue-arrivals")

    # records: the first pending one confirmed
    page.get_by_role("link", name="待确认记录").first.click()
    page.wait_for_url("**/console/venue/records")
    check_accessibility(page)
    screenshot(page, "venue-records")
    first = page.locator("article.record").first
    record_id = int((first.get_attribute("aria-labelledby") or "").removeprefix("rec-"))
    first.get_by_role("button", name="确认").click()
    page.locator(f"#rec-{record_id}").wait_for(state="detached")
    with server.session() as session:
        record = session.get(ParticipationRecord, record_id)
        assert record is not None
        assert record.status == "confirmed"

    # the profile and the exports: each page opens, passes axe and is kept
    page.get_by_role("link", name="场馆资料").click()
    page.wait_for_url("**/console/venue/profile")
    assert page.get_by_label("场馆名称").input_value() == "湘潭市科技馆"
    check_accessibility(page)
    screenshot(page, "venue-profile")
    page.get_by_role("link", name="导出", exact=True).click()
    page.wait_for_url("**/console/venue/exports")
    check_accessibility(page)
    screenshot(page, "venue-exports")
    assert problems.seen == []
    page.context.close()
