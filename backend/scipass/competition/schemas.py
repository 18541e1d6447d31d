"""Requests and answers of the competition API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from annotated_types import Interval
from pydantic import BaseModel, Field

from scipass.competition.models import (
    CompetitionCategory,
    CompetitionLevel,
    EntryKind,
    EntryStatus,
    MemberRole,
    RoundEntryStatus,
    RoundEntryVia,
)
from scipass.core.inputs import MULTILINE, Grade, Id, RequestModel, SchoolYear
from scipass.org.models import Stage
from scipass.org.organiser import OrganiserKind

Members = Annotated[int, Interval(ge=1, le=50)]
Advisors = Annotated[int, Interval(ge=0, le=10)]
Quota = Annotated[int, Interval(ge=0, le=100_000)]
Position = Annotated[int, Interval(ge=1, le=20)]
# An attachment is an upload, held to SCIPASS_MAX_UPLOAD_BYTES (11 MB) as a whole first.
Megabytes = Annotated[int, Interval(ge=1, le=10)]

# --- whitelist ------------------------------------------------------------------------------


class WhitelistCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200, examples=["某市2026年面向中小学生竞赛活动名单"])
    source: str = Field(
        min_length=1, max_length=500, description="来源文件（文号、发布单位、网址）"
    )
    first_school_year: SchoolYear = Field(description="覆盖的第一个学年（开始的年份）")
    last_school_year: SchoolYear = Field(description="覆盖的最后一个学年（开始的年份）")


class WhitelistRead(BaseModel):
    id: int
    name: str
    source: str
    first_school_year: int
    last_school_year: int
    region_code: str | None = Field(description="为空表示全国名单")
    entries: int = Field(description="条目数")


class WhitelistEntryCreate(RequestModel):
    number: Annotated[int, Interval(ge=1, le=10_000)] | None = None
    name: str = Field(min_length=1, max_length=200)
    organiser: str = Field(min_length=1, max_length=200, description="主办单位")
    stages: list[Stage] = Field(min_length=1, description="面向学段")
    note: str = Field(default="", max_length=200)


class WhitelistEntryRead(BaseModel):
    id: int
    whitelist_id: int
    number: int | None
    name: str
    organiser: str
    stages: list[Stage]
    note: str


class WhitelistImportResult(BaseModel):
    imported: int = Field(description="新增的条目数")
    unchanged: int = Field(description="已存在、未改动的条目数")


# --- catalogue ------------------------------------------------------------------------------


class CompetitionCreate(RequestModel):
    name: str = Field(min_length=1, max_length=100, examples=["某县青少年机器人竞赛"])
    organiser_unit: str = Field(min_length=1, max_length=200, description="主办单位")
    category: CompetitionCategory
    level: CompetitionLevel
    description: str = Field(default="", max_length=2000, json_schema_extra=MULTILINE)
    whitelist_entry_id: Id | None = Field(default=None, description="对应的白名单条目")
    not_whitelisted: bool = Field(
        default=False, description="未列入白名单时须明确为 true（与 whitelist_entry_id 二选一）"
    )


class CompetitionWhitelistSet(RequestModel):
    whitelist_entry_id: Id | None = None
    not_whitelisted: bool = False


class EditionCreate(RequestModel):
    school_year: SchoolYear = Field(description="学年（开始的年份）；每学年至多一届")
    title: str = Field(min_length=1, max_length=100, examples=["第十届（2026—2027学年）"])
    requires_title: bool = Field(default=True, description="提交时必须填写作品/项目名称")
    requires_abstract: bool = Field(default=False, description="提交时必须填写简介")
    requires_attachment: bool = Field(default=False, description="提交时必须上传附件")
    attachment_max_mb: Megabytes = Field(default=10, description="附件大小上限（MB）")


class OrganiserIn(RequestModel):
    kind: OrganiserKind
    id: Id


class RoundCreate(RequestModel):
    position: Position = Field(description="第几轮（1 为第一轮）")
    name: str = Field(min_length=1, max_length=50, examples=["县级选拔"])
    level: CompetitionLevel
    region_code: str = Field(
        pattern=r"^\d{6}$", description="参赛学校所在地区（含下级地区），行政区划代码"
    )
    organiser: OrganiserIn = Field(description="本轮承办方：学校、场馆或教育局/科协")
    registration_opens_at: datetime
    registration_closes_at: datetime
    school_quota: Quota | None = Field(default=None, description="每校可推荐的报名数，空为不限")
    region_quota: Quota | None = Field(
        default=None, description="每个地区可晋级下一轮的报名数，空为不限"
    )


class DivisionCreate(RequestModel):
    name: str = Field(min_length=1, max_length=50, examples=["小学组"])
    stages: list[Stage] = Field(min_length=1)
    grade_min: Grade | None = None
    grade_max: Grade | None = None
    kind: EntryKind
    min_members: Members = 1
    max_members: Members = 1
    max_advisors: Advisors = 2


class OrganiserRead(BaseModel):
    kind: OrganiserKind
    id: int
    name: str


class RoundRead(BaseModel):
    id: int
    edition_id: int
    position: int
    name: str
    level: CompetitionLevel
    region_code: str
    organiser: OrganiserRead
    registration_opens_at: datetime
    registration_closes_at: datetime
    school_quota: int | None
    region_quota: int | None


class DivisionRead(BaseModel):
    id: int
    edition_id: int
    name: str
    stages: list[Stage]
    grade_min: int | None
    grade_max: int | None
    kind: EntryKind
    min_members: int
    max_members: int
    max_advisors: int


class EditionRead(BaseModel):
    id: int
    competition_id: int
    school_year: int
    title: str
    requires_title: bool
    requires_abstract: bool
    requires_attachment: bool
    attachment_max_bytes: int
    rounds: list[RoundRead] = []
    divisions: list[DivisionRead] = []


class CompetitionRead(BaseModel):
    id: int
    bureau_id: int
    region_code: str
    name: str
    organiser_unit: str
    category: CompetitionCategory
    level: CompetitionLevel
    description: str
    whitelisted: bool
    whitelist_entry: WhitelistEntryRead | None
    notice: str = Field(description="国家规定：竞赛结果不作为招生入学依据")
    editions: list[EditionRead] = []


# --- entries --------------------------------------------------------------------------------


class EntryCreate(RequestModel):
    division_id: Id
    title: str = Field(default="", max_length=100, description="作品/项目名称")
    abstract: str = Field(default="", max_length=2000, json_schema_extra=MULTILINE)
    student_ids: list[Id] = Field(
        default=[],
        max_length=50,
        description="学校统一报名时的学生（第一位为队长）；学生本人报名时不填，本人为队长",
    )
    advisor_account_ids: list[Id] = Field(
        default=[], max_length=10, description="学校统一报名时的指导教师（本校教职工账号）"
    )


class EntryUpdate(RequestModel):
    title: str | None = Field(default=None, max_length=100)
    abstract: str | None = Field(default=None, max_length=2000, json_schema_extra=MULTILINE)


class MemberAdd(RequestModel):
    student_id: Id


class AdvisorAdd(RequestModel):
    account_id: Id


class InvitationAccept(RequestModel):
    code: str = Field(min_length=4, max_length=16, examples=["7KQ2M9XA"])


class Reason(RequestModel):
    reason: str = Field(min_length=1, max_length=200)


class InvitationRead(BaseModel):
    code: str = Field(description="邀请码：发给队友，在有效期内使用一次")
    expires_at: datetime


class MemberRead(BaseModel):
    id: int
    student_id: int
    name: str
    class_name: str
    class_label: str = Field(description="年级与班级，如“四年级1班”")
    role: MemberRole


class AdvisorRead(BaseModel):
    id: int
    account_id: int
    name: str


class RoundEntryRead(BaseModel):
    round_id: int
    round_name: str
    position: int
    status: RoundEntryStatus
    via: RoundEntryVia
    school_reason: str
    organiser_reason: str


class EntryRead(BaseModel):
    id: int
    number: str | None
    competition_id: int
    competition_name: str
    edition_id: int
    division_id: int
    division_name: str
    round_id: int
    school_id: int
    title: str
    abstract: str
    has_attachment: bool
    attachment_name: str | None
    status: EntryStatus
    registered_by_kind: str
    members: list[MemberRead]
    advisors: list[AdvisorRead]
    rounds: list[RoundEntryRead] = Field(description="在各轮次中的状态（推荐、受理…）")
    created_at: datetime
    submitted_at: datetime | None


class OrganiserMemberRead(BaseModel):
    """What an organiser sees of a pupil: name and class (award lists are published with
    names and schools), nothing else."""

    name: str
    class_name: str
    class_label: str = Field(description="年级与班级，如“四年级1班”")


class OrganiserEntryRead(BaseModel):
    entry_id: int
    number: str | None
    division_name: str
    title: str
    school_name: str
    members: list[OrganiserMemberRead]
    status: RoundEntryStatus
    via: RoundEntryVia
