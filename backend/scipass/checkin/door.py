"""Scans at the door: staff scan a pupil's personal code, a teacher checks in the pupils of
a group reservation, a venue device uploads the scans it took offline (each item judged and
answered on its own; a re-upload changes nothing).

Bulk writes in small steps. A class check-in (up to 500 pupils) and an offline upload (up to
1,000 scans) are written :data:`CHUNK` items per transaction (:func:`_in_chunks`), one after
another in the request's thread, so that no request holds the database for long. That matters
on SQLite, which has one writer: between two chunks the write lock goes to the writers that
were waiting for it, in the order they came (:class:`scipass.core.db.WriterQueue`), so the
pupils' own scans waiting meanwhile (group commit's writer, :mod:`scipass.core.group_commit`)
are written before the next chunk instead of after the whole request. Each chunk reads the
activity (or the reservation) and the caller's right to it again, so it stands on its own.
PostgreSQL takes the same path. There a pupil's scan of an open activity never waited for
the request (row locks; the request has a connection of its own), but a place of a capped
activity is taken under a lock held to the end of the transaction (activity/places.py), so
one long transaction would hold every capped activity's scans until it ends. Chunks bound
that wait too, and keep one code path and one failure behaviour on both engines; they cost
PostgreSQL a commit per chunk (bench/README.md has the figures).

What a caller can count on (at least once, idempotent per item):

* Each item is judged and written in its own savepoint and keeps its scan event, whichever
  chunk it falls in; the answer lists every item's result in the order sent. A pupil scanned
  twice in one upload is ``duplicate`` the second time, in the same chunk or a later one.
* An item is known by its key: an offline scan by the device's nonce, a pupil of a class
  check-in by the submission's nonce and the pupil (``UNIQUE(operator, nonce)`` on the scan
  event). Sent again, an item already written answers what its scan event holds (its result,
  refusal code and visit) and writes nothing, so a re-upload of a whole batch changes nothing.
* A request that fails half-way (the server killed, a database error) keeps the chunks
  committed before the failure and answers an error. The device sends the same batch again:
  the committed items answer from their scan events, the rest are written, and the answer is
  what one attempt would have given.
* Two exceptions, both of replays: the ``warnings`` of a forced offline scan are not stored,
  so a replayed forced scan answers none; and a nonce sent with two different codes is
  refused (``replayed_nonce``) every time the second one is sent, each refusal kept as a
  scan event.
* A refusal of the whole request (404 for an activity or reservation that is not the
  caller's, 409 for a reservation without an activity) comes from the first chunk, before
  anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from sqlmodel import Session

from scipass.activity import access as activity_access
from scipass.activity.models import Activity
from scipass.checkin import codes
from scipass.checkin.cards import judge_card
from scipass.checkin.errors import (
    REFUSAL_BY_CODE,
    CodeExpired,
    CodeInvalid,
    NotRegistered,
    NotStarted,
    ReplayedNonce,
    ScanRefused,
    ScanTimeInvalid,
    WindowClosed,
)
from scipass.checkin.models import (
    Direction,
    ScanResult,
    ScanSource,
)
from scipass.checkin.rules import (
    FUTURE_TOLERANCE,
    judge_capacity,
    judge_student,
    judge_window,
)
from scipass.checkin.schemas import (
    GroupCheckIn,
    ItemResult,
    OfflineBatch,
    OfflineScan,
    StaffScan,
)
from scipass.checkin.views import (
    ActivityView,
    Pupil,
    Scan,
    fingerprint,
    read_pupil,
)
from scipass.checkin.visits import Outcome, apply_scan, earlier_event, replay
from scipass.core import metrics
from scipass.core.auth import Principal
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.db import Database, after_commit
from scipass.core.errors import Conflict
from scipass.reservation import lists as reservation_lists

MAX_OFFLINE_AGE = timedelta(days=7)
# Items of an offline upload or a class check-in written per transaction. Measured on SQLite
# (bench/README.md, "Bulk writes while scanning"): a chunk of 10 holds the writer 12-19 ms; 40
# kept self-scans waiting past the 100 ms target, 5 made an upload of 200 about 1.5 times
# slower.
CHUNK = 10

T = TypeVar("T")


def organised_activity(session: Session, *, actor: Principal, activity_id: int) -> Activity:
    """An activity the caller's organisation runs (venue staff, or school staff for a school
    activity); 404 otherwise."""
    return activity_access.managed_activity(session, actor=actor, activity_id=activity_id)


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
    earlier = earlier_event(session, scan)

    def judge() -> tuple[ActivityView, Pupil]:
        personal = _personal(settings, data.code)
        student = read_pupil(session, personal.student_id)
        if student is not None:
            scan.student_id, scan.school_id = student.id, student.school_id
        if personal.expires_at < now:
            raise CodeExpired("个人码已过期，请学生刷新后再扫", "The personal code has expired")
        judge_card(session, personal, now)
        judge_window(activity, data.direction, now)
        today = local_date(now)
        judge_student(session, activity, student, today=today, day=today)
        assert student is not None
        if data.direction is Direction.entry:
            judge_capacity(activity, session, student, today)
        if earlier is not None:
            raise ReplayedNonce()
        return activity, student

    # Counted once the request commits (a refusal's event commits with it): a scan sent
    # again with the same nonce counts again, as its first answer (``duplicate``, or its
    # first refusal).
    try:
        if earlier is not None and earlier.fingerprint == scan.fingerprint:
            outcome = replay(session, earlier)
        else:
            if earlier is not None:
                scan.nonce = None
            outcome = apply_scan(session, scan, judge, actor)
    except ScanRefused as refusal:  # stored with its event; committed with the request
        _count_after_commit(session, ScanResult.refused, refusal.code)
        raise
    _count_after_commit(session, outcome.result)
    return outcome


def _count_after_commit(session: Session, result: ScanResult, code: str = "") -> None:
    after_commit(session, partial(metrics.checkin_result, ScanSource.staff_scan, result, code))


def group_checkin(
    database: Database,
    *,
    actor: Principal,
    reservation_id: int,
    data: GroupCheckIn,
    now: datetime,
) -> list[ItemResult]:
    """A teacher checks in the pupils of a group reservation who are present. Each pupil gets
    their own result; a pupil who is not in the group is refused (``not_registered``).
    Written :data:`CHUNK` pupils a transaction (see the module's docstring)."""
    student_ids = list(dict.fromkeys(data.student_ids))
    chunk = partial(_group_chunk, actor=actor, reservation_id=reservation_id, data=data, now=now)
    return _in_chunks(database, student_ids, chunk, ScanSource.group)


def _group_chunk(
    session: Session,
    student_ids: Sequence[int],
    *,
    actor: Principal,
    reservation_id: int,
    data: GroupCheckIn,
    now: datetime,
) -> list[ItemResult]:
    """Some pupils of a group check-in, in one transaction. The reservation, the caller's
    right to it and the activity are read again by each chunk."""
    _reservation, slot, members = reservation_lists.group_for_checkin(
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
    for student_id in student_ids:
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
            student = read_pupil(session, student_id)
            if student is not None and student.school_id == actor.school_id:
                scan.student_id, scan.school_id = student.id, student.school_id
            judge_window(activity, scan.direction, now)
            if student is None or student_id not in members:
                raise NotRegistered(
                    "该学生不在这个团体预约中", "This student is not in the group reservation"
                )
            today = local_date(now)
            judge_student(session, activity, student, today=today, day=today)
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
    earlier = earlier_event(session, scan)
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
            outcome = apply_scan(session, scan, judge, actor, skip_capacity=skip_capacity)
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
    student = read_pupil(session, personal.student_id)
    if student is not None:
        scan.student_id, scan.school_id = student.id, student.school_id
    if personal.expires_at < item.scan_time:
        raise CodeExpired("扫码时个人码已过期", "The personal code had expired")
    judge_card(session, personal, item.scan_time)
    try:
        judge_window(activity, item.direction, item.scan_time)
    except (NotStarted, WindowClosed) as refusal:
        if not item.force:
            raise
        warnings.append(refusal.code)
    try:
        judge_student(
            session, activity, student, today=local_date(now), day=local_date(item.scan_time)
        )
    except NotRegistered as refusal:
        if not item.force:
            raise
        warnings.append(refusal.code)
    assert student is not None
    if item.direction is Direction.entry and not item.force:
        judge_capacity(activity, session, student, local_date(item.scan_time))
    return activity, student


def offline_batch(
    database: Database,
    *,
    settings: Settings,
    actor: Principal,
    activity_id: int,
    data: OfflineBatch,
    now: datetime,
) -> list[ItemResult]:
    """Scans a venue device took offline, uploaded later. Signatures and identities are always
    checked; the time window, capacity and registration are judged at the scan's own time,
    and ``force`` records a scan that happened even where those rules say no. Written
    :data:`CHUNK` scans a transaction (see the module's docstring)."""
    chunk = partial(
        _offline_chunk, settings=settings, actor=actor, activity_id=activity_id, now=now
    )
    return _in_chunks(database, data.items, chunk, ScanSource.offline)


def _offline_chunk(
    session: Session,
    items: Sequence[OfflineScan],
    *,
    settings: Settings,
    actor: Principal,
    activity_id: int,
    now: datetime,
) -> list[ItemResult]:
    """Some scans of an offline upload, in one transaction. The activity and the caller's
    right to it are read again by each chunk."""
    activity = ActivityView.of(
        session, organised_activity(session, actor=actor, activity_id=activity_id)
    )
    results: list[ItemResult] = []
    for item in items:
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


def _in_chunks(
    database: Database,
    items: Sequence[T],
    chunk: Callable[[Session, Sequence[T]], list[ItemResult]],
    source: ScanSource | None = None,
) -> list[ItemResult]:
    """``chunk`` over ``items``, :data:`CHUNK` at a time, each in a transaction of its own,
    one after another; the results in the order of ``items``, each counted as a check-in of
    ``source`` once its chunk has committed (a volunteer shift's scans are not check-ins)."""
    results: list[ItemResult] = []
    for start in range(0, len(items), CHUNK):
        with database.unit_of_work() as session:
            done = chunk(session, items[start : start + CHUNK])
        if source is not None:
            for item in done:
                metrics.checkin_result(source, item.result, item.code or "")
        results.extend(done)
    return results
