"""Request and response bodies of competition results."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from scipass.competition.results_models import Award, ResultObjectionStatus, ResultStatus
from scipass.core.inputs import MULTILINE, RequestModel
from scipass.record.labels import NOT_FOR_ADMISSION


class ResultWrite(RequestModel):
    award: Award = Field(
        description="奖项：special 特等奖、first 一等奖、second 二等奖、third 三等奖、"
        "merit 优秀奖、finalist 入围、participation 参与"
    )
    advances: bool = Field(default=False, description="是否晋级下一轮")


class ResultRead(BaseModel):
    id: int
    round_id: int
    entry_id: int
    award: Award
    award_label: str = Field(description="奖项的中文名称，如“一等奖”")
    advances: bool
    status: ResultStatus = Field(
        description="draft 待公示（可修改）、noticed 公示中、published 已发布（计入记录）"
    )
    notice_id: int | None
    entered_at: datetime
    published_at: datetime | None
    note: str = Field(default=NOT_FOR_ADMISSION, description="国家规定：竞赛结果不作为招生依据")


class MemberName(BaseModel):
    name: str
    class_label: str = Field(description="年级与班级，如“四年级1班”；其他学校看到的为空")


class RoundResultRow(BaseModel):
    entry_id: int
    entry_number: str | None
    title: str
    school_id: int
    school_name: str
    via: str = Field(description="registration 本轮报名，advanced 由上一轮晋级")
    members: list[MemberName]
    result: ResultRead | None = Field(description="尚未录入时为空")


class RoundResults(BaseModel):
    round_id: int
    round_name: str
    has_next_round: bool
    region_quota: int | None = Field(description="每个地区（学校所在区县）可晋级下一轮的名额")
    items: list[RoundResultRow]
    note: str = Field(default=NOT_FOR_ADMISSION)


class ResultNoticeRead(BaseModel):
    id: int
    round_id: int
    working_days: int
    starts_at: datetime
    ends_at: datetime = Field(description="公示截止（北京时间最后一个工作日 24:00）")
    result_count: int


class UploadRead(BaseModel):
    entered: int = Field(description="录入（或修改）的成绩条数")


class PublishRead(BaseModel):
    published: int = Field(description="本次发布的成绩条数")
    records: int = Field(description="本次生成的写实记录条数")
    advanced: int = Field(description="本次进入下一轮名单的报名数")
    held: int = Field(description="公示期已满但仍有未处理异议、暂不发布的成绩条数")
    waiting: int = Field(description="仍在公示期内的成绩条数")


class ResultObjectionCreate(RequestModel):
    reason: str = Field(
        min_length=2, max_length=1000, description="异议理由", json_schema_extra=MULTILINE
    )


class ObjectionDecision(StrEnum):
    uphold = "uphold"
    dismiss = "dismiss"


class ResultObjectionResolve(RequestModel):
    decision: ObjectionDecision = Field(
        description="uphold：异议成立，成绩退回修改后重新公示；dismiss：驳回异议，成绩照常发布"
    )
    resolution: str = Field(min_length=1, max_length=200, description="处理意见")


class ResultObjectionRead(BaseModel):
    id: int
    result_id: int
    notice_id: int
    school_id: int
    raised_role: str
    reason: str
    raised_at: datetime
    status: ResultObjectionStatus
    resolution: str
    resolved_at: datetime | None
