"""Guardian consent: the notice, guardians' decisions, schools' paper forms and the status."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends
from sqlmodel import Session

from scipass.consent import notices
from scipass.consent import service as consent_service
from scipass.consent.errors import NoticeOutdated
from scipass.consent.models import Channel, Decision, Purpose
from scipass.consent.schemas import (
    ConsentDecision,
    ConsentEntry,
    ConsentState,
    ConsentStatus,
    Notice,
    NoticeVersionRead,
    PaperConsent,
)
from scipass.core.auth import public_access
from scipass.core.callers import GuardianCaller, SchoolAdmin, SchoolStaff, StudentCaller
from scipass.core.clock import ClockDep, local_date
from scipass.core.db import SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import problem_responses
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.org import service as org_service
from scipass.roster import service as roster_service
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student

public_router = APIRouter(tags=["consent"], dependencies=[Depends(public_access)])
router = APIRouter(tags=["consent"])


def _status(session: Session, student: Student, today: date) -> ConsentStatus:
    current = consent_service.decisions(session, student.id or 0)
    # A purpose added after the newest notice the guardian answered is asked anew.
    answered = max((notices.index_of(r.notice_version) for r in current.values()), default=None)
    added = notices.added_since(notices.version_at(answered)) if answered is not None else set()
    states = []
    for purpose in Purpose:
        record = current.get(purpose)
        asked = consent_service.needs_consent(student.birth_month, purpose, today)
        granted = record is not None and record.decision == Decision.grant.value
        due = notices.renewal_due(record.notice_version, purpose) if granted and record else None
        states.append(
            ConsentState(
                purpose=purpose,
                decision=Decision(record.decision) if record else None,
                decided_at=record.recorded_at if record else None,
                asked=asked,
                effective=not asked
                or consent_service.in_force(
                    session, student_id=student.id or 0, purpose=purpose, today=today
                ),
                notice_version=record.notice_version if record else None,
                renewal_needed=asked and (due is not None or (record is None and purpose in added)),
                renewal_due=due,
            )
        )
    return ConsentStatus(
        student_id=student.id or 0,
        under_14=consent_service.is_under_14(student.birth_month, today),
        notice_version=notices.current().version,
        purposes=states,
        renewal_needed=[state.purpose for state in states if state.renewal_needed],
    )


@public_router.get(
    "/consent-notice",
    name="consent-notice-get",
    summary="儿童个人信息保护告知书",
    description="监护人同意前阅读的告知书（当前版本）。同意时须提交此版本号。",
)
def notice() -> Notice:
    return Notice(
        version=notices.current().version,
        title=consent_service.NOTICE_TITLE,
        text=consent_service.NOTICE_TEXT,
        purposes=list(Purpose),
        versions=[NoticeVersionRead.of(n) for n in notices.NOTICES],
    )


def _child(session: Session, caller_id: Id | None, student_id: Id) -> tuple[Student, int]:
    assert caller_id is not None
    link = roster_service.guardian_link_for(session, guardian_id=caller_id, student_id=student_id)
    student = session.get(Student, student_id)
    if student is None:
        raise StudentNotFound()
    return student, link.id or 0


@router.get(
    "/me/children/{student_id}/consents",
    name="me-child-consent-get",
    summary="孩子的同意状态",
    responses=problem_responses(StudentNotFound),
)
def child_consents(
    student_id: Id, caller: GuardianCaller, session: SessionDep, clock: ClockDep
) -> ConsentStatus:
    student, _link = _child(session, caller.wechat_user_id, student_id)
    return _status(session, student, local_date(clock.now()))


@router.post(
    "/me/children/{student_id}/consents",
    name="me-child-consent-decide",
    summary="监护人同意、拒绝或撤回",
    description="按目的逐项同意、拒绝或撤回。撤回后不再为该目的产生新的处理。每次决定都会记录（时间、告知书版本、渠道）。",
    status_code=201,
    responses=problem_responses(StudentNotFound, NoticeOutdated),
)
def decide_for_child(
    student_id: Id,
    body: ConsentDecision,
    caller: GuardianCaller,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ConsentStatus:
    student, link_id = _child(session, caller.wechat_user_id, student_id)
    school = org_service.get_school(session, student.school_id)
    consent_service.record_decision(
        session,
        actor=caller,
        student=student,
        region_code=school.region_code,
        purposes=body.purposes,
        decision=body.decision,
        notice_version=body.notice_version,
        channel=Channel.mini_program,
        guardian_link_id=link_id,
        now=clock.now(),
        settings=settings,
    )
    return _status(session, student, local_date(clock.now()))


@router.get(
    "/me/consents",
    name="me-consent-get",
    summary="我的监护人同意状态",
    description="学生查看：哪些功能须监护人同意（未满 14 周岁；志愿服务未满 18 周岁），"
    "是否已同意。",
    responses=problem_responses(StudentNotFound),
)
def my_consents(caller: StudentCaller, session: SessionDep, clock: ClockDep) -> ConsentStatus:
    student = session.get(Student, caller.student_id) if caller.student_id else None
    if student is None or student.wechat_user_id != caller.wechat_user_id:
        raise StudentNotFound()
    return _status(session, student, local_date(clock.now()))


@router.get(
    "/students/{student_id}/consents",
    name="student-consent-get",
    summary="学生的同意状态与记录",
    responses=problem_responses(StudentNotFound),
)
def student_consents(
    student_id: Id, caller: SchoolStaff, session: SessionDep, clock: ClockDep
) -> ConsentStatus:
    student = roster_service.get_student_for_staff(session, actor=caller, student_id=student_id)
    return _status(session, student, local_date(clock.now()))


@router.get(
    "/students/{student_id}/consent-history",
    name="student-consent-history",
    summary="同意记录（只增不改）",
    responses=problem_responses(StudentNotFound),
)
def student_consent_history(
    student_id: Id, caller: SchoolStaff, session: SessionDep, page: PageDep
) -> Page[ConsentEntry]:
    student = roster_service.get_student_for_staff(session, actor=caller, student_id=student_id)
    return Page[ConsentEntry].sliced(
        [
            ConsentEntry.model_validate(r, from_attributes=True)
            for r in consent_service.history(session, student.id or 0)
        ],
        page,
    )


@router.post(
    "/students/{student_id}/consents",
    name="student-consent-paper",
    summary="登记纸质同意书",
    description="监护人没有使用小程序时，由学校管理员登记签署的纸质同意书（渠道为 paper）。",
    status_code=201,
    responses=problem_responses(StudentNotFound, NoticeOutdated),
)
def record_paper_consent(
    student_id: Id,
    body: PaperConsent,
    caller: SchoolAdmin,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ConsentStatus:
    student = roster_service.get_student_for_staff(session, actor=caller, student_id=student_id)
    school = org_service.get_school(session, student.school_id)
    consent_service.record_decision(
        session,
        actor=caller,
        student=student,
        region_code=school.region_code,
        purposes=body.purposes,
        decision=body.decision,
        notice_version=body.notice_version,
        channel=Channel.paper,
        guardian_name=body.guardian_name,
        now=clock.now(),
        settings=settings,
    )
    return _status(session, student, local_date(clock.now()))
