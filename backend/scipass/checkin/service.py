"""Check-in: a scan becomes a visit (:class:`CheckIn`), a scan event and a pending record.

The checks run in the order DESIGN.md lists them, each refusal with its own code; a refused
scan is stored as a :class:`ScanEvent` all the same. Whatever the retries, the database keeps
one visit per student, activity and day (``INSERT … ON CONFLICT DO NOTHING`` on its unique
key), one record per visit (the records service's unique source key) and one event per
``(operator, nonce)``; a scan that finds its visit already there answers with it.

Codes and their activities are read through a small per-process cache (a few seconds), which
keeps the hot path to the writes it must make; revoking a code clears this process's cache at
once, other processes within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache, partial
from typing import Any, ClassVar

from sqlalchemy import and_, bindparam, case, exists, func, literal, text, update
from sqlmodel import Session, col, select

from scipass.activity import service as activity_service
from scipass.activity.models import Activity, ActivityStatus, Admission, AutoCloseCredit
from scipass.audit import service as audit_service
from scipass.checkin import batch, codes, render
from scipass.checkin.errors import (
    REFUSAL_BY_CODE,
    ActivityCodeNotFound,
    CheckInNotFound,
    CodeExpired,
    CodeInvalid,
    CodeKindInvalid,
    CodeRevoked,
    CorrectionInvalid,
    Ineligible,
    KioskTokenInvalid,
    LocationInaccurate,
    LocationRequired,
    NonceRace,
    NotCheckedIn,
    NotRegistered,
    NotStarted,
    OtherSchool,
    OutOfGeofence,
    PersonalCardNotFound,
    ReplayedNonce,
    ScanCapacityFull,
    ScanConsentRequired,
    ScanKeyReused,
    ScanRateLimited,
    ScanRefused,
    ScanTimeInvalid,
    StudentUnbound,
    WindowClosed,
)
from scipass.checkin.models import (
    ActivityCode,
    CheckIn,
    ClosedBy,
    CodeKind,
    Direction,
    PersonalCard,
    ScanEvent,
    ScanResult,
    ScanSource,
    WxaCodeImage,
)
from scipass.checkin.schemas import (
    CheckInCorrection,
    CheckInCreate,
    CodeCreate,
    GroupCheckIn,
    ItemResult,
    OfflineBatch,
    OfflineScan,
    StaffScan,
)
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.core import pdf_fonts
from scipass.core.auth import SCHOOL_ROLES, Principal, Role
from scipass.core.clock import SHANGHAI, day_bounds, local_date
from scipass.core.config import Settings
from scipass.core.db import Database, Later, flush_unique, insert_ignoring
from scipass.core.errors import Conflict
from scipass.core.idempotency import IdempotencyKeyRecord
from scipass.core.pagination import PageParams, count_rows
from scipass.org.models import School, Venue, decode_stages
from scipass.record import append as record_append
from scipass.record import service as record_service
from scipass.record.models import ParticipationRecord, RecordSource
from scipass.reservation import service as reservation_service
from scipass.roster import service as roster_service
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student
from scipass.roster.visibility import shown_name
from scipass.wechat.client import WeChat

CACHE_SECONDS = 5.0
EXIT_GRACE = timedelta(minutes=30)  # exit scans are taken this long after the end
FUTURE_TOLERANCE = timedelta(minutes=2)  # device clocks run ahead a little
MAX_OFFLINE_AGE = timedelta(days=7)
EARTH_RADIUS_M = 6_371_008.8


# --- snapshots and the cache --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityView:
    """What a scan needs of an activity, copied out of the session (safe to share)."""

    id: int
    title: str
    venue_id: int | None
    school_id: int | None
    status: str
    starts_at: datetime
    ends_at: datetime
    opens_at: datetime
    closes_at: datetime
    stages: frozenset[str]
    admission: str
    # the school whose pupils alone it admits (a school's own activity, not opened to others)
    own_school_only: int | None
    capacity: int | None
    longitude: float | None
    latitude: float | None
    radius_m: int | None
    max_accuracy_m: int
    minutes_unit: int
    daily_cap_minutes: int
    auto_close_credit: str
    credited_minutes: int
    facts: record_append.RecordFacts

    @classmethod
    def of(cls, session: Session, activity: Activity) -> ActivityView:
        closes = (
            activity.starts_at + timedelta(minutes=activity.checkin_closes_minutes)
            if activity.checkin_closes_minutes is not None
            else activity.ends_at
        )
        return cls(
            id=activity.id or 0,
            title=activity.title,
            venue_id=activity.venue_id,
            school_id=activity.school_id,
            status=activity.status,
            starts_at=activity.starts_at,
            ends_at=activity.ends_at,
            opens_at=activity.starts_at - timedelta(minutes=activity.checkin_opens_minutes),
            closes_at=min(closes, activity.ends_at),
            stages=frozenset(s.value for s in decode_stages(activity.stages)),
            admission=activity.admission,
            own_school_only=None if activity.open_to_other_schools else activity.school_id,
            capacity=activity.capacity,
            longitude=activity.longitude,
            latitude=activity.latitude,
            radius_m=activity.geofence_radius_m,
            max_accuracy_m=activity.geofence_max_accuracy_m,
            minutes_unit=activity.minutes_unit,
            daily_cap_minutes=activity.daily_cap_minutes,
            auto_close_credit=activity.auto_close_credit,
            credited_minutes=activity.credited_minutes,
            facts=record_append.facts_for_activity(session, activity),
        )


@dataclass(frozen=True, slots=True)
class CodeView:
    id: int
    activity_id: int
    kind: str
    short_id: str
    step_seconds: int
    valid_until: datetime | None
    revoked_at: datetime | None


@dataclass
class ScanCache:
    """Codes and activities by short id for a few seconds, and scan counts per operator.

    One per app (``app.state.checkin_cache``): the rate counts are per process, which is the
    point of keeping them out of the database on the hot path."""

    seconds: float = CACHE_SECONDS
    _targets: dict[str, tuple[float, CodeView, ActivityView]] = field(default_factory=dict)
    _titles: dict[int, str] = field(default_factory=dict)
    _counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def target(self, session: Session, short_id: str) -> tuple[CodeView, ActivityView] | None:
        hit = self._targets.get(short_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1], hit[2]
        code = session.exec(select(ActivityCode).where(ActivityCode.short_id == short_id)).first()
        if code is None:
            return None
        activity = session.get(Activity, code.activity_id)
        assert activity is not None
        found = (_code_view(code), ActivityView.of(session, activity))
        self._targets[short_id] = (time.monotonic() + self.seconds, *found)
        self._titles[found[1].id] = found[1].title  # the newest read wins
        return found

    def title(self, activity_id: int) -> str | None:
        return self._titles.get(activity_id)

    def forget(self) -> None:
        self._targets.clear()
        self._titles.clear()

    def count(self, operator: str, now: datetime) -> int:
        """Count one scan of ``operator`` in the current minute; the count so far."""
        minute = int(now.timestamp()) // 60
        with self._lock:
            seen_minute, seen = self._counts.get(operator, (minute, 0))
            seen = seen + 1 if seen_minute == minute else 1
            self._counts[operator] = (minute, seen)
            if len(self._counts) > 100_000:  # a new minute: drop the old ones
                self._counts = {k: v for k, v in self._counts.items() if v[0] == minute}
            return seen


def _code_view(code: ActivityCode) -> CodeView:
    return CodeView(
        id=code.id or 0,
        activity_id=code.activity_id,
        kind=code.kind,
        short_id=code.short_id,
        step_seconds=code.step_seconds,
        valid_until=code.valid_until,
        revoked_at=code.revoked_at,
    )


@dataclass(frozen=True, slots=True)
class Pupil:
    """What a scan needs of a student, read in one statement (no ORM object on the hot path)."""

    id: int
    school_id: int
    stage: str
    birth_month: date
    wechat_user_id: int | None


# Statements of the hot path are built once and run with parameters (building one costs
# several times more than running it).
_STUDENTS = Student.__table__  # type: ignore[attr-defined]
_PUPIL = select(
    _STUDENTS.c.id,
    _STUDENTS.c.school_id,
    _STUDENTS.c.stage,
    _STUDENTS.c.birth_month,
    _STUDENTS.c.wechat_user_id,
).where(_STUDENTS.c.id == bindparam("student_id"))


def _pupil(session: Session, student_id: int | None) -> Pupil | None:
    if student_id is None:
        return None
    row = session.connection().execute(_PUPIL, {"student_id": student_id}).first()
    return Pupil(*row) if row is not None else None


def _consents(session: Session, pupil: Pupil, purpose: Purpose, today: date) -> bool:
    if not consent_service.is_under_14(pupil.birth_month, today):
        return True  # the common case costs no query
    student = session.get(Student, pupil.id)
    assert student is not None
    return consent_service.has_consent(session, student=student, purpose=purpose, today=today)


# --- rules ------------------------------------------------------------------------------------


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine); GCJ-02 points are compared as they come."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def credited_minutes(activity: ActivityView, entered_at: datetime, exited_at: datetime) -> int:
    """The overlap of the visit with the activity, rounded down to the unit, capped per day."""
    start, end = max(entered_at, activity.starts_at), min(exited_at, activity.ends_at)
    minutes = max(0, int((end - start).total_seconds() // 60))
    minutes -= minutes % activity.minutes_unit
    return min(minutes, activity.daily_cap_minutes)


def visit_close_at(activity: ActivityView, day: date) -> datetime:
    """When a visit left open is closed: the activity's end, or the end of the visit's day."""
    return min(activity.ends_at, day_bounds(day)[1])


def _judge_window(activity: ActivityView, direction: Direction, at: datetime) -> None:
    if activity.status == ActivityStatus.cancelled:
        raise CodeRevoked("活动已取消", "The activity was cancelled")
    if activity.status == ActivityStatus.draft or at < activity.opens_at:
        raise NotStarted(
            f"签到将于开始前 {int((activity.starts_at - activity.opens_at).total_seconds() // 60)}"
            " 分钟开放",
            "Check-in opens shortly before the start",
            opens_at=activity.opens_at.isoformat(),
        )
    closes = activity.ends_at + EXIT_GRACE if direction is Direction.exit else activity.closes_at
    if activity.status == ActivityStatus.finished or at > closes:
        raise WindowClosed(closes_at=closes.isoformat())


def _judge_student(
    session: Session,
    activity: ActivityView,
    student: Pupil | None,
    *,
    today: date,
    day: date,
    skip_registration: bool = False,
) -> Pupil:
    if student is None:
        raise StudentUnbound()
    if activity.own_school_only is not None and student.school_id != activity.own_school_only:
        raise OtherSchool()
    if not _consents(session, student, Purpose.participation_record, today):
        raise ScanConsentRequired(purpose=Purpose.participation_record.value)
    if activity.stages and student.stage not in activity.stages:
        raise Ineligible(stages=sorted(activity.stages))
    if not skip_registration and activity.admission != Admission.open:
        raise_unless_registered(session, activity, student, day)
    return student


def raise_unless_registered(
    session: Session, activity: ActivityView, student: Pupil, day: date
) -> None:
    target = session.get(Activity, activity.id)
    assert target is not None
    if not reservation_service.holds_place(
        session, student_id=student.id, activity=target, day=day
    ):
        raise NotRegistered(admission=activity.admission)


def _judge_capacity(activity: ActivityView, session: Session, student: Pupil, day: date) -> None:
    """Refuse a newcomer once the places are taken (the conditional update in :func:`_enter`
    decides under concurrency); a student already in is a duplicate, not a newcomer."""
    if activity.capacity is None:
        return
    taken = session.exec(select(Activity.checked_in).where(Activity.id == activity.id)).one()
    if taken < activity.capacity:
        return
    inside = session.exec(
        select(CheckIn.id).where(
            CheckIn.activity_id == activity.id,
            CheckIn.student_id == student.id,
            CheckIn.day == day,
        )
    ).first()
    if inside is None:
        raise ScanCapacityFull(capacity=activity.capacity)


def _judge_location(
    session: Session,
    activity: ActivityView,
    student: Pupil,
    location: Any,
    today: date,
    scan: Scan,
) -> None:
    """Check a geofenced activity's location, on entry and on exit (an exit from home would
    otherwise credit the whole day). The location is kept on the scan event only where the
    activity has a geofence and the guardian allowed it (under 14)."""
    if activity.radius_m is None or activity.latitude is None or activity.longitude is None:
        return
    allowed = _consents(session, student, Purpose.location, today)
    if location is None or not allowed:
        raise LocationRequired(consent=allowed)
    scan.location = location
    if location.accuracy > activity.max_accuracy_m:
        raise LocationInaccurate(
            accuracy_m=location.accuracy, max_accuracy_m=activity.max_accuracy_m
        )
    distance = distance_m(
        location.latitude, location.longitude, activity.latitude, activity.longitude
    )
    scan.distance = round(distance)
    if distance > activity.radius_m:
        raise OutOfGeofence(
            f"你距离活动地点约 {round(distance)} 米，签到范围为 {activity.radius_m} 米",
            f"You are about {round(distance)} m away; the radius is {activity.radius_m} m",
            distance_m=round(distance),
            radius_m=activity.radius_m,
        )


# --- writing ----------------------------------------------------------------------------------


def _insert(session: Session, table: Any, values: dict[str, Any], conflict: list[str]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id; None when the unique key was taken."""
    statement = insert_ignoring(session, table.__table__, tuple(conflict))
    return session.connection().execute(statement, values).scalar_one_or_none()


