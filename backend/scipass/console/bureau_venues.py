"""The bureau's venue pages: the queue of submitted venue profiles (approve, or return with a
reason), one profile's changes against what is live, and the directory's yearly edition
(published by a form; the editions listed).

Reads: ``GET /venue-reviews`` (the region's queue, paged by the API), ``GET
/venues/{id}/profile`` (a venue of the region; another region's is the API's 404), ``GET
/directory-editions``. Writes: ``POST /venues/{id}/profile-review`` and ``POST
/directory-editions`` (a bureau's own region; the platform does not publish)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.bureau_compliance import BureauPage, number
from scipass.console.routing import ConsoleRoute
from scipass.core.auth import Role
from scipass.core.clock import local_date
from scipass.venue.service import KIND_LABELS

router = APIRouter(prefix="/console/bureau", route_class=ConsoleRoute, include_in_schema=False)

STAGES = {"primary": "小学", "junior": "初中", "senior": "普通高中", "vocational": "中职"}
WEEKDAYS = "一二三四五六日"
FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "名称"),
    ("kind", "类型"),
    ("region_code", "所在地区（代码）"),
    ("address", "地址"),
    ("location", "经纬度（GCJ-02）"),
    ("phone", "电话"),
    ("services", "服务内容"),
    ("facilities", "设施条件"),
    ("weekly_hours", "每周开放时间"),
    ("is_free", "免费"),
    ("fee_note", "收费说明"),
    ("stages", "适合学段"),
    ("reservation_required", "需要预约"),
    ("photos", "照片"),
)


def _hours(week: dict[str, list[list[str]]]) -> str:
    days = []
    for key in sorted(week, key=int):
        periods = week[key]
        text = "、".join(f"{a}-{b}" for a, b in periods) if periods else "闭馆"
        days.append(f"周{WEEKDAYS[int(key) - 1]} {text}")
    return "；".join(days)


def shown(profile: dict[str, Any] | None) -> dict[str, str]:
    """A profile's fields as the officer reads them."""
    if profile is None:
        return {}
    yes_no = {True: "是", False: "否"}
    return {
        "name": profile["name"],
        "kind": KIND_LABELS.get(profile["kind"], profile["kind"]),
        "region_code": profile["region_code"],
        "address": profile["address"],
        "location": f"{profile['longitude']}, {profile['latitude']}",
        "phone": profile["phone"],
        "services": profile["services"],
        "facilities": profile["facilities"],
        "weekly_hours": _hours(profile["weekly_hours"]),
        "is_free": yes_no[profile["is_free"]],
        "fee_note": profile["fee_note"],
        "stages": "、".join(STAGES.get(s, s) for s in profile["stages"]),
        "reservation_required": yes_no[profile["reservation_required"]],
        "photos": f"{len(profile['photos'])} 张",
    }


@router.get("/venues", name="console-bureau-venues")
async def venues_page(request: Request, caller: BureauPage) -> HTMLResponse:
    query = request.query_params
    params = {
        "limit": number(query.get("limit"), 20, low=1, high=100),
        "offset": number(query.get("offset"), 0),
    }
    pending = await caller.api.get("venue-review-list", params=params)
    return render.page(request, "bureau/venues.html", caller=caller, pending=pending)


@router.get("/editions", name="console-bureau-editions")
async def editions_page(request: Request, caller: BureauPage) -> HTMLResponse:
    query = request.query_params
    filters = {
        "region_code": query.get("region_code", "").strip(),
        "year": query.get("year", "").strip(),
    }
    asked = {
        "region_code": filters["region_code"] or caller.principal.region_code or "",
        "year": filters["year"],
        "limit": number(query.get("limit"), 20, low=1, high=100),
        "offset": number(query.get("offset"), 0),
    }
    editions = await caller.api.get(
        "directory-edition-list", params={k: v for k, v in asked.items() if v != ""}
    )
    return render.page(
        request,
        "bureau/editions.html",
        caller=caller,
        editions=editions,
        filters=filters,
        may_publish=caller.principal.role is Role.bureau,
        this_year=local_date(caller.api.app.state.clock.now()).year,
    )


@router.get("/venues/{venue_id}", name="console-bureau-venue")
async def venue_page(request: Request, venue_id: int, caller: BureauPage) -> HTMLResponse:
    state = await caller.api.get("venue-profile-get", venue_id=venue_id)
    live, draft = shown(state["live"]), shown(state["draft"])
    rows = [
        (
            key,
            label,
            live.get(key, ""),
            draft.get(key, ""),
            bool(draft) and live.get(key) != draft.get(key),
        )
        for key, label in FIELDS
    ]
    return render.page(
        request,
        "bureau/venue.html",
        caller=caller,
        state=state,
        rows=rows,
        name=(state["draft"] or state["live"] or {}).get("name", f"场馆 {venue_id}"),
    )
