"""Participation records (写实记录): read, confirm, review, notice, object, archive, correct,
evidence. Exports live in ``export_router``."""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter
from sqlmodel import Session

from scipass.consent.errors import ConsentRequired
from scipass.core.auth import VENUE_ROLES, Principal
from scipass.core.callers import (
    Organiser,
    RecordReader,
    SchoolAdmin,
    SchoolStaff,
    StudentFileReader,
)
from scipass.core.clock import ClockDep, Semester
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.idempotency import IdempotencyDep, IdempotencyKeyReused
from scipass.core.inputs import GradeFilter, Id, SchoolYearFilter
from scipass.core.pagination import Page, PageDep
from scipass.record import attestation as record_attestation
from scipass.record import chain, labels
from scipass.record import corrections as record_corrections
from scipass.record import evidence as evidence_service
from scipass.record import service as record_service
from scipass.record.errors import (
    AttestationDisabled,
    AttesterCannotConfirm,
    AttesterCannotReview,
    NotTheOrganiser,
    OrganiserCannotAttest,
    PupilCanConfirm,
    ReasonRequired,
    RecordInvalid,
    RecordNotFound,
    RecordStateInvalid,
    StudentAlreadyConfirmed,
    StudentConfirmationRequired,
)
from scipass.record.models import (
    ParticipationRecord,
    RecordCategory,
    RecordEvidence,
    RecordStatus,
)
from scipass.record.repository import RecordFilter
from scipass.record.schemas import (
    BulkResult,
    ChainReportRead,
    EvidenceRead,
    ItemResultRead,
    ManualRecordCreate,
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
    TeacherAttestation,
    TotalRead,
    VoidRequest,
    Withdrawal,
)
from scipass.roster.acting import ActingStudent
from scipass.roster.errors import StudentNotFound
from scipass.roster.models import Student
from scipass.roster.visibility import shown_name

router = APIRouter(tags=["records"])


def class_label(student: Student) -> str:
    return labels.class_label(student.grade, student.class_name)


def evidence_read(item: RecordEvidence) -> EvidenceRead:
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
        class_label=class_label(student),
        school_id=record.school_id,
        source=record.source,
        activity_id=record.activity_id,
        organiser_name=record.organiser_name,
        title=record.title,
        category=record.category,
        dimension=record.dimension,
        place=record.place,
        started_at=record.started_at,
        ended_at=record.ended_at,
        school_year=record.school_year,
        semester=record.semester,
        minutes=record.minutes,
        role=record.role,
        outcome=record.outcome,
        note=labels.source_note(record.source),
        reflection="" if venue else record.reflection,
        reflection_by=None if venue else record.reflection_by,
        attester_name=record.attester_name,
        attester_unit=record.attester_unit,
        attester_phone=labels.mask_phone(record.attester_phone),
        status=record.status,
        status_reason=record.status_reason,
        confirmed_at=record.confirmed_at,
        student_confirmed_at=record.student_confirmed_at,
        student_confirmed_as=record.student_confirmed_as,
        marks=labels.marks(record.student_confirmed_as, None if venue else record.reflection_by),
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
        ItemResultRead(record_id=r.record_id, ok=r.ok, status=r.status, code=r.code)
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
    category: RecordCategory | None = None,
) -> Page[RecordRead]:
    filters = RecordFilter(
        status=status,
        school_year=school_year,
        semester=semester.value if semester else None,
        grade=grade,
        class_name=class_name,
        student_id=student_id,
        activity_id=activity_id,
        category=category,
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
    return RecordDetail(**base.model_dump(), evidence=[evidence_read(f) for f in files])


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
    description="活动的组织方（场馆或学校工作人员）确认待确认的记录并成为证明人，或写明原因驳回。"
    "代学生确认了这条记录的老师不能再作为组织方确认。",
    responses=problem_responses(
        RecordNotFound, NotTheOrganiser, AttesterCannotConfirm, RecordStateInvalid, ReasonRequired
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
    description="学校审核之前，学生本人确认记录属实，可填写或修改感想。"
    "家长可代孩子确认并填写（带 `student_id`），记录标注“家长代填”；学校工作人员不能代写感想。",
    responses=problem_responses(RecordNotFound, RecordStateInvalid),
)
def student_confirm(
    record_id: Id,
    caller: ActingStudent,
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
    "/records/{record_id}/teacher-attestation",
    name="record-teacher-attest",
    summary="教师代为确认（学生和家长均未绑定微信时）",
    description="学校开启“教师代为确认”后，本校教职工可为没有绑定微信、也没有已绑定家长的学生"
    "确认记录属实（学校审核之前），须写明原因；不填写感想。记录标注“教师代为确认”，流转记录写明原因，"
    "并记入审计日志；之后仍须学校审核（由其他老师）和公示。学生或家长能自己确认时不能代为确认；"
    "作为组织方确认过这条记录的老师也不能代为确认。",
    responses=problem_responses(
        RecordNotFound,
        AttestationDisabled,
        RecordStateInvalid,
        StudentAlreadyConfirmed,
        PupilCanConfirm,
        OrganiserCannotAttest,
        ReasonRequired,
    ),
)
def teacher_attest(
    record_id: Id,
    body: TeacherAttestation,
    caller: SchoolStaff,
    session: SessionDep,
    clock: ClockDep,
) -> RecordRead:
    record = record_attestation.attest(
        session, actor=caller, record_id=record_id, reason=body.reason, now=clock.now()
    )
    return _one(session, record, caller)


@router.post(
    "/records/{record_id}/withdrawal",
    name="record-withdraw",
    summary="学生撤回记录",
    description="学校审核之前，学生（或代孩子操作的家长）可撤回本人的记录。",
    responses=problem_responses(RecordNotFound, RecordStateInvalid),
)
def withdraw(
    record_id: Id,
    caller: ActingStudent,
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
    description="通过（须组织方和学生均已确认）或写明原因驳回。"
    "代学生确认（教师代为确认）了这条记录的老师不能审核它，由其他老师审核。",
    responses=problem_responses(
        RecordNotFound,
        RecordStateInvalid,
        StudentConfirmationRequired,
        AttesterCannotReview,
        ReasonRequired,
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
    records = record_corrections.create_manual(
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
    record = record_corrections.void_and_correct(
        session,
        actor=caller,
        record_id=record_id,
        reason=body.reason,
        correction=body.correction,
        now=clock.now(),
    )
    return _one(session, record, caller)


# --- evidence ---------------------------------------------------------------------------------


# --- public notice (公示) and objections -------------------------------------------------------


# --- the region's notice length ----------------------------------------------------------------
