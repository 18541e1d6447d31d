"""The school's recommendation (学校推荐) and the round organiser's decision, and who sees
which entries.

submitted → recommended (a place of the school's quota, if the round has one) or declined
with a reason; recommended → accepted or rejected (with a reason) by the round's organiser
(:mod:`scipass.org.organiser`). An accepted entry takes part in the round; its organiser
enters results later, and an entry that advances gets a row in the next round
(``via = advanced``), where that round's organiser finds it.

Organisers see the entries sent to them with the pupils' names, school and class, and nothing
else of the pupils; each such list is audited (a minor's name shown to staff of another
organisation).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.competition.entries import audit_entry
from scipass.competition.errors import EntryNotFound, EntryStateInvalid, RoundNotFound
from scipass.competition.models import (
    Entry,
    EntryMember,
    MemberStatus,
    QuotaScope,
    Round,
    RoundEntry,
    RoundEntryStatus,
    RoundEntryVia,
)
from scipass.competition.quota import take
from scipass.competition.results_publish import settle_participation
from scipass.competition.submission import current_round_entry
from scipass.core.auth import Principal
from scipass.core.pagination import count_rows
from scipass.org.models import School
from scipass.org.organiser import is_organiser, organiser_of
from scipass.roster.models import Student

SENT_TO_ORGANISER = (
    RoundEntryStatus.recommended.value,
    RoundEntryStatus.accepted.value,
    RoundEntryStatus.rejected.value,
)


def _school_entry(session: Session, *, actor: Principal, entry_id: int) -> Entry:
    entry = session.get(Entry, entry_id)
    if entry is None or entry.school_id != actor.school_id:
        raise EntryNotFound()
    return entry


def _move(
    session: Session, place: RoundEntry, *, expected: RoundEntryStatus, values: dict[str, object]
) -> None:
    result = session.exec(
        update(RoundEntry)
        .where(col(RoundEntry.id) == place.id, col(RoundEntry.status) == expected)
        .values(**values)
    )
    if result.rowcount != 1:
        raise EntryStateInvalid(
            f"当前状态为 {place.status}", f"The entry is {place.status}", current=place.status
        )
    session.refresh(place)


def _waiting(session: Session, entry: Entry) -> RoundEntry:
    place = current_round_entry(session, entry.id or 0)
    if place is None or place.status != RoundEntryStatus.submitted:
        raise EntryStateInvalid(
            "只能推荐已提交、待学校审核的报名", "Only a submitted entry waits for the school"
        )
    return place


def recommend(session: Session, *, actor: Principal, entry_id: int, now: datetime) -> Entry:
    """The school recommends a submitted entry to its round, within the school's quota."""
    entry = _school_entry(session, actor=actor, entry_id=entry_id)
    place = _waiting(session, entry)
    round_ = session.get(Round, place.round_id)
    assert round_ is not None
    holds = round_.school_quota is not None
    if round_.school_quota is not None:
        take(
            session,
            round_id=round_.id or 0,
            scope=QuotaScope.school,
            key=str(entry.school_id),
            limit=round_.school_quota,
        )
    _move(
        session,
        place,
        expected=RoundEntryStatus.submitted,
        values={
            "status": RoundEntryStatus.recommended.value,
            "holds_quota": holds,
            "school_decided_by": actor.subject,
            "school_decided_at": now,
            "updated_at": now,
        },
    )
    audit_entry(session, actor, entry, "recommended", now)
    return entry


def decline(
    session: Session, *, actor: Principal, entry_id: int, reason: str, now: datetime
) -> Entry:
    entry = _school_entry(session, actor=actor, entry_id=entry_id)
    place = _waiting(session, entry)
    _move(
        session,
        place,
        expected=RoundEntryStatus.submitted,
        values={
            "status": RoundEntryStatus.declined.value,
            "school_decided_by": actor.subject,
            "school_decided_at": now,
            "school_reason": reason.strip(),
            "updated_at": now,
        },
    )
    audit_entry(session, actor, entry, "declined", now)
    return entry


def organised_round(session: Session, *, actor: Principal, round_id: int) -> Round:
    round_ = session.get(Round, round_id)
    if round_ is None or not is_organiser(actor, organiser_of(round_)):
        raise RoundNotFound()
    return round_


