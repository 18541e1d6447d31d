"""志愿服务记录证明 (issue 18 point 7): issued from confirmed records after the publicity
period, its text parsed back equals the confirmed data, its QR code opens the public
verification, which answers valid, then voided once a record is voided; a new one can then
be issued. And the national system's export."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfReader
from sqlmodel import Session, select

from scipass.audit.models import AuditLog
from scipass.checkin.render import qr_png
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.record import notices as record_notices
from tests.factories import Side
from tests.volunteer.factories_attendance import END, START, Api, signed_up

CERTIFY = {
    "from_date": "2026-10-01",
    "to_date": "2026-10-31",
    "person_in_charge": "李馆长",
    "handler": "赵老师",
    "contact": "0731-88880000",
}


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


def confirmed_record(api: Api, session: Session, side: Side, clock: FrozenClock) -> int:
    """A shift served 09:00-11:30 and confirmed (150 minutes): the record's id."""
    setup = signed_up(session, side)
    setup.signup.arrived_at, setup.signup.left_at = START, START + timedelta(minutes=150)
    setup.signup.status = "attended"
    session.add(setup.signup)
    session.flush()
    clock.set(END + timedelta(hours=1))
    confirmed = api.post(
        f"/api/v1/volunteer-shifts/{setup.shift.id}/minutes",
        side.principal(Role.venue_staff),
        json={},
    )
    assert confirmed.status_code == 200, confirmed.text
    return int(confirmed.json()[0]["record_id"])


def issue(api: Api, side: Side) -> Any:
    return api.post(
        "/api/v1/volunteer-certificates",
        side.principal(Role.venue_staff),
        json={"student_id": side.student.id, **CERTIFY},
    )


def archive(api: Api, session: Session, side: Side, record_id: int) -> None:
    me = side.principal(Role.student)
    assert (
        api.post(f"/api/v1/records/{record_id}/student-confirmation", me, json={}).status_code
        == 200
    )
    review = api.post(
        f"/api/v1/records/{record_id}/review",
        side.principal(Role.school_staff),
        json={"decision": "approve"},
    )
    assert review.status_code == 200, review.text
    notice = api.post("/api/v1/notices", side.principal(Role.school_admin), json={"title": "公示"})
    assert notice.status_code == 201, notice.text
    session.expire_all()
    ends = datetime.fromisoformat(notice.json()["ends_at"])
    assert record_notices.archive_due(session, now=ends) == 1
    session.flush()
    session.expire_all()


