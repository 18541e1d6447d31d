"""Results of a competition round: the organiser enters them, puts them on notice (公示),
staff of the entries' schools object, the organiser resolves objections.

Publication (results become final, records are appended, advancing entries move up) is
:mod:`scipass.competition.results_publish`; the XLSX upload is
:mod:`scipass.competition.results_upload`. Every change is a conditional update on the row it
changes, so two organisers (or an organiser and a retry) never both win.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, update
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.competition.errors import RoundNotFound
from scipass.competition.models import (
    Entry,
    EntryMember,
    MemberStatus,
    QuotaScope,
    Round,
    RoundEntry,
    RoundEntryStatus,
)
from scipass.competition.models import (
    Quota as QuotaCounter,
)
from scipass.competition.results_errors import (
    NoNextRound,
    NothingToNotice,
    RegionQuotaReached,
    ResultEntryNotFound,
    ResultLocked,
    ResultNotFound,
    ResultNoticeClosed,
    ResultNotNoticed,
    ResultObjectionDuplicate,
    ResultObjectionNotFound,
    ResultObjectionResolved,
)
from scipass.competition.results_models import (
    Award,
    Result,
    ResultNotice,
    ResultObjection,
    ResultObjectionStatus,
    ResultStatus,
)
from scipass.core.auth import SCHOOL_ROLES, Principal
from scipass.core.config import Settings
from scipass.core.db import flush_unique, insert_ignoring
from scipass.core.workdays import window_end
from scipass.org.models import School
from scipass.org.organiser import is_organiser, organiser_of
from scipass.record import notices as record_notices
from scipass.roster.models import Student

_RESULTS = Result.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
_QUOTA = QuotaCounter.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


def audit(
    session: Session,
    actor: Principal | None,
    round_: Round,
    change: str,
    now: datetime,
    **detail: Any,
) -> None:
    audit_service.record(
        session,
        action=audit_service.Action.competition_results_changed,
        at=now,
        actor=actor,
        actor_subject=None if actor else "system",
        object_type="competition_round",
        object_id=round_.id,
        region_code=round_.region_code,
        change=change,
        **detail,
    )


# --- who may see and change a round's results --------------------------------------------------


def organised_round(session: Session, *, actor: Principal, round_id: int) -> Round:
    """The round, when the caller is staff of its organiser (a school, venue or bureau)."""
    round_ = session.get(Round, round_id)
    if round_ is None or not is_organiser(actor, organiser_of(round_)):
        raise RoundNotFound()
    return round_


def readable_round(session: Session, *, actor: Principal, round_id: int) -> Round:
    """The round, for its organiser or for staff of a school with an entry in it."""
    round_ = session.get(Round, round_id)
    if round_ is None:
        raise RoundNotFound()
    if is_organiser(actor, organiser_of(round_)) or takes_part(session, actor, round_.id or 0):
        return round_
    raise RoundNotFound()


def takes_part(session: Session, actor: Principal, round_id: int) -> bool:
    """Whether the caller is staff of a school with an entry in the round: such a school sees
    the round's results on notice (公示 is public to those taking part) and may object."""
    if actor.role not in SCHOOL_ROLES or actor.school_id is None:
        return False
    found = session.exec(
        select(RoundEntry.id).where(
            RoundEntry.round_id == round_id, RoundEntry.school_id == actor.school_id
        )
    ).first()
    return found is not None


def next_round(session: Session, round_: Round) -> Round | None:
    """The edition's round after this one: the smallest position above its own (positions
    need not be consecutive)."""
    return session.exec(
        select(Round)
        .where(Round.edition_id == round_.edition_id, Round.position > round_.position)
        .order_by(col(Round.position))
        .limit(1)
    ).first()


# --- entering results ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultInput:
    entry_id: int
    award: Award
    advances: bool


def accepted_place(session: Session, *, round_id: int, entry_id: int) -> RoundEntry:
    place = session.exec(
        select(RoundEntry).where(
            RoundEntry.round_id == round_id,
            RoundEntry.entry_id == entry_id,
            RoundEntry.status == RoundEntryStatus.accepted.value,
        )
    ).first()
    if place is None:
        raise ResultEntryNotFound()
    return place


