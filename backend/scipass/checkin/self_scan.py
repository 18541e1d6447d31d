"""A student scans a venue's code (``POST /checkins``): the code is resolved and checked, the
caller and the first use of its ``Idempotency-Key`` read, the rules applied, and the visit
written. :class:`SelfScanWork` is that as one unit of group commit
(:mod:`scipass.core.group_commit`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from sqlalchemy import and_, bindparam, exists, literal
from sqlmodel import Session, select

from scipass.checkin import batch, codes
from scipass.checkin.errors import (
    CodeExpired,
    CodeInvalid,
    CodeRevoked,
    ScanKeyReused,
    ScanRateLimited,
)
from scipass.checkin.lists import activity_title
from scipass.checkin.models import (
    CodeKind,
    Direction,
    ScanResult,
    ScanSource,
)
from scipass.checkin.rules import (
    judge_capacity,
    judge_location,
    judge_student,
    judge_window,
    still_bound,
)
from scipass.checkin.schemas import (
    CheckInCreate,
)
from scipass.checkin.views import (
    STUDENTS,
    ActivityView,
    CodeView,
    Pupil,
    Scan,
    ScanCache,
    fingerprint,
)
from scipass.checkin.visits import EVENTS, Earlier, Outcome, apply_scan, driver_row, replay
from scipass.core.auth import Principal
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.db import Later
from scipass.core.idempotency import IdempotencyKeyRecord


def _caller_and_nonce(
    session: Session, actor: Principal, scan: Scan
) -> tuple[Pupil | None, Earlier | None]:
    """The caller's student and the event its nonce was first used for, in one round trip."""
    params = {"student_id": actor.student_id or 0, "operator": scan.operator, "nonce": scan.nonce}
    row = batch.prefetched(session, (params["student_id"], scan.operator, scan.nonce or ""))
    if row is None:  # not read with the rest of a batch
        connection = session.connection()
        if connection.dialect.name == "postgresql":
            row = driver_row(connection, _PG_CALLER_AND_NONCE, params)
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
    STUDENTS.c.id,
    STUDENTS.c.school_id,
    STUDENTS.c.stage,
    STUDENTS.c.birth_month,
    STUDENTS.c.wechat_user_id,
    EVENTS.c.fingerprint,
    EVENTS.c.result,
    EVENTS.c.reason,
    EVENTS.c.check_in_id,
    exists()
    .where(
        _KEYS.c.subject == bindparam("operator"),
        _KEYS.c.key == bindparam("nonce"),
    )
    .label("claimed"),
).select_from(
    select(literal(1).label("one"))
    .subquery("one")
    .outerjoin(STUDENTS, STUDENTS.c.id == bindparam("student_id"))
    .outerjoin(
        EVENTS,
        and_(EVENTS.c.operator == bindparam("operator"), EVENTS.c.nonce == bindparam("nonce")),
    )
)


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
        return replay(session, earlier)
    if earlier is not None:
        scan.nonce = None  # the nonce belongs to the earlier scan; keep this one's event too

    def judge() -> tuple[ActivityView, Pupil]:
        _code, activity = _resolve(session, settings, cache, data.code, now, scan)
        judge_window(activity, data.direction, now)
        student = pupil if still_bound(actor, pupil) else None
        today = local_date(now)
        judge_student(session, activity, student, today=today, day=today)
        assert student is not None
        if data.direction is Direction.entry:
            judge_capacity(activity, session, student, today)
        judge_location(session, activity, student, data.location, today, scan)
        if earlier is not None:
            raise ScanKeyReused()
        if attempts > settings.scan_rate_per_minute:
            raise ScanRateLimited(retry_after=60)
        return activity, student

    return apply_scan(session, scan, judge, actor)


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