def decide(
    session: Session,
    *,
    actor: Principal,
    round_id: int,
    entry_id: int,
    accept: bool,
    reason: str,
    now: datetime,
) -> RoundEntry:
    """The round's organiser accepts or rejects an entry the school recommended."""
    round_ = organised_round(session, actor=actor, round_id=round_id)
    place = session.exec(
        select(RoundEntry).where(
            RoundEntry.round_id == round_.id,
            RoundEntry.entry_id == entry_id,
            col(RoundEntry.status).in_(SENT_TO_ORGANISER),
        )
    ).first()
    if place is None:
        raise EntryNotFound()
    status = RoundEntryStatus.accepted if accept else RoundEntryStatus.rejected
    _move(
        session,
        place,
        expected=RoundEntryStatus.recommended,
        values={
            "status": status.value,
            "organiser_decided_by": actor.subject,
            "organiser_decided_at": now,
            "organiser_reason": reason.strip(),
            "updated_at": now,
        },
    )
    entry = session.get(Entry, entry_id)
    assert entry is not None
    if not accept and place.via == RoundEntryVia.advanced:
        # it took part last in the round it advanced from
        settle_participation(
            session, entry=entry, left_round_id=round_.id or 0, actor=actor, now=now
        )
    audit_entry(session, actor, entry, status.value, now)
    return place


# --- lists ------------------------------------------------------------------------------------


def entries_of_student(session: Session, student_id: int) -> list[Entry]:
    return list(
        session.exec(
            select(Entry)
            .join(EntryMember, col(EntryMember.entry_id) == Entry.id)
            .where(
                EntryMember.student_id == student_id,
                col(EntryMember.status) != MemberStatus.removed,
            )
            .order_by(col(Entry.id).desc())
        ).all()
    )


def entries_of_school(
    session: Session, *, school_id: int, edition_id: int | None, offset: int, limit: int
) -> tuple[list[Entry], int]:
    query = select(Entry).where(Entry.school_id == school_id)
    if edition_id is not None:
        query = query.where(Entry.edition_id == edition_id)
    total = count_rows(session, query)
    rows = session.exec(query.order_by(col(Entry.id).desc()).offset(offset).limit(limit)).all()
    return list(rows), total


Sent = tuple[RoundEntry, Entry, School, list[Student]]


def _sent_rows(session: Session, round_id: int, entry_id: int | None = None) -> list[Sent]:
    query = (
        select(RoundEntry, Entry, School)
        .join(Entry, col(Entry.id) == RoundEntry.entry_id)
        .join(School, col(School.id) == Entry.school_id)
        .where(RoundEntry.round_id == round_id, col(RoundEntry.status).in_(SENT_TO_ORGANISER))
    )
    if entry_id is not None:
        query = query.where(RoundEntry.entry_id == entry_id)
    result = []
    for place, entry, school in session.exec(query.order_by(col(School.name), col(Entry.id))):
        members = session.exec(
            select(Student)
            .join(EntryMember, col(EntryMember.student_id) == Student.id)
            .where(
                EntryMember.entry_id == entry.id,
                col(EntryMember.status) != MemberStatus.removed,
            )
            .order_by(col(EntryMember.id))
        ).all()
        result.append((place, entry, school, list(members)))
    return result


def entries_sent(session: Session, *, actor: Principal, round_id: int, now: datetime) -> list[Sent]:
    """The entries sent to the caller's round, with their schools and members (audited: the
    names of minors shown to staff of another organisation)."""
    round_ = organised_round(session, actor=actor, round_id=round_id)
    result = _sent_rows(session, round_.id or 0)
    audit_service.record(
        session,
        action=audit_service.Action.competition_entries_viewed,
        at=now,
        actor=actor,
        object_type="competition_round",
        object_id=round_.id,
        region_code=round_.region_code,
        rows=len(result),
        pupils=sum(len(row[3]) for row in result),
    )
    return result


def entry_sent(session: Session, *, actor: Principal, round_id: int, entry_id: int) -> Sent:
    round_ = organised_round(session, actor=actor, round_id=round_id)
    rows = _sent_rows(session, round_.id or 0, entry_id)
    if not rows:
        raise EntryNotFound()
    return rows[0]