@dataclass(slots=True)
class Scan:
    """One scan attempt as it arrived; becomes its :class:`ScanEvent`."""

    source: ScanSource
    operator: str
    direction: Direction
    fingerprint: str
    now: datetime
    nonce: str | None = None
    at: datetime | None = None  # when it happened, if not now (an offline scan)
    scan_time: datetime | None = None
    forced: bool = False
    activity_id: int | None = None
    code_id: int | None = None
    student_id: int | None = None
    school_id: int | None = None
    location: Any = None
    distance: int | None = None

    @property
    def happened_at(self) -> datetime:
        return self.at or self.now

    def values(self, result: ScanResult, reason: str, check_in_id: int | None) -> dict[str, Any]:
        return {
            "activity_id": self.activity_id,
            "code_id": self.code_id,
            "student_id": self.student_id,
            "school_id": self.school_id,
            "check_in_id": check_in_id,
            "direction": self.direction.value,
            "source": self.source.value,
            "operator": self.operator,
            "nonce": self.nonce,
            "fingerprint": self.fingerprint,
            "server_time": self.now,
            "scan_time": self.scan_time,
            "forced": self.forced,
            "latitude": self.location.latitude if self.location else None,
            "longitude": self.location.longitude if self.location else None,
            "accuracy_m": self.location.accuracy if self.location else None,
            "distance_m": self.distance,
            "result": result.value,
            "reason": reason,
        }

    def store(
        self, session: Session, result: ScanResult, reason: str, check_in_id: int | None
    ) -> bool:
        """Append the event; False when its nonce was taken meanwhile (a concurrent request
        with the same nonce, on PostgreSQL)."""
        values = self.values(result, reason, check_in_id)
        return _insert(session, ScanEvent, values, ["operator", "nonce"]) is not None


def fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


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
    pending: batch.Entry | None = None  # noted for the batch's flush; ids come from it

    def settled(self) -> Outcome:
        """This outcome with the ids its batch's flush gave the visit and the record."""
        if self.pending is None:
            return self
        if self.pending.existing is not None:  # a visit made before the batch
            return Outcome(self.pending.existing, created=False, event_stored=True)
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


def _earlier(session: Session, scan: Scan) -> Earlier | None:
    if scan.nonce is None:
        return None
    row = (
        session.connection()
        .execute(_EARLIER, {"operator": scan.operator, "nonce": scan.nonce})
        .first()
    )
    return Earlier(*row) if row is not None else None


_EVENTS = ScanEvent.__table__  # type: ignore[attr-defined]
_EARLIER = select(
    _EVENTS.c.fingerprint, _EVENTS.c.result, _EVENTS.c.reason, _EVENTS.c.check_in_id
).where(_EVENTS.c.operator == bindparam("operator"), _EVENTS.c.nonce == bindparam("nonce"))


def key_used(session: Session, subject: str, key: str) -> bool:
    """Whether ``subject`` sent a scan with this ``Idempotency-Key`` (the keys check-in keeps
    on its scan events, as :mod:`scipass.core.idempotency` asks of every key store)."""
    return (
        session.connection().execute(_EARLIER, {"operator": subject, "nonce": key}).first()
        is not None
    )


def _replay(session: Session, earlier: Earlier) -> Outcome:
    """The first answer to a scan sent again with the same nonce."""
    if earlier.result == ScanResult.refused:
        raise REFUSAL_BY_CODE.get(earlier.reason, CodeInvalid)()
    check_in = session.get(CheckIn, earlier.check_in_id)
    assert check_in is not None
    return Outcome(check_in, created=False)


def visit_key(activity_id: int, day: date) -> str:
    """The records service's source key of a visit: one record per student, activity and day,
    the same unique key as the visit itself."""
    return f"{activity_id}:{day.isoformat()}"


