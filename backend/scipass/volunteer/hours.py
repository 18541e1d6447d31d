"""Volunteer totals and exports (issue 18 point 6), all from confirmed minutes
(``volunteer_signup.confirmed_minutes`` of attended sign-ups: the authoritative figure).

* A pupil sees their minutes and times per semester and per school year (the school
  calendar of :func:`scipass.core.clock.term_of`, by the shift's Beijing date).
* A school sees its pupils' totals for a school year, filtered by a threshold (e.g. at least
  24 hours); the list is audited (``volunteer_hours_viewed``).
* A venue (or a school, for its own roles) exports hours per pupil or per shift, CSV (UTF-8
  with BOM) or XLSX, through the one exporter (:mod:`scipass.jobs.exporter`): directly up to
  the row limit, or as the job ``volunteer-hours-export``; audited
  (``volunteer_hours_exported``) and names masked per viewer
  (:func:`scipass.roster.visibility.shown_name`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, col, select

from scipass.account.models import Account
from scipass.audit import service as audit_service
from scipass.core.auth import Principal
from scipass.core.clock import SHANGHAI, Clock, local_date, school_year_of, term_of
from scipass.core.db import Database
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
from scipass.org.models import School
from scipass.roster.models import Student
from scipass.roster.visibility import shown_name
from scipass.volunteer.models import (
    SignupStatus,
    VolunteerRole,
    VolunteerShift,
    VolunteerSignup,
)
from scipass.volunteer.schemas import MyVolunteerHours, PupilTotal, TermTotal, YearTotal


def hours(minutes: int) -> float:
    return round(minutes / 60, 2)


def _confirmed() -> Any:
    return (
        select(VolunteerSignup, VolunteerShift, VolunteerRole)
        .join(VolunteerShift, col(VolunteerShift.id) == VolunteerSignup.shift_id)
        .join(VolunteerRole, col(VolunteerRole.id) == VolunteerSignup.role_id)
        .where(
            VolunteerSignup.status == SignupStatus.attended.value,
            col(VolunteerSignup.confirmed_at).is_not(None),
            col(VolunteerSignup.confirmed_minutes) > 0,
        )
    )


def student_totals(session: Session, *, student_id: int) -> MyVolunteerHours:
    rows = session.exec(_confirmed().where(VolunteerSignup.student_id == student_id)).all()
    terms: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    years: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for signup, shift, _role in rows:
        term = term_of(local_date(shift.starts_at))
        for bucket in (terms[(term.school_year, term.semester.value)], years[term.school_year]):
            bucket[0] += signup.confirmed_minutes or 0
            bucket[1] += 1
    return MyVolunteerHours(
        student_id=student_id,
        terms=[
            TermTotal(school_year=y, semester=s, minutes=m, hours=hours(m), times=n)
            for (y, s), (m, n) in sorted(terms.items(), reverse=True)
        ],
        years=[
            YearTotal(school_year=y, minutes=m, hours=hours(m), times=n)
            for y, (m, n) in sorted(years.items(), reverse=True)
        ],
    )


def year_bounds(school_year: int) -> tuple[datetime, datetime]:
    """1 September of ``school_year`` to 1 September of the next, Beijing time."""
    return (
        datetime.combine(date(school_year, 9, 1), time(0), SHANGHAI),
        datetime.combine(date(school_year + 1, 9, 1), time(0), SHANGHAI),
    )


def school_totals(
    session: Session,
    *,
    actor: Principal,
    school_year: int | None,
    min_hours: float,
    now: datetime,
) -> list[PupilTotal]:
    """The school's pupils with at least ``min_hours`` confirmed in the school year (this
    one by default), most hours first; audited."""
    year = school_year if school_year is not None else school_year_of(local_date(now))
    start, end = year_bounds(year)
    rows = session.exec(
        _confirmed().where(
            VolunteerSignup.school_id == actor.school_id,
            col(VolunteerShift.starts_at) >= start,
            col(VolunteerShift.starts_at) < end,
        )
    ).all()
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for signup, _shift, _role in rows:
        totals[signup.student_id][0] += signup.confirmed_minutes or 0
        totals[signup.student_id][1] += 1
    wanted = {k: v for k, v in totals.items() if v[0] >= min_hours * 60}
    students = {
        s.id: s
        for s in session.exec(select(Student).where(col(Student.id).in_(list(wanted)))).all()
    }
    items = [
        PupilTotal(
            student_id=student_id,
            student_name=students[student_id].name,
            grade=students[student_id].grade,
            class_name=students[student_id].class_name,
            minutes=m,
            hours=hours(m),
            times=n,
        )
        for student_id, (m, n) in sorted(wanted.items(), key=lambda kv: (-kv[1][0], kv[0]))
    ]
    audit_service.record(
        session,
        action=audit_service.Action.volunteer_hours_viewed,
        at=now,
        actor=actor,
        object_type="school",
        object_id=actor.school_id,
        school_id=actor.school_id,
        school_year=year,
        min_hours=min_hours,
        rows=len(items),
    )
    return items


# --- the organiser's export ----------------------------------------------------------------------

SHIFT_HEADER = (
    "学生姓名",
    "学校",
    "岗位",
    "班次",
    "地点",
    "服务时长（分钟）",
    "服务时长（小时）",
    "确认人",
    "确认时间",
)
PUPIL_HEADER = (
    "学生姓名",
    "学校",
    "岗位",
    "服务次数",
    "服务时长（分钟）",
    "服务时长（小时）",
    "最近确认人",
    "最近确认时间",
)


def _served(signup: VolunteerSignup, shift: VolunteerShift) -> tuple[datetime, datetime]:
    """When the service ran, within the shift; without an exit scan, as long as confirmed."""
    start = max(signup.arrived_at or shift.starts_at, shift.starts_at)
    left = signup.left_at or start + timedelta(minutes=signup.confirmed_minutes or 0)
    return start, max(start, min(left, shift.ends_at))


def _minute(at: datetime | None) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if at else ""


def _shift_label(shift: VolunteerShift) -> str:
    start, end = shift.starts_at.astimezone(SHANGHAI), shift.ends_at.astimezone(SHANGHAI)
    return f"{start:%Y-%m-%d %H:%M}-{end:%H:%M}"


@dataclass(frozen=True, slots=True)
class HoursFilter:
    by: str  # "shift" or "pupil"
    from_date: date | None
    to_date: date | None
    student_id: int | None = None

    def params(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "from_date": self.from_date.isoformat() if self.from_date else None,
            "to_date": self.to_date.isoformat() if self.to_date else None,
            "student_id": self.student_id,
        }

    @classmethod
    def of(cls, params: dict[str, Any]) -> HoursFilter:
        return cls(
            by=params["by"],
            from_date=date.fromisoformat(params["from_date"]) if params["from_date"] else None,
            to_date=date.fromisoformat(params["to_date"]) if params["to_date"] else None,
            student_id=params.get("student_id"),
        )


def organiser_rows(
    session: Session, *, actor: Principal, where: HoursFilter
) -> list[tuple[VolunteerSignup, VolunteerShift, VolunteerRole, Student]]:
    """Confirmed sign-ups of the shifts the caller's organisation runs."""
    if actor.venue_id is not None:
        scope = VolunteerShift.venue_id == actor.venue_id
    else:
        scope = VolunteerShift.school_id == actor.school_id
    query = (
        _confirmed()
        .add_columns(Student)
        .join(Student, col(Student.id) == VolunteerSignup.student_id)
        .where(scope)
        .order_by(col(VolunteerShift.starts_at), col(VolunteerSignup.id))
    )
    if where.from_date is not None:
        query = query.where(
            col(VolunteerShift.starts_at) >= datetime.combine(where.from_date, time(0), SHANGHAI)
        )
    if where.to_date is not None:
        until = datetime.combine(where.to_date + timedelta(days=1), time(0), SHANGHAI)
        query = query.where(col(VolunteerShift.starts_at) < until)
    if where.student_id is not None:
        query = query.where(VolunteerSignup.student_id == where.student_id)
    return [(a, b, c, d) for a, b, c, d in session.exec(query).all()]


