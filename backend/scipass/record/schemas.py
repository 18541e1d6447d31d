from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field

from scipass.consent.models import Decision
from scipass.core.clock import Semester
from scipass.core.inputs import MULTILINE, Id, RequestModel
from scipass.record.exports import ExportFormat
from scipass.record.models import (
    ConfirmedAs,
    Dimension,
    ObjectionStatus,
    RecordCategory,
    RecordRole,
    RecordSource,
    RecordStatus,
    ReflectionBy,
)


class EvidenceRead(BaseModel):
    id: int
    media_type: str
    size: int = Field(description="字节数")
    filename: str
    sha256: str = Field(description="文件内容的 SHA-256 校验和")
    uploaded_at: datetime
    url: str = Field(description="下载地址（需登录）")


class RecordRead(BaseModel):
    id: int
    student_id: int
    student_name: str = Field(description="场馆工作人员看到的是脱敏姓名")
    class_label: str = Field(description="年级与班级，如“四年级1班”")
    school_id: int
    source: RecordSource
    activity_id: int | None
    organiser_name: str
    title: str
    category: RecordCategory
    dimension: Dimension
    place: str
    started_at: datetime
    ended_at: datetime
    school_year: int
    semester: Semester
    minutes: int = Field(description="计入时长（分钟），以此为准")
    role: RecordRole
    outcome: str = Field(description="成果/奖项")
    note: str = Field(
        default="",
        description="按来源附带的固定说明；竞赛记录为“竞赛结果不作为中小学招生入学的依据”",
    )
    reflection: str = Field(
        description="感想（学生本人或家长代填，见 `reflection_by`）；场馆看不到"
    )
    reflection_by: ReflectionBy | None = Field(
        description="感想由谁填写：`student` 学生本人，`guardian` 家长代填；没有感想时为空"
    )
    attester_name: str = Field(description="证明人")
    attester_unit: str
    attester_phone: str = Field(description="证明人联系电话（脱敏）")
    status: RecordStatus
    status_reason: str = Field(description="驳回、撤回或作废的原因")
    confirmed_at: datetime | None
    student_confirmed_at: datetime | None
    student_confirmed_as: ConfirmedAs | None = Field(
        description="学生一方由谁确认：`student` 本人，`guardian` 家长代为确认，"
        "`teacher` 教师代为确认（学生和家长都未绑定微信时，经学校开启）"
    )
    marks: str = Field(description="代填标注，如“家长代为确认；家长代填”；学生本人确认时为空")
    reviewed_at: datetime | None
    notice_id: int | None
    archived_at: datetime | None
    archive_seq: int | None
    content_hash: str | None
    replaces_id: int | None = Field(description="更正记录所替代的原记录")
    evidence_count: int


class RecordDetail(RecordRead):
    evidence: list[EvidenceRead]


class RecordEventRead(BaseModel):
    at: datetime
    action: str
    actor_role: str
    from_status: str | None
    to_status: str
    note: str


class OrganiserChoice(StrEnum):
    confirm = "confirm"
    reject = "reject"


class ReviewChoice(StrEnum):
    approve = "approve"
    reject = "reject"


class OrganiserDecision(RequestModel):
    decision: OrganiserChoice
    reason: str | None = Field(default=None, max_length=200, description="驳回时必填")


class OrganiserDecisions(OrganiserDecision):
    record_ids: list[Id] = Field(min_length=1, max_length=500)


class ReviewDecision(RequestModel):
    decision: ReviewChoice
    reason: str | None = Field(default=None, max_length=200, description="驳回时必填")


class ReviewDecisions(ReviewDecision):
    record_ids: list[Id] = Field(min_length=1, max_length=500)


class ItemResultRead(BaseModel):
    record_id: int
    ok: bool
    status: RecordStatus | None = Field(description="成功后的状态")
    code: str | None = Field(description="失败时的错误代码，与单条接口相同")


class BulkResult(BaseModel):
    succeeded: int
    failed: int
    items: list[ItemResultRead]


class StudentConfirmation(RequestModel):
    reflection: str | None = Field(
        default=None,
        max_length=2000,
        description="活动感想（只能由学生本人填写）；不填则不修改",
        json_schema_extra=MULTILINE,
    )


class TeacherAttestation(RequestModel):
    reason: str = Field(
        min_length=1,
        max_length=200,
        description="代为确认的原因（必填），如“学生和家长均无智能手机，经班主任核实确已参加”",
    )


class Withdrawal(RequestModel):
    reason: str = Field(default="", max_length=200)


class ManualRecordCreate(RequestModel):
    """A record the school enters for its own students (科技社团一学期、校园科技节 …)."""

    student_ids: list[Id] = Field(min_length=1, max_length=500)
    title: str = Field(min_length=2, max_length=100, examples=["机器人社团（2026 秋季学期）"])
    category: RecordCategory
    dimension: Dimension | None = Field(
        default=None, description="不填则按本校所在地区政策包中该类别对应的评价维度"
    )
    place: str = Field(default="", max_length=100, description="不填则为本校")
    organiser_name: str | None = Field(default=None, max_length=100, description="不填则为本校")
    started_at: AwareDatetime
    ended_at: AwareDatetime
    minutes: int = Field(ge=0, le=24 * 60, description="计入时长（分钟）")
    role: RecordRole = RecordRole.participant
    outcome: str = Field(default="", max_length=100, description="成果/奖项")
    attester_name: str | None = Field(default=None, max_length=50, description="不填则为录入人")
    attester_phone: str = Field(default="", max_length=30)


