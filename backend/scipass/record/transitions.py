"""How a record moves: every step is one conditional update on its status and one history
row (``record_event``) with who, when and why. The record package's other modules move
records only through :func:`move` (or :func:`move_all`, many at once by the system), and write
history only through :func:`add_event`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, insert, update
from sqlmodel import Session, col

from scipass.core.auth import Principal
from scipass.record.errors import (
    ReasonRequired,
    RecordStateInvalid,
)
from scipass.record.models import (
    ParticipationRecord,
    RecordEvent,
    RecordStatus,
)

SYSTEM = "system"


_INSERT_EVENT = insert(RecordEvent.__table__)  # type: ignore[attr-defined]  # SQLModel declares no __table__; built once


def add_event(
    session: Session,
    record_id: int,
    actor: Principal | None,
    action: str,
    from_status: RecordStatus | str | None,
    to_status: RecordStatus | str,
    now: datetime,
    note: str = "",
) -> None:
    session.connection().execute(
        _INSERT_EVENT,
        {
            "record_id": record_id,
            "at": now,
            "action": action,
            "actor": actor.subject if actor else SYSTEM,
            "actor_role": actor.role.value if actor else SYSTEM,
            "from_status": None if from_status is None else str(from_status),
            "to_status": str(to_status),
            "note": note[:200],
        },
    )


def move(
    session: Session,
    record: ParticipationRecord,
    *,
    to: RecordStatus,
    allowed: Sequence[RecordStatus],
    actor: Principal | None,
    action: str,
    now: datetime,
    note: str = "",
    extra: Sequence[ColumnElement[bool]] = (),
    **values: Any,
) -> ParticipationRecord:
    """Move ``record`` to ``to`` if (in the database, now) it is still in ``allowed``."""
    table = ParticipationRecord
    result = session.exec(
        update(table)
        .where(
            col(table.id) == record.id,
            col(table.status).in_([s.value for s in allowed]),
            *extra,
        )
        .values(status=to.value, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.refresh(record)
        raise RecordStateInvalid(
            current=record.status, allowed=[s.value for s in allowed], record_id=record.id
        )
    from_status = record.status
    add_event(session, record.id or 0, actor, action, from_status, to, now, note)
    session.flush()
    session.refresh(record)
    return record


def move_all(
    session: Session,
    *,
    which: ColumnElement[bool],
    allowed: Sequence[RecordStatus],
    to: RecordStatus,
    action: str,
    now: datetime,
    note: str = "",
    **values: Any,
) -> list[int]:
    """Move every record ``which`` selects that is (in the database, now) in ``allowed`` to
    ``to``, by the system, each with its history row; the ids it moved. One conditional update
    per status it leaves, so each history row names the status the record was in."""
    table = ParticipationRecord
    moved: list[int] = []
    for status in allowed:
        ids = [
            int(record_id)
            for (record_id,) in session.exec(
                update(table)
                .where(which, col(table.status) == status.value)
                .values(status=to.value, updated_at=now, **values)
                .returning(col(table.id))
                .execution_options(synchronize_session=False)
            ).all()
        ]
        for record_id in ids:
            add_event(session, record_id, None, action, status, to, now, note)
        moved += ids
    return moved


def reason_given(reason: str | None, limit: int = 200) -> str:
    text = (reason or "").strip()
    if not text:
        raise ReasonRequired()
    return text[:limit]
