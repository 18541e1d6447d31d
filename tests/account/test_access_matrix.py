"""Every route declares who may call it, and is checked against every role and a second tenant.

Built from ``app.routes``: a route that declares no access rule fails here. For each protected
route: an anonymous caller gets 401; every role outside the rule gets 403; a caller of an
allowed role but of the other tenant (school, venue, region) gets 403 or 404 wherever the URL
names an object.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI, routing
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.account.models import Account
from scipass.checkin.models import ActivityCode, CheckIn, PersonalCard
from scipass.competition.models import Advisor, Entry, EntryMember, RoundEntry, Whitelist
from scipass.competition.results_models import Result, ResultNotice, ResultObjection
from scipass.competition.talent_models import TalentTracking
from scipass.consent.service import NOTICE_VERSION
from scipass.core.auth import Role, declared_access
from scipass.core.config import Settings
from scipass.jobs.models import Job
from scipass.org.measures_models import SchoolScienceStaff
from scipass.policy.review_models import PolicyReview
from scipass.privacy.models import PrivacyIncident
from scipass.record.models import RecordEvidence, RecordNotice, RecordObjection
from scipass.reservation.models import Reservation, ReservationMember
from scipass.roster.acting import acts_for_a_child
from scipass.volunteer.models import VolunteerCertificate
from tests.competition.factories_results import accepted_entry, create_results_scene
from tests.factories import (
    NOW,
    WEEK,
    Side,
    auth,
    create_activity,
    create_competition,
    create_pairing,
    create_record,
    create_reservation,
    create_resource,
    create_slot,
    create_volunteer_role,
    create_volunteer_shift,
    create_volunteer_signup,
    list_venue,
)

# Bodies that pass validation, so that object-level checks (not 422) decide the answer.
BODIES: dict[str, dict[str, Any]] = {
    "code-create": {"kind": "static"},
    "code-revoke": {"reason": "作废"},
    "personal-card-revoke": {"reason": "卡片丢失"},
    "staff-scan": {"code": "P.DEV.AAAAAAAAAAAAAAAA", "nonce": "nonce-0001"},
    "group-checkin": {"student_ids": [1], "nonce": "nonce-0001"},
    "offline-scan-upload": {
        "items": [
            {
                "nonce": "nonce-0001",
                "code": "P.DEV.AAAAAAAAAAAAAAAA",
                "scan_time": "2026-10-14T02:00:00Z",
            }
        ]
    },
    "checkin-correct": {"minutes": 30, "reason": "更正时长"},
    "talent-tracking-start": {"reason": "市科技创新大赛一等奖"},
    "talent-tracking-end": {"reason": "已毕业"},
    "student-consent-paper": {
        "purposes": ["participation_record"],
        "decision": "grant",
        "notice_version": NOTICE_VERSION,
        "guardian_name": "张妈妈",
    },
    "venue-profile-draft-save": {
        "name": "另一个场馆",
        "kind": "science_museum",
        "region_code": "970101",
        "address": "测试路 2 号",
        "longitude": 112.9,
        "latitude": 27.8,
        "phone": "0731-5555001",
        "services": "展览",
        "facilities": "展厅",
        "weekly_hours": WEEK,
        "is_free": True,
        "stages": ["primary"],
        "reservation_required": False,
    },
    "venue-profile-review": {"decision": "approve"},
    "venue-hours-exception-set": {"periods": [], "note": "闭馆"},
    "venue-resource-create": {"name": "新实验室", "kind": "lab", "capacity": 20},
    "venue-resource-update": {"name": "新实验室", "kind": "lab", "capacity": 20},
    "slot-create": {
        "starts_at": "2026-10-21T10:00:00+08:00",
        "ends_at": "2026-10-21T11:00:00+08:00",
        "capacity": 10,
    },
    "slot-cancel": {"reason": "设备检修"},
    "group-reservation-create": {"student_ids": [1]},
    "activity-update": {
        "kind": "lecture",
        "title": "科学讲座",
        "starts_at": "2026-10-21T10:00:00+08:00",
        "ends_at": "2026-10-21T11:00:00+08:00",
    },
    "record-organiser-decide": {"decision": "confirm"},
    "record-review": {"decision": "approve"},
    "record-teacher-attest": {"reason": "学生和家长均无智能手机"},
    "school-settings-update": {"teacher_attestation": True},
    "school-flags-update": {"remote": True},
    "science-staff-create": {"role": "counsellor", "name": "李明", "started_on": "2026-09-01"},
    "science-staff-end": {"ended_on": "2026-12-31"},
    "school-calendar-set": {
        "autumn_start": "2026-09-01",
        "autumn_end": "2027-01-22",
        "spring_start": "2027-02-22",
        "spring_end": "2027-07-02",
    },
    "record-void": {"reason": "更正时长"},
    "record-object": {"reason": "他当天没有去"},
    "objection-resolve": {"decision": "dismiss", "resolution": "经核实属实"},
    "notice-setting-set": {"working_days": 7},
    "whitelist-create": {
        "name": "测试市竞赛名单",
        "source": "测试市教育局文件",
        "first_school_year": 2026,
        "last_school_year": 2027,
    },
    "whitelist-entry-create": {
        "name": "测试市科技节",
        "organiser": "测试市科协",
        "stages": ["primary"],
    },
    "competition-create": {
        "name": "测试竞赛",
        "organiser_unit": "测试市科协",
        "category": "robotics",
        "level": "city",
        "not_whitelisted": True,
    },
    "competition-whitelist-set": {"not_whitelisted": True},
    "competition-edition-create": {"school_year": 2027, "title": "第二届"},
    "competition-round-create": {
        "position": 2,
        "name": "市级",
        "level": "city",
        "region_code": "970100",
        "organiser": {"kind": "bureau", "id": 1},
        "registration_opens_at": "2026-10-01T00:00:00Z",
        "registration_closes_at": "2026-10-30T00:00:00Z",
    },
    "competition-division-create": {
        "name": "初中组",
        "stages": ["junior"],
        "kind": "team",
        "min_members": 2,
        "max_members": 3,
    },
    "competition-entry-create": {"division_id": 1},
    "competition-invitation-accept": {"code": "ZZZZZZZZ"},
    "competition-member-add": {"student_id": 1},
    "competition-advisor-add": {"account_id": 1},
    "competition-entry-decline": {"reason": "未完成"},
    "competition-entry-reject": {"reason": "不符合要求"},
    "competition-result-set": {"award": "first", "advances": False},
    "competition-result-object": {"reason": "评分有误"},
    "competition-result-objection-resolve": {"decision": "dismiss", "resolution": "经复核无误"},
    "me-child-consent-decide": {
        "purposes": ["participation_record"],
        "decision": "grant",
        "notice_version": NOTICE_VERSION,
    },
    "volunteer-role-create": {"preset": "little_volunteer"},
    "volunteer-role-update": {"name": "新岗位名"},
    "volunteer-shift-create": {
        "starts_at": "2026-10-24T09:00:00+08:00",
        "ends_at": "2026-10-24T12:00:00+08:00",
        "capacity": 10,
    },
    "volunteer-shift-series-create": {
        "from_date": "2026-10-24",
        "to_date": "2026-11-28",
        "weekdays": [6],
        "start_time": "09:00",
        "end_time": "12:00",
        "capacity": 10,
    },
    "volunteer-shift-cancel": {"reason": "场馆临时闭馆"},
    "volunteer-group-signup-create": {"student_ids": [1]},
    "volunteer-shift-code-create": {"kind": "static"},
    "volunteer-attendance-scan": {"code": "S.AAAAAAAA.K1.AAAAAAAAAAAAAAAA"},
    "volunteer-shift-staff-scan": {"code": "P.K1.AAAAAAAAAAAA", "nonce": "nonce-0001"},
    "volunteer-shift-offline-scans": {
        "items": [
            {
                "nonce": "nonce-0001",
                "code": "P.K1.AAAAAAAAAAAA",
                "scan_time": "2026-10-17T09:00:00+08:00",
            }
        ]
    },
    "volunteer-shift-minutes-confirm": {},
    "policy-override-create": {
        "region_code": "970100",
        "rule_id": "venue_visit_yearly",
        "expected_version": 0,
        "enabled": False,
        "reason": "测试停用",
    },
    "privacy-incident-create": {
        "occurred_at": "2026-10-01T09:00:00+08:00",
        "discovered_at": "2026-10-02T09:00:00+08:00",
        "title": "测试事件",
        "description": "说明",
        "categories": ["location"],
        "affected_children": 1,
        "affected_minors": 1,
    },
    "privacy-incident-update": {"measures": "已处理"},
    "volunteer-certificate-create": {
        "student_id": 1,
        "from_date": "2026-10-01",
        "to_date": "2026-10-31",
        "person_in_charge": "李馆长",
        "handler": "赵老师",
        "contact": "0731-88880000",
    },
}


def _routes(app: FastAPI) -> list[Any]:
    """Every API route as served (path with prefixes, dependencies of its routers included);
    the console's, which answer a browser, have their matrix in tests/console/test_access.py."""
    contexts = routing.iter_route_contexts(app.routes)
    routes = [
        c
        for c in contexts
        if isinstance(c.original_route, APIRoute) and not c.path.startswith("/console")
    ]
    assert len(routes) > 20
    return routes


