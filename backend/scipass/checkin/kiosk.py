"""The venue screen (签到大屏): a rotating check-in code, full screen, that changes in place.

* ``GET /kiosk/{activity_id}?token=...`` — the page: the code as large as the screen allows,
  the activity's title, place and organiser, today's count and a countdown to the next code.
* ``GET /kiosk/{activity_id}/state?token=...`` — what the page polls about every second (and
  right after a step ends): the current link and its SVG, the step and today's count.
* ``GET /kiosk/shifts/{shift_id}`` and ``.../state`` — the same page and state for a volunteer
  shift's rotating code: the shift's title, place and organiser, and the pupils who arrived.

The token is the kiosk token of a rotating code (its ``kiosk_url``); every request checks it
through :func:`scipass.checkin.issuing.kiosk_state`, so a revoked code leaves the screen at the
next poll. The page is self-contained (inline CSS and JS, no outside host), is never cached,
cannot be framed, sends no referrer (the token is in its URL) and runs under a strict
Content-Security-Policy that admits only its own inline script and style, by hash. The page
and its script are the same for both targets (the script polls ``./<id>/state`` of whatever
path it was opened at); only the words around the count differ.

These routes serve a browser, not the mini-program, so they stay out of the OpenAPI document.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from scipass.checkin import issuing as checkin_issuing
from scipass.checkin import render
from scipass.checkin.errors import KioskTokenInvalid
from scipass.checkin.issuing import TargetKind
from scipass.core.auth import public_access
from scipass.core.clock import Clock, ClockDep
from scipass.core.config import Settings
from scipass.core.db import ReadOnlySessionDep
from scipass.core.deps import SettingsDep
from scipass.core.inputs import Id

kiosk_router = APIRouter(
    prefix="/kiosk",
    tags=["kiosk"],
    include_in_schema=False,
    dependencies=[Depends(public_access)],  # the kiosk token is checked by kiosk_state
)

TokenQuery = Annotated[str, Query(max_length=256, description="大屏令牌（签到码的 kiosk_url 中）")]


class KioskStateRead(BaseModel):
    title: str
    place: str
    organiser: str
    link: str = Field(description="二维码中的链接（当前这一步的动态码）")
    svg: str = Field(description="二维码，可直接内嵌到 HTML 的 <svg> 元素")
    step: int
    step_seconds: int
    step_ends_at: datetime
    seconds_left: float = Field(description="距下一次换码的秒数（按服务器时钟）")
    checked_in: int = Field(
        description="活动：今日（北京时间）已签到人数；志愿服务班次：本班次已到岗人数"
    )
    ends_at: datetime


# --- the page ----------------------------------------------------------------------------------

STYLE = """
*{box-sizing:border-box;margin:0;padding:0}
html,body{height:100%}
body{background:#0b1220;color:#e8edf5;overflow:hidden;
font-family:system-ui,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif}
[hidden]{display:none!important}
main{height:100%;display:flex;align-items:center;justify-content:center;gap:4vmin;padding:3vmin}
.qr{flex:none;width:min(94vh,60vw);aspect-ratio:1;background:#fff;padding:1vmin;
border-radius:1vmin}
.qr svg{display:block;width:100%;height:100%}
.qr.off{display:flex;align-items:center;justify-content:center;background:#1e293b;
color:#fca5a5;font-size:3.2vmin;text-align:center;padding:4vmin}
.info{flex:1;min-width:0;display:flex;flex-direction:column;gap:3vmin}
h1{font-size:clamp(24px,6vmin,88px);line-height:1.2;overflow-wrap:anywhere}
.meta{font-size:clamp(14px,3vmin,40px);color:#9fb0c8;line-height:1.5;overflow-wrap:anywhere}
.count{font-size:clamp(18px,4vmin,56px)}
.count strong{color:#4ade80;font-size:1.6em;font-variant-numeric:tabular-nums;margin:0 .15em}
.progress{height:max(4px,.8vmin);background:#1e293b;border-radius:1vmin;overflow:hidden}
.progress div{height:100%;background:#38bdf8;transform-origin:left center}
.next{font-size:clamp(12px,2.4vmin,32px);color:#9fb0c8;font-variant-numeric:tabular-nums}
.hint{font-size:clamp(14px,2.8vmin,36px);color:#cbd5e1;line-height:1.5}
.status{position:fixed;right:2vmin;bottom:1.5vmin;font-size:clamp(12px,2vmin,24px);
color:#fbbf24;opacity:.85}
.error{flex-direction:column;text-align:center;gap:3vmin}
.error p{font-size:clamp(16px,3vmin,36px);color:#cbd5e1;line-height:1.6}
@media (orientation:portrait){
main{flex-direction:column;gap:3vmin}
.qr{width:min(92vw,62vh)}
.info{flex:none;width:100%;text-align:center}
}
"""

# Reads the first state from the page's data attributes, then polls ./<activity>/state about
# every second and right after the step ends. The countdown runs on the browser's monotonic
# clock from the server's seconds_left, so a screen with a wrong clock still counts right.
# Every wait (1 s; 2 s after a failure; 15 s after a refusal) stays below the server's
# keep-alive (SCIPASS_KEEPALIVE_SECONDS, at least 30 s), so a poll finds its connection open.
SCRIPT = """
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const qr = $("qr"), count = $("count"), bar = $("bar"), next = $("next"), status = $("status");
  const token = new URLSearchParams(location.search).get("token") || "";
  const activity = location.pathname.replace(/\\/+$/, "").split("/").pop();
  const url = new URL("./" + encodeURIComponent(activity) + "/state", location.href);
  url.searchParams.set("token", token);
  let stepSeconds = Number(document.body.dataset.stepSeconds);
  let deadline = performance.now() + Number(document.body.dataset.secondsLeft) * 1000;

  function put(id, text) {
    const node = $(id);
    if (node.textContent !== text) node.textContent = text;
  }

  function show(state) {
    if (qr.dataset.link !== state.link || qr.classList.contains("off")) {
      qr.innerHTML = state.svg;
      qr.classList.remove("off");
      qr.dataset.link = state.link;
    }
    put("count", String(state.checked_in));
    put("title", state.title);
    put("place", state.place);
    put("organiser", state.organiser);
    put("step-seconds", String(state.step_seconds));
    stepSeconds = state.step_seconds;
    deadline = performance.now() + state.seconds_left * 1000;
    status.hidden = true;
  }

  function refused(problem) {
    qr.classList.add("off");
    qr.dataset.link = "";
    qr.textContent = (problem && problem.title) || "大屏链接已失效，请在管理后台重新打开";
    status.hidden = true;
  }

  function tick() {
    const left = Math.max(0, deadline - performance.now());
    bar.style.transform = "scaleX(" + Math.min(1, left / (stepSeconds * 1000)) + ")";
    next.textContent = Math.ceil(left / 1000) + " 秒后更换二维码";
  }

  async function poll() {
    let wait = 1000;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 5000);
    try {
      const response = await fetch(url, {
        cache: "no-store",
        headers: { Accept: "application/json", "Accept-Language": "zh-CN" },
        signal: abort.signal,
      });
      if (response.status === 401) {
        refused(await response.json().catch(() => null));
        wait = 15000;
      } else if (!response.ok) {
        throw new Error("HTTP " + response.status);
      } else {
        show(await response.json());
      }
    } catch (error) {
      status.hidden = false;
      wait = 2000;
    } finally {
      clearTimeout(timer);
    }
    const untilNext = deadline - performance.now() + 150;
    setTimeout(poll, Math.max(200, Math.min(wait, untilNext)));
  }

  tick();
  setInterval(tick, 250);
  setTimeout(poll, Math.max(200, Math.min(1000, deadline - performance.now() + 150)));
})();
"""


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        f"script-src {_sha256(SCRIPT)}",
        f"style-src {_sha256(STYLE)}",
        "img-src data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


def _head(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n"
    )


@dataclass(frozen=True, slots=True)
class _Words:
    count: str  # before the count
    hint: str  # before the step's seconds


WORDS = {
    TargetKind.activity: _Words("今日已签到", "请用微信扫一扫签到"),
    TargetKind.shift: _Words("本班次已到岗", "志愿者请用微信扫一扫到岗、离岗"),
}


def kiosk_page(state: checkin_issuing.KioskState, seconds_left: float) -> str:
    """The page as first shown; the script keeps it current."""
    svg = render.qr_svg_element(state.link)
    words = WORDS[state.kind]
    return (
        _head(f"签到大屏 · {state.title}")
        + f'<body data-step-seconds="{state.step_seconds}" data-seconds-left="{seconds_left}">\n'
        "<main>\n"
        f'<div class="qr" id="qr" data-link="{escape(state.link, quote=True)}">{svg}</div>\n'
        '<section class="info">\n'
        f'<h1 id="title">{escape(state.title)}</h1>\n'
        '<p class="meta">地点：<span id="place">'
        f'{escape(state.place)}</span><br>主办：<span id="organiser">'
        f"{escape(state.organiser)}</span></p>\n"
        f'<p class="count">{words.count}<strong id="count">{state.checked_in}</strong>人</p>\n'
        '<div class="progress"><div id="bar"></div></div>\n'
        '<p class="next" id="next"></p>\n'
        f'<p class="hint">{words.hint}；二维码每 <span id="step-seconds">'
        f"{state.step_seconds}</span> 秒更新，截图转发无效</p>\n"
        "</section>\n</main>\n"
        '<p class="status" id="status" role="status" hidden>网络中断，正在重连…</p>\n'
        f"<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def error_page(message: str) -> str:
    return (
        _head("签到大屏") + '<body>\n<main class="error">\n<h1>无法打开签到大屏</h1>\n'
        f"<p>{escape(message)}</p>\n</main>\n</body>\n</html>\n"
    )


def _seconds_left(state: checkin_issuing.KioskState, now: datetime) -> float:
    return round(max(0.0, (state.step_ends_at - now).total_seconds()), 3)


def _page(
    session: Session, settings: Settings, clock: Clock, kind: TargetKind, target_id: int, token: str
) -> HTMLResponse:
    now = clock.now()
    try:
        state = checkin_issuing.kiosk_state(
            session, settings=settings, kind=kind, target_id=target_id, token=token, now=now
        )
    except KioskTokenInvalid as error:
        return HTMLResponse(
            error_page(error.detail_zh or error.title_zh),
            status_code=error.status,
            headers=PAGE_HEADERS,
        )
    return HTMLResponse(kiosk_page(state, _seconds_left(state, now)), headers=PAGE_HEADERS)


def _state(
    session: Session,
    settings: Settings,
    clock: Clock,
    response: Response,
    kind: TargetKind,
    target_id: int,
    token: str,
) -> KioskStateRead:
    now = clock.now()
    try:
        state = checkin_issuing.kiosk_state(
            session, settings=settings, kind=kind, target_id=target_id, token=token, now=now
        )
    except KioskTokenInvalid as error:
        error.headers.update(NO_STORE)
        raise
    response.headers.update(NO_STORE)
    return KioskStateRead(
        title=state.title,
        place=state.place,
        organiser=state.organiser,
        link=state.link,
        svg=render.qr_svg_element(state.link),
        step=state.step,
        step_seconds=state.step_seconds,
        step_ends_at=state.step_ends_at,
        seconds_left=_seconds_left(state, now),
        checked_in=state.checked_in,
        ends_at=state.ends_at,
    )


# A shift's routes come first, so that no /kiosk/shifts/... path is read as an activity's.
@kiosk_router.get("/shifts/{shift_id}", name="kiosk-shift-page", response_class=HTMLResponse)
def kiosk_shift_page_get(
    shift_id: Id,
    session: ReadOnlySessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    token: TokenQuery = "",
) -> HTMLResponse:
    return _page(session, settings, clock, TargetKind.shift, shift_id, token)


@kiosk_router.get("/shifts/{shift_id}/state", name="kiosk-shift-state")
def kiosk_shift_state_get(
    shift_id: Id,
    response: Response,
    session: ReadOnlySessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    token: TokenQuery = "",
) -> KioskStateRead:
    return _state(session, settings, clock, response, TargetKind.shift, shift_id, token)


@kiosk_router.get("/{activity_id}", name="kiosk-page", response_class=HTMLResponse)
def kiosk_page_get(
    activity_id: Id,
    session: ReadOnlySessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    token: TokenQuery = "",
) -> HTMLResponse:
    return _page(session, settings, clock, TargetKind.activity, activity_id, token)


@kiosk_router.get("/{activity_id}/state", name="kiosk-state")
def kiosk_state_get(
    activity_id: Id,
    response: Response,
    session: ReadOnlySessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    token: TokenQuery = "",
) -> KioskStateRead:
    return _state(session, settings, clock, response, TargetKind.activity, activity_id, token)