def _enter(
    session: Session,
    activity: ActivityView,
    student: Pupil,
    scan: Scan,
    actor: Principal | None,
    *,
    skip_capacity: bool = False,
) -> Outcome:
    """Open the visit and its pending record, or find the visit already open today. Both
    inserts are ``ON CONFLICT DO NOTHING`` on the same (student, activity, day) key, so
    concurrent scans of one student make one of each, whatever the engine."""
    at = scan.happened_at
    day = local_date(at)
    counted = activity.capacity is not None
    if (
        not counted
        and not activity.facts.confirmed
        and session.get_bind().dialect.name == "postgresql"
    ):
        opened = _enter_in_one_statement(session, activity, student, scan, actor, at, day)
        if opened is not None:
            return opened
    # With a capacity the place is taken first, before any insert: every writer then locks
    # the activity row before any student's keys, so a class check-in and a pupil's own scan
    # cannot wait on each other. A duplicate gives its place back with the savepoint.
    with session.begin_nested() if counted else nullcontext() as savepoint:
        if counted and not _take_place(session, activity) and not skip_capacity:
            existing = _visit(session, activity.id, student.id, day)
            if existing is not None:  # full, but this student is already in
                return Outcome(existing, created=False)
            raise ScanCapacityFull(capacity=activity.capacity)
        record_id = record_append.append_record_id(
            session, **_record_of(activity, student, scan, actor, at, day)
        )
        values = {**_visit_values(activity, student, scan, at, day), "record_id": record_id}
        new_id = (
            _insert(session, CheckIn, values, ["activity_id", "student_id", "day"])
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


def _enter_in_one_statement(
    session: Session,
    activity: ActivityView,
    student: Pupil,
    scan: Scan,
    actor: Principal | None,
    at: datetime,
    day: date,
) -> Outcome | None:
    """On PostgreSQL, the record, its history row, the visit and the scan event of a new
    visit in one statement (data-modifying CTEs), one round trip instead of four; None when
    the visit exists already (the general path then answers the duplicate). In a batch of
    self-scans the rows are noted for the batch's one statement instead (:mod:`.batch`)."""
    record = record_append.record_values(**_record_of(activity, student, scan, actor, at, day))
    visit = _visit_values(activity, student, scan, at, day)
    event = scan.values(ScanResult.accepted, "", None)
    del event["check_in_id"]
    history = {
        "actor": record["created_by"],
        "role": actor.role.value if actor else record_service.SYSTEM,
        "at": scan.now,
    }
    entry = batch.Entry(record=record, visit=visit, event=event, history=history)
    if batch.defer_entry(session, entry):
        return Outcome(
            Visit(id=0, record_id=None, **visit), created=True, event_stored=True, pending=entry
        )
    params = {
        "r": batch.to_json(record),
        "v": batch.to_json(visit),
        "s": batch.to_json(event),
        "e_actor": history["actor"],
        "e_role": history["role"],
        "e_at": history["at"],
    }
    sql = _one_statement_sql(tuple(record), tuple(visit), tuple(event))
    row = _driver_row(session.connection(), sql, params)
    if row is None:
        return None
    check_in_id, record_id, stored = row
    if not stored:  # the nonce went to a concurrent scan: undo this one
        raise NonceRace()
    return Outcome(
        Visit(id=check_in_id, record_id=record_id, **visit), created=True, event_stored=True
    )


@lru_cache(maxsize=4)
def _one_statement_sql(
    record: tuple[str, ...], visit: tuple[str, ...], event: tuple[str, ...]
) -> str:
    """The statement of :func:`_enter_in_one_statement`, built once from our own column names.
    Each row travels as one JSON parameter read by ``jsonb_populate_record`` (typed by the
    table itself), so the statement has five parameters and psycopg keeps it prepared."""

    def columns(names: tuple[str, ...]) -> str:
        return ",".join(names)

    def picked(names: tuple[str, ...]) -> str:
        return ",".join(f"j.{name}" for name in names)

    # Column names come from the table definitions; every value is a bound parameter.
    return (
        f"WITH rec AS (INSERT INTO participation_record ({columns(record)}) "  # noqa: S608
        f"SELECT {picked(record)} "
        "FROM jsonb_populate_record(NULL::participation_record, %(r)s::jsonb) j "
        "ON CONFLICT (student_id,source,source_ref) DO NOTHING RETURNING id),"
        "hist AS (INSERT INTO record_event "
        "(record_id,at,action,actor,actor_role,from_status,to_status,note) "
        "SELECT id,%(e_at)s::timestamptz,'created',%(e_actor)s::text,%(e_role)s::text,"
        "NULL,'pending','' FROM rec),"
        f"visit AS (INSERT INTO check_in ({columns(visit)},record_id) "
        f"SELECT {picked(visit)},rec.id "
        "FROM rec, jsonb_populate_record(NULL::check_in, %(v)s::jsonb) j "
        "ON CONFLICT (activity_id,student_id,day) DO NOTHING RETURNING id,record_id),"
        f"scan AS (INSERT INTO scan_event ({columns(event)},check_in_id) "
        f"SELECT {picked(event)},visit.id "
        "FROM visit, jsonb_populate_record(NULL::scan_event, %(s)s::jsonb) j "
        "ON CONFLICT (operator,nonce) DO NOTHING RETURNING id) "
        "SELECT visit.id,visit.record_id,EXISTS (SELECT 1 FROM scan) FROM visit"
    )


def _visit(session: Session, activity_id: int, student_id: int, day: date) -> CheckIn | None:
    return session.exec(
        _VISIT, params={"activity_id": activity_id, "student_id": student_id, "day": day}
    ).first()


_VISIT = select(CheckIn).where(
    col(CheckIn.activity_id) == bindparam("activity_id"),
    col(CheckIn.student_id) == bindparam("student_id"),
    col(CheckIn.day) == bindparam("day"),
)


def _take_place(session: Session, activity: ActivityView) -> bool:
    if session.get_bind().dialect.name == "postgresql":
        # Batches of several scans commit together: one batch at a time may hold the rows of
        # capped activities, so that two batches never wait on each other's activity rows.
        session.execute(text("SELECT pg_advisory_xact_lock(6006)"))
    result = session.execute(
        update(Activity)
        .where(col(Activity.id) == activity.id, col(Activity.checked_in) < col(Activity.capacity))
        .values(checked_in=col(Activity.checked_in) + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


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
    result = session.execute(
        update(CheckIn)
        .where(col(CheckIn.id) == check_in.id, col(CheckIn.exited_at).is_(None))
        .values(exited_at=exited_at, minutes=minutes, closed_by=closed_by.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
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


def _run(
    session: Session,
    scan: Scan,
    judge: Callable[[], tuple[ActivityView, Pupil]],
    actor: Principal | None,
    *,
    skip_capacity: bool = False,
) -> Outcome:
    """Judge a scan, apply it and store its event; a refusal stores its event and raises."""
    try:
        activity, student = judge()
        if scan.direction is Direction.exit:
            outcome = _exit(session, activity, student, scan, actor)
        else:
            outcome = _enter(session, activity, student, scan, actor, skip_capacity=skip_capacity)
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


def _still_bound(actor: Principal, student: Pupil | None) -> bool:
    """Whether the binding in the caller's token still holds."""
    return (
        actor.role is Role.student
        and student is not None
        and student.wechat_user_id == actor.wechat_user_id
    )


def _caller_and_nonce(
    session: Session, actor: Principal, scan: Scan
) -> tuple[Pupil | None, Earlier | None]:
    """The caller's student and the event its nonce was first used for, in one round trip."""
    params = {"student_id": actor.student_id or 0, "operator": scan.operator, "nonce": scan.nonce}
    row = batch.prefetched(session, (params["student_id"], scan.operator, scan.nonce or ""))
    if row is None:  # not read with the rest of a batch
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            row = _driver_row(connection, _PG_CALLER_AND_NONCE, params)
        else:
            row = connection.execute(_CALLER_AND_NONCE, params).one()
    pupil = Pupil(*row[:5]) if row[0] is not None else None
    if row[5] is not None:
        earlier: Earlier | None = Earlier(*row[5:9])
    elif row[9]:  # the key was first used for another kind of request (core.idempotency)
        earlier = Earlier(fingerprint="", result=ScanResult.refused, reason="", check_in_id=None)
    else:
        earlier = None
    return pupil, earlier


def _driver_row(connection: Any, sql: str, params: dict[str, Any]) -> Any:
    """One row of a statement run on the driver's own cursor, inside the connection's
    transaction. For the PostgreSQL hot path only: SQLAlchemy's execution layer costs more
    than psycopg's round trip there, and psycopg prepares the statement after a few runs."""
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchone()
    finally:
        cursor.close()


_PG_CALLER_AND_NONCE = (
    "SELECT s.id, s.school_id, s.stage, s.birth_month, s.wechat_user_id,"
    " e.fingerprint, e.result, e.reason, e.check_in_id,"
    " EXISTS (SELECT 1 FROM idempotency_key i"
    " WHERE i.subject = %(operator)s AND i.key = %(nonce)s)"
    " FROM (SELECT 1) AS one"
    " LEFT JOIN student s ON s.id = %(student_id)s"
    " LEFT JOIN scan_event e ON e.operator = %(operator)s AND e.nonce = %(nonce)s"
)
_KEYS = IdempotencyKeyRecord.__table__  # type: ignore[attr-defined]
_CALLER_AND_NONCE = select(
    _STUDENTS.c.id,
    _STUDENTS.c.school_id,
    _STUDENTS.c.stage,
    _STUDENTS.c.birth_month,
    _STUDENTS.c.wechat_user_id,
    _EVENTS.c.fingerprint,
    _EVENTS.c.result,
    _EVENTS.c.reason,
    _EVENTS.c.check_in_id,
    exists()
    .where(
        _KEYS.c.subject == bindparam("operator"),
        _KEYS.c.key == bindparam("nonce"),
    )
    .label("claimed"),
).select_from(
    select(literal(1).label("one"))
    .subquery("one")
    .outerjoin(_STUDENTS, _STUDENTS.c.id == bindparam("student_id"))
    .outerjoin(
        _EVENTS,
        and_(_EVENTS.c.operator == bindparam("operator"), _EVENTS.c.nonce == bindparam("nonce")),
    )
)


# --- self-scan -------------------------------------------------------------------------------


def self_scan(
    session: Session,
    *,
    settings: Settings,
    cache: ScanCache,
    actor: Principal,
    data: CheckInCreate,
    nonce: str,
    now: datetime,
) -> Outcome:
    """A student scanned a venue's code (``POST /checkins``)."""
    scan = Scan(
        source=ScanSource.self_scan,
        operator=actor.subject,
        direction=data.direction,
        fingerprint=fingerprint(actor.subject, data.direction.value, data.code.strip().upper()),
        now=now,
        nonce=nonce,
        scan_time=(
            datetime.fromtimestamp(data.scan_time, tz=now.tzinfo)
            if data.scan_time is not None and data.scan_time < 2**32
            else None
        ),
        student_id=actor.student_id,
        school_id=actor.school_id,
    )
    attempts = cache.count(actor.subject, now)
    if attempts > 2 * settings.scan_rate_per_minute:
        # A flood: refused before any check and before any write (DESIGN's order decides the
        # reason up to twice the rate; past that nothing is judged or stored).
        raise ScanRateLimited()
    pupil, earlier = _caller_and_nonce(session, actor, scan)
    if earlier is not None and earlier.fingerprint == scan.fingerprint:
        return _replay(session, earlier)
    if earlier is not None:
        scan.nonce = None  # the nonce belongs to the earlier scan; keep this one's event too

    def judge() -> tuple[ActivityView, Pupil]:
        _code, activity = _resolve(session, settings, cache, data.code, now, scan)
        _judge_window(activity, data.direction, now)
        student = pupil if _still_bound(actor, pupil) else None
        today = local_date(now)
        _judge_student(session, activity, student, today=today, day=today)
        assert student is not None
        if data.direction is Direction.entry:
            _judge_capacity(activity, session, student, today)
        _judge_location(session, activity, student, data.location, today, scan)
        if earlier is not None:
            raise ScanKeyReused()
        if attempts > settings.scan_rate_per_minute:
            raise ScanRateLimited(retry_after=60)
        return activity, student

    return _run(session, scan, judge, actor)


@dataclass(frozen=True, slots=True)
class SelfScanWork:
    """:func:`self_scan` with the activity's title: one unit of work, which the caller runs
    through :meth:`Database.run_grouped` (committed with the scans that arrive meanwhile, and
    on PostgreSQL sharing their round trips: :mod:`.batch`)."""

    settings: Settings
    cache: ScanCache
    actor: Principal
    data: CheckInCreate
    nonce: str
    now: datetime

    batch_hooks: ClassVar[batch.SelfScanBatch] = batch.SELF_SCANS

    @property
    def batch_key(self) -> tuple[int, str, str]:
        """What :meth:`batch.SelfScanBatch.prepare` reads for this scan: its caller's
        student and the first use of its nonce."""
        return (self.actor.student_id or 0, self.actor.subject, self.nonce)

    def __call__(self, session: Session) -> tuple[Outcome, str] | Later[tuple[Outcome, str]]:
        outcome = self_scan(
            session,
            settings=self.settings,
            cache=self.cache,
            actor=self.actor,
            data=self.data,
            nonce=self.nonce,
            now=self.now,
        )
        title = activity_title(session, self.cache, outcome.check_in.activity_id)
        if outcome.pending is not None:
            return Later(lambda: (outcome.settled(), title))
        return outcome, title


def _resolve(
    session: Session, settings: Settings, cache: ScanCache, text: str, now: datetime, scan: Scan
) -> tuple[CodeView, ActivityView]:
    """The code a student scanned, checked for signature, expiry and revocation. Once the code
    is known, the scan event names it and its activity, so that the venue sees refusals of
    expired or revoked codes among its activity's scans."""
    try:
        parsed = codes.parse_venue_code(settings.code_keyring, text)
    except codes.CodeRejected:
        raise CodeInvalid() from None
    found = cache.target(session, parsed.short_id)
    if found is None:
        raise CodeInvalid()
    code, activity = found
    scan.activity_id, scan.code_id = activity.id, code.id
    rotating = code.kind == CodeKind.rotating
    if rotating != (parsed.step is not None) or (rotating and not parsed.signed):
        raise CodeInvalid()
    if parsed.step is not None:
        current = codes.rotating_step(now, code.step_seconds)
        if not 0 <= current - parsed.step <= settings.rotating_margin_steps:
            raise CodeExpired()
    if code.valid_until is not None and now > code.valid_until:
        raise CodeExpired()
    if code.revoked_at is not None:
        raise CodeRevoked()
    return code, activity


# --- staff scans, groups, offline batches -------------------------------------------------------


def organised_activity(session: Session, *, actor: Principal, activity_id: int) -> Activity:
    """An activity the caller's organisation runs (venue staff, or school staff for a school
    activity); 404 otherwise."""
    return activity_service.managed_activity(session, actor=actor, activity_id=activity_id)


def _personal(settings: Settings, text: str) -> codes.PersonalCode:
    try:
        return codes.parse_personal_code(
            codes.personal_keys(settings.personal_code_keys.get_secret_value()), text
        )
    except codes.CodeRejected:
        raise CodeInvalid("无效的个人码", "This is not a valid personal code") from None


def staff_scan(
    session: Session,
    *,
    settings: Settings,
    actor: Principal,
    activity_id: int,
    data: StaffScan,
    now: datetime,
) -> Outcome:
    """Staff of the organiser scanned a student's personal code at the door."""
    activity = ActivityView.of(
        session, organised_activity(session, actor=actor, activity_id=activity_id)
    )
    scan = Scan(
        source=ScanSource.staff_scan,
        operator=actor.subject,
        direction=data.direction,
        fingerprint=fingerprint(activity.id, data.direction.value, data.code.strip().upper()),
        now=now,
        nonce=data.nonce,
        activity_id=activity.id,
    )
    earlier = _earlier(session, scan)
    if earlier is not None and earlier.fingerprint == scan.fingerprint:
        return _replay(session, earlier)
    if earlier is not None:
        scan.nonce = None

    def judge() -> tuple[ActivityView, Pupil]:
        personal = _personal(settings, data.code)
        student = _pupil(session, personal.student_id)
        if student is not None:
            scan.student_id, scan.school_id = student.id, student.school_id
        if personal.expires_at < now:
            raise CodeExpired("个人码已过期，请学生刷新后再扫", "The personal code has expired")
        _judge_card(session, personal, now)
        _judge_window(activity, data.direction, now)
        today = local_date(now)
        _judge_student(session, activity, student, today=today, day=today)
        assert student is not None
        if data.direction is Direction.entry:
            _judge_capacity(activity, session, student, today)
        if earlier is not None:
            raise ReplayedNonce()
        return activity, student

    return _run(session, scan, judge, actor)


def group_checkin(
    session: Session, *, actor: Principal, reservation_id: int, data: GroupCheckIn, now: datetime
) -> list[ItemResult]:
    """A teacher checks in the pupils of a group reservation who are present. Each pupil gets
    their own result; a pupil who is not in the group is refused (``not_registered``)."""
    _reservation, slot, members = reservation_service.group_for_checkin(
        session, actor=actor, reservation_id=reservation_id
    )
    if slot.activity_id is None:
        raise Conflict(
            "该预约不是某个活动的时段，请由场馆扫码签到",
            "This reservation is not for an activity; the venue checks the class in",
        )
    activity_row = session.get(Activity, slot.activity_id)
    assert activity_row is not None
    activity = ActivityView.of(session, activity_row)
    results: list[ItemResult] = []
    for student_id in dict.fromkeys(data.student_ids):
        scan = Scan(
            source=ScanSource.group,
            operator=actor.subject,
            direction=data.direction,
            fingerprint=fingerprint(reservation_id, student_id, data.direction.value),
            now=now,
            nonce="g:" + fingerprint(data.nonce, student_id),
            activity_id=activity.id,
        )

        def judge(student_id: int = student_id, scan: Scan = scan) -> tuple[ActivityView, Pupil]:
            student = _pupil(session, student_id)
            if student is not None and student.school_id == actor.school_id:
                scan.student_id, scan.school_id = student.id, student.school_id
            _judge_window(activity, scan.direction, now)
            if student is None or student_id not in members:
                raise NotRegistered(
                    "该学生不在这个团体预约中", "This student is not in the group reservation"
                )
            today = local_date(now)
            _judge_student(session, activity, student, today=today, day=today)
            return activity, student

        results.append(_item(session, scan, judge, actor, key=str(student_id)))
    return results


def _item(
    session: Session,
    scan: Scan,
    judge: Callable[[], tuple[ActivityView, Pupil]],
    actor: Principal,
    *,
    key: str,
    skip_capacity: bool = False,
    warnings: Sequence[str] = (),
) -> ItemResult:
    """One item of a batch: its own savepoint, its own result."""
    earlier = _earlier(session, scan)
    if earlier is not None:
        if earlier.fingerprint != scan.fingerprint:
            refusal = ReplayedNonce()
            scan.nonce = None
            scan.store(session, ScanResult.refused, refusal.code, None)
            return ItemResult(key=key, result=ScanResult.refused, code=refusal.code)
        refusal_class = REFUSAL_BY_CODE.get(earlier.reason)
        return ItemResult(
            key=key,
            result=ScanResult(earlier.result),
            code=earlier.reason or None,
            message=refusal_class.title_zh if refusal_class else None,
            check_in_id=earlier.check_in_id,
        )
    try:
        with session.begin_nested():
            outcome = _run(session, scan, judge, actor, skip_capacity=skip_capacity)
    except ScanRefused as refusal:
        scan.store(session, ScanResult.refused, refusal.code, None)
        return ItemResult(
            key=key,
            result=ScanResult.refused,
            code=refusal.code,
            message=refusal.title_zh,
        )
    return ItemResult(
        key=key,
        result=outcome.result,
        check_in_id=outcome.check_in.id,
        warnings=list(warnings),
    )


def _judge_offline(
    session: Session,
    settings: Settings,
    activity: ActivityView,
    item: OfflineScan,
    scan: Scan,
    warnings: list[str],
    now: datetime,
) -> tuple[ActivityView, Pupil]:
    """The checks of one offline scan, judged at the time it happened; ``force`` turns the
    window and registration refusals into warnings."""
    if item.scan_time > now + FUTURE_TOLERANCE or item.scan_time < now - MAX_OFFLINE_AGE:
        raise ScanTimeInvalid()
    personal = _personal(settings, item.code)
    student = _pupil(session, personal.student_id)
    if student is not None:
        scan.student_id, scan.school_id = student.id, student.school_id
    if personal.expires_at < item.scan_time:
        raise CodeExpired("扫码时个人码已过期", "The personal code had expired")
    _judge_card(session, personal, item.scan_time)
    try:
        _judge_window(activity, item.direction, item.scan_time)
    except (NotStarted, WindowClosed) as refusal:
        if not item.force:
            raise
        warnings.append(refusal.code)
    try:
        _judge_student(
            session, activity, student, today=local_date(now), day=local_date(item.scan_time)
        )
    except NotRegistered as refusal:
        if not item.force:
            raise
        warnings.append(refusal.code)
    assert student is not None
    if item.direction is Direction.entry and not item.force:
        _judge_capacity(activity, session, student, local_date(item.scan_time))
    return activity, student


def offline_batch(
    session: Session,
    *,
    settings: Settings,
    actor: Principal,
    activity_id: int,
    data: OfflineBatch,
    now: datetime,
) -> list[ItemResult]:
    """Scans a venue device took offline, uploaded later. Signatures and identities are always
    checked; the time window, capacity and registration are judged at the scan's own time,
    and ``force`` records a scan that happened even where those rules say no."""
    activity = ActivityView.of(
        session, organised_activity(session, actor=actor, activity_id=activity_id)
    )
    results: list[ItemResult] = []
    for item in data.items:
        scan = Scan(
            source=ScanSource.offline,
            operator=actor.subject,
            direction=item.direction,
            fingerprint=fingerprint(activity.id, item.direction.value, item.code.strip().upper()),
            now=now,
            nonce=item.nonce,
            at=item.scan_time,
            scan_time=item.scan_time,
            forced=item.force,
            activity_id=activity.id,
        )
        warnings: list[str] = []

        judge = partial(_judge_offline, session, settings, activity, item, scan, warnings, now)
        results.append(
            _item(
                session,
                scan,
                judge,
                actor,
                key=item.nonce,
                skip_capacity=item.force,
                warnings=warnings,
            )
        )
    return results


# --- closing visits ---------------------------------------------------------------------------


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
    """Erase the locations of scan events older than ``before`` (DESIGN: raw telemetry is
    purged after a configurable period); the events themselves stay."""
    result = session.execute(
        update(ScanEvent)
        .where(col(ScanEvent.server_time) < before, col(ScanEvent.latitude).is_not(None))
        .values(latitude=None, longitude=None, accuracy_m=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
    if not activity_service.may_manage(actor, activity_row):
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
        session.exec(
            select(ParticipationRecord.status).where(ParticipationRecord.id == check_in.record_id)
        ).first()
        if check_in.record_id is not None
        else None
    )
    return Corrected(check_in, record_updated, record_status)


# --- codes -------------------------------------------------------------------------------------


def create_code(
    session: Session,
    *,
    settings: Settings,
    actor: Principal,
    activity_id: int,
    data: CodeCreate,
    now: datetime,
) -> ActivityCode:
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    if activity.status not in (ActivityStatus.draft, ActivityStatus.published):
        raise CodeKindInvalid("活动已结束或已取消，不能再发码", "The activity is over or cancelled")
    for _attempt in range(3):
        code = ActivityCode(
            activity_id=activity.id or 0,
            kind=data.kind.value,
            short_id=codes.new_short_id(),
            step_seconds=(data.step_seconds or settings.rotating_step_seconds)
            if data.kind is CodeKind.rotating
            else 0,
            valid_until=data.valid_until,
            created_by=actor.subject,
            created_at=now,
        )
        session.add(code)
        try:
            flush_unique(session, Conflict())
        except Conflict:  # a short id drawn twice: 40 bits make this rare
            session.expunge(code)
            continue
        return code
    raise Conflict("请重试", "Try again")


def managed_code(
    session: Session, *, actor: Principal, code_id: int
) -> tuple[ActivityCode, Activity]:
    code = session.get(ActivityCode, code_id)
    if code is None:
        raise ActivityCodeNotFound()
    activity = session.get(Activity, code.activity_id)
    if activity is None or not activity_service.may_manage(actor, activity):
        raise ActivityCodeNotFound()
    return code, activity


def list_codes(session: Session, *, actor: Principal, activity_id: int) -> list[ActivityCode]:
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    return list(
        session.exec(
            select(ActivityCode)
            .where(ActivityCode.activity_id == activity.id)
            .order_by(col(ActivityCode.id))
        ).all()
    )


def revoke_code(
    session: Session,
    *,
    cache: ScanCache,
    actor: Principal,
    code_id: int,
    reason: str,
    now: datetime,
) -> ActivityCode:
    code, _activity = managed_code(session, actor=actor, code_id=code_id)
    session.execute(
        update(ActivityCode)
        .where(col(ActivityCode.id) == code.id, col(ActivityCode.revoked_at).is_(None))
        .values(revoked_at=now, revoked_by=actor.subject, revoke_reason=reason.strip()[:200])
        .execution_options(synchronize_session=False)
    )
    session.refresh(code)
    audit_service.record(
        session,
        action=audit_service.Action.code_revoked,
        at=now,
        actor=actor,
        object_type="activity_code",
        object_id=code.id,
        school_id=actor.school_id,
        reason=code.revoke_reason,
    )
    cache.forget()
    return code


def code_payload(settings: Settings, code: ActivityCode, now: datetime) -> str:
    ring = settings.code_keyring
    if code.kind == CodeKind.rotating:
        return codes.rotating_payload(
            ring, code.short_id, codes.rotating_step(now, code.step_seconds)
        )
    return codes.static_payload(ring, code.short_id)


def kiosk_url(settings: Settings, code: ActivityCode, activity: Activity) -> str | None:
    if code.kind != CodeKind.rotating:
        return None
    expires = code.valid_until or (activity.ends_at + EXIT_GRACE)
    token = codes.kiosk_token(settings.code_keyring, code.id or 0, expires)
    return f"/kiosk/{activity.id}?token={token}"


@dataclass(frozen=True, slots=True)
class KioskState:
    title: str
    place: str
    organiser: str
    link: str
    step: int
    step_seconds: int
    step_ends_at: datetime
    checked_in: int
    ends_at: datetime


def kiosk_state(
    session: Session, *, settings: Settings, activity_id: int, token: str, now: datetime
) -> KioskState:
    """What a venue screen shows now: the current rotating code and today's count."""
    try:
        code_id = codes.parse_kiosk_token(settings.code_keyring, token, now=now)
    except codes.CodeRejected:
        raise KioskTokenInvalid() from None
    code = session.get(ActivityCode, code_id)
    if (
        code is None
        or code.activity_id != activity_id
        or code.kind != CodeKind.rotating
        or code.revoked_at is not None
    ):
        raise KioskTokenInvalid()
    activity = session.get(Activity, activity_id)
    assert activity is not None
    if activity.status == ActivityStatus.cancelled:
        raise KioskTokenInvalid("活动已取消，签到码已停用", "The activity was cancelled")
    if activity.status == ActivityStatus.finished:
        raise KioskTokenInvalid("活动已结束，签到码已停用", "The activity has ended")
    step = codes.rotating_step(now, code.step_seconds)
    checked_in = session.exec(
        select(func.count())
        .select_from(CheckIn)
        .where(CheckIn.activity_id == activity_id, CheckIn.day == local_date(now))
    ).one()
    return KioskState(
        title=activity.title,
        place=activity.place_name,
        organiser=record_append.facts_for_activity(session, activity).organiser_name,
        link=codes.link_for(
            settings.code_link_base,
            codes.rotating_payload(settings.code_keyring, code.short_id, step),
        ),
        step=step,
        step_seconds=code.step_seconds,
        step_ends_at=codes.step_start(step + 1, code.step_seconds),
        checked_in=int(checked_in),
        ends_at=activity.ends_at,
    )


# --- personal codes ---------------------------------------------------------------------------


def personal_code(
    settings: Settings, *, student_id: int, expires_at: datetime, nonce: bytes | None = None
) -> str:
    keys = codes.personal_keys(settings.personal_code_keys.get_secret_value())
    return codes.personal_payload(keys, student_id, expires_at, nonce)


def personal_card(
    session: Session,
    *,
    settings: Settings,
    actor: Principal,
    student_id: int,
    valid_days: int,
    now: datetime,
) -> tuple[str, PersonalCard]:
    """A printable personal code for a pupil without a phone, issued by the pupil's school.
    The card is kept (its nonce, not the code) so that it can be revoked when lost."""
    student = _own_pupil(session, actor, student_id)
    expires = now + timedelta(days=valid_days)
    nonce = secrets.token_bytes(codes.PERSONAL_NONCE_BYTES)
    card = PersonalCard(
        student_id=student.id or 0,
        school_id=student.school_id,
        nonce=nonce.hex(),
        expires_at=expires,
        issued_by=actor.subject,
        issued_at=now,
    )
    session.add(card)
    session.flush()
    audit_service.record(
        session,
        action=audit_service.Action.personal_card_issued,
        at=now,
        actor=actor,
        object_type="student",
        object_id=student.id,
        school_id=student.school_id,
        valid_days=valid_days,
        card_id=card.id,
    )
    payload = personal_code(settings, student_id=student.id or 0, expires_at=expires, nonce=nonce)
    return payload, card


def _own_pupil(session: Session, actor: Principal, student_id: int) -> Student:
    """A pupil of the caller's school, for its staff only; 404 for anyone else."""
    if actor.role not in SCHOOL_ROLES:
        raise StudentNotFound()
    return roster_service.get_student_for_staff(session, actor=actor, student_id=student_id)


def list_personal_cards(
    session: Session, *, actor: Principal, student_id: int
) -> list[PersonalCard]:
    student = _own_pupil(session, actor, student_id)
    return list(
        session.exec(
            select(PersonalCard)
            .where(PersonalCard.student_id == student.id)
            .order_by(col(PersonalCard.id).desc())
        ).all()
    )


def revoke_personal_card(
    session: Session, *, actor: Principal, card_id: int, reason: str, now: datetime
) -> PersonalCard:
    """Revoke a lost card, once (a second call answers the card as it is): staff scans of
    it are refused from now on, and offline scans uploaded later if they were taken after
    now. Venue devices learn of it from :func:`revoked_personal_codes`."""
    card = session.get(PersonalCard, card_id)
    if card is None or actor.role not in SCHOOL_ROLES or card.school_id != actor.school_id:
        raise PersonalCardNotFound()
    table = PersonalCard.__table__  # type: ignore[attr-defined]
    revoked = session.execute(
        update(table)
        .where(table.c.id == card_id, table.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by=actor.subject, revoke_reason=reason.strip())
    ).rowcount
    if revoked:
        audit_service.record(
            session,
            action=audit_service.Action.personal_card_revoked,
            at=now,
            actor=actor,
            object_type="personal_card",
            object_id=card_id,
            school_id=card.school_id,
            reason=reason.strip(),
        )
    session.refresh(card)
    return card


def revoked_personal_codes(session: Session, *, now: datetime) -> list[str]:
    """The nonces of revoked cards that have not expired yet (the rest refuse themselves)."""
    return list(
        session.exec(
            select(PersonalCard.nonce)
            .where(col(PersonalCard.revoked_at).is_not(None), PersonalCard.expires_at > now)
            .order_by(col(PersonalCard.id))
        ).all()
    )


def _judge_card(session: Session, personal: codes.PersonalCode, at: datetime) -> None:
    """Refuse a printed card revoked by the time of the scan."""
    revoked_at = session.exec(
        select(PersonalCard.revoked_at).where(
            PersonalCard.nonce == personal.nonce, PersonalCard.student_id == personal.student_id
        )
    ).first()
    if revoked_at is not None and revoked_at <= at:
        raise CodeRevoked("这张个人码卡片已挂失停用，请联系学校", "This personal card was revoked")


# --- lists ------------------------------------------------------------------------------------


def attendees_query(activity_id: int, *, day: date | None, status: str | None, source: str | None):
    query = (
        select(CheckIn, Student)
        .join(Student, col(Student.id) == CheckIn.student_id)
        .where(CheckIn.activity_id == activity_id)
    )
    if day is not None:
        query = query.where(CheckIn.day == day)
    if status == "open":
        query = query.where(col(CheckIn.exited_at).is_(None))
    elif status == "closed":
        query = query.where(col(CheckIn.exited_at).is_not(None))
    if source is not None:
        query = query.where(CheckIn.source == source)
    return query


def attendee_counts(session: Session, activity_id: int, day: date | None) -> dict[str, int]:
    query = select(
        func.count(),
        func.count(col(CheckIn.exited_at)),
        func.sum(case((col(CheckIn.closed_by) == ClosedBy.auto_closed.value, 1), else_=0)),
    ).where(CheckIn.activity_id == activity_id)
    if day is not None:
        query = query.where(CheckIn.day == day)
    total, closed, auto = session.execute(query).one()
    return {
        "total": int(total),
        "open": int(total) - int(closed),
        "closed": int(closed),
        "auto_closed": int(auto or 0),
    }


def list_attendees(
    session: Session,
    *,
    actor: Principal,
    activity_id: int,
    day: date | None,
    status: str | None,
    source: str | None,
    page: PageParams,
) -> tuple[list[tuple[CheckIn, Student]], int, dict[str, int]]:
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    query = attendees_query(activity.id or 0, day=day, status=status, source=source)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(CheckIn.entered_at), col(CheckIn.id))
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return [(c, s) for c, s in rows], total, attendee_counts(session, activity.id or 0, day)


def list_scan_events(
    session: Session,
    *,
    actor: Principal,
    activity_id: int,
    result: ScanResult | None,
    page: PageParams,
) -> tuple[list[tuple[ScanEvent, str | None]], int]:
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    query = (
        select(ScanEvent, Student.name)
        .join(Student, col(Student.id) == ScanEvent.student_id, isouter=True)
        .where(ScanEvent.activity_id == activity.id)
    )
    if result is not None:
        query = query.where(ScanEvent.result == result.value)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(ScanEvent.id).desc()).limit(page.limit).offset(page.offset)
    ).all()
    return [(e, n) for e, n in rows], total


@dataclass(frozen=True, slots=True)
class PupilScan:
    """A scan by one of a school's pupils, as the school reviews it."""

    event: ScanEvent
    student_name: str | None
    class_name: str | None
    activity_title: str | None
    organiser_name: str | None


def list_school_scan_events(
    session: Session,
    *,
    actor: Principal,
    result: ScanResult | None,
    reason: str | None,
    student_id: int | None,
    since: date | None,
    until: date | None,
    page: PageParams,
) -> tuple[list[PupilScan], int]:
    """The scans of the caller's school's pupils at any venue or school, newest first: a
    school reviews refused scans (a pupil signed in from home, a code sent round a class) and
    helps a pupil whose scans fail. Only the school's own pupils, never another school's."""
    if actor.role not in SCHOOL_ROLES or actor.school_id is None:
        return [], 0
    organiser = func.coalesce(Venue.name, School.name)
    query = (
        select(ScanEvent, Student.name, Student.class_name, Activity.title, organiser)
        .join(Student, col(Student.id) == ScanEvent.student_id, isouter=True)
        .join(Activity, col(Activity.id) == ScanEvent.activity_id, isouter=True)
        .join(Venue, col(Venue.id) == Activity.venue_id, isouter=True)
        .join(School, col(School.id) == Activity.school_id, isouter=True)
        .where(ScanEvent.school_id == actor.school_id)
    )
    if result is not None:
        query = query.where(ScanEvent.result == result.value)
    if reason is not None:
        query = query.where(ScanEvent.reason == reason)
    if student_id is not None:
        query = query.where(ScanEvent.student_id == student_id)
    if since is not None:
        query = query.where(col(ScanEvent.server_time) >= day_bounds(since)[0])
    if until is not None:
        query = query.where(col(ScanEvent.server_time) < day_bounds(until)[1])
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(ScanEvent.server_time).desc(), col(ScanEvent.id).desc())
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return [PupilScan(*row) for row in rows], total


def list_own(
    session: Session, *, actor: Principal, page: PageParams
) -> tuple[list[tuple[CheckIn, str]], int, tuple[str | None, str | None]]:
    """A student's own visits, newest first, with their name and class label (the pupil sees
    their own name in full)."""
    if actor.student_id is None:
        return [], 0, (None, None)
    row = session.exec(
        select(Student.name, Student.grade, Student.class_name, School.name)
        .join(School, col(School.id) == Student.school_id)
        .where(Student.id == actor.student_id)
    ).first()
    if row is None:
        return [], 0, (None, None)
    name, grade, class_name, school = row
    who_am_i = (name, f"{school} {grade}年级{class_name}")
    query = (
        select(CheckIn, Activity.title)
        .join(Activity, col(Activity.id) == CheckIn.activity_id)
        .where(CheckIn.student_id == actor.student_id)
    )
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(CheckIn.entered_at).desc()).limit(page.limit).offset(page.offset)
    ).all()
    return [(c, t) for c, t in rows], total, who_am_i


