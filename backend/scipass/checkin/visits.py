"""Visits (签到/签退): the portable write path of a judged scan, closing and correcting visits.

:func:`apply_scan` judges a scan and applies it: an entry opens the visit (``check_in``, one
per student, activity and day) with its pending record (through the record package's seam,
:mod:`scipass.record.append`), an exit closes it and carries its minutes onto the record;
the scan event is stored either way, a refused scan's too. Every insert is ``ON CONFLICT DO
NOTHING`` on its unique key, so retries and concurrent scans make one of each whatever the
engine. On PostgreSQL a student's own scan of an uncapped activity takes the batch path
instead (:mod:`scipass.checkin.batch`); this is the path for everything else.

Also: the job that closes visits left open (``auto_closed``), staff corrections (audited),
the purge of scan locations, and their erasure when the guardian withdraws ``location``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, update
from sqlmodel import Session, col, select

from scipass.activity import access as activity_access
from scipass.activity import places as activity_places
from scipass.activity.models import Activity, AutoCloseCredit
from scipass.audit import service as audit_service
from scipass.checkin.batch import Entry, ScanBatch
from scipass.checkin.errors import (
    REFUSAL_BY_CODE,
    CheckInNotFound,
    CodeInvalid,
    CorrectionInvalid,
    NonceRace,
    NotCheckedIn,
    ScanCapacityFull,
    ScanRefused,
)
from scipass.checkin.models import (
    CheckIn,
    ClosedBy,
    Direction,
    ScanEvent,
    ScanResult,
)
from scipass.checkin.rules import (
    EXIT_GRACE,
    credited_minutes,
    visit_close_at,
)
from scipass.checkin.schemas import (
    CheckInCorrection,
)
from scipass.checkin.views import (
    ActivityView,
    Pupil,
    Scan,
    insert_row,
)
from scipass.core.auth import Principal
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.record import append as record_append
from scipass.record import service as record_service
from scipass.record.models import RecordSource


@dataclass(frozen=True, slots=True, kw_only=True)
class Visit:
    """A visit just opened, as written (building a table model costs more than the insert)."""

    id: int
    activity_id: int
    student_id: int
    school_id: int
    day: date
    source: str
    code_id: int | None
    entered_at: datetime
    record_id: int | None
    operator: str
    created_at: datetime
    updated_at: datetime
    exited_at: datetime | None = None
    closed_by: str | None = None
    minutes: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    check_in: CheckIn | Visit
    created: bool  # a new visit, or this scan closed it
    event_stored: bool = False  # its scan event is written already
    pending: Entry | None = None  # noted for the batch's flush; ids come from it
    # a replay of a key: the result its first scan had (a family scan answers it again)
    first_result: ScanResult | None = None

    def settled(self) -> Outcome:
        """This outcome with the ids its batch's flush gave the visit and the record."""
        if self.pending is None:
            return self
        if self.pending.existing is not None:  # a visit made before the batch
            return Outcome(self.pending.existing, created=False, event_stored=True)
        assert self.pending.check_in_id is not None  # the batch's flush gave the visit its id
        visit = replace(
            self.check_in, id=self.pending.check_in_id, record_id=self.pending.record_id
        )
        return Outcome(visit, created=self.created, event_stored=True)

    @property
    def result(self) -> ScanResult:
        return ScanResult.accepted if self.created else ScanResult.duplicate


@dataclass(frozen=True, slots=True)
class Earlier:
    """The event a nonce was first used for."""

    fingerprint: str
    result: str
    reason: str
    check_in_id: int | None


def earlier_event(session: Session, scan: Scan) -> Earlier | None:
    if scan.nonce is None:
        return None
    row = (
        session.connection()
        .execute(_EARLIER, {"operator": scan.operator, "nonce": scan.nonce})
        .first()
    )
    return Earlier(*row) if row is not None else None


EVENTS = ScanEvent.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


_EARLIER = select(
    EVENTS.c.fingerprint, EVENTS.c.result, EVENTS.c.reason, EVENTS.c.check_in_id
).where(EVENTS.c.operator == bindparam("operator"), EVENTS.c.nonce == bindparam("nonce"))


def key_used(session: Session, subject: str, key: str) -> bool:
    """Whether ``subject`` sent a scan with this ``Idempotency-Key`` (the keys check-in keeps
    on its scan events, as :mod:`scipass.core.idempotency` asks of every key store)."""
    return (
        session.connection().execute(_EARLIER, {"operator": subject, "nonce": key}).first()
        is not None
    )


