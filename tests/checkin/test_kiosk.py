"""The venue screen: /kiosk/<activity> shows the rotating code and today's count, and keeps them
current without a reload; a bad, expired, revoked or misplaced kiosk token shows nothing.

The last test drives the page in real headless Chromium against a real server on loopback."""

from __future__ import annotations

import base64
import hashlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from scipass.activity.models import Activity
from scipass.checkin import codes
from scipass.checkin import issuing as checkin_issuing
from scipass.checkin.kiosk import SCRIPT, kiosk_router
from scipass.checkin.models import CheckIn, CodeKind
from scipass.checkin.render import qr_svg_element
from scipass.checkin.schemas import CodeCreate
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock, local_date
from scipass.core.config import KEEPALIVE_MIN_SECONDS, Settings
from scipass.core.security import KeyRing
from scipass.roster.models import Student
from tests.factories import (
    NOW,
    Side,
    auth,
    create_activity,
    create_student,
    create_wechat_user,
)
from tests.tools import require_tool

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
TITLE = "少年科学家开放日"


@pytest.fixture(autouse=True)
def kiosk_mounted(app: FastAPI) -> FastAPI:
    """The lead mounts the kiosk router in main.py; until then the tests mount it here."""
    if not any(getattr(route, "path", "") == "/kiosk/{activity_id}" for route in app.routes):
        app.include_router(kiosk_router)
    return app


@pytest.fixture
def activity(session: Session, side_a: Side) -> Activity:
    """Under way at the frozen time (2026-10-14 10:00 Beijing), ends at 16:00."""
    return create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        title=TITLE,
        place_name="一号展厅",
        admission="open",
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=6),
    )


@dataclass
class Kiosk:
    activity_id: int
    code_id: int
    short_id: str
    link: str  # the link the code-create response showed
    page: str  # the kiosk_url: /kiosk/<activity>?token=...

    @property
    def token(self) -> str:
        return parse_qs(urlsplit(self.page).query)["token"][0]

    @property
    def state(self) -> str:
        return f"/kiosk/{self.activity_id}/state?token={self.token}"


def open_kiosk(
    client: TestClient, settings: Settings, side: Side, activity: Activity, **body: Any
) -> Kiosk:
    response = client.post(
        f"/api/v1/activities/{activity.id}/codes",
        json={"kind": "rotating", **body},
        headers=auth(settings, side.principal(Role.venue_staff)),
    )
    assert response.status_code == 201, response.text
    code = response.json()
    assert code["kiosk_url"].startswith(f"/kiosk/{activity.id}?token=")
    return Kiosk(
        activity_id=activity.id or 0,
        code_id=code["id"],
        short_id=code["short_id"],
        link=code["link"],
        page=code["kiosk_url"],
    )


@pytest.fixture
def kiosk(client: TestClient, settings: Settings, side_a: Side, activity: Activity) -> Kiosk:
    return open_kiosk(client, settings, side_a, activity)


def add_check_in(session: Session, *, activity_id: int, student: Student, at: datetime) -> CheckIn:
    check_in = CheckIn(
        activity_id=activity_id,
        student_id=student.id or 0,
        school_id=student.school_id,
        day=local_date(at),
        source="self_scan",
        entered_at=at,
        operator=f"wechat:{student.wechat_user_id}",
        created_at=at,
        updated_at=at,
    )
    session.add(check_in)
    session.flush()
    return check_in


def shown_count(html: str) -> int:
    found = re.search(r'今日已签到<strong id="count">(\d+)</strong>人', html)
    assert found, "the page shows no count"
    return int(found.group(1))


def path_of(svg: str) -> str:
    found = re.search(r'<path fill="#000" d="([^"]+)"', svg)
    assert found, "no QR path in the SVG"
    return found.group(1)


