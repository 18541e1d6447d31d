"""Volunteer roles (venues, and schools for their science festivals), shifts, and sign-ups
(pupils, guardians for their children, schools for groups)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from scipass.consent.errors import ConsentRequired
from scipass.core.auth import Principal, public_access
from scipass.core.callers import Organiser, OrganiserOrPlatform, SchoolStaff
from scipass.core.clock import SHANGHAI, ClockDep
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.org.models import decode_stages
from scipass.org.organiser import organiser_name, organiser_of
from scipass.roster.acting import ActingCanceller, ActingStudent
from scipass.roster.visibility import shown_name
from scipass.volunteer import lists as volunteer_lists
from scipass.volunteer import roles as volunteer_roles
from scipass.volunteer import signups as volunteer_signups
from scipass.volunteer.errors import (
    AlreadySignedUp,
    CancelTooLate,
    DailyHoursExceeded,
    NotTrained,
    OwnSchoolOnly,
    RoleInvalid,
    RoleNotFound,
    ShiftCancelled,
    ShiftFull,
    ShiftInvalid,
    ShiftNotFound,
    ShiftOverlap,
    ShiftStarted,
    SignupClosed,
    SignupNotActive,
    SignupNotFound,
    TooYoung,
    WrongStage,
)
from scipass.volunteer.models import VolunteerRole, VolunteerShift, VolunteerSignup
from scipass.volunteer.presets import PRESETS
from scipass.volunteer.schemas import (
    GroupSignupCreate,
    PresetRead,
    RoleCreate,
    RoleRead,
    RoleUpdate,
    ShiftCancel,
    ShiftCreate,
    ShiftRead,
    ShiftSeriesCreate,
    SignupCancel,
    SignupCreate,
    SignupRead,
)

public_router = APIRouter(tags=["volunteering"], dependencies=[Depends(public_access)])
router = APIRouter(tags=["volunteering"])


def role_read(session: Session, role: VolunteerRole) -> RoleRead:
    ref = organiser_of(role)
    return RoleRead(
        id=role.id or 0,
        organiser_kind=ref.kind,
        organiser_id=ref.id,
        organiser_name=organiser_name(session, ref),
        preset=role.preset,
        name=role.name,
        description=role.description,
        duties=role.duties,
        stages=decode_stages(role.stages),
        min_age=role.min_age,
        training=role.training,
        prerequisite_role_id=role.prerequisite_role_id,
        max_daily_hours=role.max_daily_minutes / 60,
        max_daily_minutes=role.max_daily_minutes,
        active=role.active,
        created_at=role.created_at,
    )


def shift_read(shift: VolunteerShift, role_name: str, waitlist: int) -> ShiftRead:
    ref = organiser_of(shift)
    return ShiftRead(
        id=shift.id or 0,
        role_id=shift.role_id,
        role_name=role_name,
        organiser_kind=ref.kind,
        organiser_id=ref.id,
        series_key=shift.series_key,
        starts_at=shift.starts_at,
        ends_at=shift.ends_at,
        place=shift.place,
        capacity=shift.capacity,
        taken=shift.taken,
        available=max(0, shift.capacity - shift.taken),
        waitlist_length=waitlist,
        signup_closes_at=shift.signup_closes_at,
        walk_ins=shift.walk_ins,
        status=shift.status,
        note=shift.note,
        cancelled_at=shift.cancelled_at,
        cancel_reason=shift.cancel_reason,
    )


def signup_reads(
    session: Session, signups: list[VolunteerSignup], *, viewer: Principal
) -> list[SignupRead]:
    shifts, roles, names = volunteer_lists.details(session, signups)
    result = []
    for signup in signups:
        shift = shifts[signup.shift_id]
        result.append(
            SignupRead(
                id=signup.id or 0,
                shift_id=signup.shift_id,
                role_id=signup.role_id,
                role_name=roles.get(signup.role_id, ""),
                starts_at=shift.starts_at,
                ends_at=shift.ends_at,
                place=shift.place,
                kind=signup.kind,
                status=signup.status,
                waitlist_position=volunteer_signups.waitlist_position(session, signup),
                school_id=signup.school_id,
                student_id=signup.student_id,
                student_name=shown_name(
                    viewer,
                    names.get(signup.student_id, ""),
                    school_id=signup.school_id,
                    student_id=signup.student_id,
                ),
                group_label=signup.group_label,
                created_at=signup.created_at,
                placed_at=signup.placed_at,
                promoted_at=signup.promoted_at,
                cancelled_at=signup.cancelled_at,
                cancel_reason=signup.cancel_reason,
            )
        )
    return result


# --- roles -------------------------------------------------------------------------------------


@public_router.get(
    "/volunteer-role-presets",
    name="volunteer-role-preset-list",
    summary="预设志愿岗位",
    description="小小志愿者、小小科普辅导员、科普小达人（湖南省 2023 年文件）。新建岗位时选择"
    "`preset` 即可直接使用，各项均可修改。无需登录。",
)
def list_presets() -> list[PresetRead]:
    return [
        PresetRead(
            key=p.key,
            name=p.name,
            description=p.description,
            duties=p.duties,
            stages=decode_stages(",".join(p.stages)),
            min_age=p.min_age,
            training=p.training,
            max_daily_hours=p.max_daily_minutes / 60,
        )
        for p in PRESETS.values()
    ]


@router.post(
    "/volunteer-roles",
    name="volunteer-role-create",
    summary="新建志愿岗位",
    description="场馆（或学校，用于本校科技节）为本单位新建岗位：可选择预设岗位直接使用，"
    "也可自定义。包括岗位说明、职责、适合学段和/或最低年龄、上岗培训（说明，或须先服务过的"
    "前置岗位），以及学生每天最多服务的小时数（默认 4 小时，不超过 8 小时）。",
    status_code=201,
    responses=problem_responses(RoleInvalid),
)
def create_role(
    body: RoleCreate, caller: Organiser, session: SessionDep, clock: ClockDep
) -> RoleRead:
    role = volunteer_roles.create_role(session, actor=caller, data=body, now=clock.now())
    return role_read(session, role)


@public_router.get(
    "/volunteer-roles",
    name="volunteer-role-list",
    summary="志愿岗位列表",
    description="按场馆或学校筛选。默认只列出在用的岗位。无需登录。",
)
def list_roles(
    session: SessionDep,
    page: PageDep,
    venue_id: Id | None = None,
    school_id: Id | None = None,
    include_inactive: bool = False,
) -> Page[RoleRead]:
    rows, total = volunteer_roles.list_roles(
        session,
        page=page,
        venue_id=venue_id,
        school_id=school_id,
        include_inactive=include_inactive,
    )
    return Page[RoleRead].of([role_read(session, r) for r in rows], total, page)


@public_router.get(
    "/volunteer-roles/{role_id}",
    name="volunteer-role-get",
    summary="志愿岗位详情",
    responses=problem_responses(RoleNotFound),
)
def get_role(role_id: Id, session: SessionDep) -> RoleRead:
    return role_read(session, volunteer_roles.public_role(session, role_id))


@router.patch(
    "/volunteer-roles/{role_id}",
    name="volunteer-role-update",
    summary="修改志愿岗位",
    description="只改提交的字段；`active` 为 false 时停用岗位（已发布的班次不受影响）。",
    responses=problem_responses(RoleNotFound, RoleInvalid),
)
def update_role(
    role_id: Id, body: RoleUpdate, caller: Organiser, session: SessionDep, clock: ClockDep
) -> RoleRead:
    role = volunteer_roles.update_role(
        session, actor=caller, role_id=role_id, data=body, now=clock.now()
    )
    return role_read(session, role)


@router.get(
    "/managed-volunteer-roles/{role_id}",
    name="managed-volunteer-role-get",
    summary="本单位的一个志愿岗位（含已停用）",
    description="组织方（本场馆或本校的工作人员）查看自己的岗位以便修改；其他单位的岗位返回 404。",
    responses=problem_responses(RoleNotFound),
)
def get_managed_role(role_id: Id, caller: Organiser, session: SessionDep) -> RoleRead:
    role = volunteer_roles.role_for_organiser(session, actor=caller, role_id=role_id)
    return role_read(session, role)


# --- shifts ------------------------------------------------------------------------------------


@router.post(
    "/volunteer-roles/{role_id}/shifts",
    name="volunteer-shift-create",
    summary="发布一个志愿服务班次",
    description="开始、结束（同一天内，时长不超过岗位每日上限）、地点、名额和报名截止时间"
    "（不填即开始时间）。",
    status_code=201,
    responses=problem_responses(RoleNotFound, ShiftInvalid),
)
def create_shift(
    role_id: Id, body: ShiftCreate, caller: Organiser, session: SessionDep, clock: ClockDep
) -> ShiftRead:
    shift = volunteer_roles.create_shift(
        session, actor=caller, role_id=role_id, data=body, now=clock.now()
    )
    role = volunteer_roles.public_role(session, role_id)
    return shift_read(shift, role.name, 0)


@router.post(
    "/volunteer-roles/{role_id}/shift-series",
    name="volunteer-shift-series-create",
    summary="按周批量发布班次",
    description="在两个日期之间，每逢所选的星期几（如每周六 09:00–12:00，北京时间）各发布一个"
    "班次，可排除个别日期；报名在每个班次开始前 `close_hours_before` 小时截止。"
    "全部成功或全部不发布，一次最多 200 个。",
    status_code=201,
    responses=problem_responses(RoleNotFound, ShiftInvalid),
)
def create_series(
    role_id: Id, body: ShiftSeriesCreate, caller: Organiser, session: SessionDep, clock: ClockDep
) -> list[ShiftRead]:
    shifts = volunteer_roles.create_series(
        session, actor=caller, role_id=role_id, data=body, now=clock.now()
    )
    role = volunteer_roles.public_role(session, role_id)
    return [shift_read(s, role.name, 0) for s in shifts]


@public_router.get(
    "/volunteer-roles/{role_id}/shifts",
    name="volunteer-shift-list",
    summary="岗位的班次与余量",
    description="默认从今天（北京时间）起。无需登录。",
    responses=problem_responses(RoleNotFound),
)
def list_shifts(
    role_id: Id,
    session: SessionDep,
    page: PageDep,
    clock: ClockDep,
    from_date: date | None = None,
    to_date: Annotated[date | None, Query(description="含当天")] = None,
) -> Page[ShiftRead]:
    today = clock.now().astimezone(SHANGHAI).date()
    since = datetime.combine(from_date or today, time(0), SHANGHAI)
    until = datetime.combine(to_date + timedelta(days=1), time(0), SHANGHAI) if to_date else None
    rows, total = volunteer_roles.list_shifts(
        session, role_id=role_id, page=page, since=since, until=until
    )
    role = volunteer_roles.public_role(session, role_id)
    waiting = volunteer_roles.waitlist_lengths(session, [s.id or 0 for s in rows])
    items = [shift_read(s, role.name, waiting.get(s.id or 0, 0)) for s in rows]
    return Page[ShiftRead].of(items, total, page)


@router.get(
    "/managed-volunteer-shifts/{shift_id}",
    name="managed-volunteer-shift-get",
    summary="本单位的一个志愿服务班次",
    description="组织方工作人员（及平台管理员）查看一个班次（含已取消、已结束的）；"
    "其他单位的班次返回 404。",
    responses=problem_responses(ShiftNotFound),
)
def get_managed_shift(shift_id: Id, caller: OrganiserOrPlatform, session: SessionDep) -> ShiftRead:
    shift = volunteer_roles.shift_for_staff(session, actor=caller, shift_id=shift_id)
    role = volunteer_roles.public_role(session, shift.role_id)
    waiting = volunteer_roles.waitlist_lengths(session, [shift_id])
    return shift_read(shift, role.name, waiting.get(shift_id, 0))


@router.post(
    "/volunteer-shifts/{shift_id}/cancel",
    name="volunteer-shift-cancel",
    summary="取消班次",
    description="班次开始前可取消：该班次的全部报名和候补随之取消，每位学生都会收到通知（原因一并"
    "告知）。班次开始后不能取消（`volunteer_shift_started`），未到岗的学生在确认时长时标记缺席。",
    responses=problem_responses(ShiftNotFound, ShiftCancelled, ShiftStarted),
)
def cancel_shift(
    shift_id: Id, body: ShiftCancel, caller: Organiser, session: SessionDep, clock: ClockDep
) -> ShiftRead:
    shift = volunteer_roles.cancel_shift(
        session, actor=caller, shift_id=shift_id, reason=body.reason, now=clock.now()
    )
    role = volunteer_roles.public_role(session, shift.role_id)
    return shift_read(shift, role.name, 0)


@router.get(
    "/volunteer-shifts/{shift_id}/signups",
    name="volunteer-shift-signup-list",
    summary="班次的报名名单",
    description="组织方查看（含候补与已取消）。场馆只见脱敏姓名，学校见本校学生全名。",
    responses=problem_responses(ShiftNotFound),
)
def shift_signups(
    shift_id: Id, caller: OrganiserOrPlatform, session: SessionDep, page: PageDep
) -> Page[SignupRead]:
    rows, total = volunteer_lists.list_for_shift(
        session, actor=caller, shift_id=shift_id, limit=page.limit, offset=page.offset
    )
    return Page[SignupRead].of(signup_reads(session, rows, viewer=caller), total, page)


# --- sign-ups ----------------------------------------------------------------------------------

SIGNUP_ERRORS = (
    ShiftNotFound,
    SignupClosed,
    OwnSchoolOnly,
    WrongStage,
    TooYoung,
    ConsentRequired,
    NotTrained,
    AlreadySignedUp,
    ShiftOverlap,
    DailyHoursExceeded,
    ShiftFull,
)


@router.post(
    "/volunteer-shifts/{shift_id}/signups",
    name="volunteer-signup-create",
    summary="报名志愿服务班次（学生本人或家长代孩子）",
    description="成功返回 201（`status` 为 `signed_up`；名额已满且选择候补时为 `waitlisted`，"
    "并给出候补位次）。未满 14 周岁须监护人同意 `participation_record`，14 至 18 周岁须监护人"
    "同意 `volunteering`（小程序中同意，或学校登记纸质同意书）。以下情况各有错误代码，且不留下"
    "任何记录：已截止或已取消、年龄或学段不符、未经同意、未完成前置岗位、时间重叠、当天时长超过"
    "岗位每日上限、名额已满（未选择候补时）。学校组织的岗位只接受本校学生。",
    status_code=201,
    responses=problem_responses(*SIGNUP_ERRORS),
)
def sign_up(
    shift_id: Id,
    caller: ActingStudent,
    session: SessionDep,
    clock: ClockDep,
    body: SignupCreate | None = None,
) -> SignupRead:
    signup = volunteer_signups.sign_up(
        session,
        actor=caller,
        shift_id=shift_id,
        join_waitlist=(body or SignupCreate()).join_waitlist,
        now=clock.now(),
    )
    return signup_reads(session, [signup], viewer=caller)[0]


@router.post(
    "/volunteer-shifts/{shift_id}/group-signups",
    name="volunteer-group-signup-create",
    summary="学校为一组本校学生报名",
    description="全部报名成功，或一个都不报名（不排候补）：任一学生不符合条件时返回该学生的"
    "`student_id` 和相应错误代码；名额不足时返回 `volunteer_shift_full` 和剩余名额。",
    status_code=201,
    responses=problem_responses(*SIGNUP_ERRORS),
)
def sign_up_group(
    shift_id: Id,
    body: GroupSignupCreate,
    caller: SchoolStaff,
    session: SessionDep,
    clock: ClockDep,
) -> list[SignupRead]:
    signups = volunteer_signups.sign_up_group(
        session,
        actor=caller,
        shift_id=shift_id,
        student_ids=body.student_ids,
        group_label=body.group_label,
        now=clock.now(),
    )
    return signup_reads(session, signups, viewer=caller)


@router.post(
    "/volunteer-signups/{signup_id}/cancel",
    name="volunteer-signup-cancel",
    summary="取消志愿服务报名",
    description="学生本人（或家长、本校老师）在报名截止前可取消；组织方在班次开始前可取消。"
    "空出的名额按候补顺序自动递补，并通知递补的学生。",
    responses=problem_responses(SignupNotFound, SignupNotActive, CancelTooLate),
)
def cancel_signup(
    signup_id: Id,
    caller: ActingCanceller,
    session: SessionDep,
    clock: ClockDep,
    body: SignupCancel | None = None,
) -> SignupRead:
    signup = volunteer_signups.cancel(
        session,
        actor=caller,
        signup_id=signup_id,
        reason=body.reason if body else "",
        now=clock.now(),
    )
    return signup_reads(session, [signup], viewer=caller)[0]


@router.get(
    "/me/volunteer-signups",
    name="my-volunteer-signup-list",
    summary="我的志愿服务报名",
    description="按班次时间从近到远。",
)
def my_signups(caller: ActingStudent, session: SessionDep, page: PageDep) -> Page[SignupRead]:
    rows, total = volunteer_lists.list_for_student(
        session, actor=caller, limit=page.limit, offset=page.offset
    )
    return Page[SignupRead].of(signup_reads(session, rows, viewer=caller), total, page)
