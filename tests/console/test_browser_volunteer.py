"""A venue's volunteering in Chromium, on the demo (湘潭市科技馆, xtkjg-admin): a new role
created, a shift of it published, and the minutes of last Saturday's 小小志愿者 shift
confirmed with one pupil's minutes changed and the reason given. The pages are checked with
axe-core and saved as screenshots; what each step changed is read back from the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import col, select

from scipass.volunteer.models import VolunteerRole, VolunteerShift, VolunteerSignup
from tests.console.browser import (
    DEMO_NOW,
    DemoServer,
    PageProblems,
    check_accessibility,
    screenshot,
    signed_in,
)

pytestmark = pytest.mark.slow

ROLE = "周末小小讲解员"
REASON = "11:00 提前离开，按实际服务时间计 2 小时"


def _last_shift(server: DemoServer) -> tuple[VolunteerShift, VolunteerSignup]:
    """The demo's last 小小志愿者 shift before today, and a pupil of it who served 2.5 hours."""
    with server.session() as session:
        shift = session.exec(
            select(VolunteerShift)
            .join(VolunteerRole, col(VolunteerRole.id) == VolunteerShift.role_id)
            .where(VolunteerRole.name == "小小志愿者", VolunteerShift.ends_at < DEMO_NOW)
            .order_by(col(VolunteerShift.starts_at).desc())
        ).first()
        assert shift is not None
        signup = session.exec(
            select(VolunteerSignup).where(
                VolunteerSignup.shift_id == shift.id, VolunteerSignup.confirmed_minutes == 150
            )
        ).one()
        return shift, signup


def test_a_venue_worker_manages_volunteering(server: DemoServer, browser: Any) -> None:
    page = signed_in(browser, server, "xtkjg-admin")
    problems = PageProblems(page)

    # the roles: a new one made
    page.get_by_role("link", name="志愿服务").first.click()
    page.wait_for_url("**/console/venue/volunteering")
    assert page.get_by_role("link", name="小小志愿者").count() == 1
    check_accessibility(page)
    screenshot(page, "venue-volunteering")
    page.get_by_label("岗位名称").fill(ROLE)
    page.get_by_label("岗位说明").fill("周末在“力与运动”展区为观众讲解展品")
    page.get_by_label("小学", exact=True).check()
    page.get_by_label("每天最多服务（小时）").fill("3")
    with page.expect_navigation():
        page.get_by_role("button", name="新建岗位").click()
    with server.session() as session:
        role = session.exec(select(VolunteerRole).where(VolunteerRole.name == ROLE)).one()
    assert (role.stages, role.max_daily_minutes, role.active) == ("primary", 180, True)

    # its page: a shift published next Saturday
    page.get_by_role("link", name=ROLE).click()
    page.wait_for_url(f"**/console/venue/volunteering/roles/{role.id}")
    form = page.locator("#shift-new")
    form.get_by_label("开始时间").fill("2026-10-17T14:00")
    form.get_by_label("结束时间").fill("2026-10-17T16:00")
    form.get_by_label("服务地点").fill("二楼“力与运动”展区")
    form.get_by_label("名额（人）").fill("4")
    with page.expect_navigation():
        form.get_by_role("button", name="发布班次").click()
    page.get_by_role("link", name="2026-10-17 14:00 – 16:00").wait_for()
    with server.session() as session:
        shift = session.exec(select(VolunteerShift).where(VolunteerShift.role_id == role.id)).one()
    assert shift.starts_at.astimezone(UTC) == datetime(2026, 10, 17, 6, 0, tzinfo=UTC)
    assert (shift.capacity, shift.status) == (4, "open")
    check_accessibility(page)
    screenshot(page, "venue-volunteer-role")

    # last Saturday's 小小志愿者 shift: one pupil's minutes changed, first without the reason
    # (the API's problem shown on the form, nothing changed), then with it
    last, signup = _last_shift(server)
    page.goto(f"{server.url}/console/venue/volunteering/roles/{last.role_id}")
    page.locator(f'a[href="/console/venue/volunteering/shifts/{last.id}"]').click()
    page.wait_for_url(f"**/console/venue/volunteering/shifts/{last.id}")
    row = page.locator("tr", has=page.locator(f'input[value="{signup.id}"]'))
    row.locator('input[name$=".minutes"]').fill("120")
    page.get_by_role("button", name="确认服务时长").click()
    problem = page.locator("#minutes [data-problem]")
    problem.wait_for(state="visible")
    assert "修改时长须填写原因" in problem.inner_text()
    assert problems.seen == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]
    problems.seen.clear()
    with server.session() as session:
        assert session.get(VolunteerSignup, signup.id).confirmed_minutes == 150  # type: ignore[union-attr]
    row.locator('input[name$=".reason"]').fill(REASON)
    with page.expect_navigation():
        page.get_by_role("button", name="确认服务时长").click()
    with server.session() as session:
        found = session.get(VolunteerSignup, signup.id)
        assert found is not None
        assert (found.confirmed_minutes, found.minutes_reason) == (120, REASON)
    check_accessibility(page)
    screenshot(page, "venue-volunteer-shift")
    assert problems.seen == []
    page.context.close()
