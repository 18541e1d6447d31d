"""A student scans a venue's code (``POST /checkins``): the code is resolved and checked, the
caller and the first use of its ``Idempotency-Key`` read, the rules applied, and the visit
written. :class:`SelfScanWork` is that as one unit of group commit
(:mod:`scipass.core.group_commit`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, exists, literal
from sqlalchemy import select as sa_select  # typed for more columns than sqlmodel's select
from sqlmodel import Session, select

from scipass.checkin import codes
from scipass.checkin.batch import SELF_SCANS, ScanBatch
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
from scipass.checkin.visits import EVENTS, Earlier, Outcome, apply_scan, replay
from scipass.core.auth import Principal
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.group_commit import GroupCommit, InlineCommit
from scipass.core.idempotency import IdempotencyKeyRecord


def _caller_and_key(
    session: Session, actor: Principal, scan: Scan, batch: ScanBatch | None
) -> tuple[Pupil | None, Earlier | None]:
    """The caller's student and the event its key was first used for: from what the batch
    read for every scan of it, or in one round trip of its own."""
    key = (actor.student_id or 0, scan.operator, scan.nonce or "")
    row = batch.caller(key) if batch is not None else None
    if row is None:  # not read with the rest of a batch
        params = {"student_id": key[0], "operator": key[1], "nonce": key[2]}
        row = session.connection().execute(_CALLER_AND_KEY, params).one()
    pupil = Pupil(*row[:5]) if row[0] is not None else None
    if row[5] is not None:
        earlier: Earlier | None = Earlier(*row[5:9])
    elif row[9]:  # the key was first used for another kind of request (core.idempotency)
        earlier = Earlier(fingerprint="", result=ScanResult.refused, reason="", check_in_id=None)
    else:
        earlier = None
    return pupil, earlier


_KEYS = IdempotencyKeyRecord.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


# The portable read of a scan's caller and key (its batch form: checkin/batch.py).
_CALLER_AND_KEY = sa_select(
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
    attempts: int,
    batch: ScanBatch | None = None,
) -> Outcome:
    """A student scanned a venue's code (``POST /checkins``). ``attempts``: the caller's scans
    this minute, this one included (counted once by :func:`count_attempt`, whatever reruns
    group commit makes); ``batch``: the batch of self-scans this one is part of."""
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
    pupil, earlier = _caller_and_key(session, actor, scan, batch)
    if earlier is not None and earlier.fingerprint == scan.fingerprint:
        return replay(session, earlier)
    if earlier is not None:
        scan.nonce = None  # the key belongs to the earlier request; keep this one's event too

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

    return apply_scan(session, scan, judge, actor, batch=batch)


def count_attempt(settings: Settings, cache: ScanCache, actor: Principal, now: datetime) -> int:
    """Count a scan against the caller's rate, once per request, before it is run: how many
    this minute, this one included. A flood (past twice the rate) is refused here, before
    any check and any write (up to twice the rate, DESIGN's order decides the reason)."""
    attempts = cache.count(actor.subject, now)
    if attempts > 2 * settings.scan_rate_per_minute:
        raise ScanRateLimited()
    return attempts


@dataclass(frozen=True, slots=True)
class SelfScanWork:
    """:func:`self_scan` with the activity's title: one unit of group commit, of the kind
    :data:`scipass.checkin.batch.SELF_SCANS` (committed with the scans that arrive meanwhile,
    and on PostgreSQL sharing their round trips). It only writes through its session, so it
    can run again when its batch falls back."""

    settings: Settings
    cache: ScanCache
    actor: Principal
    data: CheckInCreate
    nonce: str
    now: datetime
    attempts: int

    @property
    def caller_key(self) -> tuple[int, str, str]:
        """What :meth:`scipass.checkin.batch.SelfScanBatch.prepare` reads for this scan: its
        caller's student and the first use of its key."""
        return (self.actor.student_id or 0, self.actor.subject, self.nonce)

    def __call__(self, session: Session, batch: ScanBatch | None) -> tuple[Outcome, str]:
        outcome = self_scan(
            session,
            settings=self.settings,
            cache=self.cache,
            actor=self.actor,
            data=self.data,
            nonce=self.nonce,
            now=self.now,
            attempts=self.attempts,
            batch=batch,
        )
        return outcome, activity_title(session, self.cache, outcome.check_in.activity_id)


async def run_self_scan(
    commits: GroupCommit | InlineCommit,
    *,
    settings: Settings,
    cache: ScanCache,
    actor: Principal,
    data: CheckInCreate,
    nonce: str,
    now: datetime,
) -> tuple[Outcome, str]:
    """A self-scan from the door to its commit, for the route and the fast path alike: the
    attempt counted once, then the unit run through group commit with the scans that arrive
    meanwhile. Answers the visit and the activity's title, or raises the refusal."""
    attempts = count_attempt(settings, cache, actor, now)
    work = SelfScanWork(
        settings=settings,
        cache=cache,
        actor=actor,
        data=data,
        nonce=nonce,
        now=now,
        attempts=attempts,
    )
    return await commits.run(work, SELF_SCANS)


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