# Routes whose URL names a public object that callers of every tenant may act on: any
# student may reserve any venue's slot, any school may book a group into it.
# A venue's reservations and volunteer shifts take every school's pupils; a directory edition
# is public. The competition catalogue and the whitelists are public to everyone signed in:
# pupils choose from them, schools and bureaus of any region read them.
OPEN_TO_EVERY_TENANT = {
    "reservation-create",
    "group-reservation-create",
    "directory-edition-export-job",
    "whitelist-entries",
    "whitelist-export",
    "competition-get",
    "volunteer-signup-create",
    "volunteer-group-signup-create",
}


@pytest.fixture
def path_values(session: Session, side_a: Side) -> dict[str, object]:
    """An object of side A for every path parameter, so refusals are about ownership."""
    venue = list_venue(session, side_a.venue)
    slot = create_slot(session, venue_id=venue.id or 0)
    return {
        "student_id": side_a.student.id,
        "school_id": side_a.school.id,
        "link_id": side_a.guardian_link.id,
        "region_code": side_a.region_code,
        "venue_id": venue.id,
        "resource_id": create_resource(session, venue_id=venue.id or 0).id,
        "on_date": "2026-10-21",
        "activity_id": create_activity(session, venue_id=venue.id or 0).id,
        "slot_id": slot.id,
        "reservation_id": create_reservation(session, slot=slot, student=side_a.student).id,
        "pairing_id": create_pairing(
            session, school_id=side_a.school.id or 0, venue_id=venue.id or 0
        ).id,
        **_record_values(session, side_a),
        **_checkin_values(session, side_a, venue.id or 0),
        **_competition_values(session, side_a),
        **_volunteer_values(session, side_a, venue.id or 0),
        "job_id": _job(session, side_a),
        "staff_id": _science_staff(session, side_a),
        "review_id": _review(session, side_a),
        "incident_id": _incident(session, side_a),
        "school_year": 2026,
        **_result_values(session, side_a),
    }