def replay(session: Session, earlier: Earlier) -> Outcome:
    """The first answer to a scan sent again with the same nonce."""
    if earlier.result == ScanResult.refused:
        raise REFUSAL_BY_CODE.get(earlier.reason, CodeInvalid)()
    check_in = session.get(CheckIn, earlier.check_in_id)
    assert check_in is not None
    return Outcome(check_in, created=False, first_result=ScanResult(earlier.result))


def visit_key(activity_id: int, day: date) -> str:
    """The records service's source key of a visit: one record per student, activity and day,
    the same unique key as the visit itself."""
    return f"{activity_id}:{day.isoformat()}"


def enter(
    session: Session,
    activity: ActivityView,
    student: Pupil,
    scan: Scan,
    actor: Principal | None,
    *,
    batch: ScanBatch | None = None,
    skip_capacity: bool = False,
) -> Outcome:
    """Open the visit and its pending record, or find the visit already open today.

    In a batch of self-scans (PostgreSQL, :mod:`scipass.checkin.batch`) a visit of an uncapped
    activity is only noted, and the batch's flush writes it. Otherwise it is written here:
    both inserts are ``ON CONFLICT DO NOTHING`` on the same (student, activity, day) key, so
    concurrent scans of one student make one of each, whatever the engine."""
    at = scan.happened_at
    day = local_date(at)
    counted = activity.capacity is not None
    if batch is not None and not counted:
        return _defer(session, batch, activity, student, scan, actor, at, day)
    # With a capacity the place is taken first, before any insert: every writer then locks
    # the activity row before any student's keys, so a class check-in and a pupil's own scan
    # cannot wait on each other. A duplicate gives its place back with the savepoint.
    with session.begin_nested() if counted else nullcontext() as savepoint:
        if counted and not activity_places.take_place(session, activity.id) and not skip_capacity:
            existing = _visit(session, activity.id, student.id, day)
            if existing is not None:  # full, but this student is already in
                return Outcome(existing, created=False)
            raise ScanCapacityFull(capacity=activity.capacity)
        record_id = record_append.append_record_id(
            session, **_record_of(activity, student, scan, actor, at, day)
        )
        values = {**_visit_values(activity, student, scan, at, day), "record_id": record_id}
        new_id = (
            insert_row(session, CheckIn, values, ["activity_id", "student_id", "day"])
            if record_id is not None
            else None
        )
        if new_id is None and savepoint is not None:
            savepoint.rollback()
    if new_id is None:
        existing = _visit(session, activity.id, student.id, day)
        assert existing is not None
        return Outcome(existing, created=False)
    return Outcome(Visit(id=new_id, **values), created=True)


def _defer(
    session: Session,
    batch: ScanBatch,
    activity: ActivityView,
    student: Pupil,
    scan: Scan,
    actor: Principal | None,
    at: datetime,
    day: date,
) -> Outcome:
    """Note a new visit, its record (the record package's row and first history rows) and
    its scan event for the batch's flush; its ids come from the flush."""
    record = record_append.record_values(
        session, **_record_of(activity, student, scan, actor, at, day)
    )
    visit = _visit_values(activity, student, scan, at, day)
    event = scan.values(ScanResult.accepted, "", None)
    del event["check_in_id"]
    entry = Entry(
        record=record,
        events=record_append.event_rows(record, actor=actor, now=scan.now),
        visit=visit,
        event=event,
    )
    batch.defer(entry)
    return Outcome(
        Visit(id=0, record_id=None, **visit), created=True, event_stored=True, pending=entry
    )


def _record_of(
    activity: ActivityView,
    student: Pupil,
    scan: Scan,
    actor: Principal | None,
    at: datetime,
    day: date,
) -> dict[str, Any]:
    """The records service's arguments for the pending record of a visit opened at ``at``."""
    return {
        "student_id": student.id,
        "school_id": student.school_id,
        "source": RecordSource.checkin,
        "source_ref": visit_key(activity.id, day),
        "facts": replace(activity.facts, started_at=at, ended_at=at, minutes=0),
        "actor": actor,
        "now": scan.now,
    }


def _visit_values(
    activity: ActivityView, student: Pupil, scan: Scan, at: datetime, day: date
) -> dict[str, Any]:
    return {
        "activity_id": activity.id,
        "student_id": student.id,
        "school_id": student.school_id,
        "day": day,
        "source": scan.source.value,
        "code_id": scan.code_id,
        "entered_at": at,
        "operator": scan.operator,
        "created_at": scan.now,
        "updated_at": scan.now,
    }


