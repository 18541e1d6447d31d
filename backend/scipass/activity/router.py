"""Activities: organisers (venue, school and bureau staff) create and run them; anyone sees
the published ones."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from scipass.activity import service as activity_service
from scipass.activity.access import managed_activity
from scipass.activity.errors import (
    ActivityInvalid,
    ActivityNotEditable,
    ActivityNotFound,
    ActivityTransitionInvalid,
)
from scipass.activity.models import Activity, ActivityKind, ActivityStatus
from scipass.activity.schemas import ActivityRead, ActivityWrite, StatusChange
from scipass.core.auth import public_access
from scipass.core.callers import OrganiserOrBureau
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.org.errors import OrganisationNotFound
from scipass.org.models import Stage, decode_stages
from scipass.org.organiser import organiser_of
from scipass.policy.vocab import decode_campaigns

public_router = APIRouter(tags=["activities"], dependencies=[Depends(public_access)])
router = APIRouter(tags=["activities"])


def activity_read(activity: Activity) -> ActivityRead:
    return ActivityRead(
        id=activity.id or 0,
        organiser=organiser_of(activity).kind,
        venue_id=activity.venue_id,
        school_id=activity.school_id,
        bureau_id=activity.bureau_id,
        kind=activity.kind,
        title=activity.title,
        description=activity.description,
        starts_at=activity.starts_at,
        ends_at=activity.ends_at,
        place_name=activity.place_name,
        address=activity.address,
        longitude=activity.longitude,
        latitude=activity.latitude,
        geofence_radius_m=activity.geofence_radius_m,
        capacity=activity.capacity,
        admission=activity.admission,
        open_to_other_schools=activity.open_to_other_schools,
        stages=decode_stages(activity.stages),
        credited_minutes=activity.credited_minutes,
        record_category=activity.record_category,
        dimension=activity.dimension,
        auto_confirm_records=activity.auto_confirm_records,
        checkin_opens_minutes=activity.checkin_opens_minutes,
        checkin_closes_minutes=activity.checkin_closes_minutes,
        minutes_unit=activity.minutes_unit,
        daily_cap_minutes=activity.daily_cap_minutes,
        auto_close_credit=activity.auto_close_credit,
        geofence_max_accuracy_m=activity.geofence_max_accuracy_m,
        after_school=activity.after_school,
        programme=activity.programme,
        campaigns=decode_campaigns(activity.campaigns),
        status=activity.status,
        status_reason=activity.status_reason,
    )


@public_router.get(
    "/activities",
    name="activity-list",
    summary="已发布的活动",
    description="按场馆、类型、学段、日期筛选，按开始时间排序。无需登录。",
    responses=problem_responses(),
)
def list_activities(
    session: SessionDep,
    page: PageDep,
    venue_id: Id | None = None,
    kind: ActivityKind | None = None,
    stage: Stage | None = None,
    from_date: Annotated[date | None, Query(description="此日（北京时间）及以后仍在进行的")] = None,
) -> Page[ActivityRead]:
    rows, total = activity_service.list_public(
        session, page=page, venue_id=venue_id, kind=kind, stage=stage, from_date=from_date
    )
    return Page[ActivityRead].of([activity_read(a) for a in rows], total, page)


@public_router.get(
    "/activities/{activity_id}",
    name="activity-get",
    summary="活动详情",
    description="已发布、已取消或已结束的活动。草稿只有组织方可见（见 `/managed-activities`）。",
    responses=problem_responses(ActivityNotFound),
)
def get_activity(activity_id: Id, session: SessionDep) -> ActivityRead:
    return activity_read(activity_service.get_published(session, activity_id))


@router.get(
    "/managed-activities",
    name="managed-activity-list",
    summary="本单位组织的活动",
    description="场馆、学校或教育局（科协）工作人员查看本单位组织的全部活动（含草稿），"
    "开始晚的在前；可按状态和日期（北京时间）筛选。",
    responses=problem_responses(),
)
def list_managed(
    caller: OrganiserOrBureau,
    session: SessionDep,
    page: PageDep,
    status: ActivityStatus | None = None,
    from_date: Annotated[date | None, Query(description="此日（北京时间）及以后仍在进行的")] = None,
    to_date: Annotated[
        date | None, Query(description="此日（北京时间）及以前开始的，含当天")
    ] = None,
) -> Page[ActivityRead]:
    rows, total = activity_service.list_managed(
        session, actor=caller, page=page, status=status, from_date=from_date, to_date=to_date
    )
    return Page[ActivityRead].of([activity_read(a) for a in rows], total, page)


@router.get(
    "/managed-activities/{activity_id}",
    name="managed-activity-get",
    summary="本单位组织的一个活动（含草稿）",
    description="组织方（本场馆、本校或本教育局的工作人员）查看自己组织的活动，草稿也可见；"
    "其他单位的活动返回 404。",
    responses=problem_responses(ActivityNotFound),
)
def get_managed(activity_id: Id, caller: OrganiserOrBureau, session: SessionDep) -> ActivityRead:
    return activity_read(managed_activity(session, actor=caller, activity_id=activity_id))


@router.post(
    "/activities",
    name="activity-create",
    summary="新建活动（草稿）",
    description="场馆工作人员为本场馆、学校教师为本校、教育局（科协）为本单位新建活动。"
    "地点默认为本场馆（学校、教育局），学段默认为场馆（学校）的学段（教育局：全部学段），"
    "计入时长默认为活动时长（最多 8 小时），写实记录类别与评价维度默认由活动类型决定。"
    "教育局组织的活动，参加者的写实记录总是视为组织方已确认（`auto_confirm_records`）。\n\n"
    "政策规则统计的字段：`after_school`（课后服务）、`programme`（所属专项）、"
    "`campaigns`（所属主题活动）。",
    status_code=201,
    responses=problem_responses(ActivityInvalid, OrganisationNotFound),
)
def create_activity(
    body: ActivityWrite, caller: OrganiserOrBureau, session: SessionDep, clock: ClockDep
) -> ActivityRead:
    return activity_read(activity_service.create(session, actor=caller, data=body, now=clock.now()))


@router.put(
    "/activities/{activity_id}",
    name="activity-update",
    summary="修改活动",
    responses=problem_responses(ActivityNotFound, ActivityNotEditable, ActivityInvalid),
)
def update_activity(
    activity_id: Id,
    body: ActivityWrite,
    caller: OrganiserOrBureau,
    session: SessionDep,
    clock: ClockDep,
) -> ActivityRead:
    activity = activity_service.update_activity(
        session, actor=caller, activity_id=activity_id, data=body, now=clock.now()
    )
    return activity_read(activity)


def _transition_route(to: ActivityStatus, path: str, summary: str, description: str) -> None:
    def change(
        activity_id: Id,
        caller: OrganiserOrBureau,
        session: SessionDep,
        clock: ClockDep,
        body: StatusChange | None = None,
    ) -> ActivityRead:
        activity = activity_service.transition(
            session,
            actor=caller,
            activity_id=activity_id,
            to=to,
            reason=body.reason if body else "",
            now=clock.now(),
        )
        return activity_read(activity)

    router.add_api_route(
        f"/activities/{{activity_id}}/{path}",
        change,
        methods=["POST"],
        name=f"activity-{path}",
        summary=summary,
        description=description,
        response_model=ActivityRead,
        responses=problem_responses(ActivityNotFound, ActivityTransitionInvalid, ActivityInvalid),
    )


_transition_route(ActivityStatus.published, "publish", "发布活动", "草稿 → 已发布。")
_transition_route(
    ActivityStatus.cancelled, "cancel", "取消活动", "草稿或已发布 → 已取消，须写明原因。"
)
_transition_route(ActivityStatus.finished, "finish", "结束活动", "已发布且已开始 → 已结束。")
