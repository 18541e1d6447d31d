"""Creating regions, bureaus, schools, venues and staff accounts, each by the role that may."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.account.models import Account
from scipass.core.auth import Role
from scipass.core.config import Settings
from tests.factories import Side, auth

SCHOOL = {"name": "新建实验小学", "stages": ["primary"], "area": "rural", "address": "某镇"}


def test_platform_admin_builds_the_tree(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    admin = auth(settings, side_a.principal(Role.platform_admin))
    steps = [
        ({"code": "940000", "name": "测试省", "level": "province"}, 201),
        ({"code": "940100", "name": "测试市", "level": "city", "parent_code": "940000"}, 201),
        ({"code": "940101", "name": "测试县", "level": "county", "parent_code": "940100"}, 201),
        ({"code": "940102", "name": "测试县", "level": "city", "parent_code": "940101"}, 400),
        ({"code": "950101", "name": "代码不符", "level": "county", "parent_code": "940100"}, 400),
        ({"code": "940100", "name": "重复", "level": "city", "parent_code": "940000"}, 409),
    ]
    for body, status in steps:
        assert client.post("/api/v1/regions", json=body, headers=admin).status_code == status
    bureau = client.post(
        "/api/v1/bureaus", json={"name": "测试市教育局", "region_code": "940100"}, headers=admin
    )
    assert bureau.status_code == 201
    school = client.post("/api/v1/schools", json={**SCHOOL, "region_code": "940100"}, headers=admin)
    assert school.status_code == 201
    assert school.json()["stages"] == ["primary"]
    listed = client.get("/api/v1/schools", params={"region_code": "940000"}).json()
    assert [s["name"] for s in listed["items"]] == ["新建实验小学"]


def test_bureau_creates_schools_only_in_its_region(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side
) -> None:
    headers = auth(settings, side_a.principal(Role.bureau))
    own = client.post("/api/v1/schools", json={**SCHOOL, "region_code": "970101"}, headers=headers)
    assert own.status_code == 201
    other = client.post(
        "/api/v1/schools", json={**SCHOOL, "region_code": "960101"}, headers=headers
    )
    assert other.status_code == 403
    assert other.json()["code"] == "outside_region"
    venue = {
        "name": "新科技馆",
        "kind": "science_museum",
        "region_code": "960101",
        "longitude": 118.9,
        "latitude": 42.2,
    }
    assert client.post("/api/v1/venues", json=venue, headers=headers).status_code == 403
    venue["region_code"] = "970100"
    assert client.post("/api/v1/venues", json=venue, headers=headers).status_code == 201


def test_first_org_admin_then_own_staff(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, session: Session
) -> None:
    admin = auth(settings, side_a.principal(Role.platform_admin))
    created = client.post(
        "/api/v1/accounts",
        json={
            "username": "school-a-admin",
            "display_name": "教务处",
            "role": "school_admin",
            "org_id": side_a.school.id,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    initial = created.json()["initial_password"]
    assert len(initial) == 12
    login = client.post(
        "/api/v1/auth/login", json={"username": "school-a-admin", "password": initial}
    ).json()
    assert login["password_change_required"] is True
    school_admin = {"Authorization": f"Bearer {login['access_token']}"}

    # an initial password opens nothing but the password change and /me
    blocked = client.get("/api/v1/accounts", headers=school_admin)
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "password_change_required"
    assert client.get("/api/v1/me", headers=school_admin).status_code == 200
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": initial, "new_password": "Kexue-Jiaoyu-2026"},
        headers=school_admin,
    )
    assert changed.status_code == 204, changed.text
    login = client.post(
        "/api/v1/auth/login",
        json={"username": "school-a-admin", "password": "Kexue-Jiaoyu-2026"},
    ).json()
    assert login["password_change_required"] is False
    school_admin = {"Authorization": f"Bearer {login['access_token']}"}

    # the school admin creates a teacher: always in their own school, whatever org_id says
    teacher = client.post(
        "/api/v1/accounts",
        json={
            "username": "teacher-a",
            "display_name": "科学老师",
            "role": "school_staff",
            "org_id": side_b.school.id,
        },
        headers=school_admin,
    )
    assert teacher.status_code == 201
    assert teacher.json()["school_id"] == side_a.school.id
    # ... but not a bureau account or a venue account
    for role in ("bureau", "venue_admin", "platform_admin"):
        response = client.post(
            "/api/v1/accounts",
            json={"username": f"x-{role}", "display_name": "x", "role": role, "org_id": 1},
            headers=school_admin,
        )
        assert response.status_code == 403, role
    duplicate = client.post(
        "/api/v1/accounts",
        json={"username": "Teacher-A", "display_name": "x", "role": "school_staff"},
        headers=school_admin,
    )
    assert duplicate.json()["code"] == "username_taken"
    listed = client.get("/api/v1/accounts", headers=school_admin).json()["items"]
    assert {a["username"] for a in listed} == {"school-a-admin", "teacher-a"}
    stored = session.exec(select(Account).where(Account.username == "teacher-a")).one()
    assert stored.password_hash.startswith("$argon2id$")
