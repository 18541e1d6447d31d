"""What the policy rules measure, in the demo world (issue 19): the schools' flags (remote,
main urban district), Jincheng's science vice-principals and counsellors (004 二.5, some
schools short of one), counsellor trainings of Xiangxiang and Xiangtan (000 二.7, 001: just
under and just over their yearly person-times), mobile science museum tours to Hunan's remote
schools (003 三.(一)), the school calendars of Hunan and Jincheng, and activities that carry a
programme, a campaign or the after-school flag, one of them organised by a bureau. Every step
goes through the services a request would call."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, func, select

from scipass.activity import service as activity_service
from scipass.activity.models import ActivityKind, ActivityStatus
from scipass.activity.schemas import ActivityWrite
from scipass.core.auth import Principal, Role
from scipass.core.clock import SHANGHAI, local_date, school_year_of
from scipass.org import calendars, science_staff, tours, trainings
from scipass.org import service as org_service
from scipass.org.measures_models import (
    CounsellorTraining,
    MobileMuseumTour,
    SchoolCalendar,
    SchoolScienceStaff,
)
from scipass.org.measures_schemas import (
    AttendeeWrite,
    CalendarWrite,
    ScienceStaffCreate,
    TourCreate,
    TrainingCreate,
)
from scipass.org.models import Bureau, School, Venue
from scipass.org.schemas import SchoolFlagsUpdate
from scipass.policy.vocab import Campaign, Programme, StaffRole

REMOTE = [
    "湘潭县花石镇中心小学",
    "湘乡市东郊乡中学",
    "宁城县大城子镇中心小学",
    "翁牛特旗乌丹第三中学",
]
MAIN_URBAN_DISTRICT = [
    "湘潭市雨湖区和平小学",
    "湘潭市岳塘区实验中学",
    "湘潭市第九中学",
    "晋城市城区凤台小学",
    "晋城市第六中学",
    "晋城市第一中学",
]

# (school, role, name, title, started, ended): 004 二.5 asks for both roles by 2024-06-30.
SCIENCE_STAFF: list[tuple[str, StaffRole, str, str, date, date | None]] = [
    ("晋城市城区凤台小学", StaffRole.vice_principal, "郭建华", "副校长", date(2024, 3, 1), None),
    ("晋城市城区凤台小学", StaffRole.counsellor, "赵丽", "科学教师", date(2023, 9, 1), None),
    (
        "晋城市第六中学",
        StaffRole.vice_principal,
        "王振宇",
        "太原理工大学教授",
        date(2024, 5, 20),
        None,
    ),
    ("晋城市第一中学", StaffRole.vice_principal, "李国强", "副校长", date(2024, 4, 1), None),
    (
        "晋城市第一中学",
        StaffRole.counsellor,
        "陈静",
        "物理教师",
        date(2022, 9, 1),
        date(2024, 1, 31),
    ),
    ("晋城市第一中学", StaffRole.counsellor, "张敏", "信息技术教师", date(2024, 2, 26), None),
    ("泽州县巴公镇中心学校", StaffRole.counsellor, "卫红", "科学教师", date(2023, 9, 1), None),
    ("高平市陈区镇中学", StaffRole.vice_principal, "牛志刚", "校长", date(2024, 9, 2), None),
    ("高平市陈区镇中学", StaffRole.counsellor, "秦晓燕", "生物教师", date(2024, 3, 4), None),
    ("湘潭市雨湖区和平小学", StaffRole.counsellor, "李晓", "科学教师", date(2023, 9, 1), None),
]

# (bureau, title, days after the school year's start, [(school or None, person-times)]):
# Xiangxiang 96 (its yearly 100, 000 二.7, not reached yet); Xiangtan, counting its counties,
# 96 + 108 = 204 (200, 001).
TRAININGS: list[tuple[str, str, int, list[tuple[str | None, int]]]] = [
    (
        "湘乡市教育局",
        "湘乡市科技辅导员培训班（第一期）",
        20,
        [("湘乡市第二中学", 30), ("湘乡市东郊乡中学", 24)],
    ),
    ("湘乡市教育局", "湘乡市科技辅导员培训班（第二期）", 48, [("湘乡市第二中学", 30), (None, 12)]),
    (
        "湘潭市教育局",
        "湘潭市中小学科技辅导员能力提升培训",
        34,
        [("湘潭市雨湖区和平小学", 40), ("湘潭市第九中学", 38), (None, 30)],
    ),
]

# (organiser: a venue or a bureau, school visited, days after the school year's start, days):
# 38 + 18 = 56 days in Hunan's remote schools, under the two months of 003 三.(一).
TOURS: list[tuple[str, str, int, int]] = [
    ("湘潭市科技馆", "湘潭县花石镇中心小学", 14, 38),
    ("湘乡市教育局", "湘乡市东郊乡中学", 70, 18),
]

# (region, (autumn start, autumn end, spring start, spring end) as month-day after the
# school year's first calendar year, the second four in the next)
CALENDARS: list[
    tuple[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]]
] = [
    ("430000", ((9, 1), (1, 19), (2, 16), (7, 3))),
    ("140500", ((9, 1), (1, 16), (2, 23), (7, 10))),
]

# (organiser, title, kind, days from today, start, end, programme, campaigns, after school)
ACTIVITIES: list[
    tuple[str, str, ActivityKind, int, str, str, Programme | None, list[Campaign], bool]
] = [
    (
        "晋城市教育局",
        "科学家精神进校园：院士报告会",
        ActivityKind.lecture,
        -12,
        "14:30",
        "16:00",
        Programme.scientist_in_school,
        [],
        False,
    ),
    (
        "晋城市城区凤台小学",
        "科学第一课：身边的力",
        ActivityKind.course,
        -20,
        "09:00",
        "09:40",
        Programme.science_first_lesson,
        [],
        False,
    ),
    (
        "湘潭市雨湖区和平小学",
        "课后服务科学社团：水火箭",
        ActivityKind.club,
        -3,
        "16:30",
        "17:30",
        None,
        [],
        True,
    ),
    (
        "湘潭市科技馆",
        "全国科普日：走进科技馆",
        ActivityKind.venue_visit,
        9,
        "09:00",
        "11:30",
        Programme.practice_at_base,
        [Campaign.science_popularisation_day],
        False,
    ),
]


def load(
    session: Session,
    schools: dict[str, School],
    venues: dict[str, Venue],
    bureaus: dict[str, Bureau],
    now: datetime,
) -> dict[str, Any]:
    today = local_date(now)
    year = school_year_of(today)
    start = date(year, 9, 1)
    _flags(session, schools, bureaus, now)
    for name, role, person, title, started, ended in SCIENCE_STAFF:
        school = schools[name]
        science_staff.add(
            session,
            actor=_school_admin(school),
            school_id=school.id or 0,
            data=ScienceStaffCreate(
                role=role, name=person, title=title, started_on=started, ended_on=ended
            ),
            now=now,
        )
    for bureau_name, title, offset, groups in TRAININGS:
        attendees = [
            AttendeeWrite(
                name=f"{(school or '外单位')[:6]}辅导员{n + 1}",
                school_id=schools[school].id if school else None,
            )
            for school, times in groups
            for n in range(times)
        ]
        training = TrainingCreate(
            title=title,
            held_on=min(today, start + timedelta(days=offset)),
            hours=16,
            attendees=attendees,
        )
        trainings.create(session, actor=_bureau(bureaus[bureau_name]), data=training, now=now)
    for organiser, school_name, offset, days in TOURS:
        first = start + timedelta(days=offset)
        tour = TourCreate(
            visited_school_id=schools[school_name].id or 0,
            starts_on=first,
            ends_on=first + timedelta(days=days - 1),
            note="流动科技馆巡展",
        )
        actor = (
            _bureau(bureaus[organiser])
            if organiser in bureaus
            else Principal(subject="demo", role=Role.venue_admin, venue_id=venues[organiser].id)
        )
        tours.create(session, actor=actor, data=tour, now=now)
    platform = Principal(subject="demo", role=Role.platform_admin)
    for region_code, terms in CALENDARS:
        (a1, a2), (a3, a4), (s1, s2), (s3, s4) = terms
        calendar = CalendarWrite(
            autumn_start=date(year, a1, a2),
            autumn_end=date(year + 1, a3, a4),
            spring_start=date(year + 1, s1, s2),
            spring_end=date(year + 1, s3, s4),
        )
        calendars.set_calendar(
            session,
            actor=platform,
            region_code=region_code,
            school_year=year,
            data=calendar,
            now=now,
        )
    _activities(session, schools, venues, bureaus, today, now)
    return {
        "science_staff": _count(session, SchoolScienceStaff),
        "counsellor_trainings": _count(session, CounsellorTraining),
        "mobile_museum_tours": _count(session, MobileMuseumTour),
        "school_calendars": _count(session, SchoolCalendar),
    }


def _flags(
    session: Session, schools: dict[str, School], bureaus: dict[str, Bureau], now: datetime
) -> None:
    platform = Principal(subject="demo", role=Role.platform_admin)
    for name in REMOTE:
        org_service.update_school_flags(
            session,
            actor=platform,
            school_id=schools[name].id or 0,
            data=SchoolFlagsUpdate(remote=True),
            now=now,
        )
    for name in MAIN_URBAN_DISTRICT:
        org_service.update_school_flags(
            session,
            actor=platform,
            school_id=schools[name].id or 0,
            data=SchoolFlagsUpdate(main_urban_district=True),
            now=now,
        )


def _activities(
    session: Session,
    schools: dict[str, School],
    venues: dict[str, Venue],
    bureaus: dict[str, Bureau],
    today: date,
    now: datetime,
) -> None:
    for organiser, title, kind, offset, begin, end, programme, campaigns, after in ACTIVITIES:
        if organiser in bureaus:
            actor = _bureau(bureaus[organiser])
        elif organiser in venues:
            actor = Principal(subject="demo", role=Role.venue_admin, venue_id=venues[organiser].id)
        else:
            actor = _school_admin(schools[organiser])
        day = today + timedelta(days=offset)
        write = ActivityWrite(
            kind=kind,
            title=title,
            starts_at=datetime.combine(day, time.fromisoformat(begin), SHANGHAI),
            ends_at=datetime.combine(day, time.fromisoformat(end), SHANGHAI),
            programme=programme,
            campaigns=campaigns,
            after_school=after,
        )
        activity = activity_service.create(session, actor=actor, data=write, now=now)
        activity_service.transition(
            session,
            actor=actor,
            activity_id=activity.id or 0,
            to=ActivityStatus.published,
            reason="",
            now=now,
        )


def _school_admin(school: School) -> Principal:
    return Principal(subject="demo", role=Role.school_admin, school_id=school.id)


def _bureau(bureau: Bureau) -> Principal:
    return Principal(
        subject="demo", role=Role.bureau, bureau_id=bureau.id, region_code=bureau.region_code
    )


def _count(session: Session, model: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())
