"""Small typed factories for test data, and tokens for any principal."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from scipass.account.models import WeChatUser
from scipass.activity.models import Activity
from scipass.competition.models import (
    Competition,
    Division,
    Edition,
    Round,
    WhitelistEntry,
)
from scipass.core.auth import Principal, Role, issue_access_token
from scipass.core.config import Settings
from scipass.org.models import Bureau, Region, School, Venue
from scipass.pairing.models import Pairing
from scipass.record.models import ParticipationRecord
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot
from scipass.roster.models import GuardianLink, Student
from scipass.roster.service import new_code
from scipass.venue.models import VenueResource
from scipass.volunteer.models import VolunteerRole, VolunteerShift, VolunteerSignup

NOW = datetime(2026, 10, 14, 2, 0, tzinfo=UTC)
_serial = itertools.count(1)


def create_region(session: Session, code: str, name: str, level: str, parent: str | None) -> Region:
    region = session.get(Region, code)
    if region is None:
        region = Region(code=code, name=name, level=level, parent_code=parent)
        session.add(region)
        session.flush()
    return region


def create_school(session: Session, *, region_code: str, **overrides: object) -> School:
    values: dict[str, object] = {
        "name": f"测试学校{next(_serial)}",
        "region_code": region_code,
        "stages": "primary,junior",
        "area": "urban",
        "address": "",
        "created_at": NOW,
    }
    values.update(overrides)
    school = School(**values)  # type: ignore[arg-type]
    session.add(school)
    session.flush()
    return school


def create_venue(session: Session, *, region_code: str) -> Venue:
    venue = Venue(
        name=f"测试场馆{next(_serial)}",
        kind="science_museum",
        region_code=region_code,
        longitude=112.9,
        latitude=27.8,
        created_at=NOW,
    )
    session.add(venue)
    session.flush()
    return venue


def create_bureau(session: Session, *, region_code: str) -> Bureau:
    bureau = Bureau(name=f"测试教育局{next(_serial)}", region_code=region_code, created_at=NOW)
    session.add(bureau)
    session.flush()
    return bureau


def create_wechat_user(session: Session) -> WeChatUser:
    user = WeChatUser(openid=f"o-test-{next(_serial)}", created_at=NOW, last_login_at=NOW)
    session.add(user)
    session.flush()
    return user


def create_student(session: Session, *, school_id: int, **overrides: object) -> Student:
    serial = next(_serial)
    values: dict[str, object] = {
        "school_id": school_id,
        "student_no": f"S{serial:06d}",
        "name": "张小明",
        "gender": "male",
        "birth_month": date(2016, 3, 1),  # 10 years old in 2026: under 14
        "stage": "primary",
        "grade": 4,
        "class_name": "1班",
        "binding_code": new_code(),
        "guardian_code": new_code(),
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    student = Student(**values)  # type: ignore[arg-type]
    session.add(student)
    session.flush()
    return student


def link_guardian(session: Session, *, guardian: WeChatUser, student: Student) -> GuardianLink:
    link = GuardianLink(
        guardian_id=guardian.id or 0, student_id=student.id or 0, relation="mother", created_at=NOW
    )
    session.add(link)
    session.flush()
    return link


def token(settings: Settings, principal: Principal, *, now: datetime = NOW) -> str:
    access, _ = issue_access_token(settings, principal, now=now)
    return access


def auth(settings: Settings, principal: Principal, *, now: datetime = NOW) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(settings, principal, now=now)}"}


@dataclass
class Side:
    """One tenant: a region with a bureau, a school with students, a venue."""

    region_code: str
    bureau: Bureau
    school: School
    venue: Venue
    student: Student
    student_user: WeChatUser
    guardian: WeChatUser
    guardian_link: GuardianLink
    unbound_user: WeChatUser

    def principal(self, role: Role) -> Principal:
        if role is Role.student:
            return Principal(
                subject=f"wechat:{self.student_user.id}",
                role=role,
                school_id=self.school.id,
                student_id=self.student.id,
            )
        if role is Role.guardian:
            return Principal(subject=f"wechat:{self.guardian.id}", role=role)
        if role is Role.wechat_user:
            return Principal(subject=f"wechat:{self.unbound_user.id}", role=role)
        if role in (Role.school_staff, Role.school_admin):
            return Principal(subject="account:900001", role=role, school_id=self.school.id)
        if role in (Role.venue_staff, Role.venue_admin):
            return Principal(subject="account:900002", role=role, venue_id=self.venue.id)
        if role is Role.bureau:
            return Principal(
                subject="account:900003",
                role=role,
                bureau_id=self.bureau.id,
                region_code=self.bureau.region_code,
            )
        return Principal(subject="account:900004", role=Role.platform_admin)


def create_side(session: Session, *, province: str, city: str, county: str) -> Side:
    create_region(session, province, f"省{province}", "province", None)
    create_region(session, city, f"市{city}", "city", province)
    create_region(session, county, f"县{county}", "county", city)
    school = create_school(session, region_code=county)
    student_user = create_wechat_user(session)
    student = create_student(
        session, school_id=school.id or 0, wechat_user_id=student_user.id, binding_code=None
    )
    guardian = create_wechat_user(session)
    return Side(
        region_code=city,
        bureau=create_bureau(session, region_code=city),
        school=school,
        venue=create_venue(session, region_code=county),
        student=student,
        student_user=student_user,
        guardian=guardian,
        guardian_link=link_guardian(session, guardian=guardian, student=student),
        unbound_user=create_wechat_user(session),
    )


# --- venues, activities, slots, reservations, pairings ----------------------------------------

WEEK = {str(day): [["09:00", "17:00"]] for day in range(2, 8)}  # closed on Mondays


def list_venue(session: Session, venue: Venue, **overrides: object) -> Venue:
    """Give a venue an approved directory profile: open Tuesday to Sunday, 09:00-17:00."""
    from scipass.venue.hours import open_weekdays

    values: dict[str, object] = {
        "address": "测试路 1 号",
        "phone": "0731-5555000",
        "services": "常设展厅参观、科学实验课",
        "facilities": "展厅 3000 平方米、实验室 2 间",
        "weekly_hours": WEEK,
        "stages": "primary,junior,senior",
        "listed": True,
        "approved_at": NOW,
    }
    values.update(overrides)
    for name, value in values.items():
        setattr(venue, name, value)
    venue.open_weekdays = open_weekdays(venue.weekly_hours)
    session.add(venue)
    session.flush()
    return venue


def school_and_listed_venue(
    session: Session, *, region_code: str, stages: str
) -> tuple[School, Venue]:
    """A province with one school and one venue in the directory, for tests that commit (the
    concurrency tests, which clean up after themselves)."""
    create_region(session, region_code, f"测试省{region_code}", "province", None)
    school = create_school(session, region_code=region_code, stages=stages)
    venue = list_venue(session, create_venue(session, region_code=region_code), stages=stages)
    return school, venue


@dataclass(frozen=True)
class OpenScene:
    """What :func:`open_activity_now` committed: a pupil of 15 bound to WeChat, the venue, and
    its activity open on the real clock."""

    school: School
    venue: Venue
    user: WeChatUser
    student: Student
    activity: Activity


def open_activity_now(session: Session, *, region_code: str, label: str) -> OpenScene:
    """A province, a junior school and a listed venue open every day, a pupil of 15 (no
    guardian consent needed) bound to WeChat, and a published open activity that began ten
    minutes ago, on the real clock: for servers run in other processes (tests and benches
    that commit, and clean up or use a database of their own)."""
    now = datetime.now(UTC)
    every_day = {str(day): [["00:00", "23:59"]] for day in range(1, 8)}
    school, venue = school_and_listed_venue(session, region_code=region_code, stages="junior")
    list_venue(session, venue, weekly_hours=every_day, stages="junior")
    user = WeChatUser(openid=f"o-{label}", kind="student", created_at=now, last_login_at=now)
    session.add(user)
    session.flush()
    student = create_student(
        session,
        school_id=school.id or 0,
        student_no=f"OPEN-{label}",
        birth_month=date(now.year - 15, 1, 1),
        stage="junior",
        grade=9,
        wechat_user_id=user.id,
        created_at=now,
        updated_at=now,
    )
    activity = create_activity(
        session,
        venue_id=venue.id or 0,
        title=f"开放活动{label}",
        starts_at=now - timedelta(minutes=10),
        ends_at=now + timedelta(hours=4),
        admission="open",
        stages="junior",
        status="published",
        created_at=now,
        updated_at=now,
    )
    return OpenScene(school, venue, user, student, activity)


def create_activity(session: Session, *, venue_id: int, **overrides: object) -> Activity:
    values: dict[str, object] = {
        "venue_id": venue_id,
        "kind": "venue_visit",
        "title": "走进科技馆",
        "starts_at": datetime(2026, 10, 20, 1, 0, tzinfo=UTC),
        "ends_at": datetime(2026, 10, 20, 8, 0, tzinfo=UTC),
        "place_name": "测试场馆",
        "admission": "reservation",
        "stages": "primary,junior,senior",
        "credited_minutes": 120,
        "record_category": "science_visit",
        "dimension": "social_practice",
        "status": "published",
        "created_by": "account:900002",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    activity = Activity(**values)  # type: ignore[arg-type]
    session.add(activity)
    session.flush()
    return activity


def create_slot(session: Session, *, venue_id: int, **overrides: object) -> TimeSlot:
    """A slot on Tuesday 2026-10-20, 10:00-11:30 Beijing time (the clock is the 14th)."""
    values: dict[str, object] = {
        "venue_id": venue_id,
        "starts_at": datetime(2026, 10, 20, 2, 0, tzinfo=UTC),
        "ends_at": datetime(2026, 10, 20, 3, 30, tzinfo=UTC),
        "capacity": 30,
        "taken": 0,
        "status": "open",
        "created_at": NOW,
    }
    values.update(overrides)
    slot = TimeSlot(**values)  # type: ignore[arg-type]
    session.add(slot)
    session.flush()
    return slot


def create_reservation(session: Session, *, slot: TimeSlot, student: Student) -> Reservation:
    reservation = Reservation(
        slot_id=slot.id or 0,
        kind="individual",
        student_id=student.id,
        school_id=student.school_id,
        students=1,
        party_size=1,
        status="confirmed",
        made_by="wechat:test",
        created_at=NOW,
        confirmed_at=NOW,
    )
    session.add(reservation)
    session.flush()
    session.add(
        ReservationMember(
            reservation_id=reservation.id or 0, slot_id=slot.id or 0, student_id=student.id or 0
        )
    )
    slot.taken += 1
    session.add(slot)
    session.flush()
    return reservation


def create_pairing(session: Session, *, school_id: int, venue_id: int) -> Pairing:
    pairing = Pairing(
        school_id=school_id,
        venue_id=venue_id,
        starts_on=date(2026, 9, 1),
        proposed_by="school",
        status="proposed",
        school_confirmed_at=NOW,
        created_by="account:900001",
        created_at=NOW,
    )
    session.add(pairing)
    session.flush()
    return pairing


def create_resource(session: Session, *, venue_id: int, **overrides: object) -> VenueResource:
    values: dict[str, object] = {
        "venue_id": venue_id,
        "name": f"实验室{next(_serial)}",
        "kind": "lab",
        "capacity": 40,
        "created_at": NOW,
    }
    values.update(overrides)
    resource = VenueResource(**values)  # type: ignore[arg-type]
    session.add(resource)
    session.flush()
    return resource


# --- participation records -----------------------------------------------------------------


def create_record(
    session: Session, *, student: Student, **overrides: object
) -> ParticipationRecord:
    """A record as a source appends it (status ``pending``), with any field overridden."""
    from scipass.core.clock import local_date, term_of

    serial = next(_serial)
    started = overrides.get("started_at", datetime(2026, 10, 10, 1, 0, tzinfo=UTC))
    assert isinstance(started, datetime)
    term = term_of(local_date(started))
    values: dict[str, object] = {
        "student_id": student.id,
        "school_id": student.school_id,
        "source": "manual",
        "source_ref": f"test-{serial}",
        "organiser_school_id": student.school_id,
        "organiser_name": "测试学校",
        "title": f"科学实践活动{serial}",
        "category": "science_visit",
        "dimension": "social_practice",
        "place": "测试科技馆",
        "started_at": started,
        "ended_at": started + timedelta(hours=2),
        "school_year": term.school_year,
        "semester": term.semester.value,
        "minutes": 120,
        "role": "participant",
        "outcome": "",
        "reflection": "",
        "attester_name": "",
        "attester_unit": "",
        "attester_phone": "",
        "status": "pending",
        "status_reason": "",
        "created_at": NOW,
        "created_by": "test",
        "updated_at": NOW,
    }
    values.update(overrides)
    record = ParticipationRecord(**values)  # type: ignore[arg-type]
    session.add(record)
    session.flush()
    return record


def grant_consent(
    session: Session, *, student: Student, link: GuardianLink, purposes: Sequence[str]
) -> None:
    """Record a guardian's consent for ``purposes`` under the current notice."""
    from scipass.consent.models import ConsentRecord
    from scipass.consent.service import NOTICE_VERSION

    for purpose in purposes:
        session.add(
            ConsentRecord(
                student_id=student.id or 0,
                purpose=purpose,
                decision="grant",
                notice_version=NOTICE_VERSION,
                channel="wechat",
                guardian_link_id=link.id,
                recorded_by=f"wechat:{link.guardian_id}",
                recorded_at=NOW,
            )
        )
    session.flush()


