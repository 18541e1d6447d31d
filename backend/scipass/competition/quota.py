"""Quotas of a round: how many entries a school may recommend to it (and, for results, how
many a region may send up to the next round).

A place is taken by one conditional update, ``used = used + 1 WHERE used < limit``, on a
counter row made on first use (``INSERT … ON CONFLICT DO NOTHING``): on PostgreSQL concurrent
takers queue on the row and each sees the committed count; on SQLite the writer's lock orders
them. Never a count followed by an insert. A place is given back once, by the entry round that
holds it (``holds_quota`` switched off by a conditional update first).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from scipass.competition.errors import SchoolQuotaReached
from scipass.competition.models import Quota, QuotaScope, RoundEntry
from scipass.core.db import insert_ignoring

_QUOTA = Quota.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__


def take(session: Session, *, round_id: int, scope: QuotaScope, key: str, limit: int) -> None:
    """Take one place of the quota or raise :class:`SchoolQuotaReached`."""
    session.connection().execute(
        insert_ignoring(session, _QUOTA, ("round_id", "scope", "scope_key")),
        {"round_id": round_id, "scope": scope.value, "scope_key": key, "used": 0},
    )
    taken = session.exec(
        update(Quota)
        .where(
            col(Quota.round_id) == round_id,
            col(Quota.scope) == scope.value,
            col(Quota.scope_key) == key,
            col(Quota.used) < limit,
        )
        .values(used=col(Quota.used) + 1)
    )
    if taken.rowcount != 1:
        raise SchoolQuotaReached(limit=limit)


def give_back(session: Session, *, round_entry_id: int, round_id: int, school_id: int) -> None:
    """Give back the school's place an entry round holds (nothing when it holds none)."""
    released = session.exec(
        update(RoundEntry)
        .where(col(RoundEntry.id) == round_entry_id, col(RoundEntry.holds_quota).is_(True))
        .values(holds_quota=False)
    )
    if released.rowcount == 1:
        session.exec(
            update(Quota)
            .where(
                col(Quota.round_id) == round_id,
                col(Quota.scope) == QuotaScope.school.value,
                col(Quota.scope_key) == str(school_id),
                col(Quota.used) > 0,
            )
            .values(used=col(Quota.used) - 1)
        )
