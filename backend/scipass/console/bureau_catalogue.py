"""The bureau's catalogue pages: competitions (listed by region, created, their whitelist entry
set, an edition added), the whitelists (a local list created, entries added one by one or
imported from XLSX, exported), and the region's public-notice length (公示 working days).

Reads and writes are the API's: the catalogue and the whitelists are read by everyone signed
in (``GET /competitions``, ``GET /competition-whitelists``), written by a bureau only (the
platform reads); the notice length is a bureau's for its region and the regions below it
(the platform's for any region)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.bureau_compliance import BureauPage, number
from scipass.console.bureau_venues import STAGES
from scipass.console.calls import ApiProblem
from scipass.console.deps import Caller
from scipass.console.routing import ConsoleRoute
from scipass.core.auth import Role
from scipass.core.clock import local_date

router = APIRouter(prefix="/console/bureau", route_class=ConsoleRoute, include_in_schema=False)

CATEGORIES = {
    "robotics": "机器人",
    "innovation_contest": "科技创新大赛",
    "drone": "无人机",
    "invention": "发明创造",
    "programming_ai": "编程与人工智能",
    "science_drama": "科普剧",
    "science_survey": "科学调查",
    "science_film": "科普影视",
    "olympiad": "学科奥赛",
    "other": "其他",
}
LEVELS = {
    "school": "校级",
    "county": "县级",
    "city": "市级",
    "province": "省级",
    "national": "全国",
}
WHITELISTS_READ = 20  # whitelists whose entries the competition forms offer


def _paging(request: Request) -> dict[str, int]:
    query = request.query_params
    return {
        "limit": number(query.get("limit"), 20, low=1, high=100),
        "offset": number(query.get("offset"), 0),
    }


async def _entries(caller: Caller) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The whitelists with their entries, for the forms that choose an entry."""
    lists = await caller.api.get("whitelist-list", params={"limit": WHITELISTS_READ})
    found = []
    for whitelist in lists["items"]:
        entries = await caller.api.get(
            "whitelist-entries", params={"limit": 100}, whitelist_id=whitelist["id"]
        )
        found.append((whitelist, entries["items"]))
    return found


def _context(caller: Caller) -> dict[str, Any]:
    return {
        "categories": CATEGORIES,
        "levels": LEVELS,
        "stages": STAGES,
        "may_write": caller.principal.role is Role.bureau,
        "this_year": local_date(caller.api.app.state.clock.now()).year,
    }


@router.get("/competitions", name="console-bureau-competitions")
async def competitions_page(request: Request, caller: BureauPage) -> HTMLResponse:
    region = request.query_params.get("region_code", "").strip()
    params: dict[str, Any] = dict(_paging(request))
    if region or caller.principal.region_code:
        params["region_code"] = region or caller.principal.region_code
    competitions = await caller.api.get("competition-list", params=params)
    whitelists = await _entries(caller) if caller.principal.role is Role.bureau else []
    return render.page(
        request,
        "bureau/competitions.html",
        caller=caller,
        competitions=competitions,
        whitelists=whitelists,
        filters={"region_code": region},
        **_context(caller),
    )


@router.get("/competitions/{competition_id}", name="console-bureau-competition")
async def competition_page(
    request: Request, competition_id: int, caller: BureauPage
) -> HTMLResponse:
    competition = await caller.api.get("competition-get", competition_id=competition_id)
    mine = caller.principal.role is Role.bureau and competition["bureau_id"] == (
        caller.principal.bureau_id
    )
    return render.page(
        request,
        "bureau/competition.html",
        caller=caller,
        competition=competition,
        whitelists=await _entries(caller) if mine else [],
        mine=mine,
        **_context(caller),
    )


@router.get("/whitelists", name="console-bureau-whitelists")
async def whitelists_page(request: Request, caller: BureauPage) -> HTMLResponse:
    whitelists = await caller.api.get("whitelist-list", params=_paging(request))
    return render.page(
        request,
        "bureau/whitelists.html",
        caller=caller,
        whitelists=whitelists,
        **_context(caller),
    )


@router.get("/whitelists/{whitelist_id}", name="console-bureau-whitelist")
async def whitelist_page(request: Request, whitelist_id: int, caller: BureauPage) -> HTMLResponse:
    lists = await caller.api.get("whitelist-list", params={"limit": 100})
    whitelist = next((w for w in lists["items"] if w["id"] == whitelist_id), None)
    entries = await caller.api.get(
        "whitelist-entries", params=_paging(request), whitelist_id=whitelist_id
    )
    if whitelist is None:  # beyond the first hundred lists: named by its id only
        whitelist = {"id": whitelist_id, "name": f"白名单 {whitelist_id}", "region_code": None}
    mine = (
        caller.principal.role is Role.bureau
        and whitelist.get("region_code") == caller.principal.region_code
    )
    return render.page(
        request,
        "bureau/whitelist.html",
        caller=caller,
        whitelist=whitelist,
        entries=entries,
        mine=mine,
        **_context(caller),
    )


@router.get("/notice-setting", name="console-bureau-notice-setting")
async def notice_setting_page(request: Request, caller: BureauPage) -> HTMLResponse:
    region = request.query_params.get("region_code", "").strip() or caller.principal.region_code
    setting = problem = None
    status = 200
    if region:
        try:
            setting = await caller.api.get("notice-setting-get", region_code=region)
        except ApiProblem as exc:
            if exc.status >= 500:
                raise
            problem, status = exc.problem, exc.status
    return render.page(
        request,
        "bureau/notice_setting.html",
        caller=caller,
        region=region or "",
        setting=setting,
        problem=problem,
        status=status,
    )
