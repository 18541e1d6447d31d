"""Submitting an entry to its school (学校推荐 follows in :mod:`.review`) and withdrawing it
before the deadline; the entry's rules and loading are :mod:`.entries`'."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from scipass.competition.entries import (
    LIVE_ROUND,
    active_members,
    audit_entry,
    check_window,
    context,
    lock_forming,
    managed_entry,
    require_forming,
)
from scipass.competition.errors import (
    EntryFieldMissing,
    EntryStateInvalid,
    OutsideWindow,
    TeamTooLarge,
    TeamTooSmall,
)
from scipass.competition.models import (
    Edition,
    Entry,
    EntryMember,
    EntryStatus,
    MemberStatus,
    Round,
    RoundEntry,
    RoundEntryStatus,
    RoundEntryVia,
)
from scipass.competition.quota import give_back
from scipass.competition.results_publish import settle_participation
from scipass.core.auth import Principal


def missing_fields(session: Session, entry: Entry, edition: Edition) -> list[str]:
    missing = []
    if edition.requires_title and not entry.title:
        missing.append("title")
    if edition.requires_abstract and not entry.abstract:
        missing.append("abstract")
    if edition.requires_attachment and not entry.attachment_sha256:
        missing.append("attachment")
    return missing


def submit(session: Session, *, actor: Principal, entry_id: int, now: datetime) -> Entry:
    """Send a formed entry to the school for its recommendation (学校推荐)."""
    entry = managed_entry(session, actor=actor, entry_id=entry_id)
    require_forming(entry)
    round_, edition, _competition, division = context(session, entry)
    check_window(round_, now)
    lock_forming(session, entry, now)
    members = active_members(session, entry.id or 0)
    if members < division.min_members:
        raise TeamTooSmall(
            f"该组别每队至少 {division.min_members} 人",
            "Too few members",
            limit=division.min_members,
        )
    if members > division.max_members:
        raise TeamTooLarge("队伍人数超过上限", "Too many members", limit=division.max_members)
    missing = missing_fields(session, entry, edition)
    if missing:
        raise EntryFieldMissing(fields=missing)
    session.exec(
        update(Entry)
        .where(col(Entry.id) == entry.id, col(Entry.status) == EntryStatus.forming)
        .values(status=EntryStatus.submitted.value, submitted_at=now, updated_at=now)
    )
    session.add(
        RoundEntry(
            entry_id=entry.id or 0,
            round_id=round_.id or 0,
            school_id=entry.school_id,
            status=RoundEntryStatus.submitted.value,
            via=RoundEntryVia.registration.value,
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()
    session.refresh(entry)
    audit_entry(session, actor, entry, "submitted", now)
    return entry


def current_round_entry(session: Session, entry_id: int) -> RoundEntry | None:
    """The entry's live place in its latest round, if any."""
    return session.exec(
        select(RoundEntry)
        .join(Round, col(Round.id) == RoundEntry.round_id)
        .where(RoundEntry.entry_id == entry_id, col(RoundEntry.status).in_(LIVE_ROUND))
        .order_by(col(Round.position).desc())
    ).first()


def withdraw(session: Session, *, actor: Principal, entry_id: int, now: datetime) -> Entry:
    """Withdraw before the registration deadline of the round the entry stands in: members
    are free to enter again, and a place taken of the school's quota is given back."""
    entry = managed_entry(session, actor=actor, entry_id=entry_id)
    live = current_round_entry(session, entry.id or 0)
    round_ = session.get(Round, live.round_id if live else entry.round_id)
    assert round_ is not None
    if now >= round_.registration_closes_at:
        raise OutsideWindow("报名截止后不能撤回", "The deadline has passed")
    result = session.exec(
        update(Entry)
        .where(
            col(Entry.id) == entry.id,
            col(Entry.status).in_([EntryStatus.forming, EntryStatus.submitted]),
        )
        .values(status=EntryStatus.withdrawn.value, withdrawn_at=now, updated_at=now)
    )
    if result.rowcount != 1:
        raise EntryStateInvalid("报名已撤回", "The entry is already withdrawn")
    # An entry that came up with 参与 and leaves before taking part took part last in the
    # round before: its members get that round's 参与 record, while they are still members.
    advanced = session.exec(
        select(RoundEntry.round_id).where(
            RoundEntry.entry_id == entry.id,
            col(RoundEntry.status).in_(LIVE_ROUND),
            RoundEntry.via == RoundEntryVia.advanced,
        )
    ).all()
    for round_id in advanced:
        settle_participation(session, entry=entry, left_round_id=round_id, actor=actor, now=now)
    session.exec(
        update(EntryMember)
        .where(col(EntryMember.entry_id) == entry.id, col(EntryMember.status) == "active")
        .values(status=MemberStatus.withdrawn.value, left_at=now)
    )
    # Read after the entry's row is taken: a submission that committed meanwhile has its
    # place here. Every live place is withdrawn, and every place of the school's quota the
    # entry holds is given back, a rejected one's too.
    session.exec(
        update(RoundEntry)
        .where(col(RoundEntry.entry_id) == entry.id, col(RoundEntry.status).in_(LIVE_ROUND))
        .values(status=RoundEntryStatus.withdrawn.value, updated_at=now)
    )
    places = session.exec(
        select(RoundEntry.id, RoundEntry.round_id).where(
            RoundEntry.entry_id == entry.id, col(RoundEntry.holds_quota).is_(True)
        )
    ).all()
    for place_id, place_round in places:
        give_back(
            session, round_entry_id=place_id or 0, round_id=place_round, school_id=entry.school_id
        )
    session.refresh(entry)
    audit_entry(session, actor, entry, "withdrawn", now)
    return entry