def _take_region_place(session: Session, *, round_: Round, region_code: str) -> bool:
    """Take one place of the round's region quota: ``used = used + 1 WHERE used < limit`` on a
    counter made on first use. False when the region's places are taken."""
    assert round_.region_quota is not None
    session.connection().execute(
        insert_ignoring(session, _QUOTA, ("round_id", "scope", "scope_key")),
        {
            "round_id": round_.id,
            "scope": QuotaScope.region.value,
            "scope_key": region_code,
            "used": 0,
        },
    )
    taken = session.exec(
        update(QuotaCounter)
        .where(
            col(QuotaCounter.round_id) == round_.id,
            col(QuotaCounter.scope) == QuotaScope.region.value,
            col(QuotaCounter.scope_key) == region_code,
            col(QuotaCounter.used) < round_.region_quota,
        )
        .values(used=col(QuotaCounter.used) + 1)
    )
    return taken.rowcount == 1


def _give_region_place(session: Session, *, round_id: int, region_code: str) -> None:
    session.exec(
        update(QuotaCounter)
        .where(
            col(QuotaCounter.round_id) == round_id,
            col(QuotaCounter.scope) == QuotaScope.region.value,
            col(QuotaCounter.scope_key) == region_code,
            col(QuotaCounter.used) > 0,
        )
        .values(used=col(QuotaCounter.used) - 1)
    )


def set_result(
    session: Session,
    *,
    actor: Principal,
    round_: Round,
    data: ResultInput,
    now: datetime,
    has_next: bool,
) -> Result:
    """Enter or change the draft result of an accepted entry of ``round_``.

    An advancing entry takes a place of the region quota (the school's county) once; changing
    it to not advancing gives the place back once. Raises :class:`RegionQuotaReached`,
    :class:`ResultLocked` (no longer a draft), :class:`NoNextRound`; the caller's transaction
    is then rolled back, so nothing of the request stays."""
    if data.advances and not has_next:
        raise NoNextRound()
    place = accepted_place(session, round_id=round_.id or 0, entry_id=data.entry_id)
    session.connection().execute(
        insert_ignoring(session, _RESULTS, ("round_entry_id",)),
        {
            "round_entry_id": place.id,
            "round_id": round_.id,
            "entry_id": data.entry_id,
            "school_id": place.school_id,
            "award": data.award.value,
            "advances": False,
            "holds_region_quota": False,
            "status": ResultStatus.draft.value,
            "notice_id": None,
            "entered_by": actor.subject,
            "entered_at": now,
            "published_at": None,
            "updated_at": now,
        },
    )
    changed = session.exec(
        update(Result)
        .where(col(Result.round_entry_id) == place.id, col(Result.status) == ResultStatus.draft)
        .values(
            award=data.award.value,
            advances=data.advances,
            entered_by=actor.subject,
            updated_at=now,
        )
    )
    if changed.rowcount != 1:
        raise ResultLocked()
    if round_.region_quota is not None:
        _hold_region_place(session, round_=round_, place=place, advances=data.advances)
    result = session.exec(select(Result).where(Result.round_entry_id == place.id)).one()
    session.refresh(result)
    return result


def _hold_region_place(
    session: Session, *, round_: Round, place: RoundEntry, advances: bool
) -> None:
    school = session.get(School, place.school_id)
    assert school is not None
    flag = session.exec(
        update(Result)
        .where(
            col(Result.round_entry_id) == place.id,
            col(Result.holds_region_quota).is_(not advances),
        )
        .values(holds_region_quota=advances)
    )
    if flag.rowcount != 1:
        return  # already as asked
    if not advances:
        _give_region_place(session, round_id=round_.id or 0, region_code=school.region_code)
    elif not _take_region_place(session, round_=round_, region_code=school.region_code):
        raise RegionQuotaReached(limit=round_.region_quota, region_code=school.region_code)


def enter_result(
    session: Session, *, actor: Principal, round_id: int, data: ResultInput, now: datetime
) -> Result:
    round_ = organised_round(session, actor=actor, round_id=round_id)
    result = set_result(
        session,
        actor=actor,
        round_=round_,
        data=data,
        now=now,
        has_next=next_round(session, round_) is not None,
    )
    audit(
        session,
        actor,
        round_,
        "entered",
        now,
        entry_id=data.entry_id,
        award=data.award.value,
        advances=data.advances,
    )
    return result


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResultRow:
    place: RoundEntry
    entry: Entry
    school: School
    members: list[Student]
    result: Result | None
    show_class: bool  # the organiser and the pupils' own school see the class


