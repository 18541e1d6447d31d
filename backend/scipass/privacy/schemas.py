"""The incident log's bodies, and the yearly audit report: one model that the JSON answer, the
XLSX workbook and the PDF all render (:mod:`scipass.privacy.render`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from annotated_types import Interval
from pydantic import AwareDatetime, BaseModel, Field

from scipass.consent.models import Purpose
from scipass.core.inputs import INT32_MAX, MULTILINE, Id, RequestModel
from scipass.privacy.categories import DataCategory

Affected = Annotated[int, Interval(ge=0, le=INT32_MAX)]


# --- the incident log ---------------------------------------------------------------------


class IncidentCreate(RequestModel):
    occurred_at: AwareDatetime = Field(description="事件发生时间")
    discovered_at: AwareDatetime = Field(description="发现时间（不早于发生时间）")
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1, max_length=4000, json_schema_extra=MULTILINE)
    categories: list[DataCategory] = Field(
        min_length=1, max_length=len(DataCategory), description="涉及的个人信息类别（处理清单的键）"
    )
    affected_children: Affected = Field(description="受影响的未满 14 周岁儿童人数")
    affected_minors: Affected = Field(description="受影响的未成年人（未满 18 周岁，含儿童）人数")
    measures: str = Field(default="", max_length=4000, json_schema_extra=MULTILINE)
    school_id: Id | None = Field(default=None, description="涉及的学校；教育局可见其辖区的事件")
    region_code: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="涉及的地区（不指定学校时）"
    )


class IncidentUpdate(RequestModel):
    measures: str | None = Field(default=None, max_length=4000, json_schema_extra=MULTILINE)
    reported_to_authority_at: AwareDatetime | None = Field(
        default=None, description="向网信部门等主管部门报告的时间；登记后不能更改"
    )
    close: bool = Field(default=False, description="结案；结案后不能再修改")


class IncidentRead(BaseModel):
    id: int
    occurred_at: datetime
    discovered_at: datetime
    recorded_at: datetime
    recorded_by: str
    title: str
    description: str
    categories: list[str]
    affected_children: int
    affected_minors: int
    measures: str
    reported_to_authority_at: datetime | None
    closed_at: datetime | None
    school_id: int | None
    region_code: str | None
    updated_at: datetime


# --- the yearly audit report --------------------------------------------------------------


class AgeSplit(BaseModel):
    """A figure split by age at the period's end (birth month known, so a pupil counts as
    younger until the end of the birthday month)."""

    under_14: int = Field(description="未满 14 周岁（儿童）")
    from_14_to_17: int = Field(description="14 至 17 周岁")
    adults: int = Field(description="18 周岁及以上")
    under_18: int = Field(description="未满 18 周岁（未成年人，含儿童）")

    @classmethod
    def of(cls, under_14: int = 0, from_14_to_17: int = 0, adults: int = 0) -> AgeSplit:
        return cls(
            under_14=under_14,
            from_14_to_17=from_14_to_17,
            adults=adults,
            under_18=under_14 + from_14_to_17,
        )


class ReportPeriod(BaseModel):
    start: date = Field(description="开始日期（含）")
    end: date = Field(description="结束日期（不含）")
    as_of: date = Field(description="年龄与同意状态的计算日（期末最后一天）")


class ReportScope(BaseModel):
    kind: Literal["platform", "region"]
    region_code: str | None = None
    region_name: str | None = None


class InventoryItem(BaseModel):
    key: str
    name: str
    purposes: list[Purpose] = Field(description="依据的同意目的")
    purpose_names: list[str]
    bases: list[str] = Field(description="无需同意目的的处理依据")
    stored_in: list[str] = Field(description="存储位置：数据表.字段")
    files: list[str] = Field(description="数据库以外的存储位置")


class DecisionCounts(BaseModel):
    records: AgeSplit = Field(description="期间内记录的决定条数")
    pupils: AgeSplit = Field(description="期间内有此决定的学生人数（去重）")


class ConsentPurposeFigures(BaseModel):
    purpose: Purpose
    name: str
    asked_under: int = Field(description="须监护人同意的年龄（未满）")
    given: DecisionCounts
    refused: DecisionCounts
    withdrawn: DecisionCounts
    in_force_at_end: AgeSplit = Field(description="期末同意有效的须同意学生人数")
    refused_or_withdrawn_at_end: AgeSplit = Field(description="期末最近一次决定为拒绝或撤回")
    missing_at_end: AgeSplit = Field(
        description="期末须同意却没有有效决定的学生人数（从未答复，或同意已不再有效）"
    )


class AccessFigure(BaseModel):
    kind: Literal["access", "export"]
    actor_role: str
    organisation: str = Field(
        description="school:<id>、venue:<id>、bureau:<id>、region:<代码> 或 none"
    )
    organisation_name: str
    entries: int = Field(description="审计日志条数")


class DeletionRequestFigure(BaseModel):
    id: int
    school_id: int
    school_name: str
    age_group: Literal["under_14", "from_14_to_17", "adults"]
    requested_by_role: str
    requested_at: datetime
    due_at: datetime
    carried_out_at: datetime | None
    days: float | None = Field(description="申请到办结的天数（未办结为空）")
    overdue: bool = Field(description="办结晚于期限，或期末仍未办结且已过期限")


class DeletionFigures(BaseModel):
    requests: list[DeletionRequestFigure]
    total: AgeSplit
    carried_out: int
    open_at_end: int
    overdue: int
    median_days: float | None
    max_days: float | None


class ErasureFigure(BaseModel):
    action: Literal["data_deleted", "data_purged"]
    reason: str = Field(description="consent_withdrawn、deletion_request、retention 等")
    kind: str = Field(description="删除的信息类别，如 scan_location、client_address")
    runs: int = Field(description="日志条数")
    count: int = Field(description="删除或清除的条数")


class PurgeRunFigure(BaseModel):
    at: datetime
    counts: dict[str, int] | None = Field(
        description="各类清除条数；教育局的报告不列（全平台合计）"
    )


class IncidentFigure(BaseModel):
    id: int
    occurred_at: datetime
    discovered_at: datetime
    title: str
    categories: list[str]
    affected_children: int
    affected_minors: int
    measures: str
    reported_to_authority_at: datetime | None
    closed_at: datetime | None
    region_code: str | None
    school_id: int | None


class IncidentTotals(BaseModel):
    incidents: int
    affected_children: int
    affected_minors: int
    reported: int
    closed: int


class AuditReport(BaseModel):
    title: str
    generated_at: datetime
    period: ReportPeriod
    scope: ReportScope
    notes: list[str]
    inventory: list[InventoryItem]
    pupils_at_end: AgeSplit = Field(description="期末在册学生")
    consents: list[ConsentPurposeFigures]
    access: list[AccessFigure]
    access_totals: dict[str, int] = Field(description="查看（access）与导出（export）的条数")
    deletions: DeletionFigures
    erasures: list[ErasureFigure]
    purge_runs: list[PurgeRunFigure]
    incidents: list[IncidentFigure]
    incident_totals: IncidentTotals
