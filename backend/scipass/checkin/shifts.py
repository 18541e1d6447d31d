"""Scans of a volunteer shift (issue 18 point 4): the same machinery as a visit's scans, with
a shift as the target instead of an activity.

* A shift's codes are :class:`~scipass.checkin.models.ActivityCode` rows naming the shift
  (static or rotating, signed and checked exactly as an activity's: :func:`resolve`). Their
  images, poster, mini-program code (the volunteer page), kiosk screen and revocation are an
  activity code's, in :mod:`scipass.checkin.issuing` (a code's
  :class:`~scipass.checkin.issuing.CodeTarget` is the shift).
* A pupil (or a guardian for a child) scans the shift's code (:func:`self_scan`); staff of
  the organiser scan a pupil's personal code for the shift (:func:`staff_scan`); a venue
  device uploads the personal codes it scanned offline (:func:`offline_batch`, in the same
  chunks as a visit's upload, :func:`scipass.checkin.door._in_chunks`).
* Every attempt is a :class:`~scipass.checkin.models.ScanEvent` naming the shift
  (``shift_id``; ``activity_id`` and ``check_in_id`` empty), refusals included; a nonce
  replayed answers its first result; a pupil's scans count against their rate.
* What an accepted scan changes (the sign-up's arrival or leaving) is the volunteer
  package's (:func:`scipass.volunteer.attendance.attend`). No visit and no visit record is
  made.

Not extended: the group-commit batch and the raw-ASGI fast path of ``POST /checkins``
(:mod:`scipass.checkin.fastpath`) serve visits only. A shift's scans are a few dozen a
shift, not thousands a minute, so they take the plain path (one transaction a request).

A shift's code links to ``SCIPASS_SHIFT_LINK_BASE`` (``…/V/``), an activity's to
``SCIPASS_CODE_LINK_BASE`` (``…/C/``): the mini-program registers both prefixes and knows
from the link which endpoint a scan goes to. A shift's code sent to ``POST /checkins``
anyway is answered ``code_invalid`` with a pointer to ``POST /volunteer-attendance``.

A pupil's key (``Idempotency-Key``) for a shift scan is stored as ``v:<key>`` so that a key
reused for a visit scan is never mistaken for one (the two paths answer differently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlmodel import Session, col, select

from scipass.checkin import codes
from scipass.checkin import issuing as checkin_issuing
from scipass.checkin.cards import judge_card
from scipass.checkin.door import MAX_OFFLINE_AGE, _in_chunks, _personal
from scipass.checkin.errors import (
    REFUSAL_BY_CODE,
    CodeExpired,
    CodeInvalid,
    CodeKindInvalid,
    CodeRevoked,
    NonceRace,
    NotRegistered,
    NotStarted,
    ReplayedNonce,
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
    CodeKind,
    Direction,
    ScanEvent,
    ScanResult,
    ScanSource,
)
from scipass.checkin.rules import FUTURE_TOLERANCE, still_bound
from scipass.checkin.schemas import (
    CheckInCreate,
    CodeCreate,
    ItemResult,
    OfflineBatch,
    OfflineScan,
    StaffScan,
)
from scipass.checkin.self_scan import count_attempt, rate_key
from scipass.checkin.views import Pupil, Scan, ScanCache, consents, fingerprint, read_pupil
from scipass.consent.models import Purpose
from scipass.core.auth import Principal, Role
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.db import Database
from scipass.volunteer import attendance as volunteer_attendance
from scipass.volunteer import roles as volunteer_roles
from scipass.volunteer.models import ShiftStatus, VolunteerShift, VolunteerSignup

KEY_PREFIX = "v:"


@dataclass(frozen=True, slots=True)
class ShiftOutcome:
    signup: VolunteerSignup
    direction: Direction
    created: bool  # this scan set the arrival (or the leaving)
    walk_in: bool = False

    @property
    def result(self) -> ScanResult:
        return ScanResult.accepted if self.created else ScanResult.duplicate


@dataclass(frozen=True, slots=True)
class _Earlier:
    fingerprint: str
    result: str
    reason: str
    shift_id: int | None
    student_id: int | None


def _earlier(session: Session, operator: str, nonce: str | None) -> _Earlier | None:
    if nonce is None:
        return None
    event = session.exec(
        select(ScanEvent).where(ScanEvent.operator == operator, ScanEvent.nonce == nonce)
    ).first()
    if event is None:
        return None
    return _Earlier(event.fingerprint, event.result, event.reason, event.shift_id, event.student_id)


def _replay(session: Session, earlier: _Earlier, direction: Direction) -> ShiftOutcome:
    """The first answer to a scan sent again with the same key."""
    if earlier.result == ScanResult.refused or earlier.shift_id is None:
        raise REFUSAL_BY_CODE.get(earlier.reason, CodeInvalid)()
    signup = volunteer_attendance.placed_signup(session, earlier.shift_id, earlier.student_id or 0)
    if signup is None:  # cancelled since (the organiser cancelled the shift)
        raise NotRegistered()
    return ShiftOutcome(signup, direction, created=False)


def resolve(
    session: Session, settings: Settings, text: str, now: datetime, scan: Scan
) -> VolunteerShift:
    """The shift whose code was scanned, checked for signature, expiry and revocation, as
    :func:`scipass.checkin.self_scan._resolve` checks an activity's. Once the code is known
    the scan event names it and its shift."""
    try:
        parsed = codes.parse_venue_code(settings.code_keyring, text)
    except codes.CodeRejected:
        raise CodeInvalid() from None
    code = session.exec(
        select(ActivityCode).where(ActivityCode.short_id == parsed.short_id)
    ).first()
    if code is None or code.shift_id is None:
        raise CodeInvalid(
            "这不是志愿服务班次的签到码；参观活动请用签到入口扫码",
            "This is not a volunteer shift's code",
        )
    shift = session.get(VolunteerShift, code.shift_id)
    assert shift is not None
    scan.shift_id, scan.code_id = shift.id, code.id
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
    return shift


def _judge_pupil(session: Session, pupil: Pupil | None, today: datetime) -> Pupil:
    if pupil is None:
        raise StudentUnbound()
    if not consents(session, pupil, Purpose.participation_record, local_date(today)):
        raise ScanConsentRequired(purpose=Purpose.participation_record.value)
    return pupil


def _apply(session: Session, scan: Scan, shift: VolunteerShift, pupil: Pupil) -> ShiftOutcome:
    attended = volunteer_attendance.attend(
        session,
        shift=shift,
        student_id=pupil.id,
        direction=scan.direction,
        at=scan.happened_at,
        operator=scan.operator,
    )
    return ShiftOutcome(
        attended.signup, scan.direction, created=attended.created, walk_in=attended.walk_in
    )


def _run(session: Session, scan: Scan, judge: partial[ShiftOutcome]) -> ShiftOutcome:
    """Judge and apply a scan, storing its event; a refusal stores its event and raises."""
    try:
        outcome = judge()
    except ScanRefused as refusal:
        scan.store(session, ScanResult.refused, refusal.code, None)
        raise
    if not scan.store(session, outcome.result, "", None) and outcome.created:
        raise NonceRace()
    return outcome


def self_scan(
    session: Session,
    *,
    settings: Settings,
    cache: ScanCache,
    actor: Principal,
    data: CheckInCreate,
    nonce: str,
    now: datetime,
) -> ShiftOutcome:
    """A pupil (or a guardian acting for a linked child, :data:`scipass.roster.acting.
    ActingStudent`: the guardian's subject with the child's student) scanned a shift's
    code."""
    attempts = count_attempt(session, settings, rate_key(actor, actor.student_id), now)
    scan = Scan(
        source=ScanSource.self_scan,
        operator=actor.subject,
        direction=data.direction,
        fingerprint=fingerprint(
            actor.subject,
            "shift",
            actor.student_id,
            data.direction.value,
            data.code.strip().upper(),
        ),
        now=now,
        nonce=KEY_PREFIX + nonce,
        student_id=actor.student_id,
        school_id=actor.school_id,
    )
    earlier = _earlier(session, scan.operator, scan.nonce)
    if earlier is not None and earlier.fingerprint == scan.fingerprint:
        return _replay(session, earlier, data.direction)
    if earlier is not None:
        scan.nonce = None

    def judge() -> ShiftOutcome:
        shift = resolve(session, settings, data.code, now, scan)
        volunteer_attendance.judge_window(shift, data.direction, now)
        pupil = read_pupil(session, actor.student_id)
        if actor.role is not Role.guardian and not still_bound(actor, pupil):
            pupil = None
        student = _judge_pupil(session, pupil, now)
        if earlier is not None:
            raise ScanKeyReused()
        if attempts > settings.scan_rate_per_minute:
            raise ScanRateLimited(retry_after=60)
        return _apply(session, scan, shift, student)

    return _run(session, scan, partial(judge))


def staff_scan(
    session: Session,
    *,
    settings: Settings,
    actor: Principal,
    shift_id: int,
    data: StaffScan,
    now: datetime,
) -> ShiftOutcome:
    """Staff of the shift's organiser scanned a pupil's personal code for the shift."""
    shift = volunteer_roles.shift_for_staff(session, actor=actor, shift_id=shift_id)
    scan = Scan(
        source=ScanSource.staff_scan,
        operator=actor.subject,
        direction=data.direction,
        fingerprint=fingerprint("shift", shift.id, data.direction.value, data.code.strip().upper()),
        now=now,
        nonce=KEY_PREFIX + data.nonce,
        shift_id=shift.id,
    )
    earlier = _earlier(session, scan.operator, scan.nonce)
    if earlier is not None and earlier.fingerprint == scan.fingerprint:
        return _replay(session, earlier, data.direction)
    if earlier is not None:
        scan.nonce = None

    def judge() -> ShiftOutcome:
        personal = _personal(settings, data.code)
        pupil = read_pupil(session, personal.student_id)
        if pupil is not None:
            scan.student_id, scan.school_id = pupil.id, pupil.school_id
        if personal.expires_at < now:
            raise CodeExpired("个人码已过期，请学生刷新后再扫", "The personal code has expired")
        judge_card(session, personal, now)
        volunteer_attendance.judge_window(shift, data.direction, now)
        student = _judge_pupil(session, pupil, now)
        if earlier is not None:
            raise ReplayedNonce()
        return _apply(session, scan, shift, student)

    return _run(session, scan, partial(judge))


def _offline_item(
    session: Session,
    settings: Settings,
    shift: VolunteerShift,
    item: OfflineScan,
    scan: Scan,
    warnings: list[str],
    now: datetime,
) -> ShiftOutcome:
    if item.scan_time > now + FUTURE_TOLERANCE or item.scan_time < now - MAX_OFFLINE_AGE:
        raise ScanTimeInvalid()
    personal = _personal(settings, item.code)
    pupil = read_pupil(session, personal.student_id)
    if pupil is not None:
        scan.student_id, scan.school_id = pupil.id, pupil.school_id
    if personal.expires_at < item.scan_time:
        raise CodeExpired("扫码时个人码已过期", "The personal code had expired")
    judge_card(session, personal, item.scan_time)
    try:
        volunteer_attendance.judge_window(shift, item.direction, item.scan_time)
    except (NotStarted, WindowClosed) as refusal:
        if not item.force:
            raise
        warnings.append(refusal.code)
    student = _judge_pupil(session, pupil, now)
    return _apply(session, scan, shift, student)


def _offline_chunk(
    session: Session,
    items: Sequence[OfflineScan],
    *,
    settings: Settings,
    actor: Principal,
    shift_id: int,
    now: datetime,
) -> list[ItemResult]:
    shift = volunteer_roles.shift_for_staff(session, actor=actor, shift_id=shift_id)
    results: list[ItemResult] = []
    for item in items:
        scan = Scan(
            source=ScanSource.offline,
            operator=actor.subject,
            direction=item.direction,
            fingerprint=fingerprint(
                "shift", shift.id, item.direction.value, item.code.strip().upper()
            ),
            now=now,
            nonce=KEY_PREFIX + item.nonce,
            at=item.scan_time,
            scan_time=item.scan_time,
            forced=item.force,
            shift_id=shift.id,
        )
        results.append(_offline_result(session, settings, shift, item, scan, now))
    return results


def _offline_result(
    session: Session,
    settings: Settings,
    shift: VolunteerShift,
    item: OfflineScan,
    scan: Scan,
    now: datetime,
) -> ItemResult:
    earlier = _earlier(session, scan.operator, scan.nonce)
    if earlier is not None:
        if earlier.fingerprint != scan.fingerprint:
            refusal = ReplayedNonce()
            scan.nonce = None
            scan.store(session, ScanResult.refused, refusal.code, None)
            return ItemResult(key=item.nonce, result=ScanResult.refused, code=refusal.code)
        refusal_class = REFUSAL_BY_CODE.get(earlier.reason)
        return ItemResult(
            key=item.nonce,
            result=ScanResult(earlier.result),
            code=earlier.reason or None,
            message=refusal_class.title_zh if refusal_class else None,
        )
    warnings: list[str] = []
    try:
        with session.begin_nested():
            outcome = _run(
                session,
                scan,
                partial(_offline_item, session, settings, shift, item, scan, warnings, now),
            )
    except ScanRefused as refusal:
        scan.store(session, ScanResult.refused, refusal.code, None)
        return ItemResult(
            key=item.nonce, result=ScanResult.refused, code=refusal.code, message=refusal.title_zh
        )
    return ItemResult(key=item.nonce, result=outcome.result, warnings=warnings)


def offline_batch(
    database: Database,
    *,
    settings: Settings,
    actor: Principal,
    shift_id: int,
    data: OfflineBatch,
    now: datetime,
) -> list[ItemResult]:
    """Personal codes a venue device scanned offline at a shift, uploaded later: each judged
    at its own time and answered on its own; a re-upload changes nothing."""
    chunk = partial(_offline_chunk, settings=settings, actor=actor, shift_id=shift_id, now=now)
    return _in_chunks(database, data.items, chunk)


# --- a shift's codes ------------------------------------------------------------------------


def create_code(
    session: Session,
    *,
    settings: Settings,
    actor: Principal,
    shift_id: int,
    data: CodeCreate,
    now: datetime,
) -> ActivityCode:
    """A static or rotating code of a shift its organiser's staff issue, as an activity's
    (:func:`scipass.checkin.issuing.create_code`); its images, poster, mini-program code,
    kiosk screen and revocation are the same routes as an activity code's
    (:mod:`scipass.checkin.issuing`)."""
    shift = volunteer_roles.shift_for_staff(session, actor=actor, shift_id=shift_id)
    if shift.status == ShiftStatus.cancelled or now > shift.ends_at:
        raise CodeKindInvalid("班次已结束或已取消，不能再发码", "The shift is over or cancelled")
    return checkin_issuing.insert_code(
        session, settings=settings, actor=actor, data=data, now=now, shift_id=shift.id
    )


def list_codes(session: Session, *, actor: Principal, shift_id: int) -> list[ActivityCode]:
    shift = volunteer_roles.shift_for_staff(session, actor=actor, shift_id=shift_id)
    return list(
        session.exec(
            select(ActivityCode)
            .where(ActivityCode.shift_id == shift.id)
            .order_by(col(ActivityCode.id))
        ).all()
    )
