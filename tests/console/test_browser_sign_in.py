"""Signing in to the console in Chromium: the sign-in page, a role's home, the menu, signing
out; each page checked with axe-core and saved as a screenshot."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.console.browser import (
    DEMO_PASSWORD,
    TABLET_PORTRAIT,
    DemoServer,
    PageProblems,
    check_accessibility,
    screenshot,
    signed_in,
)

pytestmark = pytest.mark.slow


def test_a_teacher_signs_in_and_out(server: DemoServer, browser: Any, tmp_path: Path) -> None:
    page = browser.new_context(viewport=TABLET_PORTRAIT).new_page()
    problems = PageProblems(page)
    page.goto(server.url + "/console/password")
    page.wait_for_url(re.compile(r"/console/login\?next="))
    check_accessibility(page)
    screenshot(page, "sign-in")
    page.get_by_label("账号").fill("heping-teacher")
    page.get_by_label("密码").fill("wrong password")
    page.get_by_role("button", name="登录").click()
    assert "用户名或密码错误" in page.get_by_role("alert").inner_text()
    assert problems.seen == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]  # the refused sign-in answers 401, as the API's login does
    problems.seen.clear()
    page.get_by_label("账号").fill("heping-teacher")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert "和平小学" in page.locator("header").inner_text()
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"] == "scipass_console")
    assert session["httpOnly"]
    assert session["sameSite"] == "Lax"
    assert page.evaluate("document.cookie") == ""  # no script reads the session
    assert page.evaluate("Object.keys(localStorage).length") == 0
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/console/login")
    assert problems.seen == []


def test_each_role_has_a_home(server: DemoServer, browser: Any) -> None:
    for username in ("xtkjg-staff", "heping-admin", "xt-bureau"):
        page = signed_in(browser, server, username)
        check_accessibility(page)
        screenshot(page, f"home-{username}")
        page.context.close()


def test_a_form_posted_by_the_script_says_it_is_done(server: DemoServer, browser: Any) -> None:
    """With the page's script, a form posts without leaving the page: a problem shows beside
    the form, success on the page that opens next."""
    page = signed_in(browser, server, "xx2-teacher")
    problems = PageProblems(page)
    page.goto(server.url + "/console/password")
    page.get_by_label("当前密码").fill("not the password")
    page.get_by_label("新密码").fill("Another-pass-2026!")
    page.get_by_role("button", name="保存").click()
    alert = page.locator("#password [data-problem]")
    alert.wait_for()
    assert "当前密码不正确" in alert.inner_text()
    assert page.url.endswith("/console/password")  # no page was left
    problems.seen.clear()  # the refused post's status, logged by the browser
    page.get_by_label("当前密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(server.url + "/console")
    notice = page.locator("[data-done-notice]")
    assert notice.inner_text() == "密码已修改"
    page.reload()
    assert page.locator("[data-done-notice]").is_hidden()  # said once
    assert problems.seen == []
    page.context.close()