def _visit(session: Session, activity_id: int, student_id: int, day: date) -> CheckIn | None:
    return session.exec(
        _VISIT, params={"activity_id": activity_id, "student_id": student_id, "day": day}
    ).first()


_VISIT = select(CheckIn).where(
    col(CheckIn.activity_id) == bindparam("activity_id"),
    col(CheckIn.student_id) == bindparam("student_id"),
    col(CheckIn.day) == bindparam("day"),
)


def _exit(
    session: Session,
    activity: ActivityView,
    student: Pupil,
    scan: Scan,
    actor: Principal | None,
) -> Outcome:
    at = scan.happened_at
    check_in = session.exec(
        select(CheckIn).where(
            CheckIn.activity_id == activity.id,
            CheckIn.student_id == student.id,
            CheckIn.day == local_date(at),
        )
    ).first()
    if check_in is None:
        raise NotCheckedIn()
    if check_in.exited_at is not None:
        return Outcome(check_in, created=False)
    exited_at = max(at, check_in.entered_at)
    closed = close_visit(
        session,
        check_in,
        activity,
        exited_at=exited_at,
        minutes=credited_minutes(activity, check_in.entered_at, exited_at),
        closed_by=ClosedBy.exit_scan,
        actor=actor,
        now=scan.now,
    )
    session.refresh(check_in)
    return Outcome(check_in, created=closed)


