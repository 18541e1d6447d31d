"""The demo's compliance picture (issue 19): with the facts of :mod:`scipass.demo.measures`,
every demo region shows schools just above and just below some rules, with reasons.

* Hunan's weekly after-school science (003 三.(一)): 和平小学 holds a science club in every
  term week so far; 湘潭市第九中学 in every week but one (just short). 和平小学 also leads its
  pupils to the science museum once this school year (003 三.(二)); the others have not.
* Jincheng's three programmes a semester (004 二.(一).4): 凤台小学 holds all three; 第六中学 two
  of them (no 科学实践到基地).
* Chifeng's regular venue visits carry no number: the bureau is asked to set one.

Then the ``try`` hints of the bureaus and of two school admins say where to look."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session

from scipass.activity import service as activity_service
from scipass.activity.models import ActivityKind, ActivityStatus
from scipass.activity.schemas import ActivityWrite
from scipass.core.auth import Principal, Role
from scipass.core.clock import SHANGHAI, local_date, school_year_of, term_of
from scipass.org.models import School
from scipass.policy import periods
from scipass.policy.vocab import Programme

WEEKLY_ALL = "湘潭市雨湖区和平小学"
WEEKLY_SHORT = "湘潭市第九中学"
# (school, programmes it held this semester)
PROGRAMMES = {
    "晋城市城区凤台小学": (
        Programme.scientist_in_school,
        Programme.practice_at_base,
        Programme.science_first_lesson,
    ),
    "晋城市第六中学": (Programme.scientist_in_school, Programme.science_first_lesson),
}
TITLES = {
    Programme.scientist_in_school: "科学家精神进校园：科学家讲故事",
    Programme.practice_at_base: "科学实践到基地：走进科普教育基地",
    Programme.science_first_lesson: "科学第一课：开学科学课",
}
HINTS = {
    "xt-bureau": "政策达标：GET /api/v1/compliance（按规则看达标与未达标的学校及原因）；"
    "GET /api/v1/compliance/ledger.xlsx 下载工作台账；POST /api/v1/compliance-reviews 开启评估后 "
    "POST /api/v1/compliance-reviews/<ID>/freeze 冻结",
    "xx-bureau": "政策达标：GET /api/v1/compliance（湘乡市科技辅导员培训人次差一点达标）",
    "jc-bureau": "政策达标：GET /api/v1/compliance（每学期三项活动、结对、科学副校长与"
    "科技辅导员）；"
    "GET /api/v1/compliance/ledger.xlsx",
    "cf-bureau": "政策达标：“经常性”参观场馆的次数由教育局设定：GET /api/v1/policy/packs/150400 "
    "看 venue_visit_regular 的 version，再 POST /api/v1/policy/overrides 设定 threshold_min",
    "heping-admin": "政策达标：GET /api/v1/schools/{heping}/compliance（每周课后科学活动已达标）",
    "fengtai-admin": "政策达标：GET /api/v1/schools/{fengtai}/compliance",
}


def load(
    session: Session,
    schools: dict[str, School],
    accounts: list[dict[str, Any]],
    now: datetime,
) -> dict[str, int]:
    today = local_date(now)
    term = term_of(today)
    made = 0
    for name, short in ((WEEKLY_ALL, False), (WEEKLY_SHORT, True)):
        school = schools[name]
        window, _calendar = periods.region_term_window(session, school.region_code, term)
        weeks = [w for w in periods.term_weeks(window) if w.end < today]
        for index, week in enumerate(weeks):
            if short and index == len(weeks) // 2:
                continue  # the week the club did not meet
            day = min(week.start + timedelta(days=2), week.end)  # a Wednesday, or the last day
            _activity(session, school, "课后服务科学社团", ActivityKind.club, day, True, now)
            made += 1
    # 和平小学 leads its pupils to the science museum once this school year (003 三.(二))
    year_start = date(school_year_of(today), 9, 1)
    trip = min(today - timedelta(days=1), year_start + timedelta(days=16))
    _activity(
        session, schools[WEEKLY_ALL], "组织学生参观湘潭市科技馆", ActivityKind.venue_visit,
        trip, False, now,
    )  # fmt: skip
    made += 1
    for name, held in PROGRAMMES.items():
        school = schools[name]
        window, _calendar = periods.region_term_window(session, school.region_code, term)
        for offset, programme in enumerate(held):
            day = min(today - timedelta(days=1), window.start + timedelta(days=7 + 14 * offset))
            _activity(
                session, school, TITLES[programme], ActivityKind.course, day, False, now, programme
            )
            made += 1
    _hints(accounts, schools)
    return {"compliance_activities": made}


def _activity(
    session: Session,
    school: School,
    title: str,
    kind: ActivityKind,
    day: date,
    after_school: bool,
    now: datetime,
    programme: Programme | None = None,
) -> None:
    actor = Principal(subject="demo", role=Role.school_admin, school_id=school.id)
    write = ActivityWrite(
        kind=kind,
        title=title,
        starts_at=datetime.combine(day, time(16, 0), SHANGHAI),
        ends_at=datetime.combine(day, time(17, 0), SHANGHAI),
        programme=programme,
        after_school=after_school,
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


def _hints(accounts: list[dict[str, Any]], schools: dict[str, School]) -> None:
    ids = {"heping": schools[WEEKLY_ALL].id, "fengtai": schools["晋城市城区凤台小学"].id}
    for account in accounts:
        key = account.get("username")
        if key in HINTS:
            hint = HINTS[key].format(**ids)
            account["try"] = f"{account['try']}；{hint}" if account.get("try") else hint