def test_certificate_text_qr_and_voiding(
    api: Api, session: Session, side_a: Side, clock: FrozenClock, settings: Settings
) -> None:
    record_id = confirmed_record(api, session, side_a, clock)
    # not before the publicity period within the venue has passed
    early = issue(api, side_a)
    assert (early.status_code, early.json()["code"]) == (409, "volunteer_nothing_to_certify")
    clock.set(END + timedelta(days=8))
    issued = issue(api, side_a)
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert (body["minutes"], body["hours"], body["times"], body["status"]) == (150, 2.5, 1, "valid")
    assert body["lines"] == [
        {
            "role_name": "小小志愿者",
            "content": "引导、秩序",
            "minutes": 150,
            "hours": 2.5,
            "times": 1,
        }
    ]
    number = body["number"]
    assert number.startswith("ZYFW-2026-")
    assert len(number) == len("ZYFW-2026-") + 16
    assert issued.json()["verify_url"] == settings.certificate_verify_base + number
    audit = session.exec(
        select(AuditLog).where(AuditLog.action == "volunteer_certificate_issued")
    ).one()
    assert audit.object_id == str(body["id"])
    # a second one for the same shifts is refused while the first is valid
    assert issue(api, side_a).json()["code"] == "volunteer_certificate_exists"

    # the PDF's text is the confirmed data; its QR code is the verification link
    pdf = api.get(
        f"/api/v1/volunteer-certificates/{body['id']}/pdf", side_a.principal(Role.student)
    )
    assert pdf.status_code == 200, pdf.text
    reader = PdfReader(io.BytesIO(pdf.content))
    text = "".join(page.extract_text() for page in reader.pages).replace(" ", "")
    for expected in (
        "志愿服务记录证明",
        f"证明编号：{number}",
        f"志愿者姓名：{side_a.student.name}",
        f"所在学校：{side_a.school.name}",
        "服务时长合计：2.5小时（150分钟），共1次",
        "小小志愿者",
        "引导、秩序",
        f"出具单位：{side_a.venue.name}",
        "单位负责人：李馆长",
        "经办人：赵老师",
        "联系方式：0731-88880000",
    ):
        assert expected in text, expected
    assert "身份证" not in text
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 1
    shown = images[0].image.convert("L")
    expected_qr = Image.open(io.BytesIO(qr_png(body["verify_url"], box_size=4))).convert("L")
    assert shown.size == expected_qr.size
    assert shown.tobytes() == expected_qr.tobytes()
    path = body["verify_url"].removeprefix("https://scipass.example.cn")
    valid = api.get(path).json()
    assert valid["status"] == "valid"
    assert valid["student_name"] != side_a.student.name
    assert valid["student_name"][0] == side_a.student.name[0]
    assert valid["hours"] == 2.5
    assert (
        api.get("/api/v1/volunteer-certificates/verify/ZYFW-2026-NOSUCHNUMBER0000").json()["status"]
        == "unknown"
    )

    # the school voids the archived record: the certificate is voided
    archive(api, session, side_a, record_id)
    voided = api.post(
        f"/api/v1/records/{record_id}/void",
        side_a.principal(Role.school_admin),
        json={"reason": "时长登记错误", "correction": {"minutes": 120}},
    )
    assert voided.status_code == 201, voided.text
    assert api.get(path).json()["status"] == "voided"
    assert (
        api.get(
            f"/api/v1/volunteer-certificates/{body['id']}", side_a.principal(Role.venue_staff)
        ).json()["status"]
        == "voided"
    )
    # a new certificate can be issued: the correction counts in the voided record's place
    renewed = issue(api, side_a)
    assert renewed.status_code == 201, renewed.text
    assert (renewed.json()["minutes"], renewed.json()["status"]) == (120, "valid")
    assert renewed.json()["number"] != number
    assert api.get(path).json()["status"] == "voided"


def test_others_cannot_read_a_certificate(
    api: Api, session: Session, side_a: Side, side_b: Side, clock: FrozenClock
) -> None:
    confirmed_record(api, session, side_a, clock)
    clock.set(END + timedelta(days=8))
    body = issue(api, side_a).json()
    for role in (Role.venue_staff, Role.school_staff, Role.student):
        other = api.get(f"/api/v1/volunteer-certificates/{body['id']}", side_b.principal(role))
        assert other.status_code == 404, role
    own_school = api.get(
        f"/api/v1/volunteer-certificates/{body['id']}", side_a.principal(Role.school_staff)
    )
    assert own_school.status_code == 200
    school_issues = api.post(
        "/api/v1/volunteer-certificates",
        side_a.principal(Role.school_admin),
        json={"student_id": side_a.student.id, **CERTIFY},
    )
    assert school_issues.status_code == 403


def test_the_national_systems_export(
    api: Api, session: Session, side_a: Side, clock: FrozenClock
) -> None:
    confirmed_record(api, session, side_a, clock)
    response = api.get(
        "/api/v1/volunteer-hours/national.csv",
        side_a.principal(Role.venue_staff),
        params={"student_id": side_a.student.id},
    )
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["志愿者姓名", "证件类型", "证件号码"]
    assert rows[1][0] == side_a.student.name
    assert rows[1][5:8] == ["2026-10-17 09:00", "2026-10-17 11:30", "2.5"]
    assert session.exec(select(AuditLog).where(AuditLog.action == "volunteer_hours_exported")).one()
