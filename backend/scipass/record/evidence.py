"""Evidence files of records: photos of the activity, certificates, reports.

A file is judged by its bytes, never by its name or the client's content type: JPEG, PNG,
WebP or PDF, up to ``SCIPASS_EVIDENCE_MAX_BYTES`` (10 MB), at most :data:`MAX_PER_RECORD` per
record. What is stored is made safe first (:mod:`scipass.record.sanitise`): an image is decoded
and encoded again in its own format, which drops its EXIF (a child's photo tells where it was
taken), every other metadata and anything appended to it, and keeps it upright; a PDF is stored
as uploaded, but refused when it holds scripts, embedded files, launch or other actions that
run by themselves (422 ``evidence_pdf_active_content``). A file that cannot be decoded (415
``evidence_unreadable``) or is over the pixel or PDF limits (413 ``evidence_too_complex``) is
refused.

The stored file is kept once under ``<upload_dir>/evidence/<first two hex digits>/<sha256>``
(:mod:`scipass.record.storage`); ``sha256`` and ``size`` are those of the stored bytes. The same
certificate attached to a corrected record or uploaded twice costs no space, and uploading the
same file to the same record again returns the first upload (a retry on a weak connection is
harmless): the same bytes give the same stored file. A file deleted by a withdrawn ``photos``
consent (its row a tombstone) and uploaded again to the same record after a new grant is served
again: the tombstone is revived as this upload, and the record's history shows both steps.
Files are served only to those who may see the record: the student, their guardians, the
school and the bureau (not the organising venue).
Files stored before uploads were cleaned are cleaned once (:mod:`scipass.record.evidence_cleanup`);
one met by a download before that is cleaned then. A quarantined file answers 410
``evidence_quarantined``.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from scipass.audit import service as audit_service
from scipass.consent import service as consent_service
from scipass.consent.models import Purpose
from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.db import flush_unique
from scipass.core.errors import ProblemError
from scipass.record import evidence_cleanup, sanitise, storage, transitions
from scipass.record import service as record_service
from scipass.record.errors import (
    EvidenceLimitReached,
    EvidenceNotFound,
    EvidenceQuarantined,
    EvidenceTooLarge,
    RecordNotFound,
    RecordStateInvalid,
)
from scipass.record.models import (
    STUDENT_OPEN,
    ParticipationRecord,
    QuarantineReason,
    RecordEvidence,
)
from scipass.roster.models import Student

MAX_PER_RECORD = 9

# Why a quarantined file is not served, as its answer says (Chinese, English).
_QUARANTINED = {
    QuarantineReason.active_content: (
        "文件含有脚本、附件或自动执行的操作，请上传普通 PDF",
        "The file holds scripts, attachments or actions that run by themselves",
    ),
    QuarantineReason.unreadable: (
        "文件已损坏或无法读取，请重新上传",
        "The file is damaged or cannot be read",
    ),
    QuarantineReason.too_complex: (
        "文件像素过多或过于复杂，请缩小或另存后重新上传",
        "The file has too many pixels or is too complex",
    ),
    QuarantineReason.duplicate: (
        "与本记录的另一份证明材料内容相同，请查看那一份",
        "The same picture is attached to this record as another file",
    ),
    QuarantineReason.missing: (
        "文件已不在存储中，请联系管理员",
        "The stored file was missing",
    ),
    QuarantineReason.consent_withdrawn: (
        "监护人已撤回照片同意，文件已删除",
        "The guardian withdrew the consent for photos; the file was deleted",
    ),
}


class _Duplicate(ProblemError):
    """Internal: the same file is already attached to the record."""


def _safe_name(filename: str | None, media_type: str) -> str:
    name = os.path.basename((filename or "").replace("\\", "/")).strip()
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')[:100]
    return name or "证明材料." + media_type.rsplit("/", 1)[-1]


def _uploadable(session: Session, *, actor: Principal, record_id: int) -> ParticipationRecord:
    """The record ``actor`` may attach evidence to: the student (or a guardian acting for the
    student) to their own before review; school staff to their school's records before review."""
    record: ParticipationRecord | None
    if actor.role in (Role.student, Role.guardian):
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
    media_type, stored = sanitise.clean(data)
    student = session.get(Student, record.student_id)
    assert student is not None
    # Read the consent under the pupil's KEY SHARE lock: a withdrawal in flight commits first
    # (and this upload is refused), or waits for this one and deletes its file.
    consent_service.share_pupil(session, record.student_id)
    # The record's status again under that lock: a participation_record withdrawal that
    # committed since it was read has withdrawn it.
    session.refresh(record)
    if record.status not in STUDENT_OPEN:
        raise RecordStateInvalid(current=record.status, allowed=[s.value for s in STUDENT_OPEN])
    consent_service.require_consent(
        session, student=student, purpose=Purpose.photos, today=local_date(now)
    )
    sha256 = hashlib.sha256(stored).hexdigest()
    existing = session.exec(
        select(RecordEvidence).where(
            RecordEvidence.record_id == record.id, RecordEvidence.sha256 == sha256
        )
    ).first()
    if existing is not None and existing.quarantine_reason == QuarantineReason.consent_withdrawn:
        return _revive(
            session,
            actor=actor,
            settings=settings,
            record=record,
            tombstone=existing,
            stored=stored,
            filename=filename,
            now=now,
        )
    if existing is not None:
        return existing
    count = session.exec(select(func.count()).where(RecordEvidence.record_id == record.id)).one()
    if count >= MAX_PER_RECORD:
        raise EvidenceLimitReached()
    storage.lock_file(session, sha256)  # no deleter unlinks it before this row commits
    storage.store(settings, stored, sha256)
    evidence = RecordEvidence(
        record_id=record.id or 0,
        sha256=sha256,
        media_type=media_type,
        size=len(stored),
        filename=_safe_name(filename, media_type),
        uploaded_by=actor.subject,
        uploaded_at=now,
        cleaned_at=now,
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
    transitions.add_event(
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


def _revive(
    session: Session,
    *,
    actor: Principal,
    settings: Settings,
    record: ParticipationRecord,
    tombstone: RecordEvidence,
    stored: bytes,
    filename: str | None,
    now: datetime,
) -> RecordEvidence:
    """The same file uploaded again to a record whose copy a withdrawn ``photos`` consent
    deleted (consent was given again since: checked by the caller): the tombstone is served
    again, as this upload (who, when, the name), and the record's history says
    ``evidence_added`` after its ``evidence_deleted``. Conditional on the row still being that
    tombstone, so two such uploads revive it once."""
    storage.lock_file(session, tombstone.sha256)
    storage.store(settings, stored, tombstone.sha256)
    name = _safe_name(filename, tombstone.media_type)
    revived = session.exec(
        update(RecordEvidence)
        .where(
            col(RecordEvidence.id) == tombstone.id,
            col(RecordEvidence.quarantine_reason) == QuarantineReason.consent_withdrawn.value,
        )
        .values(
            quarantined_at=None,
            quarantine_reason=None,
            uploaded_by=actor.subject,
            uploaded_at=now,
            filename=name,
            cleaned_at=now,
        )
        .returning(col(RecordEvidence.id))
        .execution_options(synchronize_session=False)
    ).first()
    if revived is not None:
        transitions.add_event(
            session,
            record.id or 0,
            actor,
            "evidence_added",
            record.status,
            record.status,
            now,
            name,
        )
        session.flush()
    session.refresh(tombstone)
    return tombstone


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
) -> tuple[RecordEvidence, BinaryIO]:
    """The evidence row and its file, open for reading (the caller streams and closes it)."""
    if actor.role in VENUE_ROLES:
        raise RecordNotFound()
    record = record_service.get_visible(session, actor=actor, record_id=record_id)
    evidence = session.get(RecordEvidence, evidence_id)
    if evidence is None or evidence.record_id != record.id:
        raise EvidenceNotFound()
    if evidence.cleaned_at is None:
        evidence = evidence_cleanup.clean_now(
            session, settings=settings, evidence=evidence, now=now
        )
    if evidence.quarantined_at is not None:
        assert evidence.quarantine_reason is not None  # set together with quarantined_at
        detail_zh, detail_en = _QUARANTINED[QuarantineReason(evidence.quarantine_reason)]
        raise EvidenceQuarantined(detail_zh, detail_en, reason=evidence.quarantine_reason)
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
    try:  # last, so that nothing raised after it leaves the file open
        return evidence, storage.open_served(settings, evidence.sha256)
    except FileNotFoundError:
        missing = ("文件已不在存储中，请联系管理员", "The stored file is missing")
        raise EvidenceNotFound(*missing) from None
