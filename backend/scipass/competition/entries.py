"""Entries and teams: registration, invitations, members, advisors, fields, submission and
withdrawal.

Who acts on an entry: its captain (a pupil, or a guardian acting for the pupil) and staff of
its school, which also registers pupils itself (学校统一报名: primary pupils without phones).
Members are pupils of the entry's school. Every refusal writes nothing (the request rolls
back); the races are decided by the database: a pupil's second live entry in a division by
the partial unique index on members, a full team by the entry's row (locked by a conditional
update before counting), a used invitation by a conditional update.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from scipass.account.models import Account
from scipass.audit import service as audit_service
from scipass.competition import catalogue
from scipass.competition.errors import (
    AdvisorInvalid,
    AlreadyEntered,
    CompetitionInvalid,
    DivisionMismatch,
    DivisionNotFound,
    EntryNotFound,
    EntryStateInvalid,
    InvitationExpired,
    InvitationInvalid,
    InvitationUsed,
    MemberNotFound,
    NotWhitelisted,
    OutsideWindow,
    RoundNotFound,
    TeamTooLarge,
    TeamTooSmall,
)
from scipass.competition.models import (
    Advisor,
    Competition,
    Division,
    Edition,
    Entry,
    EntryKind,
    EntryMember,
    EntryStatus,
    Invitation,
    MemberRole,
    MemberStatus,
    Round,
    RoundEntryStatus,
)
from scipass.competition.schemas import EntryCreate, EntryUpdate
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.core.auth import SCHOOL_ROLES, Principal, Role, region_contains
from scipass.core.clock import local_date
from scipass.core.db import flush_unique
from scipass.org.models import School, decode_stages
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student

INVITATION_TTL = timedelta(minutes=30)
# Opaque codes from an unambiguous alphabet (no 0/O/1/I/L), as the check-in codes.
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
LIVE_ROUND = (
    RoundEntryStatus.submitted.value,
    RoundEntryStatus.recommended.value,
    RoundEntryStatus.accepted.value,
)


def is_pupil_side(actor: Principal) -> bool:
    return actor.role in (Role.student, Role.guardian)


def audit_entry(
    session: Session, actor: Principal, entry: Entry, change: str, now: datetime
) -> None:
    audit_service.record(
        session,
        action=audit_service.Action.competition_entry_changed,
        at=now,
        actor=actor,
        object_type="competition_entry",
        object_id=entry.id,
        school_id=entry.school_id,
        change=change,
    )


# --- rules ------------------------------------------------------------------------------------


def check_window(round_: Round, now: datetime) -> None:
    if not round_.registration_opens_at <= now < round_.registration_closes_at:
        raise OutsideWindow(
            f"报名时间为 {round_.registration_opens_at:%Y-%m-%d %H:%M} 至 "
            f"{round_.registration_closes_at:%Y-%m-%d %H:%M}（UTC）",
            "Registration is closed",
            opens_at=round_.registration_opens_at.isoformat(),
            closes_at=round_.registration_closes_at.isoformat(),
        )


def check_fits(division: Division, student: Student) -> None:
    stages = decode_stages(division.stages)
    grade_ok = (division.grade_min is None or student.grade >= division.grade_min) and (
        division.grade_max is None or student.grade <= division.grade_max
    )
    if student.stage not in stages or not grade_ok:
        raise DivisionMismatch(
            f"{student.name} 不符合“{division.name}”的学段或年级要求",
            "The division does not fit the student",
            student_id=student.id,
        )


def check_whitelist(
    session: Session, school: School, competition: Competition, edition: Edition, division: Division
) -> None:
    """A school that takes part in whitelisted competitions only: the competition's list entry
    covers the edition's school year and admits the division's stages."""
    if school.whitelisted_competitions_only and not catalogue.whitelisted_for(
        session, competition, edition.school_year, decode_stages(division.stages)
    ):
        raise NotWhitelisted()


def _pupil(session: Session, *, school_id: int, student_id: int, now: datetime) -> Student:
    """A pupil of the school who may be processed for a competition entry (consent under 14)."""
    student = session.get(Student, student_id)
    if student is None or student.school_id != school_id:
        raise StudentNotFound()
    consent_service.require_consent(
        session, student=student, purpose=Purpose.participation_record, today=local_date(now)
    )
    return student


def lock_forming(session: Session, entry: Entry, now: datetime) -> None:
    """Take the entry's row (a conditional update: on PostgreSQL a row lock to the end of the
    transaction, on SQLite the writer's lock) while it is forming, before counting its members
    or advisors."""
    result = session.exec(
        update(Entry)
        .where(col(Entry.id) == entry.id, col(Entry.status) == EntryStatus.forming)
        .values(updated_at=now)
    )
    if result.rowcount != 1:
        raise EntryStateInvalid("报名已提交或已撤回", "The entry is no longer forming")
    session.refresh(entry)


def active_members(session: Session, entry_id: int) -> int:
    return session.exec(
        select(func.count()).where(
            EntryMember.entry_id == entry_id, EntryMember.status == MemberStatus.active
        )
    ).one()


# --- loading ----------------------------------------------------------------------------------


def context(session: Session, entry: Entry) -> tuple[Round, Edition, Competition, Division]:
    round_ = session.get(Round, entry.round_id)
    edition = session.get(Edition, entry.edition_id)
    division = session.get(Division, entry.division_id)
    competition = session.get(Competition, edition.competition_id) if edition else None
    assert round_ is not None
    assert edition is not None
    assert division is not None
    assert competition is not None
    return round_, edition, competition, division


def member_of(session: Session, entry_id: int, student_id: int | None) -> EntryMember | None:
    return session.exec(
        select(EntryMember).where(
            EntryMember.entry_id == entry_id,
            EntryMember.student_id == student_id,
            col(EntryMember.status) != MemberStatus.removed,
        )
    ).first()


def visible_entry(session: Session, *, actor: Principal, entry_id: int) -> Entry:
    """An entry the caller may read: a member (or a guardian for one), or its school."""
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise EntryNotFound()
    if actor.role in SCHOOL_ROLES and entry.school_id == actor.school_id:
        return entry
    if is_pupil_side(actor) and member_of(session, entry_id, actor.student_id) is not None:
        return entry
    raise EntryNotFound()


def managed_entry(session: Session, *, actor: Principal, entry_id: int) -> Entry:
    """An entry the caller may change: its captain (or a guardian for the captain), or its
    school. Other members read it only."""
    entry = visible_entry(session, actor=actor, entry_id=entry_id)
    if is_pupil_side(actor):
        member = member_of(session, entry_id, actor.student_id)
        if member is None or member.role != MemberRole.captain:
            raise EntryStateInvalid("只有队长可以进行此操作", "Only the captain may do this")
    return entry


def require_forming(entry: Entry) -> None:
    if entry.status != EntryStatus.forming:
        raise EntryStateInvalid("报名已提交或已撤回", "The entry is no longer forming")


# --- registration -----------------------------------------------------------------------------


def create(
    session: Session, *, actor: Principal, round_id: int, data: EntryCreate, now: datetime
) -> Entry:
    """Register an entry in a round: a pupil as its captain, or the school for its pupils."""
    school = session.get(School, actor.school_id or 0)
    round_ = session.get(Round, round_id)
    if (
        school is None
        or round_ is None
        or not region_contains(round_.region_code, school.region_code)
        or (round_.school_id is not None and round_.school_id != school.id)
    ):
        raise RoundNotFound()
    edition = session.get(Edition, round_.edition_id)
    competition = session.get(Competition, edition.competition_id) if edition else None
    division = session.get(Division, data.division_id)
    assert edition is not None
    assert competition is not None
    if division is None or division.edition_id != edition.id:
        raise DivisionNotFound()
    check_window(round_, now)
    check_whitelist(session, school, competition, edition, division)
    pupil_side = is_pupil_side(actor)
    student_ids = [actor.student_id or 0] if pupil_side else list(data.student_ids)
    if not student_ids:
        raise TeamTooSmall("请选择报名的学生", "Name the pupils")
    if len(set(student_ids)) != len(student_ids):
        raise CompetitionInvalid("学生重复", "A pupil is named twice")
    if len(student_ids) > division.max_members:
        raise TeamTooLarge(
            f"该组别每队最多 {division.max_members} 人",
            "Too many members",
            limit=division.max_members,
        )
    students = [
        _pupil(session, school_id=school.id or 0, student_id=sid, now=now) for sid in student_ids
    ]
    for student in students:
        check_fits(division, student)
    entry = Entry(
        edition_id=edition.id or 0,
        division_id=division.id or 0,
        round_id=round_.id or 0,
        school_id=school.id or 0,
        title=data.title.strip(),
        abstract=data.abstract.strip(),
        status=EntryStatus.forming.value,
        registered_by_kind="student" if pupil_side else "school",
        created_by=actor.subject,
        created_at=now,
        updated_at=now,
    )
    session.add(entry)
    session.flush()
    entry.number = f"C{edition.school_year}-{entry.id:06d}"
    for position, student in enumerate(students):
        session.add(
            EntryMember(
                entry_id=entry.id or 0,
                division_id=division.id or 0,
                student_id=student.id or 0,
                role=(MemberRole.captain if position == 0 else MemberRole.member).value,
                status=MemberStatus.active.value,
                joined_by=actor.subject,
                joined_at=now,
            )
        )
    flush_unique(session, AlreadyEntered())
    if not pupil_side:
        for account_id in data.advisor_account_ids:
            add_advisor(
                session, actor=actor, entry_id=entry.id or 0, account_id=account_id, now=now
            )
    audit_entry(session, actor, entry, "registered", now)
    return entry


def update_fields(
    session: Session, *, actor: Principal, entry_id: int, data: EntryUpdate, now: datetime
) -> Entry:
    entry = managed_entry(session, actor=actor, entry_id=entry_id)
    lock_forming(session, entry, now)
    if data.title is not None:
        entry.title = data.title.strip()
    if data.abstract is not None:
        entry.abstract = data.abstract.strip()
    session.add(entry)
    session.flush()
    return entry


# --- invitations and members -----------------------------------------------------------------


def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def invite(
    session: Session, *, actor: Principal, entry_id: int, now: datetime
) -> tuple[str, datetime]:
    """A single-use code for a team-mate, valid :data:`INVITATION_TTL` (kept as its hash)."""
    entry = managed_entry(session, actor=actor, entry_id=entry_id)
    require_forming(entry)
    division = session.get(Division, entry.division_id)
    assert division is not None
    if division.kind != EntryKind.team:
        raise EntryStateInvalid("个人赛不能邀请队员", "An individual entry has no team-mates")
    code = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
    expires_at = now + INVITATION_TTL
    session.add(
        Invitation(
            entry_id=entry.id or 0,
            code_sha256=_digest(code),
            expires_at=expires_at,
            created_by=actor.subject,
            created_at=now,
        )
    )
    session.flush()
    return code, expires_at


def _join(
    session: Session, *, actor: Principal, entry: Entry, student: Student, now: datetime
) -> EntryMember:
    round_, _edition, _competition, division = context(session, entry)
    check_window(round_, now)
    check_fits(division, student)
    lock_forming(session, entry, now)
    if active_members(session, entry.id or 0) >= division.max_members:
        raise TeamTooLarge(
            f"该组别每队最多 {division.max_members} 人",
            "The team is full",
            limit=division.max_members,
        )
    member = EntryMember(
        entry_id=entry.id or 0,
        division_id=division.id or 0,
        student_id=student.id or 0,
        role=MemberRole.member.value,
        status=MemberStatus.active.value,
        joined_by=actor.subject,
        joined_at=now,
    )
    session.add(member)
    flush_unique(session, AlreadyEntered())
    audit_entry(session, actor, entry, "member_joined", now)
    return member


def accept_invitation(session: Session, *, actor: Principal, code: str, now: datetime) -> Entry:
    """A pupil (or a guardian for the pupil) joins the team the code belongs to."""
    invitation = session.exec(
        select(Invitation).where(Invitation.code_sha256 == _digest(code))
    ).first()
    if invitation is None:
        raise InvitationInvalid()
    if invitation.used_at is not None:
        raise InvitationUsed()
    if invitation.expires_at <= now:
        raise InvitationExpired()
    entry = session.get(Entry, invitation.entry_id)
    assert entry is not None
    require_forming(entry)
    if entry.school_id != actor.school_id:
        raise CompetitionInvalid("只能与本校同学组队", "Team-mates are pupils of one school")
    student = _pupil(session, school_id=entry.school_id, student_id=actor.student_id or 0, now=now)
    member = _join(session, actor=actor, entry=entry, student=student, now=now)
    used = session.exec(
        update(Invitation)
        .where(
            col(Invitation.id) == invitation.id,
            col(Invitation.used_at).is_(None),
            col(Invitation.expires_at) > now,
        )
        .values(used_at=now, used_by_student_id=member.student_id)
    )
    if used.rowcount != 1:  # another team-mate took it meanwhile
        raise InvitationUsed()
    return entry


def add_member(
    session: Session, *, actor: Principal, entry_id: int, student_id: int, now: datetime
) -> Entry:
    """The school adds one of its pupils to an entry it manages (pupils without phones). A
    captain cannot (the route admits school staff only): team-mates join by accepting an
    invitation, so nobody is put into a team, and held there by the one-entry-per-division
    rule, without saying yes."""
    entry = managed_entry(session, actor=actor, entry_id=entry_id)
    require_forming(entry)
    student = _pupil(session, school_id=entry.school_id, student_id=student_id, now=now)
    _join(session, actor=actor, entry=entry, student=student, now=now)
    return entry


def remove_member(
    session: Session, *, actor: Principal, entry_id: int, member_id: int, now: datetime
) -> Entry:
    """The captain (or the school) removes a member until the entry is submitted."""
    entry = managed_entry(session, actor=actor, entry_id=entry_id)
    member = session.get(EntryMember, member_id)
    if member is None or member.entry_id != entry.id or member.status != MemberStatus.active:
        raise MemberNotFound()
    if member.role == MemberRole.captain:
        raise EntryStateInvalid("不能移除队长，请撤回报名", "The captain cannot be removed")
    lock_forming(session, entry, now)
    session.exec(
        update(EntryMember)
        .where(col(EntryMember.id) == member.id, col(EntryMember.status) == MemberStatus.active)
        .values(status=MemberStatus.removed.value, left_at=now)
    )
    audit_entry(session, actor, entry, "member_removed", now)
    return entry


# --- advisors ---------------------------------------------------------------------------------


def add_advisor(
    session: Session, *, actor: Principal, entry_id: int, account_id: int, now: datetime
) -> Entry:
    """Attach a teacher of the entry's school as advisor (指导教师), up to the division's
    maximum."""
    entry = managed_entry(session, actor=actor, entry_id=entry_id)
    account = session.get(Account, account_id)
    if (
        account is None
        or not account.is_active
        or account.school_id != entry.school_id
        or account.role not in SCHOOL_ROLES
    ):
        raise AdvisorInvalid("指导教师须为本校教职工", "The advisor is not staff of the school")
    lock_forming(session, entry, now)
    division = session.get(Division, entry.division_id)
    assert division is not None
    count = session.exec(select(func.count()).where(Advisor.entry_id == entry.id)).one()
    if count >= division.max_advisors:
        raise AdvisorInvalid(f"该组别最多 {division.max_advisors} 名指导教师", "Too many advisors")
    session.add(
        Advisor(entry_id=entry.id or 0, account_id=account_id, added_by=actor.subject, added_at=now)
    )
    flush_unique(session, AdvisorInvalid("该教师已是指导教师", "Already an advisor"))
    return entry


def remove_advisor(
    session: Session, *, actor: Principal, entry_id: int, advisor_id: int, now: datetime
) -> Entry:
    entry = managed_entry(session, actor=actor, entry_id=entry_id)
    advisor = session.get(Advisor, advisor_id)
    if advisor is None or advisor.entry_id != entry.id:
        raise MemberNotFound()
    lock_forming(session, entry, now)
    session.delete(advisor)
    session.flush()
    return entry
