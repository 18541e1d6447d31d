"""School staff's group visits in the console, over the API: a class booked into a venue's slot
through the form, the school's group reservations, a class checked in at the door (the ticked
pupils only, a second submit changing nothing), and another school's reservation refused by
URL and by form."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scipass.activity.models import Activity
from scipass.checkin.models import CheckIn
from scipass.core.auth import Role
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot
from scipass.roster.models import Student
from tests.console.signing import create_staff, sign_in
from tests.factories import (
    NOW,
    Side,
    create_activity,
    create_reservation,
    create_slot,
    create_student,
    list_venue,
)

JSON = {"Accept": "application/json"}
TEEN = date(2009, 5, 1)  # no guardian consent needed to be checked in


def _client(app: FastAPI, session: Session, side: Side, role: Role, tag: str) -> tuple[Any, str]:
    name = create_staff(session, username=f"{tag}-{role.value}", role=role, org_id=side.school.id)
    client = TestClient(app, raise_server_exceptions=False)
    return client, sign_in(client, name)


@pytest.fixture
def activity(session: Session, side_a: Side) -> Activity:
    """An open activity of side A's venue, under way now: its check-in window is open."""
    venue = list_venue(session, side_a.venue)
    return create_activity(
        session,
        venue_id=venue.id or 0,
        title="科技馆开放日",
        starts_at=NOW - timedelta(minutes=30),
        ends_at=NOW + timedelta(hours=6),
        admission="open",
    )


@pytest.fixture
def slot(session: Session, activity: Activity) -> TimeSlot:
    """A slot of the activity later today, with room for a class."""
    return create_slot(
        session,
        venue_id=activity.venue_id or 0,
        activity_id=activity.id,
        starts_at=NOW + timedelta(minutes=30),
        ends_at=NOW + timedelta(hours=2),
        capacity=40,
        note="常设展厅 团体参观",
    )


@pytest.fixture
def pupils(session: Session, side_a: Side) -> list[Student]:
    names = ["王一", "李二", "赵三"]
    return [
        create_student(
            session, school_id=side_a.school.id or 0, name=n, birth_month=TEEN, class_name="2班"
        )
        for n in names
    ]


def _book(client: TestClient, csrf: str, slot_id: int, ids: list[int], **extra: Any) -> Any:
    return client.post(
        "/console/do/group-reservation-create",
        data={
            "csrf_token": csrf,
            "_form": "book",
            "_next": "/console/school/visits",
            "path.slot_id": str(slot_id),
            "student_ids": [str(i) for i in ids],
            "escorts": "1",
            "join_waitlist": ["false", "on"],
            **extra,
        },
        headers=JSON,
    )


def _group(session: Session, side: Side, slot: TimeSlot, pupils: list[Student]) -> Reservation:
    reservation = Reservation(
        slot_id=slot.id or 0,
        kind="group",
        school_id=side.school.id or 0,
        group_label="四年级2班",
        students=len(pupils),
        escorts=1,
        party_size=len(pupils) + 1,
        status="confirmed",
        made_by="account:900001",
        created_at=NOW,
    )
    session.add(reservation)
    session.flush()
    for pupil in pupils:
        session.add(
            ReservationMember(
                reservation_id=reservation.id or 0, slot_id=slot.id or 0, student_id=pupil.id or 0
            )
        )
    slot.taken += reservation.party_size
    session.add(slot)
    session.flush()
    return reservation


def _checked_in(session: Session, activity: Activity) -> list[int]:
    session.expire_all()
    rows = session.exec(select(CheckIn.student_id).where(CheckIn.activity_id == activity.id))
    return sorted(rows.all())


def test_a_class_booked_through_the_form_is_a_group_reservation(
    app: FastAPI, session: Session, side_a: Side, slot: TimeSlot, pupils: list[Student]
) -> None:
    teacher, csrf = _client(app, session, side_a, Role.school_staff, "a")
    page = teacher.get(
        "/console/school/visits",
        params={"venue_id": slot.venue_id, "grade": "4", "class_name": "2班"},
    )
    assert page.status_code == 200
    assert f'name="path.slot_id" value="{slot.id}"' in page.text
    for pupil in pupils:
        assert f'name="student_ids" value="{pupil.id}"' in page.text
    assert 'data-tick-all="student_ids"' in page.text

    answer = _book(teacher, csrf, slot.id or 0, [p.id or 0 for p in pupils[:2]], note="秋游")

    assert answer.status_code == 200, answer.text
    assert answer.json()["next"] == "/console/school/visits"
    booked = session.exec(select(Reservation).where(Reservation.slot_id == slot.id)).one()
    assert (booked.kind, booked.school_id, booked.students, booked.escorts, booked.note) == (
        "group",
        side_a.school.id,
        2,
        1,
        "秋游",
    )
    members = session.exec(
        select(ReservationMember.student_id).where(ReservationMember.reservation_id == booked.id)
    ).all()
    assert sorted(members) == sorted(p.id for p in pupils[:2])
    listed = teacher.get("/console/school/visits")
    assert f'href="/console/school/visits/{booked.id}"' in listed.text
    assert "秋游" in listed.text