def _review(session: Session, side_a: Side) -> int:
    """A compliance review of side A's region (its bureau's)."""
    review = PolicyReview(
        region_code=side_a.region_code,
        bureau_id=side_a.bureau.id,
        name="中期评估",
        kind="mid_term",
        school_year=2026,
        semester="autumn",
        created_by="account:900003",
        created_at=NOW,
    )
    session.add(review)
    session.flush()
    return review.id or 0


def _incident(session: Session, side_a: Side) -> int:
    """An incident of side A's school (so of its region) in the platform's incident log."""
    incident = PrivacyIncident(
        occurred_at=NOW,
        discovered_at=NOW,
        recorded_at=NOW,
        recorded_by="account:900004",
        title="测试事件",
        description="说明",
        categories=["location"],
        affected_children=1,
        affected_minors=1,
        school_id=side_a.school.id,
        region_code=side_a.school.region_code,
        updated_at=NOW,
    )
    session.add(incident)
    session.flush()
    return incident.id or 0


def _result_values(session: Session, side_a: Side) -> dict[str, object]:
    """A round of side A's bureau with an accepted entry whose result is on notice, and an
    objection to it by side A's school."""
    scene = create_results_scene(session, side_a)
    entry = accepted_entry(session, scene, school=side_a.school)
    notice = ResultNotice(
        round_id=scene.rounds[0].id or 0,
        working_days=5,
        starts_at=NOW,
        ends_at=NOW + timedelta(days=7),
        result_count=1,
        opened_by="account:900003",
    )
    session.add(notice)
    session.flush()
    place = session.exec(select(RoundEntry).where(RoundEntry.entry_id == entry.id)).one()
    result = Result(
        round_entry_id=place.id or 0,
        round_id=place.round_id,
        entry_id=entry.id or 0,
        school_id=side_a.school.id or 0,
        award="first",
        advances=False,
        status="noticed",
        notice_id=notice.id,
        entered_by="account:900003",
        entered_at=NOW,
        updated_at=NOW,
    )
    session.add(result)
    session.flush()
    objection = ResultObjection(
        result_id=result.id or 0,
        notice_id=notice.id or 0,
        school_id=side_a.school.id or 0,
        raised_by="account:654321",
        raised_role="school_staff",
        reason="有误",
        raised_at=NOW,
        status="open",
    )
    session.add(objection)
    session.flush()
    return {
        "round_id": scene.rounds[0].id,
        "entry_id": entry.id,
        "result_id": result.id,
        "result_objection_id": objection.id,
    }


