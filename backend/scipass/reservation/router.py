"""Time slots (venue staff), reservations (students for themselves, teachers for groups)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session

from scipass.consent.errors import ConsentRequired
from scipass.core.auth import Principal, public_access
from scipass.core.callers import SchoolStaff, VenueStaff
from scipass.core.clock import SHANGHAI, ClockDep
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.reservation import lists as reservation_lists
from scipass.reservation import service as reservation_service
from scipass.reservation import slots as reservation_slots
from scipass.reservation.errors import (
    AlreadyReserved,
    CancelTooLate,
    CapacityFull,
    GroupEmpty,
    OutsideOpeningHours,
    ReservationNotActive,
    ReservationNotFound,
    SchoolChannelReserved,
    SlotCancelled,
    SlotInPast,
    SlotInvalid,
    SlotNotFound,
    StageNotServed,
    StudentOtherSchool,
)
from scipass.reservation.models import Reservation, ReservationKind, ReservationStatus, TimeSlot
from scipass.reservation.schemas import (
    CancelRequest,
    GroupMember,
    GroupMembers,
    GroupReserve,
    ReservationRead,
    ReserveSelf,
    SlotCreate,
    SlotRead,
)
from scipass.roster.acting import ActingCanceller, ActingStudent
from scipass.roster.importer import grade_label
from scipass.roster.visibility import shown_name
from scipass.venue.errors import ResourceNotFound, VenueNotFound

public_router = APIRouter(tags=["reservations"], dependencies=[Depends(public_access)])
router = APIRouter(tags=["reservations"])


def slot_read(slot: TimeSlot, waitlist: int) -> SlotRead:
    return SlotRead(
        id=slot.id or 0,
        venue_id=slot.venue_id,
        resource_id=slot.resource_id,
        activity_id=slot.activity_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        capacity=slot.capacity,
        taken=slot.taken,
        available=max(0, slot.capacity - slot.taken),
        waitlist_length=waitlist,
        school_channel=slot.school_channel,
        school_priority_until=slot.school_priority_until,
        status=slot.status,
        note=slot.note,
    )


def _reads(
    session: Session, rows: list[tuple[Reservation, TimeSlot]], *, viewer: Principal
) -> list[ReservationRead]:
    names = reservation_lists.student_names(
        session, [r.student_id for r, _ in rows if r.student_id is not None]
    )
    result = []
    for reservation, slot in rows:
        name = names.get(reservation.student_id or 0)
        if name is not None:
            name = shown_name(
                viewer, name, school_id=reservation.school_id, student_id=reservation.student_id
            )
        result.append(
            ReservationRead(
                id=reservation.id or 0,
                slot_id=slot.id or 0,
                venue_id=slot.venue_id,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                kind=reservation.kind,
                status=reservation.status,
                waitlist_position=reservation_service.waitlist_position(session, reservation),
                school_id=reservation.school_id,
                student_id=reservation.student_id,
                student_name=name,
                group_label=reservation.group_label,
                students=reservation.students,
                escorts=reservation.escorts,
                party_size=reservation.party_size,
                note=reservation.note,
                created_at=reservation.created_at,
                cancelled_at=reservation.cancelled_at,
                cancel_reason=reservation.cancel_reason,
            )
        )
    return result


def _one(session: Session, reservation: Reservation, *, viewer: Principal) -> ReservationRead:
    slot = session.get(TimeSlot, reservation.slot_id)
    assert slot is not None
    return _reads(session, [(reservation, slot)], viewer=viewer)[0]


@router.post(
    "/venues/{venue_id}/slots",
    name="slot-create",
    summary="新增预约时段",
    description="须在场馆当天的开放时间内。课后服务时段可设为学校绿色通道：截止时间前只接受"
    "学校团体预约。可关联本场馆的资源（实验室、仪器、场次）或活动。",
    status_code=201,
    responses=problem_responses(
        VenueNotFound, ResourceNotFound, SlotInvalid, SlotInPast, OutsideOpeningHours
    ),
)
def create_slot(
    venue_id: Id, body: SlotCreate, caller: VenueStaff, session: SessionDep, clock: ClockDep
) -> SlotRead:
    slot = reservation_slots.create_slot(
        session, actor=caller, venue_id=venue_id, data=body, now=clock.now()
    )
    return slot_read(slot, 0)


@public_router.get(
    "/venues/{venue_id}/slots",
    name="slot-list",
    summary="场馆的预约时段与余量",
    description="默认从今天（北京时间）起。无需登录。",
    responses=problem_responses(VenueNotFound),
)
def list_slots(
    venue_id: Id,
    session: SessionDep,
    page: PageDep,
    clock: ClockDep,
    from_date: date | None = None,
    to_date: Annotated[date | None, Query(description="含当天")] = None,
    resource_id: Id | None = None,
    activity_id: Id | None = None,
) -> Page[SlotRead]:
    today = clock.now().astimezone(SHANGHAI).date()
    since = datetime.combine(from_date or today, time(0), SHANGHAI)
    until = datetime.combine(to_date + timedelta(days=1), time(0), SHANGHAI) if to_date else None
    rows, total = reservation_slots.list_slots(
        session,
        venue_id=venue_id,
        page=page,
        since=since,
        until=until,
        resource_id=resource_id,
        activity_id=activity_id,
    )
    waiting = reservation_slots.waitlist_lengths(session, [s.id or 0 for s in rows])
    return Page[SlotRead].of([slot_read(s, waiting.get(s.id or 0, 0)) for s in rows], total, page)


@router.post(
    "/slots/{slot_id}/cancel",
    name="slot-cancel",
    summary="取消时段",
    description="该时段的全部预约随之取消，原因会展示给学校和学生。",
    responses=problem_responses(SlotNotFound, SlotCancelled, SlotInvalid),
)
def cancel_slot(
    slot_id: Id, body: CancelRequest, caller: VenueStaff, session: SessionDep, clock: ClockDep
) -> SlotRead:
    slot = reservation_slots.cancel_slot(
        session, actor=caller, slot_id=slot_id, reason=body.reason, now=clock.now()
    )
    return slot_read(slot, 0)


@router.get(
    "/slots/{slot_id}/reservations",
    name="slot-reservation-list",
    summary="时段的预约名单",
    description="场馆工作人员查看。个人预约只显示脱敏姓名，团体预约显示班级与人数。",
    responses=problem_responses(SlotNotFound),
)
def slot_reservations(
    slot_id: Id, caller: VenueStaff, session: SessionDep, page: PageDep
) -> Page[ReservationRead]:
    rows, total = reservation_lists.list_for_slot(session, actor=caller, slot_id=slot_id, page=page)
    return Page[ReservationRead].of(_reads(session, rows, viewer=caller), total, page)


RESERVE_ERRORS = (
    SlotNotFound,
    SlotCancelled,
    SlotInPast,
    OutsideOpeningHours,
    StageNotServed,
    AlreadyReserved,
    CapacityFull,
)


@router.post(
    "/slots/{slot_id}/reservations",
    name="reservation-create",
    summary="学生本人预约（或家长代孩子预约）",
    description="成功返回 201（`status` 为 `confirmed`，"
    "或名额已满时为 `waitlisted` 并给出候补位次）。"
    "带同一 `Idempotency-Key` 重试时返回第一次的结果（200）。未满 14 周岁须监护人同意。",
    status_code=201,
    responses=problem_responses(
        *RESERVE_ERRORS, SchoolChannelReserved, ConsentRequired, IdempotencyKeyReused
    ),
)
def reserve_for_self(
    slot_id: Id,
    caller: ActingStudent,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    idempotency: IdempotencyDep,
    body: ReserveSelf | None = None,
) -> ReservationRead:
    reservation, created = reservation_service.reserve_for_self(
        session,
        actor=caller,
        slot_id=slot_id,
        join_waitlist=(body or ReserveSelf()).join_waitlist,
        idempotency=idempotency,
        now=clock.now(),
    )
    if not created:
        response.status_code = 200
    return _one(session, reservation, viewer=caller)


@router.post(
    "/slots/{slot_id}/group-reservations",
    name="group-reservation-create",
    summary="教师团体预约",
    description="为本校一个班（`grade` + `class_name`）或一组学生（`student_ids`）"
    "作为一个团体预约，带队教师计入名额。学校绿色通道时段在截止前只接受团体预约。",
    status_code=201,
    responses=problem_responses(
        *RESERVE_ERRORS, StudentOtherSchool, GroupEmpty, IdempotencyKeyReused
    ),
)
def reserve_for_group(
    slot_id: Id,
    body: GroupReserve,
    caller: SchoolStaff,
    session: SessionDep,
    clock: ClockDep,
    response: Response,
    idempotency: IdempotencyDep,
) -> ReservationRead:
    reservation, created = reservation_service.reserve_for_group(
        session,
        actor=caller,
        slot_id=slot_id,
        data=body,
        idempotency=idempotency,
        now=clock.now(),
    )
    if not created:
        response.status_code = 200
    return _one(session, reservation, viewer=caller)


@router.post(
    "/reservations/{reservation_id}/cancel",
    name="reservation-cancel",
    summary="取消预约",
    description="学生取消本人预约，教师取消本校预约，场馆取消本馆时段上的预约。"
    "释放的名额按候补顺序自动递补。",
    responses=problem_responses(ReservationNotFound, ReservationNotActive, CancelTooLate),
)
def cancel_reservation(
    reservation_id: Id,
    caller: ActingCanceller,
    session: SessionDep,
    clock: ClockDep,
    body: CancelRequest | None = None,
) -> ReservationRead:
    reservation = reservation_service.cancel(
        session,
        actor=caller,
        reservation_id=reservation_id,
        reason=body.reason if body else "",
        now=clock.now(),
    )
    return _one(session, reservation, viewer=caller)


@router.get(
    "/me/reservations",
    name="my-reservation-list",
    summary="我的预约",
    description="本人预约与所在团体的预约。",
    responses=problem_responses(),
)
def my_reservations(
    caller: ActingStudent, session: SessionDep, page: PageDep
) -> Page[ReservationRead]:
    rows, total = reservation_lists.list_for_student(session, actor=caller, page=page)
    return Page[ReservationRead].of(_reads(session, rows, viewer=caller), total, page)


@router.get(
    "/school-reservations",
    name="school-reservation-list",
    summary="本校的预约",
    responses=problem_responses(),
)
def school_reservations(
    caller: SchoolStaff,
    session: SessionDep,
    page: PageDep,
    status: ReservationStatus | None = None,
    kind: ReservationKind | None = None,
) -> Page[ReservationRead]:
    rows, total = reservation_lists.list_for_school(
        session, actor=caller, page=page, status=status, kind=kind
    )
    return Page[ReservationRead].of(_reads(session, rows, viewer=caller), total, page)


@router.get(
    "/reservations/{reservation_id}/members",
    name="group-reservation-members",
    summary="本校团体预约的学生名单",
    description="教师在门口为到场学生签到时用：学生编号、姓名与年级班级，不含其他信息。"
    "只能查看本校的团体预约；预约取消后名单为空。`activity_id` 为空的时段不能由教师签到。",
    responses=problem_responses(ReservationNotFound),
)
def group_reservation_members(
    reservation_id: Id, caller: SchoolStaff, session: SessionDep
) -> GroupMembers:
    reservation, slot, activity, students = reservation_lists.group_members(
        session, actor=caller, reservation_id=reservation_id
    )
    return GroupMembers(
        reservation=_reads(session, [(reservation, slot)], viewer=caller)[0],
        activity_id=activity.id if activity else None,
        activity_title=activity.title if activity else None,
        items=[
            GroupMember(
                student_id=s.id or 0,
                name=shown_name(caller, s.name, school_id=s.school_id, student_id=s.id),
                grade=s.grade,
                grade_label=grade_label(s.stage, s.grade),
                class_name=s.class_name,
            )
            for s in students
        ],
    )
