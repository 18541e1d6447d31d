"""The places of a capped activity: ``activity.checked_in`` counts its visits while a
capacity is set, and this module is the only one that writes it.

A check-in takes a place with one conditional update (``checked_in < capacity``), before any
of its own inserts, so the database decides under any concurrency and a full activity
refuses newcomers; setting or lowering the capacity later recounts the visits under the
same row lock (:func:`recount`), so the capacity holds against the visits made.
"""

from __future__ import annotations

from sqlalchemy import text, update
from sqlmodel import Session, col, select

from scipass.activity.models import Activity

# One batch of check-ins at a time may hold the rows of capped activities (PostgreSQL), so
# that two batches never wait on each other's activity rows.
_CAPPED_ROWS_LOCK = 6006


def take_place(session: Session, activity_id: int) -> bool:
    """Take a place of a capped activity; False when none is left."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT pg_advisory_xact_lock({_CAPPED_ROWS_LOCK})"))
    result = session.exec(
        update(Activity)
        .where(col(Activity.id) == activity_id, col(Activity.checked_in) < col(Activity.capacity))
        .values(checked_in=col(Activity.checked_in) + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def places_taken(session: Session, activity_id: int) -> int:
    return int(session.exec(select(Activity.checked_in).where(Activity.id == activity_id)).one())


def lock(session: Session, activity_id: int) -> None:
    """Hold the activity's row (the lock check-ins of a capped activity take first)."""
    session.exec(select(Activity.id).where(Activity.id == activity_id).with_for_update())


def recount(session: Session, activity: Activity, visits: int) -> None:
    """Set the counter to the visits made (under :func:`lock`), when a capacity is set."""
    activity.checked_in = visits