def _competition_values(session: Session, side_a: Side) -> dict[str, object]:
    """Side A's bureau's regional whitelist and competition, and an entry of side A's pupil
    (its captain) that the school recommended to the bureau's round, with an advisor."""
    scene = create_competition(session, bureau=side_a.bureau, region_code=side_a.region_code)
    whitelist = Whitelist(
        name="测试地区名单",
        source="测试",
        first_school_year=2026,
        last_school_year=2027,
        region_code=side_a.region_code,
        bureau_id=side_a.bureau.id,
        created_at=NOW,
    )
    entry = Entry(
        edition_id=scene.edition.id or 0,
        division_id=scene.division.id or 0,
        round_id=scene.round.id or 0,
        school_id=side_a.school.id or 0,
        status="submitted",
        registered_by_kind="student",
        created_by="test",
        created_at=NOW,
        updated_at=NOW,
    )
    teacher = Account(
        username="advisor-matrix",
        display_name="老师",
        role="school_staff",
        school_id=side_a.school.id,
        password_hash="x",
        created_at=NOW,
        password_changed_at=NOW,
    )
    session.add_all([whitelist, entry, teacher])
    session.flush()
    member = EntryMember(
        entry_id=entry.id or 0,
        division_id=scene.division.id or 0,
        student_id=side_a.student.id or 0,
        role="captain",
        status="active",
        joined_by="test",
        joined_at=NOW,
    )
    advisor = Advisor(
        entry_id=entry.id or 0, account_id=teacher.id or 0, added_by="test", added_at=NOW
    )
    place = RoundEntry(
        entry_id=entry.id or 0,
        round_id=scene.round.id or 0,
        school_id=side_a.school.id or 0,
        status="recommended",
        via="registration",
        created_at=NOW,
        updated_at=NOW,
    )
    session.add_all([member, advisor, place])
    session.flush()
    return {
        "whitelist_id": whitelist.id,
        "competition_id": scene.competition.id,
        # also the {edition_id} of a directory edition's export job, whose refusals (401,
        # 403) come before the edition is looked up, and which is open to every tenant
        "edition_id": scene.edition.id,
        "round_id": scene.round.id,
        "entry_id": entry.id,
        "member_id": member.id,
        "advisor_id": advisor.id,
        "tracking_id": _tracking(session, side_a),
    }


