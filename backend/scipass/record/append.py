"""The one seam through which every source appends participation records (写实记录).

Check-in, competition results, volunteer shifts and manual entry all call
:func:`append_record` (or :func:`append_record_id`, which reads nothing back), so that the
rules of a new record are written once: its row (:func:`record_values`: the term, the
status, the evaluation dimension, the checks of its times and minutes) and its first history
rows (:func:`first_events`).

The dimension: what the source chose (a teacher's manual entry or correction, an activity's
organiser, a competition category with its own), else the mapping of the pupil's school's
region (its policy pack: :func:`scipass.policy.packs.dimension_for`). A stored record keeps
the dimension it was given, whatever the packs say later.

One source event gives at most one record per student, whatever retries happen: the unique
(student, source, source key) decides, with ``ON CONFLICT DO NOTHING``. No module outside
``scipass.record`` names the record tables.

The PostgreSQL check-in batch writes many visits in one statement; it takes the records'
part of that statement from :func:`pg_append_many`, built from the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from scipass.activity.models import Activity
from scipass.core.auth import Principal
from scipass.core.clock import local_date, term_of
from scipass.core.db import insert_ignoring
from scipass.org.models import Bureau, School, Venue
from scipass.policy import packs as policy_packs
from scipass.record.errors import (
    RecordInvalid,
)
from scipass.record.models import (
    DEFAULT_DIMENSION,
    STUDENT_OPEN,
    Dimension,
    ParticipationRecord,
    RecordCategory,
    RecordRole,
    RecordSource,
    RecordStatus,
)
from scipass.record.transitions import SYSTEM, add_event
from scipass.roster.models import Student

MAX_DAILY_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordFacts:
    """What a source knows about a participation."""

    title: str
    category: RecordCategory
    organiser_name: str
    place: str
    started_at: datetime
    ended_at: datetime
    minutes: int
    role: RecordRole = RecordRole.participant
    outcome: str = ""
    activity_id: int | None = None
    organiser_venue_id: int | None = None
    organiser_school_id: int | None = None
    attester_name: str = ""
    attester_unit: str = ""
    attester_phone: str = ""
    confirmed: bool = False  # the organiser attests in advance
    # The dimension the source chose; None: the pupil's school's region maps the category.
    dimension: Dimension | None = None


def facts_for_activity(
    session: Session,
    activity: Activity,
    *,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    minutes: int | None = None,
    role: RecordRole = RecordRole.participant,
    outcome: str = "",
) -> RecordFacts:
    """Facts of a participation in ``activity``: its title, category, dimension, place and
    organiser, who attests it (the venue or school, with its phone) and its confirmation rule.

    The activity's dimension is its organiser's choice only where it differs from the national
    mapping of its category (what an activity gets when its organiser names none); otherwise
    each pupil's record takes the mapping of the pupil's school's region."""
    if activity.venue_id is not None:
        venue = session.get(Venue, activity.venue_id)
        organiser_name = venue.name if venue else ""
        phone = venue.phone if venue else ""
    elif activity.school_id is not None:
        school = session.get(School, activity.school_id)
        organiser_name = school.name if school else ""
        phone = ""
    else:  # a bureau's (issue 19): its records are confirmed in advance
        bureau = session.get(Bureau, activity.bureau_id)
        organiser_name = bureau.name if bureau else ""
        phone = ""
    category = RecordCategory(activity.record_category)
    chosen = Dimension(activity.dimension)
    return RecordFacts(
        title=activity.title,
        category=category,
        dimension=None if chosen is DEFAULT_DIMENSION[category] else chosen,
        organiser_name=organiser_name,
        place=activity.place_name,
        started_at=started_at or activity.starts_at,
        ended_at=ended_at or activity.ends_at,
        minutes=activity.credited_minutes if minutes is None else minutes,
        role=role,
        outcome=outcome,
        activity_id=activity.id,
        organiser_venue_id=activity.venue_id,
        organiser_school_id=activity.school_id,
        attester_unit=organiser_name,
        attester_phone=phone,
        confirmed=activity.auto_confirm_records,
    )


_RECORDS = ParticipationRecord.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


