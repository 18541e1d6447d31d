"""What staff and students read about visits: an activity's attendees (with counts) and its
CSV, its scan events, a school's pupils' scans anywhere, a student's own visits. Pupils'
names follow :mod:`scipass.roster.visibility`; staff views are audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func
from sqlalchemy import select as sa_select  # typed for more columns than sqlmodel's select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from scipass.activity.models import Activity
from scipass.audit import service as audit_service
from scipass.checkin.door import organised_activity
from scipass.checkin.models import (
    CheckIn,
    ClosedBy,
    ScanEvent,
    ScanResult,
    ScanSource,
)
from scipass.checkin.views import (
    ScanCache,
)
from scipass.core.auth import SCHOOL_ROLES, Principal
from scipass.core.clock import SHANGHAI, Clock, day_bounds
from scipass.core.db import Database
from scipass.core.pagination import PageParams, count_rows
from scipass.jobs import queue as job_queue
from scipass.jobs.exporter import (
    ExportFile,
    FileFormat,
    TableExport,
    export_directly,
    run_table_export,
)
from scipass.jobs.models import Job
from scipass.jobs.queue import JobContext, JobKind, JobResult
from scipass.org.models import Bureau, School, Venue
from scipass.roster.models import Student
from scipass.roster.visibility import shown_name


def attendees_query(
    activity_id: int, *, day: date | None, status: str | None, source: str | None
) -> Select[CheckIn, Student]:
    query = (
        select(CheckIn, Student)
        .join(Student, col(Student.id) == CheckIn.student_id)
        .where(CheckIn.activity_id == activity_id)
    )
    if day is not None:
        query = query.where(CheckIn.day == day)
    if status == "open":
        query = query.where(col(CheckIn.exited_at).is_(None))
    elif status == "closed":
        query = query.where(col(CheckIn.exited_at).is_not(None))
    if source is not None:
        query = query.where(CheckIn.source == source)
    return query


def attendee_counts(session: Session, activity_id: int, day: date | None) -> dict[str, int]:
    query = select(
        func.count(),
        func.count(col(CheckIn.exited_at)),
        func.sum(case((col(CheckIn.closed_by) == ClosedBy.auto_closed.value, 1), else_=0)),
    ).where(CheckIn.activity_id == activity_id)
    if day is not None:
        query = query.where(CheckIn.day == day)
    total, closed, auto = session.execute(query).one()
    return {
        "total": int(total),
        "open": int(total) - int(closed),
        "closed": int(closed),
        "auto_closed": int(auto or 0),
    }


def list_attendees(
    session: Session,
    *,
    actor: Principal,
    activity_id: int,
    day: date | None,
    status: str | None,
    source: str | None,
    page: PageParams,
) -> tuple[list[tuple[CheckIn, Student]], int, dict[str, int]]:
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    query = attendees_query(activity.id or 0, day=day, status=status, source=source)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(CheckIn.entered_at), col(CheckIn.id))
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return [(c, s) for c, s in rows], total, attendee_counts(session, activity.id or 0, day)


def list_scan_events(
    session: Session,
    *,
    actor: Principal,
    activity_id: int,
    result: ScanResult | None,
    page: PageParams,
) -> tuple[list[tuple[ScanEvent, str | None]], int]:
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    query = (
        select(ScanEvent, Student.name)
        .join(Student, col(Student.id) == ScanEvent.student_id, isouter=True)
        .where(ScanEvent.activity_id == activity.id)
    )
    if result is not None:
        query = query.where(ScanEvent.result == result.value)
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(ScanEvent.id).desc()).limit(page.limit).offset(page.offset)
    ).all()
    return [(e, n) for e, n in rows], total


@dataclass(frozen=True, slots=True)
class PupilScan:
    """A scan by one of a school's pupils, as the school reviews it."""

    event: ScanEvent
    student_name: str | None
    class_name: str | None
    activity_title: str | None
    organiser_name: str | None


