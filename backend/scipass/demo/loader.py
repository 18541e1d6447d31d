"""Loads the demo world into an empty database (see :mod:`scipass.demo.data`)."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from scipass.account import service as account_service
from scipass.account.models import Account, WeChatUser
from scipass.activity import service as activity_service
from scipass.activity.models import Activity, ActivityStatus
from scipass.activity.schemas import ActivityWrite
from scipass.checkin import codes
from scipass.checkin import issuing as checkin_issuing
from scipass.checkin import self_scan as checkin_self_scan
from scipass.checkin.models import CodeKind, Direction
from scipass.checkin.schemas import CheckInCreate, CodeCreate
from scipass.checkin.views import ScanCache
from scipass.consent import service as consent_service
from scipass.consent.models import Channel, Decision, Purpose
from scipass.core.auth import Principal, Role
from scipass.core.clock import SystemClock, local_date
from scipass.core.config import Settings
from scipass.core.idempotency import Idempotency
from scipass.core.workdays import is_working_day, window_end
from scipass.demo import competitions, compliance, data, measures, volunteering
from scipass.demo.steps import account_actor as _account_actor
from scipass.demo.steps import at as _at
from scipass.demo.steps import consent as _consent
from scipass.demo.steps import student_actor as _student_actor
from scipass.demo.steps import weekday_before as _weekday_before
from scipass.org import service as org_service
from scipass.org.models import Bureau, Region, School, Venue, encode_stages
from scipass.org.schemas import SchoolSettingsUpdate
from scipass.pairing import service as pairing_service
from scipass.pairing.schemas import PairingCreate
from scipass.record import append as record_append
from scipass.record import attestation as record_attestation
from scipass.record import corrections as record_corrections
from scipass.record import notices as record_notices
from scipass.record import service as record_service
from scipass.record.models import (
    ParticipationRecord,
    RecordCategory,
    RecordNotice,
    RecordRole,
    RecordSource,
    RecordStatus,
)
from scipass.record.repository import RecordFilter
from scipass.record.schemas import ManualRecordCreate
from scipass.reservation import service as reservation_service
from scipass.reservation import slots as reservation_slots
from scipass.reservation.models import Reservation, ReservationStatus, TimeSlot
from scipass.reservation.schemas import GroupReserve, SlotCreate
from scipass.roster import importer
from scipass.roster import service as roster_service
from scipass.roster.acting import acting_for
from scipass.roster.models import GuardianLink, Student
from scipass.venue import hours
from scipass.venue import service as venue_service
from scipass.venue.models import DirectoryEdition, VenueHoursException, VenueResource
from scipass.venue.schemas import HoursExceptionWrite, ResourceWrite, VenueProfile


def load(
    session: Session, *, now: datetime | None = None, settings: Settings | None = None
) -> dict[str, Any] | None:
    """Insert the demo data; ``None`` when the database already holds regions.

    ``settings`` gives the working-day calendar of the public notices (公示); by default it is
    read from the environment. Returns counts and, under ``accounts``, how to log in as every
    demo user."""
    if session.exec(select(Region.code).limit(1)).first() is not None:
        return None
    now = now or SystemClock().now()
    settings = settings or Settings()
    for code, name, level, parent_code in data.REGIONS:
        session.add(Region(code=code, name=name, level=level, parent_code=parent_code))
        session.flush()  # parents before children: the foreign key is checked per row
    schools = {}
    for name, region_code, stages, area, address in data.SCHOOLS:
        school = School(
            name=name,
            region_code=region_code,
            stages=encode_stages(stages),
            area=area,
            address=address,
            created_at=now,
        )
        session.add(school)
        schools[name] = school
    venues = {}
    for name, kind, region_code, address, longitude, latitude, phone in data.VENUES:
        venue = Venue(
            name=name,
            kind=kind,
            region_code=region_code,
            address=address,
            longitude=longitude,
            latitude=latitude,
            phone=phone,
            created_at=now,
        )
        session.add(venue)
        venues[name] = venue
    bureaus = {}
    for name, region_code in data.BUREAUS:
        bureau = Bureau(name=name, region_code=region_code, created_at=now)
        session.add(bureau)
        bureaus[name] = bureau
    session.flush()

    accounts = _staff(session, schools, venues, bureaus, now)
    students = _rosters(session, schools, now)
    accounts += _wechat_users(session, schools, students, now)
    accounts += _binding_examples(schools, students)
    directory = _directory(session, schools, venues, bureaus, students, now, settings)
    records = _records(session, schools, students, settings, now)
    accounts += _families(session, schools, venues, students, settings, now)
    records |= competitions.load(session, schools, students, accounts, settings, now)
    records |= volunteering.load(session, schools, students, accounts, settings, now)
    records |= measures.load(session, schools, venues, bureaus, now)
    records |= compliance.load(session, schools, accounts, now)
    records["records"] = _count(session, select(ParticipationRecord))
    records["record_notices"] = _count(session, select(RecordNotice))
    _record_hints(session, accounts)
    return {
        "regions": len(data.REGIONS),
        "schools": len(data.SCHOOLS),
        "venues": len(data.VENUES),
        "bureaus": len(data.BUREAUS),
        "staff": len(data.STAFF),
        "students": sum(len(v) for v in students.values()),
        **directory,
        **records,
        "accounts": accounts,
    }


def _staff(
    session: Session,
    schools: dict[str, School],
    venues: dict[str, Venue],
    bureaus: dict[str, Bureau],
    now: datetime,
) -> list[dict[str, Any]]:
    accounts = []
    for username, display_name, role, org_name in data.STAFF:
        org: School | Venue | Bureau | None = None
        if org_name is not None:
            org = schools.get(org_name) or venues.get(org_name) or bureaus[org_name]
        account_service.create_account(
            session,
            actor=None,
            username=username,
            display_name=display_name,
            role=Role(role),
            org_id=org.id if org else None,
            password=data.DEMO_PASSWORD,
            now=now,
        )
        accounts.append(
            {
                "username": username,
                "password": data.DEMO_PASSWORD,
                "role": role,
                "display_name": display_name,
                "organisation": org_name,
                "organisation_id": org.id if org else None,
                "login": "POST /api/v1/auth/login",
                "console": "/console/login",  # the same account, in the browser
            }
        )
    return accounts


def _birth_month(grade: int, today: date, rng: random.Random) -> date:
    # A pupil in grade g is about g + 6 years old during the school year.
    school_year_start = today.year if today.month >= 9 else today.year - 1
    year = school_year_start - grade - 6 + (1 if rng.random() < 0.7 else 0)
    month = rng.randint(1, 12) if year < school_year_start - grade - 5 else rng.randint(1, 8)
    return date(year, month, 1)


def _rosters(
    session: Session, schools: dict[str, School], now: datetime
) -> dict[tuple[str, str, str], list[Student]]:
    rng = random.Random(2026)  # noqa: S311 - made-up names, not secrets
    today = local_date(now)
    result: dict[tuple[str, str, str], list[Student]] = {}
    serial = 0
    for school_name, label, class_name, size in data.CLASSES:
        school = schools[school_name]
        stage, grade = importer.grade_stage(label)
        members = []
        for _ in range(size):
            serial += 1
            student = Student(
                school_id=school.id or 0,
                student_no=f"{today.year - grade + 1}{serial:04d}",
                name=rng.choice(data.SURNAMES) + rng.choice(data.GIVEN),
                gender=rng.choice(("male", "female")),
                birth_month=_birth_month(grade, today, rng),
                stage=stage.value,
                grade=grade,
                class_name=class_name,
                binding_code=roster_service.new_code(),
                guardian_code=roster_service.new_code(),
                created_at=now,
                updated_at=now,
            )
            session.add(student)
            members.append(student)
        result[(school_name, label, class_name)] = members
    session.flush()
    return result


def _wechat_users(
    session: Session,
    schools: dict[str, School],
    students: dict[tuple[str, str, str], list[Student]],
    now: datetime,
) -> list[dict[str, Any]]:
    accounts = []
    today = local_date(now)
    for name, kind, school_name, label, class_name, index, consent in data.WECHAT_USERS:
        student = students[(school_name, label, class_name)][index]
        school = schools[school_name]
        user = WeChatUser(openid=f"dev-openid-{name}", kind=kind, created_at=now, last_login_at=now)
        session.add(user)
        session.flush()
        if kind == "student":
            student.wechat_user_id = user.id
            student.bound_at = now
            student.binding_code = None
            session.add(student)
        else:
            session.add(
                GuardianLink(
                    guardian_id=user.id or 0,
                    student_id=student.id or 0,
                    relation="mother",
                    created_at=now,
                )
            )
        session.flush()
        if consent == "granted":
            _consent(session, student, school, Channel.mini_program, list(Purpose), now)
        elif consent == "paper":
            _consent(session, student, school, Channel.paper, list(Purpose), now)
            _consent(
                session, student, school, Channel.paper, [Purpose.location], now, Decision.withdraw
            )
        under_14 = consent_service.is_under_14(student.birth_month, today)
        accounts.append(
            {
                "wechat_code": f"dev-{name}",
                "role": kind,
                "student": student.name,
                "student_id": student.id,
                "school": school_name,
                "class": f"{label}{class_name}",
                "under_14": under_14,
                "consent": consent if kind == "student" else None,
                "login": "POST /api/v1/auth/wechat (SCIPASS_WECHAT_MODE=fake)",
            }
        )
    return accounts


def _binding_examples(
    schools: dict[str, School], students: dict[tuple[str, str, str], list[Student]]
) -> list[dict[str, Any]]:
    """Unbound students and their codes, to try binding with a new dev WeChat user."""
    examples = []
    for (school_name, label, class_name), members in students.items():
        student = members[-1]
        examples.append(
            {
                "role": "unbound student (bind with POST /api/v1/me/student-binding)",
                "school_id": schools[school_name].id,
                "school": school_name,
                "class": f"{label}{class_name}",
                "student_no": student.student_no,
                "binding_code": student.binding_code,
                "guardian_code": student.guardian_code,
                "login": "POST /api/v1/auth/wechat with any new code dev-<name>, then bind",
            }
        )
    return examples[:3]


# --- the venue directory, activities, slots, reservations, pairings (issue 4) ----------------


def _directory(
    session: Session,
    schools: dict[str, School],
    venues: dict[str, Venue],
    bureaus: dict[str, Bureau],
    students: dict[tuple[str, str, str], list[Student]],
    now: datetime,
    settings: Settings,
) -> dict[str, Any]:
    today = local_date(now)
    _profiles(session, venues, now)
    resources = _resources(session, venues, now)
    _exceptions(session, venues, today)
    activities = _activities(session, schools, venues, today, now)
    checkin_codes = _checkin_codes(session, venues, activities, now, settings)
    slots = _slots(session, venues, resources, activities, today, now)
    _reservations(session, venues, resources, students, slots, now)
    _pairings(session, schools, venues, today, now)
    _pending_changes(session, venues, now)
    for name in data.EDITION_BUREAUS:
        actor = _org_actor(session, Role.bureau, bureaus[name].id or 0)
        venue_service.publish_edition(session, actor=actor, year=today.year, title=None, now=now)
    return {
        "listed_venues": _count(session, select(Venue).where(Venue.listed == True)),  # noqa: E712
        "pending_reviews": len(venue_service.list_pending(session, actor=_platform())),
        "venue_resources": _count(session, select(VenueResource)),
        "hours_exceptions": _count(session, select(VenueHoursException)),
        "activities": _count(session, select(Activity)),
        "time_slots": len(slots),
        "reservations": _count(session, select(Reservation)),
        "waitlisted": _count(
            session, select(Reservation).where(Reservation.status == ReservationStatus.waitlisted)
        ),
        "pairings": len(data.PAIRINGS),
        "directory_editions": _count(session, select(DirectoryEdition)),
        "checkin_codes": checkin_codes,
    }


def _checkin_codes(
    session: Session,
    venues: dict[str, Venue],
    activities: dict[str, Activity],
    now: datetime,
    settings: Settings,
) -> list[dict[str, Any]]:
    """A poster code and a screen code for the activities that try check-in out, with what a
    developer needs to use them (written to demo-accounts.json)."""
    found = []
    for spec in data.ACTIVITIES:
        if not spec.get("codes"):
            continue
        activity = activities[spec["title"]]
        actor = _venue_admin(session, venues[spec["organiser"]])
        entry: dict[str, Any] = {"activity_id": activity.id, "title": activity.title}
        for kind in (CodeKind.static, CodeKind.rotating):
            code = checkin_issuing.create_code(
                session,
                settings=settings,
                actor=actor,
                activity_id=activity.id or 0,
                data=CodeCreate(kind=kind),
                now=now,
            )
            if kind is CodeKind.static:
                entry["static_code_id"] = code.id
                entry["static_link"] = codes.link_for(
                    settings.code_link_base, checkin_issuing.code_payload(settings, code, now)
                )
                entry["scene"] = codes.SCENE_PREFIX + code.short_id
            else:
                entry["kiosk_url"] = checkin_issuing.kiosk_url(
                    settings, code, checkin_issuing.activity_target(session, settings, activity)
                )
        found.append(entry)
    return found


def _count(session: Session, query: Any) -> int:
    return len(session.exec(query).all())


def _platform() -> Principal:
    return Principal(subject="demo", role=Role.platform_admin)


def _org_actor(session: Session, role: Role, org_id: int) -> Principal:
    """The organisation's demo account with ``role`` if there is one (so the audit log and
    "made by" name a real login), else a stand-in with the same rights."""
    column = {
        Role.venue_admin: Account.venue_id,
        Role.school_admin: Account.school_id,
        Role.school_staff: Account.school_id,
        Role.bureau: Account.bureau_id,
    }[role]
    account = session.exec(
        select(Account).where(column == org_id, Account.role == role).order_by(col(Account.id))
    ).first()
    if account is not None:
        return account_service.principal_for_account(session, account)
    if role is Role.venue_admin:
        return Principal(subject="demo", role=role, venue_id=org_id)
    if role is Role.bureau:
        bureau = session.get(Bureau, org_id)
        return Principal(
            subject="demo",
            role=role,
            bureau_id=org_id,
            region_code=bureau.region_code if bureau is not None else None,
        )
    return Principal(subject="demo", role=role, school_id=org_id)


def _venue_admin(session: Session, venue: Venue) -> Principal:
    return _org_actor(session, Role.venue_admin, venue.id or 0)


def _on_or_after(day: date, weekday: int | None) -> date:
    if weekday is None:
        return day
    return day + timedelta(days=(weekday - day.isoweekday()) % 7)


def _profile(venue: Venue, values: dict[str, Any]) -> VenueProfile:
    return VenueProfile(
        name=venue.name,
        kind=venue.kind,
        region_code=venue.region_code,
        address=venue.address,
        longitude=venue.longitude,
        latitude=venue.latitude,
        phone=venue.phone,
        services=values["services"],
        facilities=values["facilities"],
        weekly_hours=values["weekly_hours"],
        is_free=values["is_free"],
        fee_note=values["fee_note"],
        stages=values["stages"],
        reservation_required=values["reservation_required"],
        photos=[
            f"https://static.example.com/scipass-demo/{values['slug']}/{n}.jpg"
            for n in range(1, values["photos"] + 1)
        ],
    )


def _profiles(session: Session, venues: dict[str, Venue], now: datetime) -> None:
    """Listed venues get their approved profile as the bureau's review would have left it; an
    unlisted one submits its first profile for review."""
    approved_at = now - timedelta(days=30)
    for name, values in data.VENUE_PROFILES.items():
        venue = venues[name]
        profile = _profile(venue, values)
        if not values.get("listed", True):
            actor = _venue_admin(session, venue)
            venue_service.save_draft(
                session, actor=actor, venue_id=venue.id or 0, data=profile, now=now
            )
            venue_service.submit_draft(
                session, actor=actor, venue_id=venue.id or 0, now=now - timedelta(days=2)
            )
            continue
        venue.services = profile.services
        venue.facilities = profile.facilities
        venue.is_free = profile.is_free
        venue.fee_note = profile.fee_note
        venue.stages = encode_stages(profile.stages)
        venue.reservation_required = profile.reservation_required
        venue.weekly_hours = hours.normalise_week(profile.weekly_hours)
        venue.open_weekdays = hours.open_weekdays(venue.weekly_hours)
        venue.photos = [str(url) for url in profile.photos]
        venue.listed = True
        venue.approved_at = approved_at
        venue.reviewed_at = approved_at
        session.add(venue)
    session.flush()


def _pending_changes(session: Session, venues: dict[str, Venue], now: datetime) -> None:
    for name, changes in data.PENDING_CHANGES.items():
        venue = venues[name]
        actor = _venue_admin(session, venue)
        live = venue_service.live_profile(venue)
        assert live is not None  # the demo's venues are approved by now
        draft = live.model_copy(update=changes)
        venue_service.save_draft(session, actor=actor, venue_id=venue.id or 0, data=draft, now=now)
        venue_service.submit_draft(
            session, actor=actor, venue_id=venue.id or 0, now=now - timedelta(days=1)
        )


def _resources(
    session: Session, venues: dict[str, Venue], now: datetime
) -> dict[tuple[str, str], VenueResource]:
    result = {}
    for venue_name, name, kind, description, value_yuan, capacity in data.RESOURCES:
        venue = venues[venue_name]
        result[(venue_name, name)] = venue_service.create_resource(
            session,
            actor=_venue_admin(session, venue),
            venue_id=venue.id or 0,
            data=ResourceWrite(
                name=name,
                kind=kind,
                description=description,
                value_yuan=value_yuan,
                capacity=capacity,
            ),
            now=now,
        )
    return result


def _exceptions(session: Session, venues: dict[str, Venue], today: date) -> None:
    days = [
        (name, _on_or_after(today + timedelta(days=offset), weekday), periods, note)
        for name, offset, weekday, periods, note in data.HOURS_EXCEPTIONS
    ]
    year_end = date(today.year, 12, 31)
    if year_end <= today:
        year_end = date(today.year + 1, 12, 31)
    days += [(name, year_end, [], note) for name, note in data.YEAR_END_CLOSURES]
    for name, day, periods, note in days:
        venue = venues[name]
        venue_service.set_exception(
            session,
            actor=_venue_admin(session, venue),
            venue_id=venue.id or 0,
            day=day,
            data=HoursExceptionWrite(periods=periods, note=note),
        )


def _activities(
    session: Session,
    schools: dict[str, School],
    venues: dict[str, Venue],
    today: date,
    now: datetime,
) -> dict[str, Activity]:
    result = {}
    for spec in data.ACTIVITIES:
        first = _on_or_after(today + timedelta(days=spec["day"]), spec.get("weekday"))
        last = first + timedelta(days=spec.get("days", 1) - 1)
        if spec["organiser"] in venues:
            actor = _venue_admin(session, venues[spec["organiser"]])
        else:
            actor = _org_actor(session, Role.school_admin, schools[spec["organiser"]].id or 0)
        write = ActivityWrite(
            kind=spec["kind"],
            title=spec["title"],
            description=spec["description"],
            starts_at=_at(first, spec["start"]),
            ends_at=_at(last, spec["end"]),
            place_name=spec.get("place_name"),
            address=spec.get("address"),
            longitude=spec.get("longitude"),
            latitude=spec.get("latitude"),
            geofence_radius_m=spec.get("geofence_radius_m"),
            capacity=spec.get("capacity"),
            admission=spec["admission"],
            stages=spec.get("stages"),
            credited_minutes=spec.get("credited_minutes"),
        )
        activity = activity_service.create(session, actor=actor, data=write, now=now)
        status = ActivityStatus(spec.get("status", "published"))
        if status is not ActivityStatus.draft:
            activity_service.transition(
                session,
                actor=actor,
                activity_id=activity.id or 0,
                to=ActivityStatus.published,
                reason="",
                now=now,
            )
        if status in (ActivityStatus.finished, ActivityStatus.cancelled):
            activity_service.transition(
                session,
                actor=actor,
                activity_id=activity.id or 0,
                to=status,
                reason=spec.get("status_reason", ""),
                now=now,
            )
        result[spec["title"]] = activity
    return result


def _slots(
    session: Session,
    venues: dict[str, Venue],
    resources: dict[tuple[str, str], VenueResource],
    activities: dict[str, Activity],
    today: date,
    now: datetime,
) -> list[TimeSlot]:
    """Slots for the coming weeks, skipping days the venue is closed (an exception date)."""
    slots = []
    for offset in range(1, data.SLOT_DAYS + 1):
        day = today + timedelta(days=offset)
        for plan in data.SLOT_PLANS:
            venue_name, resource, weekdays, start, end, capacity, channel, title, note = plan
            if str(day.isoweekday()) not in weekdays:
                continue
            venue = venues[venue_name]
            starts_at, ends_at = _at(day, start), _at(day, end)
            if starts_at <= now or not hours.within(
                venue_service.periods_on(session, venue, day), starts_at, ends_at
            ):
                continue
            cut_off = day - timedelta(days=data.SCHOOL_CUT_OFF_DAYS)
            slot_data = SlotCreate(
                starts_at=starts_at,
                ends_at=ends_at,
                capacity=capacity,
                resource_id=resources[(venue_name, resource)].id if resource else None,
                activity_id=activities[title].id if title else None,
                school_channel=channel,
                school_priority_until=_at(cut_off, "12:00") if channel else None,
                note=note,
            )
            slots.append(
                reservation_slots.create_slot(
                    session,
                    actor=_venue_admin(session, venue),
                    venue_id=venue.id or 0,
                    data=slot_data,
                    now=now,
                )
            )
    return slots


def _reservations(
    session: Session,
    venues: dict[str, Venue],
    resources: dict[tuple[str, str], VenueResource],
    students: dict[tuple[str, str, str], list[Student]],
    slots: list[TimeSlot],
    now: datetime,
) -> None:
    def slot(venue: str, resource: str | None = None, *, channel: bool = False, n: int = 0) -> int:
        """The ``n``-th slot of the venue (resource, green channel) in time order."""
        resource_id = resources[(venue, resource)].id if resource else None
        matching = [
            s
            for s in slots
            if s.venue_id == venues[venue].id
            and s.resource_id == resource_id
            and s.school_channel == channel
        ]
        return sorted(matching, key=lambda s: s.starts_at)[n].id or 0

    def student(name: str) -> Principal:
        user = session.exec(
            select(WeChatUser).where(WeChatUser.openid == f"dev-openid-{name}")
        ).one()
        return account_service.principal_for_wechat_user(session, user.id or 0)

    def teacher(username: str) -> Principal:
        account = session.exec(select(Account).where(Account.username == username)).one()
        return account_service.principal_for_account(session, account)

    def group(username: str, slot_id: int, label: str, class_name: str, escorts: int) -> None:
        _stage, grade = importer.grade_stage(label)
        reservation_service.reserve_for_group(
            session,
            actor=teacher(username),
            slot_id=slot_id,
            data=GroupReserve(grade=grade, class_name=class_name, escorts=escorts),
            idempotency=None,
            now=now,
        )

    def individual(name: str, slot_id: int) -> Reservation:
        reservation, _new = reservation_service.reserve_for_self(
            session,
            actor=student(name),
            slot_id=slot_id,
            join_waitlist=True,
            idempotency=None,
            now=now,
        )
        return reservation

    xtkjg, xtu, sem = "湘潭市科技馆", "湘潭大学物理与光电工程实验教学中心", "场发射扫描电子显微镜"
    group("heping-teacher", slot(xtkjg, channel=True), "四年级", "1班", 2)
    group("heping-admin", slot(xtkjg, channel=True, n=1), "五年级", "2班", 2)
    individual("xiaoming", slot(xtkjg, "球幕影院《宇宙奇观》"))
    changed_mind = individual("xiaoming", slot(xtkjg))
    reservation_service.cancel(
        session,
        actor=student("xiaoming"),
        reservation_id=changed_mind.id or 0,
        reason="时间冲突，改约球幕影院",
        now=now,
    )
    # The electron microscope takes six: five pupils and their teacher fill it, Li Hua waits.
    class_members = students[("湘乡市第二中学", "高一", "3班")]
    reservation_service.reserve_for_group(
        session,
        actor=teacher("xx2-teacher"),
        slot_id=slot(xtu, sem),
        data=GroupReserve(
            student_ids=[s.id or 0 for s in class_members[1:6]], escorts=1, note="物理兴趣小组"
        ),
        idempotency=None,
        now=now,
    )
    individual("lihua", slot(xtu, sem))
    group("dongjiao-admin", slot("湘乡市青少年校外活动中心", "科技制作室"), "八年级", "1班", 1)
    individual("tiantian", slot("赤峰市科技馆", "天象厅《星空下的红山》"))
    group("gtj-admin", slot("赤峰市科技馆", channel=True), "六年级", "1班", 2)
    individual("xiaoyu", slot("晋城市科技馆", "球幕影院《飞向太空》"))
    group("fengtai-admin", slot("晋城市科技馆", channel=True), "三年级", "2班", 2)


def _pairings(
    session: Session,
    schools: dict[str, School],
    venues: dict[str, Venue],
    today: date,
    now: datetime,
) -> None:
    year_start = date(today.year if today.month >= 9 else today.year - 1, 9, 1)
    year_end = date(year_start.year + 1, 7, 15)
    for school_name, venue_name, status, proposed_by, note, reason in data.PAIRINGS:
        school, venue = schools[school_name], venues[venue_name]
        school_side = _org_actor(session, Role.school_admin, school.id or 0)
        venue_side = _venue_admin(session, venue)
        proposer, other = (
            (school_side, venue_side) if proposed_by == "school" else (venue_side, school_side)
        )
        proposed = status == "proposed"
        pairing = pairing_service.propose(
            session,
            actor=proposer,
            data=PairingCreate(
                venue_id=venue.id if proposed_by == "school" else None,
                school_id=school.id if proposed_by == "venue" else None,
                starts_on=today + timedelta(days=7) if proposed else year_start,
                ends_on=None if proposed else year_end,
                note=note,
            ),
            now=now - timedelta(days=3 if proposed else 60),
        )
        if status == "active":
            pairing_service.confirm(
                session, actor=other, pairing_id=pairing.id or 0, now=now - timedelta(days=58)
            )
        elif status == "declined":
            pairing_service.decline(
                session, actor=other, pairing_id=pairing.id or 0, reason=reason, now=now
            )


# --- participation records (写实记录) ----------------------------------------------------------


def _records(
    session: Session,
    schools: dict[str, School],
    students: dict[tuple[str, str, str], list[Student]],
    settings: Settings,
    now: datetime,
) -> dict[str, int]:
    """Records in every state for the classes of ``RECORD_PLANS``, made through the record
    service on the days each step would have happened; then the archiving job runs once."""
    visits = itertools.count(1)
    for plan in data.RECORD_PLANS:
        _record_plan(session, plan, schools, students, settings, now, visits)
    record_notices.archive_due(session, now=now)
    return {
        "records": _count(session, select(ParticipationRecord)),
        "record_notices": _count(session, select(RecordNotice)),
    }


def _closed_notice_start(
    session: Session, school: School, settings: Settings, now: datetime
) -> datetime:
    """A working morning at least ten days ago whose notice window has closed by ``now``."""
    days, _region = record_notices.notice_working_days(session, school.region_code)
    calendar = {"holidays": settings.holidays, "makeup": settings.makeup_workdays}
    day = local_date(now) - timedelta(days=10)
    while (
        not is_working_day(day, **calendar) or window_end(_at(day, "10:00"), days, **calendar) > now
    ):
        day -= timedelta(days=1)
    return _at(day, "10:00")


def _record_plan(
    session: Session,
    plan: dict[str, Any],
    schools: dict[str, School],
    students: dict[tuple[str, str, str], list[Student]],
    settings: Settings,
    now: datetime,
    visits: Iterator[int],
) -> None:
    school = schools[plan["school"]]
    label, class_name = plan["class"]
    members = students[(plan["school"], label, class_name)]
    old, middle, newest = (
        session.exec(select(Activity).where(Activity.title == title)).one()
        for title in plan["activities"]
    )
    organiser = _account_actor(session, plan["organiser"])
    reviewer = _account_actor(session, plan["reviewer"])
    admin = _account_actor(session, plan["admin"])
    today = local_date(now)
    noticed = _weekday_before(today)  # the open notice went up that afternoon
    entered = _weekday_before(noticed)  # the club term was entered that morning

    def after(activity: Activity, days: int, hhmm: str) -> datetime:
        return _at(local_date(activity.ends_at) + timedelta(days=days), hhmm)

    def check_in(
        student: Student, activity: Activity, by: Principal | None, minute: int = 5
    ) -> ParticipationRecord:
        record, _new = record_append.append_record(
            session,
            student=student,
            source=RecordSource.checkin,
            source_ref=f"demo-visit-{next(visits)}",
            facts=record_append.facts_for_activity(session, activity),
            actor=by,
            now=activity.starts_at + timedelta(minutes=minute),
        )
        return record

    def confirm(record: ParticipationRecord, activity: Activity) -> None:
        record_service.organiser_decide(
            session,
            actor=organiser,
            record_id=record.id or 0,
            confirm=True,
            reason=None,
            now=after(activity, 1, "10:00"),
        )

    def student_confirm(
        actor: Principal, record: ParticipationRecord, at: datetime, *, reflect: bool
    ) -> None:
        record_service.student_confirm(
            session,
            actor=actor,
            record_id=record.id or 0,
            reflection=data.REFLECTIONS[record.title] if reflect else None,
            now=at,
        )

    def review(record: ParticipationRecord, at: datetime) -> None:
        record_service.review(
            session, actor=reviewer, record_id=record.id or 0, approve=True, reason=None, now=at
        )

    def publicise(title: str, records: list[ParticipationRecord], at: datetime) -> None:
        record_notices.open_notice(
            session,
            actor=admin,
            settings=settings,
            title=title,
            filters=RecordFilter(),
            record_ids=[r.id or 0 for r in records],
            now=at,
        )
        for record in records:  # the notice moved them with a bulk update
            session.refresh(record)

    # Classmates who have not bound the mini-program: the venue checked them in.
    others = [members[i] for i in plan["pending"] + plan["confirmed"] + plan["rejected"]]
    for student in others:
        if not consent_service.has_consent(
            session, student=student, purpose=Purpose.participation_record, today=today
        ):
            purposes = [Purpose.participation_record, Purpose.record_export]
            consented_at = _at(today - timedelta(days=90), "09:00")
            _consent(session, student, school, Channel.paper, purposes, consented_at)
    for index in plan["pending"]:
        check_in(members[index], newest, None)
    for index in plan["confirmed"]:
        confirm(check_in(members[index], newest, None), newest)
    for index in plan["rejected"]:
        record_service.organiser_decide(
            session,
            actor=organiser,
            record_id=check_in(members[index], newest, None).id or 0,
            confirm=False,
            reason=data.REJECT_REASON,
            now=after(newest, 1, "10:30"),
        )

    # The club term, entered by the school (and, below, confirmed by the bound students).
    title, place, outcome = plan["club"]
    last = today - timedelta(days=7)
    pair = None
    members_of_club = [members[i] for i in plan["pending"] + plan["confirmed"]]
    if plan["main"] is not None:
        pair = (_student_actor(session, plan["main"]), _student_actor(session, plan["peer"]))
        members_of_club = [pair[0][1], pair[1][1], *members_of_club]
    club = record_corrections.create_manual(
        session,
        actor=reviewer,
        entry=ManualRecordCreate(
            student_ids=[s.id or 0 for s in members_of_club],
            title=title,
            category=RecordCategory.inquiry,
            dimension=None,
            place=place,
            organiser_name=None,
            started_at=_at(last - timedelta(weeks=data.CLUB_SESSIONS - 1), "15:30"),
            ended_at=_at(last, "16:30"),
            minutes=data.CLUB_SESSIONS * 60,
            role=RecordRole.participant,
            outcome=outcome,
            attester_name=None,
            attester_phone="",
        ),
        idempotency=Idempotency(key=f"demo-club-{school.id}", fingerprint="demo"),
        now=_at(entered, "09:00"),
    )
    if pair is None:
        return
    (me, mine), (pal, theirs) = pair
    # The first notice, closed and archived: two of mine, one of theirs.
    first: list[ParticipationRecord] = []
    for activity in (old, middle):
        record = check_in(mine, activity, me)
        confirm(record, activity)
        student_confirm(me, record, after(activity, 1, "20:00"), reflect=True)
        review(record, after(activity, 3, "09:30"))
        first.append(record)
    record = check_in(theirs, middle, pal, minute=8)
    confirm(record, middle)
    student_confirm(pal, record, after(middle, 2, "19:00"), reflect=False)
    review(record, after(middle, 3, "09:40"))
    first.append(record)
    publicise(data.NOTICE_TITLES[0], first, _closed_notice_start(session, school, settings, now))

    # The open notice: their oldest check-in (which they confirmed late), my newest and theirs,
    # which I object to; and my duplicate check-in, withdrawn.
    late = check_in(theirs, old, pal, minute=8)
    confirm(late, old)
    student_confirm(pal, late, after(newest, 1, "20:30"), reflect=False)
    my_newest = check_in(mine, newest, me)
    confirm(my_newest, newest)
    student_confirm(me, my_newest, after(newest, 1, "20:00"), reflect=True)
    duplicate = check_in(mine, newest, me, minute=7)
    record_service.withdraw(
        session,
        actor=me,
        record_id=duplicate.id or 0,
        reason=data.WITHDRAW_REASON,
        now=after(newest, 1, "19:50"),
    )
    their_newest = check_in(theirs, newest, pal, minute=8)
    confirm(their_newest, newest)
    student_confirm(pal, their_newest, after(newest, 1, "21:00"), reflect=False)
    second = [late, my_newest, their_newest]
    for record in second:
        review(record, _at(noticed, "09:30"))
    publicise(data.NOTICE_TITLES[1], second, _at(noticed, "16:00"))
    record_notices.object_to(
        session,
        actor=me,
        record_id=their_newest.id or 0,
        reason=data.OBJECTION_REASON,
        now=_at(noticed, "20:00"),
    )

    # The club term: mine waits for review, theirs is reviewed.
    student_confirm(me, club[0], _at(entered, "20:00"), reflect=True)
    student_confirm(pal, club[1], _at(entered, "20:30"), reflect=False)
    review(club[1], _at(noticed, "17:00"))


def _families(
    session: Session,
    schools: dict[str, School],
    venues: dict[str, Venue],
    students: dict[tuple[str, str, str], list[Student]],
    settings: Settings,
    now: datetime,
) -> list[dict[str, Any]]:
    """Family mode (issue 15): the parent of ``data.FAMILY`` scanned once for both children at
    the weekend family day, both left at the same time, the venue confirmed the records and
    the parent confirmed them (one with a reflection, marked 家长代填); then the pupil of
    ``data.ATTESTED``, with no phone and no bound guardian, has a record attested by a teacher
    of a school that switched attestation on. Every step goes through the services a request
    would call, on the day it would have happened."""
    family = data.FAMILY
    user = WeChatUser(
        openid=f"dev-openid-{family['guardian']}",
        kind="guardian",
        created_at=now,
        last_login_at=now,
    )
    session.add(user)
    session.flush()
    guardian = Principal(subject=f"wechat:{user.id}", role=Role.guardian)
    activity = session.exec(select(Activity).where(Activity.title == family["activity"])).one()
    day = local_date(activity.starts_at)
    children = []
    for school_name, label, class_name, index in family["children"]:
        child = students[(school_name, label, class_name)][index]
        link = GuardianLink(
            guardian_id=user.id or 0,
            student_id=child.id or 0,
            relation=family["relation"],
            created_at=_at(day - timedelta(days=30), "20:00"),
        )
        session.add(link)
        session.flush()
        _consent(
            session,
            child,
            schools[school_name],
            Channel.mini_program,
            list(Purpose),
            _at(day - timedelta(days=30), "20:05"),
        )
        children.append(child)
    venue_admin = _venue_admin(session, venues[activity_organiser(session, activity)])
    code = checkin_issuing.create_code(
        session,
        settings=settings,
        actor=venue_admin,
        activity_id=activity.id or 0,
        data=CodeCreate(kind=CodeKind.static),
        now=activity.starts_at - timedelta(days=1),
    )
    payload = checkin_issuing.code_payload(settings, code, activity.starts_at)
    cache = ScanCache()
    records = []
    for direction, hhmm in ((Direction.entry, family["arrive"]), (Direction.exit, family["leave"])):
        at = _at(day, hhmm)
        for child in children:  # one family scan: each child's own scan, the parent's phone
            outcome = checkin_self_scan.self_scan(
                session,
                settings=settings,
                cache=cache,
                actor=guardian,
                student_id=child.id,
                data=CheckInCreate(code=payload, direction=direction),
                nonce=f"demo-family-{direction.value}:{child.id}",
                now=at,
                rate_key=checkin_self_scan.rate_key(guardian, child.id),
            )
            if direction is Direction.entry:
                records.append(outcome.check_in)
    organiser = _account_actor(session, family["organiser"])
    for visit, child in zip(records, children, strict=True):
        record = session.exec(
            select(ParticipationRecord).where(
                ParticipationRecord.student_id == child.id,
                ParticipationRecord.activity_id == visit.activity_id,
            )
        ).one()
        record_service.organiser_decide(
            session,
            actor=organiser,
            record_id=record.id or 0,
            confirm=True,
            reason=None,
            now=_at(day + timedelta(days=2), "10:00"),
        )
        record_service.student_confirm(
            session,
            actor=acting_for(guardian, child),
            record_id=record.id or 0,
            reflection=family["reflection"] if child is children[0] else None,
            now=_at(day + timedelta(days=2), "21:00"),
        )

    attested = data.ATTESTED
    school = schools[attested["school"]]
    org_service.update_school_settings(
        session,
        actor=_account_actor(session, attested["switched_on_by"]),
        school_id=school.id or 0,
        data=SchoolSettingsUpdate(teacher_attestation=True),
        now=now - timedelta(days=1),
    )
    pupil = students[(attested["school"], *attested["class"])][attested["index"]]
    confirmed = session.exec(
        select(ParticipationRecord).where(
            ParticipationRecord.student_id == pupil.id,
            ParticipationRecord.status == RecordStatus.confirmed,
        )
    ).first()
    assert confirmed is not None, "the attested pupil has a record the venue confirmed"
    record_attestation.attest(
        session,
        actor=_account_actor(session, attested["attester"]),
        record_id=confirmed.id or 0,
        reason=attested["reason"],
        now=now - timedelta(hours=20),
    )
    record_service.review(
        session,
        actor=_account_actor(session, attested["reviewer"]),
        record_id=confirmed.id or 0,
        approve=True,
        reason=None,
        now=now - timedelta(hours=2),
    )
    return [
        {
            "wechat_code": f"dev-{family['guardian']}",
            "role": "guardian",
            "guardian_id": user.id,
            "children": [
                {
                    "student": child.name,
                    "student_id": child.id,
                    "school": school_name,
                    "class": f"{label}{class_name}",
                }
                for child, (school_name, label, class_name, _index) in zip(
                    children, family["children"], strict=True
                )
            ],
            "note": "家长代两个孩子操作：请求中带 ?student_id=<孩子的学生 ID>（见 GET /api/v1/me）",
            "login": "POST /api/v1/auth/wechat (SCIPASS_WECHAT_MODE=fake)",
        },
        {
            "student": pupil.name,
            "student_id": pupil.id,
            "school": attested["school"],
            "class": "".join(attested["class"]),
            "role": "student (no phone, no bound guardian)",
            "note": "记录由学校代为确认（教师代为确认）；无法登录",
        },
    ]


def activity_organiser(session: Session, activity: Activity) -> str:
    """The name of the venue that organises ``activity``."""
    venue = session.get(Venue, activity.venue_id)
    assert venue is not None
    return venue.name


def _record_hints(session: Session, accounts: list[dict[str, Any]]) -> None:
    """Each WeChat login's (student's or child's) records by status."""
    for account in accounts:
        if account.get("student_id") is None:
            continue
        statuses = session.exec(
            select(ParticipationRecord.status).where(
                ParticipationRecord.student_id == account["student_id"]
            )
        ).all()
        account["records"] = dict(sorted(Counter(statuses).items()))