class CorrectionWrite(RequestModel):
    """What the corrected record changes; fields left out keep the voided record's value."""

    title: str | None = Field(default=None, min_length=2, max_length=100)
    category: RecordCategory | None = None
    dimension: Dimension | None = None
    place: str | None = Field(default=None, max_length=100)
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    minutes: int | None = Field(default=None, ge=0, le=24 * 60)
    role: RecordRole | None = None
    outcome: str | None = Field(default=None, max_length=100)


class VoidRequest(RequestModel):
    reason: str = Field(min_length=1, max_length=200, description="作废原因（必填）")
    correction: CorrectionWrite = Field(default_factory=CorrectionWrite)


class NoticeCreate(RequestModel):
    title: str = Field(min_length=2, max_length=100, examples=["2026 秋季学期科学实践写实记录公示"])
    grade: int | None = Field(default=None, ge=1, le=12)
    class_name: str | None = Field(default=None, max_length=20)
    school_year: int | None = Field(default=None, ge=2000, le=2100)
    semester: Semester | None = None
    record_ids: list[Id] | None = Field(
        default=None, max_length=5000, description="只公示这些记录；不填则公示全部已审核记录"
    )


class NoticeRead(BaseModel):
    id: int
    school_id: int
    title: str
    working_days: int = Field(description="公示期（工作日）")
    starts_at: datetime
    ends_at: datetime = Field(description="公示截止（此刻起不再受理异议）")
    record_count: int
    is_open: bool


class NoticeEntry(BaseModel):
    """What a public notice shows: nothing more than name, class, activity, date and minutes,
    and whether someone gave the pupil's side for the pupil (the marks)."""

    record_id: int
    name: str
    class_label: str
    activity: str
    activity_date: date
    minutes: int
    marks: str = Field(
        description="代填标注，如“家长代为确认；家长代填”“教师代为确认”；学生本人确认时为空"
    )


class ObjectionCreate(RequestModel):
    reason: str = Field(
        min_length=2, max_length=1000, description="异议理由", json_schema_extra=MULTILINE
    )


class ObjectionRead(BaseModel):
    id: int
    record_id: int
    notice_id: int
    raised_role: str
    reason: str
    raised_at: datetime
    status: ObjectionStatus
    resolution: str
    resolved_at: datetime | None


class ObjectionChoice(StrEnum):
    uphold = "uphold"
    dismiss = "dismiss"


class ObjectionResolve(RequestModel):
    decision: ObjectionChoice = Field(
        description="uphold：异议成立，记录不予归档；dismiss：驳回异议"
    )
    resolution: str = Field(min_length=1, max_length=200, description="处理意见")


class TotalRead(BaseModel):
    key: str
    label: str
    records: int
    minutes: int


class RecordSummary(BaseModel):
    """A student's records that count (not rejected, withdrawn or voided)."""

    student_id: int
    records: int
    minutes: int
    archived_minutes: int
    by_semester: list[TotalRead]
    by_category: list[TotalRead]
    by_dimension: list[TotalRead]


class ChainReportRead(BaseModel):
    student_id: int
    valid: bool
    length: int = Field(description="已归档记录条数")
    head_hash: str = Field(description="链头哈希（校验通过时为最后一条的哈希）")
    broken_record_id: int | None = Field(description="第一条校验不通过的记录")
    problem: str | None = Field(description="sequence | link | content")


class NoticeSettingWrite(RequestModel):
    working_days: int | None = Field(
        ge=1, le=30, description="公示期（工作日）；null 表示沿用上级区划的设置"
    )


class NoticeSettingRead(BaseModel):
    region_code: str
    working_days: int | None = Field(description="本区划自己的设置")
    effective_working_days: int = Field(description="实际使用的公示期")
    from_region: str | None = Field(description="实际设置来自哪个区划；null 为系统默认 5 个工作日")


class RecordExportRequest(RequestModel):
    """A record export to run as a job: the filters of ``GET /record-exports``."""

    format: ExportFormat = Field(default=ExportFormat.xlsx, description="文件格式：`xlsx` 或 `csv`")
    region_code: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="行政区划代码（含下级），教育局只能选本辖区"
    )
    school_id: Id | None = Field(default=None, description="学校；学校工作人员只能是本校")
    grade: int | None = Field(default=None, ge=1, le=12)
    class_name: str | None = Field(default=None, max_length=20)
    student_id: Id | None = Field(default=None, description="学生；学生本人调用时总是本人")
    school_year: int | None = Field(default=None, ge=2000, le=2100)
    semester: Semester | None = None
    status: RecordStatus | None = None


class RecordFilesRequest(RequestModel):
    """Many pupils' 科技实践档案 at once: a school (school staff: their own), optionally one
    grade or class, and the records' term and status."""

    school_id: Id | None = Field(default=None, description="学校；学校工作人员可不填（本校）")
    grade: int | None = Field(default=None, ge=1, le=12)
    class_name: str | None = Field(default=None, max_length=20)
    school_year: int | None = Field(default=None, ge=2000, le=2100)
    semester: Semester | None = None
    status: RecordStatus | None = None


class WithheldPupil(BaseModel):
    """A pupil whose records an export to the 综评 platform leaves out."""

    student_id: int
    student_no: str | None = Field(description="学号（只给本校教职工；教育局与平台为空）")
    name: str = Field(description="姓名（按调用者的权限显示，教育局看到的已打码）")
    grade: int
    class_name: str
    school_id: int
    school_name: str
    withheld_records: int = Field(description="符合筛选条件、因此未导出的记录数")
    decision: Decision | None = Field(
        description="监护人对“评价导出”的最近一次决定：`refuse` 拒绝，`withdraw` 撤回，"
        "`grant` 同意但已不生效（告知书已更新或监护关系已解除）；null 表示从未作答"
        "（只给本校教职工，他们去问家长；教育局与平台看不到家长的决定）"
    )
