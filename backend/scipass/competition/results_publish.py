"""Publication of competition results, and the participation records they become.

A result on notice is published once its notice window has closed with no open objection,
by one conditional update (``noticed → published``) that returns the rows it changed: only
those are carried on, so publishing twice, a retry after a lost answer, the organiser and
the worker at once all publish each result exactly once. For each published result:

* an advancing entry gets its place in the next round of the edition (``via`` = advanced),
  sent to that round's organiser as the school's recommendation is (``recommended``, holding
  no place of the school's quota): the organiser finds it in the round's list without a new
  registration and accepts it (or not) as any entry sent to it, then enters its result; the
  unique (entry, round) keeps it one;
* every active member of the entry gets one participation record through the record
  package's append seam (:func:`scipass.record.append.append_record_id`), source
  ``competition``, role contestant, source key ``competition:<round>:<entry>`` (unique per
  member): every award appends one; 参与 appends one only for the entry's last round (it
  does not advance). The record is created confirmed: the result's public notice is the
  attestation, the round's organiser the 证明人. The school reviews it like any record.

The category of a competition decides the record's evaluation dimension through
:data:`CATEGORY_DIMENSION` (学业水平 by default), the one place that mapping lives, read
through :func:`dimension_for` so that a region's own mapping can replace it later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, update
from sqlmodel import Session, col, select

from scipass.competition.models import (
    Competition,
    CompetitionCategory,
    Edition,
    Entry,
    Round,
    RoundEntryStatus,
    RoundEntryVia,
)
from scipass.competition.models import RoundEntry as RoundPlace
from scipass.competition.results import audit, expire_results, members_of, next_round
from scipass.competition.results_models import (
    AWARD_LABEL,
    Award,
    Result,
    ResultNotice,
    ResultObjection,
    ResultObjectionStatus,
    ResultStatus,
)
from scipass.consent.models import Purpose
from scipass.consent.service import has_consent
from scipass.core.auth import Principal
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.db import insert_ignoring
from scipass.core.jobs import Jobs
from scipass.org.models import Venue
from scipass.org.organiser import OrganiserKind, organiser_name, organiser_of
from scipass.record.append import RecordFacts, append_record_id
from scipass.record.models import Dimension, RecordCategory, RecordRole, RecordSource

# The evaluation dimension a competition's records count in, where its category has one of
# its own: science drama and film are 艺术素养 (drama among its examples, DOMAIN-NOTES §1.2).
# Every other competition's records take what the pupil's school's region maps the record
# category ``competition`` to (its policy pack; nationally 学业水平: 研究性学习与创新成果).
CATEGORY_DIMENSION: dict[CompetitionCategory, Dimension] = {
    CompetitionCategory.science_drama: Dimension.art,
    CompetitionCategory.science_film: Dimension.art,
}

_RESULTS = Result.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
_PLACES = RoundPlace.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


def dimension_for(category: str) -> Dimension | None:
    """The dimension of a record of a competition of ``category``, where the category has
    one of its own; None: the pupil's school's region maps it (the record seam)."""
    try:
        return CATEGORY_DIMENSION.get(CompetitionCategory(category))
    except ValueError:
        return None


def source_ref(round_id: int, entry_id: int) -> str:
    """The records' source key: one record per member, round and entry."""
    return f"competition:{round_id}:{entry_id}"


def appends_record(result: Result) -> bool:
    """Every award appends a record; 参与 only in the entry's last round (it does not advance)."""
    return result.award != Award.participation or not result.advances


def outcome(round_: Round, result: Result) -> str:
    text = f"{round_.name}：{AWARD_LABEL[Award(result.award)]}"
    return f"{text}（晋级下一轮）" if result.advances else text


@dataclass(frozen=True, slots=True)
class Published:
    published: int  # results published now
    records: int  # records appended now
    advanced: int  # entries placed in their next round now
    held: int  # results whose window closed but an objection is still open
    waiting: int  # results whose notice is still up


def publish_due(
    session: Session, *, now: datetime, actor: Principal | None, round_id: int | None = None
) -> Published:
    """Publish every result (of one round, or all) whose notice has closed with no open
    objection; append its records and move advancing entries up."""
    open_objection = exists().where(
        col(ResultObjection.result_id) == _RESULTS.c.id,
        col(ResultObjection.status) == ResultObjectionStatus.open.value,
    )
    closed = select(col(ResultNotice.id)).where(col(ResultNotice.ends_at) <= now)
    where = [
        _RESULTS.c.status == ResultStatus.noticed.value,
        _RESULTS.c.notice_id.in_(closed),
        ~open_objection,
    ]
    if round_id is not None:
        where.append(_RESULTS.c.round_id == round_id)
    ids = list(
        session.execute(
            update(_RESULTS)
            .where(*where)
            .values(status=ResultStatus.published.value, published_at=now, updated_at=now)
            .returning(_RESULTS.c.id)
        )
        .scalars()
        .all()
    )
    expire_results(session, ids)
    records = advanced = 0
    for result_id in sorted(ids):
        result = session.get(Result, result_id)
        assert result is not None
        added, moved = _carry(session, result, actor=actor, now=now)
        records += added
        advanced += moved
    held, waiting = _still_noticed(session, now=now, round_id=round_id)
    return Published(len(ids), records, advanced, held, waiting)


