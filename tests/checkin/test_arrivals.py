"""An activity's arrivals as its organiser watches them live: visits and refusals counted by
Beijing hour, refusals by reason with the Chinese the pupil saw, no pupil named, other
organisers refused."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from sqlmodel import Session

from scipass.checkin.models import CheckIn, ScanEvent
from scipass.core.auth import Role
from scipass.core.config import Settings
from tests.factories import NOW, Side, auth, create_activity, create_student


def _visit(
    session: Session, activity_id: int, student_id: int, school_id: int, **at: datetime
) -> None:
    session.add(
        CheckIn(
            activity_id=activity_id,
            student_id=student_id,
            school_id=school_id,
            day=date(2026, 10, 14),
            source="self_scan",
            entered_at=at["entered"],
            exited_at=at.get("exited"),
            closed_by="exit_scan" if at.get("exited") else None,
            operator="test",
            created_at=NOW,
            updated_at=NOW,
        )
    )


def _refusal(session: Session, activity_id: int, reason: str, at: datetime, n: int) -> None:
    session.add(
        ScanEvent(
            activity_id=activity_id,
            direction="entry",
            source="self_scan",
            operator=f"wechat:{n}",
            nonce=f"nonce-{n}",
            fingerprint=f"f{n}",
            server_time=at,
            result="refused",
            reason=reason,
            distance_m=850 if reason == "out_of_geofence" else None,
        )
    )


def test_arrivals_count_by_beijing_hour_and_refusals_by_reason(
    client: TestClient, session: Session, settings: Settings, side_a: Side, side_b: Side
) -> None:
    venue = side_a.venue.id or 0
    activity = create_activity(
        session,
        venue_id=venue,
        starts_at=datetime(2026, 10, 14, 1, 0, tzinfo=UTC),
        ends_at=datetime(2026, 10, 14, 8, 0, tzinfo=UTC),
    )
    school = side_a.school.id or 0
    pupils = [create_student(session, school_id=school, binding_code=None) for _ in range(3)]
    # 09:10, 09:50 and 10:05 in Beijing; the first left at 10:30
    _visit(
        session,
        activity.id or 0,
        pupils[0].id or 0,
        school,
        entered=datetime(2026, 10, 14, 1, 10, tzinfo=UTC),
        exited=datetime(2026, 10, 14, 2, 30, tzinfo=UTC),
    )
    _visit(
        session,
        activity.id or 0,
        pupils[1].id or 0,
        school,
        entered=datetime(2026, 10, 14, 1, 50, tzinfo=UTC),
    )
    _visit(
        session,
        activity.id or 0,
        pupils[2].id or 0,
        school,
        entered=datetime(2026, 10, 14, 2, 5, tzinfo=UTC),
    )
    _refusal(
        session, activity.id or 0, "out_of_geofence", datetime(2026, 10, 14, 1, 20, tzinfo=UTC), 1
    )
    _refusal(
        session, activity.id or 0, "out_of_geofence", datetime(2026, 10, 14, 1, 40, tzinfo=UTC), 2
    )
    _refusal(
        session, activity.id or 0, "consent_required", datetime(2026, 10, 14, 1, 59, tzinfo=UTC), 3
    )
    # the day before (Beijing): not counted
    _refusal(
        session, activity.id or 0, "not_started", datetime(2026, 10, 13, 15, 59, tzinfo=UTC), 4
    )
    session.flush()

    staff = auth(settings, side_a.principal(Role.venue_staff))
    answer = client.get(f"/api/v1/activities/{activity.id}/arrivals", headers=staff)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["day"] == "2026-10-14"  # today in Beijing by default
    assert (found["visits"], found["present"], found["refused"]) == (3, 2, 3)
    assert found["hours"] == [
        {"hour": 9, "arrivals": 2, "departures": 0, "refused": 3},
        {"hour": 10, "arrivals": 1, "departures": 1, "refused": 0},
    ]
    assert found["reasons"] == [
        {"reason": "out_of_geofence", "title": "你不在活动现场范围内", "count": 2},
        {"reason": "consent_required", "title": "需要监护人同意记录参与活动后才能签到", "count": 1},
    ]
    recent = found["recent_refused"]
    assert [e["reason"] for e in recent] == [
        "consent_required",
        "out_of_geofence",
        "out_of_geofence",
    ]
    assert recent[1]["distance_m"] == 850
    assert "student_name" not in recent[0]
    assert "student_id" not in recent[0]

    day_before = client.get(
        f"/api/v1/activities/{activity.id}/arrivals", params={"day": "2026-10-13"}, headers=staff
    ).json()
    assert (day_before["visits"], day_before["refused"]) == (0, 1)
    assert day_before["reasons"][0]["title"] == "活动尚未开始签到"

    other = auth(settings, side_b.principal(Role.venue_admin))
    refused = client.get(f"/api/v1/activities/{activity.id}/arrivals", headers=other)
    assert refused.status_code == 404
