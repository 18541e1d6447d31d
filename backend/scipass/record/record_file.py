"""A student's 科技实践档案 as PDF (the tracking file of seed 002 二.(四)): every record of the
filter, totals, and the head of the student's archive hash chain, so a printed file can be
checked against the chain. Without a status filter it lists the records that count
(``COUNTED``: not rejected, withdrawn or voided). Each record shows its marks (代填标注) as the
CSV and XLSX exports do. Written to the audit log like every export."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from scipass.audit import service as audit_service
from scipass.competition import history as competition_history
from scipass.competition import talent
from scipass.competition.talent_models import TalentTracking
from scipass.core import pdf_fonts
from scipass.core.auth import SCHOOL_ROLES, Principal, Role
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.pdf_fonts import MixedText
from scipass.jobs import queue as job_queue
from scipass.jobs.exporter import PupilFilesExport, Withheld, run_bundle_export
from scipass.jobs.models import Job
from scipass.jobs.queue import JobContext, JobKind, JobResult
from scipass.org.errors import OrganisationNotFound
from scipass.org.models import School
from scipass.record import chain, labels
from scipass.record.exports import local_time, record_conditions, school_by_id
from scipass.record.models import COUNTED, ParticipationRecord
from scipass.record.repository import RecordFilter
from scipass.roster import service as roster_service
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student
from scipass.roster.visibility import shown_name

HASH_FONT = "Courier"


PDF_COLUMNS = (  # widths in mm, 174 in all (A4 less the margins)
    ("活动名称", 30),
    ("类别", 18),
    ("评价维度", 14),
    ("组织单位", 22),
    ("日期", 19),
    ("时长（分钟）", 12),
    ("角色", 13),
    ("成果/奖项", 16),
    ("状态", 15),
    ("代填标注", 15),
)


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
    if principal.role in (Role.student, Role.guardian) and principal.student_id is not None:
        # the pupil, or a guardian acting for the pupil (scipass.roster.acting)
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
    made = render_file(
        session,
        principal=principal,
        student=student,
        requested=requested,
        settings=settings,
        now=now,
    )
    school = school_by_id(session, student.school_id)
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
        filter=made.record_filter.describe(),
        row_count=made.file.row_count,
    )
    return made.file


@dataclass(frozen=True, slots=True)
class RenderedFile:
    file: StudentFile
    record_filter: RecordFilter


def render_file(
    session: Session,
    *,
    principal: Principal,
    student: Student,
    requested: RecordFilter,
    settings: Settings,
    now: datetime,
) -> RenderedFile:
    """A student's 科技实践档案 as PDF (the student already in the caller's scope); reads
    only, so a bulk job renders many from one snapshot."""
    font = pdf_fonts.chinese_font(settings)
    school = school_by_id(session, student.school_id)
    record_filter = RecordFilter(
        student_id=student.id,
        school_year=requested.school_year,
        semester=requested.semester,
        status=requested.status,
    )
    conditions = record_conditions(principal, record_filter)
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
    # Whether the school or the bureau tracks the pupil as a talent is theirs to see.
    staff = principal.role in SCHOOL_ROLES | {Role.bureau, Role.platform_admin}
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
        competitions=competition_history.student_lines(session, student.id or 0),
        tracking=talent.open_tracking(session, student.id or 0) if staff else None,
    )
    return RenderedFile(
        file=StudentFile(
            content=content,
            filename=f"科技实践档案-{name}.pdf",
            plain_filename=f"record-file-{student.student_no}.pdf",
            row_count=len(records),
        ),
        record_filter=record_filter,
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
    competitions: list[competition_history.CompetitionLine],
    tracking: TalentTracking | None,
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
            text(f"年级班级：{labels.class_label(student.grade, student.class_name)}"),
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
            labels.outcome_with_note(record.outcome, record.source),
            labels.label(labels.STATUS, record.status),
            labels.marks(record.student_confirmed_as, record.reflection_by),
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
    story += _competition_section(text, heading, body, cell, competitions, tracking)
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
            text(f"生成时间：{local_time(now)}（北京时间）　　由科学实践护照（SciPass）生成"), body
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


COMPETITION_COLUMNS = tuple(  # widths in mm, 174 in all
    zip(competition_history.HEADER, (20, 40, 20, 22, 36, 18, 18), strict=True)
)


def _competition_section(
    text: MixedText,
    heading: ParagraphStyle,
    body: ParagraphStyle,
    cell: ParagraphStyle,
    lines: list[competition_history.CompetitionLine],
    tracking: TalentTracking | None,
) -> list[Any]:
    """竞赛经历: the pupil's entries and published results across the years, the national
    rule on their use, and (for staff) the talent tracking."""
    story: list[Any] = [Paragraph(text("竞赛经历"), heading)]
    if lines:
        rows = [[Paragraph(text(title), cell) for title, _ in COMPETITION_COLUMNS]]
        rows += [[Paragraph(text(value), cell) for value in line.cells()] for line in lines]
        table = Table(rows, colWidths=[w * mm for _, w in COMPETITION_COLUMNS], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(table)
    else:
        story.append(Paragraph(text("（无竞赛记录）"), body))
    note = f"说明：获奖以公示后公布的结果为准。{labels.NOT_FOR_ADMISSION}。"
    story.append(Paragraph(text(note), body))
    if tracking is not None:
        since = local_date(tracking.started_at).isoformat()
        story.append(
            Paragraph(text(f"科技创新后备人才：自 {since} 起跟踪（{tracking.reason}）"), body)
        )
    return story


# --- many pupils' files at once (a job) --------------------------------------------------------

BULK_FILES_JOB = "record-files"


def bulk_school(session: Session, *, principal: Principal, school_id: int | None) -> School:
    """The school a bulk of files covers: school staff their own (another is not found); a
    bureau a school of its region; the platform admin any. One school at a time."""
    if school_id is None:
        school_id = principal.school_id
    school = session.get(School, school_id) if school_id is not None else None
    if school is None or not roster_service.can_see_school(principal, school):
        raise OrganisationNotFound("学校不存在", "School not found")
    return school


def _bulk_where(school: School, grade: int | None, class_name: str | None) -> list[Any]:
    where = [col(Student.school_id) == school.id]
    if grade is not None:
        where.append(col(Student.grade) == grade)
    if class_name:
        where.append(col(Student.class_name) == class_name)
    return where


def _bulk_student_ids(school: School, grade: int | None, class_name: str | None) -> Any:
    """The ids of the pupils a bulk of files covers, one per file (the exporter's consent
    rule reads it)."""
    return sa_select(col(Student.id)).where(*_bulk_where(school, grade, class_name))


def bulk_students(
    session: Session, *, school: School, grade: int | None, class_name: str | None
) -> list[Student]:
    query = select(Student).where(*_bulk_where(school, grade, class_name))
    return list(
        session.exec(
            query.order_by(col(Student.grade), col(Student.class_name), col(Student.student_no))
        ).all()
    )


def queue_bulk_files(
    session: Session,
    *,
    principal: Principal,
    school_id: int | None,
    grade: int | None,
    class_name: str | None,
    requested: RecordFilter,
    now: datetime,
) -> Job:
    """Queue the files of a school, a grade or a class as one ZIP (scope checked now)."""
    school = bulk_school(session, principal=principal, school_id=school_id)
    return job_queue.enqueue(
        session,
        kind=BULK_FILES_KIND,
        params={
            "school_id": school.id,
            "grade": grade,
            "class_name": class_name,
            "filter": requested.describe(),
        },
        owner=principal,
        now=now,
    )


def run_bulk_files_job(context: JobContext) -> JobResult:
    """The ``record-files`` job: each pupil's 科技实践档案, rendered from one snapshot, in one
    ZIP; one audit entry for the bundle (how many files, the filter)."""
    principal = context.owner
    params = context.params
    requested = RecordFilter.from_described(params.get("filter", {}))
    now = context.clock.now()

    def prepare(session: Session) -> PupilFilesExport:
        school = bulk_school(session, principal=principal, school_id=params["school_id"])
        students = bulk_students(
            session, school=school, grade=params.get("grade"), class_name=params.get("class_name")
        )

        def render(student: Student) -> tuple[str, bytes]:
            made = render_file(
                session,
                principal=principal,
                student=student,
                requested=requested,
                settings=context.settings,
                now=now,
            )
            return f"{student.student_no}-{made.file.filename}", made.file.content

        def files() -> Iterator[tuple[int, Callable[[], tuple[str, bytes]]]]:
            for student in students:
                yield student.id or 0, partial(render, student)

        def audit(
            audit_session: Session, written: int, error: str | None, withheld: Withheld
        ) -> None:
            # As a table export: ``records_exported`` once the ZIP is stored (the yearly audit
            # report counts it), ``records_export_finished`` when nothing left SciPass.
            audit_service.record(
                audit_session,
                action=audit_service.Action.records_exported
                if error is None
                else audit_service.Action.records_export_finished,
                at=context.clock.now(),
                actor=principal,
                object_type="participation_record",
                object_id=f"school:{school.id}",
                school_id=school.id,
                region_code=school.region_code,
                format="pdf-zip",
                filter={
                    **requested.describe(),
                    "grade": params.get("grade"),
                    "class_name": params.get("class_name"),
                },
                files=written,
                withheld_rows=withheld.rows,
                withheld_students=withheld.students,
                job_id=context.job_id,
                outcome="done" if error is None else "failed",
                error=error,
            )

        scope = "".join(
            str(part)
            for part in (
                school.name,
                f"{params['grade']}年级" if params.get("grade") else "",
                params.get("class_name") or "",
            )
        )
        day = local_date(now).isoformat()
        return PupilFilesExport(
            files=files(),
            students=_bulk_student_ids(school, params.get("grade"), params.get("class_name")),
            total=len(students),
            today=local_date(now),
            filename=f"科技实践档案-{scope}-{day}.zip",
            plain_filename=f"record-files-school-{school.id}-{day}.zip",
            audit=audit,
        )

    return run_bundle_export(context, prepare=prepare)


BULK_FILES_KIND = JobKind(BULK_FILES_JOB, run_bulk_files_job)
