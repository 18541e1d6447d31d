"""School staff's other pages: the school's own compliance with what is missing, the pupils'
scans (refused ones with their reasons) and recommending competition entries."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from scipass.checkin.errors import ScanRefused
from scipass.console import render
from scipass.console.routing import ConsoleRoute
from scipass.console.school import SEMESTERS, SchoolCaller, allowed, paging, query_of

router = APIRouter(prefix="/console/school", route_class=ConsoleRoute, include_in_schema=False)

STATES = {"met": "达标", "missed": "未达标", "open": "未判定"}
PERIODS = {"week": "每周", "semester": "每学期", "school_year": "每学年", "deadline": "截止日期"}
SCAN_RESULTS = {"accepted": "成功", "duplicate": "重复", "refused": "被拒绝"}
SCAN_SOURCES = {
    "self_scan": "学生扫码",
    "staff_scan": "工作人员扫码",
    "group": "教师团体签到",
    "offline": "离线上传",
}
ROUND_STATES = {
    "submitted": "待学校推荐",
    "declined": "学校不予推荐",
    "recommended": "已推荐",
    "accepted": "已受理",
    "rejected": "未受理",
    "withdrawn": "已撤回",
}


def _refusals() -> dict[str, str]:
    """The refused scans' reason codes, with their Chinese titles (the API's own)."""
    found: dict[str, str] = {}
    pending: list[type[ScanRefused]] = [ScanRefused]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.code and cls.title_zh:
            found.setdefault(cls.code, cls.title_zh)
    return found


REFUSALS = _refusals()


@router.get("/compliance", name="console-school-compliance")
async def school_compliance(request: Request, caller: SchoolCaller) -> HTMLResponse:
    term = query_of(request, ("school_year", "semester"))
    found = await caller.api.get(
        "school-compliance", school_id=caller.principal.school_id or 0, params=term
    )
    return render.page(
        request,
        "school/compliance.html",
        caller=caller,
        found=found,
        term=term,
        semesters=SEMESTERS,
        states=STATES,
        periods=PERIODS,
    )


@router.get("/scans", name="console-school-scans")
async def scans(request: Request, caller: SchoolCaller) -> HTMLResponse:
    filters = query_of(request, ("result", "from_date", "to_date"))
    found = await caller.api.get("school-scan-event-list", params={**filters, **paging(request)})
    return render.page(
        request,
        "school/scans.html",
        caller=caller,
        page=found,
        params=filters,
        filters=filters,
        results=SCAN_RESULTS,
        sources=SCAN_SOURCES,
        refusals=REFUSALS,
    )


@router.get("/entries", name="console-school-entries")
async def entries(request: Request, caller: SchoolCaller) -> HTMLResponse:
    found = await caller.api.get("competition-entry-list", params=paging(request))
    return render.page(
        request,
        "school/entries.html",
        caller=caller,
        page=found,
        params={},
        round_states=ROUND_STATES,
        may=allowed(
            request.app, caller, "competition-entry-recommend", "competition-entry-decline"
        ),
    )