def confirmers(session: Session, subjects: set[str]) -> dict[str, str]:
    """Who confirmed, by name: ``account:<id>`` subjects as the accounts' display names (the
    subject itself when there is no such account or no name)."""
    ids = {int(sub.split(":", 1)[1]) for sub in subjects if sub.startswith("account:")}
    names = {
        f"account:{account_id}": name
        for account_id, name in session.exec(
            select(Account.id, Account.display_name).where(col(Account.id).in_(ids))
        ).all()
        if name
    }
    return {sub: names.get(sub, sub) for sub in subjects}


def describe_export(
    session: Session,
    clock: Clock,
    *,
    actor: Principal,
    where: HoursFilter,
    file_format: FileFormat,
    job_id: int | None = None,
) -> TableExport:
    rows = organiser_rows(session, actor=actor, where=where)
    school_ids = list({student.school_id for _s, _sh, _r, student in rows})
    schools = {
        s.id: s.name
        for s in session.exec(select(School).where(col(School.id).in_(school_ids))).all()
    }

    def name(student: Student) -> str:
        return shown_name(actor, student.name, school_id=student.school_id, student_id=student.id)

    confirmed_by = confirmers(session, {s.confirmed_by for s, *_ in rows if s.confirmed_by})

    lines: list[tuple[object, ...]]
    if where.by == "pupil":
        grouped: dict[int, list[Any]] = {}
        for signup, _shift, role, student in rows:
            entry = grouped.setdefault(student.id or 0, [student, set(), 0, 0, "", None])
            entry[1].add(role.name)
            entry[2] += 1
            entry[3] += signup.confirmed_minutes or 0
            if entry[5] is None or (signup.confirmed_at and signup.confirmed_at >= entry[5]):
                entry[4] = confirmed_by.get(signup.confirmed_by or "", "")
                entry[5] = signup.confirmed_at
        header: tuple[str, ...] = PUPIL_HEADER
        lines = [
            (
                name(student),
                schools.get(student.school_id, ""),
                "、".join(sorted(role_names)),
                times,
                minutes,
                hours(minutes),
                by,
                _minute(at),
            )
            for student, role_names, times, minutes, by, at in grouped.values()
        ]
    else:
        header = SHIFT_HEADER
        lines = [
            (
                name(student),
                schools.get(student.school_id, ""),
                role.name,
                _shift_label(shift),
                shift.place,
                signup.confirmed_minutes or 0,
                hours(signup.confirmed_minutes or 0),
                confirmed_by.get(signup.confirmed_by or "", ""),
                _minute(signup.confirmed_at),
            )
            for signup, shift, role, student in rows
        ]
    detail: dict[str, Any] = {} if job_id is None else {"job_id": job_id}

    def audit(audit_session: Session, written: int, error: str | None) -> None:
        audit_service.record(
            audit_session,
            action=audit_service.Action.volunteer_hours_exported,
            at=clock.now(),
            actor=actor,
            object_type="venue" if actor.venue_id else "school",
            object_id=actor.venue_id or actor.school_id,
            school_id=actor.school_id,
            filter=where.params(),
            row_count=written,
            outcome="done" if error is None else "failed",
            error=error,
            **detail,
        )

    suffix = file_format.value
    return TableExport(
        header=header,
        rows=lines,
        total=len(lines),
        filename=f"志愿服务时长-{'按学生' if where.by == 'pupil' else '按班次'}.{suffix}",
        plain_filename=f"volunteer-hours-{where.by}.{suffix}",
        sheet_title="志愿服务时长",
        audit=audit,
    )