def activity_title(session: Session, cache: ScanCache | None, activity_id: int) -> str:
    known = cache.title(activity_id) if cache is not None else None
    if known is not None:
        return known
    return session.exec(select(Activity.title).where(Activity.id == activity_id)).one()


def audit_view(
    session: Session,
    *,
    actor: Principal,
    activity_id: int | None,
    what: str,
    rows: int,
    now: datetime,
    **filters: object,
) -> None:
    """Staff views of minors' check-ins go to the audit log, like record views: an
    activity's, or (``activity_id`` None) the caller's school's pupils' across activities,
    with the filters that were set (whose scans were looked up, say)."""
    audit_service.record(
        session,
        action=audit_service.Action.checkins_viewed,
        at=now,
        actor=actor,
        object_type="activity" if activity_id is not None else "school",
        object_id=activity_id if activity_id is not None else actor.school_id,
        school_id=actor.school_id,
        view=what,
        row_count=rows,
        **{name: value for name, value in filters.items() if value is not None},
    )


def who(session: Session, actor: Principal, student_id: int) -> tuple[str, str]:
    """The name (as the caller may see it) and the school and class of a scanned pupil, so
    that staff at the door can match the face to the code."""
    row = session.exec(
        select(Student.name, Student.school_id, Student.grade, Student.class_name, School.name)
        .join(School, col(School.id) == Student.school_id)
        .where(Student.id == student_id)
    ).one()
    name, school_id, grade, class_name, school = row
    label = f"{school} {grade}年级{class_name}"
    return shown_name(actor, name, school_id=school_id, student_id=student_id), label


