"""Mobile science museum tours (who records them, where, and who reads them) and school
calendars (set by a region's bureau, inherited below, the default rule otherwise)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Principal, Role
from scipass.core.config import Settings
from scipass.org import calendars
from scipass.org.measures_models import MobileMuseumTour, SchoolCalendar
from tests.factories import Side, auth, create_region, create_school, create_side


def count(session: Session, model: Any) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def audited(session: Session, action: str) -> list[AuditLog]:
    query = select(AuditLog).where(AuditLog.action == action).order_by(col(AuditLog.id))
    return list(session.exec(query).all())


def tour(school_id: int | None, **overrides: Any) -> dict[str, Any]:
    return {
        "visited_school_id": school_id,
        "starts_on": "2026-10-12",
        "ends_on": "2026-10-30",
        "note": "流动科技馆“力与运动”主题展",
        **overrides,
    }


# --- mobile museum tours ----------------------------------------------------------------------


def test_venue_bureau_and_school_record_tours_and_each_reads_its_own(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    remote = create_school(session, region_code="970101", area="rural", remote=True)
    venue = auth(settings, side_a.principal(Role.venue_staff))
    by_venue = client.post("/api/v1/mobile-museum-tours", json=tour(remote.id), headers=venue)
    assert by_venue.status_code == 201, by_venue.text
    assert (by_venue.json()["organiser"], by_venue.json()["days"]) == ("venue", 19)
    bureau = auth(settings, side_a.principal(Role.bureau))
    by_bureau = client.post(
        "/api/v1/mobile-museum-tours",
        json=tour(remote.id, starts_on="2027-03-01", ends_on="2027-03-01"),
        headers=bureau,
    ).json()
    assert (by_bureau["organiser"], by_bureau["bureau_id"], by_bureau["days"]) == (
        "bureau",
        side_a.bureau.id,
        1,
    )
    school = auth(settings, side_a.principal(Role.school_admin))
    by_school = client.post(
        "/api/v1/mobile-museum-tours",
        json=tour(remote.id, starts_on="2027-09-01", ends_on="2027-09-10"),
        headers=school,
    ).json()
    assert (by_school["organiser"], by_school["school_id"]) == ("school", side_a.school.id)

    def seen(headers: dict[str, str], **params: Any) -> tuple[list[int], int]:
        page = client.get("/api/v1/mobile-museum-tours", params=params, headers=headers).json()
        return [t["id"] for t in page["items"]], page["days"]

    ids = by_venue.json()["id"], by_bureau["id"], by_school["id"]
    assert seen(venue) == ([ids[0]], 19)
    assert seen(school) == ([ids[2]], 10)  # its own tour; none came to it
    # the bureau sees every tour to a school of its region, newest first
    assert seen(bureau) == ([ids[2], ids[1], ids[0]], 30)
    assert seen(bureau, school_year=2026) == ([ids[1], ids[0]], 20)
    # the school visited sees every tour to it
    visited = Principal(subject="account:1", role=Role.school_staff, school_id=remote.id)
    assert seen(auth(settings, visited)) == (list(ids[::-1]), 30)
    entries = audited(session, "mobile_museum_tour_recorded")
    assert [e.school_id for e in entries] == [remote.id] * 3


def test_tours_stay_in_the_organisers_reach(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    # another province's school: refused to the venue, the bureau and the school alike
    for role in (Role.venue_admin, Role.bureau, Role.school_staff):
        refused = client.post(
            "/api/v1/mobile-museum-tours",
            json=tour(side_b.school.id),
            headers=auth(settings, side_a.principal(role)),
        )
        assert (refused.status_code, refused.json()["code"]) == (403, "outside_region"), role
    # a county bureau does not reach the neighbouring county; the city's venue does
    create_region(session, "970102", "县970102", "county", "970100")
    neighbour = create_school(session, region_code="970102")
    county = create_side(session, province="970000", city="970100", county="970101")
    county.bureau.region_code = "970101"
    session.add(county.bureau)
    session.flush()
    county_bureau = auth(settings, county.principal(Role.bureau))
    assert (
        client.post(
            "/api/v1/mobile-museum-tours", json=tour(neighbour.id), headers=county_bureau
        ).json()["code"]
        == "outside_region"
    )
    venue = auth(settings, side_a.principal(Role.venue_staff))
    assert (
        client.post(
            "/api/v1/mobile-museum-tours", json=tour(neighbour.id), headers=venue
        ).status_code
        == 201
    )
    # the other side sees none of side A's tours
    for role in (Role.bureau, Role.venue_admin, Role.school_admin):
        page = client.get(
            "/api/v1/mobile-museum-tours", headers=auth(settings, side_b.principal(role))
        ).json()
        assert page["total"] == 0, role
    assert count(session, MobileMuseumTour) == 1


def test_a_bad_tour_changes_nothing(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    venue = auth(settings, side_a.principal(Role.venue_staff))
    school = auth(settings, side_a.principal(Role.school_admin))
    for body, headers, code in (
        (tour(side_a.school.id, ends_on="2026-10-11"), venue, "mobile_museum_tour_invalid"),
        (tour(side_a.school.id, ends_on="2027-10-13"), venue, "mobile_museum_tour_invalid"),
        (tour(side_a.school.id), school, "mobile_museum_tour_invalid"),  # to itself
        (tour(999_999), venue, "organisation_not_found"),
        (tour(None), venue, "validation_failed"),
        (tour(side_a.school.id, note="注" * 201), venue, "validation_failed"),
    ):
        answer = client.post("/api/v1/mobile-museum-tours", json=body, headers=headers)
        assert answer.json()["code"] == code, body
    assert (
        client.post(
            "/api/v1/mobile-museum-tours",
            json=tour(side_a.school.id),
            headers=auth(settings, side_a.principal(Role.platform_admin)),
        ).status_code
        == 403
    )
    # a year to the day is the longest
    longest = tour(side_a.school.id, starts_on="2026-09-01", ends_on="2027-09-01")
    assert (
        client.post("/api/v1/mobile-museum-tours", json=longest, headers=venue).json()["days"]
        == 366
    )
    assert count(session, MobileMuseumTour) == 1
    assert len(audited(session, "mobile_museum_tour_recorded")) == 1


# --- school calendars -------------------------------------------------------------------------

TERMS = {
    "autumn_start": "2026-09-01",
    "autumn_end": "2027-01-22",
    "spring_start": "2027-02-22",
    "spring_end": "2027-07-02",
}


def test_a_calendar_is_inherited_by_the_regions_below_until_they_set_their_own(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    county_url = "/api/v1/regions/970101/school-calendars/2026"
    default = client.get(county_url).json()
    assert default["source_region_code"] is None
    assert (default["autumn_start"], default["spring_end"]) == ("2026-09-01", "2027-08-31")

    bureau = auth(settings, side_a.principal(Role.bureau))  # the city's bureau
    city = client.put("/api/v1/regions/970100/school-calendars/2026", json=TERMS, headers=bureau)
    assert city.status_code == 200, city.text
    inherited = client.get(county_url).json()
    assert (inherited["source_region_code"], inherited["autumn_end"]) == ("970100", "2027-01-22")
    assert (
        client.get("/api/v1/regions/970000/school-calendars/2026").json()["source_region_code"]
        is None
    )
    assert (
        client.get("/api/v1/regions/970101/school-calendars/2027").json()["source_region_code"]
        is None
    )

    own = {**TERMS, "autumn_start": "2026-08-31"}
    client.put(county_url, json=own, headers=bureau).raise_for_status()
    assert client.get(county_url).json()["autumn_start"] == "2026-08-31"
    terms = calendars.effective_calendar(session, "970101", 2026)
    assert (terms.source_region_code, str(terms.autumn_start)) == ("970101", "2026-08-31")

    # saving again replaces the row (one a region and year), audited before and after
    replaced = client.put(county_url, json={**own, "spring_end": "2027-07-09"}, headers=bureau)
    assert replaced.json()["spring_end"] == "2027-07-09"
    rows = session.exec(select(SchoolCalendar).where(SchoolCalendar.region_code == "970101")).all()
    assert [str(r.spring_end) for r in rows] == ["2027-07-09"]
    entries = audited(session, "school_calendar_set")
    assert [e.object_id for e in entries] == ["970100/2026", "970101/2026", "970101/2026"]
    assert '"before": null' in entries[1].detail
    assert '"spring_end": "2027-07-02"' in entries[2].detail


def test_a_bad_calendar_changes_nothing(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    url = "/api/v1/regions/970100/school-calendars/2026"
    bureau = auth(settings, side_a.principal(Role.bureau))
    for body in (
        {**TERMS, "autumn_end": "2027-02-22"},  # the terms overlap
        {**TERMS, "autumn_start": "2027-01-23"},  # out of order
        {**TERMS, "autumn_start": "2026-07-31"},  # before the school year
        {**TERMS, "spring_end": "2027-09-01"},  # after it
    ):
        answer = client.put(url, json=body, headers=bureau)
        assert (answer.status_code, answer.json()["code"]) == (422, "school_calendar_invalid")
    assert client.put(url, json={**TERMS, "spring_end": None}, headers=bureau).status_code == 422
    assert (
        client.put(
            "/api/v1/regions/970100/school-calendars/1999", json=TERMS, headers=bureau
        ).json()["code"]
        == "validation_failed"
    )
    # another region's bureau, a school, an unknown region
    other = client.put(url, json=TERMS, headers=auth(settings, side_b.principal(Role.bureau)))
    assert (other.status_code, other.json()["code"]) == (403, "outside_region")
    above = client.put("/api/v1/regions/970000/school-calendars/2026", json=TERMS, headers=bureau)
    assert above.json()["code"] == "outside_region"  # a city bureau does not set its province's
    school = client.put(
        url, json=TERMS, headers=auth(settings, side_a.principal(Role.school_admin))
    )
    assert school.status_code == 403
    platform = auth(settings, side_a.principal(Role.platform_admin))
    unknown = client.put(
        "/api/v1/regions/990000/school-calendars/2026", json=TERMS, headers=platform
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "region_not_found")
    assert client.get("/api/v1/regions/990000/school-calendars/2026").status_code == 404
    assert count(session, SchoolCalendar) == 0
    assert audited(session, "school_calendar_set") == []