def assert_refused(client: TestClient, activity_id: int, token: str) -> None:
    state = client.get(f"/kiosk/{activity_id}/state", params={"token": token})
    assert state.status_code == 401, state.text
    assert state.headers["content-type"].startswith("application/problem+json")
    assert state.json()["code"] == "kiosk_token_invalid"
    assert state.headers["cache-control"] == "no-store"
    page = client.get(f"/kiosk/{activity_id}", params={"token": token})
    assert page.status_code == 401
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in page.text
    assert "无法打开签到大屏" in page.text
    assert "data-link" not in page.text
    assert "<svg" not in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"


# --- the state the page polls ------------------------------------------------------------------


def test_state_shows_the_current_code_and_the_activity(
    client: TestClient, settings: Settings, clock: FrozenClock, side_a: Side, kiosk: Kiosk
) -> None:
    response = client.get(kiosk.state)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    state = response.json()
    assert set(state) == {
        "title",
        "place",
        "organiser",
        "link",
        "svg",
        "step",
        "step_seconds",
        "step_ends_at",
        "seconds_left",
        "checked_in",
        "ends_at",
    }
    now = clock.now()
    assert (state["title"], state["place"]) == (TITLE, "一号展厅")
    assert state["organiser"] == side_a.venue.name
    assert state["step_seconds"] == settings.rotating_step_seconds
    assert state["step"] == int(now.timestamp()) // state["step_seconds"]
    # The link is the one the code answered with, and a valid rotating code of this step.
    assert state["link"] == kiosk.link
    assert state["link"].startswith(settings.code_link_base)
    parsed = codes.parse_venue_code(settings.code_keyring, state["link"])
    assert (parsed.short_id, parsed.step) == (kiosk.short_id, state["step"])
    # The SVG draws that very link.
    assert state["svg"] == qr_svg_element(state["link"])
    step_ends_at = datetime.fromisoformat(state["step_ends_at"])
    assert step_ends_at == codes.step_start(state["step"] + 1, state["step_seconds"])
    assert now < step_ends_at <= now + timedelta(seconds=state["step_seconds"])
    assert state["seconds_left"] == pytest.approx((step_ends_at - now).total_seconds())
    assert state["checked_in"] == 0
    assert datetime.fromisoformat(state["ends_at"]) == NOW + timedelta(hours=6)


def test_the_code_holds_within_a_step_and_changes_with_the_next(
    client: TestClient, settings: Settings, clock: FrozenClock, side_a: Side, activity: Activity
) -> None:
    kiosk = open_kiosk(client, settings, side_a, activity, step_seconds=30)
    step = int(NOW.timestamp()) // 30
    clock.set(codes.step_start(step + 1, 30))  # the first second of a step

    first = client.get(kiosk.state).json()
    clock.advance(timedelta(seconds=29))  # the last second of the same step
    same = client.get(kiosk.state).json()
    clock.advance(timedelta(seconds=1))
    after = client.get(kiosk.state).json()
    clock.advance(timedelta(seconds=30))
    later = client.get(kiosk.state).json()

    assert first["step_seconds"] == 30
    assert (first["step"], same["step"], after["step"], later["step"]) == (
        step + 1,
        step + 1,
        step + 2,
        step + 3,
    )
    assert same["link"] == first["link"]
    assert same["svg"] == first["svg"]
    assert (first["seconds_left"], same["seconds_left"], after["seconds_left"]) == (30, 1, 30)
    assert len({first["link"], after["link"], later["link"]}) == 3
    assert path_of(after["svg"]) != path_of(first["svg"])
    for state in (first, after, later):
        parsed = codes.parse_venue_code(settings.code_keyring, state["link"])
        assert (parsed.short_id, parsed.step) == (kiosk.short_id, state["step"])


# --- tokens ------------------------------------------------------------------------------------