def _still_noticed(session: Session, *, now: datetime, round_id: int | None) -> tuple[int, int]:
    query = (
        select(ResultNotice.ends_at, func.count())
        .select_from(Result)
        .join(ResultNotice, col(ResultNotice.id) == Result.notice_id)
        .where(Result.status == ResultStatus.noticed.value)
        .group_by(col(ResultNotice.ends_at))
    )
    if round_id is not None:
        query = query.where(Result.round_id == round_id)
    held = waiting = 0
    for ends_at, count in session.exec(query).all():
        if ends_at <= now:
            held += count
        else:
            waiting += count
    return held, waiting


def _carry(
    session: Session, result: Result, *, actor: Principal | None, now: datetime
) -> tuple[int, int]:
    """What a result just published brings: its records, its place in the next round."""
    round_ = session.get(Round, result.round_id)
    entry = session.get(Entry, result.entry_id)
    notice = session.get(ResultNotice, result.notice_id) if result.notice_id else None
    assert round_ is not None
    assert entry is not None
    assert notice is not None
    moved = 0
    if result.advances:
        following = next_round(session, round_)
        if following is not None:
            moved = _advance(session, entry=entry, following=following, now=now)
    added = _append_records(session, result, round_, entry, notice, actor=actor, now=now)
    audit(
        session,
        actor,
        round_,
        "published",
        now,
        result_id=result.id,
        entry_id=entry.id,
        award=result.award,
        advances=result.advances,
        records=added,
    )
    return added, moved


def _advance(session: Session, *, entry: Entry, following: Round, now: datetime) -> int:
    """The entry's place in the next round (once, whatever the retries)."""
    new_id = (
        session.connection()
        .execute(
            insert_ignoring(session, _PLACES, ("entry_id", "round_id")),
            {
                "entry_id": entry.id,
                "round_id": following.id,
                "school_id": entry.school_id,
                "status": RoundEntryStatus.recommended.value,
                "via": RoundEntryVia.advanced.value,
                "holds_quota": False,
                "school_decided_by": None,
                "school_decided_at": None,
                "school_reason": "",
                "organiser_decided_by": None,
                "organiser_decided_at": None,
                "organiser_reason": "",
                "created_at": now,
                "updated_at": now,
            },
        )
        .scalar_one_or_none()
    )
    return 0 if new_id is None else 1


def _append_records(
    session: Session,
    result: Result,
    round_: Round,
    entry: Entry,
    notice: ResultNotice,
    *,
    actor: Principal | None,
    now: datetime,
    last_round: bool = False,
) -> int:
    if not (last_round or appends_record(result)):
        return 0
    edition = session.get(Edition, round_.edition_id)
    competition = session.get(Competition, edition.competition_id) if edition else None
    assert competition is not None
    ref = organiser_of(round_)
    unit = organiser_name(session, ref) or competition.organiser_unit
    phone = ""
    if ref.kind is OrganiserKind.venue:
        venue = session.get(Venue, ref.id)
        phone = venue.phone if venue else ""
    facts = RecordFacts(
        title=f"{competition.name}（{round_.name}）",
        category=RecordCategory.competition,
        dimension=dimension_for(competition.category),
        organiser_name=unit,
        place=unit,
        started_at=notice.starts_at,
        ended_at=notice.starts_at,
        minutes=0,
        role=RecordRole.contestant,
        outcome=outcome(round_, result),
        organiser_venue_id=ref.id if ref.kind is OrganiserKind.venue else None,
        organiser_school_id=ref.id if ref.kind is OrganiserKind.school else None,
        attester_name=unit,
        attester_unit=unit,
        attester_phone=phone,
        confirmed=True,  # the public notice of the result is the attestation
    )
    added = 0
    today = local_date(now)
    for student in members_of(session, entry.id or 0):
        if not has_consent(
            session, student=student, purpose=Purpose.participation_record, today=today
        ):
            continue  # the guardian withdrew since the entry: no new record (issue 20)
        new_id = append_record_id(
            session,
            student_id=student.id or 0,
            school_id=student.school_id,
            source=RecordSource.competition,
            source_ref=source_ref(round_.id or 0, entry.id or 0),
            facts=facts,
            actor=actor,
            now=now,
        )
        added += new_id is not None
    return added


def settle_participation(
    session: Session, *, entry: Entry, left_round_id: int, actor: Principal | None, now: datetime
) -> int:
    """参与 is appended for the last round an entry took part in. An entry that advanced with
    参与 and then leaves the next round without taking part in it (its organiser rejects it,
    or it is withdrawn) took part last in the round it advanced from: that round's 参与
    records are appended now, for the members still in the entry (once: the source key)."""
    left = session.get(Round, left_round_id)
    assert left is not None
    previous = session.exec(
        select(Round)
        .where(Round.edition_id == left.edition_id, col(Round.position) < left.position)
        .order_by(col(Round.position).desc())
    ).first()
    if previous is None:
        return 0
    result = session.exec(
        select(Result).where(
            Result.round_id == previous.id,
            Result.entry_id == entry.id,
            Result.status == ResultStatus.published.value,
            Result.award == Award.participation.value,
            col(Result.advances).is_(True),
        )
    ).first()
    notice = session.get(ResultNotice, result.notice_id) if result and result.notice_id else None
    if result is None or notice is None:
        return 0
    return _append_records(
        session, result, previous, entry, notice, actor=actor, now=now, last_round=True
    )


def publish_results(session: Session, now: datetime, settings: Settings) -> int:
    """The worker: publish every result whose notice closed with no open objection."""
    return publish_due(session, now=now, actor=None).published


def register(jobs: Jobs) -> None:
    jobs.register("publish-competition-results", publish_results)