def _volunteer_values(session: Session, side_a: Side, venue_id: int) -> dict[str, object]:
    """A role of side A's venue, a shift of it, and side A's pupil signed up for it."""
    role = create_volunteer_role(session, venue_id=venue_id)
    shift = create_volunteer_shift(session, role=role)
    signup = create_volunteer_signup(session, shift=shift, student=side_a.student)
    certificate = VolunteerCertificate(
        number="ZYFW-2026-TESTTESTTESTTEST",
        student_id=side_a.student.id or 0,
        school_id=side_a.school.id or 0,
        venue_id=venue_id,
        from_date=date(2026, 10, 1),
        to_date=date(2026, 10, 31),
        minutes=60,
        times=1,
        person_in_charge="李馆长",
        handler="赵老师",
        contact="0731-88880000",
        issued_by="account:900002",
        issued_at=NOW,
    )
    session.add(certificate)
    session.flush()
    return {
        "role_id": role.id,
        "shift_id": shift.id,
        "signup_id": signup.id,
        "certificate_id": certificate.id,
    }


def _science_staff(session: Session, side_a: Side) -> int:
    """Side A's school's science counsellor."""
    staff = SchoolScienceStaff(
        school_id=side_a.school.id or 0,
        role="counsellor",
        name="李明",
        started_on=date(2026, 9, 1),
        created_by="account:900001",
        created_at=NOW,
    )
    session.add(staff)
    session.flush()
    return staff.id or 0


def _tracking(session: Session, side_a: Side) -> int:
    """Side A's pupil, tracked as a talent by side A's school."""
    tracking = TalentTracking(
        student_id=side_a.student.id or 0,
        school_id=side_a.school.id or 0,
        reason="获奖",
        started_by="account:900001",
        started_by_role="school_staff",
        started_at=NOW,
    )
    session.add(tracking)
    session.flush()
    return tracking.id or 0


def _job(session: Session, side_a: Side) -> int:
    """A finished export of a teacher of side A (a subject no test principal has, so that
    only the organisation decides)."""
    job = Job(
        kind="record-export",
        params="{}",
        owner_subject="account:654321",
        owner_role="school_staff",
        owner_org=f"school:{side_a.school.id}",
        status="done",
        max_attempts=2,
        created_at=NOW,
        result_key="job-0-test.csv",
        expires_at=NOW + timedelta(days=1),
    )
    session.add(job)
    session.flush()
    return job.id or 0


def _checkin_values(session: Session, side_a: Side, venue_id: int) -> dict[str, object]:
    """A code of side A's venue, a visit and a printed card of side A's student."""
    activity = create_activity(session, venue_id=venue_id)
    code = ActivityCode(
        activity_id=activity.id or 0,
        kind="static",
        short_id="AAAAAAAA",
        created_by="test",
        created_at=NOW,
    )
    session.add(code)
    session.flush()
    visit = CheckIn(
        activity_id=activity.id or 0,
        student_id=side_a.student.id or 0,
        school_id=side_a.school.id or 0,
        day=NOW.date(),
        source="self_scan",
        entered_at=NOW,
        operator="test",
        created_at=NOW,
        updated_at=NOW,
    )
    card = PersonalCard(
        student_id=side_a.student.id or 0,
        school_id=side_a.school.id or 0,
        nonce="00112233aabb",
        expires_at=NOW + timedelta(days=30),
        issued_by="test",
        issued_at=NOW,
    )
    session.add_all([visit, card])
    session.flush()
    return {"code_id": code.id, "check_in_id": visit.id, "card_id": card.id}


