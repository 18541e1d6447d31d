"""创新后备人才 tracking over HTTP (issue 17, point 5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from scipass.competition import talent
from scipass.competition.talent_errors import (
    TalentAlreadyTracked,
    TalentTrackingEnded,
    TalentTrackingNotFound,
)
from scipass.competition.talent_schemas import (
    TalentTrackingEnd,
    TalentTrackingRead,
    TalentTrackingStart,
)
from scipass.core.callers import TalentTracker
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.roster.errors import StudentNotFound

router = APIRouter(tags=["talent"])


@router.post(
    "/students/{student_id}/talent-tracking",
    name="talent-tracking-start",
    summary="标记为科技创新后备人才（开始跟踪）",
    description="学校（本校学生）或教育局（本辖区学生）标记并写明理由（如获奖）。"
    "同一学生同时只有一条进行中的跟踪，已在跟踪中返回 409 `talent_already_tracked`。记入审计日志。",
    status_code=201,
    responses=problem_responses(StudentNotFound, TalentAlreadyTracked),
)
def start_tracking(
    student_id: Id,
    body: TalentTrackingStart,
    caller: TalentTracker,
    session: SessionDep,
    clock: ClockDep,
) -> TalentTrackingRead:
    tracked = talent.start(
        session, actor=caller, student_id=student_id, reason=body.reason, now=clock.now()
    )
    return TalentTrackingRead.of(tracked, caller)


@router.get(
    "/students/{student_id}/talent-tracking",
    name="talent-tracking-history",
    summary="某学生的后备人才跟踪（含已结束的）",
    description="查看记入审计日志。",
    responses=problem_responses(StudentNotFound),
)
def tracking_history(
    student_id: Id, caller: TalentTracker, session: SessionDep, clock: ClockDep
) -> list[TalentTrackingRead]:
    rows = talent.history(session, actor=caller, student_id=student_id, now=clock.now())
    return [TalentTrackingRead.of(row, caller) for row in rows]


@router.post(
    "/talent-trackings/{tracking_id}/end",
    name="talent-tracking-end",
    summary="结束后备人才跟踪",
    description="已结束的再次结束返回 409 `talent_tracking_ended`。记入审计日志。",
    responses=problem_responses(TalentTrackingNotFound, TalentTrackingEnded),
)
def end_tracking(
    tracking_id: Id,
    body: TalentTrackingEnd,
    caller: TalentTracker,
    session: SessionDep,
    clock: ClockDep,
) -> TalentTrackingRead:
    tracked = talent.end(
        session, actor=caller, tracking_id=tracking_id, reason=body.reason, now=clock.now()
    )
    return TalentTrackingRead.of(tracked, caller)


@router.get(
    "/talent-trackings",
    name="talent-tracking-list",
    summary="后备人才名单",
    description="教育局看到本辖区各校的，学校看到本校的（教育局看到的姓名已脱敏）。"
    "`active=true` 只看跟踪中的。查看记入审计日志（含列出的学生）。",
    responses=problem_responses(),
)
def list_trackings(
    caller: TalentTracker,
    session: SessionDep,
    page: PageDep,
    clock: ClockDep,
    active: Annotated[bool | None, Query(description="只看跟踪中（true）或已结束（false）")] = None,
    school_id: Annotated[Id | None, Query(description="学校")] = None,
) -> Page[TalentTrackingRead]:
    rows, total = talent.list_tracked(
        session, actor=caller, page=page, active=active, school_id=school_id, now=clock.now()
    )
    return Page[TalentTrackingRead].of(
        [TalentTrackingRead.of(r, caller) for r in rows], total, page
    )
