"""The demo's volunteering (issue 18 point 8): roles and a term of Saturday shifts at two
venues, sign-ups in every state, scanned attendance, confirmed minutes (one changed with a
reason, one no-show), records, consents and a certificate that verifies, whatever day it is
loaded on; and the accounts file says who tries each step."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.checkin.models import ScanEvent
from scipass.consent.models import ConsentRecord
from scipass.demo import data
from scipass.record.models import ParticipationRecord
from scipass.volunteer.models import (
    NotificationOutbox,
    VolunteerCertificate,
    VolunteerRole,
    VolunteerShift,
    VolunteerSignup,
)
from tests.conftest import FROZEN_AT
from tests.demo.test_demo import NOWS
from tests.demo_world import loaded_on


@loaded_on(*NOWS)
def test_demo_volunteering_in_every_state(
    session: Session, demo: dict[str, Any], now: datetime
) -> None:
    summary = demo
    roles = session.exec(select(VolunteerRole)).all()
    assert {r.name for r in roles} == {"小小志愿者", "小小科普辅导员", "科普小达人"}
    assert len({r.venue_id for r in roles}) == 2
    shifts = session.exec(select(VolunteerShift)).all()
    assert len(shifts) >= 30
    assert len({s.series_key for s in shifts}) == 3
    signups = session.exec(select(VolunteerSignup)).all()
    statuses = Counter(s.status for s in signups)
    assert {"signed_up", "waitlisted", "cancelled", "attended", "no_show"} <= set(statuses)
    assert statuses["waitlisted"] == 2
    assert statuses["cancelled"] == 1
    assert statuses["no_show"] == 1
    promoted = [s for s in signups if s.promoted_at is not None]
    assert len(promoted) == 1
    assert session.exec(
        select(NotificationOutbox).where(NotificationOutbox.kind == "volunteer_promoted")
    ).all()
    attended = [s for s in signups if s.status == "attended"]
    assert all(s.confirmed_minutes and s.record_id for s in attended)
    assert any(s.minutes_reason for s in attended)
    # a future shift with open places
    future = [s for s in shifts if s.starts_at > now and s.taken < s.capacity]
    assert future
    # scans through the shift services: self scans and one staff scan
    events = session.exec(select(ScanEvent).where(col(ScanEvent.shift_id).is_not(None))).all()
    assert {e.source for e in events} == {"self_scan", "staff_scan"}
    records = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.source == "volunteer")
    ).all()
    assert len(records) == len(attended)
    assert any(r.status == "reviewed" and r.student_confirmed_at for r in records)
    consents = session.exec(
        select(ConsentRecord).where(ConsentRecord.purpose == "volunteering")
    ).all()
    assert {c.channel for c in consents} == {"mini_program", "paper"}
    certificates = session.exec(select(VolunteerCertificate)).all()
    assert len(certificates) == 1
    assert certificates[0].minutes > 0
    assert session.exec(
        select(AuditLog).where(AuditLog.action == "volunteer_certificate_issued")
    ).all()
    tries = {a.get("username") or a.get("wechat_code"): a for a in summary["accounts"]}
    for who in data.VOLUNTEER_HINTS:
        if who != "anyone":
            assert "志愿服务" in tries[who]["try"], who
    assert certificates[0].number in tries["xtkjg-staff"]["try"]
    assert summary["volunteer_shifts"] == len(shifts)


@loaded_on(FROZEN_AT)
def test_demo_volunteering_answers_the_api(session: Session, client: TestClient) -> None:
    certificate = session.exec(select(VolunteerCertificate)).one()

    def login(**body: str) -> dict[str, str]:
        path = "/api/v1/auth/wechat" if "code" in body else "/api/v1/auth/login"
        response = client.post(path, json=body)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    verified = client.get(f"/api/v1/volunteer-certificates/verify/{certificate.number}")
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "valid"
    staff = login(username="xtkjg-staff", password=data.DEMO_PASSWORD)
    pdf = client.get(f"/api/v1/volunteer-certificates/{certificate.id}/pdf", headers=staff)
    assert pdf.status_code == 200, pdf.text
    assert pdf.content.startswith(b"%PDF")
    pupil = login(code="dev-xiaoming")
    hours = client.get("/api/v1/me/volunteer-hours", headers=pupil)
    assert hours.status_code == 200, hours.text
    assert hours.json()["years"][0]["minutes"] > 0
    school = login(username="heping-admin", password=data.DEMO_PASSWORD)
    totals = client.get("/api/v1/volunteer-hours/school?min_hours=5", headers=school)
    assert totals.status_code == 200, totals.text
