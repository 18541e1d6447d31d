"""Helpers of the attendance, minutes and certificate tests: a venue's role and shift with a
consented pupil signed up, the shift's code, and scans through the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from scipass.checkin import cards as checkin_cards
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.roster.models import Student
from scipass.volunteer.models import VolunteerRole, VolunteerShift, VolunteerSignup
from tests.factories import (
    NOW,
    Side,
    auth,
    create_volunteer_role,
    create_volunteer_shift,
    create_volunteer_signup,
    grant_consent,
)

START = datetime(2026, 10, 17, 1, 0, tzinfo=UTC)  # Saturday 09:00 Beijing
END = datetime(2026, 10, 17, 4, 0, tzinfo=UTC)  # 12:00
OLDER = date(2010, 5, 1)  # 16 in 2026: no guardian consent asked for a scan


@dataclass
class Api:
    """The test client with tokens minted at the frozen clock's time."""

    client: TestClient
    settings: Settings
    clock: FrozenClock

    def headers(self, principal: Principal, **extra: str) -> dict[str, str]:
        return {**auth(self.settings, principal, now=self.clock.now()), **extra}

    def get(self, url: str, principal: Principal | None = None, **kwargs: Any) -> Any:
        headers = self.headers(principal) if principal else {}
        return self.client.get(url, headers=headers, **kwargs)

    def post(self, url: str, principal: Principal, **kwargs: Any) -> Any:
        extra = kwargs.pop("extra_headers", {})
        return self.client.post(url, headers=self.headers(principal, **extra), **kwargs)


@dataclass
class Setup:
    role: VolunteerRole
    shift: VolunteerShift
    signup: VolunteerSignup


def consent(session: Session, side: Side) -> None:
    grant_consent(
        session, student=side.student, link=side.guardian_link, purposes=["participation_record"]
    )


def signed_up(session: Session, side: Side, **shift_overrides: Any) -> Setup:
    """Side's venue role (4 hours a day), its Saturday shift, and side's pupil (consented)
    holding a place on it: rows inserted directly, as the sign-up service would."""
    consent(session, side)
    role = create_volunteer_role(session, venue_id=side.venue.id)
    shift = create_volunteer_shift(session, role=role, **shift_overrides)
    signup = create_volunteer_signup(session, shift=shift, student=side.student)
    return Setup(role, shift, signup)


def shift_code(api: Api, side: Side, shift_id: int, kind: str = "static") -> dict[str, Any]:
    response = api.post(
        f"/api/v1/volunteer-shifts/{shift_id}/codes",
        side.principal(Role.venue_staff),
        json={"kind": kind},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def scan(
    api: Api,
    caller: Principal,
    link: str,
    key: str,
    direction: str = "entry",
    params: dict[str, Any] | None = None,
) -> Any:
    return api.post(
        "/api/v1/volunteer-attendance",
        caller,
        json={"code": link, "direction": direction},
        params=params or {},
        extra_headers={"Idempotency-Key": f"{key}-00000000"},
    )


def personal(settings: Settings, student: Student, at: datetime) -> str:
    return checkin_cards.personal_code(
        settings, student_id=student.id or 0, expires_at=at + timedelta(minutes=5)
    )


__all__ = ["END", "NOW", "START"]
