"""What a scan needs, read once: snapshots of an activity (:class:`ActivityView`) and a code
(:class:`CodeView`) copied out of the session, the pupil (:class:`Pupil`), a per-process cache
of codes and activities (:class:`ScanCache`: a few seconds; revoking a code or changing an
activity clears this process's copy at once, and on PostgreSQL every other process's too as
soon as the change commits, :mod:`scipass.core.notify`), and the scan attempt
itself as it arrived (:class:`Scan`), which becomes its append-only scan event."""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, update
from sqlalchemy import select as sa_select  # typed for more columns than sqlmodel's select
from sqlmodel import Session, select

from scipass.activity.models import Activity
from scipass.checkin.models import (
    ActivityCode,
    Direction,
    ScanEvent,
    ScanResult,
    ScanSource,
)
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.core.clock import local_date
from scipass.core.db import insert_ignoring
from scipass.org.models import decode_stages
from scipass.record import append as record_append
from scipass.roster.models import Student

CACHE_SECONDS = 5.0


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
    activity_id: int | None
    kind: str
    short_id: str
    step_seconds: int
    valid_until: datetime | None
    revoked_at: datetime | None


@dataclass
class ScanCache:
    """Codes and activities by short id for a few seconds (``SCIPASS_SCAN_CACHE_SECONDS``),
    and the scans this process saw per rate key this minute. One per app
    (``app.state.checkin_cache``). A pupil's scan rate is counted in the database
    (:func:`scipass.checkin.self_scan.count_attempt`), so that it holds across processes; the
    counts here only let a flood that this process alone has seen (past twice the rate) be
    refused without touching the database: the shared count is at least as high."""

    seconds: float = CACHE_SECONDS
    _targets: dict[str, tuple[float, CodeView, ActivityView]] = field(default_factory=dict)
    _titles: dict[int, str] = field(default_factory=dict)
    _counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _generation: int = 0  # moves on with every change dropped

    def target(self, session: Session, short_id: str) -> tuple[CodeView, ActivityView] | None:
        hit = self._targets.get(short_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1], hit[2]
        generation = self._generation
        code = session.exec(select(ActivityCode).where(ActivityCode.short_id == short_id)).first()
        if code is None or code.activity_id is None:  # a shift's code: checkin/shifts.py
            return None
        activity = session.get(Activity, code.activity_id)
        assert activity is not None
        found = (code_view(code), ActivityView.of(session, activity))
        with self._lock:
            # Kept only if nothing changed while it was read: a copy read before a change
            # and stored after it was dropped would stay stale.
            if self._generation == generation:
                self._targets[short_id] = (time.monotonic() + self.seconds, *found)
            self._titles[found[1].id] = found[1].title  # the newest read wins
        return found

    def title(self, activity_id: int) -> str | None:
        return self._titles.get(activity_id)

    def count(self, key: str, now: datetime) -> int:
        """Count one scan under ``key`` (whose rate it is) in the current minute (the
        database's window, core/ratelimit.py); this process's count so far."""
        minute = int(now.timestamp()) // 60
        with self._lock:
            seen_minute, seen = self._counts.get(key, (minute, 0))
            seen = seen + 1 if seen_minute == minute else 1
            self._counts[key] = (minute, seen)
            if len(self._counts) > 100_000:  # a new minute: drop the old ones
                self._counts = {k: v for k, v in self._counts.items() if v[0] == minute}
            return seen

    def uncount(self, key: str, now: datetime) -> None:
        """Take back a scan counted under ``key`` in the current minute (one that turned out
        not to be the key's to count)."""
        minute = int(now.timestamp()) // 60
        with self._lock:
            seen_minute, seen = self._counts.get(key, (minute, 0))
            if seen_minute == minute and seen > 0:
                self._counts[key] = (minute, seen - 1)

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._targets.clear()
            self._titles.clear()

    def changed(self, message: str) -> None:
        """Drop what a change announced by ``notify.send(session, kind, name)`` (heard by
        the process's :class:`scipass.core.notify.Listener`) makes stale."""
        kind, _, name = message.partition(":")
        with self._lock:
            self._generation += 1
            if kind == CODE:
                self._targets.pop(name, None)
            elif kind == ACTIVITY and name.isdigit():
                activity_id = int(name)
                stale = [k for k, v in self._targets.items() if v[2].id == activity_id]
                for short_id in stale:
                    self._targets.pop(short_id, None)


