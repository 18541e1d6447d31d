"""A pupil's records for the pupil's copy of their data (:mod:`scipass.datacopy`): the record
tables are read here, in the record package, as everywhere else."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from scipass.record.labels import mask_phone
from scipass.record.models import (
    ParticipationRecord,
    RecordEvent,
    RecordEvidence,
    RecordObjection,
)

# Roles of people outside the school's staff, whose accounts a copy names only for the family.
OUTSIDE_ROLES = ("student", "guardian", "wechat_user")


@dataclass
class PupilRecords:
    """The pupil's records as the copy shows them, and the ids its audit trail looks for."""

    items: list[dict[str, Any]] = field(default_factory=list)
    record_ids: list[int] = field(default_factory=list)
    evidence_ids: list[int] = field(default_factory=list)


def records_of(session: Session, *, student_id: int, family: set[str]) -> PupilRecords:
    """Each record of the pupil with its events (its history), evidence metadata and
    objections; who raised an objection is shown only when it is the pupil's family."""
    records = session.exec(
        select(ParticipationRecord)
        .where(ParticipationRecord.student_id == student_id)
        .order_by(col(ParticipationRecord.started_at), col(ParticipationRecord.id))
    ).all()
    ids = [r.id or 0 for r in records]
    events = session.exec(
        select(RecordEvent).where(col(RecordEvent.record_id).in_(ids)).order_by(col(RecordEvent.id))
    ).all()
    evidence = session.exec(
        select(RecordEvidence)
        .where(col(RecordEvidence.record_id).in_(ids))
        .order_by(col(RecordEvidence.id))
    ).all()
    objections = session.exec(
        select(RecordObjection)
        .where(col(RecordObjection.record_id).in_(ids))
        .order_by(col(RecordObjection.id))
    ).all()

    def of(rows: Iterable[Any], record_id: int | None) -> list[dict[str, Any]]:
        return [r.model_dump(mode="json") for r in rows if r.record_id == record_id]

    def history(record_id: int | None) -> list[dict[str, Any]]:
        shown = of(events, record_id)
        for event in shown:  # an objection by another pupil or family: not named
            if event["actor_role"] in OUTSIDE_ROLES and event["actor"] not in family:
                event["actor"] = None
        return shown

    def objection(o: RecordObjection) -> dict[str, Any]:
        shown = o.model_dump(mode="json")
        if o.raised_by not in family:
            shown["raised_by"] = None  # another pupil or family: not named
        return shown

    items = [
        {
            **r.model_dump(mode="json", exclude={"student_id"}),
            "attester_phone": mask_phone(r.attester_phone),  # a staff member's, masked as shown
            "events": history(r.id),
            "evidence": of(evidence, r.id),
            "objections": [objection(o) for o in objections if o.record_id == r.id],
        }
        for r in records
    ]
    return PupilRecords(items, ids, [e.id or 0 for e in evidence])


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    evidence: RecordEvidence
    record_id: int
    record_title: str


def evidence_of(session: Session, *, student_id: int) -> list[EvidenceFile]:
    """The evidence rows of the pupil's own records, by record."""
    rows = session.exec(
        select(RecordEvidence, ParticipationRecord.id, ParticipationRecord.title)
        .join(ParticipationRecord, col(ParticipationRecord.id) == RecordEvidence.record_id)
        .where(ParticipationRecord.student_id == student_id)
        .order_by(col(RecordEvidence.record_id), col(RecordEvidence.id))
    ).all()
    return [EvidenceFile(evidence, record_id or 0, title) for evidence, record_id, title in rows]
