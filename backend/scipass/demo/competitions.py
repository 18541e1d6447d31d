"""Competitions in the demo world (issue 17): a county robotics contest of 湘乡市教育局 with
entries in every state; a city innovation contest of 湘潭市教育局 whose school round at 和平小学
has published results (a record archived, the winner tracked) and whose city round has the
advanced entry's result on notice. Every step goes through the services a request would call,
on the day it would have happened: registration was open when each entry was made, and the
robotics round is still open for the entries that wait on someone."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

import pypdf
from sqlmodel import Session, select

from scipass.account import service as account_service
from scipass.account.models import Account, WeChatUser
from scipass.competition import (
    attachments,
    catalogue,
    entries,
    results_publish,
    review,
    submission,
    talent,
)
from scipass.competition import results as comp_results
from scipass.competition.models import (
    CompetitionCategory,
    CompetitionLevel,
    Edition,
    Entry,
    EntryKind,
    WhitelistEntry,
)
from scipass.competition.results import ResultInput
from scipass.competition.results_models import Award, ResultNotice
from scipass.competition.schemas import (
    CompetitionCreate,
    DivisionCreate,
    EditionCreate,
    EntryCreate,
    OrganiserIn,
    RoundCreate,
    WhitelistCreate,
    WhitelistEntryCreate,
)
from scipass.consent import service as consent_service
from scipass.consent.models import Channel, Purpose
from scipass.core.auth import Principal
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.core.workdays import is_working_day
from scipass.demo import steps
from scipass.demo.data import (
    COMPETITION_DECLINE_REASON,
    COMPETITION_HINTS,
    COMPETITION_REFLECTION,
    COMPETITION_REJECT_REASON,
    HIGH_SCHOOL,
    INNOVATION,
    PROJECTS,
    ROBOT_TITLES,
    ROBOTICS,
    ROBOTICS_SCHOOL_QUOTA,
    RURAL_SCHOOL,
)
from scipass.org.models import School, Stage
from scipass.org.organiser import OrganiserKind
from scipass.record import notices as record_notices
from scipass.record import service as record_service
from scipass.record.models import ParticipationRecord, RecordSource
from scipass.record.repository import RecordFilter
from scipass.roster.acting import acting_for
from scipass.roster.models import Student


def _pdf() -> bytes:
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "项目研究报告（演示）"})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _school_year(today: date) -> int:
    return today.year if today.month >= 9 else today.year - 1


def _working_day_on_or_after(day: date, settings: Settings) -> date:
    while not is_working_day(day, holidays=settings.holidays, makeup=settings.makeup_workdays):
        day += timedelta(days=1)
    return day


def _paper_consent(session: Session, student: Student, school: School, at: datetime) -> None:
    if not consent_service.has_consent(
        session, student=student, purpose=Purpose.participation_record, today=local_date(at)
    ):
        purposes = [Purpose.participation_record, Purpose.record_export]
        steps.consent(session, student, school, Channel.paper, purposes, at)


# --- the world ---------------------------------------------------------------------------------


def load(
    session: Session,
    schools: dict[str, School],
    students: dict[tuple[str, str, str], list[Student]],
    accounts: list[dict[str, Any]],
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """Build both contests, add a ``try`` hint to the accounts that take part and return the
    counts for the summary."""
    today = local_date(now)
    year = _school_year(today)
    robotics = _robotics(session, schools, students, year, today, now)
    innovation = _innovation(session, schools, year, today, settings, now)
    _hints(accounts, robotics, innovation)
    return {"competition_entries": len(session.exec(select(Entry)).all())}


def _robotics(
    session: Session,
    schools: dict[str, School],
    students: dict[tuple[str, str, str], list[Student]],
    year: int,
    today: date,
    now: datetime,
) -> dict[str, Any]:
    """The county contest: one round organised by the bureau, open from 30 days ago to two
    weeks ahead, a high-school and a junior division of teams of 2–3 with 1–2 advisors."""
    at = steps.at
    bureau = steps.account_actor(session, ROBOTICS["bureau"])
    created = at(today - timedelta(days=40), "09:00")
    national = session.exec(
        select(WhitelistEntry).where(WhitelistEntry.name == ROBOTICS["whitelist_entry"])
    ).one()
    edition = _edition(
        session,
        bureau,
        CompetitionCreate(
            name=ROBOTICS["name"],
            organiser_unit=ROBOTICS["organiser_unit"],
            category=CompetitionCategory.robotics,
            level=CompetitionLevel.county,
            description="世界机器人大会青少年机器人设计与信息素养大赛湘乡市选拔，"
            "优胜队伍推荐参加湘潭市比赛。不收取任何费用。",
            whitelist_entry_id=national.id,
        ),
        EditionCreate(school_year=year, title=f"{year}—{year + 1}学年", requires_title=True),
        created,
    )
    round_ = catalogue.create_round(
        session,
        actor=bureau,
        edition_id=edition.id or 0,
        data=RoundCreate(
            position=1,
            name=ROBOTICS["round"],
            level=CompetitionLevel.county,
            region_code=bureau.region_code or "",
            organiser=OrganiserIn(kind=OrganiserKind.bureau, id=bureau.bureau_id or 0),
            registration_opens_at=at(today - timedelta(days=30), "08:00"),
            registration_closes_at=at(today + timedelta(days=14), "18:00"),
            school_quota=ROBOTICS_SCHOOL_QUOTA,
        ),
        now=created,
    )
    divisions = {
        stage: catalogue.create_division(
            session,
            actor=bureau,
            edition_id=edition.id or 0,
            data=DivisionCreate(
                name=name,
                stages=[stage],
                kind=EntryKind.team,
                min_members=2,
                max_members=3,
                max_advisors=2,
            ),
            now=created,
        )
        for stage, name in ((Stage.junior, "初中组"), (Stage.senior, "高中组"))
    }
    titles = iter(ROBOT_TITLES)
    rural = schools[RURAL_SCHOOL]
    high_pupils = students[(HIGH_SCHOOL, "高一", "3班")]
    rural_pupils = students[(RURAL_SCHOOL, "八年级", "1班")]
    teacher = steps.account_actor(session, "xx2-teacher")
    admin = steps.account_actor(session, "xx2-admin")
    rural_admin = steps.account_actor(session, "dongjiao-admin")
    advisor, rural_advisor = (
        _account_id(session, "xx2-teacher"),
        _account_id(session, "dongjiao-admin"),
    )

    def school_entry(
        actor: Principal, advisor: int, pupils: list[Student], stage: Stage, day: int, hhmm: str
    ) -> Entry:
        """学校统一报名: the school registers pupils without phones and submits at once."""
        when = at(today - timedelta(days=day), hhmm)
        entry = entries.create(
            session,
            actor=actor,
            round_id=round_.id or 0,
            data=EntryCreate(
                division_id=divisions[stage].id or 0,
                title=next(titles),
                student_ids=[p.id or 0 for p in pupils],
                advisor_account_ids=[advisor],
            ),
            now=when,
        )
        return submission.submit(
            session, actor=actor, entry_id=entry.id or 0, now=when + timedelta(minutes=10)
        )

    # lihua as captain; wangfang joined with an invitation; a second invitation is outstanding.
    captain, lihua = steps.student_actor(session, "lihua")
    mate, wangfang = steps.student_actor(session, "wangfang")
    forming = entries.create(
        session,
        actor=captain,
        round_id=round_.id or 0,
        data=EntryCreate(division_id=divisions[Stage.senior].id or 0, title=next(titles)),
        now=at(today - timedelta(days=20), "19:00"),
    )
    code, _expires = entries.invite(
        session,
        actor=captain,
        entry_id=forming.id or 0,
        now=at(today - timedelta(days=20), "19:05"),
    )
    entries.accept_invitation(
        session, actor=mate, code=code, now=at(today - timedelta(days=20), "19:20")
    )
    entries.add_advisor(
        session,
        actor=teacher,
        entry_id=forming.id or 0,
        account_id=_account_id(session, "xx2-teacher"),
        now=at(today - timedelta(days=19), "10:00"),
    )
    code, expires = entries.invite(
        session, actor=captain, entry_id=forming.id or 0, now=now - timedelta(minutes=5)
    )

    # the school's own entries for pupils without phones, in every state
    waiting = school_entry(teacher, advisor, high_pupils[2:4], Stage.senior, 18, "15:00")
    declined = school_entry(teacher, advisor, high_pupils[4:6], Stage.senior, 17, "15:00")
    review.decline(
        session,
        actor=admin,
        entry_id=declined.id or 0,
        reason=COMPETITION_DECLINE_REASON,
        now=at(today - timedelta(days=15), "10:00"),
    )
    recommended = school_entry(teacher, advisor, high_pupils[6:8], Stage.senior, 16, "15:00")
    review.recommend(
        session,
        actor=admin,
        entry_id=recommended.id or 0,
        now=at(today - timedelta(days=14), "10:00"),
    )
    withdrawn = school_entry(teacher, advisor, high_pupils[8:10], Stage.senior, 16, "15:30")
    submission.withdraw(
        session,
        actor=teacher,
        entry_id=withdrawn.id or 0,
        now=at(today - timedelta(days=12), "16:00"),
    )
    for pupil in rural_pupils[:5]:
        _paper_consent(session, pupil, rural, at(today - timedelta(days=25), "09:00"))
    accepted = school_entry(
        rural_admin, rural_advisor, rural_pupils[0:2], Stage.junior, 16, "09:00"
    )
    rejected = school_entry(
        rural_admin, rural_advisor, rural_pupils[2:5], Stage.junior, 16, "09:30"
    )
    for entry in (accepted, rejected):
        review.recommend(
            session,
            actor=rural_admin,
            entry_id=entry.id or 0,
            now=at(today - timedelta(days=15), "11:00"),
        )
    for entry, accept in ((accepted, True), (rejected, False)):
        review.decide(
            session,
            actor=bureau,
            round_id=round_.id or 0,
            entry_id=entry.id or 0,
            accept=accept,
            reason="" if accept else COMPETITION_REJECT_REASON,
            now=at(today - timedelta(days=10), "10:00"),
        )
    return {
        "round": round_,
        "captain": lihua,
        "mate": wangfang,
        "forming": forming,
        "waiting": waiting,
        "recommended": recommended,
        "code": code,
        "code_expires_at": expires.isoformat(),
    }


def _edition(
    session: Session,
    bureau: Principal,
    contest: CompetitionCreate,
    data: EditionCreate,
    at: datetime,
) -> Edition:
    """A competition of ``bureau`` and its edition for the school year."""
    competition = catalogue.create_competition(session, actor=bureau, data=contest, now=at)
    return catalogue.create_edition(
        session, actor=bureau, competition_id=competition.id or 0, data=data, now=at
    )


def _judge(
    session: Session,
    organiser: Principal,
    settings: Settings,
    round_id: int,
    awards: list[tuple[Entry, Award, bool]],
    day: date,
) -> ResultNotice:
    """Enter the round's results in the morning of ``day`` and put them on notice."""
    for entry, award, advances in awards:
        data = ResultInput(entry_id=entry.id or 0, award=award, advances=advances)
        at = steps.at(day, "10:00")
        comp_results.enter_result(session, actor=organiser, round_id=round_id, data=data, now=at)
    return comp_results.open_notice(
        session, actor=organiser, settings=settings, round_id=round_id, now=steps.at(day, "10:30")
    )


