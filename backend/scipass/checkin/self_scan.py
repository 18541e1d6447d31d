"""A student scans a venue's code (``POST /checkins``): the code is resolved and checked, the
caller and the first use of its ``Idempotency-Key`` read, the rules applied, and the visit
written. :class:`SelfScanWork` is that as one unit of group commit
(:mod:`scipass.core.group_commit`).

A guardian scans for a linked child the same way (family mode, :mod:`scipass.roster.acting`):
the request names the child (``?student_id=``, :func:`scan_for`), and the scan's one read of
its caller also tells whether a live link joins the guardian to that child, on every scan.
Without one the answer is 404 ``student_not_found``, for a pupil of 14 or over with a binding
of their own 403 ``child_acts_for_self``; neither writes a scan event. Otherwise the scan is
the child's (its rules, consents and rate) and the guardian's act: the scan event and the visit
name the guardian as operator, and the record's history the guardian as its actor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Date, and_, bindparam, exists, literal
from sqlalchemy import select as sa_select  # typed for more columns than sqlmodel's select
from sqlmodel import Session, select

from scipass.checkin import codes
from scipass.checkin.batch import SELF_SCANS, CallerKey, ScanBatch, scan_window
from scipass.checkin.errors import (
    ChildNotLinked,
    ChildScansForSelf,
    CodeExpired,
    CodeInvalid,
    CodeRevoked,
    ScanKeyReused,
    ScanRateLimited,
    ScanRefused,
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
from scipass.consent import notices
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.consent.notices import NoticeVersion
from scipass.core import metrics, ratelimit
from scipass.core.auth import Principal, Role
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.group_commit import GroupCommit, InlineCommit
from scipass.core.idempotency import IdempotencyKeyRecord
from scipass.roster.acting import StudentIdRequired, acting_for, guardian_may_act
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import GuardianLink


def scan_for(actor: Principal, student_id: int | None) -> int | None:
    """The student a self-scan is for, from its caller and the ``?student_id=`` it names: the
    child a guardian names (required; the link is checked by the scan's own read), a pupil's
    own (naming another pupil answers 404, as every student endpoint does), none for a
    WeChat user not yet bound (who is told to bind)."""
    if actor.role is Role.guardian:
        if student_id is None:
            raise StudentIdRequired()
        return student_id
    if student_id is not None and student_id != actor.student_id:
        raise StudentNotFound()
    return actor.student_id


def rate_key(actor: Principal, student_id: int | None) -> str:
    """Whose scan rate a scan counts against: the pupil's, whoever scans for them (their own
    phone or a guardian's), or a caller's without a pupil."""
    return f"student:{student_id}" if student_id is not None else actor.subject


def caller_key(actor: Principal, student_id: int | None, nonce: str) -> CallerKey:
    """What a scan's caller-and-key read looks up: the student scanned for, the operator and
    its key, and for a guardian their WeChat user (whose link to the student it reads)."""
    guardian = actor.wechat_user_id if actor.role is Role.guardian else None
    return (student_id or 0, actor.subject, nonce, guardian)


def _caller_and_key(
    session: Session, key: CallerKey, batch: ScanBatch | None, today: date
) -> tuple[Pupil | None, Earlier | None, bool]:
    """The student scanned for (with their participation-record consent), the event the key
    was first used for, and whether a live guardian link joins the caller to the student: from
    what the batch read for every scan of it, or in one round trip of its own."""
    row = batch.caller(key) if batch is not None else None
    if row is None:  # not read with the rest of a batch
        params = {
            "student_id": key[0],
            "operator": key[1],
            "nonce": key[2],
            "guardian": key[3],
            "today": today,
        }
        statement = _caller_and_key_statement(notices.NOTICES)
        row = session.connection().execute(statement, params).one()
    pupil = None
    if row[0] is not None:
        student_id, school_id, stage, birth_month, wechat_user_id = row[:5]
        pupil = Pupil(
            student_id, school_id, stage, birth_month, wechat_user_id, consented=bool(row[11])
        )
    if row[5] is not None:
        earlier: Earlier | None = Earlier(*row[5:9])
    elif row[9]:  # the key was first used for another kind of request (core.idempotency)
        earlier = Earlier(fingerprint="", result=ScanResult.refused, reason="", check_in_id=None)
    else:
        earlier = None
    return pupil, earlier, bool(row[10])


def _child_of(guardian: Principal, pupil: Pupil | None, linked: bool, today: date) -> Principal:
    """The principal of a guardian scanning for ``pupil`` (:func:`scipass.roster.acting.
    acting_for`), once the read showed a live link and the rule lets the guardian act."""
    if pupil is None or not linked:
        raise ChildNotLinked()
    if not guardian_may_act(
        birth_month=pupil.birth_month, own_binding=pupil.wechat_user_id, today=today
    ):
        raise ChildScansForSelf()
    return acting_for(guardian, pupil)


_KEYS = IdempotencyKeyRecord.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
_LINKS = GuardianLink.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


# The portable read of a scan's caller and key (its batch form: checkin/batch.py).
@lru_cache(maxsize=2)
def _caller_and_key_statement(table: tuple[NoticeVersion, ...]) -> Any:
    """The read, built once per notice table (``table``, the cache's key: the consent rule
    is written out from it)."""
    del table
    return sa_select(
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
        exists()
        .where(
            _LINKS.c.guardian_id == bindparam("guardian"),
            _LINKS.c.student_id == bindparam("student_id"),
            _LINKS.c.revoked_at.is_(None),
        )
        .label("linked"),
        consent_service.in_force_clause(
            bindparam("student_id"),
            Purpose.participation_record.value,
            bindparam("today", type_=Date),
        ).label("consented"),
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
    student_id: int | None,
    data: CheckInCreate,
    nonce: str,
    now: datetime,
    rate_key: str,
    batch: ScanBatch | None = None,
) -> Outcome:
    """A student, or a guardian for a linked child, scanned a venue's code (``POST
    /checkins``). ``student_id``: who the scan is for (:func:`scan_for`); ``rate_key``: whose
    rate it counts against (:func:`rate_key`), counted in the scan's own transaction (by the
    batch's first statement, or here), so a batch run again counts it again only once its
    first run was undone; ``batch``: the batch of self-scans this one is part of."""
    guardian = actor.role is Role.guardian
    # A guardian's key is theirs for one child: the same key sent for another child is another
    # request (409).
    parts = (data.direction.value, data.code.strip().upper(), *((student_id,) if guardian else ()))
    scan = Scan(
        source=ScanSource.self_scan,
        operator=actor.subject,
        direction=data.direction,
        fingerprint=fingerprint(actor.subject, *parts),
        now=now,
        nonce=nonce,
        scan_time=(
            datetime.fromtimestamp(data.scan_time, tz=now.tzinfo)
            if data.scan_time is not None and data.scan_time < 2**32
            else None
        ),
        student_id=student_id,
        school_id=actor.school_id,
    )
    key = caller_key(actor, student_id, nonce)
    pupil, earlier, linked = _caller_and_key(session, key, batch, local_date(now))
    if guardian:  # before anything is written: no scan event for a child not theirs to name
        actor = _child_of(actor, pupil, linked, local_date(now))
        scan.school_id = actor.school_id
    attempts = batch.attempt(key) if batch is not None else None
    if attempts is None:
        attempts = count_attempt(session, settings, rate_key, now)
    elif attempts > 2 * settings.scan_rate_per_minute:
        raise ScanRateLimited()
    if earlier is not None and earlier.fingerprint == scan.fingerprint:
        return replay(session, earlier)
    if earlier is not None:
        scan.nonce = None  # the key belongs to the earlier request; keep this one's event too

    def judge() -> tuple[ActivityView, Pupil]:
        _code, activity = _resolve(session, settings, cache, data.code, now, scan)
        judge_window(activity, data.direction, now)
        student = pupil if guardian or still_bound(actor, pupil) else None
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


def count_attempt(session: Session, settings: Settings, key: str, now: datetime) -> int:
    """Count a scan against its student's rate (:func:`rate_key`) in the database, in the
    scan's transaction, before it is judged: how many this minute, this one included, across
    every process. A flood (past twice the rate) is refused here, before any check and any
    other write (up to twice the rate, DESIGN's order decides the reason)."""
    attempts = ratelimit.hit(session, key, scan_window(settings), now=now)
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
    student_id: int | None  # who the scan is for (scan_for)
    data: CheckInCreate
    nonce: str
    now: datetime
    rate_key: str

    @property
    def caller_key(self) -> CallerKey:
        """What :meth:`scipass.checkin.batch.SelfScanBatch.prepare` reads for this scan: its
        student, the first use of its key, and a guardian's link to the student."""
        return caller_key(self.actor, self.student_id, self.nonce)

    def __call__(self, session: Session, batch: ScanBatch | None) -> tuple[Outcome, str]:
        outcome = self_scan(
            session,
            settings=self.settings,
            cache=self.cache,
            actor=self.actor,
            student_id=self.student_id,
            data=self.data,
            nonce=self.nonce,
            now=self.now,
            rate_key=self.rate_key,
            batch=batch,
        )
        return outcome, activity_title(session, self.cache, outcome.check_in.activity_id)


async def run_self_scan(
    commits: GroupCommit | InlineCommit,
    *,
    settings: Settings,
    cache: ScanCache,
    actor: Principal,
    student_id: int | None,
    data: CheckInCreate,
    nonce: str,
    now: datetime,
) -> tuple[Outcome, str]:
    """A self-scan from the door to its commit, for the route, the fast path and each child
    of a family scan alike: the student it is for (``student_id``: the ``?student_id=`` of
    the request, :func:`scan_for`), then the unit run through group commit with the scans
    that arrive meanwhile, which counts it against that student's rate. A flood this process
    alone has seen (past twice the rate this minute) is refused before that, without touching
    the database: every scan it counted before went to the database's count, which is at
    least as high. Answers the visit and the activity's title, or raises the refusal."""
    target = scan_for(actor, student_id)
    key = rate_key(actor, target)
    work = SelfScanWork(
        settings=settings,
        cache=cache,
        actor=actor,
        student_id=target,
        data=data,
        nonce=nonce,
        now=now,
        rate_key=key,
    )
    try:
        if cache.count(key, now) > 2 * settings.scan_rate_per_minute:
            raise ScanRateLimited()
        answer = await commits.run(work, SELF_SCANS)
    except (ChildNotLinked, ChildScansForSelf):
        # Not a scan of that pupil's (undone, uncounted in the database): a stranger naming
        # a pupil does not use up their rate here either.
        cache.uncount(key, now)
        raise
    except ScanRefused as refusal:
        metrics.checkin_result(ScanSource.self_scan, ScanResult.refused, refusal.code)
        raise
    metrics.checkin_result(ScanSource.self_scan, answer[0].result)
    return answer


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
