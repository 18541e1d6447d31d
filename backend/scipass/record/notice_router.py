"""HTTP for public notices (公示), objections and each region's notice length."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session

from scipass.core.auth import Role, region_contains
from scipass.core.callers import (
    BureauOrPlatform,
    Family,
    SchoolAdmin,
    SchoolStaff,
)
from scipass.core.clock import ClockDep, local_date
from scipass.core.db import SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import Forbidden, problem_responses
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.org.errors import RegionNotFound
from scipass.org.models import Region
from scipass.record import labels
from scipass.record import notices as record_notices
from scipass.record.errors import (
    NothingToPublicise,
    NoticeClosed,
    NoticeNotFound,
    ObjectionDuplicate,
    ObjectionNotFound,
    ObjectionResolved,
    ReasonRequired,
    RecordNotFound,
    RecordStateInvalid,
)
from scipass.record.models import (
    ObjectionStatus,
    RecordNotice,
    RecordObjection,
)
from scipass.record.repository import RecordFilter
from scipass.record.router import class_label
from scipass.record.schemas import (
    NoticeCreate,
    NoticeEntry,
    NoticeRead,
    NoticeSettingRead,
    NoticeSettingWrite,
    ObjectionChoice,
    ObjectionCreate,
    ObjectionRead,
    ObjectionResolve,
)
from scipass.roster.visibility import shown_name

router = APIRouter(tags=["records"])


class RegionOutOfScope(Forbidden):
    code = "region_out_of_scope"
    title_zh = "只能设置本辖区的公示期"
    title_en = "Only regions within your own can be changed"


def _notice_read(notice: RecordNotice, now_open: bool) -> NoticeRead:
    return NoticeRead(
        id=notice.id or 0,
        school_id=notice.school_id,
        title=notice.title,
        working_days=notice.working_days,
        starts_at=notice.starts_at,
        ends_at=notice.ends_at,
        record_count=notice.record_count,
        is_open=now_open,
    )


def _objection_read(objection: RecordObjection) -> ObjectionRead:
    return ObjectionRead(
        id=objection.id or 0,
        record_id=objection.record_id,
        notice_id=objection.notice_id,
        raised_role=objection.raised_role,
        reason=objection.reason,
        raised_at=objection.raised_at,
        status=objection.status,
        resolution=objection.resolution,
        resolved_at=objection.resolved_at,
    )


@router.post(
    "/notices",
    name="notice-open",
    summary="发布公示",
    description="学校管理员把本校已审核的记录（全部，或按年级、班级、学期、记录编号筛选）放入"
    "一次公示。公示期为所在区划设置的工作日数（未设置为 5 个工作日），从发布次日起算，"
    "到最后一个工作日 24:00（北京时间）截止。",
    status_code=201,
    responses=problem_responses(NothingToPublicise),
)
def open_notice(
    body: NoticeCreate,
    caller: SchoolAdmin,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> NoticeRead:
    now = clock.now()
    notice = record_notices.open_notice(
        session,
        actor=caller,
        settings=settings,
        title=body.title,
        filters=RecordFilter(
            grade=body.grade,
            class_name=body.class_name,
            school_year=body.school_year,
            semester=body.semester.value if body.semester else None,
        ),
        record_ids=body.record_ids,
        now=now,
    )
    return _notice_read(notice, True)


@router.get(
    "/notices",
    name="notice-list",
    summary="公示列表",
    description="学生、家长看到本校（孩子学校）正在公示的；学校工作人员看到本校全部公示。",
    responses=problem_responses(),
)
def list_notices(
    caller: Family, session: SessionDep, clock: ClockDep, page: PageDep, open_only: bool = False
) -> Page[NoticeRead]:
    now = clock.now()
    rows, total = record_notices.list_notices(
        session, actor=caller, page=page, now=now, open_only=open_only
    )
    items = [_notice_read(n, n.starts_at <= now < n.ends_at) for n in rows]
    return Page[NoticeRead].of(items, total, page)


@router.get(
    "/notices/{notice_id}/entries",
    name="notice-entries",
    summary="公示内容",
    description="只显示姓名、班级、活动、日期和时长，以及代填标注"
    "（“家长代为确认”“家长代填”“教师代为确认”；学生本人确认时为空）。",
    responses=problem_responses(NoticeNotFound),
)
def notice_entries(
    notice_id: Id, caller: Family, session: SessionDep, clock: ClockDep, page: PageDep
) -> Page[NoticeEntry]:
    notice = record_notices.get_notice(session, actor=caller, notice_id=notice_id, now=clock.now())
    rows, total = record_notices.notice_entries(session, notice=notice, page=page)
    items = [
        NoticeEntry(
            record_id=r.id or 0,
            name=shown_name(caller, s.name, school_id=s.school_id, student_id=s.id, on_notice=True),
            class_label=class_label(s),
            activity=r.title,
            activity_date=local_date(r.started_at),
            minutes=r.minutes,
            marks=labels.marks(r.student_confirmed_as, r.reflection_by),
        )
        for r, s in rows
    ]
    return Page[NoticeEntry].of(items, total, page)


@router.post(
    "/records/{record_id}/objections",
    name="record-object",
    summary="对公示中的记录提出异议",
    description="本校学生、家长和教职工在公示期内可提出异议并写明理由；异议未处理前记录不会归档。",
    status_code=201,
    responses=problem_responses(
        RecordNotFound, RecordStateInvalid, NoticeClosed, ObjectionDuplicate, ReasonRequired
    ),
)
def object_to(
    record_id: Id, body: ObjectionCreate, caller: Family, session: SessionDep, clock: ClockDep
) -> ObjectionRead:
    objection = record_notices.object_to(
        session, actor=caller, record_id=record_id, reason=body.reason, now=clock.now()
    )
    return _objection_read(objection)


@router.get(
    "/objections",
    name="objection-list",
    summary="本校收到的异议",
    responses=problem_responses(),
)
def list_objections(
    caller: SchoolStaff, session: SessionDep, page: PageDep, status: ObjectionStatus | None = None
) -> Page[ObjectionRead]:
    rows, total = record_notices.list_objections(session, actor=caller, page=page, status=status)
    return Page[ObjectionRead].of([_objection_read(o) for o in rows], total, page)


@router.post(
    "/objections/{objection_id}/resolution",
    name="objection-resolve",
    summary="处理异议",
    description="异议成立（uphold）：记录改为未通过，不归档；驳回异议（dismiss）：记录在公示期"
    "结束后归档。",
    responses=problem_responses(ObjectionNotFound, ObjectionResolved, RecordStateInvalid),
)
def resolve_objection(
    objection_id: Id,
    body: ObjectionResolve,
    caller: SchoolAdmin,
    session: SessionDep,
    clock: ClockDep,
) -> ObjectionRead:
    objection = record_notices.resolve_objection(
        session,
        actor=caller,
        objection_id=objection_id,
        uphold=body.decision is ObjectionChoice.uphold,
        resolution=body.resolution,
        now=clock.now(),
    )
    return _objection_read(objection)


def _setting_read(session: Session, region_code: str, own: int | None) -> NoticeSettingRead:
    days, source = record_notices.notice_working_days(session, region_code)
    return NoticeSettingRead(
        region_code=region_code,
        working_days=own,
        effective_working_days=days,
        from_region=source,
    )


@router.get(
    "/regions/{region_code}/notice-setting",
    name="notice-setting-get",
    summary="区划的公示期设置",
    responses=problem_responses(RegionNotFound),
)
def get_notice_setting(
    region_code: str, caller: BureauOrPlatform, session: SessionDep
) -> NoticeSettingRead:
    region = session.get(Region, region_code)
    if region is None or (
        caller.role is Role.bureau and not region_contains(caller.region_code or "", region_code)
    ):
        raise RegionNotFound()
    return _setting_read(session, region_code, region.notice_working_days)


@router.put(
    "/regions/{region_code}/notice-setting",
    name="notice-setting-set",
    summary="设置区划的公示期（工作日）",
    description="教育局设置本辖区（含下级区划）的公示期；下级区划可单独设置，未设置的沿用上级。",
    responses=problem_responses(RegionNotFound, RegionOutOfScope),
)
def set_notice_setting(
    region_code: str, body: NoticeSettingWrite, caller: BureauOrPlatform, session: SessionDep
) -> NoticeSettingRead:
    if caller.role is Role.bureau and not region_contains(caller.region_code or "", region_code):
        raise RegionOutOfScope()
    region = record_notices.set_notice_working_days(
        session, region_code=region_code, days=body.working_days
    )
    return _setting_read(session, region_code, region.notice_working_days)