def _wechat_actor(session: Session, name: str) -> Principal:
    user = session.exec(select(WeChatUser).where(WeChatUser.openid == f"dev-openid-{name}")).one()
    return account_service.principal_for_wechat_user(session, user.id or 0)


def _account_id(session: Session, username: str) -> int:
    return session.exec(select(Account.id).where(Account.username == username)).one() or 0


def _innovation(
    session: Session,
    schools: dict[str, School],
    year: int,
    today: date,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """The city contest: the school selection round at 和平小学 ran months ago (results
    published, a record archived, the winner tracked), its winner advanced to the city round,
    whose result is on notice since the last weekday."""
    at = steps.at
    bureau = steps.account_actor(session, INNOVATION["bureau"])
    school = schools[INNOVATION["school"]]
    head = steps.account_actor(session, "heping-admin")
    teacher = steps.account_actor(session, "heping-teacher")
    created = at(today - timedelta(days=130), "09:00")
    whitelist = catalogue.create_whitelist(
        session,
        actor=bureau,
        data=WhitelistCreate(
            name=INNOVATION["whitelist"],
            source=INNOVATION["whitelist_source"],
            first_school_year=year,
            last_school_year=year + 2,
        ),
        now=created,
    )
    listed = catalogue.add_entry(
        session,
        actor=bureau,
        whitelist_id=whitelist.id or 0,
        data=WhitelistEntryCreate(
            name=INNOVATION["name"],
            organiser="湘潭市教育局、湘潭市科学技术协会",
            stages=[Stage.primary, Stage.junior, Stage.senior],
        ),
        now=created,
    )
    edition = _edition(
        session,
        bureau,
        CompetitionCreate(
            name=INNOVATION["name"],
            organiser_unit=INNOVATION["organiser_unit"],
            category=CompetitionCategory.innovation_contest,
            level=CompetitionLevel.city,
            description="各校先组织校内选拔，推荐优秀项目参加市级评审。不收取任何费用。",
            whitelist_entry_id=listed.id,
        ),
        EditionCreate(
            school_year=year,
            title=f"{year}—{year + 1}学年",
            requires_abstract=True,
            requires_attachment=True,
            attachment_max_mb=5,
        ),
        created,
    )
    opens = at(today - timedelta(days=120), "08:00")
    school_round = catalogue.create_round(
        session,
        actor=bureau,
        edition_id=edition.id or 0,
        data=RoundCreate(
            position=1,
            name=INNOVATION["school_round"],
            level=CompetitionLevel.school,
            region_code=school.region_code,
            organiser=OrganiserIn(kind=OrganiserKind.school, id=school.id or 0),
            registration_opens_at=opens,
            registration_closes_at=at(today - timedelta(days=100), "18:00"),
            school_quota=5,
        ),
        now=created,
    )
    city_round = catalogue.create_round(
        session,
        actor=bureau,
        edition_id=edition.id or 0,
        data=RoundCreate(
            position=2,
            name=INNOVATION["city_round"],
            level=CompetitionLevel.city,
            region_code=bureau.region_code or "",
            organiser=OrganiserIn(kind=OrganiserKind.bureau, id=bureau.bureau_id or 0),
            registration_opens_at=opens,
            registration_closes_at=at(today - timedelta(days=60), "18:00"),
            region_quota=10,
        ),
        now=created,
    )
    division = catalogue.create_division(
        session,
        actor=bureau,
        edition_id=edition.id or 0,
        data=DivisionCreate(
            name="小学组",
            stages=[Stage.primary],
            kind=EntryKind.individual,
            min_members=1,
            max_members=1,
            max_advisors=1,
        ),
        now=created,
    )
    # xiaoming's project is entered by his mother (family mode); xiaogang enters his own.
    mother = _wechat_actor(session, "xiaoming-mama")
    son, xiaoming = steps.student_actor(session, "xiaoming")
    pupil, _xiaogang = steps.student_actor(session, "xiaogang")
    made = []
    for name, actor, day in (
        ("xiaoming", acting_for(mother, xiaoming), 110),
        ("xiaogang", pupil, 108),
    ):
        when = at(today - timedelta(days=day), "20:00")
        title, abstract = PROJECTS[name]
        entry = entries.create(
            session,
            actor=actor,
            round_id=school_round.id or 0,
            data=EntryCreate(division_id=division.id or 0, title=title, abstract=abstract),
            now=when,
        )
        attachments.attach(
            session,
            actor=actor,
            settings=settings,
            entry_id=entry.id or 0,
            data=_pdf(),
            filename=f"{title}.pdf",
            now=when + timedelta(minutes=5),
        )
        entries.add_advisor(
            session,
            actor=teacher,
            entry_id=entry.id or 0,
            account_id=_account_id(session, "heping-teacher"),
            now=when + timedelta(hours=14),
        )
        made.append(
            submission.submit(
                session, actor=actor, entry_id=entry.id or 0, now=when + timedelta(days=1)
            )
        )
    for entry in made:  # the school recommends to its own round, then admits as its organiser
        review.recommend(
            session,
            actor=head,
            entry_id=entry.id or 0,
            now=at(today - timedelta(days=104), "10:00"),
        )
        review.decide(
            session,
            actor=head,
            round_id=school_round.id or 0,
            entry_id=entry.id or 0,
            accept=True,
            reason="",
            now=at(today - timedelta(days=99), "10:00"),
        )
    judged = _working_day_on_or_after(today - timedelta(days=90), settings)
    awards = [(made[0], Award.first, True), (made[1], Award.second, False)]
    notice = _judge(session, head, settings, school_round.id or 0, awards, judged)
    published_at = notice.ends_at + timedelta(hours=1)
    results_publish.publish_due(
        session, now=published_at, actor=head, round_id=school_round.id or 0
    )
    # the city round: the advanced entry is admitted, judged and on notice since the last weekday
    review.decide(
        session,
        actor=bureau,
        round_id=city_round.id or 0,
        entry_id=made[0].id or 0,
        accept=True,
        reason="",
        now=published_at + timedelta(days=1),
    )
    awards = [(made[0], Award.first, False)]
    _judge(session, bureau, settings, city_round.id or 0, awards, steps.weekday_before(today))
    # xiaoming's record of the school round goes all the way to the archive
    record = session.exec(
        select(ParticipationRecord).where(
            ParticipationRecord.student_id == xiaoming.id,
            ParticipationRecord.source == RecordSource.competition,
        )
    ).one()
    start = local_date(published_at) + timedelta(days=1)
    record_service.student_confirm(
        session,
        actor=son,
        record_id=record.id or 0,
        reflection=COMPETITION_REFLECTION,
        now=at(start, "20:00"),
    )
    reviewed_on = _working_day_on_or_after(start + timedelta(days=1), settings)
    record_service.review(
        session,
        actor=teacher,
        record_id=record.id or 0,
        approve=True,
        reason=None,
        now=at(reviewed_on, "09:30"),
    )
    record_notice = record_notices.open_notice(
        session,
        actor=head,
        settings=settings,
        title="科技创新大赛获奖记录公示",
        filters=RecordFilter(),
        record_ids=[record.id or 0],
        now=at(reviewed_on, "16:00"),
    )
    assert record_notice.ends_at < now - timedelta(days=10), "the school round ran months ago"
    # the archiving job, like the loader's for the other records, runs once at ``now``
    record_notices.archive_due(session, now=now)
    archived_at = record_notice.ends_at + timedelta(hours=1)
    talent.start(
        session,
        actor=head,
        student_id=xiaoming.id or 0,
        reason=f"{INNOVATION['name']}{INNOVATION['school_round']}一等奖，晋级市级评审",
        now=archived_at + timedelta(days=1),
    )
    return {"school_round": school_round, "city_round": city_round, "winner": xiaoming}


def _hints(
    accounts: list[dict[str, Any]], robotics: dict[str, Any], innovation: dict[str, Any]
) -> None:
    """The ``try`` hint of each account that takes part (``COMPETITION_HINTS``)."""
    ids = {
        "county": robotics["round"].id,
        "school_round": innovation["school_round"].id,
        "city_round": innovation["city_round"].id,
        "forming": robotics["forming"].id,
        "waiting": robotics["waiting"].id,
        "recommended": robotics["recommended"].id,
        "captain": robotics["captain"].name,
        "mate": robotics["mate"].name,
    }
    for account in accounts:
        key = account.get("username") or account.get("wechat_code")
        if key in COMPETITION_HINTS:
            account["try"] = COMPETITION_HINTS[key].format(**ids)
            if key == "dev-lihua":
                account["invitation_code"] = robotics["code"]
                account["invitation_expires_at"] = robotics["code_expires_at"]
