"""Family mode: a guardian acts for a linked child through ``?student_id=`` on the student
endpoints (``scipass.roster.acting``), and only for a child the rule admits."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Principal, Role
from scipass.core.config import Settings
from scipass.record.models import ParticipationRecord, RecordEvent
from scipass.reservation.models import Reservation
from scipass.roster.models import GuardianLink, Student
from tests.factories import (
    NOW,
    Side,
    auth,
    create_record,
    create_slot,
    create_student,
    create_wechat_user,
    grant_consent,
    link_guardian,
    list_venue,
)

API = "/api/v1"


@pytest.fixture
def family(session: Session, side_a: Side) -> dict[str, Any]:
    """A guardian with two children at the school of side A, neither with a phone of their
    own, both consented for records; and the guardian's principal."""
    guardian = create_wechat_user(session)
    children = []
    for name in ("王小一", "王小二"):
        child = create_student(session, school_id=side_a.school.id or 0, name=name)
        link = link_guardian(session, guardian=guardian, student=child)
        grant_consent(
            session, student=child, link=link, purposes=["participation_record", "photos"]
        )
        children.append(child)
    principal = Principal(subject=f"wechat:{guardian.id}", role=Role.guardian)
    return {"guardian": principal, "children": children}


def _call(
    client: TestClient,
    settings: Settings,
    who: Principal,
    method: str,
    path: str,
    child: Student | None = None,
    **kwargs: Any,
):
    params = {"student_id": child.id} if child is not None else {}
    return client.request(method, API + path, params=params, headers=auth(settings, who), **kwargs)


def _reload(session: Session, record: ParticipationRecord) -> ParticipationRecord:
    session.expire_all()
    fresh = session.get(ParticipationRecord, record.id)
    assert fresh is not None
    return fresh


