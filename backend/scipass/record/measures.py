"""What the policy engine (:mod:`scipass.policy.engine`) reads of the records: which
activities a school's pupils took part in, and how many of its pupils, counting only records
that stand (not rejected, withdrawn or voided). The record package owns its tables; other
packages read them through statements built here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlmodel import col

from scipass.activity.models import Activity
from scipass.record.models import ParticipationRecord, RecordStatus

NOT_COUNTING = (
    RecordStatus.rejected.value,
    RecordStatus.withdrawn.value,
    RecordStatus.voided.value,
)


def school_activity_pupils(
    school_ids: Sequence[int], since: datetime
) -> Select[int, int | None, int]:
    """(school id, activity id, pupils) for every activity in which pupils of the school have
    a record that counts, started at ``since`` or later (an index-only scan of
    ``ix_participation_record_school_activity``)."""
    return (
        select(
            col(ParticipationRecord.school_id),
            col(ParticipationRecord.activity_id),
            func.count(col(ParticipationRecord.student_id).distinct()),
        )
        .where(
            col(ParticipationRecord.school_id).in_(school_ids),
            col(ParticipationRecord.activity_id).is_not(None),
            col(ParticipationRecord.status).not_in(NOT_COUNTING),
            col(ParticipationRecord.started_at) >= since,
        )
        .group_by(col(ParticipationRecord.school_id), col(ParticipationRecord.activity_id))
    )


def pupils_per_school(
    school_ids: Sequence[int], conditions: Sequence[ColumnElement[bool]]
) -> Select[int, int]:
    """(school id, pupils) with a counting record of an activity meeting ``conditions``."""
    return (
        select(
            col(ParticipationRecord.school_id),
            func.count(col(ParticipationRecord.student_id).distinct()),
        )
        .join(Activity, col(Activity.id) == ParticipationRecord.activity_id)
        .where(
            col(ParticipationRecord.school_id).in_(school_ids),
            col(ParticipationRecord.status).not_in(NOT_COUNTING),
            *conditions,
        )
        .group_by(col(ParticipationRecord.school_id))
    )
