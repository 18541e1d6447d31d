"""Records the school writes itself: a correction of an archived record (voided with its
reason, a new record in its place) and records of activities the school organised itself
(manual entry, through the one seam :mod:`scipass.record.append`)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.consent import service as consent_service
from scipass.consent.errors import ConsentRequired
from scipass.consent.models import Purpose
from scipass.core import idempotency as idempotency_service
from scipass.core.auth import Principal
from scipass.core.clock import local_date
from scipass.core.idempotency import Idempotency
from scipass.org.models import School
from scipass.record.append import RecordFacts, append_record
from scipass.record.errors import (
    RecordNotFound,
    RecordStateInvalid,
)
from scipass.record.models import (
    Dimension,
    ParticipationRecord,
    RecordCategory,
    RecordEvidence,
    RecordRole,
    RecordSource,
    RecordStatus,
)
from scipass.record.schemas import CorrectionWrite, ManualRecordCreate
from scipass.record.service import display_name, school_record
from scipass.record.transitions import add_event, move, reason_given
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student


def void_and_correct(
    session: Session,
    *,
    actor: Principal,
    record_id: int,
    reason: str,
    correction: CorrectionWrite,
    now: datetime,
) -> ParticipationRecord:
    """Void an archived record (it stays in the chain, marked) and issue its correction, which
    the school has reviewed by issuing it and which goes to the next notice."""
    record = school_record(session, actor=actor, record_id=record_id)
    text = reason_given(reason)
    move(
        session,
        record,
        to=RecordStatus.voided,
        allowed=(RecordStatus.archived,),
        actor=actor,
        action="voided",
        now=now,
        note=text,
        status_reason=text,
    )
    student = session.get(Student, record.student_id)
    assert student is not None
    started = correction.started_at or record.started_at
    ended = correction.ended_at or record.ended_at
    category = correction.category or RecordCategory(record.category)
    facts = RecordFacts(
        title=correction.title or record.title,
        category=category,
        # a new category without a chosen dimension: the school's region maps it
        dimension=correction.dimension
        or (Dimension(record.dimension) if correction.category is None else None),
        organiser_name=record.organiser_name,
        place=correction.place or record.place,
        started_at=started,
        ended_at=ended,
        minutes=record.minutes if correction.minutes is None else correction.minutes,
        role=correction.role or RecordRole(record.role),
        outcome=record.outcome if correction.outcome is None else correction.outcome,
        activity_id=record.activity_id,
        organiser_venue_id=record.organiser_venue_id,
        organiser_school_id=record.organiser_school_id,
        attester_name=record.attester_name,
        attester_unit=record.attester_unit,
        attester_phone=record.attester_phone,
        confirmed=True,
    )
    new, created = append_record(
        session,
        student=student,
        source=RecordSource.correction,
        source_ref=str(record.id),
        facts=facts,
        actor=actor,
        now=now,
    )
    if not created:  # pragma: no cover - the void above admits one correction per record
        raise RecordStateInvalid()
    session.execute(
        update(ParticipationRecord)
        .where(col(ParticipationRecord.id) == new.id)
        .values(
            replaces_id=record.id,
            reflection=record.reflection,
            student_confirmed_at=record.student_confirmed_at,
            status=RecordStatus.reviewed.value,
            reviewed_at=now,
            reviewed_by=actor.subject,
        )
        .execution_options(synchronize_session=False)
    )
    add_event(
        session,
        new.id or 0,
        actor,
        "reviewed",
        RecordStatus.confirmed,
        RecordStatus.reviewed,
        now,
        f"更正记录 {record.id}：{text}",
    )
    for item in session.exec(
        select(RecordEvidence).where(RecordEvidence.record_id == record.id)
    ).all():
        session.add(
            RecordEvidence(
                record_id=new.id or 0,
                sha256=item.sha256,
                media_type=item.media_type,
                size=item.size,
                filename=item.filename,
                uploaded_by=item.uploaded_by,
                uploaded_at=item.uploaded_at,
                cleaned_at=item.cleaned_at,
                original_sha256=item.original_sha256,
                quarantined_at=item.quarantined_at,
                quarantine_reason=item.quarantine_reason,
            )
        )
    school = session.get(School, record.school_id)
    audit_service.record(
        session,
        action=audit_service.Action.record_voided,
        at=now,
        actor=actor,
        object_type="participation_record",
        object_id=record.id,
        school_id=record.school_id,
        region_code=school.region_code if school else None,
        reason=text,
        correction_id=new.id,
    )
    session.flush()
    session.refresh(new)
    return new


def create_manual(
    session: Session,
    *,
    actor: Principal,
    entry: ManualRecordCreate,
    idempotency: Idempotency | None,
    now: datetime,
) -> list[ParticipationRecord]:
    """Records a school enters itself (a science club term, a school science festival), for
    students of the school, confirmed by the school as their organiser. With the same
    idempotency key a retry returns the same records."""
    school = session.get(School, actor.school_id)
    if school is None:
        raise RecordNotFound()
    # A retry with the key appends the same records again, which returns the first ones.
    idempotency_service.claim(session, subject=actor.subject, idempotency=idempotency, now=now)
    wanted = list(dict.fromkeys(entry.student_ids))
    students = session.exec(
        select(Student).where(col(Student.id).in_(wanted), Student.school_id == school.id)
    ).all()
    found = {s.id: s for s in students}
    missing = [sid for sid in wanted if sid not in found]
    if missing:
        raise StudentNotFound(student_ids=missing)
    today = local_date(now)
    without_consent = [
        sid
        for sid in wanted
        if not consent_service.has_consent(
            session, student=found[sid], purpose=Purpose.participation_record, today=today
        )
    ]
    if without_consent:
        raise ConsentRequired(
            "以下学生未满 14 周岁且监护人尚未同意记录活动，请先取得同意或从名单中移除",
            "These students are under 14 and have no guardian consent for records",
            student_ids=without_consent,
        )
    facts = RecordFacts(
        title=entry.title.strip(),
        category=entry.category,
        dimension=entry.dimension,  # none chosen: the pupil's school's region maps it
        organiser_name=(entry.organiser_name or school.name).strip(),
        place=entry.place.strip() or school.name,
        started_at=entry.started_at,
        ended_at=entry.ended_at,
        minutes=entry.minutes,
        role=entry.role,
        outcome=entry.outcome.strip(),
        organiser_school_id=school.id,
        attester_name=(entry.attester_name or display_name(session, actor)).strip(),
        attester_unit=school.name,
        attester_phone=entry.attester_phone.strip(),
        confirmed=True,
    )
    batch = idempotency.key if idempotency is not None else uuid.uuid4().hex
    return [
        append_record(
            session,
            student=found[sid],
            source=RecordSource.manual,
            source_ref=f"manual:{batch}"[:64],
            facts=facts,
            actor=actor,
            now=now,
        )[0]
        for sid in wanted
    ]
