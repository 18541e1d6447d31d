"""Steps of the demo shared by its loader and its parts (:mod:`scipass.demo.competitions`):
who acts, and when."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlmodel import Session, select

from scipass.account import service as account_service
from scipass.account.models import Account, WeChatUser
from scipass.consent import service as consent_service
from scipass.consent.models import Channel, Decision, Purpose
from scipass.core.auth import Principal, Role
from scipass.core.clock import SHANGHAI
from scipass.core.config import get_settings
from scipass.org.models import School
from scipass.roster.models import GuardianLink, Student


def consent(
    session: Session,
    student: Student,
    school: School,
    channel: Channel,
    purposes: list[Purpose],
    now: datetime,
    decision: Decision = Decision.grant,
) -> None:
    link = session.exec(select(GuardianLink).where(GuardianLink.student_id == student.id)).first()
    actor = Principal(subject="demo", role=Role.school_admin, school_id=school.id)
    consent_service.record_decision(
        session,
        actor=actor,
        student=student,
        region_code=school.region_code,
        purposes=purposes,
        decision=decision,
        notice_version=consent_service.NOTICE_VERSION,
        channel=channel,
        guardian_link_id=link.id if link else None,
        guardian_name=None if link else "学生家长",
        now=now,
        settings=get_settings(),
    )


def at(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), SHANGHAI)


def account_actor(session: Session, username: str) -> Principal:
    account = session.exec(select(Account).where(Account.username == username)).one()
    return account_service.principal_for_account(session, account)


def student_actor(session: Session, name: str) -> tuple[Principal, Student]:
    user = session.exec(select(WeChatUser).where(WeChatUser.openid == f"dev-openid-{name}")).one()
    actor = account_service.principal_for_wechat_user(session, user.id or 0)
    student = session.get(Student, actor.student_id)
    assert student is not None
    return actor, student


def weekday_before(day: date) -> date:
    """The last Monday to Friday before ``day``."""
    day -= timedelta(days=1)
    while day.isoweekday() > 5:
        day -= timedelta(days=1)
    return day
