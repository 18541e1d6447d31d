"""Evidence files of records: photos of the activity, certificates, reports.

A file is accepted by its first bytes, never by its name or the client's content type:
JPEG, PNG, WebP or PDF, up to ``SCIPASS_EVIDENCE_MAX_BYTES`` (10 MB), at most
:data:`MAX_PER_RECORD` per record. It is stored once under
``<upload_dir>/evidence/<first two hex digits>/<sha256>`` (the same certificate attached to a
corrected record or uploaded twice costs no space) and served only to those who may see the
record: the student, their guardians, the school and the bureau (not the organising venue).
Uploading the same file to the same record again returns the first upload (a retry on a weak
connection is harmless).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, func, select

from scipass.audit import service as audit_service
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.db import flush_unique
from scipass.core.errors import ProblemError
from scipass.record import service as record_service
from scipass.record.errors import (
    EvidenceLimitReached,
    EvidenceNotFound,
    EvidenceTooLarge,
    EvidenceTypeRejected,
    RecordNotFound,
    RecordStateInvalid,
)
from scipass.record.models import STUDENT_OPEN, ParticipationRecord, RecordEvidence
from scipass.roster.models import Student

MAX_PER_RECORD = 9


class _Duplicate(ProblemError):
    """Internal: the same file is already attached to the record."""


def sniff(head: bytes) -> str | None:
    """The media type the bytes really are, among the accepted ones."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def path_of(settings: Settings, sha256: str) -> Path:
    return settings.upload_dir / "evidence" / sha256[:2] / sha256


def _store(settings: Settings, data: bytes, sha256: str) -> None:
    target = path_of(settings, sha256)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _safe_name(filename: str | None, media_type: str) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')[:100]
    return name or "证明材料." + media_type.rsplit("/", 1)[-1]


def _uploadable(session: Session, *, actor: Principal, record_id: int) -> ParticipationRecord:
    """The record ``actor`` may attach evidence to: the student to their own before review;
    school staff to their school's records before review."""
    if actor.role is Role.student:
        record = record_service.own_record(session, actor=actor, record_id=record_id)
    else:
        record = session.get(ParticipationRecord, record_id)
        if record is None or not (
            actor.role in SCHOOL_ROLES and record.school_id == actor.school_id
        ):
            raise RecordNotFound()
    if record.status not in STUDENT_OPEN:
        raise RecordStateInvalid(current=record.status, allowed=[s.value for s in STUDENT_OPEN])
    return record


def add(
    session: Session,
    *,
    actor: Principal,
    settings: Settings,
    record_id: int,
    data: bytes,
    filename: str | None,
    now: datetime,
) -> RecordEvidence:
    record = _uploadable(session, actor=actor, record_id=record_id)
    if len(data) > settings.evidence_max_bytes:
        raise EvidenceTooLarge(limit_bytes=settings.evidence_max_bytes)
    media_type = sniff(data[:16])
    if media_type is None:
        raise EvidenceTypeRejected()
    student = session.get(Student, record.student_id)
    assert student is not None
    consent_service.require_consent(
        session, student=student, purpose=Purpose.photos, today=local_date(now)
    )
    sha256 = hashlib.sha256(data).hexdigest()
    existing = session.exec(
        select(RecordEvidence).where(
            RecordEvidence.record_id == record.id, RecordEvidence.sha256 == sha256
        )
    ).first()
    if existing is not None:
        return existing
    count = session.exec(select(func.count()).where(RecordEvidence.record_id == record.id)).one()
    if count >= MAX_PER_RECORD:
        raise EvidenceLimitReached()
    _store(settings, data, sha256)
    evidence = RecordEvidence(
        record_id=record.id or 0,
        sha256=sha256,
        media_type=media_type,
        size=len(data),
        filename=_safe_name(filename, media_type),
        uploaded_by=actor.subject,
        uploaded_at=now,
    )
    session.add(evidence)
    try:
        flush_unique(session, _Duplicate())
    except _Duplicate:  # the same file, uploaded concurrently: return the winner
        session.expunge(evidence)
        return session.exec(
            select(RecordEvidence).where(
                RecordEvidence.record_id == record.id, RecordEvidence.sha256 == sha256
            )
        ).one()
    record_service.add_event(
        session,
        record.id or 0,
        actor,
        "evidence_added",
        record.status,
        record.status,
        now,
        evidence.filename,
    )
    session.flush()
    return evidence


def list_for(session: Session, record_id: int) -> list[RecordEvidence]:
    return list(
        session.exec(
            select(RecordEvidence)
            .where(RecordEvidence.record_id == record_id)
            .order_by(col(RecordEvidence.id))
        ).all()
    )


def open_file(
    session: Session,
    *,
    actor: Principal,
    settings: Settings,
    record_id: int,
    evidence_id: int,
    now: datetime,
) -> tuple[RecordEvidence, Path]:
    if actor.role in VENUE_ROLES:
        raise RecordNotFound()
    record = record_service.get_visible(session, actor=actor, record_id=record_id)
    evidence = session.get(RecordEvidence, evidence_id)
    if evidence is None or evidence.record_id != record.id:
        raise EvidenceNotFound()
    path = path_of(settings, evidence.sha256)
    if not path.is_file():
        raise EvidenceNotFound("文件已不在存储中，请联系管理员", "The stored file is missing")
    if actor.role not in (Role.student, Role.guardian):
        audit_service.record(
            session,
            action=audit_service.Action.evidence_viewed,
            at=now,
            actor=actor,
            object_type="record_evidence",
            object_id=evidence.id,
            school_id=record.school_id,
            record_id=record.id,
        )
    return evidence, path
