"""The door scanner in Chromium, as a venue worker at 湘潭市科技馆 uses it with the demo's open
day: a pupil's code read by the camera while the network is down (Chromium's fake camera
plays a QR code), queued and uploaded when it returns; a revoked card refused at the door (an
image fed to the camera); a code typed in by hand. How long each verdict took to show (the
page's own performance marks) is written to ``test-artifacts/console/door-verdict-ms.jsonl``;
``bench/door_verdict.py`` runs these tests and compares it with the quarter of a second the
issue asks for (a timed assertion here would fail on a loaded machine, not on slow code)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import qrcode
from PIL import Image
from sqlmodel import col, select

from scipass.activity.models import Activity
from scipass.checkin import cards as checkin_cards
from scipass.checkin.models import CheckIn, ScanEvent, ScanSource
from scipass.core.auth import Principal, Role
from scipass.roster.models import Student
from tests.console.browser import (
    ARTIFACTS,
    DEMO_NOW,
    TABLET_PORTRAIT,
    DemoServer,
    PageProblems,
    check_accessibility,
    demo_server,
    open_browser,
    screenshot,
    signed_in,
)

pytestmark = pytest.mark.slow

OPEN_DAY = "科技活动周·科技馆开放日"  # the venue's activity of the demo day, open admission
VERDICT_LOG = ARTIFACTS / "door-verdict-ms.jsonl"  # read by bench/door_verdict.py


@dataclass(frozen=True)
class Door:
    server: DemoServer
    activity_id: int
    pupils: list[Student]  # 14 or older (no guardian consent needed), not yet in today
    camera_code: str  # what the fake camera shows, for pupils[0]


def qr_image(text: str, size: int = 400) -> Image.Image:
    made = qrcode.make(text, border=4).get_image().convert("L")
    return made.resize((size, size), Image.Resampling.NEAREST)


def write_y4m(path: Path, text: str, width: int = 640, height: int = 480) -> None:
    """A one-frame YUV 4:2:0 video of a QR code, which Chromium's fake camera plays in a loop."""
    frame = Image.new("L", (width, height), 255)
    frame.paste(qr_image(text), ((width - 400) // 2, (height - 400) // 2))
    y, u, v = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    path.write_bytes(
        f"YUV4MPEG2 W{width} H{height} F5:1 Ip A1:1 C420jpeg\n".encode()
        + b"FRAME\n"
        + y.tobytes()
        + u.resize(half).tobytes()
        + v.resize(half).tobytes()
    )


def png_data_url(text: str) -> str:
    out = io.BytesIO()
    qr_image(text).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


# Replaces the camera with a canvas that shows an image: the page's decoding runs as ever.
FAKE_CAMERA = """(url) => {
  navigator.mediaDevices.getUserMedia = async () => {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = 640; canvas.height = 480;
    const g = canvas.getContext("2d");
    const draw = () => { g.fillStyle = "#fff"; g.fillRect(0, 0, 640, 480);
      g.drawImage(image, 120, 40, 400, 400); };
    draw();
    setInterval(draw, 100);
    return canvas.captureStream(10);
  };
}"""


def code_for(door: Door, student: Student) -> str:
    return checkin_cards.personal_code(
        door.server.settings,
        student_id=student.id or 0,
        expires_at=DEMO_NOW + timedelta(minutes=30),
    )


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Door]:
    with demo_server(tmp_path_factory.mktemp("door")) as server:
        with server.session() as session:
            activity = session.exec(select(Activity).where(Activity.title == OPEN_DAY)).one()
            inside = select(CheckIn.student_id).where(CheckIn.activity_id == activity.id)
            pupils = list(
                session.exec(
                    select(Student)
                    .where(
                        col(Student.birth_month) <= DEMO_NOW.date().replace(year=2012),
                        col(Student.id).not_in(inside),
                    )
                    .order_by(col(Student.id))
                    .limit(3)
                ).all()
            )
            assert len(pupils) == 3
            activity_id = activity.id or 0
        found = Door(server, activity_id, pupils, "")
        yield Door(server, activity_id, pupils, code_for(found, pupils[0]))


@pytest.fixture(scope="module")
def browser(door: Door, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    video = tmp_path_factory.mktemp("camera") / "code.y4m"
    write_y4m(video, door.camera_code)
    flags = [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with open_browser(args=flags) as found:
        yield found


def open_door(browser: Any, door: Door) -> Any:
    page = signed_in(browser, door.server, "xtkjg-staff", viewport=TABLET_PORTRAIT)
    page.get_by_role("link", name="门口扫码").first.click()
    page.get_by_label("活动", exact=True).select_option(value=str(door.activity_id))
    page.get_by_role("button", name="打开此活动的扫码").click()
    page.wait_for_selector('#door[data-ready="true"]')
    return page


def verdict(page: Any, scan: int, source: str) -> dict[str, str]:
    """The verdict of the page's ``scan``-th read once its ``source`` says it."""
    page.wait_for_selector(f'#door-verdict[data-scan="{scan}"][data-source="{source}"]')
    return page.eval_on_selector(
        "#door-verdict",
        "b => ({state: b.dataset.state, local: b.dataset.localResult, text: b.innerText})",
    )


def log_verdict_ms(page: Any, case: str) -> None:
    """Append how long each verdict took to show, from the decode to the frame that shows it,
    and jsQR's time on a camera frame, for bench/door_verdict.py."""
    measures = "performance.getEntriesByName('door-verdict', 'measure')"
    page.wait_for_function(f"{measures}.length > 0")
    verdicts = page.evaluate(f"{measures}.map(m => m.duration)")
    decodes = page.evaluate(
        "performance.getEntriesByName('door-decode', 'measure').map(m => m.duration)"
    )
    assert all(ms > 0 for ms in verdicts)  # the page measured a decode before each verdict
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with VERDICT_LOG.open("a", encoding="utf-8") as log:
        log.write(json.dumps({"case": case, "verdict_ms": verdicts, "decode_ms": decodes}) + "\n")


def test_a_code_read_offline_is_queued_and_uploaded_when_the_network_returns(
    door: Door, browser: Any
) -> None:
    page = open_door(browser, door)
    problems = PageProblems(page)
    page.wait_for_selector(
        '#door-offline[data-offline-ready="true"]', state="attached", timeout=90_000
    )  # the page tries again when the worker's install or a fetch fails
    check_accessibility(page)

    context = page.context
    context.set_offline(True)
    page.reload()  # the service worker answers with the page it kept
    page.wait_for_selector('#door[data-ready="true"]')
    kept = "fetch(location.href).then(r => r.headers.get('x-scipass-offline-copy'))"
    assert page.evaluate(kept) == "1"  # the worker's copy, not the network
    assert "离线" in page.locator("#door-network").inner_text()

    page.get_by_role("button", name="打开摄像头").click()  # the fake camera shows pupils[0]
    shown = verdict(page, 1, "queued")
    assert shown["state"] == "accepted"
    assert f"学生编号 {door.pupils[0].id}" in shown["text"]
    assert page.locator("#door-queue-count").inner_text() == "1"
    log_verdict_ms(page, "offline, fake camera")
    screenshot(page, "door-scanner")

    context.set_offline(False)  # the online event uploads the queue
    row = page.locator("#door-results tbody tr").first
    row.wait_for()
    assert "已签到" in row.inner_text()
    page.wait_for_function("document.getElementById('door-queue-count').textContent === '0'")
    with door.server.session() as session:
        visit = session.exec(
            select(CheckIn).where(
                CheckIn.student_id == door.pupils[0].id, CheckIn.activity_id == door.activity_id
            )
        ).one()
    assert visit.source == ScanSource.offline
    assert problems.seen == [], problems.seen

    # signing out forgets the door pages kept for offline use (they name the staff member)
    door_pages = """async () => { const found = [];
        for (const name of await caches.keys()) { const c = await caches.open(name);
          for (const r of await c.keys()) { if (new URL(r.url).pathname.startsWith('/console/door'))
            found.push(r.url); } }
        return found; }"""
    assert page.evaluate(door_pages)  # kept while signed in
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/console/login")
    assert page.evaluate(door_pages) == []
    context.close()


def test_a_revoked_card_is_refused_at_the_door(door: Door, browser: Any) -> None:
    pupil = door.pupils[1]
    school_admin = Principal(subject="account:1", role=Role.school_admin, school_id=pupil.school_id)
    with door.server.database.transaction() as session:
        code, card = checkin_cards.personal_card(
            session,
            settings=door.server.settings,
            actor=school_admin,
            student_id=pupil.id or 0,
            valid_days=30,
            now=DEMO_NOW,
        )
        checkin_cards.revoke_personal_card(
            session, actor=school_admin, card_id=card.id or 0, reason="卡片丢失", now=DEMO_NOW
        )
    page = signed_in(browser, door.server, "xtkjg-staff", viewport=TABLET_PORTRAIT)
    page.add_init_script(f"({FAKE_CAMERA})({json.dumps(png_data_url(code))})")
    page.goto(f"{door.server.url}/console/door?activity_id={door.activity_id}")
    page.wait_for_selector('#door[data-ready="true"]')
    page.get_by_role("button", name="打开摄像头").click()
    shown = verdict(page, 1, "server")
    assert shown["local"] == "refused"  # the page refused it before the server answered
    assert shown["state"] == "refused"
    assert "挂失" in shown["text"]
    log_verdict_ms(page, "revoked card, injected image")
    with door.server.session() as session:
        event = session.exec(
            select(ScanEvent).where(
                ScanEvent.student_id == pupil.id, ScanEvent.activity_id == door.activity_id
            )
        ).one()
        assert (event.result, event.reason) == ("refused", "code_revoked")
        visits = select(CheckIn).where(
            CheckIn.student_id == pupil.id, CheckIn.activity_id == door.activity_id
        )
        assert session.exec(visits).all() == []
    page.context.close()


def test_a_code_typed_in_by_hand(door: Door, browser: Any) -> None:
    pupil = door.pupils[2]
    page = open_door(browser, door)
    page.get_by_label("手动输入个人码").fill(code_for(door, pupil))
    page.get_by_role("button", name="核验并签到").click()
    shown = verdict(page, 1, "server")
    assert shown["local"] == "accepted"
    assert shown["state"] == "accepted"
    assert "*" in shown["text"]  # the masked name the server answers
    assert pupil.name not in shown["text"]
    log_verdict_ms(page, "typed in")
    check_accessibility(page)  # with a verdict and the recent scans shown
    with door.server.session() as session:
        visit = session.exec(select(CheckIn).where(CheckIn.student_id == pupil.id)).one()
    assert (visit.activity_id, visit.source) == (door.activity_id, ScanSource.staff_scan)
    page.context.close()
