"""Binding a WeChat account to a roster entry; guardians; unbinding; the race for one entry."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import Engine, delete, text
from sqlmodel import Session, select

from scipass.account.models import WeChatUser
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.main import create_app
from scipass.org.models import Region, School
from scipass.roster.models import GuardianLink, Student
from tests.factories import NOW, Side, auth, create_student, create_wechat_user


def _bind(client: TestClient, settings: Settings, user: WeChatUser, student: Student, code: str):
    return client.post(
        "/api/v1/me/student-binding",
        json={"school_id": student.school_id, "student_no": student.student_no, "code": code},
        headers=auth(settings, Principal(subject=f"wechat:{user.id}", role=Role.wechat_user)),
    )


@pytest.fixture
def pupil(session: Session, side_a: Side) -> Student:
    return create_student(session, school_id=side_a.school.id or 0)


def test_bind_with_code_returns_student_tokens(
    client: TestClient, settings: Settings, session: Session, pupil: Student
) -> None:
    user = create_wechat_user(session)
    code = pupil.binding_code or ""
    response = _bind(client, settings, user, pupil, code.lower())  # codes are case-blind
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "student"
    me = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    ).json()
    assert me["student"]["id"] == pupil.id
    assert me["student"]["under_14"] is True
    session.refresh(pupil)
    assert pupil.wechat_user_id == user.id
    assert pupil.binding_code is None  # one-time

    # the code is spent; another account cannot use it
    other = create_wechat_user(session)
    again = _bind(client, settings, other, pupil, code)
    assert again.status_code == 400
    assert again.json()["code"] == "binding_invalid"


def test_name_alone_or_wrong_code_is_not_enough(
    client: TestClient, settings: Settings, session: Session, pupil: Student
) -> None:
    user = create_wechat_user(session)
    for code in ("AAAAAAAA", "", "WRONG123"):
        response = _bind(client, settings, user, pupil, code)
        assert response.status_code in (400, 422)
    session.refresh(pupil)
    assert pupil.wechat_user_id is None


def test_one_wechat_account_binds_one_student(
    client: TestClient, settings: Settings, session: Session, side_a: Side, pupil: Student
) -> None:
    sibling = create_student(session, school_id=side_a.school.id or 0)
    user = create_wechat_user(session)
    assert _bind(client, settings, user, pupil, pupil.binding_code or "").status_code == 200
    second = _bind(client, settings, user, sibling, sibling.binding_code or "")
    assert second.status_code == 409
    assert second.json()["code"] == "already_bound"


def test_binding_attempts_are_limited(
    client: TestClient, settings: Settings, session: Session, pupil: Student
) -> None:
    user = create_wechat_user(session)
    answers = [_bind(client, settings, user, pupil, "WRONG999").status_code for _ in range(11)]
    assert answers[:10] == [400] * 10
    assert answers[10] == 429
    # even the right code waits now: a brute force cannot test it
    assert _bind(client, settings, user, pupil, pupil.binding_code or "").status_code == 429


def test_school_admin_unbinds_and_issues_a_new_code(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    response = client.post(
        f"/api/v1/students/{side_a.student.id}/unbind",
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert response.status_code == 200
    new_code = response.json()["binding_code"]
    assert len(new_code) == 8
    session.refresh(side_a.student)
    assert side_a.student.wechat_user_id is None
    # the old WeChat account can refresh its way back only as an unbound user, then rebind
    user = session.get(WeChatUser, side_a.student_user.id)
    assert user is not None
    assert _bind(client, settings, user, side_a.student, new_code).status_code == 200


def test_guardian_links_with_guardian_code(
    client: TestClient, settings: Settings, session: Session, pupil: Student
) -> None:
    parent = create_wechat_user(session)
    headers = auth(settings, Principal(subject=f"wechat:{parent.id}", role=Role.wechat_user))
    body = {
        "school_id": pupil.school_id,
        "student_no": pupil.student_no,
        "code": pupil.binding_code,  # the student's code is not the guardian's
        "relation": "father",
    }
    assert client.post("/api/v1/me/guardian-links", json=body, headers=headers).status_code == 400
    body["code"] = pupil.guardian_code
    response = client.post("/api/v1/me/guardian-links", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "guardian"
    me = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    ).json()
    assert [child["id"] for child in me["children"]] == [pupil.id]
    # a guardian account cannot become a student
    assert _bind(client, settings, parent, pupil, pupil.binding_code or "").status_code == 409


def test_binding_codes_export_per_class(
    client: TestClient, settings: Settings, session: Session, side_a: Side, pupil: Student
) -> None:
    response = client.get(
        "/api/v1/roster/binding-codes",
        params={"grade": 4, "class_name": "1班"},
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert response.status_code == 200
    text_body = response.content.decode("utf-8-sig")
    lines = text_body.strip().splitlines()
    assert lines[0] == "学号,姓名,年级,班级,学生绑定码,家长绑定码,学生绑定状态"
    by_no = {line.split(",")[0]: line.split(",") for line in lines[1:]}
    assert by_no[pupil.student_no][4] == pupil.binding_code
    assert by_no[side_a.student.student_no][4] == ""  # bound: no code
    assert by_no[side_a.student.student_no][6] == "已绑定"


def test_binding_codes_as_slips_to_print(
    client: TestClient, settings: Settings, session: Session, side_a: Side, pupil: Student
) -> None:
    """format=pdf: one slip per pupil of the class, with both codes, to cut and hand out."""
    response = client.get(
        "/api/v1/roster/binding-codes",
        params={"grade": 4, "class_name": "1班", "format": "pdf"},
        headers=auth(settings, side_a.principal(Role.school_admin)),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text_out = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert pupil.name in text_out
    assert pupil.binding_code
    assert pupil.binding_code in text_out.replace(" ", "")
    session.refresh(pupil)
    assert pupil.guardian_code
    assert pupil.guardian_code in text_out.replace(" ", "")
    assert "（已绑定）" in text_out  # the bound pupil's slip has no student code


# --- the race: real connections, committed data --------------------------------------------


@pytest.fixture
def committed(engine: Engine) -> Iterator[dict[str, int | str]]:
    """A school with one student and two WeChat users, committed, removed afterwards."""
    with Session(engine) as s:
        s.add(Region(code="950000", name="并发省", level="province"))
        s.flush()
        school = School(
            name="并发学校", region_code="950000", stages="primary", area="urban", created_at=NOW
        )
        s.add(school)
        s.flush()
        student = create_student(s, school_id=school.id or 0, binding_code="RACE2345")
        users = [create_wechat_user(s), create_wechat_user(s)]
        s.commit()
        ids = {"school": school.id or 0, "student": student.id or 0, "no": student.student_no}
        ids |= {"u0": users[0].id or 0, "u1": users[1].id or 0}
    yield ids
    with Session(engine) as s:
        s.execute(delete(Student).where(Student.school_id == ids["school"]))
        s.execute(text("DELETE FROM audit_log WHERE school_id = :s"), {"s": ids["school"]})
        s.execute(
            text("DELETE FROM refresh_token WHERE subject IN (:a, :b)"),
            {"a": f"wechat:{ids['u0']}", "b": f"wechat:{ids['u1']}"},
        )
        s.execute(text("DELETE FROM rate_limit_counter WHERE key LIKE 'bind:%'"))
        s.execute(delete(GuardianLink).where(GuardianLink.guardian_id.in_([ids["u0"], ids["u1"]])))  # type: ignore[attr-defined]
        s.execute(delete(WeChatUser).where(WeChatUser.id.in_([ids["u0"], ids["u1"]])))  # type: ignore[attr-defined]
        s.execute(delete(School).where(School.id == ids["school"]))
        s.execute(delete(Region).where(Region.code == "950000"))
        s.commit()


def test_two_users_bind_one_entry_at_once_exactly_one_wins(
    settings: Settings, engine: Engine, committed: dict[str, int | str]
) -> None:
    app = create_app(settings, clock=FrozenClock(NOW))
    results: list[int] = []
    barrier = threading.Barrier(2)

    def attempt(user_id: int) -> None:
        with TestClient(app) as client:
            headers = auth(settings, Principal(subject=f"wechat:{user_id}", role=Role.wechat_user))
            body = {
                "school_id": committed["school"],
                "student_no": committed["no"],
                "code": "RACE2345",
            }
            barrier.wait()
            results.append(
                client.post("/api/v1/me/student-binding", json=body, headers=headers).status_code
            )

    threads = [threading.Thread(target=attempt, args=(committed[k],)) for k in ("u0", "u1")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    app.state.db.engine.dispose()

    assert sorted(results) == [200, 400]
    with Session(engine) as s:
        student = s.get(Student, committed["student"])
        assert student is not None
        assert student.wechat_user_id in (committed["u0"], committed["u1"])


def test_a_student_account_cannot_become_a_guardian(
    client: TestClient, settings: Settings, session: Session, side_a: Side, pupil: Student
) -> None:
    user = create_wechat_user(session)
    bound = _bind(client, settings, user, pupil, pupil.binding_code or "")
    assert bound.status_code == 200
    headers = auth(settings, Principal(subject=f"wechat:{user.id}", role=Role.wechat_user))
    body = {
        "school_id": side_a.school.id,
        "student_no": side_a.student.student_no,
        "code": side_a.student.guardian_code,
        "relation": "father",
    }
    response = client.post("/api/v1/me/guardian-links", json=body, headers=headers)
    assert response.status_code == 409
    assert session.exec(select(GuardianLink).where(GuardianLink.guardian_id == user.id)).all() == []