def school_names(session: Session, school_ids: set[int]) -> dict[int, str]:
    if not school_ids:
        return {}
    rows = session.exec(select(School.id, School.name).where(col(School.id).in_(school_ids)))
    return {sid: name for sid, name in rows}


ATTENDEE_HEADER = (
    "日期",
    "学校",
    "年级",
    "班级",
    "姓名",
    "签到方式",
    "签到时间",
    "签退时间",
    "结束方式",
    "时长（分钟）",
)
SOURCE_LABELS = {
    ScanSource.self_scan: "学生扫码",
    ScanSource.staff_scan: "工作人员扫码",
    ScanSource.group: "教师团体签到",
    ScanSource.offline: "离线上传",
}
CLOSED_LABELS = {
    ClosedBy.exit_scan: "签退",
    ClosedBy.auto_closed: "自动关闭（未签退）",
    ClosedBy.staff: "工作人员更正",
}


def _local_minute(at: datetime | None) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if at else ""


def attendee_export(
    session: Session, *, actor: Principal, activity_id: int, day: date | None, now: datetime
) -> tuple[tuple[str, ...], list[tuple[object, ...]]]:
    """Every visit of the activity with its entry and exit times, for the venue's ledger.
    Venues see masked names, as in the list; the export is audited."""
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    rows = session.exec(
        attendees_query(activity.id or 0, day=day, status=None, source=None).order_by(
            col(CheckIn.day), col(Student.school_id), col(Student.grade), col(CheckIn.entered_at)
        )
    ).all()
    schools = school_names(session, {s.school_id for _c, s in rows})
    lines = [
        (
            c.day.isoformat(),
            schools.get(s.school_id, ""),
            s.grade,
            s.class_name,
            shown_name(actor, s.name, school_id=s.school_id, student_id=s.id),
            SOURCE_LABELS.get(ScanSource(c.source), c.source),
            _local_minute(c.entered_at),
            _local_minute(c.exited_at),
            CLOSED_LABELS.get(ClosedBy(c.closed_by), "") if c.closed_by else "",
            "" if c.minutes is None else c.minutes,
        )
        for c, s in rows
    ]
    audit_service.record(
        session,
        action=audit_service.Action.checkins_exported,
        at=now,
        actor=actor,
        object_type="activity",
        object_id=activity.id,
        school_id=actor.school_id,
        filter={"day": day.isoformat() if day else None},
        row_count=len(lines),
    )
    return ATTENDEE_HEADER, lines


