"""Exports of participation records (写实记录).

* CSV and XLSX in the 写实记录 layout of the provincial evaluation platforms, one row per
  record, for a school, a region, a class or a student (issue 5, point 7). Rows come from one
  streamed query (``yield_per``), narrowed by :func:`repository.visible` and the caller's
  :class:`RecordFilter`, and ordered by school, grade, class, student number, start, id;
  nothing holds the whole export in memory.
* A student's 科技实践档案 as PDF (issue 5, point 8; the tracking file of seed 002 二.(四)):
  every record of the filter, totals, and the head of the student's archive hash chain, so a
  printed file can be checked against the chain. Without a status filter it lists the records
  that count (``COUNTED``: not rejected, withdrawn or voided).

A CSV or XLSX export, answered directly (at most ``SCIPASS_EXPORT_SYNC_ROW_LIMIT`` rows) or
made by a job, is described once (:func:`describe_export`) and run by the one exporter
(:mod:`scipass.jobs.exporter`): the count, the rows and the file names from one snapshot, and
the audit entries (who, the filter, the rows the file holds, how it ended) when it ends.

Scope: a student exports only their own records; school staff only their school's (another
``school_id`` is "not found"); a bureau only inside its region (a region outside it is
refused, a school outside it is "not found"); the platform admin anything.

The grade and class are the student's current ones (a record does not store them). The
attester's phone is always masked. Every format shows the record's marks (代填标注: 家长代为确认,
家长代填, 教师代为确认; :func:`labels.marks`) when someone other than the pupil gave the pupil's
side.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, func
from sqlalchemy import select as sa_select  # typed for more columns than sqlmodel's select
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core.auth import SCHOOL_ROLES, Principal, Role, region_contains
from scipass.core.clock import SHANGHAI, Clock, local_date
from scipass.core.db import Database
from scipass.jobs import queue as job_queue
from scipass.jobs.exporter import (
    ExportFile,
    FileFormat,
    PupilRecordsExport,
    TableExport,
    Withheld,
    export_directly,
    run_table_export,
)
from scipass.jobs.models import Job
from scipass.jobs.queue import JobContext, JobKind, JobKinds, JobResult
from scipass.org.errors import OrganisationNotFound, OutsideRegion
from scipass.org.models import Region, School
from scipass.record import labels
from scipass.record.models import ParticipationRecord, RecordEvidence
from scipass.record.repository import RecordFilter, visible
from scipass.roster import service as roster_service
from scipass.roster.models import Student
from scipass.roster.visibility import shown_name

HEADER = (
    "学号",
    "姓名",
    "年级",
    "班级",
    "活动名称",
    "类别",
    "评价维度",
    "组织单位",
    "开始时间",
    "结束时间",
    "时长（分钟）",
    "角色",
    "成果/奖项",
    "状态",
    "证明材料数",
    "证明人",
    "证明人联系电话",
    "学校",
    "代填标注",  # 家长代为确认 / 家长代填 / 教师代为确认; empty for the pupil's own
)
SHEET_TITLE = "写实记录"
EXPORT_JOB = "record-export"
BATCH = 1000  # rows fetched from the database at a time


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


# --- scope and audit -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """What an export makes: the filter it runs with, how many rows, the file names."""

    record_filter: RecordFilter
    row_count: int
    filename: str
    plain_filename: str  # the ASCII name for clients that cannot read filename*
    export_format: ExportFormat
    school_id: int | None  # where the audit entries file the export
    region_code: str | None


def school_by_id(session: Session, school_id: int) -> School:
    school = session.get(School, school_id)
    if school is None:
        raise OrganisationNotFound("学校不存在", "School not found")
    return school


def scoped_filter(
    session: Session, *, principal: Principal, requested: RecordFilter
) -> RecordFilter:
    """``requested`` narrowed to what ``principal`` may export; a school or region outside
    the caller's scope is refused rather than silently emptied."""
    role = principal.role
    if role is Role.student:
        return replace(requested, student_id=principal.student_id)
    if role in SCHOOL_ROLES:
        if requested.school_id is not None and requested.school_id != principal.school_id:
            raise OrganisationNotFound("学校不存在", "School not found")
        return replace(requested, school_id=principal.school_id)
    if role is Role.bureau:
        scope = principal.region_code or ""
        if requested.region_code and not region_contains(scope, requested.region_code):
            raise OutsideRegion()
        if requested.school_id is not None:
            school = session.get(School, requested.school_id)
            if school is None or not scope or not region_contains(scope, school.region_code):
                raise OrganisationNotFound("学校不存在", "School not found")
        if not requested.region_code and scope:
            return replace(requested, region_code=scope)
        return requested
    if requested.school_id is not None:
        school_by_id(session, requested.school_id)
    return requested


