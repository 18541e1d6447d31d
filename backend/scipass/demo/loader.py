"""Loads the demo world into an empty database (see :mod:`scipass.demo.data`)."""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from scipass.account import service as account_service
from scipass.account.models import WeChatUser
from scipass.consent import service as consent_service
from scipass.consent.models import Channel, Decision, Purpose
from scipass.core.auth import Principal, Role
from scipass.core.clock import SystemClock, local_date
from scipass.demo import data
from scipass.org.models import Bureau, Region, School, Venue, encode_stages
from scipass.roster import importer
from scipass.roster import service as roster_service
from scipass.roster.models import GuardianLink, Student


def load(session: Session, *, now: datetime | None = None) -> dict[str, Any] | None:
    """Insert the demo data; ``None`` when the database already holds regions.

    Returns counts and, under ``accounts``, how to log in as every demo user."""
    if session.exec(select(Region.code).limit(1)).first() is not None:
        return None
    now = now or SystemClock().now()
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
    return {
        "regions": len(data.REGIONS),
        "schools": len(data.SCHOOLS),
        "venues": len(data.VENUES),
        "bureaus": len(data.BUREAUS),
        "staff": len(data.STAFF),
        "students": sum(len(v) for v in students.values()),
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


def _consent(
    session: Session,
    student: Student,
    school: School,
    channel: Channel,
    purposes: list[Purpose],
    now: datetime,
    decision: Decision = Decision.grant,
) -> None:
    link = session.exec(select(GuardianLink).where(GuardianLink.student_id == student.id)).first()
    actor = Principal(subject="demo", role=Role.school_admin, school_id=school.id)
    consent_service.record_decision(
        session,
        actor=actor,
        student=student,
        region_code=school.region_code,
        purposes=purposes,
        decision=decision,
        notice_version=consent_service.NOTICE_VERSION,
        channel=channel,
        guardian_link_id=link.id if link else None,
        guardian_name=None if link else "学生家长",
        now=now,
    )


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
