"""Volunteering in the demo world (issue 18): 湘潭市科技馆 offers 小小志愿者 and 小小科普辅导员,
湘乡市青少年校外活动中心 offers 科普小达人, each as a weekly Saturday series over the term. Pupils
of 和平小学 (under 14: ``participation_record``) and 湘乡二中 (14–18: ``volunteering``, one on a
school-recorded paper form) signed up when the series opened; past shifts were scanned in and
out through the shift-scan services (one by staff with a personal code) and confirmed (one
change of minutes with a reason, one no-show); a record went through the pupil's confirmation
and the school's review; a certificate past its publicity period is issued. The next
Saturday's shifts have open places, a waitlist and a cancellation. Every step goes through the
services a request would call, at the time it would have happened."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, select

from scipass.checkin import cards as checkin_cards
from scipass.checkin import issuing as checkin_issuing
from scipass.checkin import shifts as checkin_shifts
from scipass.checkin.models import CodeKind, Direction
from scipass.checkin.schemas import CheckInCreate, CodeCreate, StaffScan
from scipass.checkin.views import ScanCache
from scipass.consent import service as consent_service
from scipass.consent.models import Channel, Purpose
from scipass.core.auth import Principal, Role
from scipass.core.clock import local_date
from scipass.core.config import Settings
from scipass.demo import steps
from scipass.demo.data import VOLUNTEER_HINTS, VOLUNTEERING
from scipass.org.models import School
from scipass.record import service as record_service
from scipass.roster.models import Student
from scipass.volunteer import certificates, minutes, roles, signups
from scipass.volunteer.models import RolePreset, VolunteerShift, VolunteerSignup
from scipass.volunteer.schemas import (
    CertificateCreate,
    MinutesItem,
    RoleCreate,
    ShiftSeriesCreate,
)

SATURDAY = 6


def load(
    session: Session,
    schools: dict[str, School],
    students: dict[tuple[str, str, str], list[Student]],
    accounts: list[dict[str, Any]],
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """Build both venues' roles, shifts, sign-ups, attendance, minutes and the certificate; add
    a ``try`` hint to the accounts that take part and return the counts for the summary."""
    today = local_date(now)
    world = _World(session, settings, today, now)
    museum = world.museum(schools, students)
    centre = world.centre(schools, students)
    _hints(accounts, museum | centre)
    return {
        "volunteer_shifts": len(session.exec(select(VolunteerShift)).all()),
        "volunteer_signups": len(session.exec(select(VolunteerSignup)).all()),
    }


class _World:
    def __init__(self, session: Session, settings: Settings, today: date, now: datetime) -> None:
        self.session, self.settings, self.today, self.now = session, settings, today, now
        self.cache = ScanCache()
        # the term's Saturdays: seven weeks back, six ahead
        self.first = today - timedelta(days=49)
        self.last = today + timedelta(days=42)
        self.published = steps.at(self.first - timedelta(days=7), "10:00")
        past = [d for d in _saturdays(self.first, self.last) if d < today]
        # the last three Saturdays before today: 15–21, 8–14 and 1–7 days ago
        self.past = past[-3:]
        # the next Saturday whose sign-up (closing a day before) is still open
        self.next = next(
            d for d in _saturdays(self.first, self.last) if d >= today + timedelta(days=2)
        )

    # --- helpers ---------------------------------------------------------------------------

    def series(
        self, actor: Principal, preset: RolePreset, spec: dict[str, Any]
    ) -> dict[date, VolunteerShift]:
        role = roles.create_role(
            self.session,
            actor=actor,
            data=RoleCreate(preset=preset, description=spec.get("description")),
            now=self.published,
        )
        made = roles.create_series(
            self.session,
            actor=actor,
            role_id=role.id or 0,
            data=ShiftSeriesCreate(
                from_date=self.first,
                to_date=self.last,
                weekdays=[SATURDAY],
                start_time=time.fromisoformat(spec["start"]),
                end_time=time.fromisoformat(spec["end"]),
                place=spec["place"],
                capacity=spec["capacity"],
                close_hours_before=24,
                note=spec["note"],
            ),
            now=self.published,
        )
        return {local_date(shift.starts_at): shift for shift in made}

    def sign_up(self, pupil: Principal, shift: VolunteerShift, at: datetime) -> VolunteerSignup:
        return signups.sign_up(
            self.session, actor=pupil, shift_id=shift.id or 0, join_waitlist=True, now=at
        )

    def scan(
        self, staff: Principal, shift: VolunteerShift, pupil: Principal, arrive: str, leave: str
    ) -> None:
        """The pupil scans the shift's static code on arrival and on leaving."""
        day = local_date(shift.starts_at)
        code = checkin_shifts.create_code(
            self.session,
            settings=self.settings,
            actor=staff,
            shift_id=shift.id or 0,
            data=CodeCreate(kind=CodeKind.static),
            now=shift.starts_at - timedelta(minutes=30),
        )
        link = checkin_issuing.code_link(self.settings, code, shift.starts_at)
        for direction, hhmm in ((Direction.entry, arrive), (Direction.exit, leave)):
            checkin_shifts.self_scan(
                self.session,
                settings=self.settings,
                cache=self.cache,
                actor=pupil,
                data=CheckInCreate(code=link, direction=direction),
                nonce=f"demo-shift-{shift.id}-{pupil.student_id}-{direction.value}",
                now=steps.at(day, hhmm),
            )

    def staff_scan(
        self, staff: Principal, shift: VolunteerShift, pupil: Student, arrive: str, leave: str
    ) -> None:
        """Staff scan the pupil's personal code (a pupil without a phone) in and out."""
        day = local_date(shift.starts_at)
        for direction, hhmm in ((Direction.entry, arrive), (Direction.exit, leave)):
            at = steps.at(day, hhmm)
            code = checkin_cards.personal_code(
                self.settings, student_id=pupil.id or 0, expires_at=at + timedelta(minutes=5)
            )
            checkin_shifts.staff_scan(
                self.session,
                settings=self.settings,
                actor=staff,
                shift_id=shift.id or 0,
                data=StaffScan(
                    code=code,
                    direction=direction,
                    nonce=f"demo-staff-{shift.id}-{pupil.id}-{direction.value}",
                ),
                now=at,
            )

    def confirm(self, staff: Principal, shift: VolunteerShift, items: list[MinutesItem]) -> None:
        minutes.confirm_shift(
            self.session,
            actor=staff,
            shift_id=shift.id or 0,
            items=items,
            now=shift.ends_at + timedelta(minutes=30),
        )

    def paper(self, pupil: Student, school: School, purpose: Purpose) -> None:
        if not consent_service.has_consent(
            self.session, student=pupil, purpose=purpose, today=self.published.date()
        ):
            at = self.published - timedelta(days=3)
            steps.consent(self.session, pupil, school, Channel.paper, [purpose], at)

    def signup_of(self, shift: VolunteerShift, student: Student) -> VolunteerSignup:
        return self.session.exec(
            select(VolunteerSignup).where(
                VolunteerSignup.shift_id == shift.id, VolunteerSignup.student_id == student.id
            )
        ).one()

    # --- 湘潭市科技馆 ------------------------------------------------------------------------

    def museum(
        self, schools: dict[str, School], students: dict[tuple[str, str, str], list[Student]]
    ) -> dict[str, Any]:
        spec = VOLUNTEERING["museum"]
        school = schools[spec["school"]]
        admin = steps.account_actor(self.session, spec["admin"])
        staff = steps.account_actor(self.session, spec["staff"])
        helpers = self.series(admin, RolePreset.little_volunteer, spec["volunteer"])
        docents = self.series(admin, RolePreset.little_docent, spec["docent"])
        me, xiaoming = steps.student_actor(self.session, "xiaoming")
        mate, xiaogang = steps.student_actor(self.session, "xiaogang")
        # a classmate without a phone: the school recorded the paper form, the school signs up
        classmate = students[(spec["school"], "四年级", "1班")][2]
        self.paper(classmate, school, Purpose.participation_record)
        teacher = steps.account_actor(self.session, spec["teacher"])
        signed = self.published + timedelta(days=1)
        for day in self.past:
            self.sign_up(me, helpers[day], signed)
            self.sign_up(mate, helpers[day], signed + timedelta(minutes=20))
        for day in self.past[:2]:
            signups.sign_up_group(
                self.session,
                actor=teacher,
                shift_id=helpers[day].id or 0,
                student_ids=[classmate.id or 0],
                group_label="四年级 1 班",
                now=signed + timedelta(hours=2),
            )
        oldest, middle, recent = (helpers[day] for day in self.past)
        self.scan(staff, oldest, me, "08:55", "11:50")
        self.scan(staff, oldest, mate, "09:05", "12:00")
        self.staff_scan(staff, oldest, classmate, "09:00", "11:40")
        self.confirm(staff, oldest, [])
        self.scan(staff, middle, me, "08:50", "12:00")
        self.scan(staff, middle, mate, "09:00", "12:00")
        self.confirm(
            staff,
            middle,
            [
                MinutesItem(
                    signup_id=self.signup_of(middle, xiaogang).id or 0,
                    minutes=120,
                    reason=spec["changed_reason"],
                ),
                MinutesItem(signup_id=self.signup_of(middle, classmate).id or 0, no_show=True),
            ],
        )
        self.scan(staff, recent, me, "09:00", "12:00")
        self.scan(staff, recent, mate, "09:00", "11:30")
        self.confirm(staff, recent, [])
        # the next Saturday: xiaoming holds a place, places remain open for xiaogang
        upcoming = helpers[self.next]
        self.sign_up(me, upcoming, self.now - timedelta(days=2))
        # 小小科普辅导员 next Saturday: two places; the school signed up two fifth-graders
        # (paper forms), three more joined the waitlist on their own; one of the two cancels,
        # the first on the waitlist is promoted, two still wait
        fifth = [
            p
            for p in students[(spec["school"], "五年级", "2班")][2:]
            if not consent_service.is_under(p.birth_month, self.next, 10)
        ][:5]
        docent_shift = docents[self.next]
        for pupil in fifth:
            self.paper(pupil, school, Purpose.participation_record)
        signups.sign_up_group(
            self.session,
            actor=teacher,
            shift_id=docent_shift.id or 0,
            student_ids=[p.id or 0 for p in fifth[:2]],
            group_label="五年级 2 班",
            now=self.now - timedelta(days=3),
        )
        for n, pupil in enumerate(fifth[2:]):
            self.sign_up(_pupil(pupil), docent_shift, self.now - timedelta(days=3, minutes=-10 - n))
        signups.cancel(
            self.session,
            actor=teacher,
            signup_id=self.signup_of(docent_shift, fifth[0]).id or 0,
            reason=spec["cancel_reason"],
            now=self.now - timedelta(days=1),
        )
        # the certificate: xiaoming's shifts past their publicity period
        certificate = certificates.issue(
            self.session,
            settings=self.settings,
            actor=staff,
            data=CertificateCreate(
                student_id=xiaoming.id or 0,
                from_date=self.first,
                to_date=self.today,
                person_in_charge=spec["person_in_charge"],
                handler=spec["handler"],
                contact=spec["contact"],
            ),
            now=self.now - timedelta(hours=1),
        )
        return {
            "upcoming": upcoming.id,
            "docent_next": docent_shift.id,
            "recent": recent.id,
            "certificate": certificate.id,
            "number": certificate.number,
            "xiaoming": xiaoming.id,
        }

    # --- 湘乡市青少年校外活动中心 -------------------------------------------------------------

    def centre(
        self, schools: dict[str, School], students: dict[tuple[str, str, str], list[Student]]
    ) -> dict[str, Any]:
        spec = VOLUNTEERING["centre"]
        school = schools[spec["school"]]
        admin = steps.account_actor(self.session, spec["admin"])
        stars = self.series(admin, RolePreset.science_star, spec["star"])
        captain, lihua = steps.student_actor(self.session, "lihua")
        mate, wangfang = steps.student_actor(self.session, "wangfang")
        # 14–18: the guardian agreed in the mini-program; wangfang's on a paper form
        steps.consent(
            self.session,
            lihua,
            school,
            Channel.mini_program,
            [Purpose.volunteering],
            self.published - timedelta(days=2),
        )
        self.paper(wangfang, school, Purpose.volunteering)
        signed = self.published + timedelta(days=2)
        for day in self.past[:2]:
            self.sign_up(captain, stars[day], signed)
            self.sign_up(mate, stars[day], signed + timedelta(hours=1))
        for day in self.past[:2]:
            shift = stars[day]
            self.scan(admin, shift, captain, "14:25", "16:30")
            self.scan(admin, shift, mate, "14:30", "16:20")
            self.confirm(admin, shift, [])
        # lihua's first record: he confirms it, his teacher approves it
        record_id = self.signup_of(stars[self.past[0]], lihua).record_id or 0
        confirmed_on = self.past[0] + timedelta(days=1)
        record_service.student_confirm(
            self.session,
            actor=captain,
            record_id=record_id,
            reflection=spec["reflection"],
            now=steps.at(confirmed_on, "20:00"),
        )
        record_service.review(
            self.session,
            actor=steps.account_actor(self.session, spec["teacher"]),
            record_id=record_id,
            approve=True,
            reason=None,
            now=steps.at(confirmed_on + timedelta(days=1), "09:30"),
        )
        return {"star_next": stars[self.next].id, "reviewed": record_id, "lihua": lihua.name}


def _pupil(student: Student) -> Principal:
    """A bound pupil's caller, as the mini-program's login gives it."""
    return Principal(
        subject=f"demo-pupil-{student.id}",
        role=Role.student,
        school_id=student.school_id,
        student_id=student.id,
    )


def _saturdays(first: date, last: date) -> list[date]:
    day = first + timedelta(days=(SATURDAY - first.isoweekday()) % 7)
    days = []
    while day <= last:
        days.append(day)
        day += timedelta(days=7)
    return days


def _hints(accounts: list[dict[str, Any]], ids: dict[str, Any]) -> None:
    """Each taking part account's ``try`` hint (``VOLUNTEER_HINTS``), after any it has."""
    for account in accounts:
        key = account.get("username") or account.get("wechat_code")
        if key in VOLUNTEER_HINTS:
            hint = "志愿服务：" + VOLUNTEER_HINTS[key].format(**ids)
            if key in ("dev-xiaoming", "xtkjg-staff"):
                hint += "；" + VOLUNTEER_HINTS["anyone"].format(**ids)
            account["try"] = f"{account['try']}；{hint}" if account.get("try") else hint