def _insert_ignoring_duplicate(session: Session, values: dict[str, Any]) -> int | None:
    """Insert a record; None when its source key is already taken (by this or another
    transaction: PostgreSQL waits for the other to finish)."""
    statement = insert_ignoring(session, _RECORDS, ("student_id", "source", "source_ref"))
    return session.connection().execute(statement, values).scalar_one_or_none()


def record_values(
    session: Session,
    *,
    student_id: int,
    school_id: int,
    source: RecordSource,
    source_ref: str,
    facts: RecordFacts,
    actor: Principal | None,
    now: datetime,
) -> dict[str, Any]:
    """The row of a new record, checked; :func:`append_record_id` inserts it."""
    if facts.ended_at < facts.started_at:
        raise RecordInvalid("结束时间不能早于开始时间", "The end cannot come before the start")
    if not 0 <= facts.minutes <= MAX_DAILY_MINUTES:
        raise RecordInvalid("时长须在 0 到 1440 分钟之间", "Minutes must be 0 to 1440")
    term = term_of(local_date(facts.started_at))
    status = RecordStatus.confirmed if facts.confirmed else RecordStatus.pending
    dimension = facts.dimension or policy_packs.dimension_for(session, school_id, facts.category)
    values = {
        "student_id": student_id,
        "school_id": school_id,
        "source": source.value,
        "source_ref": source_ref,
        "activity_id": facts.activity_id,
        "organiser_venue_id": facts.organiser_venue_id,
        "organiser_school_id": facts.organiser_school_id,
        "organiser_name": facts.organiser_name[:100],
        "title": facts.title[:100],
        "category": facts.category.value,
        "dimension": dimension.value,
        "place": facts.place[:100],
        "started_at": facts.started_at,
        "ended_at": facts.ended_at,
        "school_year": term.school_year,
        "semester": term.semester.value,
        "minutes": facts.minutes,
        "role": facts.role.value,
        "outcome": facts.outcome[:100],
        "reflection": "",
        "attester_name": facts.attester_name[:50],
        "attester_unit": facts.attester_unit[:100],
        "attester_phone": facts.attester_phone[:30],
        "status": status.value,
        "status_reason": "",
        "created_at": now,
        "created_by": actor.subject if actor else SYSTEM,
        "confirmed_at": now if facts.confirmed else None,
        "updated_at": now,
    }
    return values


def append_record_id(
    session: Session,
    *,
    student_id: int,
    school_id: int,
    source: RecordSource,
    source_ref: str,
    facts: RecordFacts,
    actor: Principal | None,
    now: datetime,
) -> int | None:
    """Append the record of one source event for one student: its id, or None when the event
    already has its record (this call or a concurrent one came second). The lean form that the
    check-in path uses; it reads nothing back."""
    values = record_values(
        session,
        student_id=student_id,
        school_id=school_id,
        source=source,
        source_ref=source_ref,
        facts=facts,
        actor=actor,
        now=now,
    )
    new_id = _insert_ignoring_duplicate(session, values)
    if new_id is None:
        return None
    for event in first_events(values, actor=actor, now=now):
        add_event(session, new_id, actor, **event)
    return new_id


def first_events(
    values: dict[str, Any], *, actor: Principal | None, now: datetime
) -> list[dict[str, Any]]:
    """The history of a record just made from ``values`` (:func:`record_values`): created
    pending, then confirmed at once when its organiser attests in advance. The arguments of
    :func:`scipass.record.transitions.add_event`, and (:func:`event_rows`) the rows
    :func:`pg_append_many` writes."""
    events: list[dict[str, Any]] = [
        {
            "action": "created",
            "from_status": None,
            "to_status": RecordStatus.pending,
            "now": now,
        }
    ]
    if values["status"] == RecordStatus.confirmed:
        events.append(
            {
                "action": "confirmed",
                "from_status": RecordStatus.pending,
                "to_status": RecordStatus.confirmed,
                "now": now,
                "note": "组织方预先确认",
            }
        )
    return events


def event_rows(
    values: dict[str, Any], *, actor: Principal | None, now: datetime
) -> list[dict[str, Any]]:
    """:func:`first_events` as rows of ``record_event`` without their record's id."""
    return [
        {
            "at": event["now"],
            "action": event["action"],
            "actor": actor.subject if actor else SYSTEM,
            "actor_role": actor.role.value if actor else SYSTEM,
            "from_status": None if event["from_status"] is None else str(event["from_status"]),
            "to_status": str(event["to_status"]),
            "note": event.get("note", ""),
        }
        for event in first_events(values, actor=actor, now=now)
    ]


