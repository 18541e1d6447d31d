"""Self-scans committed together share their round trips to PostgreSQL.

Group commit (:class:`scipass.core.db.GroupCommit`) runs the scans that arrive together in one
transaction. On PostgreSQL each scan used to make two round trips of its own: one read (the
caller's student and the first use of its nonce) and one write (record, history row, visit
and scan event in one statement). Their per-statement costs (the network, starting the
executor, planning) weighed more than the rows. With these hooks a batch makes two in all:

* :meth:`SelfScanBatch.prepare` reads every unit's caller and nonce in one statement;
* the units judge their scans as before, but a new visit is only noted (:func:`defer_entry`);
* :meth:`SelfScanBatch.flush` writes all the noted visits in one statement, and the units'
  results (:class:`scipass.core.db.Later`) are completed with the new ids.

The units of a batch must not depend on each other's writes. When two units concern the same
student or the same nonce, :meth:`SelfScanBatch.prepare` leaves the batch undeferred and each
unit reads and writes on its own, in turn, as before. A scan whose visit existed before the
batch (a pupil scanning again) is answered by the flush with that visit, as a duplicate. When
the statement cannot write a noted visit otherwise (a visit or nonce taken meanwhile by
another transaction), the flush raises :class:`BatchConflict`; group commit then rolls the
batch back and runs each unit alone, which answers the duplicate or the replay. Nothing is
deferred on SQLite (one writer, no round trips) nor outside group commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlmodel import Session, select

from scipass.checkin.models import CheckIn, ScanEvent, ScanResult
from scipass.core.db import insert_ignoring

STATE_KEY = "scipass.checkin.batch"


class BatchConflict(Exception):
    """A deferred visit could not be written as judged: the batch runs again unit by unit."""


@dataclass(slots=True)
class Entry:
    """A new visit noted by a unit: its rows, and the ids the flush gives them."""

    record: dict[str, Any]
    visit: dict[str, Any]
    event: dict[str, Any]
    history: dict[str, Any]
    check_in_id: int | None = None
    record_id: int | None = None
    existing: CheckIn | None = None  # the visit made before the batch, for a duplicate


@dataclass(slots=True)
class BatchState:
    """A batch's shared reads and deferred writes, kept in ``session.info``."""

    callers: dict[tuple[int, str, str], tuple[Any, ...]]
    entries: list[Entry] = field(default_factory=list)


def state_of(session: Session) -> BatchState | None:
    return session.info.get(STATE_KEY)


def prefetched(session: Session, key: tuple[int, str, str]) -> tuple[Any, ...] | None:
    """The caller-and-nonce row :meth:`SelfScanBatch.prepare` read for ``key``, once."""
    state = state_of(session)
    return state.callers.pop(key, None) if state is not None else None


def defer_entry(session: Session, entry: Entry) -> bool:
    """Note a new visit for the batch's flush; False outside a deferring batch."""
    state = state_of(session)
    if state is None:
        return False
    state.entries.append(entry)
    return True


class SelfScanBatch:
    """The :class:`scipass.core.db.BatchHooks` of self-scans (``POST /checkins``)."""

    def prepare(self, session: Session, works: list[Any]) -> None:
        connection = session.connection()
        if connection.dialect.name != "postgresql":
            return
        keys = [work.batch_key for work in works]
        students = [key[0] for key in keys if key[0]]  # 0: no student, never deferred
        if len(set(students)) < len(students) or len({key[1:] for key in keys}) < len(keys):
            return  # two scans of one student or one nonce: each unit on its own
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.execute(
                _CALLERS_AND_NONCES,
                {"keys": to_json([[n, *key] for n, key in enumerate(keys, start=1)])},
            )
            rows = cursor.fetchall()
        finally:
            cursor.close()
        session.info[STATE_KEY] = BatchState(
            callers={keys[row[0] - 1]: tuple(row[1:]) for row in rows}
        )

    def flush(self, session: Session) -> None:
        state: BatchState | None = session.info.pop(STATE_KEY, None)
        if state is None or not state.entries:
            return
        # In student order, so that concurrent batches take the unique keys in one order.
        entries = sorted(state.entries, key=lambda entry: entry.record["student_id"])
        record, visit, event = (
            tuple(entries[0].record),
            tuple(entries[0].visit),
            tuple(entries[0].event),
        )
        rows = to_json(
            [{"r": e.record, "v": e.visit, "s": e.event, "h": e.history} for e in entries]
        )
        cursor = session.connection().connection.driver_connection.cursor()
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
            if check_in_id is None or not ok:  # a visit or a nonce taken meanwhile
                raise BatchConflict(f"entry {n} of {len(entries)} not written")
            entry.check_in_id, entry.record_id = check_in_id, record_id


