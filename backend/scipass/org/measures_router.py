"""What the policy rules measure, besides activities and records (issue 19): a school's
science staff, a bureau's counsellor trainings, mobile science museum tours, and a region's
school calendar."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from scipass.core.auth import public_access
from scipass.core.callers import (
    BureauCaller,
    BureauOrPlatform,
    OrganiserOrBureau,
    SchoolAdmin,
    StaffCaller,
    StaffFileReader,
)
from scipass.core.clock import ClockDep, school_year_of
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.inputs import Id, SchoolYear, SchoolYearFilter
from scipass.core.pagination import Page, PageDep
from scipass.org import calendars, science_staff, tours, trainings
from scipass.org.errors import (
    CalendarInvalid,
    NotATourOrganiser,
    OrganisationNotFound,
    OutsideRegion,
    RegionNotFound,
    ScienceStaffExists,
    ScienceStaffInvalid,
    ScienceStaffNotFound,
    TourInvalid,
    TrainingExists,
    TrainingInvalid,
)
from scipass.org.measures_models import (
    CounsellorTraining,
    CounsellorTrainingAttendee,
    MobileMuseumTour,
    SchoolScienceStaff,
)
from scipass.org.measures_schemas import (
    AttendeeRead,
    CalendarRead,
    CalendarWrite,
    ScienceStaffCreate,
    ScienceStaffEnd,
    ScienceStaffRead,
    TourCreate,
    TourPage,
    TourRead,
    TrainingCreate,
    TrainingDetail,
    TrainingPage,
    TrainingRead,
)
from scipass.org.organiser import organiser_of
from scipass.policy.vocab import StaffRole

public_router = APIRouter(tags=["policy-measures"], dependencies=[Depends(public_access)])
router = APIRouter(tags=["policy-measures"])

RegionCode = Annotated[str, Path(pattern=r"^\d{6}$", description="GB/T 2260 六位行政区划代码")]
RegionFilter = Annotated[
    str | None,
    Query(pattern=r"^\d{6}$", description="行政区划代码（含下级区划）；不填为本教育局的辖区"),
]


# --- science staff ----------------------------------------------------------------------------


def staff_read(staff: SchoolScienceStaff) -> ScienceStaffRead:
    return ScienceStaffRead(
        id=staff.id or 0,
        school_id=staff.school_id,
        role=StaffRole(staff.role),
        name=staff.name,
        title=staff.title,
        started_on=staff.started_on,
        ended_on=staff.ended_on,
    )


@router.post(
    "/schools/{school_id}/science-staff",
    name="science-staff-create",
    summary="登记科学副校长或科技辅导员",
    description="学校管理员登记本校的科学副校长（校领导或聘任的专家学者）、科技辅导员及任职起止日期"
    "（晋城 004 二.5）。同一人同一职务同一开始日期只能登记一次（409）。记入审计日志。"
    "其他学校返回 404。",
    status_code=201,
    responses=problem_responses(OrganisationNotFound, ScienceStaffExists, ScienceStaffInvalid),
)
def create_science_staff(
    school_id: Id,
    body: ScienceStaffCreate,
    caller: SchoolAdmin,
    session: SessionDep,
    clock: ClockDep,
) -> ScienceStaffRead:
    staff = science_staff.add(
        session, actor=caller, school_id=school_id, data=body, now=clock.now()
    )
    return staff_read(staff)


@router.get(
    "/schools/{school_id}/science-staff",
    name="science-staff-list",
    summary="学校的科学副校长与科技辅导员",
    description="本校教职工、学校所在地区（及上级地区）的教育局、平台管理员查看。"
    "给出 `on_date` 时只列出当日在任的人员。其他学校返回 404。",
    responses=problem_responses(OrganisationNotFound),
)
def list_science_staff(
    school_id: Id,
    caller: StaffFileReader,
    session: SessionDep,
    page: PageDep,
    on_date: Annotated[date | None, Query(description="只列出此日在任的人员")] = None,
) -> Page[ScienceStaffRead]:
    rows = science_staff.list_for_school(
        session, actor=caller, school_id=school_id, on_date=on_date
    )
    return Page[ScienceStaffRead].sliced([staff_read(s) for s in rows], page)


@router.patch(
    "/science-staff/{staff_id}",
    name="science-staff-end",
    summary="结束任职",
    description="学校管理员写明任职结束日期（含当日），也可更正。不早于开始日期。记入审计日志。"
    "其他学校的记录返回 404。",
    responses=problem_responses(ScienceStaffNotFound, ScienceStaffInvalid),
)
def end_science_staff(
    staff_id: Id, body: ScienceStaffEnd, caller: SchoolAdmin, session: SessionDep, clock: ClockDep
) -> ScienceStaffRead:
    staff = science_staff.end(
        session, actor=caller, staff_id=staff_id, ended_on=body.ended_on, now=clock.now()
    )
    return staff_read(staff)


# --- counsellor trainings ---------------------------------------------------------------------


def training_read(training: CounsellorTraining, person_times: int) -> TrainingRead:
    return TrainingRead(
        id=training.id or 0,
        bureau_id=training.bureau_id,
        region_code=training.region_code,
        title=training.title,
        held_on=training.held_on,
        school_year=school_year_of(training.held_on),
        hours=training.hours,
        person_times=person_times,
    )


@router.post(
    "/counsellor-trainings",
    name="counsellor-training-create",
    summary="登记科技辅导员培训",
    description="教育局登记一次科技辅导员培训及参训人员（每人一行，人次即行数；湘乡 000 二.7"
    "每年 100 人次，湘潭 001 每年 200 人次）。本辖区学校的人员填写学校，辖区外人员不填；"
    "所填学校不在本辖区则整次不登记（422）。同一天同名培训只能登记一次（409）。记入审计日志。",
    status_code=201,
    responses=problem_responses(OrganisationNotFound, TrainingExists, TrainingInvalid),
)
def create_training(
    body: TrainingCreate, caller: BureauCaller, session: SessionDep, clock: ClockDep
) -> TrainingDetail:
    training, attendees = trainings.create(session, actor=caller, data=body, now=clock.now())
    return TrainingDetail(
        **training_read(training, len(attendees)).model_dump(),
        attendees=[attendee_read(a) for a in attendees],
    )


def attendee_read(attendee: CounsellorTrainingAttendee) -> AttendeeRead:
    return AttendeeRead(name=attendee.name, school_id=attendee.school_id)


@router.get(
    "/counsellor-trainings",
    name="counsellor-training-list",
    summary="科技辅导员培训",
    description="教育局查看本辖区（含下级地区教育局）登记的培训，按日期从新到旧，"
    "每次培训带人次，并给出全部符合条件培训的合计人次。`school_year` 按 9 月 1 日起算。"
    "辖区外的地区返回 403。",
    responses=problem_responses(RegionNotFound, OutsideRegion),
)
def list_trainings(
    caller: BureauOrPlatform,
    session: SessionDep,
    page: PageDep,
    region_code: RegionFilter = None,
    school_year: SchoolYearFilter = None,
) -> TrainingPage:
    rows, total, person_times = trainings.list_trainings(
        session, actor=caller, region_code=region_code, school_year=school_year, page=page
    )
    return TrainingPage(
        items=[training_read(r.training, r.person_times) for r in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
        person_times=person_times,
    )


# --- mobile science museum tours --------------------------------------------------------------


def tour_read(tour: MobileMuseumTour) -> TourRead:
    return TourRead(
        id=tour.id or 0,
        organiser=organiser_of(tour).kind,
        school_id=tour.school_id,
        venue_id=tour.venue_id,
        bureau_id=tour.bureau_id,
        visited_school_id=tour.visited_school_id,
        starts_on=tour.starts_on,
        ends_on=tour.ends_on,
        days=tours.days_covered(tour),
        note=tour.note,
    )


@router.post(
    "/mobile-museum-tours",
    name="mobile-museum-tour-create",
    summary="登记流动科技馆巡展",
    description="流动科技馆（场馆）、教育局（科协）或有校园科技馆的学校登记一次到某校的巡展"
    "及起止日期（含首尾，覆盖天数即日期跨度；湘 003 三.(一)：边远地区每年不少于两个月）。"
    "教育局只能登记本辖区的学校，场馆和学校只能登记本省的学校（403）。记入审计日志。",
    status_code=201,
    responses=problem_responses(
        OrganisationNotFound, OutsideRegion, TourInvalid, NotATourOrganiser
    ),
)
def create_tour(
    body: TourCreate, caller: OrganiserOrBureau, session: SessionDep, clock: ClockDep
) -> TourRead:
    return tour_read(tours.create(session, actor=caller, data=body, now=clock.now()))


@router.get(
    "/mobile-museum-tours",
    name="mobile-museum-tour-list",
    summary="流动科技馆巡展",
    description="组织方看自己登记的巡展；学校还看到到本校的巡展；教育局还看到到本辖区学校的巡展；"
    "平台管理员看全部。`school_year` 筛选与该学年（9 月 1 日起）有交集的巡展。",
    responses=problem_responses(),
)
def list_tours(
    caller: StaffCaller, session: SessionDep, page: PageDep, school_year: SchoolYearFilter = None
) -> TourPage:
    found = tours.list_tours(session, actor=caller, school_year=school_year, page=page)
    return TourPage(
        items=[tour_read(t) for t in found.tours],
        total=found.total,
        limit=page.limit,
        offset=page.offset,
        days=found.days,
    )


# --- school calendars -------------------------------------------------------------------------


def calendar_read(region_code: str, terms: calendars.TermDates) -> CalendarRead:
    return CalendarRead(
        region_code=region_code,
        school_year=terms.school_year,
        source_region_code=terms.source_region_code,
        autumn_start=terms.autumn_start,
        autumn_end=terms.autumn_end,
        spring_start=terms.spring_start,
        spring_end=terms.spring_end,
    )


@router.put(
    "/regions/{region_code}/school-calendars/{school_year}",
    name="school-calendar-set",
    summary="设置校历",
    description="该地区（或上级地区）的教育局、平台管理员设置一个学年两个学期的起止日期（含）。"
    "日期须在该学年 8 月 1 日至次年 8 月 31 日之间，并依次排列。下级地区没有自己的校历时沿用。"
    "再次设置即覆盖，记入审计日志（修改前后的值）。辖区外的地区返回 403。",
    responses=problem_responses(RegionNotFound, OutsideRegion, CalendarInvalid),
)
def set_calendar(
    region_code: RegionCode,
    school_year: Annotated[SchoolYear, Path(description="学年（开始的年份）")],
    body: CalendarWrite,
    caller: BureauOrPlatform,
    session: SessionDep,
    clock: ClockDep,
) -> CalendarRead:
    calendars.set_calendar(
        session,
        actor=caller,
        region_code=region_code,
        school_year=school_year,
        data=body,
        now=clock.now(),
    )
    return calendar_read(
        region_code, calendars.effective_calendar(session, region_code, school_year)
    )


@public_router.get(
    "/regions/{region_code}/school-calendars/{school_year}",
    name="school-calendar-get",
    summary="校历",
    description="一个地区某学年的学期起止日期：本地区的校历，没有则沿用最近的上级地区的；"
    "都没有时按默认划分（第一学期 9 月 1 日至次年 1 月 31 日，第二学期 2 月 1 日至 8 月 31 日），"
    "`source_region_code` 为空。无需登录。",
    responses=problem_responses(RegionNotFound),
)
def get_calendar(
    region_code: RegionCode,
    school_year: Annotated[SchoolYear, Path(description="学年（开始的年份）")],
    session: SessionDep,
) -> CalendarRead:
    return calendar_read(
        region_code, calendars.effective_calendar(session, region_code, school_year)
    )