@lru_cache(maxsize=8)
def pg_append_many(columns: tuple[str, ...], source: str = "input") -> str:
    """Common table expressions that append many records and their first history rows in a
    statement of the caller's (PostgreSQL), for a batch that writes other rows in the same
    statement (the check-in batch: :mod:`scipass.checkin.batch`).

    ``source`` names a CTE of the caller with a row ``(n, x)`` per record: ``n`` its position,
    ``x`` a JSON object whose ``r`` is the record's row (:func:`record_values`, with
    ``columns`` its keys) and ``h`` its history rows (:func:`event_rows`). The fragment
    defines ``rec_n (id, n, x)``: one row per record written, with the input it came from; a
    record whose source key was taken already (by this batch or another transaction) has
    none. The caller writes ``WITH {source} AS (...), <this>, ...``."""
    names = ",".join(columns)
    picked = ",".join(f"j.{name}" for name in columns)
    # Column names come from record_values; every value is a bound parameter of the caller.
    return (
        f"rec AS (INSERT INTO participation_record ({names}) "  # noqa: S608
        f"SELECT {picked} FROM {source}, "
        f"jsonb_populate_record(NULL::participation_record, {source}.x->'r') j "
        f"ORDER BY {source}.n "
        "ON CONFLICT (student_id,source,source_ref) DO NOTHING "
        "RETURNING id,student_id,source,source_ref),"
        f"rec_n AS (SELECT rec.id, {source}.n, {source}.x FROM rec, {source} "
        f"WHERE ({source}.x->'r'->>'student_id')::bigint = rec.student_id "
        f"AND {source}.x->'r'->>'source' = rec.source "
        f"AND {source}.x->'r'->>'source_ref' = rec.source_ref),"
        "hist AS (INSERT INTO record_event "
        "(record_id,at,action,actor,actor_role,from_status,to_status,note) "
        "SELECT rec_n.id,h.at,h.action,h.actor,h.actor_role,h.from_status,h.to_status,h.note "
        "FROM rec_n, jsonb_to_recordset(rec_n.x->'h') AS h(at timestamptz, action text, "
        "actor text, actor_role text, from_status text, to_status text, note text) "
        "ORDER BY rec_n.n)"
    )


def append_record(
    session: Session,
    *,
    student: Student,
    source: RecordSource,
    source_ref: str,
    facts: RecordFacts,
    actor: Principal | None,
    now: datetime,
) -> tuple[ParticipationRecord, bool]:
    """The record of one source event for one student, and whether this call created it."""
    new_id = append_record_id(
        session,
        student_id=student.id or 0,
        school_id=student.school_id,
        source=source,
        source_ref=source_ref,
        facts=facts,
        actor=actor,
        now=now,
    )
    if new_id is None:
        existing = session.exec(
            select(ParticipationRecord).where(
                ParticipationRecord.student_id == student.id,
                ParticipationRecord.source == source.value,
                ParticipationRecord.source_ref == source_ref,
            )
        ).one()
        return existing, False
    record = session.get(ParticipationRecord, new_id)
    assert record is not None
    return record, True


def set_visit_time(
    session: Session,
    *,
    record_id: int,
    started_at: datetime,
    ended_at: datetime,
    minutes: int,
    actor: Principal | None,
    now: datetime,
    note: str,
) -> bool:
    """Carry a visit's times and minutes onto its record while the record is still pending or
    confirmed (a conditional update); a reviewed record keeps what the school saw."""
    if not 0 <= minutes <= MAX_DAILY_MINUTES:
        raise RecordInvalid("时长须在 0 到 1440 分钟之间", "Minutes must be 0 to 1440")
    table = ParticipationRecord.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    status = session.execute(
        update(table)
        .where(
            table.c.id == record_id,
            table.c.status.in_([s.value for s in STUDENT_OPEN]),
        )
        .values(started_at=started_at, ended_at=ended_at, minutes=minutes, updated_at=now)
        .returning(table.c.status)
    ).scalar_one_or_none()
    if status is None:
        return False
    add_event(session, record_id, actor, "duration", status, status, now, f"{note}：{minutes} 分钟")
    return True