def _answer_duplicate(session: Session, entry: Entry) -> None:
    """A scan of a student whose visit today existed before the batch: it answers that visit
    (200) with a ``duplicate`` event, as a scan on its own would. A concurrent transaction
    that made the visit has finished by now (the statement's ``ON CONFLICT`` waited for it);
    a record without its visit, or the scan's nonce taken meanwhile, sends the batch back to
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
    table = ScanEvent.__table__  # type: ignore[attr-defined]
    statement = insert_ignoring(session, table, ("operator", "nonce"))
    if session.connection().execute(statement, event).scalar_one_or_none() is None:
        raise BatchConflict("a nonce taken meanwhile")
    entry.existing = visit


SELF_SCANS = SelfScanBatch()

# One row per key ``[n, student id, operator, nonce]`` (``n`` counts from 1), with the same
# columns as the single-caller statement in the service. The keys travel as JSON rather than
# arrays: PostgreSQL sizes an array parameter when it plans, so it would plan every run
# afresh, while a JSON set looks alike in every run and keeps one generic plan. Each key is
# looked up by its unique index (LIMIT 1 keeps the lookups as such: the generic plan would
# otherwise join whole tables).
_CALLERS_AND_NONCES = (
    "SELECT (k.x->>0)::int, s.id, s.school_id, s.stage, s.birth_month, s.wechat_user_id,"
    " e.fingerprint, e.result, e.reason, e.check_in_id,"
    " EXISTS (SELECT 1 FROM idempotency_key i WHERE i.subject = k.x->>2 AND i.key = k.x->>3)"
    " FROM jsonb_array_elements(%(keys)s::jsonb) AS k(x)"
    " LEFT JOIN LATERAL (SELECT id, school_id, stage, birth_month, wechat_user_id"
    " FROM student WHERE id = (k.x->>1)::bigint LIMIT 1) s ON true"
    " LEFT JOIN LATERAL (SELECT fingerprint, result, reason, check_in_id FROM scan_event"
    " WHERE operator = k.x->>2 AND nonce = k.x->>3 LIMIT 1) e ON true"
)


@lru_cache(maxsize=4)
def _many_visits_sql(
    record: tuple[str, ...], visit: tuple[str, ...], event: tuple[str, ...]
) -> str:
    """Records, their history rows, visits and scan events of many new visits in one
    statement (data-modifying CTEs), built once from our own column names. The rows travel
    as one JSON parameter, an array of ``{"r": record, "v": visit, "s": event, "h":
    history}``, each read by ``jsonb_populate_record`` (typed by its table); ``n`` is an
    element's position. It answers ``(n, visit id, record id, event written)`` for each
    record written (visit id NULL: its visit was there already); a record not written (its
    key was there) has no row."""

    def columns(names: tuple[str, ...]) -> str:
        return ",".join(names)

    def picked(names: tuple[str, ...]) -> str:
        return ",".join(f"j.{name}" for name in names)

    # Column names come from the table definitions; every value is a bound parameter.
    return (
        "WITH input AS MATERIALIZED (SELECT e.n, e.x FROM "  # noqa: S608
        "jsonb_array_elements(%(rows)s::jsonb) WITH ORDINALITY AS e(x, n)),"
        f"rec AS (INSERT INTO participation_record ({columns(record)}) "
        f"SELECT {picked(record)} FROM input, "
        "jsonb_populate_record(NULL::participation_record, input.x->'r') j ORDER BY input.n "
        "ON CONFLICT (student_id,source,source_ref) DO NOTHING "
        "RETURNING id,student_id,source_ref),"
        "rec_n AS (SELECT rec.id, input.n, input.x FROM rec, input "
        "WHERE (input.x->'r'->>'student_id')::bigint = rec.student_id "
        "AND input.x->'r'->>'source_ref' = rec.source_ref),"
        "hist AS (INSERT INTO record_event "
        "(record_id,at,action,actor,actor_role,from_status,to_status,note) "
        "SELECT id,(x->'h'->>'at')::timestamptz,'created',x->'h'->>'actor',"
        "x->'h'->>'role',NULL,'pending','' FROM rec_n ORDER BY n),"
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
