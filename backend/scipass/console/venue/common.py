"""What the venue staff's pages share: the roles they admit (the venue roles, as the API's
venue routes admit them), the query parameters a page passes on to the API, and the Chinese
labels of the values the pages show."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, routing
from fastapi.routing import APIRoute

from scipass.console.deps import Caller, console_require
from scipass.console.routing import ConsoleRoute
from scipass.core.auth import Role, declared_access

VENUE_ROLES = (Role.venue_staff, Role.venue_admin)
VenueCaller = Annotated[Caller, Depends(console_require(*VENUE_ROLES))]


def venue_router() -> APIRouter:
    return APIRouter(prefix="/console/venue", route_class=ConsoleRoute, include_in_schema=False)


def passed(params: dict[str, Any]) -> dict[str, Any]:
    """The query parameters a page passes on to the API: those given."""
    return {k: v for k, v in params.items() if v not in (None, "")}


def _access(app: FastAPI) -> dict[str, Any]:
    found: dict[str, Any] | None = getattr(app.state, "console_venue_access", None)
    if found is None:
        found = {
            c.name or "": declared_access(c.dependant)
            for c in routing.iter_route_contexts(app.routes)
            if isinstance(c.original_route, APIRoute)
        }
        app.state.console_venue_access = found
    return found


def may(request: Request, caller: Caller, operation: str) -> bool:
    """Whether the API's route ``operation`` admits the caller's role: a page offers a form
    only to those the API would admit (the rule stays the API's; this only reads it)."""
    access = _access(request.app).get(operation)
    return access == "public" or caller.principal.role in (access or ())


ACTIVITY_STATUS = {
    "draft": "草稿",
    "published": "已发布",
    "cancelled": "已取消",
    "finished": "已结束",
}
ACTIVITY_KIND = {
    "venue_visit": "场馆参观",
    "course": "科学课程",
    "lecture": "科普讲座",
    "scientist_in_school": "科学家进校园",
    "science_festival": "科技节",
    "science_camp": "科学营",
    "club": "科技社团",
    "mobile_museum": "流动科技馆",
    "other": "其他",
}
ADMISSION = {
    "open": "现场签到，无需预约",
    "reservation": "须预约时段",
    "registration": "须报名",
}
STAGE = {"primary": "小学", "junior": "初中", "senior": "高中", "vocational": "中职"}
SOURCE = {
    "self_scan": "学生扫码",
    "staff_scan": "工作人员扫码",
    "group": "教师团体签到",
    "offline": "离线上传",
}
DIRECTION = {"entry": "签到", "exit": "签退"}
SLOT_STATUS = {"open": "开放", "cancelled": "已取消"}
JOB_STATUS = {
    "queued": "排队中",
    "running": "进行中",
    "done": "已完成",
    "failed": "失败",
    "expired": "已过期",
}
JOB_KIND = {
    "attendee-export": "到场学生",
    "volunteer-hours-export": "志愿服务时长",
    "directory-edition-export": "科普地图",
}

LABELS = {
    "activity_status": ACTIVITY_STATUS,
    "activity_kind": ACTIVITY_KIND,
    "admission": ADMISSION,
    "stage": STAGE,
    "source": SOURCE,
    "direction": DIRECTION,
    "slot_status": SLOT_STATUS,
    "job_status": JOB_STATUS,
    "job_kind": JOB_KIND,
}
