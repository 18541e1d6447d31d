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

Every export is written to the audit log (who, the filter, the row count) in the request's
transaction, before any byte is sent. A streamed body runs after the request's session has
closed, so it reads through a session of its own (:meth:`Database.read_only_session`).

Scope: a student exports only their own records; school staff only their school's (another
``school_id`` is "not found"); a bureau only inside its region (a region outside it is
refused, a school outside it is "not found"); the platform admin anything.

The grade and class are the student's current ones (a record does not store them). The
attester's phone is always masked.
"""

from __future__ import annotations

import io
import logging
from collections import defaultdict
from collections.abc import Container, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import ColumnElement, Select, func
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.core import pdf_fonts
from scipass.core.auth import SCHOOL_ROLES, Principal, Role, region_contains
from scipass.core.clock import SHANGHAI, Clock, local_date
from scipass.core.config import Settings
from scipass.core.db import Database
from scipass.core.exports import csv_chunks, export_text, xlsx_chunks
from scipass.core.pdf_fonts import LATIN_FONT
from scipass.org.errors import OrganisationNotFound, OutsideRegion
from scipass.org.models import Region, School
from scipass.record import chain, labels
from scipass.record.models import COUNTED, ParticipationRecord, RecordEvidence
from scipass.record.repository import RecordFilter, visible
from scipass.roster import service as roster_service
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student
from scipass.roster.visibility import shown_name

logger = logging.getLogger("scipass.exports")

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
)
SHEET_TITLE = "写实记录"
BATCH = 1000  # rows fetched from the database at a time


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


# --- scope and audit -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """What an export will stream: the filter it runs with, how many rows, the file name."""

    record_filter: RecordFilter
    row_count: int
    filename: str
    plain_filename: str  # the ASCII name for clients that cannot read filename*
    export_format: ExportFormat
    school_id: int | None  # where the audit entries file the export
    region_code: str | None


def _school(session: Session, school_id: int) -> School:
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
        _school(session, requested.school_id)
    return requested


def _records(principal: Principal, record_filter: RecordFilter) -> list[ColumnElement[bool]]:
    return [visible(principal), *record_filter.conditions()]


def count(session: Session, *, principal: Principal, record_filter: RecordFilter) -> int:
    query = (
        select(func.count())
        .select_from(ParticipationRecord)
        .where(*_records(principal, record_filter))
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


def start_export(
    session: Session,
    *,
    principal: Principal,
    requested: RecordFilter,
    export_format: ExportFormat,
    now: datetime,
) -> ExportPlan:
    """Scope the filter, count the rows and write the audit entry (in ``session``, so it
    commits with the request); the rows themselves are streamed afterwards."""
    record_filter = scoped_filter(session, principal=principal, requested=requested)
    rows = count(session, principal=principal, record_filter=record_filter)
    school, region_code = _audit_place(session, principal, record_filter)
    audit_service.record(
        session,
        action=audit_service.Action.records_exported,
        at=now,
        actor=principal,
        object_type="participation_record",
        school_id=school.id if school is not None else None,
        region_code=region_code,
        format=export_format.value,
        filter=record_filter.describe(),
        row_count=rows,
    )
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
        row_count=rows,
        filename=f"写实记录-{scope}-{day}.{export_format.value}",
        plain_filename=f"records-{plain_scope}-{day}.{export_format.value}",
        export_format=export_format,
        school_id=school.id if school is not None else None,
        region_code=region_code,
    )


# --- rows ------------------------------------------------------------------------------------


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def attester(name: str, unit: str) -> str:
    """证明人 as one cell: the name, and the unit in full-width brackets."""
    return f"{name}（{unit}）" if unit else name


def export_query(principal: Principal, record_filter: RecordFilter) -> Select[Any]:
    record = ParticipationRecord
    evidence = (
        select(func.count(col(RecordEvidence.id)))
        .where(col(RecordEvidence.record_id) == col(record.id))
        .correlate(record)
        .scalar_subquery()
    )
    return (
        select(
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
            col(record.school_id),
            col(record.student_id),
        )
        .select_from(record)
        .join(Student, col(Student.id) == col(record.student_id))
        .join(School, col(School.id) == col(record.school_id))
        .where(*_records(principal, record_filter))
        .order_by(
            col(record.school_id),
            col(Student.grade),
            col(Student.class_name),
            col(Student.student_no),
            col(record.started_at),
            col(record.id),
        )
    )


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
        school_id,
        student_id,
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
        _local(started_at),
        _local(ended_at),
        minutes,
        labels.label(labels.ROLE, role),
        outcome,
        labels.label(labels.STATUS, status),
        evidence_count,
        attester(attester_name, attester_unit),
        labels.mask_phone(attester_phone) if attester_phone else "",
        school_name,
    ]


def rows(
    session: Session, *, principal: Principal, record_filter: RecordFilter
) -> Iterator[list[object]]:
    """The export rows, fetched :data:`BATCH` at a time (a server-side cursor on
    PostgreSQL)."""
    query = export_query(principal, record_filter).execution_options(yield_per=BATCH)
    for row in session.exec(query):
        yield export_row(row, principal)


class _Counted:
    """Rows passed through, counted as they go (how far a broken export got)."""

    def __init__(self, rows: Iterator[list[object]]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[list[object]]:
        for row in self._rows:
            yield row
            self.count += 1


def _streamed_rows(
    database: Database, principal: Principal, record_filter: RecordFilter
) -> Iterator[list[object]]:
    session = database.read_only_session()
    try:
        yield from rows(session, principal=principal, record_filter=record_filter)
    finally:
        session.close()


def stream(
    database: Database, clock: Clock, *, principal: Principal, plan: ExportPlan
) -> Iterator[bytes]:
    """The file's body (CSV for Excel, or XLSX), read through a session of its own after the
    request's has closed. How it ended goes to the audit log after the entry that
    :func:`start_export` wrote: ``records_export_finished`` with ``outcome`` ``done``, or
    ``failed`` with how many rows were sent and why (a database gone mid-way, the client gone),
    so a broken export is never on record as delivered."""
    counted = _Counted(_streamed_rows(database, principal, plan.record_filter))
    if plan.export_format is ExportFormat.csv:
        chunks = csv_chunks(HEADER, counted)
    else:
        chunks = xlsx_chunks(SHEET_TITLE, HEADER, counted)
    error: str | None = "client_disconnected"
    try:
        yield from chunks
        error = None
    except Exception as exc:
        error = type(exc).__name__
        raise
    finally:
        _log_finished(
            database, clock, principal=principal, plan=plan, sent=counted.count, error=error
        )


def _log_finished(
    database: Database,
    clock: Clock,
    *,
    principal: Principal,
    plan: ExportPlan,
    sent: int,
    error: str | None,
) -> None:
    try:
        with database.transaction() as session:
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
            )
    except Exception:  # the database may be what broke the export
        logger.exception("could not log the end of an export (%s)", error or "done")


# --- the student's file (PDF) ----------------------------------------------------------------

HASH_FONT = "Courier"
PDF_COLUMNS = (
    ("活动名称", 34),
    ("类别", 20),
    ("评价维度", 15),
    ("组织单位", 24),
    ("日期", 19),
    ("时长（分钟）", 12),
    ("角色", 14),
    ("成果/奖项", 18),
    ("状态", 18),
)


class MixedText:
    """Runs of characters, each in a font that has them, as Paragraph markup or drawn on a
    canvas."""

    def __init__(self, font: str, covered: Container[int]) -> None:
        self.font = font
        self.covered = covered

    def runs(self, text: str) -> list[tuple[str, str]]:
        """``(text, font)`` pairs, without the characters no export may hold."""
        result: list[tuple[str, str]] = []
        for char in export_text(text):
            latin = ord(char) not in self.covered and not char.isspace()
            face = LATIN_FONT if latin else self.font
            if result and result[-1][1] == face:
                result[-1] = (result[-1][0] + char, face)
            else:
                result.append((char, face))
        return result

    def __call__(self, value: object) -> str:
        parts = []
        for run, face in self.runs("" if value is None else str(value)):
            escaped = escape(run)
            parts.append(escaped if face == self.font else f'<font face="{face}">{escaped}</font>')
        return "".join(parts)

    def draw(self, canvas: Any, x: float, y: float, value: str, size: float) -> None:
        for run, face in self.runs(value):
            canvas.setFont(face, size)
            canvas.drawString(x, y, run)
            x += pdfmetrics.stringWidth(run, face, size)


def _term_label(record_filter: RecordFilter) -> str:
    semester = labels.SEMESTER.get(record_filter.semester or "", "")
    if record_filter.school_year is not None:
        year = record_filter.school_year
        return f"{year}-{year + 1}学年{semester}"
    return f"各学年{semester}" if semester else "全部学年"


def _dates(record: ParticipationRecord) -> str:
    start, end = local_date(record.started_at), local_date(record.ended_at)
    return start.isoformat() if start == end else f"{start.isoformat()}至{end.isoformat()}"


@dataclass(frozen=True, slots=True)
class StudentFile:
    content: bytes
    filename: str
    plain_filename: str  # the ASCII name for clients that cannot read filename*
    row_count: int


def _student_in_scope(session: Session, principal: Principal, student_id: int) -> Student:
    student = session.get(Student, student_id)
    if student is None:
        raise StudentNotFound()
    if principal.role is Role.student:
        if principal.student_id != student.id:
            raise StudentNotFound()
        return student
    school = session.get(School, student.school_id)
    if school is None or not roster_service.can_see_school(principal, school):
        raise StudentNotFound()
    return student


def student_file(
    session: Session,
    *,
    principal: Principal,
    student_id: int,
    requested: RecordFilter,
    settings: Settings,
    now: datetime,
) -> StudentFile:
    """A student's 科技实践档案 as PDF, and its audit entry."""
    student = _student_in_scope(session, principal, student_id)
    font = pdf_fonts.chinese_font(settings)
    school = _school(session, student.school_id)
    record_filter = RecordFilter(
        student_id=student.id,
        school_year=requested.school_year,
        semester=requested.semester,
        status=requested.status,
    )
    conditions = _records(principal, record_filter)
    if record_filter.status is None:
        conditions.append(col(ParticipationRecord.status).in_([s.value for s in COUNTED]))
    records = list(
        session.exec(
            select(ParticipationRecord)
            .where(*conditions)
            .order_by(col(ParticipationRecord.started_at), col(ParticipationRecord.id))
        ).all()
    )
    length, head_hash = chain.head(session, student.id or 0)
    name = shown_name(principal, student.name, school_id=student.school_id, student_id=student.id)
    content = _render(
        font=font.name,
        covered=font.covered,
        student=student,
        school=school,
        record_filter=record_filter,
        records=records,
        chain_head=(length, head_hash),
        now=now,
        name=name,
    )
    audit_service.record(
        session,
        action=audit_service.Action.records_exported,
        at=now,
        actor=principal,
        object_type="participation_record",
        object_id=f"student:{student.id}",
        school_id=school.id,
        region_code=school.region_code,
        format="pdf",
        filter=record_filter.describe(),
        row_count=len(records),
    )
    return StudentFile(
        content=content,
        filename=f"科技实践档案-{name}.pdf",
        plain_filename=f"record-file-{student.student_no}.pdf",
        row_count=len(records),
    )


