"""Public notice (公示), objections and the archive: a school publicises its reviewed records
for a number of working days (the region's setting), anyone of the school community may
object while the notice is open, the school admin resolves objections, and the job archives
what the window closed on with no open objection (into the student's hash chain)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, insert, update
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import SCHOOL_ROLES, Principal
from scipass.core.config import Settings
from scipass.core.db import flush_unique
from scipass.core.pagination import PageParams, count_rows
from scipass.core.workdays import window_end
from scipass.org.errors import RegionNotFound
from scipass.org.models import Region, School
from scipass.record import chain
from scipass.record.errors import (
    NothingToPublicise,
    NoticeClosed,
    NoticeNotFound,
    ObjectionDuplicate,
    ObjectionNotFound,
    ObjectionResolved,
    RecordNotFound,
    RecordStateInvalid,
)
from scipass.record.models import (
    ObjectionStatus,
    ParticipationRecord,
    RecordEvent,
    RecordNotice,
    RecordObjection,
    RecordStatus,
)
from scipass.record.repository import RecordFilter
from scipass.record.service import school_ids_of
from scipass.record.transitions import add_event, move, reason_given
from scipass.roster.models import Student

DEFAULT_NOTICE_WORKING_DAYS = 5


def notice_working_days(session: Session, region_code: str) -> tuple[int, str | None]:
    """The notice length of a region: its own setting, else the nearest ancestor's, else 5.
    Also which region it comes from (None for the default)."""
    code: str | None = region_code
    seen: set[str] = set()
    while code and code not in seen:
        seen.add(code)
        region = session.get(Region, code)
        if region is None:
            break
        if region.notice_working_days is not None:
            return region.notice_working_days, region.code
        code = region.parent_code
    return DEFAULT_NOTICE_WORKING_DAYS, None


def set_notice_working_days(session: Session, *, region_code: str, days: int | None) -> Region:
    region = session.get(Region, region_code)
    if region is None:
        raise RegionNotFound()
    region.notice_working_days = days
    session.add(region)
    session.flush()
    return region


def open_notice(
    session: Session,
    *,
    actor: Principal,
    settings: Settings,
    title: str,
    filters: RecordFilter,
    record_ids: list[int] | None,
    now: datetime,
) -> RecordNotice:
    """Put the school's reviewed records (all, or those matching) into a new notice."""
    school = session.get(School, actor.school_id)
    if school is None:
        raise RecordNotFound()
    days, _ = notice_working_days(session, school.region_code)
    notice = RecordNotice(
        school_id=school.id or 0,
        title=title.strip()[:100],
        working_days=days,
        starts_at=now,
        ends_at=window_end(now, days, holidays=settings.holidays, makeup=settings.makeup_workdays),
        record_count=0,
        opened_by=actor.subject,
    )
    session.add(notice)
    session.flush()
    table = ParticipationRecord
    where = [
        col(table.school_id) == school.id,
        col(table.status) == RecordStatus.reviewed.value,
        *filters.conditions(),
    ]
    if record_ids is not None:
        where.append(col(table.id).in_(record_ids))
    moved = (
        session.execute(
            update(table)
            .where(*where)
            .values(status=RecordStatus.publicised.value, notice_id=notice.id, updated_at=now)
            .returning(table.__table__.c.id)  # type: ignore[attr-defined]  # SQLModel declares no __table__
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    if not moved:
        raise NothingToPublicise()
    stale = set(moved)
    for loaded in list(session.identity_map.values()):
        if isinstance(loaded, ParticipationRecord) and loaded.id in stale:
            session.expire(loaded)  # the bulk update bypassed the session
    session.execute(
        insert(RecordEvent),
        [
            {
                "record_id": record_id,
                "at": now,
                "action": "publicised",
                "actor": actor.subject,
                "actor_role": actor.role.value,
                "from_status": RecordStatus.reviewed.value,
                "to_status": RecordStatus.publicised.value,
                "note": f"公示 {notice.id}",
            }
            for record_id in moved
        ],
    )
    notice.record_count = len(moved)
    session.add(notice)
    audit_service.record(
        session,
        action=audit_service.Action.notice_opened,
        at=now,
        actor=actor,
        object_type="record_notice",
        object_id=notice.id,
        school_id=school.id,
        region_code=school.region_code,
        records=len(moved),
        ends_at=notice.ends_at.isoformat(),
    )
    session.flush()
    return notice


def list_notices(
    session: Session, *, actor: Principal, page: PageParams, now: datetime, open_only: bool
) -> tuple[list[RecordNotice], int]:
    query = select(RecordNotice).where(
        col(RecordNotice.school_id).in_(school_ids_of(session, actor))
    )
    if open_only or actor.role not in SCHOOL_ROLES:
        query = query.where(RecordNotice.starts_at <= now, RecordNotice.ends_at > now)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(RecordNotice.starts_at).desc()).limit(page.limit).offset(page.offset)
    ).all()
    return list(rows), total


def get_notice(
    session: Session, *, actor: Principal, notice_id: int, now: datetime
) -> RecordNotice:
    notice = session.get(RecordNotice, notice_id)
    if notice is None or notice.school_id not in school_ids_of(session, actor):
        raise NoticeNotFound()
    if actor.role not in SCHOOL_ROLES and not notice.starts_at <= now < notice.ends_at:
        raise NoticeNotFound()  # families see a notice while it is up
    return notice