def poster(
    session: Session, settings: Settings, code: ActivityCode, activity: Activity, link: str
) -> bytes:
    """The A4 poster of a static code, in Chinese."""
    facts = record_append.facts_for_activity(session, activity)
    view = ActivityView.of(session, activity)
    return render.poster_pdf(
        render.Poster(
            title=activity.title,
            organiser=facts.organiser_name,
            place=activity.place_name,
            valid_from=view.opens_at,
            valid_until=min(code.valid_until or view.closes_at, view.closes_at),
            link=link,
            short_id=code.short_id,
        ),
        font=pdf_fonts.chinese_font(settings),
    )


# --- mini-program codes --------------------------------------------------------------------------


def wxacode_png(
    database: Database,
    wechat: WeChat,
    *,
    settings: Settings,
    actor: Principal,
    code_id: int,
    now: datetime,
) -> tuple[bytes, str]:
    """The mini-program code of a static code as PNG, and what it is: ``wxacode`` (fetched from
    WeChat once, then kept) or ``link`` (the plain link QR, when WeChat is not configured).

    WeChat is called outside any transaction, so a slow answer holds no database lock; two
    first requests may both call WeChat, and the first stored image wins."""
    env = settings.wechat_env_version
    with database.read_only_session() as session:
        code, _activity = managed_code(session, actor=actor, code_id=code_id)
        if code.kind != CodeKind.static or code.revoked_at is not None:
            raise CodeKindInvalid(
                "只有有效的海报码可以生成小程序码",
                "Only a valid static code has a mini-program code",
            )
        stored = session.exec(
            select(WxaCodeImage.png).where(
                WxaCodeImage.code_id == code.id, WxaCodeImage.env_version == env
            )
        ).first()
        short_id = code.short_id
        link = codes.link_for(
            settings.code_link_base, codes.static_payload(settings.code_keyring, short_id)
        )
    if stored is not None:
        return stored, "wxacode"
    if not wechat.configured:
        return render.qr_png(link), "link"
    png = wechat.get_unlimited_qrcode(
        scene=codes.SCENE_PREFIX + short_id,
        page=settings.wechat_checkin_page,
        env_version=env,
        check_path=env == "release",
    )
    with database.transaction() as session:
        _insert(
            session,
            WxaCodeImage,
            {
                "code_id": code_id,
                "env_version": env,
                "page": settings.wechat_checkin_page,
                "png": png,
                "created_at": now,
            },
            ["code_id", "env_version"],
        )
        kept = session.exec(
            select(WxaCodeImage.png).where(
                WxaCodeImage.code_id == code_id, WxaCodeImage.env_version == env
            )
        ).one()
    return kept, "wxacode"