def test_a_guardian_confirms_a_childs_record_and_the_reflection_is_marked(
    client: TestClient, settings: Settings, session: Session, family: dict[str, Any]
) -> None:
    guardian, (first, _second) = family["guardian"], family["children"]
    record = create_record(session, student=first, status="confirmed")
    answer = _call(
        client,
        settings,
        guardian,
        "POST",
        f"/records/{record.id}/student-confirmation",
        first,
        json={"reflection": "孩子说最喜欢机器人展区。"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["student_confirmed_as"] == "guardian"
    assert body["reflection_by"] == "guardian"
    assert body["marks"] == "家长代为确认；家长代填"
    stored = _reload(session, record)
    assert stored.student_confirmed_by == guardian.subject
    assert stored.student_confirmed_at is not None
    event = session.exec(
        select(RecordEvent)
        .where(RecordEvent.record_id == record.id)
        .order_by(col(RecordEvent.id).desc())
    ).first()
    assert event is not None
    assert (event.action, event.actor, event.actor_role) == (
        "guardian_confirmed",
        guardian.subject,
        "guardian",
    )
    audit = session.exec(
        select(AuditLog).where(
            AuditLog.action == "guardian_acted", AuditLog.actor == guardian.subject
        )
    ).all()
    assert [(a.object_type, a.object_id) for a in audit] == [("student", str(first.id))]
    assert "record-student-confirm" in audit[0].detail

    # the child's own later confirmation (once bound) takes the record back as the pupil's
    history = _call(client, settings, guardian, "GET", f"/records/{record.id}/history")
    assert history.status_code == 200
    assert history.json()["items"][-1]["actor_role"] == "guardian"


def test_a_guardian_must_name_the_child_and_only_a_linked_one(
    client: TestClient,
    settings: Settings,
    session: Session,
    family: dict[str, Any],
    side_a: Side,
    side_b: Side,
) -> None:
    guardian, (first, _second) = family["guardian"], family["children"]
    record = create_record(session, student=first, status="confirmed")
    path = f"/records/{record.id}/student-confirmation"
    unnamed = _call(client, settings, guardian, "POST", path, json={})
    assert unnamed.status_code == 422
    assert unnamed.json()["code"] == "student_id_required"
    # a child of another family (same school, and another school): not found, not forbidden
    for stranger in (side_a.student, side_b.student):
        refused = _call(client, settings, guardian, "POST", path, stranger, json={})
        assert refused.status_code == 404, stranger
        assert refused.json()["code"] == "student_not_found"
    # a record of the other child, named as the first: not found
    other = create_record(session, student=family["children"][1], status="confirmed")
    crossed = _call(
        client, settings, guardian, "POST", f"/records/{other.id}/student-confirmation", first
    )
    assert crossed.status_code == 404
    assert _reload(session, record).student_confirmed_at is None
    assert _reload(session, other).student_confirmed_at is None
    # a student naming someone else is refused too; naming themselves is allowed
    pupil = side_a.principal(Role.student)
    mine = create_record(session, student=side_a.student, status="confirmed")
    own = f"/records/{mine.id}/student-confirmation"
    assert _call(client, settings, pupil, "POST", own, first).status_code == 404
    assert _call(client, settings, pupil, "POST", own, side_a.student).status_code == 200


def test_a_revoked_link_stops_acting_at_once(
    client: TestClient, settings: Settings, session: Session, family: dict[str, Any]
) -> None:
    guardian, (first, second) = family["guardian"], family["children"]
    record = create_record(session, student=first, status="confirmed")
    path = f"/records/{record.id}/student-confirmation"
    assert _call(client, settings, guardian, "GET", "/me/checkins", first).status_code == 200
    link = session.exec(select(GuardianLink).where(GuardianLink.student_id == first.id)).one()
    link.revoked_at = NOW
    session.add(link)
    session.commit()
    # the same (unexpired) token: every acting request for that child stops
    for method, target in (("POST", path), ("GET", "/me/checkins"), ("POST", "/me/personal-code")):
        refused = _call(client, settings, guardian, method, target, first, json={})
        assert refused.status_code == 404, target
        assert refused.json()["code"] == "student_not_found"
    assert _reload(session, record).student_confirmed_at is None
    # the other child's link still holds
    assert _call(client, settings, guardian, "GET", "/me/checkins", second).status_code == 200


def test_a_pupil_of_14_with_a_binding_of_their_own_acts_for_themselves(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    guardian_user = create_wechat_user(session)
    guardian = Principal(subject=f"wechat:{guardian_user.id}", role=Role.guardian)
    teenager = create_student(
        session, school_id=side_a.school.id or 0, birth_month=date(2012, 1, 1), stage="junior"
    )
    link_guardian(session, guardian=guardian_user, student=teenager)
    record = create_record(session, student=teenager, status="confirmed")
    path = f"/records/{record.id}/student-confirmation"
    # no binding of their own yet: the guardian may act
    first = _call(client, settings, guardian, "POST", path, teenager, json={})
    assert first.status_code == 200, first.text
    # the pupil binds: the guardian's acting ends, reading goes on
    teenager.wechat_user_id = create_wechat_user(session).id
    session.add(teenager)
    session.commit()
    refused = _call(client, settings, guardian, "POST", path, teenager, json={})
    assert refused.status_code == 403
    assert refused.json()["code"] == "child_acts_for_self"
    me = _call(client, settings, guardian, "GET", "/me").json()
    [child] = me["children"]
    assert child["actions"]["may_act"] is False
    assert child["actions"]["refused_code"] == "child_acts_for_self"
    assert _call(client, settings, guardian, "GET", f"/records/{record.id}").status_code == 200


def test_me_lists_each_child_with_what_the_guardian_may_do(
    client: TestClient, settings: Settings, session: Session, family: dict[str, Any], side_b: Side
) -> None:
    guardian, (first, second) = family["guardian"], family["children"]
    # a third child at another school, without any consent yet
    guardian_id = int(guardian.subject.split(":")[1])
    from scipass.account.models import WeChatUser

    user = session.get(WeChatUser, guardian_id)
    assert user is not None
    third = create_student(session, school_id=side_b.school.id or 0, name="王小三")
    link_guardian(session, guardian=user, student=third)
    session.commit()
    me = _call(client, settings, guardian, "GET", "/me")
    assert me.status_code == 200
    children = {c["id"]: c for c in me.json()["children"]}
    assert set(children) == {first.id, second.id, third.id}
    assert children[third.id]["school_id"] == side_b.school.id
    assert children[first.id]["actions"] == {
        "may_act": True,
        "refused_code": None,
        "check_in": True,
        "location": False,
        "reserve": True,
        "confirm_records": True,
        "upload_evidence": True,
        "personal_code": True,
    }
    assert children[third.id]["actions"]["check_in"] is False  # no consent for this child
    assert children[third.id]["actions"]["confirm_records"] is True


def test_a_guardian_reserves_cancels_and_shows_the_childs_code(
    client: TestClient, settings: Settings, session: Session, family: dict[str, Any], side_a: Side
) -> None:
    guardian, (first, second) = family["guardian"], family["children"]
    venue = list_venue(session, side_a.venue)
    slot = create_slot(session, venue_id=venue.id or 0, capacity=5)
    session.commit()
    made = []
    for child in (first, second):
        answer = _call(
            client,
            settings,
            guardian,
            "POST",
            f"/slots/{slot.id}/reservations",
            child,
            json={},
            # one key per child is what the app sends; the same key for another child is refused
        )
        assert answer.status_code == 201, answer.text
        made.append(answer.json())
    rows = session.exec(select(Reservation).where(Reservation.slot_id == slot.id)).all()
    assert sorted(r.student_id for r in rows) == sorted([first.id, second.id])
    assert {r.made_by for r in rows} == {guardian.subject}
    # each child's list shows that child's reservation only
    listed = _call(client, settings, guardian, "GET", "/me/reservations", first).json()
    assert [r["id"] for r in listed["items"]] == [made[0]["id"]]
    # the guardian cancels one child's, named as that child; named as the other, not found
    wrong = _call(
        client, settings, guardian, "POST", f"/reservations/{made[0]['id']}/cancel", second
    )
    assert wrong.status_code == 404
    cancelled = _call(
        client, settings, guardian, "POST", f"/reservations/{made[0]['id']}/cancel", first
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    # the child's personal code, shown on the parent's phone, names the child
    code = _call(client, settings, guardian, "POST", "/me/personal-code", second)
    assert code.status_code == 200
    from scipass.checkin import codes

    keys = codes.personal_keys(settings.personal_code_keys.get_secret_value())
    assert codes.parse_personal_code(keys, code.json()["payload"]).student_id == second.id


def test_one_idempotency_key_for_two_children_is_refused(
    client: TestClient, settings: Settings, session: Session, family: dict[str, Any], side_a: Side
) -> None:
    guardian, (first, second) = family["guardian"], family["children"]
    venue = list_venue(session, side_a.venue)
    slot = create_slot(session, venue_id=venue.id or 0, capacity=5)
    session.commit()
    headers = {**auth(settings, guardian), "Idempotency-Key": "family-key-0001"}
    path = f"{API}/slots/{slot.id}/reservations"
    one = client.post(path, params={"student_id": first.id}, json={}, headers=headers)
    assert one.status_code == 201
    again = client.post(path, params={"student_id": first.id}, json={}, headers=headers)
    assert again.status_code == 200
    assert again.json()["id"] == one.json()["id"]
    other = client.post(path, params={"student_id": second.id}, json={}, headers=headers)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


def test_a_guardian_uploads_evidence_and_reads_the_childs_file(
    client: TestClient, settings: Settings, session: Session, family: dict[str, Any]
) -> None:
    import io

    from PIL import Image

    guardian, (first, _second) = family["guardian"], family["children"]
    record = create_record(session, student=first, status="confirmed")
    session.commit()
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(buffer, "PNG")
    uploaded = _call(
        client,
        settings,
        guardian,
        "POST",
        f"/records/{record.id}/evidence",
        first,
        files={"file": ("证书.png", buffer.getvalue(), "image/png")},
    )
    assert uploaded.status_code == 201, uploaded.text
    pdf = _call(client, settings, guardian, "GET", "/me/record-file", first)
    assert pdf.status_code == 200, pdf.text
    assert pdf.content.startswith(b"%PDF")


def test_the_access_matrix_covers_a_guardian_on_every_acting_route(
    client: TestClient, settings: Settings, app: Any, family: dict[str, Any], side_b: Side
) -> None:
    """Every route that takes the acting dependency answers a guardian who names no child
    422, and one who names another family's child 404; nothing else happens."""
    from fastapi import routing
    from fastapi.routing import APIRoute

    from scipass.roster.acting import acts_for_a_child

    guardian = family["guardian"]
    contexts = routing.iter_route_contexts(app.routes)
    routes = [
        c
        for c in contexts
        if isinstance(c.original_route, APIRoute) and acts_for_a_child(c.dependant)
    ]
    names = {r.name for r in routes}
    assert {
        "record-student-confirm",
        "record-withdraw",
        "record-evidence-upload",
        "reservation-create",
        "reservation-cancel",
        "my-reservation-list",
        "personal-code-create",
        "checkin-list-own",
        "my-record-file",
    } <= names, names
    for route in routes:
        url = (
            route.path.replace("{record_id}", "1")
            .replace("{slot_id}", "1")
            .replace("{reservation_id}", "1")
        )
        for method in route.methods:
            kwargs: dict[str, Any] = {"headers": auth(settings, guardian)}
            if route.body_field is not None and "multipart" in str(
                getattr(route.body_field.field_info, "media_type", "")
            ):
                kwargs["files"] = {"file": ("a.png", b"\x89PNG\r\n\x1a\n", "image/png")}
            elif route.body_field is not None:
                kwargs["json"] = {}
            unnamed = client.request(method, url, **kwargs)
            assert unnamed.status_code == 422, (route.name, unnamed.text)
            assert unnamed.json()["code"] == "student_id_required"
            stranger = client.request(
                method, url, params={"student_id": side_b.student.id}, **kwargs
            )
            assert stranger.status_code == 404, (route.name, stranger.text)
            assert stranger.json()["code"] == "student_not_found"


def test_withdrawal_by_a_guardian_is_recorded_as_the_guardians(
    client: TestClient, settings: Settings, session: Session, family: dict[str, Any]
) -> None:
    guardian, (first, _second) = family["guardian"], family["children"]
    record = create_record(session, student=first, status="pending")
    session.commit()
    answer = _call(
        client,
        settings,
        guardian,
        "POST",
        f"/records/{record.id}/withdrawal",
        first,
        json={"reason": "记错了日期"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "withdrawn"
    event = session.exec(
        select(RecordEvent).where(
            RecordEvent.record_id == record.id, RecordEvent.action == "withdrawn"
        )
    ).one()
    assert (event.actor, event.actor_role) == (guardian.subject, "guardian")