def _record_values(session: Session, side_a: Side) -> dict[str, object]:
    """A record of side A in an open notice, with a file and an objection."""
    notice = RecordNotice(
        school_id=side_a.school.id or 0,
        title="公示",
        working_days=5,
        starts_at=NOW,
        ends_at=NOW + timedelta(days=7),
        record_count=1,
        opened_by="account:900001",
    )
    session.add(notice)
    session.flush()
    record = create_record(
        session, student=side_a.student, status="publicised", notice_id=notice.id
    )
    evidence = RecordEvidence(
        record_id=record.id or 0,
        sha256="0" * 64,
        media_type="image/png",
        size=1,
        filename="a.png",
        uploaded_by="test",
        uploaded_at=NOW,
    )
    objection = RecordObjection(
        record_id=record.id or 0,
        notice_id=notice.id or 0,
        raised_by="wechat:1",
        raised_role="student",
        reason="有误",
        raised_at=NOW,
        status="open",
        resolution="",
    )
    session.add_all([evidence, objection])
    session.flush()
    return {
        "record_id": record.id,
        "evidence_id": evidence.id,
        "notice_id": notice.id,
        "objection_id": objection.id,
    }


def _fill(path: str, values: dict[str, object]) -> str:

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"no test value for path parameter {name!r} in {path}"
        return str(values[name])

    return re.sub(r"{(\w+)}", replace, path)


def _call(
    client: TestClient,
    method: str,
    url: str,
    route: Any,
    headers: dict[str, str],
    params: dict[str, Any] | None = None,
):
    kwargs: dict[str, Any] = {"headers": headers, "params": params or {}}
    if route.body_field is not None and method in {"POST", "PUT", "PATCH"}:
        if route.name in BODIES:
            kwargs["json"] = BODIES[route.name]
        elif "multipart" in getattr(route.body_field.field_info, "media_type", ""):
            kwargs["files"] = {"file": ("a.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png")}
        else:
            kwargs["json"] = {}
    return client.request(method, url, **kwargs)


def test_every_route_declares_access(app: FastAPI) -> None:
    undeclared = [
        f"{sorted(r.methods)} {r.path}"
        for r in _routes(app)
        if declared_access(r.dependant) is None
    ]
    assert undeclared == [], "routes without an access rule (require(...) or public_access)"


def test_anonymous_and_wrong_roles_are_refused(
    app: FastAPI,
    client: TestClient,
    settings: Settings,
    side_a: Side,
    path_values: dict[str, object],
) -> None:
    checked = 0
    for route in _routes(app):
        access = declared_access(route.dependant)
        if access == "public":
            continue
        url = _fill(route.path, path_values)
        for method in route.methods:
            response = _call(client, method, url, route, {})
            assert response.status_code == 401, f"anonymous {method} {route.path}"
            assert response.headers["www-authenticate"].startswith("Bearer")
            for role in Role:
                if role in access:
                    continue
                headers = auth(settings, side_a.principal(role))
                response = _call(client, method, url, route, headers)
                assert response.status_code == 403, f"{role} {method} {route.path}"
                assert response.json()["code"] == "role_forbidden"
                checked += 1
    assert checked > 100


def test_other_tenant_is_refused_objects_named_in_the_url(
    app: FastAPI,
    client: TestClient,
    settings: Settings,
    side_b: Side,
    path_values: dict[str, object],
) -> None:
    checked = 0
    for route in _routes(app):
        access = declared_access(route.dependant)
        if access == "public" or "{" not in route.path or route.name in OPEN_TO_EVERY_TENANT:
            continue
        url = _fill(route.path, path_values)
        for method in route.methods:
            for role in access:
                if role is Role.platform_admin:
                    continue
                # a guardian names the child acted for: their own, of the other tenant
                params = (
                    {"student_id": side_b.student.id}
                    if role is Role.guardian and acts_for_a_child(route.dependant)
                    else None
                )
                response = _call(
                    client, method, url, route, auth(settings, side_b.principal(role)), params
                )
                assert response.status_code in (403, 404), (
                    f"{role} of the other tenant: {method} {route.path} -> {response.status_code}"
                )
                checked += 1
    assert checked >= 10


