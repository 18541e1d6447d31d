"""School staff's pages of files: the roster (the pupils, importing a roster file with every bad
row shown against its line, the binding codes of a class) and exports (CSV, XLSX, a pupil's
PDF file, large ones as jobs, and the pupils an export leaves out for lack of consent)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from scipass.console import render
from scipass.console.routing import ConsoleRoute
from scipass.console.school import (
    GRADES,
    SEMESTERS,
    STATUSES,
    SchoolCaller,
    allowed,
    paging,
    query_of,
)

router = APIRouter(prefix="/console/school", route_class=ConsoleRoute, include_in_schema=False)

DECISIONS = {
    None: "从未作答",
    "refuse": "已拒绝",
    "withdraw": "已撤回同意",
    "grant": "同意已失效（告知书更新或监护关系解除）",
}
JOB_STATUSES = {
    "queued": "排队中",
    "running": "进行中",
    "done": "已完成",
    "failed": "失败",
    "expired": "文件已过期",
}
JOB_KINDS = {"record-export": "写实记录导出", "record-files": "科技实践档案（ZIP）"}


@router.get("/roster", name="console-school-roster")
async def roster(request: Request, caller: SchoolCaller) -> HTMLResponse:
    filters = query_of(request, ("grade", "class_name", "q", "bound"))
    found = await caller.api.get("student-list", params={**filters, **paging(request)})
    return render.page(
        request,
        "school/roster.html",
        caller=caller,
        page=found,
        params=filters,
        filters=filters,
        grades=GRADES,
        may=allowed(
            request.app,
            caller,
            "roster-import",
            "roster-template",
            "roster-binding-codes",
            "record-file",
        ),
    )


EXPORT_FILTERS = ("grade", "class_name", "school_year", "semester", "status")


@router.get("/exports", name="console-school-exports")
async def exports(request: Request, caller: SchoolCaller) -> HTMLResponse:
    filters = query_of(request, EXPORT_FILTERS)
    withheld = await caller.api.get("record-export-withheld", params={**filters, **paging(request)})
    jobs = await caller.api.get("job-list", params={"limit": 10})
    return render.page(
        request,
        "school/exports.html",
        caller=caller,
        page=withheld,
        params=filters,
        filters=filters,
        grades=GRADES,
        grade_names=dict(GRADES),
        semesters=SEMESTERS,
        statuses=[("", "全部状态"), *STATUSES],
        decisions=DECISIONS,
        jobs=jobs["items"],
        job_statuses=JOB_STATUSES,
        job_kinds=JOB_KINDS,
        may=allowed(request.app, caller, "record-export", "record-export-job", "record-files-job"),
    )