def test_forged_tokens_are_refused(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    kiosk: Kiosk,
    activity: Activity,
) -> None:
    ring = settings.code_keyring
    expires = NOW + timedelta(days=2)
    _k, code_id, expiry, kid, mac = kiosk.token.split(".")
    other_mac = "A" if mac[-1] != "A" else "B"
    static = checkin_issuing.create_code(
        session,
        settings=settings,
        actor=side_a.principal(Role.venue_staff),
        activity_id=activity.id or 0,
        data=CodeCreate(kind=CodeKind.static),
        now=NOW,
    )
    stranger = KeyRing(active_kid=ring.active_kid, keys={ring.active_kid: "not the real secret"})
    forged = {
        "a wrong MAC": f"K.{code_id}.{expiry}.{kid}.{mac[:-1]}{other_mac}",
        "another code id under the same MAC": f"K.{int(code_id) + 1}.{expiry}.{kid}.{mac}",
        "a later expiry under the same MAC": f"K.{code_id}.{int(expiry) + 86400}.{kid}.{mac}",
        "a secret that is not ours": codes.kiosk_token(stranger, int(code_id), expires),
        "an unknown key id": f"K.{code_id}.{expiry}.NOPE.{mac}",
        "a static code": codes.kiosk_token(ring, static.id or 0, expires),
        "a code that does not exist": codes.kiosk_token(ring, 987654, expires),
        "a code payload instead of a token": kiosk.link,
        "nonsense": "<script>alert(1)</script>",
        "nothing": "",
    }
    # Control: the real token opens the screen.
    assert client.get(kiosk.state).status_code == 200
    for why, token in forged.items():
        try:
            assert_refused(client, kiosk.activity_id, token)
        except AssertionError as error:
            raise AssertionError(f"{why}: {error}") from error
    assert client.get(f"/kiosk/{kiosk.activity_id}/state").status_code == 401  # no token at all


def test_the_token_expires_half_an_hour_after_the_activity_ends(
    client: TestClient, clock: FrozenClock, kiosk: Kiosk, activity: Activity
) -> None:
    expiry = activity.ends_at + timedelta(minutes=30)  # when exit scans stop
    clock.set(expiry - timedelta(seconds=1))
    assert client.get(kiosk.state).status_code == 200
    clock.set(expiry)
    assert_refused(client, kiosk.activity_id, kiosk.token)


def test_a_code_valid_until_earlier_takes_its_token_with_it(
    client: TestClient, settings: Settings, clock: FrozenClock, side_a: Side, activity: Activity
) -> None:
    until = NOW + timedelta(hours=1)
    kiosk = open_kiosk(client, settings, side_a, activity, valid_until=until.isoformat())
    clock.set(until - timedelta(seconds=1))
    assert client.get(kiosk.state).status_code == 200
    clock.set(until + timedelta(seconds=1))
    assert_refused(client, kiosk.activity_id, kiosk.token)


def test_a_revoked_code_leaves_the_screen(
    client: TestClient, settings: Settings, side_a: Side, kiosk: Kiosk
) -> None:
    assert client.get(kiosk.state).status_code == 200
    assert client.get(kiosk.page).status_code == 200

    revoked = client.post(
        f"/api/v1/codes/{kiosk.code_id}/revoke",
        json={"reason": "二维码被拍照转发到班级群"},
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None

    assert_refused(client, kiosk.activity_id, kiosk.token)


def test_a_token_opens_only_its_own_activity(
    client: TestClient, settings: Settings, session: Session, side_a: Side, activity: Activity
) -> None:
    other = create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        title="另一场活动",
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=2),
    )
    mine = open_kiosk(client, settings, side_a, activity)
    theirs = open_kiosk(client, settings, side_a, other)
    assert client.get(theirs.state).json()["title"] == "另一场活动"

    assert_refused(client, other.id or 0, mine.token)
    assert_refused(client, activity.id or 0, theirs.token)
    assert_refused(client, 987654, mine.token)


# --- the page ----------------------------------------------------------------------------------