def round_results(
    session: Session, *, actor: Principal, round_id: int, now: datetime
) -> tuple[Round, list[ResultRow]]:
    """The organiser: every accepted entry of the round with its result (or none yet).
    A school taking part: every result on notice or published (the public list: names and
    schools; the class only of its own pupils)."""
    round_ = readable_round(session, actor=actor, round_id=round_id)
    organiser = is_organiser(actor, organiser_of(round_))
    query = (
        select(RoundEntry, Entry, School, Result)
        .join(Entry, col(Entry.id) == RoundEntry.entry_id)
        .join(School, col(School.id) == RoundEntry.school_id)
        .join(Result, col(Result.round_entry_id) == RoundEntry.id, isouter=True)
        .where(RoundEntry.round_id == round_.id)
    )
    if organiser:
        accepted = col(RoundEntry.status) == RoundEntryStatus.accepted.value
        query = query.where(accepted | col(Result.id).is_not(None))
    else:
        query = query.where(
            col(Result.status).in_([ResultStatus.noticed.value, ResultStatus.published.value]),
        )
    rows = session.exec(query.order_by(col(School.name), col(Entry.id))).all()
    found = []
    pupils = 0
    for place, entry, school, result in rows:
        members = members_of(session, entry.id or 0)
        pupils += len(members)
        show_class = organiser or entry.school_id == actor.school_id
        found.append(ResultRow(place, entry, school, members, result, show_class))
    audit_service.record(
        session,
        action=audit_service.Action.competition_results_viewed,
        at=now,
        actor=actor,
        object_type="competition_round",
        object_id=round_.id,
        school_id=None if organiser else actor.school_id,
        region_code=round_.region_code,
        rows=len(found),
        pupils=pupils,
    )
    return round_, found


def members_of(session: Session, entry_id: int) -> list[Student]:
    return list(
        session.exec(
            select(Student)
            .join(EntryMember, col(EntryMember.student_id) == Student.id)
            .where(
                EntryMember.entry_id == entry_id,
                EntryMember.status == MemberStatus.active.value,
            )
            .order_by(col(EntryMember.id))
        ).all()
    )


# --- public notice (公示) --------------------------------------------------------------------


def open_notice(
    session: Session, *, actor: Principal, settings: Settings, round_id: int, now: datetime
) -> ResultNotice:
    """Put every draft result of the round on notice for the region's number of working days
    (the 公示 setting records use, from the round's region up)."""
    round_ = organised_round(session, actor=actor, round_id=round_id)
    days, _ = record_notices.notice_working_days(session, round_.region_code)
    notice = ResultNotice(
        round_id=round_.id or 0,
        working_days=days,
        starts_at=now,
        ends_at=window_end(now, days, holidays=settings.holidays, makeup=settings.makeup_workdays),
        result_count=0,
        opened_by=actor.subject,
    )
    session.add(notice)
    session.flush()
    moved = (
        session.execute(
            update(_RESULTS)
            .where(
                _RESULTS.c.round_id == round_.id,
                _RESULTS.c.status == ResultStatus.draft.value,
            )
            .values(status=ResultStatus.noticed.value, notice_id=notice.id, updated_at=now)
            .returning(_RESULTS.c.id)
        )
        .scalars()
        .all()
    )
    if not moved:
        raise NothingToNotice()
    expire_results(session, moved)
    notice.result_count = len(moved)
    session.add(notice)
    session.flush()
    audit(session, actor, round_, "noticed", now, notice_id=notice.id, results=len(moved))
    return notice


def expire_results(session: Session, ids: Iterable[int]) -> None:
    """Results a bulk update changed are read again when next used."""
    stale = set(ids)
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, Result) and loaded.id in stale:
            session.expire(loaded)


def notices_of(session: Session, round_id: int) -> list[ResultNotice]:
    return list(
        session.exec(
            select(ResultNotice)
            .where(ResultNotice.round_id == round_id)
            .order_by(col(ResultNotice.id).desc())
        ).all()
    )


# --- objections ------------------------------------------------------------------------------