def test_other_tenant_is_refused_a_shift_code(
    app: FastAPI,
    client: TestClient,
    session: Session,
    settings: Settings,
    side_b: Side,
    path_values: dict[str, object],
) -> None:
    """``/codes/{code_id}/...`` serve a volunteer shift's codes too: a code of side A's shift
    is refused to side B on every one of them (the matrix above tries an activity's code)."""
    code = ActivityCode(
        shift_id=int(str(path_values["shift_id"])),
        kind="static",
        short_id="BBBBBBBB",
        created_by="test",
        created_at=NOW,
    )
    session.add(code)
    session.flush()
    values = {**path_values, "code_id": code.id}
    checked = 0
    for route in _routes(app):
        if "{code_id}" not in route.path:
            continue
        access = declared_access(route.dependant)
        for method in route.methods:
            for role in access:
                if role is Role.platform_admin:
                    continue
                headers = auth(settings, side_b.principal(role))
                response = _call(client, method, _fill(route.path, values), route, headers)
                assert response.status_code in (403, 404), f"{role}: {method} {route.path}"
                checked += 1
    assert checked >= 5 * 4  # revoke, qr.png, qr.svg, poster.pdf, wxacode.png


def test_kiosk_routes_are_public_and_guarded_by_their_token(
    app: FastAPI, client: TestClient, path_values: dict[str, object]
) -> None:
    """The screens by the door (an activity's, a volunteer shift's) are open to a browser
    without an account, and show nothing without a valid kiosk token."""
    kiosk = [r for r in _routes(app) if r.path.startswith("/kiosk/")]
    assert {r.name for r in kiosk} >= {
        "kiosk-page",
        "kiosk-state",
        "kiosk-shift-page",
        "kiosk-shift-state",
    }
    for route in kiosk:
        assert declared_access(route.dependant) == "public", route.path
        url = _fill(route.path, path_values)
        for token in ("", "K.1.1.DEV.AAAAAAAAAAAAAAAA"):
            response = client.get(url, params={"token": token})
            assert response.status_code == 401, f"{route.path} token={token!r}"


@pytest.mark.parametrize("role", [Role.school_staff, Role.school_admin])
def test_school_lists_hold_only_own_students(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, role: Role
) -> None:
    body = client.get("/api/v1/students", headers=auth(settings, side_b.principal(role))).json()
    ids = {s["id"] for s in body["items"]}
    assert side_b.student.id in ids
    assert side_a.student.id not in ids


def test_bureau_sees_only_its_region_in_the_audit_log(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side
) -> None:
    # an event in school A's region
    client.post(
        f"/api/v1/students/{side_a.student.id}/unbind",
        headers=auth(settings, side_a.principal(Role.school_admin)),
    ).raise_for_status()
    own = client.get("/api/v1/audit-logs", headers=auth(settings, side_a.principal(Role.bureau)))
    other = client.get("/api/v1/audit-logs", headers=auth(settings, side_b.principal(Role.bureau)))
    school_b = client.get(
        "/api/v1/audit-logs", headers=auth(settings, side_b.principal(Role.school_admin))
    )
    assert [e["action"] for e in own.json()["items"]] == ["student_unbound"]
    assert other.json()["total"] == 0
    assert school_b.json()["total"] == 0