def record_conditions(
    principal: Principal, record_filter: RecordFilter
) -> list[ColumnElement[bool]]:
    return [visible(principal), *record_filter.conditions()]


def count(session: Session, *, principal: Principal, record_filter: RecordFilter) -> int:
    query = (
        select(func.count())
        .select_from(ParticipationRecord)
        .where(*record_conditions(principal, record_filter))
    )
    return int(session.exec(query).one())


def _audit_place(
    session: Session, principal: Principal, record_filter: RecordFilter
) -> tuple[School | None, str | None]:
    """The one school an export covers (if it covers one and the caller may see it) and the
    region to file the audit entry under."""
    school_id = record_filter.school_id
    if school_id is None and principal.role in SCHOOL_ROLES | {Role.student}:
        school_id = principal.school_id
    if school_id is None and record_filter.student_id is not None:
        student = session.get(Student, record_filter.student_id)
        school_id = student.school_id if student is not None else None
    school = session.get(School, school_id) if school_id is not None else None
    if school is not None and roster_service.can_see_school(principal, school):
        return school, school.region_code
    return None, record_filter.region_code or principal.region_code


def plan_export(
    session: Session,
    *,
    principal: Principal,
    record_filter: RecordFilter,
    export_format: ExportFormat,
    row_count: int,
    now: datetime,
) -> ExportPlan:
    """The file an export of ``record_filter`` (already scoped) makes: its names and where
    its audit entries are filed."""
    school, region_code = _audit_place(session, principal, record_filter)
    if school is not None:
        scope = school.name
    elif region_code:
        region = session.get(Region, region_code)
        scope = region.name if region is not None else region_code
    else:
        scope = "全部"
    if principal.role is Role.student and principal.student_id is not None:
        student = session.get(Student, principal.student_id)
        if student is not None:
            scope = f"{scope}-{student.name}"
    day = local_date(now).isoformat()
    if school is not None:
        plain_scope = f"school-{school.id}"
    else:
        plain_scope = f"region-{region_code}" if region_code else "all"
    if principal.role is Role.student and principal.student_id is not None:
        plain_scope = f"student-{principal.student_id}"
    return ExportPlan(
        record_filter=record_filter,
        row_count=row_count,
        filename=f"写实记录-{scope}-{day}.{export_format.value}",
        plain_filename=f"records-{plain_scope}-{day}.{export_format.value}",
        export_format=export_format,
        school_id=school.id if school is not None else None,
        region_code=region_code,
    )


def _audit_export(
    session: Session, *, principal: Principal, plan: ExportPlan, now: datetime, **detail: Any
) -> None:
    audit_service.record(
        session,
        action=audit_service.Action.records_exported,
        at=now,
        actor=principal,
        object_type="participation_record",
        school_id=plan.school_id,
        region_code=plan.region_code,
        format=plan.export_format.value,
        filter=plan.record_filter.describe(),
        row_count=plan.row_count,
        **detail,
    )


def queue_export(
    session: Session,
    *,
    principal: Principal,
    requested: RecordFilter,
    export_format: ExportFormat,
    now: datetime,
) -> Job:
    """Queue an export of any size as a job (``POST /record-exports``): the scope is checked
    now (an out-of-scope school or region is refused here), the rows are read by the worker."""
    record_filter = scoped_filter(session, principal=principal, requested=requested)
    return job_queue.enqueue(
        session,
        kind=EXPORT_KIND,
        params={"format": export_format.value, "filter": record_filter.describe()},
        owner=principal,
        now=now,
    )


