"""Fixed-window counters kept in the database, so every worker and process shares them.

One row per key; an upsert bumps the counter or starts a new window, decided inside the
database (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``), never by read-then-write.
A key may name a client address or a login name, so counters whose window ended long ago are
deleted (:func:`purge`, run by the ``purge-telemetry`` job): a deleted counter and an expired
one count the same, the next hit starts a new window either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import Column, Integer, String, TextClause, bindparam, delete, select, text
from sqlmodel import Field, Session, SQLModel, col

from scipass.core.db import Database, UTCDateTime
from scipass.privacy.categories import DataCategory, personal


class RateLimitCounter(SQLModel, table=True):
    __tablename__ = "rate_limit_counter"

    key: str = Field(
        sa_column=Column(String(160), primary_key=True, info=personal(DataCategory.network_address))
    )
    window_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    count: int = Field(sa_column=Column(Integer, nullable=False))


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    length: timedelta


def window_start(now: datetime, window: Window) -> datetime:
    seconds = int(window.length.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


def retry_after(now: datetime, window: Window) -> int:
    return max(1, int((window_start(now, window) + window.length - now).total_seconds()))


def hit(session: Session, key: str, window: Window, *, now: datetime) -> int:
    """Count one event under ``key`` and return the count in the current window."""
    statement = _hit_statement(session.get_bind().dialect.name)
    return int(
        session.execute(statement, {"key": key, "start": window_start(now, window)}).scalar_one()
    )


@lru_cache(maxsize=2)
def _hit_statement(dialect: str) -> TextClause:
    """The upsert of :func:`hit`, built once: it runs on every scan, where building it as an
    expression each time cost eight times its execution on SQLite (0.23 ms against 0.03)."""
    greatest = "GREATEST" if dialect == "postgresql" else "MAX"
    return text(
        "INSERT INTO rate_limit_counter AS c (key, window_start, count) VALUES (:key, :start, 1)"  # noqa: S608 - our own fragments, no input
        f" {_counted(greatest)} RETURNING count"
    ).bindparams(bindparam("start", type_=UTCDateTime()))


def hit_now(database: Database, key: str, window: Window, *, now: datetime) -> int:
    """:func:`hit` in a short transaction of its own, committed at once: for counting before
    slow work (a password hash, a call to WeChat) that must not run inside a transaction."""
    with database.transaction() as session:
        return hit(session, key, window, now=now)


def current(session: Session, key: str, window: Window, *, now: datetime) -> int:
    """The count under ``key`` in the current window, without counting."""
    row = session.execute(
        select(col(RateLimitCounter.count), col(RateLimitCounter.window_start)).where(
            col(RateLimitCounter.key) == key
        )
    ).first()
    if row is None:
        return 0
    count, started = row
    if started < window_start(now, window):
        return 0
    return int(count)


def pg_hit_many(rows: str) -> str:
    """:func:`hit` for many keys at once, as the body of a PostgreSQL data-modifying CTE:
    ``rows`` is a query of ``(key, window_start, n)`` with each key once (``n`` events
    counted under it); the CTE answers ``(key, count)``, the count in the current window with
    the ``n`` included. Keys are written in their order, so that concurrent statements lock
    the counters in one order."""
    return (
        "INSERT INTO rate_limit_counter AS c (key, window_start, count) "  # noqa: S608
        f"SELECT r.key, r.window_start, r.n FROM ({rows}) AS r ORDER BY r.key "
        f"{_counted('GREATEST')} RETURNING c.key, c.count"
    )


def _counted(greatest: str) -> str:
    """What an insert into the counters does when the key is there: a later window starts
    again from the events inserted, the same window adds them (``greatest``: the dialect's
    name for it)."""
    return (
        "ON CONFLICT (key) DO UPDATE SET count = CASE WHEN excluded.window_start >"
        " c.window_start THEN excluded.count ELSE c.count + excluded.count END,"
        f" window_start = {greatest}(c.window_start, excluded.window_start)"
    )


def purge(session: Session, *, before: datetime) -> int:
    """Delete the counters whose window started before ``before`` (keep ``before`` earlier
    than now minus the longest window); how many."""
    result = session.exec(
        delete(RateLimitCounter).where(col(RateLimitCounter.window_start) < before)
    )
    return int(result.rowcount or 0)
