"""The demo world covers the venue directory, activities, slots, reservations, pairings and
directory editions (issue 4), whatever day it is loaded on."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.activity.models import Activity
from scipass.core.auth import Principal, Role
from scipass.core.clock import local_date
from scipass.demo import data, loader
from scipass.org.models import Bureau, Region, Venue
from scipass.pairing import service as pairing_service
from scipass.pairing.models import Pairing
from scipass.reservation.models import Reservation, ReservationMember, TimeSlot
from scipass.venue import hours
from scipass.venue import service as venue_service
from scipass.venue.models import DirectoryEdition, VenueHoursException, VenueResource
from tests.conftest import FROZEN_AT

NOWS = [
    FROZEN_AT,  # a Wednesday morning in Beijing
    datetime(2026, 12, 30, 15, 30, tzinfo=UTC),  # 23:30 on 30 December, Beijing
    datetime(2027, 3, 7, 4, 0, tzinfo=UTC),  # a Sunday in the spring semester
    datetime(2027, 8, 31, 16, 1, tzinfo=UTC),  # 00:01 on 1 September, Beijing
]
SEED_CITIES = ("430300", "150400", "140500")


@pytest.mark.parametrize("now", NOWS, ids=lambda now: now.date().isoformat())
def test_demo_covers_issue_4(session: Session, now: datetime) -> None:
    summary = loader.load(session, now=now)
    assert summary is not None
    today = local_date(now)
    venues = session.exec(select(Venue)).all()
    parents = {code: parent for code, _name, _level, parent in data.REGIONS}

    # listed venues with a profile in every seed city and in Xiangxiang
    listed = [v for v in venues if v.listed]
    for city in SEED_CITIES:
        assert any(parents[v.region_code] == city for v in listed)
    assert any(v.region_code == "430381" for v in listed)
    for venue in listed:
        assert venue.services
        assert venue.facilities
        assert venue.photos
        assert venue.open_weekdays == hours.open_weekdays(venue.weekly_hours) != "0000000"
        assert venue.is_free or venue.fee_note
    unlisted = [v for v in venues if not v.listed]
    assert unlisted
    assert all(v.review_status == "pending" and v.draft for v in unlisted)
    bureau = Principal(subject="t", role=Role.bureau, bureau_id=1, region_code="430300")
    assert venue_service.list_pending(session, actor=bureau)

    resources = session.exec(select(VenueResource)).all()
    assert {r.kind for r in resources} >= {"lab", "instrument", "show"}
    assert any(venue_service.is_major(r) for r in resources)
    exceptions = session.exec(select(VenueHoursException)).all()
    assert any(e.closed for e in exceptions)
    assert any(not e.closed for e in exceptions)

    activities = session.exec(select(Activity)).all()
    published = {a.kind for a in activities if a.status == "published"}
    assert published >= {
        "venue_visit",
        "lecture",
        "scientist_in_school",
        "science_camp",
        "mobile_museum",
    }
    assert any(a.school_id is not None and a.status == "published" for a in activities)

    # slots lie in the future, inside the venue's hours that day, with `taken` consistent
    slots = session.exec(select(TimeSlot)).all()
    assert len(slots) > 50
    by_id = {v.id: v for v in venues}
    confirmed: Counter[int] = Counter()
    reservations = session.exec(select(Reservation)).all()
    for r in reservations:
        if r.status == "confirmed":
            confirmed[r.slot_id] += r.party_size
    for slot in slots:
        venue = by_id[slot.venue_id]
        assert slot.starts_at > now
        periods = venue_service.periods_on(session, venue, local_date(slot.starts_at))
        assert hours.within(periods, slot.starts_at, slot.ends_at)
        assert slot.taken == confirmed[slot.id or 0]
    assert any(s.school_channel and s.school_priority_until for s in slots)
    kinds = Counter((r.kind, r.status) for r in reservations)
    assert kinds[("individual", "confirmed")]
    assert kinds[("group", "confirmed")]
    waitlisted = [r for r in reservations if r.status == "waitlisted"]
    assert waitlisted
    full = session.get(TimeSlot, waitlisted[0].slot_id)
    assert full is not None
    assert full.taken == full.capacity
    members = session.exec(select(ReservationMember)).all()
    active = [r for r in reservations if r.status != "cancelled"]
    assert len(members) == sum(r.students for r in active)

    statuses = {p.status for p in session.exec(select(Pairing)).all()}
    assert statuses >= {"active", "proposed"}
    coverage = pairing_service.coverage(session, actor=bureau, today=today, area="urban")
    assert {n > 0 for _school, n in coverage} == {True, False}

    editions = session.exec(select(DirectoryEdition)).all()
    assert sorted(e.region_code for e in editions) == sorted(SEED_CITIES)
    assert all(e.year == today.year and e.venue_count > 0 for e in editions)
    bureau_regions = {b.region_code for b in session.exec(select(Bureau)).all()}
    assert set(SEED_CITIES) <= bureau_regions
    assert session.get(Region, "430381") is not None


def test_demo_answers_the_public_api(session: Session, client: TestClient) -> None:
    assert loader.load(session, now=FROZEN_AT) is not None
    near = client.get("/api/v1/venues", params={"longitude": 112.53, "latitude": 27.73}).json()
    assert near["items"][0]["name"] == "湘乡市青少年校外活动中心"
    assert near["items"][0]["distance_m"] < 2000
    xiangtan = client.get("/api/v1/venues", params={"region_code": "430300"}).json()
    assert xiangtan["total"] >= 3
    activities = client.get("/api/v1/activities").json()
    assert activities["total"] >= 5
    venue_id = xiangtan["items"][0]["id"]
    slots = client.get(f"/api/v1/venues/{venue_id}/slots").json()
    assert slots["total"] > 0
    editions = client.get("/api/v1/directory-editions").json()
    assert editions["total"] == 3

    login = client.post(
        "/api/v1/auth/login", json={"username": "xt-bureau", "password": data.DEMO_PASSWORD}
    )
    token = login.json()["access_token"]
    reviews = client.get("/api/v1/venue-reviews", headers={"Authorization": f"Bearer {token}"})
    assert [r["name"] for r in reviews.json()] == ["湘潭县青少年科技教育基地"]