def object_to(
    session: Session, *, actor: Principal, result_id: int, reason: str, now: datetime
) -> ResultObjection:
    """Staff of a school taking part in the round (the entry's own, or another whose pupils
    competed) object to a result on notice, while the notice is up."""
    result = session.get(Result, result_id)
    if result is None or actor.school_id is None:
        raise ResultNotFound()
    if result.status == ResultStatus.draft or not takes_part(session, actor, result.round_id):
        raise ResultNotFound()  # a draft is not shown to schools yet
    notice = session.get(ResultNotice, result.notice_id) if result.notice_id else None
    if result.status != ResultStatus.noticed or notice is None:
        raise ResultNotNoticed(current=result.status)
    if not notice.starts_at <= now < notice.ends_at:
        raise ResultNoticeClosed(ends_at=notice.ends_at.isoformat())
    objection = ResultObjection(
        result_id=result.id or 0,
        notice_id=notice.id or 0,
        school_id=actor.school_id,
        raised_by=actor.subject,
        raised_role=actor.role.value,
        reason=reason.strip()[:1000],
        raised_at=now,
        status=ResultObjectionStatus.open.value,
        resolution="",
    )
    session.add(objection)
    flush_unique(session, ResultObjectionDuplicate())
    round_ = session.get(Round, result.round_id)
    assert round_ is not None
    audit(session, actor, round_, "objection", now, result_id=result.id, objection_id=objection.id)
    return objection


def objections_of(
    session: Session, *, actor: Principal, round_id: int, status: ResultObjectionStatus | None
) -> list[ResultObjection]:
    round_ = organised_round(session, actor=actor, round_id=round_id)
    query = (
        select(ResultObjection)
        .join(Result, col(Result.id) == ResultObjection.result_id)
        .where(Result.round_id == round_.id)
    )
    if status is not None:
        query = query.where(ResultObjection.status == status.value)
    return list(session.exec(query.order_by(col(ResultObjection.id))).all())


def resolve_objection(
    session: Session,
    *,
    actor: Principal,
    objection_id: int,
    uphold: bool,
    resolution: str,
    now: datetime,
) -> ResultObjection:
    """The round's organiser settles an objection. Dismissed: the result stands (published
    once its window has closed and nothing else is open). Upheld: the result goes back to a
    draft for the organiser to correct and put on notice again; other open objections to it
    are settled with it."""
    objection = session.get(ResultObjection, objection_id)
    result = session.get(Result, objection.result_id) if objection else None
    round_ = session.get(Round, result.round_id) if result else None
    if objection is None or result is None or round_ is None:
        raise ResultObjectionNotFound()
    if not is_organiser(actor, organiser_of(round_)):
        raise ResultObjectionNotFound()
    text = resolution.strip()[:200]
    status = ResultObjectionStatus.upheld if uphold else ResultObjectionStatus.dismissed
    settled = session.exec(
        update(ResultObjection)
        .where(
            col(ResultObjection.id) == objection.id,
            col(ResultObjection.status) == ResultObjectionStatus.open.value,
        )
        .values(status=status.value, resolution=text, resolved_by=actor.subject, resolved_at=now)
    )
    if settled.rowcount != 1:
        raise ResultObjectionResolved()
    if uphold:
        session.exec(
            update(Result)
            .where(col(Result.id) == result.id, col(Result.status) == ResultStatus.noticed.value)
            .values(status=ResultStatus.draft.value, notice_id=None, updated_at=now)
        )
        session.exec(
            update(ResultObjection)
            .where(
                col(ResultObjection.result_id) == result.id,
                col(ResultObjection.status) == ResultObjectionStatus.open.value,
            )
            .values(
                status=ResultObjectionStatus.upheld.value,
                resolution=f"同一成绩的异议 {objection.id} 已成立，成绩退回修改",
                resolved_by=actor.subject,
                resolved_at=now,
            )
        )
    session.refresh(objection)
    session.refresh(result)
    audit(
        session,
        actor,
        round_,
        "objection_upheld" if uphold else "objection_dismissed",
        now,
        result_id=result.id,
        objection_id=objection.id,
    )
    return objection


def open_objection_exists() -> object:
    """SQL: the result (``competition_result``) has an open objection."""
    return exists().where(
        col(ResultObjection.result_id) == col(Result.id),
        col(ResultObjection.status) == ResultObjectionStatus.open.value,
    )