# What :meth:`ScanCache.changed` hears of (``scipass.core.notify.send``): a code by short id
# (checkin/issuing.py), an activity by id (activity/service.py).
CODE, ACTIVITY = "code", "activity"


def code_view(code: ActivityCode) -> CodeView:
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
    # Whether the participation-record consent is in force, where it was read with the pupil
    # (a self-scan's one read of its caller); None: not read, asked when needed.
    consented: bool | None = None


# Statements of the hot path are built once and run with parameters (building one costs
# several times more than running it).
STUDENTS = Student.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


_PUPIL = sa_select(
    STUDENTS.c.id,
    STUDENTS.c.school_id,
    STUDENTS.c.stage,
    STUDENTS.c.birth_month,
    STUDENTS.c.wechat_user_id,
).where(STUDENTS.c.id == bindparam("student_id"))


def read_pupil(session: Session, student_id: int | None) -> Pupil | None:
    if student_id is None:
        return None
    row = session.connection().execute(_PUPIL, {"student_id": student_id}).first()
    return Pupil(*row) if row is not None else None


def consents(session: Session, pupil: Pupil, purpose: Purpose, today: date) -> bool:
    """:func:`scipass.consent.service.has_consent` for a pupil read on the hot path: no query
    from 14; under 14, what was read with the pupil, or one statement."""
    if not consent_service.is_under_14(pupil.birth_month, today):
        return True
    if purpose is Purpose.participation_record and pupil.consented is not None:
        return pupil.consented
    return consent_service.in_force(session, student_id=pupil.id, purpose=purpose, today=today)


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
    shift_id: int | None = None  # a scan of a volunteer shift (checkin/shifts.py)
    distance: int | None = None

    @property
    def happened_at(self) -> datetime:
        return self.at or self.now

    def values(self, result: ScanResult, reason: str, check_in_id: int | None) -> dict[str, Any]:
        return {
            "activity_id": self.activity_id,
            "shift_id": self.shift_id,
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
        event_id = insert_row(session, ScanEvent, values, ["operator", "nonce"])
        if event_id is not None and values["latitude"] is not None:
            keep_location_only_with_consent(session, EVENTS.c.id == event_id, local_date(self.now))
        return event_id is not None


EVENTS = ScanEvent.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


def keep_location_only_with_consent(session: Session, which: Any, today: date) -> None:
    """Erase the location of the scan events ``which`` selects whose pupil's ``location``
    consent is no longer in force: run once an event with a location is written. The insert
    holds the pupil's row ``KEY SHARE`` (its foreign key), so a withdrawal has either committed
    before it, and this statement reads it, or waits for this transaction and erases the
    event itself (:func:`scipass.consent.service.lock_pupil`). Only scans with a location pay
    the statement."""
    session.connection().execute(
        update(EVENTS)
        .where(
            which,
            EVENTS.c.latitude.is_not(None),
            exists().where(
                STUDENTS.c.id == EVENTS.c.student_id,
                consent_service.lacks_consent_clause(
                    STUDENTS.c.id, STUDENTS.c.birth_month, Purpose.location, today
                ),
            ),
        )
        .values(latitude=None, longitude=None, accuracy_m=None, distance_m=None)
    )


def fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def insert_row(session: Session, table: Any, values: dict[str, Any], conflict: list[str]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id; None when the unique key was taken."""
    statement = insert_ignoring(session, table.__table__, tuple(conflict))
    return session.connection().execute(statement, values).scalar_one_or_none()