def test_the_page_shows_the_code_title_count_and_hint(
    client: TestClient, settings: Settings, kiosk: Kiosk
) -> None:
    response = client.get(kiosk.page)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    state = client.get(kiosk.state).json()
    assert '<html lang="zh-CN">' in page
    assert f'<div class="qr" id="qr" data-link="{state["link"]}">{state["svg"]}</div>' in page
    assert f'<h1 id="title">{TITLE}</h1>' in page
    assert "一号展厅" in page
    assert shown_count(page) == 0
    assert (
        f'二维码每 <span id="step-seconds">{settings.rotating_step_seconds}</span> 秒更新，'
        "截图转发无效" in page
    )
    assert "请用微信扫一扫签到" in page
    assert "网络中断，正在重连…" in page  # hidden until a poll fails
    # Self-contained: nothing is fetched from anywhere but this page and its state.
    assert not re.search(r"<script[^>]*\bsrc=|<link[^>]*stylesheet|@import|url\(", page)
    assert "cdn" not in page.lower()


def test_the_page_escapes_what_it_shows(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    hostile = create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        title='<script>alert("x")</script> & <b>科普</b>',
        place_name='" onmouseover="alert(1)',
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=2),
    )
    kiosk = open_kiosk(client, settings, side_a, hostile)

    page = client.get(kiosk.page).text

    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;科普&lt;/b&gt;" in page
    assert "<script>alert" not in page
    assert "<b>科普" not in page
    assert '" onmouseover="' not in page
    assert "&quot; onmouseover=&quot;alert(1)" in page
    assert page.count("<script>") == 1  # the page's own
    # JSON carries the text as it is; the page's script puts it in with textContent.
    assert client.get(kiosk.state).json()["title"] == hostile.title


