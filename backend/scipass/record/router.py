"""Participation records (写实记录): read, confirm, review, notice, object, archive, correct,
evidence. Exports live in ``export_router``."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import FileResponse
from sqlmodel import Session

from scipass.consent.errors import ConsentRequired
from scipass.core.auth import VENUE_ROLES, Principal, Role, region_contains
from scipass.core.callers import (
    BureauOrPlatform,
    EvidenceUploader,
    Family,
    Organiser,
    RecordReader,
    SchoolAdmin,
    SchoolStaff,
    StudentCaller,
    StudentFileReader,
)
from scipass.core.clock import ClockDep, Semester, local_date
from scipass.core.db import SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import Forbidden, problem_responses
from scipass.core.exports import attachment
from scipass.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from scipass.core.inputs import GradeFilter, Id, SchoolYearFilter
from scipass.core.pagination import Page, PageDep
from scipass.org.errors import RegionNotFound
from scipass.org.models import Region
from scipass.record import chain, labels
from scipass.record import evidence as evidence_service
from scipass.record import service as record_service
from scipass.record.errors import (
    EvidenceLimitReached,
    EvidenceNotFound,
    EvidencePdfActiveContent,
    EvidenceQuarantined,
    EvidenceTooComplex,
    EvidenceTooLarge,
    EvidenceTypeRejected,
    EvidenceUnreadable,
    NothingToPublicise,
    NoticeClosed,
    NoticeNotFound,
    NotTheOrganiser,
    ObjectionDuplicate,
    ObjectionNotFound,
    ObjectionResolved,
    ReasonRequired,
    RecordInvalid,
    RecordNotFound,
    RecordStateInvalid,
    StudentConfirmationRequired,
)
from scipass.record.models import (
    ObjectionStatus,
    ParticipationRecord,
    RecordEvidence,
    RecordNotice,
    RecordObjection,
    RecordStatus,
)
from scipass.record.repository import RecordFilter
from scipass.record.schemas import (
    BulkResult,
    ChainReportRead,
    EvidenceRead,
    ItemResultRead,
    ManualRecordCreate,
    NoticeCreate,
    NoticeEntry,
    NoticeRead,
    NoticeSettingRead,
    NoticeSettingWrite,
    ObjectionChoice,
    ObjectionCreate,
    ObjectionRead,
    ObjectionResolve,
    OrganiserChoice,
    OrganiserDecision,
    OrganiserDecisions,
    RecordDetail,
    RecordEventRead,
    RecordRead,
    RecordSummary,
    ReviewChoice,
    ReviewDecision,
    ReviewDecisions,
    StudentConfirmation,
    TotalRead,
    VoidRequest,
    Withdrawal,
)
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student
from scipass.roster.visibility import shown_name

router = APIRouter(tags=["records"])


class RegionOutOfScope(Forbidden):
    code = "region_out_of_scope"
    title_zh = "只能设置本辖区的公示期"
    title_en = "Only regions within your own can be changed"


def _class_label(student: Student) -> str:
    return labels.grade(student.grade) + student.class_name


def _evidence_read(item: RecordEvidence) -> EvidenceRead:
    return EvidenceRead(
        id=item.id or 0,
        media_type=item.media_type,
        size=item.size,
        filename=item.filename,
        sha256=item.sha256,
        uploaded_at=item.uploaded_at,
        url=f"/api/v1/records/{item.record_id}/evidence/{item.id}",
    )


def record_read(
    record: ParticipationRecord, student: Student, *, viewer: Principal, evidence_count: int
) -> RecordRead:
    """A record as ``viewer`` may see it: the name by the one policy
    (:mod:`scipass.roster.visibility`); a venue gets no reflection."""
    venue = viewer.role in VENUE_ROLES
    return RecordRead(
        id=record.id or 0,
        student_id=record.student_id,
        student_name=shown_name(
            viewer, student.name, school_id=record.school_id, student_id=record.student_id
        ),
        class_label=_class_label(student),
        school_id=record.school_id,
        source=record.source,  # type: ignore[arg-type]
        activity_id=record.activity_id,
        organiser_name=record.organiser_name,
        title=record.title,
        category=record.category,  # type: ignore[arg-type]
        dimension=record.dimension,  # type: ignore[arg-type]
        place=record.place,
        started_at=record.started_at,
        ended_at=record.ended_at,
        school_year=record.school_year,
        semester=record.semester,  # type: ignore[arg-type]
        minutes=record.minutes,
        role=record.role,  # type: ignore[arg-type]
        outcome=record.outcome,
        reflection="" if venue else record.reflection,
        attester_name=record.attester_name,
        attester_unit=record.attester_unit,
        attester_phone=labels.mask_phone(record.attester_phone),
        status=record.status,  # type: ignore[arg-type]
        status_reason=record.status_reason,
        confirmed_at=record.confirmed_at,
        student_confirmed_at=record.student_confirmed_at,
        reviewed_at=record.reviewed_at,
        notice_id=record.notice_id,
        archived_at=record.archived_at,
        archive_seq=record.archive_seq,
        content_hash=record.content_hash,
        replaces_id=record.replaces_id,
        evidence_count=evidence_count,
    )


def _one(session: Session, record: ParticipationRecord, viewer: Principal) -> RecordRead:
    student = session.get(Student, record.student_id)
    assert student is not None
    count = record_service.evidence_counts(session, [record.id or 0]).get(record.id or 0, 0)
    return record_read(record, student, viewer=viewer, evidence_count=count)


def _bulk(results: list[record_service.ItemResult]) -> BulkResult:
    items = [
        ItemResultRead(record_id=r.record_id, ok=r.ok, status=r.status, code=r.code)  # type: ignore[arg-type]
        for r in results
    ]
    ok = sum(1 for r in results if r.ok)
    return BulkResult(succeeded=ok, failed=len(results) - ok, items=items)


# --- reading ----------------------------------------------------------------------------------


@router.get(
    "/records",
    name="record-list",
    summary="写实记录列表",
    description="学生看到本人的，家长看到孩子的，学校看到本校的，场馆看到本馆组织的（姓名脱敏），"
    "教育局看到辖区学校的。工作人员的查看写入审计日志。",
    responses=problem_responses(),
)
def list_records(
    caller: RecordReader,
    session: SessionDep,
    clock: ClockDep,
    page: PageDep,
    status: RecordStatus | None = None,
    school_year: SchoolYearFilter = None,
    semester: Semester | None = None,
    grade: GradeFilter = None,
    class_name: str | None = None,
    student_id: Id | None = None,
    activity_id: Id | None = None,
) -> Page[RecordRead]:
    filters = RecordFilter(
        status=status,
        school_year=school_year,
        semester=semester.value if semester else None,
        grade=grade,
        class_name=class_name,
        student_id=student_id,
        activity_id=activity_id,
    )
    rows, total = record_service.list_records(
        session, actor=caller, filters=filters, page=page, now=clock.now()
    )
    counts = record_service.evidence_counts(session, [r.id or 0 for r, _ in rows])
    items = [
        record_read(r, s, viewer=caller, evidence_count=counts.get(r.id or 0, 0)) for r, s in rows
    ]
    return Page[RecordRead].of(items, total, page)


@router.get(
    "/records/{record_id}",
    name="record-get",
    summary="写实记录详情（含证明材料）",
    responses=problem_responses(RecordNotFound),
)
def get_record(record_id: Id, caller: RecordReader, session: SessionDep) -> RecordDetail:
    record = record_service.get_visible(session, actor=caller, record_id=record_id)
    base = _one(session, record, caller)
    files = [] if caller.role in VENUE_ROLES else evidence_service.list_for(session, record_id)
    return RecordDetail(**base.model_dump(), evidence=[_evidence_read(f) for f in files])


@router.get(
    "/records/{record_id}/history",
    name="record-history",
    summary="写实记录的流转记录",
    description="每一步的操作、角色、时间与说明。",
    responses=problem_responses(RecordNotFound),
)
def record_history(
    record_id: Id, caller: RecordReader, session: SessionDep, page: PageDep
) -> Page[RecordEventRead]:
    record_service.get_visible(session, actor=caller, record_id=record_id)
    return Page[RecordEventRead].sliced(
        [
            RecordEventRead(
                at=e.at,
                action=e.action,
                actor_role=e.actor_role,
                from_status=e.from_status,
                to_status=e.to_status,
                note=e.note,
            )
            for e in record_service.history(session, record_id)
        ],
        page,
    )


@router.get(
    "/students/{student_id}/record-summary",
    name="record-summary",
    summary="学生的写实记录统计",
    description="按学期、类别、评价维度统计条数与时长（分钟）；不含未通过、已撤回、已作废的记录。",
    responses=problem_responses(StudentNotFound),
)
def record_summary(
    student_id: Id,
    caller: StudentFileReader,
    session: SessionDep,
    school_year: SchoolYearFilter = None,
) -> RecordSummary:
    record_service.student_in_scope(session, actor=caller, student_id=student_id)
    totals = record_service.totals(session, student_id=student_id, school_year=school_year)
    by: dict[str, dict[str, list[int]]] = {
        "semester": defaultdict(lambda: [0, 0]),
        "category": defaultdict(lambda: [0, 0]),
        "dimension": defaultdict(lambda: [0, 0]),
    }
    for t in totals:
        for kind, key in (
            ("semester", f"{t.school_year}-{t.semester}"),
            ("category", t.category),
            ("dimension", t.dimension),
        ):
            by[kind][key][0] += t.records
            by[kind][key][1] += t.minutes

    def term_label(key: str) -> str:
        year, semester = key.split("-")
        return f"{year}-{int(year) + 1}学年{labels.SEMESTER[semester]}"

    label_of = {
        "semester": term_label,
        "category": lambda key: labels.label(labels.CATEGORY, key),
        "dimension": lambda key: labels.label(labels.DIMENSION, key),
    }
    return RecordSummary(
        student_id=student_id,
        records=sum(t.records for t in totals),
        minutes=sum(t.minutes for t in totals),
        archived_minutes=sum(t.minutes for t in totals if t.status == RecordStatus.archived),
        **{
            f"by_{kind}": [
                TotalRead(key=key, label=label_of[kind](key), records=n, minutes=m)
                for key, (n, m) in sorted(by[kind].items())
            ]
            for kind in by
        },
    )


@router.get(
    "/students/{student_id}/record-chain",
    name="record-chain-verify",
    summary="校验学生归档记录的哈希链",
    description="逐条重算已归档记录的哈希；任何一条被改动、删除或调换顺序，"
    "都会返回 `valid: false` 并指出第一条不符的记录。",
    responses=problem_responses(StudentNotFound),
)
def verify_chain(student_id: Id, caller: StudentFileReader, session: SessionDep) -> ChainReportRead:
    record_service.student_in_scope(session, actor=caller, student_id=student_id)
    report = chain.verify(session, student_id)
    return ChainReportRead(
        student_id=report.student_id,
        valid=report.valid,
        length=report.length,
        head_hash=report.head_hash,
        broken_record_id=report.broken_record_id,
        problem=report.problem,
    )


# --- organiser, student, school ---------------------------------------------------------------


@router.post(
    "/records/{record_id}/organiser-decision",
    name="record-organiser-decide",
    summary="组织方确认或驳回（谁组织谁记录）",
    description="活动的组织方（场馆或学校工作人员）确认待确认的记录并成为证明人，或写明原因驳回。",
    responses=problem_responses(
        RecordNotFound, NotTheOrganiser, RecordStateInvalid, ReasonRequired
    ),
)
def organiser_decide(
    record_id: Id, body: OrganiserDecision, caller: Organiser, session: SessionDep, clock: ClockDep
) -> RecordRead:
    record = record_service.organiser_decide(
        session,
        actor=caller,
        record_id=record_id,
        confirm=body.decision is OrganiserChoice.confirm,
        reason=body.reason,
        now=clock.now(),
    )
    return _one(session, record, caller)


@router.post(
    "/records/organiser-decisions",
    name="record-organiser-decide-bulk",
    summary="组织方批量确认或驳回",
    description="逐条处理，每条单独成功或失败（失败原因的 `code` 与单条接口相同）。",
    responses=problem_responses(ReasonRequired),
)
def organiser_decide_bulk(
    body: OrganiserDecisions, caller: Organiser, session: SessionDep, clock: ClockDep
) -> BulkResult:
    if body.decision is OrganiserChoice.reject and not (body.reason or "").strip():
        raise ReasonRequired()
    now = clock.now()
    return _bulk(
        record_service.in_bulk(
            body.record_ids,
            lambda record_id: record_service.organiser_decide(
                session,
                actor=caller,
                record_id=record_id,
                confirm=body.decision is OrganiserChoice.confirm,
                reason=body.reason,
                now=now,
            ),
        )
    )


@router.post(
    "/records/{record_id}/student-confirmation",
    name="record-student-confirm",
    summary="学生确认记录并填写感想",
    description="学校审核之前，学生本人确认记录属实，可填写或修改感想（只能由本人填写）。",
    responses=problem_responses(RecordNotFound, RecordStateInvalid),
)
def student_confirm(
    record_id: Id,
    caller: StudentCaller,
    session: SessionDep,
    clock: ClockDep,
    body: StudentConfirmation | None = None,
) -> RecordRead:
    record = record_service.student_confirm(
        session,
        actor=caller,
        record_id=record_id,
        reflection=body.reflection if body else None,
        now=clock.now(),
    )
    return _one(session, record, caller)


@router.post(
    "/records/{record_id}/withdrawal",
    name="record-withdraw",
    summary="学生撤回记录",
    description="学校审核之前，学生可撤回本人的记录。",
    responses=problem_responses(RecordNotFound, RecordStateInvalid),
)
def withdraw(
    record_id: Id,
    caller: StudentCaller,
    session: SessionDep,
    clock: ClockDep,
    body: Withdrawal | None = None,
) -> RecordRead:
    record = record_service.withdraw(
        session,
        actor=caller,
        record_id=record_id,
        reason=body.reason if body else "",
        now=clock.now(),
    )
    return _one(session, record, caller)


@router.post(
    "/records/{record_id}/review",
    name="record-review",
    summary="学校审核",
    description="通过（须组织方和学生均已确认）或写明原因驳回。",
    responses=problem_responses(
        RecordNotFound, RecordStateInvalid, StudentConfirmationRequired, ReasonRequired
    ),
)
def review(
    record_id: Id, body: ReviewDecision, caller: SchoolStaff, session: SessionDep, clock: ClockDep
) -> RecordRead:
    record = record_service.review(
        session,
        actor=caller,
        record_id=record_id,
        approve=body.decision is ReviewChoice.approve,
        reason=body.reason,
        now=clock.now(),
    )
    return _one(session, record, caller)


@router.post(
    "/records/reviews",
    name="record-review-bulk",
    summary="学校批量审核",
    description="逐条处理，每条单独成功或失败（失败原因的 `code` 与单条接口相同）。",
    responses=problem_responses(ReasonRequired),
)
def review_bulk(
    body: ReviewDecisions, caller: SchoolStaff, session: SessionDep, clock: ClockDep
) -> BulkResult:
    if body.decision is ReviewChoice.reject and not (body.reason or "").strip():
        raise ReasonRequired()
    now = clock.now()
    return _bulk(
        record_service.in_bulk(
            body.record_ids,
            lambda record_id: record_service.review(
                session,
                actor=caller,
                record_id=record_id,
                approve=body.decision is ReviewChoice.approve,
                reason=body.reason,
                now=now,
            ),
        )
    )


@router.post(
    "/records/manual",
    name="record-manual-create",
    summary="学校录入写实记录",
    description="学校为本校学生录入（如科技社团一学期、校园科技节），学校即组织方，记录直接为"
    "“组织方已确认”，仍须学生确认、学校审核、公示。带同一 `Idempotency-Key` 重试返回同一批记录。"
    "未满 14 周岁的学生须监护人同意。",
    status_code=201,
    responses=problem_responses(
        StudentNotFound, ConsentRequired, RecordInvalid, IdempotencyKeyReused
    ),
)
def create_manual(
    body: ManualRecordCreate,
    caller: SchoolStaff,
    session: SessionDep,
    clock: ClockDep,
    idempotency: IdempotencyDep,
) -> list[RecordRead]:
    records = record_service.create_manual(
        session,
        actor=caller,
        entry=body,
        idempotency=idempotency,
        now=clock.now(),
    )
    return [_one(session, record, caller) for record in records]


@router.post(
    "/records/{record_id}/void",
    name="record-void",
    summary="作废已归档记录并出具更正记录",
    description="已归档的记录不能修改：学校管理员写明原因作废，同时出具一条指向原记录的更正记录"
    "（视为学校已审核，进入下一次公示）。原记录仍留在哈希链中，状态为“已作废”。",
    status_code=201,
    responses=problem_responses(RecordNotFound, RecordStateInvalid, ReasonRequired, RecordInvalid),
)
def void_record(
    record_id: Id, body: VoidRequest, caller: SchoolAdmin, session: SessionDep, clock: ClockDep
) -> RecordRead:
    record = record_service.void_and_correct(
        session,
        actor=caller,
        record_id=record_id,
        reason=body.reason,
        correction=body.correction,
        now=clock.now(),
    )
    return _one(session, record, caller)


# --- evidence ---------------------------------------------------------------------------------


@router.post(
    "/records/{record_id}/evidence",
    name="record-evidence-upload",
    summary="上传证明材料",
    description="学生（本人记录）或本校教师在审核前上传。只接受 JPEG、PNG、WebP、PDF（按文件内容"
    "判断，不看扩展名），单个不超过 10 MB，每条记录最多 9 份；同一文件重复上传返回第一次的结果。"
    "未满 14 周岁须监护人同意“照片”用途。",
    status_code=201,
    responses=problem_responses(
        RecordNotFound,
        RecordStateInvalid,
        EvidenceTypeRejected,
        EvidenceUnreadable,
        EvidencePdfActiveContent,
        EvidenceTooLarge,
        EvidenceTooComplex,
        EvidenceLimitReached,
        ConsentRequired,
    ),
)
def upload_evidence(
    record_id: Id,
    caller: EvidenceUploader,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    file: Annotated[UploadFile, File(description="证明材料文件")],
) -> EvidenceRead:
    data = file.file.read(settings.evidence_max_bytes + 1)
    item = evidence_service.add(
        session,
        actor=caller,
        settings=settings,
        record_id=record_id,
        data=data,
        filename=file.filename,
        now=clock.now(),
    )
    return _evidence_read(item)


@router.get(
    "/records/{record_id}/evidence/{evidence_id}",
    name="record-evidence-get",
    summary="下载证明材料",
    description="学生本人、家长、本校、辖区教育局可下载；场馆不能。工作人员下载写入审计日志。",
    response_class=FileResponse,
    responses={
        200: {
            "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}, "application/pdf": {}}
        },
        **problem_responses(RecordNotFound, EvidenceNotFound, EvidenceQuarantined),
    },
)
def get_evidence(
    record_id: Id,
    evidence_id: Id,
    caller: StudentFileReader,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> FileResponse:
    item, path = evidence_service.open_file(
        session,
        actor=caller,
        settings=settings,
        record_id=record_id,
        evidence_id=evidence_id,
        now=clock.now(),
    )
    extension = item.media_type.rsplit("/", 1)[-1]
    return FileResponse(
        path,
        media_type=item.media_type,
        headers={
            **attachment(
                item.filename,
                f"evidence-{item.id}.{extension}",
                inline=item.media_type.startswith("image/"),
            ),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
        },
    )


# --- public notice (公示) and objections -------------------------------------------------------


def _notice_read(notice: RecordNotice, now_open: bool) -> NoticeRead:
    return NoticeRead(
        id=notice.id or 0,
        school_id=notice.school_id,
        title=notice.title,
        working_days=notice.working_days,
        starts_at=notice.starts_at,
        ends_at=notice.ends_at,
        record_count=notice.record_count,
        is_open=now_open,
    )


def _objection_read(objection: RecordObjection) -> ObjectionRead:
    return ObjectionRead(
        id=objection.id or 0,
        record_id=objection.record_id,
        notice_id=objection.notice_id,
        raised_role=objection.raised_role,
        reason=objection.reason,
        raised_at=objection.raised_at,
        status=objection.status,  # type: ignore[arg-type]
        resolution=objection.resolution,
        resolved_at=objection.resolved_at,
    )


@router.post(
    "/notices",
    name="notice-open",
    summary="发布公示",
    description="学校管理员把本校已审核的记录（全部，或按年级、班级、学期、记录编号筛选）放入"
    "一次公示。公示期为所在区划设置的工作日数（未设置为 5 个工作日），从发布次日起算，"
    "到最后一个工作日 24:00（北京时间）截止。",
    status_code=201,
    responses=problem_responses(NothingToPublicise),
)
def open_notice(
    body: NoticeCreate,
    caller: SchoolAdmin,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> NoticeRead:
    now = clock.now()
    notice = record_service.open_notice(
        session,
        actor=caller,
        settings=settings,
        title=body.title,
        filters=RecordFilter(
            grade=body.grade,
            class_name=body.class_name,
            school_year=body.school_year,
            semester=body.semester.value if body.semester else None,
        ),
        record_ids=body.record_ids,
        now=now,
    )
    return _notice_read(notice, True)


@router.get(
    "/notices",
    name="notice-list",
    summary="公示列表",
    description="学生、家长看到本校（孩子学校）正在公示的；学校工作人员看到本校全部公示。",
    responses=problem_responses(),
)
def list_notices(
    caller: Family, session: SessionDep, clock: ClockDep, page: PageDep, open_only: bool = False
) -> Page[NoticeRead]:
    now = clock.now()
    rows, total = record_service.list_notices(
        session, actor=caller, page=page, now=now, open_only=open_only
    )
    items = [_notice_read(n, n.starts_at <= now < n.ends_at) for n in rows]
    return Page[NoticeRead].of(items, total, page)


@router.get(
    "/notices/{notice_id}/entries",
    name="notice-entries",
    summary="公示内容",
    description="只显示姓名、班级、活动、日期和时长。",
    responses=problem_responses(NoticeNotFound),
)
def notice_entries(
    notice_id: Id, caller: Family, session: SessionDep, clock: ClockDep, page: PageDep
) -> Page[NoticeEntry]:
    notice = record_service.get_notice(session, actor=caller, notice_id=notice_id, now=clock.now())
    rows, total = record_service.notice_entries(session, notice=notice, page=page)
    items = [
        NoticeEntry(
            record_id=r.id or 0,
            name=shown_name(caller, s.name, school_id=s.school_id, student_id=s.id, on_notice=True),
            class_label=_class_label(s),
            activity=r.title,
            activity_date=local_date(r.started_at),
            minutes=r.minutes,
        )
        for r, s in rows
    ]
    return Page[NoticeEntry].of(items, total, page)


@router.post(
    "/records/{record_id}/objections",
    name="record-object",
    summary="对公示中的记录提出异议",
    description="本校学生、家长和教职工在公示期内可提出异议并写明理由；异议未处理前记录不会归档。",
    status_code=201,
    responses=problem_responses(
        RecordNotFound, RecordStateInvalid, NoticeClosed, ObjectionDuplicate, ReasonRequired
    ),
)
def object_to(
    record_id: Id, body: ObjectionCreate, caller: Family, session: SessionDep, clock: ClockDep
) -> ObjectionRead:
    objection = record_service.object_to(
        session, actor=caller, record_id=record_id, reason=body.reason, now=clock.now()
    )
    return _objection_read(objection)


@router.get(
    "/objections",
    name="objection-list",
    summary="本校收到的异议",
    responses=problem_responses(),
)
def list_objections(
    caller: SchoolStaff, session: SessionDep, page: PageDep, status: ObjectionStatus | None = None
) -> Page[ObjectionRead]:
    rows, total = record_service.list_objections(session, actor=caller, page=page, status=status)
    return Page[ObjectionRead].of([_objection_read(o) for o in rows], total, page)


@router.post(
    "/objections/{objection_id}/resolution",
    name="objection-resolve",
    summary="处理异议",
    description="异议成立（uphold）：记录改为未通过，不归档；驳回异议（dismiss）：记录在公示期"
    "结束后归档。",
    responses=problem_responses(ObjectionNotFound, ObjectionResolved, RecordStateInvalid),
)
def resolve_objection(
    objection_id: Id,
    body: ObjectionResolve,
    caller: SchoolAdmin,
    session: SessionDep,
    clock: ClockDep,
) -> ObjectionRead:
    objection = record_service.resolve_objection(
        session,
        actor=caller,
        objection_id=objection_id,
        uphold=body.decision is ObjectionChoice.uphold,
        resolution=body.resolution,
        now=clock.now(),
    )
    return _objection_read(objection)


# --- the region's notice length ----------------------------------------------------------------


def _setting_read(session: Session, region_code: str, own: int | None) -> NoticeSettingRead:
    days, source = record_service.notice_working_days(session, region_code)
    return NoticeSettingRead(
        region_code=region_code,
        working_days=own,
        effective_working_days=days,
        from_region=source,
    )


@router.get(
    "/regions/{region_code}/notice-setting",
    name="notice-setting-get",
    summary="区划的公示期设置",
    responses=problem_responses(RegionNotFound),
)
def get_notice_setting(
    region_code: str, caller: BureauOrPlatform, session: SessionDep
) -> NoticeSettingRead:
    region = session.get(Region, region_code)
    if region is None or (
        caller.role is Role.bureau and not region_contains(caller.region_code or "", region_code)
    ):
        raise RegionNotFound()
    return _setting_read(session, region_code, region.notice_working_days)


@router.put(
    "/regions/{region_code}/notice-setting",
    name="notice-setting-set",
    summary="设置区划的公示期（工作日）",
    description="教育局设置本辖区（含下级区划）的公示期；下级区划可单独设置，未设置的沿用上级。",
    responses=problem_responses(RegionNotFound, RegionOutOfScope),
)
def set_notice_setting(
    region_code: str, body: NoticeSettingWrite, caller: BureauOrPlatform, session: SessionDep
) -> NoticeSettingRead:
    if caller.role is Role.bureau and not region_contains(caller.region_code or "", region_code):
        raise RegionOutOfScope()
    region = record_service.set_notice_working_days(
        session, region_code=region_code, days=body.working_days
    )
    return _setting_read(session, region_code, region.notice_working_days)