def export_now(
    database: Database,
    clock: Clock,
    *,
    actor: Principal,
    where: HoursFilter,
    file_format: FileFormat,
    row_limit: int,
) -> ExportFile:
    return export_directly(
        database,
        file_format=file_format,
        prepare=lambda session: describe_export(
            session, clock, actor=actor, where=where, file_format=file_format
        ),
        row_limit=row_limit,
        job_endpoint="/api/v1/volunteer-hours/exports",
    )


def run_export_job(context: JobContext) -> JobResult:
    """The ``volunteer-hours-export`` job."""
    file_format = FileFormat(context.params.get("format", "csv"))
    where = HoursFilter.of(context.params)
    return run_table_export(
        context,
        file_format=file_format,
        prepare=lambda session: describe_export(
            session,
            context.clock,
            actor=context.owner,
            where=where,
            file_format=file_format,
            job_id=context.job_id,
        ),
    )


EXPORT_KIND = JobKind("volunteer-hours-export", run_export_job)


def queue_export(
    session: Session,
    *,
    actor: Principal,
    where: HoursFilter,
    file_format: FileFormat,
    now: datetime,
) -> Job:
    return job_queue.enqueue(
        session,
        kind=EXPORT_KIND,
        params={**where.params(), "format": file_format.value},
        owner=actor,
        now=now,
    )