def test_the_list_holds_the_schools_group_reservations_only(
    app: FastAPI,
    session: Session,
    side_a: Side,
    side_b: Side,
    slot: TimeSlot,
    pupils: list[Student],
) -> None:
    ours = _group(session, side_a, slot, pupils[:1])
    theirs = _group(session, side_b, slot, [side_b.student])
    single = create_reservation(session, slot=slot, student=pupils[2])
    teacher, _csrf = _client(app, session, side_a, Role.school_staff, "a")

    listed = teacher.get("/console/school/visits")

    assert f'data-reservation="{ours.id}"' in listed.text
    assert f'data-reservation="{theirs.id}"' not in listed.text
    assert f'data-reservation="{single.id}"' not in listed.text  # a pupil's own reservation


def test_a_class_check_in_marks_the_ticked_pupils_only_and_a_second_submit_changes_nothing(
    app: FastAPI,
    session: Session,
    side_a: Side,
    activity: Activity,
    slot: TimeSlot,
    pupils: list[Student],
) -> None:
    reservation = _group(session, side_a, slot, pupils)
    teacher, csrf = _client(app, session, side_a, Role.school_staff, "a")
    page = teacher.get(f"/console/school/visits/{reservation.id}")
    assert page.status_code == 200
    for pupil in pupils:  # every member ticked by default
        assert f'name="student_ids" value="{pupil.id}" id="present-{pupil.id}" checked' in page.text
    present = [p.id or 0 for p in pupils if p.name != "李二"]  # the teacher unticks the absent
    form = {
        "csrf_token": csrf,
        "_form": "checkin",
        "path.reservation_id": str(reservation.id),
        "nonce": "page-nonce-0001",
        "direction": "entry",
        "student_ids": [str(i) for i in present],
    }

    first = teacher.post("/console/do/group-checkin", data=form, headers=JSON)

    assert first.status_code == 200, first.text
    result = first.json()["result"]
    assert (result["accepted"], result["refused"]) == (2, 0)
    assert {item["key"] for item in result["items"]} == {str(i) for i in present}
    assert _checked_in(session, activity) == sorted(present)

    again = teacher.post("/console/do/group-checkin", data=form, headers=JSON)

    assert again.json()["result"] == result
    assert _checked_in(session, activity) == sorted(present)


def test_another_schools_reservation_is_refused_by_url_and_by_form(
    app: FastAPI,
    session: Session,
    side_a: Side,
    side_b: Side,
    activity: Activity,
    slot: TimeSlot,
    pupils: list[Student],
) -> None:
    reservation = _group(session, side_a, slot, pupils)
    other, csrf = _client(app, session, side_b, Role.school_admin, "b")

    by_url = other.get(f"/console/school/visits/{reservation.id}")
    assert by_url.status_code == 404
    assert pupils[0].name not in by_url.text
    checkin = {
        "csrf_token": csrf,
        "_form": "checkin",
        "path.reservation_id": str(reservation.id),
        "nonce": "page-nonce-0002",
        "student_ids": [str(p.id) for p in pupils],
    }
    by_script = other.post("/console/do/group-checkin", data=checkin, headers=JSON)
    assert (by_script.status_code, by_script.json()["code"]) == (404, "reservation_not_found")
    by_form = other.post(
        "/console/do/group-checkin",
        data=checkin,
        headers={"Referer": f"http://testserver/console/school/visits/{reservation.id}"},
        follow_redirects=False,
    )
    assert by_form.status_code == 303
    assert "预约不存在" in other.get(by_form.headers["location"]).text
    cancel = other.post(
        "/console/do/reservation-cancel",
        data={"csrf_token": csrf, "path.reservation_id": str(reservation.id), "reason": "x"},
        headers=JSON,
    )
    assert cancel.status_code == 404
    # nor may it book side A's pupils into a slot
    booking = _book(other, csrf, slot.id or 0, [p.id or 0 for p in pupils])
    assert (booking.status_code, booking.json()["code"]) == (403, "student_other_school")

    assert _checked_in(session, activity) == []
    session.expire_all()
    assert session.get(Reservation, reservation.id).status == "confirmed"  # type: ignore[union-attr]
    assert (
        session.exec(
            select(Reservation).where(
                Reservation.slot_id == slot.id, col(Reservation.school_id) == side_b.school.id
            )
        ).all()
        == []
    )