def test_the_audit_report_and_incident_log_admit_only_the_platform_and_bureaus(
    app: FastAPI,
) -> None:
    """Issue 20 point 5: the report and the incident log's reads are the platform admin's and a
    bureau's (its region: tests/privacy); recording and changing incidents the platform's."""
    rules = {r.name: declared_access(r.dependant) for r in _routes(app)}
    readers = {Role.bureau, Role.platform_admin}
    for name in (
        "privacy-audit-report",
        "privacy-audit-report-xlsx",
        "privacy-audit-report-pdf",
        "privacy-incident-list",
        "privacy-incident-get",
    ):
        assert rules[name] == readers, name
    for name in ("privacy-incident-create", "privacy-incident-update"):
        assert rules[name] == {Role.platform_admin}, name


def test_a_route_without_a_rule_is_caught(app: FastAPI) -> None:
    @app.get("/api/v1/leak", name="leak")
    def leak() -> dict[str, str]:
        return {"secret": "students"}

    undeclared = [r.path for r in _routes(app) if declared_access(r.dependant) is None]
    assert undeclared == ["/api/v1/leak"]


def test_account_and_binding_code_lists_stay_in_the_school(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    for side, name in ((side_a, "a"), (side_b, "b")):
        session.add(
            Account(
                username=f"teacher-{name}",
                display_name="老师",
                role="school_staff",
                school_id=side.school.id,
                password_hash="x",
                created_at=side_a.school.created_at,
                password_changed_at=side_a.school.created_at,
            )
        )
    session.flush()
    headers = auth(settings, side_b.principal(Role.school_admin))
    accounts = client.get("/api/v1/accounts", headers=headers).json()["items"]
    assert {a["username"] for a in accounts} == {"teacher-b"}
    codes = client.get("/api/v1/roster/binding-codes", headers=headers)
    assert codes.status_code == 200
    rows = codes.content.decode("utf-8-sig").strip().splitlines()[1:]
    assert {row.split(",")[0] for row in rows} == {side_b.student.student_no}


def test_processing_rules_are_public(app: FastAPI, client: TestClient) -> None:
    """《儿童个人信息网络保护规定》 art. 8: the rules are published, read before any login."""
    rules = {r.name: r for r in _routes(app) if r.name.startswith("processing-rules")}
    assert set(rules) == {"processing-rules-get", "processing-rules-page"}
    for route in rules.values():
        assert declared_access(route.dependant) == "public", route.path
        assert client.get(route.path).status_code == 200


@pytest.mark.parametrize("role", [Role.school_staff, Role.school_admin])
def test_a_group_reservations_pupils_stay_in_its_school(
    client: TestClient, session: Session, settings: Settings, side_a: Side, side_b: Side, role: Role
) -> None:
    """``group-reservation-members``: the school's own group gives its pupils' names and class
    and nothing more; another school's group and a pupil's own reservation are not found."""
    venue = list_venue(session, side_a.venue)
    slot = create_slot(session, venue_id=venue.id or 0)
    group = Reservation(
        slot_id=slot.id or 0,
        kind="group",
        school_id=side_a.school.id or 0,
        group_label="四年级1班",
        students=1,
        party_size=2,
        escorts=1,
        status="confirmed",
        made_by="account:900001",
        created_at=NOW,
    )
    session.add(group)
    session.flush()
    session.add(
        ReservationMember(
            reservation_id=group.id or 0, slot_id=slot.id or 0, student_id=side_a.student.id or 0
        )
    )
    own = create_reservation(session, slot=slot, student=side_b.student)
    session.flush()
    url = "/api/v1/reservations/{}/members"

    mine = client.get(url.format(group.id), headers=auth(settings, side_a.principal(role)))
    assert mine.status_code == 200, mine.text
    assert [set(p) for p in mine.json()["items"]] == [
        {"student_id", "name", "grade", "grade_label", "class_name"}
    ]
    assert mine.json()["items"][0]["student_id"] == side_a.student.id
    other = client.get(url.format(group.id), headers=auth(settings, side_b.principal(role)))
    assert (other.status_code, other.json()["code"]) == (404, "reservation_not_found")
    single = client.get(url.format(own.id), headers=auth(settings, side_b.principal(role)))
    assert single.status_code == 404