def notice_entries(
    session: Session, *, notice: RecordNotice, page: PageParams
) -> tuple[list[tuple[ParticipationRecord, Student]], int]:
    query = (
        select(ParticipationRecord, Student)
        .join(Student, col(Student.id) == ParticipationRecord.student_id)
        .where(
            ParticipationRecord.notice_id == notice.id,
            # an upheld objection takes the record off the notice
            ParticipationRecord.status != RecordStatus.rejected.value,
        )
    )
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(
            col(Student.grade),
            col(Student.class_name),
            col(Student.student_no),
            col(ParticipationRecord.started_at),
        )
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return [(r, s) for r, s in rows], total


def object_to(
    session: Session, *, actor: Principal, record_id: int, reason: str, now: datetime
) -> RecordObjection:
    """An objection to a record in an open notice, by a student, guardian or staff member of
    its school."""
    record = session.get(ParticipationRecord, record_id)
    if record is None or record.school_id not in school_ids_of(session, actor):
        raise RecordNotFound()
    notice = session.get(RecordNotice, record.notice_id) if record.notice_id else None
    if record.status != RecordStatus.publicised or notice is None:
        raise RecordStateInvalid(current=record.status, allowed=[RecordStatus.publicised.value])
    if not notice.starts_at <= now < notice.ends_at:
        raise NoticeClosed(ends_at=notice.ends_at.isoformat())
    objection = RecordObjection(
        record_id=record.id or 0,
        notice_id=notice.id or 0,
        raised_by=actor.subject,
        raised_role=actor.role.value,
        reason=reason_given(reason, limit=1000),
        raised_at=now,
        status=ObjectionStatus.open.value,
        resolution="",
    )
    session.add(objection)
    flush_unique(session, ObjectionDuplicate())
    add_event(
        session,
        record.id or 0,
        actor,
        "objection",
        record.status,
        record.status,
        now,
        f"异议 {objection.id}",
    )
    session.flush()
    return objection


def list_objections(
    session: Session, *, actor: Principal, page: PageParams, status: ObjectionStatus | None
) -> tuple[list[RecordObjection], int]:
    query = (
        select(RecordObjection)
        .join(ParticipationRecord, col(ParticipationRecord.id) == RecordObjection.record_id)
        .where(ParticipationRecord.school_id == actor.school_id)
    )
    if status is not None:
        query = query.where(RecordObjection.status == status.value)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(RecordObjection.id).desc()).limit(page.limit).offset(page.offset)
    ).all()
    return list(rows), total


def resolve_objection(
    session: Session,
    *,
    actor: Principal,
    objection_id: int,
    uphold: bool,
    resolution: str,
    now: datetime,
) -> RecordObjection:
    """A school admin settles an objection: upheld, the record is rejected; dismissed, it
    stands (and is archived once its window has closed and nothing else is open)."""
    objection = session.get(RecordObjection, objection_id)
    record = session.get(ParticipationRecord, objection.record_id) if objection else None
    if objection is None or record is None or record.school_id != actor.school_id:
        raise ObjectionNotFound()
    text = reason_given(resolution)
    status = ObjectionStatus.upheld if uphold else ObjectionStatus.dismissed
    result = session.exec(
        update(RecordObjection)
        .where(
            col(RecordObjection.id) == objection.id,
            col(RecordObjection.status) == ObjectionStatus.open.value,
        )
        .values(status=status.value, resolution=text, resolved_by=actor.subject, resolved_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ObjectionResolved()
    if uphold and record.status != RecordStatus.rejected:
        move(
            session,
            record,
            to=RecordStatus.rejected,
            allowed=(RecordStatus.publicised,),
            actor=actor,
            action="objection_upheld",
            now=now,
            note=text,
            status_reason=text,
        )
    else:  # dismissed, or upheld when another upheld objection already rejected the record
        add_event(
            session,
            record.id or 0,
            actor,
            "objection_upheld" if uphold else "objection_dismissed",
            record.status,
            record.status,
            now,
            text,
        )
    session.flush()
    session.refresh(objection)
    return objection


def archive_due(session: Session, *, now: datetime, limit: int | None = None) -> int:
    """Archive every publicised record whose notice window has closed with no open objection,
    extending each student's hash chain. Returns how many were archived."""
    table = ParticipationRecord
    open_objection = exists().where(
        col(RecordObjection.record_id) == table.id,
        col(RecordObjection.status) == ObjectionStatus.open.value,
    )
    query = (
        select(table)
        .join(RecordNotice, col(RecordNotice.id) == table.notice_id)
        .where(
            table.status == RecordStatus.publicised.value,
            RecordNotice.ends_at <= now,
            ~open_objection,
        )
        .order_by(col(table.student_id), col(table.started_at), col(table.id))
    )
    if limit is not None:
        query = query.limit(limit)
    due = list(session.exec(query).all())
    evidence = chain.evidence_hashes(session, [r.id or 0 for r in due])
    archived_at = now.replace(microsecond=0)
    heads: dict[int, tuple[int, str]] = {}
    for record in due:
        seq, previous = heads.get(record.student_id) or chain.head(session, record.student_id)
        digest = chain.content_hash(
            record,
            evidence.get(record.id or 0, []),
            previous,
            archive_seq=seq + 1,
            archived_at=archived_at,
        )
        move(
            session,
            record,
            to=RecordStatus.archived,
            allowed=(RecordStatus.publicised,),
            actor=None,
            action="archived",
            now=now,
            extra=(~open_objection,),
            archive_seq=seq + 1,
            prev_hash=previous,
            archived_at=archived_at,
            content_hash=digest,
        )
        heads[record.student_id] = (seq + 1, digest)
    return len(due)
