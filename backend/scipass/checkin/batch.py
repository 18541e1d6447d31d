"""The PostgreSQL write path of self-scans: a batch of them in two statements.

On PostgreSQL each statement has a cost of its own (the network round trip, starting the
executor, planning) that weighs more than the rows. Self-scans run through group commit
(:mod:`scipass.core.group_commit`) as units of :data:`SELF_SCANS`, which make a batch of them
(one scan alone is a batch of one) cost two statements in all:

* :meth:`SelfScanBatch.prepare` reads every unit's caller and the first use of its key in one
  statement (:class:`ScanBatch` holds the answers; each unit takes its own);
* each unit judges its scan as ever, but a new visit of an uncapped activity is only noted
  (:meth:`ScanBatch.defer`, in :func:`scipass.checkin.visits.enter`);
* :meth:`SelfScanBatch.flush` writes every noted visit in one statement: the records and
  their first history rows (the record package's part, :func:`scipass.record.append.
  pg_append_many`, from the same rules as a record appended alone), the visits and the scan
  events; :meth:`SelfScanBatch.settle` gives each unit's answer the ids written.

The units of a batch must not depend on each other's writes: when two of them concern one
student or one key, :meth:`SelfScanBatch.prepare` shares nothing, and each unit reads and
writes on its own (the portable path). A scan whose visit existed before the batch (a pupil
scanning again) is answered by the flush with that visit, as a duplicate. When the statement
cannot write a noted visit otherwise (a visit or a key taken meanwhile by another
transaction), the flush raises :class:`scipass.core.group_commit.BatchConflict`; group commit
then runs each unit alone, and the portable path answers the duplicate or the conflict.
Nothing is shared on SQLite, which has one writer and no round trips to save.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_
from sqlmodel import Session, select

from scipass.checkin import views
from scipass.checkin.models import CheckIn, ScanEvent, ScanResult
from scipass.consent import notices
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.consent.notices import NoticeVersion
from scipass.core import ratelimit
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.db import insert_ignoring
from scipass.core.group_commit import BatchConflict
from scipass.record import append as record_append

if TYPE_CHECKING:
    from scipass.checkin.self_scan import SelfScanWork
    from scipass.checkin.visits import Outcome


def scan_window(settings: Settings) -> ratelimit.Window:
    """A pupil's scans are counted per minute, in the database (core/ratelimit.py), so the
    limit holds across every process and host."""
    return ratelimit.Window(limit=settings.scan_rate_per_minute, length=timedelta(minutes=1))


# What prepare reads for a scan: the student scanned for (0: none), the operator, the key,
# and a guardian's WeChat user (None: not a guardian), whose live link to the student it reads.
CallerKey = tuple[int, str, str, int | None]


@dataclass(slots=True)
class Entry:
    """A new visit noted by a unit: its rows, and the ids the flush gives them."""

    record: dict[str, Any]  # record_append.record_values
    events: list[dict[str, Any]]  # record_append.event_rows
    visit: dict[str, Any]
    event: dict[str, Any]  # its scan event, without the visit's id
    check_in_id: int | None = None
    record_id: int | None = None
    existing: CheckIn | None = None  # the visit made before the batch, for a duplicate


@dataclass(slots=True)
class ScanBatch:
    """What the self-scans of one batch share: the rows prepare read, the visits noted."""

    callers: dict[CallerKey, tuple[Any, ...]]
    entries: list[Entry] = field(default_factory=list)
    # Each scan's count against its rate key this minute, this one included (counted by
    # prepare's statement).
    attempts: dict[CallerKey, int] = field(default_factory=dict)

    def caller(self, key: CallerKey) -> tuple[Any, ...] | None:
        """The caller-and-key row read for ``key`` (once)."""
        return self.callers.pop(key, None)

    def attempt(self, key: CallerKey) -> int | None:
        """The scan's count against its rate, as prepare counted it (once); None: not
        counted with the batch."""
        return self.attempts.pop(key, None)

    def defer(self, entry: Entry) -> None:
        """Note a new visit for the flush."""
        self.entries.append(entry)


class SelfScanBatch:
    """The :class:`scipass.core.group_commit.BatchKind` of self-scans (``POST /checkins``)."""

    def prepare(self, session: Session, works: Sequence[SelfScanWork]) -> ScanBatch | None:
        connection = session.connection()
        if connection.dialect.name != "postgresql":
            return None
        keys = [work.caller_key for work in works]
        rate_keys = [work.rate_key for work in works]
        students = [key[0] for key in keys if key[0]]  # 0: no student, never deferred
        if len(set(students)) < len(students) or len({key[1:3] for key in keys}) < len(keys):
            return None  # two scans of one student or one key: each unit on its own
        driver = connection.connection.driver_connection
        assert driver is not None  # None only once the connection is closed
        cursor = driver.cursor()
        try:
            cursor.execute(
                _callers_and_keys(notices.NOTICES),
                {
                    "keys": to_json(
                        [[n, *key, rate_keys[n - 1]] for n, key in enumerate(keys, start=1)]
                    ),
                    # The scans of a batch arrived together: the first one's day and minute
                    # are theirs.
                    "today": local_date(works[0].now),
                    "window": ratelimit.window_start(works[0].now, scan_window(works[0].settings)),
                },
            )
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return ScanBatch(
            callers={keys[row[0] - 1]: tuple(row[1:-1]) for row in rows},
            attempts=_attempts(keys, rate_keys, {row[0]: row[-1] for row in rows}),
        )

    def flush(self, session: Session, shared: ScanBatch) -> None:
        if not shared.entries:
            return
        # In student order, so that concurrent batches take the unique keys in one order.
        entries = sorted(shared.entries, key=lambda entry: entry.record["student_id"])
        record, visit, event = (
            tuple(entries[0].record),
            tuple(entries[0].visit),
            tuple(entries[0].event),
        )
        rows = to_json(
            [{"r": e.record, "h": e.events, "v": e.visit, "s": e.event} for e in entries]
        )
        driver = session.connection().connection.driver_connection
        assert driver is not None  # None only once the connection is closed
        cursor = driver.cursor()
        try:
            cursor.execute(_many_visits_sql(record, visit, event), {"rows": rows})
            written = cursor.fetchall()
        finally:
            cursor.close()
        outcomes = {n: (check_in_id, record_id, ok) for n, check_in_id, record_id, ok in written}
        for n, entry in enumerate(entries, start=1):
            outcome = outcomes.get(n)
            if outcome is None:  # its record was there already: a visit made before
                _answer_duplicate(session, entry)
                continue
            check_in_id, record_id, ok = outcome
            if check_in_id is None or not ok:  # a visit or a key taken meanwhile
                raise BatchConflict(f"entry {n} of {len(entries)} not written")
            entry.check_in_id, entry.record_id = check_in_id, record_id
        located = [e for e in entries if e.event.get("latitude") is not None]
        if located:  # one statement for the batch, only when a scan sent its location
            views.keep_location_only_with_consent(
                session,
                and_(
                    views.EVENTS.c.student_id.in_([e.event["student_id"] for e in located]),
                    views.EVENTS.c.server_time >= min(e.event["server_time"] for e in located),
                ),
                local_date(located[0].event["server_time"]),
            )

    def settle(self, result: tuple[Outcome, str], shared: ScanBatch) -> tuple[Outcome, str]:
        outcome, title = result
        return outcome.settled(), title


def _attempts(
    keys: list[CallerKey], rate_keys: list[str], counts: dict[int, int | None]
) -> dict[CallerKey, int]:
    """Each scan's count, this one included, from the count its rate key reached (several
    scans of one key, a caller without a pupil, take the numbers up to it in their order); a
    scan not counted (a guardian's for a child not linked to them, or who scans for
    themselves) has none."""
    left = Counter(rate_keys[n - 1] for n, count in counts.items() if count is not None)
    attempts: dict[CallerKey, int] = {}
    for n in sorted(counts):
        count = counts[n]
        if count is None:
            continue
        rate_key = rate_keys[n - 1]
        left[rate_key] -= 1
        attempts[keys[n - 1]] = count - left[rate_key]
    return attempts


def _answer_duplicate(session: Session, entry: Entry) -> None:
    """A scan of a student whose visit today existed before the batch: it answers that visit
    (200) with a ``duplicate`` event, as a scan on its own would. A concurrent transaction
    that made the visit has finished by now (the statement's ``ON CONFLICT`` waited for it);
    a record without its visit, or the scan's key taken meanwhile, sends the batch back to
    run scan by scan."""
    visit = session.exec(
        select(CheckIn).where(
            CheckIn.activity_id == entry.visit["activity_id"],
            CheckIn.student_id == entry.visit["student_id"],
            CheckIn.day == entry.visit["day"],
        )
    ).first()
    if visit is None:
        raise BatchConflict("a record without its visit")
    event = {**entry.event, "check_in_id": visit.id, "result": ScanResult.duplicate.value}
    table = ScanEvent.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__
    statement = insert_ignoring(session, table, ("operator", "nonce"))
    if session.connection().execute(statement, event).scalar_one_or_none() is None:
        raise BatchConflict("a key taken meanwhile")
    entry.existing = visit


SELF_SCANS = SelfScanBatch()

# One row per key ``[n, student id, operator, key, guardian, rate key]`` (``n`` from 1): the
# student, the scan event the key was first used for, whether another kind of request took
# the key (core/idempotency.py), and whether a live link joins the guardian (a WeChat user
# id, or null for a scan that is not a guardian's) to the student (roster/acting.py), and
# whether the student's participation-record consent is in force (the consent package's
# rule as SQL, consent/service.py, built from our own values). The keys travel as JSON rather
# than arrays: PostgreSQL sizes an array parameter when it plans, so it would plan every run
# afresh, while a JSON set looks alike in every run and keeps one generic plan. Each key is
# looked up by its unique index (LIMIT 1 keeps the lookups as such: the generic plan would
# otherwise join whole tables). The same statement counts the scans against their rate.
_LINKED = (
    "EXISTS (SELECT 1 FROM guardian_link g WHERE g.guardian_id = (k.x->>4)::bigint"
    " AND g.student_id = (k.x->>1)::bigint AND g.revoked_at IS NULL)"
)
_CALLERS_AND_KEYS = (
    "WITH k AS MATERIALIZED (SELECT e.x FROM jsonb_array_elements(%(keys)s::jsonb) AS e(x)),"
    " hits AS ({hits})"
    " SELECT (k.x->>0)::int, s.id, s.school_id, s.stage, s.birth_month, s.wechat_user_id,"
    " e.fingerprint, e.result, e.reason, e.check_in_id,"
    " EXISTS (SELECT 1 FROM idempotency_key i WHERE i.subject = k.x->>2 AND i.key = k.x->>3),"
    " {linked},"
    " {consented}, h.count"
    " FROM k"
    " LEFT JOIN LATERAL (SELECT id, school_id, stage, birth_month, wechat_user_id"
    " FROM student WHERE id = (k.x->>1)::bigint LIMIT 1) s ON true"
    " LEFT JOIN LATERAL (SELECT fingerprint, result, reason, check_in_id FROM scan_event"
    " WHERE operator = k.x->>2 AND nonce = k.x->>3 LIMIT 1) e ON true"
    " LEFT JOIN hits h ON h.key = k.x->>5"
)
# The scans' counts against their rate (core/ratelimit.py), in the same statement: each rate
# key once with its scans of the batch; a guardian's scan only for a child linked to them
# whom the guardian may act for (a stranger naming a pupil, or a guardian naming a pupil who
# scans for themselves, does not use up the pupil's rate: refused before it is counted, as a
# scan alone is). May act: roster.acting.guardian_may_act, the pupil without a binding of
# their own or under 14 (consent.service.under_clause: born in or after the month 14 years
# before this one).
_MAY_ACT = (
    "EXISTS (SELECT 1 FROM student m WHERE m.id = (k.x->>1)::bigint"  # noqa: S608 - our constant
    " AND (m.wechat_user_id IS NULL OR m.birth_month >= make_date("
    f"extract(year FROM %(today)s::date)::int - {consent_service.CHILD_AGE},"
    " extract(month FROM %(today)s::date)::int, 1)))"
)
_HITS = ratelimit.pg_hit_many(
    "SELECT k.x->>5 AS key, %(window)s::timestamptz AS window_start, count(*)::int AS n"
    " FROM k WHERE k.x->>4 IS NULL OR ({linked} AND {may_act}) GROUP BY k.x->>5"
)


@lru_cache(maxsize=2)
def _callers_and_keys(table: tuple[NoticeVersion, ...]) -> str:
    """:data:`_CALLERS_AND_KEYS` with the consent rule written out for the notice table
    (``table``, the cache's key) and the day of the scans (``%(today)s``)."""
    consented = consent_service.pg_in_force(
        "(k.x->>1)::bigint", Purpose.participation_record, "%(today)s::date", table
    )
    return (
        _CALLERS_AND_KEYS.replace("{hits}", _HITS)
        .replace("{may_act}", _MAY_ACT)
        .replace("{linked}", _LINKED)
        .replace("{consented}", consented)
    )


@lru_cache(maxsize=4)
def _many_visits_sql(
    record: tuple[str, ...], visit: tuple[str, ...], event: tuple[str, ...]
) -> str:
    """The records with their history rows (the record package's fragment), the visits and
    the scan events of many new visits, in one statement of data-modifying CTEs built once
    from our own column names. The rows travel as one JSON parameter, an array of ``{"r":
    record, "h": history rows, "v": visit, "s": event}``, each read by
    ``jsonb_populate_record`` (typed by its table); ``n`` is an element's position. It answers
    ``(n, visit id, record id, event written)`` for each record written (visit id NULL: its
    visit was there already); a record not written (its key was there) has no row."""

    def columns(names: tuple[str, ...]) -> str:
        return ",".join(names)

    def picked(names: tuple[str, ...]) -> str:
        return ",".join(f"j.{name}" for name in names)

    # Column names come from the table definitions; every value is a bound parameter.
    records = record_append.pg_append_many(record, "input")
    return (
        "WITH input AS MATERIALIZED (SELECT e.n, e.x FROM "  # noqa: S608
        "jsonb_array_elements(%(rows)s::jsonb) WITH ORDINALITY AS e(x, n)),"
        f"{records},"
        f"visit AS (INSERT INTO check_in ({columns(visit)},record_id) "
        f"SELECT {picked(visit)},rec_n.id FROM rec_n, "
        "jsonb_populate_record(NULL::check_in, rec_n.x->'v') j ORDER BY rec_n.n "
        "ON CONFLICT (activity_id,student_id,day) DO NOTHING RETURNING id,record_id),"
        "visit_n AS (SELECT visit.id, visit.record_id, rec_n.n, rec_n.x FROM visit, rec_n "
        "WHERE rec_n.id = visit.record_id),"
        f"scan AS (INSERT INTO scan_event ({columns(event)},check_in_id) "
        f"SELECT {picked(event)},visit_n.id FROM visit_n, "
        "jsonb_populate_record(NULL::scan_event, visit_n.x->'s') j ORDER BY visit_n.n "
        "ON CONFLICT (operator,nonce) DO NOTHING RETURNING check_in_id) "
        "SELECT rec_n.n, visit_n.id, visit_n.record_id, "
        "EXISTS (SELECT 1 FROM scan WHERE scan.check_in_id = visit_n.id) "
        "FROM rec_n LEFT JOIN visit_n ON visit_n.n = rec_n.n"
    )


def to_json(value: Any) -> str:
    """Rows as a JSON parameter (dates and instants in ISO 8601)."""
    return json.dumps(value, default=_iso, ensure_ascii=False)


def _iso(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)