def _render(
    *,
    font: str,
    covered: Container[int],
    name: str,
    student: Student,
    school: School,
    record_filter: RecordFilter,
    records: list[ParticipationRecord],
    chain_head: tuple[int, str],
    now: datetime,
) -> bytes:
    text = MixedText(font, covered)
    title = ParagraphStyle("title", fontName=font, fontSize=18, leading=24, alignment=1)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=15, wordWrap="CJK")
    heading = ParagraphStyle("heading", parent=body, fontSize=12, leading=18, spaceBefore=8)
    cell = ParagraphStyle("cell", fontName=font, fontSize=8, leading=10.5, wordWrap="CJK")
    code = ParagraphStyle("code", fontName=HASH_FONT, fontSize=8.5, leading=11, wordWrap="CJK")

    status = (
        labels.label(labels.STATUS, record_filter.status.value)
        if record_filter.status is not None
        else "计入统计的记录（不含未通过、已撤回、已作废）"
    )
    story: list[Any] = [
        Paragraph(text("科技实践档案"), title),
        Spacer(1, 4 * mm),
        Paragraph(text(f"姓名：{name}　　学号：{student.student_no}"), body),
        Paragraph(text(f"学校：{school.name}"), body),
        Paragraph(
            text(f"年级班级：{labels.grade(student.grade)}{student.class_name}"),
            body,
        ),
        Paragraph(text(f"学年学期：{_term_label(record_filter)}　　状态：{status}"), body),
        Paragraph(text("写实记录"), heading),
    ]

    header = [Paragraph(text(name), cell) for name, _ in PDF_COLUMNS]
    table_rows: list[list[Any]] = [header]
    minutes_by_dimension: dict[str, int] = defaultdict(int)
    for record in records:
        minutes_by_dimension[record.dimension] += record.minutes
        values = (
            record.title,
            labels.label(labels.CATEGORY, record.category),
            labels.label(labels.DIMENSION, record.dimension),
            record.organiser_name,
            _dates(record),
            record.minutes,
            labels.label(labels.ROLE, record.role),
            record.outcome,
            labels.label(labels.STATUS, record.status),
        )
        table_rows.append([Paragraph(text(value), cell) for value in values])
    if not records:
        table_rows.append([Paragraph(text("（无记录）"), cell)] + [""] * (len(PDF_COLUMNS) - 1))
    table = Table(table_rows, colWidths=[width * mm for _, width in PDF_COLUMNS], repeatRows=1)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ]
    if not records:
        style.append(("SPAN", (0, 1), (-1, 1)))
    table.setStyle(TableStyle(style))
    story.append(table)

    total = sum(record.minutes for record in records)
    known = [key.value for key in labels.DIMENSION]
    order = known + sorted(set(minutes_by_dimension) - set(known))
    per_dimension = "；".join(
        f"{labels.label(labels.DIMENSION, key)} {minutes_by_dimension[key]} 分钟"
        for key in order
        if key in minutes_by_dimension
    )
    length, head_hash = chain_head
    story += [
        Paragraph(text("统计"), heading),
        Paragraph(text(f"记录数：{len(records)} 条　　总时长：{total} 分钟"), body),
        Paragraph(text(f"各评价维度时长：{per_dimension or '无'}"), body),
        Paragraph(text("归档链"), heading),
        Paragraph(text(f"归档链长度：{length}"), body),
        Paragraph(text("归档链头哈希："), body),
        Paragraph(escape(head_hash), code),
        Spacer(1, 6 * mm),
        Paragraph(
            text(f"生成时间：{_local(now)}（北京时间）　　由科学实践护照（SciPass）生成"), body
        ),
    ]

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        text.draw(canvas, 18 * mm, 10 * mm, f"科技实践档案 · {name} · 第 {document.page} 页", 8)
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"科技实践档案 {name}",
        author="SciPass",
        subject="写实记录",
    )
    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
