"""The notification outbox: events a pupil (and their guardians) are to be told about, written
in the same transaction as the change that caused them.

Nothing sends them yet. The WeChat subscribe-message sender (DOMAIN-NOTES §2.5), when it is
built, reads the unsent rows in id order (``sent_at IS NULL``, a partial index), sends each
to the pupil's and the linked guardians' openids that subscribed, and sets ``sent_at``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from scipass.volunteer.models import NotificationKind, NotificationOutbox, VolunteerShift


def add(
    session: Session,
    *,
    kind: NotificationKind,
    student_id: int,
    now: datetime,
    payload: dict[str, Any],
) -> None:
    session.add(
        NotificationOutbox(kind=kind.value, student_id=student_id, payload=payload, created_at=now)
    )


def shift_payload(shift: VolunteerShift, **extra: Any) -> dict[str, Any]:
    """What a reminder shows: the shift, its time and place (JSON: times as ISO text)."""
    return {
        "shift_id": shift.id,
        "role_id": shift.role_id,
        "starts_at": shift.starts_at.isoformat(),
        "ends_at": shift.ends_at.isoformat(),
        "place": shift.place,
        **extra,
    }
