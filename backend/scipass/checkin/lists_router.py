"""HTTP for what staff read about visits: attendees (and their CSV), an activity's scan
events, a school's pupils' scans anywhere."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from scipass.activity.errors import ActivityNotFound
from scipass.checkin import arrivals as checkin_arrivals
from scipass.checkin import lists as checkin_lists
from scipass.checkin.models import ScanEvent, ScanResult, ScanSource
from scipass.checkin.schemas import (
    ArrivalsRead,
    AttendeeCounts,
    AttendeePage,
    AttendeeRead,
    HourCountsRead,
    PupilScanRead,
    RefusalCountRead,
    RefusedScanRead,
    ScanEventRead,
)
from scipass.core.callers import OrganiserOrPlatform, SchoolStaff
from scipass.core.clock import SHANGHAI, ClockDep
from scipass.core.db import AdmittedDep, SessionDep
from scipass.core.deps import DatabaseDep, SettingsDep
from scipass.core.errors import problem_responses
from scipass.core.exports import CSV_MEDIA_TYPE
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.jobs.errors import ExportTooLarge
from scipass.jobs.exporter import FileFormat
from scipass.jobs.schemas import JobRead
from scipass.roster.visibility import shown_name

router = APIRouter(tags=["checkins"])


DayQuery = Annotated[date | None, Query(description="日期（北京时间）")]


StatusQuery = Annotated[
    str | None, Query(pattern="^(open|closed)$", description="`open` 未签退，`closed` 已签退")
]


SourceQuery = Annotated[ScanSource | None, Query(description="签到方式")]


@router.get(
    "/activities/{activity_id}/checkins",
    name="attendee-list",
    summary="活动的到场学生（组织方）",
    responses=problem_responses(ActivityNotFound),
)
def attendee_list(
    activity_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    page: PageDep,
    clock: ClockDep,
    day: DayQuery = None,
    status: StatusQuery = None,
    source: SourceQuery = None,
) -> AttendeePage:
    rows, total, counts = checkin_lists.list_attendees(
        session,
        actor=actor,
        activity_id=activity_id,
        day=day,
        status=status,
        source=source.value if source else None,
        page=page,
    )
    schools = checkin_lists.school_names(session, {s.school_id for _c, s in rows})
    checkin_lists.audit_view(
        session,
        actor=actor,
        activity_id=activity_id,
        what="attendees",
        rows=len(rows),
        now=clock.now(),
    )
    return AttendeePage(
        counts=AttendeeCounts(**counts),
        total=total,
        limit=page.limit,
        offset=page.offset,
        items=[
            AttendeeRead(
                check_in_id=c.id or 0,
                student_id=s.id or 0,
                student_name=shown_name(actor, s.name, school_id=s.school_id, student_id=s.id),
                school_name=schools.get(s.school_id, ""),
                grade=s.grade,
                class_name=s.class_name,
                day=c.day,
                source=c.source,
                entered_at=c.entered_at,
                exited_at=c.exited_at,
                closed_by=c.closed_by,
                minutes=c.minutes,
            )
            for c, s in rows
        ],
    )


@router.get(
    "/activities/{activity_id}/checkins.csv",
    name="attendee-export",
    summary="导出到场学生（CSV）",
    description="每次到访一行，含签到与签退时间（北京时间）、方式和时长；UTF-8 带 BOM。"
    "导出记入审计日志。超过 `SCIPASS_EXPORT_SYNC_ROW_LIMIT` 行（默认 5000）时返回 422 "
    "`export_too_large`，请改用 `POST /activities/{activity_id}/attendee-exports`。",
    response_class=Response,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {"schema": {"type": "string"}}}},
        **problem_responses(ActivityNotFound, ExportTooLarge),
    },
)
def attendee_export(
    activity_id: Id,
    actor: OrganiserOrPlatform,
    database: DatabaseDep,
    _admitted: AdmittedDep,
    clock: ClockDep,
    settings: SettingsDep,
    day: DayQuery = None,
) -> Response:
    export = checkin_lists.attendee_export_now(
        database,
        clock,
        actor=actor,
        activity_id=activity_id,
        day=day,
        row_limit=settings.export_sync_row_limit,
    )
    return Response(export.content, media_type=CSV_MEDIA_TYPE, headers=export.headers)


@router.post(
    "/activities/{activity_id}/attendee-exports",
    name="attendee-export-job",
    summary="提交到场学生导出任务（任意行数）",
    description="与 `GET /activities/{activity_id}/checkins.csv` 相同的内容，在后台进程中生成，"
    "返回 202 和任务；用 `GET /jobs/{job_id}` 查询进度，完成后下载。`format`：`csv` 或 `xlsx`。",
    status_code=202,
    responses=problem_responses(ActivityNotFound),
)
def attendee_export_job(
    activity_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    clock: ClockDep,
    day: DayQuery = None,
    format: Annotated[FileFormat, Query(description="文件格式")] = FileFormat.csv,
) -> JobRead:
    job = checkin_lists.queue_attendee_export(
        session, actor=actor, activity_id=activity_id, day=day, file_format=format, now=clock.now()
    )
    return JobRead.of(job)


@router.get(
    "/activities/{activity_id}/scan-events",
    name="scan-event-list",
    summary="扫码记录（可只看被拒绝的）",
    description="每一次扫码尝试，含被拒绝的原因代码，便于场馆复核代签、异地签到。",
    responses=problem_responses(ActivityNotFound),
)
def scan_event_list(
    activity_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    page: PageDep,
    clock: ClockDep,
    result: Annotated[ScanResult | None, Query(description="`refused` 只看被拒绝的")] = None,
) -> Page[ScanEventRead]:
    rows, total = checkin_lists.list_scan_events(
        session, actor=actor, activity_id=activity_id, result=result, page=page
    )
    checkin_lists.audit_view(
        session,
        actor=actor,
        activity_id=activity_id,
        what="scan_events",
        rows=len(rows),
        now=clock.now(),
    )
    return Page[ScanEventRead](
        total=total,
        limit=page.limit,
        offset=page.offset,
        items=[
            ScanEventRead(
                **_event_fields(e),
                student_name=shown_name(actor, n, school_id=e.school_id, student_id=e.student_id)
                if n
                else None,
            )
            for e, n in rows
        ],
    )


@router.get(
    "/activities/{activity_id}/arrivals",
    name="arrival-counts",
    summary="到场情况（按小时计数与被拒绝的扫码）",
    description="组织方现场查看某天（默认今天，北京时间）的到场情况：每小时签到、签退人数与被拒绝的"
    "扫码次数，按原因汇总的拒绝次数，以及最近 20 次被拒绝的扫码（时间、方式、原因，不含学生）。"
    "只有计数，不含学生信息，供现场页面每隔几秒刷新；要看是谁，用 `scan-events`（记入审计日志）。",
    responses=problem_responses(ActivityNotFound),
)
def arrival_counts(
    activity_id: Id,
    actor: OrganiserOrPlatform,
    session: SessionDep,
    clock: ClockDep,
    day: DayQuery = None,
) -> ArrivalsRead:
    found = checkin_arrivals.arrivals(
        session,
        actor=actor,
        activity_id=activity_id,
        day=day or clock.now().astimezone(SHANGHAI).date(),
    )
    return ArrivalsRead(
        activity_id=found.activity_id,
        day=found.day,
        visits=found.visits,
        present=found.present,
        refused=found.refused,
        hours=[
            HourCountsRead(
                hour=h.hour, arrivals=h.arrivals, departures=h.departures, refused=h.refused
            )
            for h in found.hours
        ],
        reasons=[
            RefusalCountRead(reason=r, title=checkin_arrivals.reason_title(r), count=n)
            for r, n in found.reasons
        ],
        recent_refused=[
            RefusedScanRead(
                id=e.id or 0,
                server_time=e.server_time,
                direction=e.direction,
                source=e.source,
                reason=e.reason,
                title=checkin_arrivals.reason_title(e.reason),
                distance_m=e.distance_m,
            )
            for e in found.recent
        ],
    )


def _event_fields(event: ScanEvent) -> dict[str, object]:
    """What every list of scan events shows of one (names are the caller's to decide)."""
    return {
        "id": event.id or 0,
        "server_time": event.server_time,
        "scan_time": event.scan_time,
        "direction": event.direction,
        "source": event.source,
        "result": event.result,
        "reason": event.reason,
        "distance_m": event.distance_m,
        "forced": event.forced,
    }


@router.get(
    "/school-scan-events",
    name="school-scan-event-list",
    summary="本校学生的扫码记录（可只看被拒绝的）",
    description="本校学生在各场馆、各活动的每一次扫码尝试，最新的在前，含被拒绝的原因代码："
    "学校据此复核异地签到、代签，并帮助扫码总失败的学生。只含本校学生；查看记入审计日志。",
    responses=problem_responses(),
)
def school_scan_event_list(
    actor: SchoolStaff,
    session: SessionDep,
    page: PageDep,
    clock: ClockDep,
    result: Annotated[ScanResult | None, Query(description="`refused` 只看被拒绝的")] = None,
    reason: Annotated[
        str | None,
        Query(pattern=r"^[a-z_]{1,40}$", description="拒绝原因代码，如 `out_of_geofence`"),
    ] = None,
    student_id: Annotated[Id | None, Query(description="只看这名学生")] = None,
    from_date: Annotated[
        date | None,
        Query(description="服务器收到扫码的日期（北京时间）在此日及以后；离线扫码按上传日期"),
    ] = None,
    to_date: Annotated[
        date | None, Query(description="服务器收到扫码的日期（北京时间）在此日及以前，含当天")
    ] = None,
) -> Page[PupilScanRead]:
    rows, total = checkin_lists.list_school_scan_events(
        session,
        actor=actor,
        result=result,
        reason=reason,
        student_id=student_id,
        since=from_date,
        until=to_date,
        page=page,
    )
    checkin_lists.audit_view(
        session,
        actor=actor,
        activity_id=None,
        what="school_scan_events",
        rows=len(rows),
        now=clock.now(),
        result=result.value if result else None,
        reason=reason,
        student_id=student_id,
        from_date=from_date.isoformat() if from_date else None,
        to_date=to_date.isoformat() if to_date else None,
    )
    return Page[PupilScanRead](
        total=total,
        limit=page.limit,
        offset=page.offset,
        items=[
            PupilScanRead(
                **_event_fields(row.event),
                student_name=row.student_name,
                student_id=row.event.student_id,
                class_name=row.class_name,
                activity_id=row.event.activity_id,
                activity_title=row.activity_title,
                organiser_name=row.organiser_name,
            )
            for row in rows
        ],
    )