def consent_on_paper(
    session: Session, *, student: Student, purposes: Sequence[str] = ("record_export",)
) -> None:
    """Record a paper consent form for ``purposes`` under the current notice, as the school
    records one (no guardian link); by default the consent to exports to the 综评 platform."""
    from scipass.consent.models import ConsentRecord
    from scipass.consent.service import NOTICE_VERSION

    for purpose in purposes:
        session.add(
            ConsentRecord(
                student_id=student.id or 0,
                purpose=purpose,
                decision="grant",
                notice_version=NOTICE_VERSION,
                channel="paper",
                guardian_name="王女士",
                recorded_by="account:1",
                recorded_at=NOW,
            )
        )
    session.flush()


def bound_student(
    session: Session, *, school_id: int, **overrides: object
) -> tuple[Student, Principal]:
    """A student bound to a WeChat account of its own, and that account as a caller."""
    user = create_wechat_user(session)
    student = create_student(session, school_id=school_id, wechat_user_id=user.id, **overrides)
    principal = Principal(
        subject=f"wechat:{user.id}", role=Role.student, school_id=school_id, student_id=student.id
    )
    return student, principal


# --- competitions ----------------------------------------------------------------------------


@dataclass
class CompetitionScene:
    """A bureau's competition with one edition (school year 2026), one round it organises
    (registration open around the frozen clock) and one division."""

    competition: Competition
    edition: Edition
    round: Round
    division: Division