def list_school_scan_events(
    session: Session,
    *,
    actor: Principal,
    result: ScanResult | None,
    reason: str | None,
    student_id: int | None,
    since: date | None,
    until: date | None,
    page: PageParams,
) -> tuple[list[PupilScan], int]:
    """The scans of the caller's school's pupils at any venue or school, newest first: a
    school reviews refused scans (a pupil signed in from home, a code sent round a class) and
    helps a pupil whose scans fail. Only the school's own pupils, never another school's."""
    if actor.role not in SCHOOL_ROLES or actor.school_id is None:
        return [], 0
    organiser = func.coalesce(Venue.name, School.name, Bureau.name)
    query = (
        sa_select(
            ScanEvent,
            col(Student.name),
            col(Student.class_name),
            col(Activity.title),
            organiser,
        )
        .join(Student, col(Student.id) == ScanEvent.student_id, isouter=True)
        .join(Activity, col(Activity.id) == ScanEvent.activity_id, isouter=True)
        .join(Venue, col(Venue.id) == Activity.venue_id, isouter=True)
        .join(School, col(School.id) == Activity.school_id, isouter=True)
        .join(Bureau, col(Bureau.id) == Activity.bureau_id, isouter=True)
        .where(col(ScanEvent.school_id) == actor.school_id)
    )
    if result is not None:
        query = query.where(col(ScanEvent.result) == result.value)
    if reason is not None:
        query = query.where(col(ScanEvent.reason) == reason)
    if student_id is not None:
        query = query.where(col(ScanEvent.student_id) == student_id)
    if since is not None:
        query = query.where(col(ScanEvent.server_time) >= day_bounds(since)[0])
    if until is not None:
        query = query.where(col(ScanEvent.server_time) < day_bounds(until)[1])
    total = count_rows(session, query)
    rows = session.execute(
        query.order_by(col(ScanEvent.server_time).desc(), col(ScanEvent.id).desc())
        .limit(page.limit)
        .offset(page.offset)
    ).all()
    return [PupilScan(*row) for row in rows], total


def list_own(
    session: Session, *, actor: Principal, page: PageParams
) -> tuple[list[tuple[CheckIn, str]], int, tuple[str | None, str | None]]:
    """A student's own visits, newest first, with their name and class label (the pupil sees
    their own name in full)."""
    if actor.student_id is None:
        return [], 0, (None, None)
    row = session.exec(
        select(Student.name, Student.grade, Student.class_name, School.name)
        .join(School, col(School.id) == Student.school_id)
        .where(Student.id == actor.student_id)
    ).first()
    if row is None:
        return [], 0, (None, None)
    name, grade, class_name, school = row
    who_am_i = (name, f"{school} {grade}年级{class_name}")
    query = (
        select(CheckIn, Activity.title)
        .join(Activity, col(Activity.id) == CheckIn.activity_id)
        .where(CheckIn.student_id == actor.student_id)
    )
    total = count_rows(session, query)
    rows = session.exec(
        query.order_by(col(CheckIn.entered_at).desc()).limit(page.limit).offset(page.offset)
    ).all()
    return [(c, t) for c, t in rows], total, who_am_i


def activity_title(session: Session, cache: ScanCache | None, activity_id: int) -> str:
    known = cache.title(activity_id) if cache is not None else None
    if known is not None:
        return known
    return session.exec(select(Activity.title).where(Activity.id == activity_id)).one()


def audit_view(
    session: Session,
    *,
    actor: Principal,
    activity_id: int | None,
    what: str,
    rows: int,
    now: datetime,
    **filters: Any,
) -> None:
    """Staff views of minors' check-ins go to the audit log, like record views: an
    activity's, or (``activity_id`` None) the caller's school's pupils' across activities,
    with the filters that were set (whose scans were looked up, say)."""
    audit_service.record(
        session,
        action=audit_service.Action.checkins_viewed,
        at=now,
        actor=actor,
        object_type="activity" if activity_id is not None else "school",
        object_id=activity_id if activity_id is not None else actor.school_id,
        school_id=actor.school_id,
        view=what,
        row_count=rows,
        **{name: value for name, value in filters.items() if value is not None},
    )


def who(session: Session, actor: Principal, student_id: int) -> tuple[str, str]:
    """The name (as the caller may see it) and the school and class of a scanned pupil, so
    that staff at the door can match the face to the code."""
    row = session.execute(
        sa_select(
            col(Student.name),
            col(Student.school_id),
            col(Student.grade),
            col(Student.class_name),
            col(School.name),
        )
        .join(School, col(School.id) == Student.school_id)
        .where(col(Student.id) == student_id)
    ).one()
    name, school_id, grade, class_name, school = row
    label = f"{school} {grade}年级{class_name}"
    return shown_name(actor, name, school_id=school_id, student_id=student_id), label


def school_names(session: Session, school_ids: set[int]) -> dict[int, str]:
    if not school_ids:
        return {}
    rows = session.exec(select(School.id, School.name).where(col(School.id).in_(school_ids)))
    return {sid: name for sid, name in rows if sid is not None}


ATTENDEE_HEADER = (
    "日期",
    "学校",
    "年级",
    "班级",
    "姓名",
    "签到方式",
    "签到时间",
    "签退时间",
    "结束方式",
    "时长（分钟）",
)


SOURCE_LABELS = {
    ScanSource.self_scan: "学生扫码",
    ScanSource.staff_scan: "工作人员扫码",
    ScanSource.group: "教师团体签到",
    ScanSource.offline: "离线上传",
}


CLOSED_LABELS = {
    ClosedBy.exit_scan: "签退",
    ClosedBy.auto_closed: "自动关闭（未签退）",
    ClosedBy.staff: "工作人员更正",
}


