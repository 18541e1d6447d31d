"""The yearly audit report of minors' data (JSON, XLSX, PDF) and the incident log."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from scipass.core.callers import BureauOrPlatform, PlatformAdmin
from scipass.core.clock import ClockDep, local_date
from scipass.core.db import SessionDep
from scipass.core.deps import SettingsDep
from scipass.core.errors import problem_responses
from scipass.core.exports import XLSX_MEDIA_TYPE, attachment
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.org.errors import RegionNotFound
from scipass.privacy import incidents, render, report
from scipass.privacy.errors import (
    IncidentAlreadyReported,
    IncidentClosed,
    IncidentInvalid,
    IncidentNotFound,
    ReportPeriodInvalid,
)
from scipass.privacy.models import PrivacyIncident
from scipass.privacy.schemas import AuditReport, IncidentCreate, IncidentRead, IncidentUpdate

router = APIRouter(tags=["privacy"])

Start = Annotated[date | None, Query(description="开始日期（含），默认为上一年 1 月 1 日")]
End = Annotated[date | None, Query(description="结束日期（不含），默认为今年 1 月 1 日")]
XLSX = {XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}
PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
REPORT_ERRORS = problem_responses(ReportPeriodInvalid, RegionNotFound)
DESCRIPTION = (
    "《未成年人网络保护条例》第三十七条要求的年度合规审计所需数据：处理清单（由代码中的声明生成）、"
    "各目的的同意情况（给予、拒绝、撤回、期末缺失）、按角色和单位的查看与导出次数、删除申请及办理"
    "天数、删除与保留期清理、安全事件；儿童（未满 14 周岁）与未成年人（未满 18 周岁）分列。"
    "平台管理员为全平台，教育局为本辖区。只有统计数字，不含学生姓名；生成记入审计日志。"
)


def _build(
    caller: BureauOrPlatform,
    session: SessionDep,
    clock: ClockDep,
    start: date | None,
    end: date | None,
    file_format: str,
) -> AuditReport:
    now = clock.now()
    default_start, default_end = report.default_period(local_date(now))
    built = report.build(
        session,
        principal=caller,
        start=start or default_start,
        end=end or default_end,
        now=now,
    )
    report.record_generated(
        session, principal=caller, report=built, file_format=file_format, now=now
    )
    return built


def _filename(built: AuditReport, suffix: str) -> dict[str, str]:
    where = built.scope.region_name or "全平台"
    span = f"{built.period.start.isoformat()}_{built.period.end.isoformat()}"
    plain = f"privacy-audit-{built.scope.region_code or 'platform'}-{span}.{suffix}"
    return attachment(f"未成年人个人信息合规审计-{where}-{span}.{suffix}", plain)


@router.get(
    "/privacy-audit-report",
    name="privacy-audit-report",
    summary="未成年人个人信息年度合规审计报告",
    description=DESCRIPTION,
    responses=REPORT_ERRORS,
)
def audit_report(
    caller: BureauOrPlatform,
    session: SessionDep,
    clock: ClockDep,
    start: Start = None,
    end: End = None,
) -> AuditReport:
    return _build(caller, session, clock, start, end, "json")


@router.get(
    "/privacy-audit-report.xlsx",
    name="privacy-audit-report-xlsx",
    summary="未成年人个人信息年度合规审计报告（XLSX）",
    description=DESCRIPTION,
    response_class=Response,
    responses={200: {"content": XLSX}, **REPORT_ERRORS},
)
def audit_report_xlsx(
    caller: BureauOrPlatform,
    session: SessionDep,
    clock: ClockDep,
    start: Start = None,
    end: End = None,
) -> Response:
    built = _build(caller, session, clock, start, end, "xlsx")
    return Response(
        render.xlsx(built), media_type=XLSX_MEDIA_TYPE, headers=_filename(built, "xlsx")
    )


@router.get(
    "/privacy-audit-report.pdf",
    name="privacy-audit-report-pdf",
    summary="未成年人个人信息年度合规审计报告（PDF）",
    description=DESCRIPTION,
    response_class=Response,
    responses={200: {"content": PDF}, **REPORT_ERRORS},
)
def audit_report_pdf(
    caller: BureauOrPlatform,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    start: Start = None,
    end: End = None,
) -> Response:
    built = _build(caller, session, clock, start, end, "pdf")
    return Response(
        render.pdf(settings, built), media_type="application/pdf", headers=_filename(built, "pdf")
    )


def _read(incident: PrivacyIncident) -> IncidentRead:
    return IncidentRead.model_validate(incident, from_attributes=True)


@router.post(
    "/privacy-incidents",
    name="privacy-incident-create",
    summary="登记个人信息安全事件",
    description="平台管理员登记：发生与发现时间、涉及的信息类别（处理清单的键）、受影响的儿童与"
    "未成年人人数、已采取的措施；可指定学校或地区，教育局可见其辖区的事件。",
    status_code=201,
    responses=problem_responses(IncidentInvalid),
)
def incident_create(
    body: IncidentCreate, caller: PlatformAdmin, session: SessionDep, clock: ClockDep
) -> IncidentRead:
    return _read(incidents.create(session, actor=caller, body=body, now=clock.now()))


@router.get(
    "/privacy-incidents",
    name="privacy-incident-list",
    summary="个人信息安全事件台账",
    description="最近发生的在前。平台管理员看全部，教育局看本辖区（只读）。",
)
def incident_list(
    caller: BureauOrPlatform,
    session: SessionDep,
    page: PageDep,
    open_only: Annotated[bool, Query(description="只看未结案的")] = False,
) -> Page[IncidentRead]:
    rows, total = incidents.listed(session, principal=caller, page=page, open_only=open_only)
    return Page[IncidentRead].of([_read(r) for r in rows], total, page)


@router.get(
    "/privacy-incidents/{incident_id}",
    name="privacy-incident-get",
    summary="一条安全事件",
    responses=problem_responses(IncidentNotFound),
)
def incident_get(incident_id: Id, caller: BureauOrPlatform, session: SessionDep) -> IncidentRead:
    return _read(incidents.get(session, principal=caller, incident_id=incident_id))


@router.patch(
    "/privacy-incidents/{incident_id}",
    name="privacy-incident-update",
    summary="更新安全事件：措施、向主管部门报告的时间、结案",
    description="结案后不能再修改；报告时间登记一次。",
    responses=problem_responses(
        IncidentNotFound, IncidentInvalid, IncidentClosed, IncidentAlreadyReported
    ),
)
def incident_update(
    incident_id: Id,
    body: IncidentUpdate,
    caller: PlatformAdmin,
    session: SessionDep,
    clock: ClockDep,
) -> IncidentRead:
    return _read(
        incidents.change(session, actor=caller, incident_id=incident_id, body=body, now=clock.now())
    )
