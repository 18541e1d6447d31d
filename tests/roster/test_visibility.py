"""One policy for who sees a pupil's full name (roster/visibility.py), and every list and
export that shows pupils applying it: a table of role × list."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.core.auth import Principal, Role
from scipass.core.config import Settings
from scipass.record.models import ParticipationRecord, RecordNotice
from scipass.roster.visibility import mask_name, sees_full_name
from tests.checkin.test_checkin import END, START
from tests.checkin.test_staff_and_batches import personal
from tests.factories import (
    NOW,
    Side,
    auth,
    create_activity,
    create_record,
    create_reservation,
    create_slot,
    create_student,
    create_wechat_user,
    grant_consent,
    list_venue,
)

OWN, OTHER = 1, 2  # school ids in the pure table


@pytest.mark.parametrize(
    ("viewer", "school", "pupil", "on_notice", "full"),
    [
        (Principal("wechat:1", Role.student, school_id=OWN, student_id=7), OWN, 7, False, True),
        (Principal("wechat:1", Role.student, school_id=OWN, student_id=8), OWN, 7, False, False),
        (Principal("wechat:1", Role.student, school_id=OWN, student_id=8), OWN, 7, True, True),
        (Principal("wechat:1", Role.student, school_id=OTHER, student_id=8), OWN, 7, True, False),
        (Principal("wechat:2", Role.guardian), OWN, 7, False, True),
        (Principal("account:1", Role.school_staff, school_id=OWN), OWN, 7, False, True),
        (Principal("account:1", Role.school_admin, school_id=OWN), OWN, 7, False, True),
        (Principal("account:1", Role.school_staff, school_id=OTHER), OWN, 7, False, False),
        (Principal("account:1", Role.school_staff, school_id=OTHER), OWN, 7, True, False),
        (Principal("account:2", Role.venue_staff, venue_id=1), OWN, 7, False, False),
        (Principal("account:2", Role.venue_admin, venue_id=1), OWN, 7, True, False),
        (
            Principal("account:3", Role.bureau, bureau_id=1, region_code="970000"),
            OWN,
            7,
            False,
            False,
        ),
        (Principal("account:4", Role.platform_admin), OWN, 7, False, True),
    ],
)
def test_the_policy(
    viewer: Principal, school: int, pupil: int, on_notice: bool, full: bool
) -> None:
    assert sees_full_name(viewer, school_id=school, student_id=pupil, on_notice=on_notice) is full


def test_masking() -> None:
    assert [mask_name(n) for n in ("张小明", "王芳", "欧阳娜娜", "李")] == [
        "张*明",
        "王*",
        "欧**娜",
        "李",
    ]


@dataclass
class Scene:
    pupil: Any
    viewers: dict[str, Principal]
    lists: dict[str, tuple[str, Callable[[Any], list[str]]]]


def _json_names(field: str) -> Callable[[Any], list[str]]:
    return lambda response: [item[field] for item in response.json()["items"] if item.get(field)]


def _csv_names(column: str) -> Callable[[Any], list[str]]:
    def names(response: Any) -> list[str]:
        rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
        return [row[column] for row in rows]

    return names


@pytest.fixture
def scene(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> Scene:
    """Pupil 张小明 of school A has a visit at venue A (staff scan, so a record and a scan
    event too), a reservation there, and a record on a public notice of the school."""
    pupil = side_a.student
    pupil.name = "张小明"
    session.add(pupil)
    grant_consent(
        session,
        student=pupil,
        link=side_a.guardian_link,
        purposes=["participation_record", "photos", "location", "record_export"],
    )
    activity = create_activity(
        session, venue_id=side_a.venue.id or 0, starts_at=START, ends_at=END, admission="open"
    )
    scanned = client.post(
        f"/api/v1/activities/{activity.id}/staff-scans",
        json={"code": personal(settings, pupil), "nonce": "visibility-01"},
        headers=auth(settings, side_a.principal(Role.venue_staff)),
    )
    assert scanned.status_code == 201, scanned.text
    slot = create_slot(session, venue_id=list_venue(session, side_a.venue).id or 0)
    create_reservation(session, slot=slot, student=pupil)
    notice = RecordNotice(
        school_id=side_a.school.id or 0,
        title="本学期公示",
        working_days=5,
        starts_at=NOW,
        ends_at=NOW.replace(year=NOW.year + 1),
        record_count=1,
        opened_by="account:900001",
    )
    session.add(notice)
    session.flush()
    create_record(session, student=pupil, status="publicised", notice_id=notice.id)
    record = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.source == "checkin")
    ).one()
    classmate_user = create_wechat_user(session)
    classmate = create_student(
        session, school_id=side_a.school.id or 0, wechat_user_id=classmate_user.id
    )
    viewers = {
        "pupil": side_a.principal(Role.student),
        "classmate": Principal(
            f"wechat:{classmate_user.id}",
            Role.student,
            school_id=side_a.school.id,
            student_id=classmate.id,
        ),
        "guardian": side_a.principal(Role.guardian),
        "own_school": side_a.principal(Role.school_admin),
        "other_school": side_b.principal(Role.school_admin),
        "venue": side_a.principal(Role.venue_admin),
        "bureau": side_a.principal(Role.bureau),
        "platform": side_a.principal(Role.platform_admin),
    }
    lists = {
        "records": ("/api/v1/records", _json_names("student_name")),
        "record": (f"/api/v1/records/{record.id}", lambda r: [r.json()["student_name"]]),
        "record_export": ("/api/v1/record-exports?format=csv", _csv_names("姓名")),
        "attendees": (f"/api/v1/activities/{activity.id}/checkins", _json_names("student_name")),
        "attendee_export": (f"/api/v1/activities/{activity.id}/checkins.csv", _csv_names("姓名")),
        "scan_events": (
            f"/api/v1/activities/{activity.id}/scan-events",
            _json_names("student_name"),
        ),
        "school_scan_events": ("/api/v1/school-scan-events", _json_names("student_name")),
        "slot_reservations": (
            f"/api/v1/slots/{slot.id}/reservations",
            _json_names("student_name"),
        ),
        "school_reservations": ("/api/v1/school-reservations", _json_names("student_name")),
        "my_reservations": ("/api/v1/me/reservations", _json_names("student_name")),
        "notice": (f"/api/v1/notices/{notice.id}/entries", _json_names("name")),
    }
    return Scene(pupil, viewers, lists)


# The cells that must be seen (the viewer may call the list and finds the pupil on it), and
# how: full or masked. Every other cell is a refusal or an empty list.
EXPECTED = {
    ("records", "pupil"): "full",
    ("records", "guardian"): "full",
    ("records", "own_school"): "full",
    ("records", "venue"): "masked",
    ("records", "bureau"): "masked",
    ("records", "platform"): "full",
    ("record", "venue"): "masked",
    ("record", "bureau"): "masked",
    ("record", "own_school"): "full",
    ("record_export", "own_school"): "full",
    ("record_export", "bureau"): "masked",
    ("record_export", "pupil"): "full",
    ("attendees", "venue"): "masked",
    ("attendees", "platform"): "full",
    ("attendee_export", "venue"): "masked",
    ("scan_events", "venue"): "masked",
    ("school_scan_events", "own_school"): "full",
    ("slot_reservations", "venue"): "masked",
    ("school_reservations", "own_school"): "full",
    ("my_reservations", "pupil"): "full",
    ("notice", "pupil"): "full",
    ("notice", "classmate"): "full",
    ("notice", "guardian"): "full",
    ("notice", "own_school"): "full",
}


def test_every_list_shows_names_by_the_one_policy(
    client: TestClient, settings: Settings, scene: Scene
) -> None:
    full, masked = scene.pupil.name, mask_name(scene.pupil.name)
    seen: dict[tuple[str, str], str] = {}
    for list_name, (url, names_of) in scene.lists.items():
        for viewer_name, viewer in scene.viewers.items():
            response = client.get(url, headers=auth(settings, viewer))
            if response.status_code != 200:
                continue
            names = [n for n in names_of(response) if n in (full, masked)]
            if not names:
                continue
            expected = (
                full
                if sees_full_name(
                    viewer,
                    school_id=scene.pupil.school_id,
                    student_id=scene.pupil.id,
                    on_notice=list_name == "notice",
                )
                else masked
            )
            assert set(names) == {expected}, (list_name, viewer_name, names)
            seen[(list_name, viewer_name)] = "full" if expected == full else "masked"
    missing = {cell: how for cell, how in EXPECTED.items() if seen.get(cell) != how}
    assert missing == {}
    # nobody outside the policy's "full" ever saw the full name
    assert not any(
        how == "full" and viewer in {"venue", "bureau", "other_school"}
        for (_, viewer), how in seen.items()
    )


def test_staff_reading_the_roster_is_audited(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    """The yearly audit counts staff's reads of pupils' data: the roster list and a pupil's
    entry are audited (who, which school, how many rows), a pupil's own reads are not."""
    from scipass.audit.models import AuditLog

    headers = auth(settings, side_a.principal(Role.school_staff))
    listed = client.get("/api/v1/students", headers=headers)
    assert listed.status_code == 200
    one = client.get(f"/api/v1/students/{side_a.student.id}", headers=headers)
    assert one.status_code == 200
    entries = session.exec(
        select(AuditLog).where(AuditLog.action == "students_viewed").order_by(AuditLog.id)
    ).all()
    assert [(e.actor_role, e.school_id, e.object_id) for e in entries] == [
        ("school_staff", side_a.school.id, None),
        ("school_staff", side_a.school.id, str(side_a.student.id)),
    ]
    assert f'"row_count": {len(listed.json()["items"])}' in entries[0].detail
