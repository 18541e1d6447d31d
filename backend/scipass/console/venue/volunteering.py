"""Volunteering: the venue's volunteer roles (listed, created, edited), a role's shifts (listed
and paged on the server, published one by one or as a weekly series, cancelled), a shift's
codes (poster, mini-program code, kiosk screen) and its attendance, whose minutes are
confirmed in one form. Every read and write is the volunteer API's, as the venue's staff."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.venue.common import STAGE, VenueCaller, passed, venue_router
from scipass.core.clock import local_date
from scipass.core.inputs import Id

router = venue_router()

DateText = Annotated[str | None, Query(max_length=20)]
Limit = Annotated[int | None, Query(ge=1, le=100)]
Offset = Annotated[int | None, Query(ge=0)]
PAST_DAYS = 30  # a role's page shows the shifts of the last month too, whose minutes wait

SIGNUP_STATUS = {
    "signed_up": "已报名",
    "waitlisted": "候补中",
    "cancelled": "已取消",
    "attended": "已服务",
    "no_show": "缺席",
}
SHIFT_STATUS = {"open": "开放", "cancelled": "已取消"}
WEEKDAYS = (
    (1, "周一"),
    (2, "周二"),
    (3, "周三"),
    (4, "周四"),
    (5, "周五"),
    (6, "周六"),
    (7, "周日"),
)
CONFIRMABLE = ("signed_up", "attended", "no_show")  # the rows the minutes route confirms
LABELS = {"stage": STAGE, "signup_status": SIGNUP_STATUS, "shift_status": SHIFT_STATUS}


def _latest(codes: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    usable = [c for c in codes if c["kind"] == kind and not c["revoked_at"]]
    return usable[-1] if usable else None


@router.get("/volunteering", name="console-venue-volunteering")
async def roles(
    request: Request,
    caller: VenueCaller,
    inactive: bool = False,
    limit: Limit = None,
    offset: Offset = None,
) -> HTMLResponse:
    params = passed({"inactive": "true" if inactive else None})
    page = await caller.api.get(
        "volunteer-role-list",
        params={
            "venue_id": caller.principal.venue_id,
            "include_inactive": inactive,
            **passed({"limit": limit, "offset": offset}),
        },
    )
    presets = await caller.api.get("volunteer-role-preset-list")
    return render.page(
        request,
        "venue/volunteering.html",
        caller=caller,
        page=page,
        params=params,
        inactive=inactive,
        preset_options=[("", "不用预设（自定义）")] + [(p["key"], p["name"]) for p in presets],
        role_options=[("", "无")] + [(r["id"], r["name"]) for r in page["items"]],
        labels=LABELS,
    )


@router.get("/volunteering/roles/{role_id}", name="console-venue-volunteer-role")
async def role(
    request: Request,
    caller: VenueCaller,
    role_id: Id,
    from_date: DateText = None,
    to_date: DateText = None,
    limit: Limit = None,
    offset: Offset = None,
) -> HTMLResponse:
    found = await caller.api.get("managed-volunteer-role-get", role_id=role_id)
    since = from_date or str(
        local_date(caller.api.app.state.clock.now()) - timedelta(days=PAST_DAYS)
    )
    params = passed({"from_date": since, "to_date": to_date})
    shifts = await caller.api.get(
        "volunteer-shift-list",
        role_id=role_id,
        params={**params, **passed({"limit": limit, "offset": offset})},
    )
    others = await caller.api.get(
        "volunteer-role-list",
        params={"venue_id": caller.principal.venue_id, "include_inactive": True, "limit": 100},
    )
    return render.page(
        request,
        "venue/volunteer_role.html",
        caller=caller,
        role=found,
        shifts=shifts,
        params=params,
        role_options=[("", "不变")]
        + [(r["id"], r["name"]) for r in others["items"] if r["id"] != role_id],
        weekdays=WEEKDAYS,
        labels=LABELS,
    )


@router.get("/volunteering/shifts/{shift_id}", name="console-venue-volunteer-shift")
async def shift(
    request: Request,
    caller: VenueCaller,
    shift_id: Id,
    limit: Limit = None,
    offset: Offset = None,
) -> HTMLResponse:
    found = await caller.api.get("managed-volunteer-shift-get", shift_id=shift_id)
    codes = await caller.api.get("volunteer-shift-code-list", shift_id=shift_id)
    attendance = await caller.api.get(
        "volunteer-shift-attendance",
        shift_id=shift_id,
        params=passed({"limit": limit or 100, "offset": offset}),
    )
    return render.page(
        request,
        "venue/volunteer_shift.html",
        caller=caller,
        shift=found,
        static=_latest(codes["items"], "static"),
        rotating=_latest(codes["items"], "rotating"),
        attendance=attendance,
        params={},
        confirmable=CONFIRMABLE,
        labels=LABELS,
    )