def describe_export(
    session: Session,
    clock: Clock,
    *,
    principal: Principal,
    requested: RecordFilter,
    export_format: ExportFormat,
    job_id: int | None = None,
) -> TableExport | PupilRecordsExport:
    """A record export as the one exporter runs it (:mod:`scipass.jobs.exporter`), from the
    snapshot ``session``: the filter scoped to the caller (checked again when a job runs),
    the count, the rows and the file names, and its audit entries: ``records_exported`` when
    the file is complete, and ``records_export_finished`` (``done``, or ``failed`` with the
    rows written) in every case.

    A school's, a region's or the platform's export goes to the 综评 platform: it is a
    :class:`PupilRecordsExport`, from which the exporter leaves out the pupils under 14
    without ``record_export`` consent, and both audit entries count them
    (``withheld_rows``, ``withheld_students``). A pupil's export of their own records is the
    family's own copy, not an export to the platform: a plain :class:`TableExport`."""
    record_filter = scoped_filter(session, principal=principal, requested=requested)
    total = count(session, principal=principal, record_filter=record_filter)
    plan = plan_export(
        session,
        principal=principal,
        record_filter=record_filter,
        export_format=export_format,
        row_count=total,
        now=clock.now(),
    )
    detail: dict[str, Any] = {} if job_id is None else {"job_id": job_id}

    def audit(
        audit_session: Session, written: int, error: str | None, withheld: Withheld | None = None
    ) -> None:
        counts = {**detail, **(withheld.describe() if withheld is not None else {})}
        if error is None:
            done = replace(plan, row_count=written)
            _audit_export(audit_session, principal=principal, plan=done, now=clock.now(), **counts)
        _finished_entry(
            audit_session,
            clock,
            principal=principal,
            plan=plan,
            sent=written,
            error=error,
            **counts,
        )

    if principal.role is Role.student:
        return TableExport(
            header=HEADER,
            rows=rows(session, principal=principal, record_filter=record_filter),
            total=total,
            filename=plan.filename,
            plain_filename=plan.plain_filename,
            sheet_title=SHEET_TITLE,
            audit=audit,
        )
    return PupilRecordsExport(
        header=HEADER,
        rows=read_rows(session, principal=principal, record_filter=record_filter),
        student_of=_student_of,
        cells=lambda row: export_row(row, principal),
        students=record_students(principal, record_filter),
        total=total,
        today=local_date(clock.now()),
        filename=plan.filename,
        plain_filename=plan.plain_filename,
        sheet_title=SHEET_TITLE,
        audit=audit,
    )


def record_students(principal: Principal, record_filter: RecordFilter) -> Select[*tuple[Any, ...]]:
    """The student of every record an export of ``record_filter`` holds, one per record."""
    return sa_select(col(ParticipationRecord.student_id)).where(
        *record_conditions(principal, record_filter)
    )


def _student_of(row: Sequence[Any]) -> int:
    """The student a row of :func:`export_query` is about."""
    return int(row[_STUDENT_ID])


def export_now(
    database: Database,
    clock: Clock,
    *,
    principal: Principal,
    requested: RecordFilter,
    export_format: ExportFormat,
    row_limit: int,
) -> ExportFile:
    """A direct export (``GET /records/export``) of at most ``row_limit`` rows."""
    return export_directly(
        database,
        file_format=FileFormat(export_format.value),
        prepare=lambda session: describe_export(
            session, clock, principal=principal, requested=requested, export_format=export_format
        ),
        row_limit=row_limit,
        job_endpoint="/api/v1/record-exports",
    )


def run_export_job(context: JobContext) -> JobResult:
    """The ``record-export`` job."""
    export_format = ExportFormat(context.params["format"])
    requested = RecordFilter.from_described(context.params["filter"])
    return run_table_export(
        context,
        file_format=FileFormat(export_format.value),
        prepare=lambda session: describe_export(
            session,
            context.clock,
            principal=context.owner,
            requested=requested,
            export_format=export_format,
            job_id=context.job_id,
        ),
    )


EXPORT_KIND = JobKind(EXPORT_JOB, run_export_job)


def register_kinds(kinds: JobKinds) -> None:
    kinds.register(EXPORT_KIND.name, EXPORT_KIND.handler, max_attempts=EXPORT_KIND.max_attempts)


# --- rows ------------------------------------------------------------------------------------