def _local_minute(at: datetime | None) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if at else ""


def attendee_rows(
    session: Session, *, actor: Principal, activity_id: int, day: date | None
) -> tuple[Activity, list[tuple[object, ...]]]:
    """Every visit of the activity with its entry and exit times, for the venue's ledger
    (venues see masked names, as in the list): the activity and the rows."""
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    rows = session.exec(
        attendees_query(activity.id or 0, day=day, status=None, source=None).order_by(
            col(CheckIn.day), col(Student.school_id), col(Student.grade), col(CheckIn.entered_at)
        )
    ).all()
    schools = school_names(session, {s.school_id for _c, s in rows})
    lines: list[tuple[object, ...]] = [
        (
            c.day.isoformat(),
            schools.get(s.school_id, ""),
            s.grade,
            s.class_name,
            shown_name(actor, s.name, school_id=s.school_id, student_id=s.id),
            SOURCE_LABELS.get(ScanSource(c.source), c.source),
            _local_minute(c.entered_at),
            _local_minute(c.exited_at),
            CLOSED_LABELS.get(ClosedBy(c.closed_by), "") if c.closed_by else "",
            "" if c.minutes is None else c.minutes,
        )
        for c, s in rows
    ]
    return activity, lines


def audit_attendee_export(
    session: Session,
    *,
    actor: Principal,
    activity_id: int,
    day: date | None,
    rows: int,
    now: datetime,
    **detail: Any,
) -> None:
    audit_service.record(
        session,
        action=audit_service.Action.checkins_exported,
        at=now,
        actor=actor,
        object_type="activity",
        object_id=activity_id,
        school_id=actor.school_id,
        filter={"day": day.isoformat() if day else None},
        row_count=rows,
        **detail,
    )


def describe_attendee_export(
    session: Session,
    clock: Clock,
    *,
    actor: Principal,
    activity_id: int,
    day: date | None,
    file_format: FileFormat,
    job_id: int | None = None,
) -> TableExport:
    """The attendee list as the one exporter runs it, from the snapshot ``session``; audited
    (``checkins_exported``) with the rows the file holds and how the export ended."""
    activity, lines = attendee_rows(session, actor=actor, activity_id=activity_id, day=day)
    detail: dict[str, Any] = {} if job_id is None else {"job_id": job_id}

    def audit(audit_session: Session, written: int, error: str | None) -> None:
        audit_attendee_export(
            audit_session,
            actor=actor,
            activity_id=activity.id or 0,
            day=day,
            rows=written,
            now=clock.now(),
            outcome="done" if error is None else "failed",
            error=error,
            **detail,
        )

    return TableExport(
        header=ATTENDEE_HEADER,
        rows=lines,
        total=len(lines),
        filename=f"到场学生-{activity.id}.{file_format.value}",
        plain_filename=f"attendees-activity-{activity.id}.{file_format.value}",
        sheet_title="到场学生",
        audit=audit,
    )


def attendee_export_now(
    database: Database,
    clock: Clock,
    *,
    actor: Principal,
    activity_id: int,
    day: date | None,
    row_limit: int,
) -> ExportFile:
    """The attendee list answered directly, as CSV, for at most ``row_limit`` visits."""
    return export_directly(
        database,
        file_format=FileFormat.csv,
        prepare=lambda session: describe_attendee_export(
            session,
            clock,
            actor=actor,
            activity_id=activity_id,
            day=day,
            file_format=FileFormat.csv,
        ),
        row_limit=row_limit,
        job_endpoint=f"/api/v1/activities/{activity_id}/attendee-exports",
    )


def run_attendee_export_job(context: JobContext) -> JobResult:
    """The ``attendee-export`` job."""
    day = date.fromisoformat(context.params["day"]) if context.params.get("day") else None
    file_format = FileFormat(context.params.get("format", "csv"))
    return run_table_export(
        context,
        file_format=file_format,
        prepare=lambda session: describe_attendee_export(
            session,
            context.clock,
            actor=context.owner,
            activity_id=int(context.params["activity_id"]),
            day=day,
            file_format=file_format,
            job_id=context.job_id,
        ),
    )


ATTENDEE_EXPORT_KIND = JobKind("attendee-export", run_attendee_export_job)


def queue_attendee_export(
    session: Session,
    *,
    actor: Principal,
    activity_id: int,
    day: date | None,
    file_format: FileFormat,
    now: datetime,
) -> Job:
    """Queue the attendee list of an activity the caller organises (checked now)."""
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    return job_queue.enqueue(
        session,
        kind=ATTENDEE_EXPORT_KIND,
        params={
            "activity_id": activity.id,
            "day": day.isoformat() if day else None,
            "format": file_format.value,
        },
        owner=actor,
        now=now,
    )
