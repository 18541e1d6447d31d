"""A bureau officer's day in Chromium, on the demo (湘潭市教育局, xt-bureau): the region's
compliance for the term under way (its first six weeks are over, so every rule has figures)
with its three charts, a school's drill-down, the ledger downloaded, a venue's submitted
profile approved, the competition catalogue and the notice length opened; each main page
checked with axe-core and saved as a screenshot."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from scipass.org.models import Venue
from tests.console.browser import (
    DemoServer,
    PageProblems,
    check_accessibility,
    screenshot,
    signed_in,
)

pytestmark = pytest.mark.slow


def test_a_bureau_officer_reads_compliance_exports_the_ledger_and_reviews_a_venue(
    server: DemoServer, browser: Any
) -> None:
    page = signed_in(browser, server, "xt-bureau")
    problems = PageProblems(page)

    # the dashboard, for the autumn term of 2026-2027 (the one under way on the demo's day)
    page.get_by_role("link", name="达标情况").first.click()
    page.get_by_label("学年（开始的年份）").fill("2026")
    page.get_by_label("学期").select_option("autumn")
    page.get_by_role("button", name="查看").click()
    page.wait_for_url("**/console/bureau/compliance?*school_year=2026*")
    assert "湘潭市 · 2026-2027学年第一学期" in page.get_by_role("heading", level=1).inner_text()
    charts = page.locator('svg[role="img"]')
    assert charts.count() == 3
    for name in ("各项规则的达标情况", "按区县：全部规则合计", "城镇与乡村：全部规则合计"):
        drawn = page.get_by_role("img", name=name, exact=True)
        assert drawn.locator("rect.seg").count() >= 2  # met and not met, at least
    weekly = page.locator('#chart-per-rule g.bar[data-label^="学校利用课后服务时间"]')
    assert (weekly.get_attribute("data-met"), weekly.get_attribute("data-missed")) == ("1", "5")
    check_accessibility(page)
    screenshot(page, "bureau-compliance")

    # the ledger, downloaded by the dashboard's form
    with page.expect_download() as download:
        page.get_by_role("button", name="导出工作台账（XLSX）").click()
    saved = download.value
    assert saved.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(open(saved.path(), "rb").read()))  # noqa: SIM115
    assert len(workbook.sheetnames) >= 2

    # drill down to a school that misses the weekly rule
    page.get_by_label("规则（下方两图与学校列表）").select_option("after_school_science_weekly")
    page.get_by_label("状态").select_option("missed")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**state=missed*")
    page.get_by_role("link", name="湘潭市第九中学").click()
    page.wait_for_url("**/console/bureau/schools/*")
    assert page.get_by_role("heading", level=1).inner_text() == "湘潭市第九中学"
    weekly_rule = page.locator('section[data-rule="after_school_science_weekly"]')
    assert weekly_rule.get_attribute("data-state") == "missed"
    assert weekly_rule.locator(".missing").inner_text()  # what it lacks, in words
    check_accessibility(page)
    screenshot(page, "bureau-school")

    # the venue queue: approve the county base's first profile
    page.get_by_role("link", name="场馆审核").click()
    page.wait_for_url("**/console/bureau/venues")
    check_accessibility(page)
    screenshot(page, "bureau-venues")
    page.get_by_role("link", name=re.compile(r"审核\s*湘潭县青少年科技教育基地")).click()
    page.wait_for_url("**/console/bureau/venues/*")
    venue_id = int(page.url.rsplit("/", 1)[1])
    check_accessibility(page)
    page.get_by_role("button", name="审核通过").click()
    page.wait_for_url("**/console/bureau/venues")
    assert "没有待审核的场馆资料" in page.locator("#pending").inner_text()
    with server.session() as session:
        venue = session.exec(select(Venue).where(Venue.id == venue_id)).one()
        assert (venue.listed, venue.review_status) == (True, None)

    # the competition catalogue, and the region's notice length
    page.get_by_role("link", name="竞赛管理").click()
    page.wait_for_url("**/console/bureau/competitions")
    assert page.get_by_role("link", name="湘潭市青少年科技创新大赛").is_visible()
    check_accessibility(page)
    screenshot(page, "bureau-competitions")
    page.get_by_role("link", name="公示期").click()
    page.wait_for_url("**/console/bureau/notice-setting")
    check_accessibility(page)
    assert problems.seen == []
    page.context.close()
