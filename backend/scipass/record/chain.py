"""The archive hash chain of each student's records.

When a record is archived it gets the next ``archive_seq`` of its student, the previous
record's hash as ``prev_hash`` (64 zeros for the first) and ``content_hash`` = SHA-256 of a
canonical JSON of its content, its evidence checksums and ``prev_hash``. Changing any archived
row, or removing or reordering one, breaks every hash from there on; :func:`verify` names the
first record that no longer matches.

An evidence checksum is the SHA-256 of the file as it was attached: ``sha256``, or, when the
one-off cleaning of files stored before uploads were cleaned has replaced the file by a
re-encoded one (see ``record/evidence_cleanup.py``), the hash it had before, kept in
``original_sha256``. So a chain archived before the cleaning still verifies after it, and a
record archived later hashes the same value whichever of the two ran first.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, func, select

from scipass.record.models import ParticipationRecord, RecordEvidence

GENESIS = "0" * 64


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def content_hash(
    record: ParticipationRecord,
    evidence: list[str],
    prev_hash: str,
    *,
    archive_seq: int | None = None,
    archived_at: datetime | None = None,
) -> str:
    """The hash of ``record`` as archived; ``archive_seq`` and ``archived_at`` default to the
    record's own (given when the record is about to be archived)."""
    content = {
        "id": record.id,
        "student_id": record.student_id,
        "school_id": record.school_id,
        "source": record.source,
        "source_ref": record.source_ref,
        "activity_id": record.activity_id,
        "organiser": [record.organiser_venue_id, record.organiser_school_id, record.organiser_name],
        "title": record.title,
        "category": record.category,
        "dimension": record.dimension,
        "place": record.place,
        "started_at": _instant(record.started_at),
        "ended_at": _instant(record.ended_at),
        "term": [record.school_year, record.semester],
        "minutes": record.minutes,
        "role": record.role,
        "outcome": record.outcome,
        "reflection": record.reflection,
        "attester": [record.attester_name, record.attester_unit, record.attester_phone],
        "reviewed": [_instant(record.reviewed_at), record.reviewed_by],
        "notice_id": record.notice_id,
        "archived_at": _instant(archived_at or record.archived_at),
        "archive_seq": archive_seq or record.archive_seq,
        "replaces_id": record.replaces_id,
        "evidence": sorted(evidence),
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def evidence_hashes(session: Session, record_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    if record_ids:
        rows = session.exec(
            select(
                RecordEvidence.record_id,
                func.coalesce(RecordEvidence.original_sha256, RecordEvidence.sha256),
            ).where(col(RecordEvidence.record_id).in_(record_ids))
        ).all()
        for record_id, sha in rows:
            found[record_id].append(sha)
    return found


def head(session: Session, student_id: int) -> tuple[int, str]:
    """(last archive_seq, its hash) of a student's chain; (0, GENESIS) when it is empty."""
    row = session.exec(
        select(ParticipationRecord.archive_seq, ParticipationRecord.content_hash)
        .where(
            ParticipationRecord.student_id == student_id,
            col(ParticipationRecord.archive_seq).is_not(None),
        )
        .order_by(col(ParticipationRecord.archive_seq).desc())
        .limit(1)
    ).first()
    if row is None:
        return 0, GENESIS
    return int(row[0] or 0), str(row[1])


@dataclass(frozen=True, slots=True)
class ChainReport:
    student_id: int
    valid: bool
    length: int
    head_hash: str
    broken_record_id: int | None = None
    problem: str | None = None


def verify(session: Session, student_id: int) -> ChainReport:
    records = session.exec(
        select(ParticipationRecord)
        .where(
            ParticipationRecord.student_id == student_id,
            col(ParticipationRecord.archive_seq).is_not(None),
        )
        .order_by(col(ParticipationRecord.archive_seq))
    ).all()
    evidence = evidence_hashes(session, [r.id or 0 for r in records])
    previous = GENESIS
    for expected_seq, record in enumerate(records, start=1):
        problem = None
        if record.archive_seq != expected_seq:
            problem = "sequence"
        elif record.prev_hash != previous:
            problem = "link"
        elif content_hash(record, evidence.get(record.id or 0, []), previous) != (
            record.content_hash
        ):
            problem = "content"
        if problem:
            return ChainReport(
                student_id,
                False,
                len(records),
                previous,
                broken_record_id=record.id,
                problem=problem,
            )
        previous = record.content_hash or ""
    return ChainReport(student_id, True, len(records), previous)