def _csp(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def test_the_page_is_locked_down(client: TestClient, kiosk: Kiosk) -> None:
    for response in (client.get(kiosk.page), client.get(f"/kiosk/{kiosk.activity_id}?token=x")):
        headers = response.headers
        assert headers["cache-control"] == "no-store"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        csp = _csp(headers["content-security-policy"])
        assert csp["default-src"] == ["'none'"]
        assert csp["connect-src"] == ["'self'"]
        assert csp["frame-ancestors"] == ["'none'"]
        assert csp["base-uri"] == ["'none'"]
        assert "'unsafe-inline'" not in headers["content-security-policy"]
        assert "'unsafe-eval'" not in headers["content-security-policy"]
        assert "http" not in headers["content-security-policy"]
        # Every inline script and style of the page is admitted by its hash, and nothing else.
        page = response.text
        scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
        styles = re.findall(r"<style>(.*?)</style>", page, re.S)
        assert styles
        assert {_hash(s) for s in styles} == set(csp["style-src"])
        assert {_hash(s) for s in scripts} <= set(csp["script-src"])
        assert len(csp["script-src"]) == 1
    assert '<meta name="referrer" content="no-referrer">' in client.get(kiosk.page).text


def test_the_count_is_todays_check_ins_of_this_activity(
    client: TestClient,
    settings: Settings,
    session: Session,
    clock: FrozenClock,
    side_a: Side,
    activity: Activity,
    kiosk: Kiosk,
) -> None:
    other = create_activity(
        session,
        venue_id=side_a.venue.id or 0,
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(hours=2),
    )
    classmate = create_student(session, school_id=side_a.school.id or 0)
    assert client.get(kiosk.state).json()["checked_in"] == 0

    add_check_in(session, activity_id=activity.id or 0, student=side_a.student, at=NOW)
    assert client.get(kiosk.state).json()["checked_in"] == 1
    assert shown_count(client.get(kiosk.page).text) == 1

    add_check_in(session, activity_id=activity.id or 0, student=classmate, at=NOW)
    # Not counted: yesterday's visit (Beijing date), another activity's visit today.
    add_check_in(
        session, activity_id=activity.id or 0, student=classmate, at=NOW - timedelta(days=1)
    )
    add_check_in(session, activity_id=other.id or 0, student=classmate, at=NOW)
    assert client.get(kiosk.state).json()["checked_in"] == 2
    assert shown_count(client.get(kiosk.page).text) == 2

    # "Today" is Beijing's: at 23:59 Beijing (15:59 UTC) still today, at 00:00 a new day.
    activity.ends_at = NOW + timedelta(days=2)  # a festival over several days
    session.add(activity)
    session.flush()
    kiosk = open_kiosk(client, settings, side_a, activity)
    clock.set(datetime.fromisoformat("2026-10-14T15:59:59+00:00"))
    assert client.get(kiosk.state).json()["checked_in"] == 2
    clock.set(datetime.fromisoformat("2026-10-14T16:00:00+00:00"))
    assert client.get(kiosk.state).json()["checked_in"] == 0


def test_a_scan_of_the_shown_code_is_counted(
    client: TestClient, settings: Settings, session: Session, side_a: Side, kiosk: Kiosk
) -> None:
    user = create_wechat_user(session)
    pupil = create_student(
        session,
        school_id=side_a.school.id or 0,
        wechat_user_id=user.id,
        binding_code=None,
        birth_month=date(2011, 5, 1),  # 15: no guardian consent needed
        stage="junior",
        grade=9,
    )
    caller = Principal(
        subject=f"wechat:{user.id}",
        role=Role.student,
        school_id=pupil.school_id,
        student_id=pupil.id,
    )
    shown = client.get(kiosk.state).json()

    scan = client.post(
        "/api/v1/checkins",
        json={"code": shown["link"]},
        headers={**auth(settings, caller), "Idempotency-Key": "kiosk-scan-0001"},
    )

    assert scan.status_code == 201, scan.text
    assert scan.json()["activity_id"] == kiosk.activity_id
    assert client.get(kiosk.state).json()["checked_in"] == 1
    assert shown_count(client.get(kiosk.page).text) == 1


# --- in a real browser -------------------------------------------------------------------------


class OneAtATime:
    """Lets one request at a time use the app, and the test only between requests: the app's
    sessions join the test's connection (rolled back at the end), which one thread at a time
    may use."""

    def __init__(self, app: FastAPI, lock: threading.Lock) -> None:
        self.app = app
        self.lock = lock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await anyio.to_thread.run_sync(self.lock.acquire)
        try:
            await self.app(scope, receive, send)
        finally:
            self.lock.release()


@dataclass
class Server:
    url: str
    lock: threading.Lock


@pytest.fixture
def server(app: FastAPI, session: Session, kiosk_mounted: FastAPI) -> Iterator[Server]:
    lock = threading.Lock()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        OneAtATime(app, lock), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield Server(url=f"http://127.0.0.1:{port}", lock=lock)
    uv.should_exit = True
    thread.join(timeout=30)


@pytest.mark.slow
def test_the_screen_changes_code_in_chromium_without_a_reload(
    settings: Settings,
    session: Session,
    clock: FrozenClock,
    side_a: Side,
    activity: Activity,
    server: Server,
) -> None:
    require_tool(CHROMIUM, package="chromium")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is missing (pip install '.[test]')"
    )
    with server.lock:
        code = checkin_issuing.create_code(
            session,
            settings=settings,
            actor=side_a.principal(Role.venue_staff),
            activity_id=activity.id or 0,
            data=CodeCreate(kind=CodeKind.rotating),
            now=clock.now(),
        )
        kiosk_url = checkin_issuing.kiosk_url(
            settings, code, checkin_issuing.activity_target(session, settings, activity)
        )
    assert kiosk_url is not None

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.set_default_timeout(10_000)
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            navigations: list[str] = []
            page.on(
                "framenavigated",
                lambda f: navigations.append(f.url) if f == page.main_frame else None,
            )

            page.goto(server.url + kiosk_url)
            page.wait_for_selector("#qr[data-link] svg path")
            page.wait_for_function(
                "() => document.getElementById('next').textContent.includes('秒')"
            )
            page.evaluate("window.__kioskMarker = 'first load'")

            # The inline style applied (CSP admits it): dark, with a large square QR.
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background == "rgb(11, 18, 32)"
            box = page.locator("#qr").bounding_box()
            assert box is not None
            assert abs(box["width"] - box["height"]) < 1
            assert box["height"] > 0.8 * 720
            assert page.locator("#title").inner_text() == TITLE
            assert page.locator("#status").is_hidden()

            link1 = page.get_attribute("#qr", "data-link")
            assert link1
            assert page.get_attribute("#qr svg path", "d") == path_of(qr_svg_element(link1))

            with server.lock:
                clock.advance(timedelta(seconds=code.step_seconds))
            page.wait_for_function(
                "(old) => document.getElementById('qr').dataset.link !== old",
                arg=link1,
                timeout=10_000,
            )
            link2 = page.get_attribute("#qr", "data-link")
            assert link2
            assert page.get_attribute("#qr svg path", "d") == path_of(qr_svg_element(link2))
            assert page.evaluate("window.__kioskMarker") == "first load"  # not reloaded
            assert navigations == [server.url + kiosk_url]
            assert problems == []  # no CSP violation, no script error, no failed request

            first = codes.parse_venue_code(settings.code_keyring, link1)
            second = codes.parse_venue_code(settings.code_keyring, link2)
            assert link1 != link2
            assert first.short_id == second.short_id == code.short_id
            assert first.step is not None
            assert second.step == first.step + 1

            # A check-in shows up in the count.
            assert page.locator("#count").inner_text() == "0"
            with server.lock:
                add_check_in(
                    session, activity_id=activity.id or 0, student=side_a.student, at=clock.now()
                )
            page.wait_for_function(
                "() => document.getElementById('count').textContent === '1'", timeout=10_000
            )

            # The network fails: a discreet notice, the last code stays; then it recovers.
            page.route("**/state?*", lambda route: route.abort())
            page.wait_for_selector("#status", state="visible", timeout=10_000)
            assert page.locator("#status").inner_text() == "网络中断，正在重连…"
            assert page.get_attribute("#qr", "data-link") == link2
            assert page.locator("#qr svg path").count() == 1
            page.unroute("**/state?*")
            page.wait_for_selector("#status", state="hidden", timeout=10_000)

            # The code is revoked: the screen stops showing it.
            with server.lock:
                code.revoked_at = clock.now()
                session.add(code)
                session.flush()
            page.wait_for_function(
                "() => document.getElementById('qr').dataset.link === ''", timeout=10_000
            )
            assert page.locator("#qr svg").count() == 0
            assert "大屏链接无效" in page.locator("#qr").inner_text()

            assert page.evaluate("window.__kioskMarker") == "first load"
            assert len(navigations) == 1
            # Only the aborted polls and the refused one complain: no CSP violation, no error.
            assert [p for p in problems if not p.startswith("Failed to load resource")] == []
        finally:
            browser.close()


def test_every_wait_between_polls_is_shorter_than_the_servers_keepalive() -> None:
    """The screen's next poll always finds its connection open (SCIPASS_KEEPALIVE_SECONDS is
    at least 30 s): it waits 1 s, 2 s after a failure, 15 s after a refusal, or until the
    next step, and gives a request up after 5 s."""
    waits = [int(ms) for ms in re.findall(r"wait = (\d+);", SCRIPT)]
    assert sorted(waits) == [1000, 2000, 15000]
    timeouts = [
        int(ms) for ms in re.findall(r"setTimeout\(\(\) => abort.abort\(\), (\d+)\)", SCRIPT)
    ]
    assert timeouts == [5000]
    assert max(waits + timeouts) < KEEPALIVE_MIN_SECONDS * 1000
