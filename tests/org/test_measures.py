"""What the policy rules measure (issue 19): the schools' flags, their science staff, and the
bureaus' counsellor trainings. Each write by the role that may, refused to another school or
region, audited, and bad input changes nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Role
from scipass.core.config import Settings
from scipass.org.measures_models import (
    CounsellorTraining,
    CounsellorTrainingAttendee,
    SchoolScienceStaff,
)
from scipass.org.models import School
from tests.factories import Side, auth, create_school


def audit_actions(session: Session, action: str) -> list[AuditLog]:
    return list(
        session.exec(
            select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
        ).all()
    )


def count(session: Session, model: Any) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# --- school flags -----------------------------------------------------------------------------


def test_bureau_sets_the_flags_of_its_schools_and_each_change_is_audited(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    bureau = auth(settings, side_a.principal(Role.bureau))
    url = f"/api/v1/schools/{side_a.school.id}"
    changed = client.patch(url, json={"remote": True, "main_urban_district": True}, headers=bureau)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["remote"], changed.json()["main_urban_district"]) == (True, True)
    listed = client.get("/api/v1/schools", params={"region_code": side_a.region_code}).json()
    assert [(s["remote"], s["main_urban_district"]) for s in listed["items"]] == [(True, True)]
    [entry] = audit_actions(session, "school_flags_changed")
    assert (entry.school_id, entry.region_code) == (side_a.school.id, side_a.school.region_code)
    assert '"remote": {"from": false, "to": true}' in entry.detail
    # the same values again: nothing to change, nothing audited
    assert client.patch(url, json={"remote": True}, headers=bureau).status_code == 200
    assert len(audit_actions(session, "school_flags_changed")) == 1

    # another region's bureau, and a school's own admin, cannot
    other = client.patch(
        url, json={"remote": False}, headers=auth(settings, side_b.principal(Role.bureau))
    )
    assert (other.status_code, other.json()["code"]) == (403, "outside_region")
    admin = client.patch(
        url, json={"remote": False}, headers=auth(settings, side_a.principal(Role.school_admin))
    )
    assert admin.status_code == 403
    session.expire_all()
    assert session.get(School, side_a.school.id).remote is True


def test_a_main_urban_district_school_is_urban(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    bureau = auth(settings, side_a.principal(Role.bureau))
    rural = create_school(session, region_code="970101", area="rural")
    refused = client.patch(
        f"/api/v1/schools/{rural.id}", json={"main_urban_district": True}, headers=bureau
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "school_flags_invalid")
    url = f"/api/v1/schools/{side_a.school.id}"
    client.patch(url, json={"main_urban_district": True}, headers=bureau).raise_for_status()
    # turning it rural while it is in the main urban district: refused, nothing changes
    refused = client.patch(url, json={"area": "rural", "remote": True}, headers=bureau)
    assert refused.json()["code"] == "school_flags_invalid"
    session.expire_all()
    school = session.get(School, side_a.school.id)
    assert (school.area, school.remote) == ("urban", False)
    both = client.patch(url, json={"area": "rural", "main_urban_district": False}, headers=bureau)
    assert both.json()["area"] == "rural"
    created = client.post(
        "/api/v1/schools",
        json={
            "name": "主城区农村学校",
            "region_code": "970101",
            "stages": ["primary"],
            "area": "rural",
            "main_urban_district": True,
        },
        headers=bureau,
    )
    assert created.json()["code"] == "school_flags_invalid"
    assert session.exec(select(School).where(School.name == "主城区农村学校")).first() is None


# --- science staff ----------------------------------------------------------------------------

VICE_PRINCIPAL = {
    "role": "vice_principal",
    "name": "王教授",
    "title": "湘潭大学物理学院教授",
    "started_on": "2024-03-01",
}


def test_school_admin_records_science_staff_and_ends_a_role(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    admin = auth(settings, side_a.principal(Role.school_admin))
    url = f"/api/v1/schools/{side_a.school.id}/science-staff"
    vice = client.post(url, json=VICE_PRINCIPAL, headers=admin)
    assert vice.status_code == 201, vice.text
    assert vice.json()["ended_on"] is None
    counsellor = client.post(
        url,
        json={"role": "counsellor", "name": "李老师", "started_on": "2023-09-01"},
        headers=admin,
    ).json()
    ended = client.patch(
        f"/api/v1/science-staff/{counsellor['id']}", json={"ended_on": "2024-06-30"}, headers=admin
    )
    assert ended.json()["ended_on"] == "2024-06-30"

    staff = auth(settings, side_a.principal(Role.school_staff))
    everyone = client.get(url, headers=staff).json()
    assert [s["role"] for s in everyone["items"]] == ["vice_principal", "counsellor"]
    on_day = client.get(url, params={"on_date": "2024-07-01"}, headers=staff).json()
    assert [s["name"] for s in on_day["items"]] == ["王教授"]
    before = client.get(url, params={"on_date": "2024-02-29"}, headers=staff).json()
    assert [s["name"] for s in before["items"]] == ["李老师"]
    # the bureau of the school's region (a city above its county) reads them too
    bureau = client.get(url, headers=auth(settings, side_a.principal(Role.bureau))).json()
    assert bureau["total"] == 2

    entries = audit_actions(session, "science_staff_changed")
    assert ['"change": "added"' in e.detail for e in entries] == [True, True, False]
    assert all(e.school_id == side_a.school.id for e in entries)


def test_science_staff_of_another_school_is_not_found(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    admin_a = auth(settings, side_a.principal(Role.school_admin))
    created = client.post(
        f"/api/v1/schools/{side_a.school.id}/science-staff", json=VICE_PRINCIPAL, headers=admin_a
    ).json()
    admin_b = auth(settings, side_b.principal(Role.school_admin))
    url_a = f"/api/v1/schools/{side_a.school.id}/science-staff"
    for response in (
        client.post(url_a, json=VICE_PRINCIPAL, headers=admin_b),
        client.get(url_a, headers=admin_b),
        client.get(url_a, headers=auth(settings, side_b.principal(Role.bureau))),
        client.patch(
            f"/api/v1/science-staff/{created['id']}",
            json={"ended_on": "2026-01-01"},
            headers=admin_b,
        ),
    ):
        assert response.status_code == 404, response.text
    # a teacher of the school reads but does not write
    teacher = auth(settings, side_a.principal(Role.school_staff))
    assert client.post(url_a, json=VICE_PRINCIPAL, headers=teacher).status_code == 403
    session.expire_all()
    assert count(session, SchoolScienceStaff) == 1
    assert session.exec(select(SchoolScienceStaff)).one().ended_on is None


def test_bad_science_staff_changes_nothing(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    admin = auth(settings, side_a.principal(Role.school_admin))
    url = f"/api/v1/schools/{side_a.school.id}/science-staff"
    first = client.post(url, json=VICE_PRINCIPAL, headers=admin).json()
    again = client.post(url, json=VICE_PRINCIPAL, headers=admin)
    assert (again.status_code, again.json()["code"]) == (409, "science_staff_exists")
    backwards = client.post(
        url,
        json={**VICE_PRINCIPAL, "started_on": "2024-03-02", "ended_on": "2024-03-01"},
        headers=admin,
    )
    assert backwards.json()["code"] == "science_staff_invalid"
    for body in (
        {**VICE_PRINCIPAL, "role": "principal"},
        {**VICE_PRINCIPAL, "name": ""},
        {**VICE_PRINCIPAL, "name": "名" * 41},
        {**VICE_PRINCIPAL, "title": "职" * 61},
    ):
        assert client.post(url, json=body, headers=admin).json()["code"] == "validation_failed"
    too_early = client.patch(
        f"/api/v1/science-staff/{first['id']}", json={"ended_on": "2024-02-29"}, headers=admin
    )
    assert too_early.json()["code"] == "science_staff_invalid"
    session.expire_all()
    assert count(session, SchoolScienceStaff) == 1
    assert session.exec(select(SchoolScienceStaff)).one().ended_on is None
    assert len(audit_actions(session, "science_staff_changed")) == 1


# --- counsellor trainings ---------------------------------------------------------------------


def training(side: Side, **overrides: Any) -> dict[str, Any]:
    return {
        "title": "2026年科技辅导员培训班",
        "held_on": "2026-10-17",
        "hours": 16,
        "attendees": [
            {"name": "李老师", "school_id": side.school.id},
            {"name": "赵老师", "school_id": side.school.id},
            {"name": "科技馆辅导员"},
        ],
        **overrides,
    }


def test_bureau_records_a_training_and_reads_its_person_times(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    bureau = auth(settings, side_a.principal(Role.bureau))
    created = client.post("/api/v1/counsellor-trainings", json=training(side_a), headers=bureau)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["person_times"], body["school_year"], body["region_code"]) == (3, 2026, "970100")
    assert [a["school_id"] for a in body["attendees"]] == [side_a.school.id] * 2 + [None]
    spring = training(
        side_a, title="春季培训", held_on="2027-03-06", attendees=[{"name": "钱老师"}]
    )
    client.post("/api/v1/counsellor-trainings", json=spring, headers=bureau).raise_for_status()
    earlier = training(side_a, title="上学年培训", held_on="2026-08-31")
    client.post("/api/v1/counsellor-trainings", json=earlier, headers=bureau).raise_for_status()

    year = client.get(
        "/api/v1/counsellor-trainings", params={"school_year": 2026}, headers=bureau
    ).json()
    assert [(t["title"], t["person_times"]) for t in year["items"]] == [
        ("春季培训", 1),
        ("2026年科技辅导员培训班", 3),
    ]
    assert (year["total"], year["person_times"]) == (2, 4)
    paged = client.get(
        "/api/v1/counsellor-trainings", params={"limit": 1, "offset": 1}, headers=bureau
    ).json()
    assert (len(paged["items"]), paged["total"], paged["person_times"]) == (1, 3, 7)
    # the platform reads any region; another region's bureau sees none of these
    platform = auth(settings, side_a.principal(Role.platform_admin))
    assert (
        client.get(
            "/api/v1/counsellor-trainings", params={"region_code": "970000"}, headers=platform
        ).json()["total"]
        == 3
    )
    other = auth(settings, side_b.principal(Role.bureau))
    assert client.get("/api/v1/counsellor-trainings", headers=other).json()["total"] == 0
    refused = client.get(
        "/api/v1/counsellor-trainings", params={"region_code": "970100"}, headers=other
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "outside_region")
    unknown = client.get(
        "/api/v1/counsellor-trainings", params={"region_code": "990000"}, headers=platform
    )
    assert unknown.json()["code"] == "region_not_found"
    [entry, *_] = audit_actions(session, "counsellor_training_recorded")
    assert (entry.region_code, '"person_times": 3' in entry.detail) == ("970100", True)


def test_a_bad_training_changes_nothing(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    bureau = auth(settings, side_a.principal(Role.bureau))
    client.post(
        "/api/v1/counsellor-trainings", json=training(side_a), headers=bureau
    ).raise_for_status()
    again = client.post(
        "/api/v1/counsellor-trainings",
        json=training(side_a, attendees=[{"name": "孙老师"}]),
        headers=bureau,
    )
    assert (again.status_code, again.json()["code"]) == (409, "counsellor_training_exists")
    # a school of another region (or none at all) among the attendees: nothing is written
    for school_id in (side_b.school.id, 999_999):
        outside = client.post(
            "/api/v1/counsellor-trainings",
            json=training(
                side_a,
                title="另一次培训",
                attendees=[
                    {"name": "李老师", "school_id": side_a.school.id},
                    {"name": "外地老师", "school_id": school_id},
                ],
            ),
            headers=bureau,
        )
        assert (outside.status_code, outside.json()["code"]) == (422, "counsellor_training_invalid")
        assert outside.json()["school_ids"] == [school_id]
    for body in (
        training(side_a, attendees=[]),
        training(side_a, attendees=[{"name": "某"}] * 2001),
        training(side_a, hours=0),
        training(side_a, title="x"),
        training(side_a, held_on="2026-02-30"),
    ):
        answer = client.post("/api/v1/counsellor-trainings", json=body, headers=bureau)
        assert answer.json()["code"] == "validation_failed"
    # only a bureau records trainings
    school = client.post(
        "/api/v1/counsellor-trainings",
        json=training(side_a, title="学校自己的"),
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert school.status_code == 403
    assert count(session, CounsellorTraining) == 1
    assert count(session, CounsellorTrainingAttendee) == 3
    assert len(audit_actions(session, "counsellor_training_recorded")) == 1


def test_two_thousand_attendees_in_one_training(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    bureau = auth(settings, side_a.principal(Role.bureau))
    many = [{"name": f"老师{i}", "school_id": side_a.school.id} for i in range(2000)]
    created = client.post(
        "/api/v1/counsellor-trainings", json=training(side_a, attendees=many), headers=bureau
    )
    assert created.status_code == 201, created.text
    assert created.json()["person_times"] == 2000
    listed = client.get("/api/v1/counsellor-trainings", headers=bureau).json()
    assert listed["person_times"] == 2000