def create_competition(
    session: Session,
    *,
    bureau: Bureau,
    region_code: str,
    whitelist_entry_id: int | None = None,
    edition: dict[str, object] | None = None,
    round: dict[str, object] | None = None,
    division: dict[str, object] | None = None,
) -> CompetitionScene:
    competition = Competition(
        bureau_id=bureau.id or 0,
        region_code=bureau.region_code,
        name=f"青少年机器人竞赛{next(_serial)}",
        organiser_unit=bureau.name,
        category="robotics",
        level="county",
        whitelist_entry_id=whitelist_entry_id,
        created_by="account:900003",
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(competition)
    session.flush()
    the_edition = Edition(
        competition_id=competition.id or 0,
        school_year=2026,
        title="2026—2027学年",
        **{"requires_title": True, **(edition or {})},  # type: ignore[arg-type]
        created_at=NOW,
    )
    session.add(the_edition)
    session.flush()
    round_values: dict[str, object] = {
        "position": 1,
        "name": "县级选拔",
        "level": "county",
        "region_code": region_code,
        "bureau_id": bureau.id,
        "registration_opens_at": NOW - timedelta(days=1),
        "registration_closes_at": NOW + timedelta(days=7),
        "school_quota": None,
    }
    round_values.update(round or {})
    the_round = Round(edition_id=the_edition.id or 0, created_at=NOW, **round_values)  # type: ignore[arg-type]
    division_values: dict[str, object] = {
        "name": "小学组",
        "stages": "primary",
        "kind": "team",
        "min_members": 2,
        "max_members": 3,
        "max_advisors": 2,
    }
    division_values.update(division or {})
    the_division = Division(edition_id=the_edition.id or 0, created_at=NOW, **division_values)  # type: ignore[arg-type]
    session.add_all([the_round, the_division])
    session.flush()
    return CompetitionScene(competition, the_edition, the_round, the_division)


def national_entry_id(session: Session) -> int:
    """An entry of the shipped national list (全国青少年人工智能创新挑战赛, all stages)."""
    from sqlmodel import select

    row = session.exec(select(WhitelistEntry).where(WhitelistEntry.number == 1)).first()
    assert row is not None
    return row.id or 0


# --- volunteering --------------------------------------------------------------------------


def create_volunteer_role(
    session: Session,
    *,
    venue_id: int | None = None,
    school_id: int | None = None,
    **overrides: object,
) -> VolunteerRole:
    """A venue's (or a school's) role: any stage, no minimum age, at most 4 hours a day."""
    values: dict[str, object] = {
        "venue_id": venue_id,
        "school_id": school_id,
        "name": "小小志愿者",
        "description": "引导参观",
        "duties": "引导、秩序",
        "stages": "",
        "training": "",
        "max_daily_minutes": 240,
        "active": True,
        "created_by": "account:900002",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    role = VolunteerRole(**values)  # type: ignore[arg-type]
    session.add(role)
    session.flush()
    return role


def create_volunteer_shift(
    session: Session, *, role: VolunteerRole, **overrides: object
) -> VolunteerShift:
    """A shift on Saturday 2026-10-17, 09:00-12:00 Beijing time; sign-up closes on Friday
    09:00 (the clock is Wednesday the 14th)."""
    values: dict[str, object] = {
        "role_id": role.id,
        "venue_id": role.venue_id,
        "school_id": role.school_id,
        "starts_at": datetime(2026, 10, 17, 1, 0, tzinfo=UTC),
        "ends_at": datetime(2026, 10, 17, 4, 0, tzinfo=UTC),
        "signup_closes_at": datetime(2026, 10, 16, 1, 0, tzinfo=UTC),
        "place": "一楼序厅",
        "capacity": 10,
        "taken": 0,
        "status": "open",
        "created_by": "account:900002",
        "created_at": NOW,
    }
    values.update(overrides)
    shift = VolunteerShift(**values)  # type: ignore[arg-type]
    session.add(shift)
    session.flush()
    return shift


def create_volunteer_signup(
    session: Session, *, shift: VolunteerShift, student: Student, status: str = "signed_up"
) -> VolunteerSignup:
    signup = VolunteerSignup(
        shift_id=shift.id or 0,
        role_id=shift.role_id,
        student_id=student.id or 0,
        school_id=student.school_id,
        kind="individual",
        status=status,
        made_by="wechat:test",
        created_at=NOW,
        placed_at=NOW if status == "signed_up" else None,
    )
    session.add(signup)
    if status == "signed_up":
        shift.taken += 1
        session.add(shift)
    session.flush()
    return signup