def local_time(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def attester(name: str, unit: str) -> str:
    """证明人 as one cell: the name, and the unit in full-width brackets."""
    return f"{name}（{unit}）" if unit else name


def export_query(principal: Principal, record_filter: RecordFilter) -> Select[*tuple[Any, ...]]:
    record = ParticipationRecord
    evidence = (
        select(func.count(col(RecordEvidence.id)))
        .where(col(RecordEvidence.record_id) == col(record.id))
        .correlate(record)
        .scalar_subquery()
    )
    return (
        sa_select(
            col(Student.student_no),
            col(Student.name),
            col(Student.grade),
            col(Student.class_name),
            col(record.title),
            col(record.category),
            col(record.dimension),
            col(record.organiser_name),
            col(record.started_at),
            col(record.ended_at),
            col(record.minutes),
            col(record.role),
            col(record.outcome),
            col(record.status),
            evidence.label("evidence_count"),
            col(record.attester_name),
            col(record.attester_unit),
            col(record.attester_phone),
            col(School.name),
            col(record.student_confirmed_as),
            col(record.reflection_by),
            col(record.school_id),
            col(record.student_id),
            col(record.source),
        )
        .select_from(record)
        .join(Student, col(Student.id) == col(record.student_id))
        .join(School, col(School.id) == col(record.school_id))
        .where(*record_conditions(principal, record_filter))
        .order_by(
            col(record.school_id),
            col(Student.grade),
            col(Student.class_name),
            col(Student.student_no),
            col(record.started_at),
            col(record.id),
        )
    )


_STUDENT_ID = 22  # the position of ``student_id`` in a row of :func:`export_query`


def export_row(row: Sequence[Any], viewer: Principal) -> list[object]:
    """One database row as the cells of :data:`HEADER`, the name as ``viewer`` may see it."""
    (
        student_no,
        name,
        grade,
        class_name,
        title,
        category,
        dimension,
        organiser,
        started_at,
        ended_at,
        minutes,
        role,
        outcome,
        status,
        evidence_count,
        attester_name,
        attester_unit,
        attester_phone,
        school_name,
        confirmed_as,
        reflection_by,
        school_id,
        student_id,
        source,
    ) = row
    return [
        student_no,
        shown_name(viewer, name, school_id=school_id, student_id=student_id),
        labels.grade(grade),
        class_name,
        title,
        labels.label(labels.CATEGORY, category),
        labels.label(labels.DIMENSION, dimension),
        organiser,
        local_time(started_at),
        local_time(ended_at),
        minutes,
        labels.label(labels.ROLE, role),
        labels.outcome_with_note(outcome, source),
        labels.label(labels.STATUS, status),
        evidence_count,
        attester(attester_name, attester_unit),
        labels.mask_phone(attester_phone) if attester_phone else "",
        school_name,
        labels.marks(confirmed_as, reflection_by),
    ]


def rows(
    session: Session, *, principal: Principal, record_filter: RecordFilter
) -> Iterator[list[object]]:
    """The export rows, fetched :data:`BATCH` at a time (a server-side cursor on
    PostgreSQL)."""
    for row in read_rows(session, principal=principal, record_filter=record_filter):
        yield export_row(row, principal)


def read_rows(
    session: Session, *, principal: Principal, record_filter: RecordFilter
) -> Iterator[Sequence[Any]]:
    """The rows of :func:`export_query` as read, lazily (the query runs at the first row)."""
    query = export_query(principal, record_filter).execution_options(yield_per=BATCH)
    yield from session.execute(query)


def _finished_entry(
    session: Session,
    clock: Clock,
    *,
    principal: Principal,
    plan: ExportPlan,
    sent: int,
    error: str | None,
    **detail: Any,
) -> None:
    """``records_export_finished``: ``done``, or ``failed`` with how many rows were sent."""
    audit_service.record(
        session,
        action=audit_service.Action.records_export_finished,
        at=clock.now(),
        actor=principal,
        object_type="participation_record",
        school_id=plan.school_id,
        region_code=plan.region_code,
        format=plan.export_format.value,
        filter=plan.record_filter.describe(),
        outcome="done" if error is None else "failed",
        rows_sent=sent,
        row_count=plan.row_count,
        error=error,
        **detail,
    )


# --- the student's file (PDF) ----------------------------------------------------------------