def close_visit(
    session: Session,
    check_in: CheckIn,
    activity: ActivityView,
    *,
    exited_at: datetime,
    minutes: int,
    closed_by: ClosedBy,
    actor: Principal | None,
    now: datetime,
) -> bool:
    """Close an open visit (a conditional update: only one closer wins) and carry its
    duration onto the record while the record can still change."""
    result = session.exec(
        update(CheckIn)
        .where(col(CheckIn.id) == check_in.id, col(CheckIn.exited_at).is_(None))
        .values(exited_at=exited_at, minutes=minutes, closed_by=closed_by.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    if check_in.record_id is not None:
        record_append.set_visit_time(
            session,
            record_id=check_in.record_id,
            started_at=check_in.entered_at,
            ended_at=exited_at,
            minutes=minutes,
            actor=actor,
            now=now,
            note={
                ClosedBy.exit_scan: "签退",
                ClosedBy.auto_closed: "活动结束，未签退自动关闭",
                ClosedBy.staff: "工作人员更正",
            }[closed_by],
        )
    return True


def apply_scan(
    session: Session,
    scan: Scan,
    judge: Callable[[], tuple[ActivityView, Pupil]],
    actor: Principal | None,
    *,
    batch: ScanBatch | None = None,
    skip_capacity: bool = False,
) -> Outcome:
    """Judge a scan, apply it and store its event; a refusal stores its event and raises.
    ``batch``: the self-scan batch this scan is part of (PostgreSQL), which writes a new
    visit for it."""
    try:
        activity, student = judge()
        if scan.direction is Direction.exit:
            outcome = _exit(session, activity, student, scan, actor)
        else:
            outcome = enter(
                session, activity, student, scan, actor, batch=batch, skip_capacity=skip_capacity
            )
    except ScanRefused as refusal:
        scan.store(session, ScanResult.refused, refusal.code, None)
        raise
    if outcome.event_stored:
        return outcome
    if not scan.store(session, outcome.result, "", outcome.check_in.id) and outcome.created:
        # Another request with this nonce committed first while this one changed something:
        # the database decides, this one is undone.
        raise NonceRace()
    return outcome


def count_visits(session: Session, activity_id: int) -> int:
    """How many visits an activity has had (its places taken, once a capacity is set)."""
    return int(
        session.exec(
            select(func.count()).select_from(CheckIn).where(CheckIn.activity_id == activity_id)
        ).one()
    )


def close_due_visits(session: Session, *, now: datetime, limit: int = 5000) -> int:
    """Close visits left open after their activity (or their day) ended: ``auto_closed``,
    credited the scheduled time from entry to the close, or zero, as the activity says."""
    rows = session.exec(
        select(CheckIn, Activity)
        .join(Activity, col(Activity.id) == CheckIn.activity_id)
        .where(col(CheckIn.exited_at).is_(None), col(CheckIn.entered_at) < now)
        .order_by(col(CheckIn.id))
        .limit(limit)
    ).all()
    closed = 0
    views: dict[int, ActivityView] = {}
    for check_in, activity_row in rows:
        activity = views.get(activity_row.id or 0) or ActivityView.of(session, activity_row)
        views[activity.id] = activity
        close_at = visit_close_at(activity, check_in.day)
        if close_at + EXIT_GRACE > now:  # an exit scan is still taken until then
            continue
        close_at = max(close_at, check_in.entered_at)
        minutes = 0
        if activity.auto_close_credit == AutoCloseCredit.scheduled:
            minutes = min(
                credited_minutes(activity, check_in.entered_at, close_at),
                activity.credited_minutes,
            )
        if close_visit(
            session,
            check_in,
            activity,
            exited_at=close_at,
            minutes=minutes,
            closed_by=ClosedBy.auto_closed,
            actor=None,
            now=now,
        ):
            closed += 1
    return closed


def purge_telemetry(session: Session, *, before: datetime) -> int:
    """Erase the location (position, accuracy and distance to the venue) of scan events older
    than ``before`` (DESIGN: raw telemetry is purged after a configurable period); the events
    stay, with their result, reason and times."""
    return _erase_locations(session, col(ScanEvent.server_time) < before)


def erase_locations_of(session: Session, student_id: int, now: datetime, settings: Settings) -> int:
    """Erase every stored location of one pupil's scan events (the guardian withdrew the
    ``location`` consent); how many events had one. Registered as a consent effect."""
    return _erase_locations(session, col(ScanEvent.student_id) == student_id)


def _erase_locations(session: Session, which: ColumnElement[bool]) -> int:
    result = session.exec(
        update(ScanEvent)
        .where(
            which,
            col(ScanEvent.latitude).is_not(None)
            | col(ScanEvent.longitude).is_not(None)
            | col(ScanEvent.accuracy_m).is_not(None)
            | col(ScanEvent.distance_m).is_not(None),
        )
        .values(latitude=None, longitude=None, accuracy_m=None, distance_m=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True, slots=True)
class Corrected:
    check_in: CheckIn
    record_updated: bool  # the record took the new times (it was still pending or confirmed)
    record_status: str | None


def correct(
    session: Session,
    *,
    actor: Principal,
    check_in_id: int,
    data: CheckInCorrection,
    now: datetime,
) -> Corrected:
    """A staff correction of a visit's times or minutes: a reason is required, and the change
    is audited and carried onto the record while it can still change. Once the school has
    reviewed the record, the record keeps what the school saw, and the answer says so: the
    venue then asks the school, which voids and reissues an archived record."""
    check_in = session.get(CheckIn, check_in_id)
    if check_in is None:
        raise CheckInNotFound()
    activity_row = session.get(Activity, check_in.activity_id)
    assert activity_row is not None
    if not activity_access.may_manage(actor, activity_row):
        raise CheckInNotFound()
    activity = ActivityView.of(session, activity_row)
    entered = data.entered_at or check_in.entered_at
    exited = data.exited_at or check_in.exited_at
    if exited is not None and exited < entered:
        raise CorrectionInvalid("签退时间不能早于签到时间", "The exit cannot precede the entry")
    if data.minutes is None and exited is None and data.entered_at is None:
        raise CorrectionInvalid("请给出要更正的时间或时长", "Give a time or minutes to correct")
    minutes = data.minutes
    if minutes is None and exited is not None:
        minutes = credited_minutes(activity, entered, exited)
    before = {
        "entered_at": check_in.entered_at.isoformat(),
        "exited_at": check_in.exited_at.isoformat() if check_in.exited_at else None,
        "minutes": check_in.minutes,
    }
    check_in.entered_at = entered
    check_in.exited_at = exited
    check_in.minutes = minutes
    check_in.closed_by = ClosedBy.staff.value if exited is not None else None
    check_in.updated_at = now
    session.add(check_in)
    session.flush()
    record_updated = False
    if check_in.record_id is not None and exited is not None and minutes is not None:
        record_updated = record_append.set_visit_time(
            session,
            record_id=check_in.record_id,
            started_at=entered,
            ended_at=exited,
            minutes=minutes,
            actor=actor,
            now=now,
            note="工作人员更正：" + data.reason.strip(),
        )
    audit_service.record(
        session,
        action=audit_service.Action.checkin_corrected,
        at=now,
        actor=actor,
        object_type="check_in",
        object_id=check_in.id,
        school_id=check_in.school_id,
        reason=data.reason.strip(),
        before=before,
        after={
            "entered_at": entered.isoformat(),
            "exited_at": exited.isoformat() if exited else None,
            "minutes": minutes,
        },
        record_updated=record_updated,
    )
    record_status = (
        record_service.status_of(session, check_in.record_id)
        if check_in.record_id is not None
        else None
    )
    return Corrected(check_in, record_updated, record_status)