# --- a pupil's hours in the fields of the national volunteer system (中国志愿服务网) ----------

NATIONAL_HEADER = (
    "志愿者姓名",
    "证件类型",
    "证件号码",
    "服务项目名称",
    "服务岗位",
    "服务开始时间",
    "服务结束时间",
    "服务时长（小时）",
    "记录人",
    "备注",
)


def describe_national_export(
    session: Session,
    clock: Clock,
    *,
    actor: Principal,
    where: HoursFilter,
) -> TableExport:
    """One pupil's confirmed shifts at the caller's venue, one row each, in the columns of
    the national system's import of service hours (补录服务时长). SciPass holds no ID
    number: the two ID columns are left for the venue to fill in. The name is the pupil's
    full name (the national system registers volunteers under it); audited."""
    rows = organiser_rows(session, actor=actor, where=where)
    confirmed_by = confirmers(session, {s.confirmed_by for s, *_ in rows if s.confirmed_by})
    lines = [
        (
            student.name,
            "",
            "",
            f"{role.name}（{shift.place}）" if shift.place else role.name,
            role.name,
            *map(_minute, _served(signup, shift)),
            hours(signup.confirmed_minutes or 0),
            confirmed_by.get(signup.confirmed_by or "", ""),
            "SciPass 确认；证件类型与号码请场馆补填",
        )
        for signup, shift, role, student in rows
    ]

    def audit(audit_session: Session, written: int, error: str | None) -> None:
        audit_service.record(
            audit_session,
            action=audit_service.Action.volunteer_hours_exported,
            at=clock.now(),
            actor=actor,
            object_type="student",
            object_id=where.student_id,
            filter={**where.params(), "format": "national"},
            row_count=written,
            outcome="done" if error is None else "failed",
            error=error,
        )

    return TableExport(
        header=NATIONAL_HEADER,
        rows=lines,
        total=len(lines),
        filename=f"志愿服务时长-全国志愿服务信息系统-{where.student_id}.csv",
        plain_filename=f"volunteer-hours-national-{where.student_id}.csv",
        sheet_title="服务时长",
        audit=audit,
    )


def national_export_now(
    database: Database, clock: Clock, *, actor: Principal, where: HoursFilter, row_limit: int
) -> ExportFile:
    return export_directly(
        database,
        file_format=FileFormat.csv,
        prepare=lambda session: describe_national_export(session, clock, actor=actor, where=where),
        row_limit=row_limit,
        job_endpoint="/api/v1/volunteer-hours/exports",
    )
