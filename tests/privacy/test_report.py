"""The yearly audit report (issue 20 point 5): every figure equals a count taken directly from
the tables with SQL written here, for the platform and for a bureau; a bureau's report holds
nothing of another region; the XLSX and PDF carry the same figures; bad periods are refused.

The world: two regions. Region A's school has pupils under 14 (one of them turning 14 in the
period's last month: still under 14), one of 15, one adult, and one added after the period;
consents given, refused, withdrawn, one given before the period, one after it, one through a
guardian whose link was revoked; audit entries of several roles and organisations, inside and
outside the period; deletion requests carried out, open, and carried out after the period;
purge runs and deletion log entries; incidents of region A, of the platform, of region B and
before the period. Region B mirrors a little of it.
"""

from __future__ import annotations

import io
import json
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import Date, String, bindparam, text
from sqlmodel import Session

from scipass.account.models import Account
from scipass.audit import service as audit_service
from scipass.audit.service import ACTION_KINDS, Action, ActionKind
from scipass.consent.models import ConsentRecord, Purpose
from scipass.consent.service import NOTICE_VERSION
from scipass.core.auth import Principal, Role
from scipass.core.config import Settings
from scipass.core.db import UTCDateTime
from scipass.deletion.models import DeletionRequest
from scipass.privacy.models import PrivacyIncident
from scipass.roster.models import GuardianLink, Student
from tests.factories import Side, auth, create_student, create_wechat_user, link_guardian

URL = "/api/v1/privacy-audit-report"
START, END = date(2026, 1, 1), date(2026, 10, 14)  # the clock: 2026-10-14 10:00 Beijing
START_AT = datetime(2025, 12, 31, 16, tzinfo=UTC)  # 2026-01-01 00:00 in Beijing
END_AT = datetime(2026, 10, 13, 16, tzinfo=UTC)  # 2026-10-14 00:00 in Beijing
# Ages on the last day (2026-10-13), birth month only: under 14 until the end of the month of
# the 14th birthday, i.e. born in or after October 2012; under 18: in or after October 2008.
UNDER_14, UNDER_18 = date(2012, 10, 1), date(2008, 10, 1)
HELD_FROM = datetime(2026, 2, 1, tzinfo=UTC)
IN = datetime(2026, 9, 10, 2, tzinfo=UTC)
ACCESS_SEEN = ("records_viewed", "child_data_copied", "evidence_viewed")
EXPORT_SEEN = ("records_exported", "checkins_exported")


def _sql(session: Session, sql: str, **params: Any) -> list[Any]:
    """Raw SQL with typed parameters: instants as the column type stores them, dates, lists
    expanded, text (the region prefix, NULL for the platform)."""

    def typed(name: str, value: Any) -> Any:
        if isinstance(value, datetime):
            return bindparam(name, type_=UTCDateTime())
        if isinstance(value, date):
            return bindparam(name, type_=Date())
        if isinstance(value, list):
            return bindparam(name, expanding=True)
        return bindparam(name, type_=String())

    statement = text(sql).bindparams(*(typed(k, v) for k, v in params.items()))
    return list(session.connection().execute(statement, params).all())


def _at(value: Any) -> datetime | None:
    """An instant read by raw SQL: SQLite answers text, PostgreSQL an aware datetime."""
    if value is None:
        return None
    found = datetime.fromisoformat(value) if isinstance(value, str) else value
    return found if found.tzinfo else found.replace(tzinfo=UTC)


# The statements, written out whole. The age group on the last day is
# CASE WHEN s.birth_month >= :u14 THEN 'under_14' WHEN s.birth_month >= :u18 THEN
# 'from_14_to_17' ELSE 'adults' END; ``:prefix`` is a region's code prefix with ``%``, NULL for
# the platform; an audit entry is in a region by its region code, or by its school when it
# carries no region.
AGES = {"u14": UNDER_14, "u18": UNDER_18}
PUPILS_HELD = """
SELECT CASE WHEN s.birth_month >= :u14 THEN 'under_14' WHEN s.birth_month >= :u18
       THEN 'from_14_to_17' ELSE 'adults' END, COUNT(*)
FROM student s JOIN school sc ON sc.id = s.school_id
WHERE (CAST(:prefix AS VARCHAR(8)) IS NULL OR sc.region_code LIKE :prefix)
  AND s.created_at < :end
GROUP BY 1
"""
DECISIONS = """
SELECT c.purpose, c.decision, CASE WHEN s.birth_month >= :u14 THEN 'under_14'
       WHEN s.birth_month >= :u18 THEN 'from_14_to_17' ELSE 'adults' END,
       COUNT(*), COUNT(DISTINCT c.student_id)
FROM consent_record c JOIN student s ON s.id = c.student_id
JOIN school sc ON sc.id = s.school_id
WHERE (CAST(:prefix AS VARCHAR(8)) IS NULL OR sc.region_code LIKE :prefix)
  AND c.recorded_at >= :start AND c.recorded_at < :end
GROUP BY 1, 2, 3
"""
CONSENT_FACTS = """
SELECT s.id, CASE WHEN s.birth_month >= :u14 THEN 'under_14' WHEN s.birth_month >= :u18
       THEN 'from_14_to_17' ELSE 'adults' END,
       c.purpose, c.decision, c.guardian_link_id, g.revoked_at, c.id
FROM student s JOIN school sc ON sc.id = s.school_id
LEFT JOIN consent_record c ON c.student_id = s.id AND c.recorded_at < :end
LEFT JOIN guardian_link g ON g.id = c.guardian_link_id
WHERE (CAST(:prefix AS VARCHAR(8)) IS NULL OR sc.region_code LIKE :prefix)
  AND s.created_at < :end
"""
ACCESS = """
SELECT a.action, COALESCE(a.actor_role, 'system'),
       CASE WHEN a.school_id IS NOT NULL THEN 'school:' || CAST(a.school_id AS VARCHAR(20))
            WHEN acc.venue_id IS NOT NULL THEN 'venue:' || CAST(acc.venue_id AS VARCHAR(20))
            WHEN acc.bureau_id IS NOT NULL THEN 'bureau:' || CAST(acc.bureau_id AS VARCHAR(20))
            WHEN a.region_code IS NOT NULL THEN 'region:' || a.region_code
            ELSE 'none' END,
       COUNT(*)
FROM audit_log a LEFT JOIN account acc ON a.actor = 'account:' || CAST(acc.id AS VARCHAR(20))
WHERE (CAST(:prefix AS VARCHAR(8)) IS NULL OR a.region_code LIKE :prefix
       OR (a.region_code IS NULL
           AND a.school_id IN (SELECT id FROM school WHERE region_code LIKE :prefix)))
  AND a.at >= :start AND a.at < :end AND a.action IN :actions
GROUP BY 1, 2, 3
"""
DELETION_REQUESTS = """
SELECT CASE WHEN s.birth_month >= :u14 THEN 'under_14' WHEN s.birth_month >= :u18
       THEN 'from_14_to_17' ELSE 'adults' END, d.requested_at, d.due_at, d.carried_out_at
FROM deletion_request d JOIN student s ON s.id = d.student_id
JOIN school sc ON sc.id = d.school_id
WHERE (CAST(:prefix AS VARCHAR(8)) IS NULL OR sc.region_code LIKE :prefix)
  AND d.requested_at >= :start AND d.requested_at < :end
"""
ERASURES = """
SELECT a.action, a.detail FROM audit_log a
WHERE (CAST(:prefix AS VARCHAR(8)) IS NULL OR a.region_code LIKE :prefix
       OR (a.region_code IS NULL
           AND a.school_id IN (SELECT id FROM school WHERE region_code LIKE :prefix)))
  AND a.action IN ('data_deleted', 'data_purged') AND a.at >= :start AND a.at < :end
"""
PURGE_RUNS = """
SELECT COUNT(*) FROM audit_log WHERE action = 'data_purged' AND at >= :start AND at < :end
"""
INCIDENTS = """
SELECT COUNT(*), SUM(affected_children), SUM(affected_minors) FROM privacy_incident
WHERE (CAST(:prefix AS VARCHAR(8)) IS NULL OR region_code LIKE :prefix)
  AND ((occurred_at >= :start AND occurred_at < :end)
       OR (discovered_at >= :start AND discovered_at < :end))
"""


def _split(counts: dict[str, int]) -> dict[str, int]:
    under_14, teens, adults = (counts.get(g, 0) for g in ("under_14", "from_14_to_17", "adults"))
    return {
        "under_14": under_14,
        "from_14_to_17": teens,
        "adults": adults,
        "under_18": under_14 + teens,
    }


# --- the world ------------------------------------------------------------------------------


def _pupil(session: Session, side: Side, born: date, **overrides: Any) -> Student:
    values = {"birth_month": born, "created_at": HELD_FROM, **overrides}
    return create_student(session, school_id=side.school.id or 0, **values)


def _consent(
    session: Session,
    student: Student,
    purpose: Purpose,
    decision: str,
    at: datetime,
    link: GuardianLink | None = None,
) -> None:
    session.add(
        ConsentRecord(
            student_id=student.id or 0,
            purpose=purpose.value,
            decision=decision,
            notice_version=NOTICE_VERSION,
            channel="mini_program" if link else "paper",
            guardian_link_id=link.id if link else None,
            guardian_name=None if link else "王女士",
            recorded_by="test",
            recorded_at=at,
        )
    )
    session.flush()


def _audit(
    session: Session,
    action: Action,
    actor: Principal | None,
    at: datetime = IN,
    **where: Any,
) -> None:
    audit_service.record(session, action=action, at=at, actor=actor, **where)


def _request(
    session: Session,
    student: Student,
    asked: datetime,
    done: datetime | None,
    role: str = "guardian",
) -> None:
    session.add(
        DeletionRequest(
            student_id=student.id or 0,
            school_id=student.school_id,
            requested_by="wechat:1",
            requested_by_role=role,
            requested_at=asked,
            due_at=asked + timedelta(days=15),
            status="carried_out" if done else "pending",
            carried_out_at=done,
        )
    )
    session.flush()


def _incident(
    session: Session,
    occurred: datetime,
    children: int,
    minors: int,
    region_code: str | None,
    **more: Any,
) -> None:
    session.add(
        PrivacyIncident(
            occurred_at=occurred,
            discovered_at=occurred + timedelta(days=1),
            recorded_at=occurred + timedelta(days=2),
            recorded_by="account:900004",
            title="测试事件",
            description="说明",
            categories=["location"],
            affected_children=children,
            affected_minors=minors,
            region_code=region_code,
            updated_at=occurred + timedelta(days=2),
            **more,
        )
    )
    session.flush()


@pytest.fixture
def world(session: Session, side_a: Side, side_b: Side) -> dict[str, Any]:
    a = side_a
    child = _pupil(session, a, date(2016, 5, 1))
    teen = _pupil(session, a, date(2011, 6, 1))
    turning = _pupil(session, a, date(2012, 10, 1))  # 14 in October 2026: still under 14
    adult = _pupil(session, a, date(2007, 1, 1))
    _pupil(session, a, date(2008, 10, 1))  # 18 in October 2026: still a minor
    unlinked = _pupil(session, a, date(2015, 1, 1))
    b_child = _pupil(session, side_b, date(2016, 1, 1))
    guardian = create_wechat_user(session)
    link = link_guardian(session, guardian=guardian, student=child)
    gone = link_guardian(session, guardian=create_wechat_user(session), student=unlinked)
    gone.revoked_at = datetime(2026, 9, 30, tzinfo=UTC)

    _consent(session, child, Purpose.participation_record, "grant", IN, link)
    _consent(session, child, Purpose.location, "grant", IN, link)
    _consent(session, child, Purpose.location, "withdraw", IN + timedelta(days=10), link)
    _consent(session, child, Purpose.photos, "refuse", IN, link)
    _consent(session, teen, Purpose.volunteering, "refuse", IN + timedelta(days=5))
    _consent(session, teen, Purpose.volunteering, "grant", IN + timedelta(days=15))
    _consent(
        session, turning, Purpose.participation_record, "grant", datetime(2025, 12, 1, tzinfo=UTC)
    )
    _consent(session, turning, Purpose.record_export, "grant", END_AT + timedelta(hours=4))
    _consent(session, unlinked, Purpose.participation_record, "grant", IN, gone)
    _consent(session, adult, Purpose.notifications, "grant", IN)  # asked of nobody over 14
    _consent(session, b_child, Purpose.participation_record, "grant", IN)
    _consent(session, b_child, Purpose.photos, "refuse", IN)

    venue_account = Account(
        username="venue-report",
        password_hash="x",
        display_name="场馆",
        role="venue_staff",
        venue_id=a.venue.id,
        created_at=HELD_FROM,
        password_changed_at=HELD_FROM,
    )
    session.add(venue_account)
    session.flush()
    venue = Principal(
        subject=f"account:{venue_account.id}", role=Role.venue_staff, venue_id=a.venue.id
    )
    teacher, bureau = a.principal(Role.school_staff), a.principal(Role.bureau)
    school_a, school_b = a.school.id, side_b.school.id
    _audit(session, Action.records_viewed, teacher, school_id=school_a, region_code="970101")
    _audit(session, Action.records_viewed, teacher, school_id=school_a)
    _audit(session, Action.records_exported, teacher, school_id=school_a, region_code="970101")
    _audit(session, Action.records_exported, bureau, region_code="970100")
    _audit(session, Action.checkins_exported, venue)  # no school, no region: platform only
    _audit(session, Action.child_data_copied, a.principal(Role.guardian), school_id=school_a)
    _audit(
        session,
        Action.evidence_viewed,
        teacher,
        at=START_AT - timedelta(seconds=1),
        school_id=school_a,
    )  # before the period
    _audit(session, Action.login, teacher, school_id=school_a)  # neither access nor export
    _audit(
        session,
        Action.records_viewed,
        side_b.principal(Role.school_staff),
        school_id=school_b,
        region_code="960101",
    )
    _audit(session, Action.records_exported, side_b.principal(Role.bureau), region_code="960100")

    _request(session, child, datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 5, tzinfo=UTC))
    _request(session, unlinked, datetime(2026, 9, 2, tzinfo=UTC), datetime(2026, 9, 12, tzinfo=UTC))
    _request(session, teen, datetime(2026, 9, 10, tzinfo=UTC), None, role="student")  # overdue
    _request(session, adult, datetime(2026, 9, 20, tzinfo=UTC), END_AT + timedelta(hours=4))
    _request(session, turning, datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 3, tzinfo=UTC))
    _request(session, b_child, datetime(2026, 9, 1, tzinfo=UTC), None)

    system = None
    _audit(
        session,
        Action.data_purged,
        system,
        at=datetime(2026, 6, 1, tzinfo=UTC),
        actor_subject="system",
        reason="retention",
        counts={"scan_location": 3, "client_address": 2},
    )
    _audit(
        session,
        Action.data_purged,
        system,
        at=datetime(2025, 6, 1, tzinfo=UTC),
        actor_subject="system",
        reason="retention",
        counts={"scan_location": 9},
    )
    _audit(
        session,
        Action.data_deleted,
        a.principal(Role.guardian),
        school_id=school_a,
        region_code="970101",
        kind="scan_location",
        count=2,
        reason="consent_withdrawn:location",
    )
    _audit(
        session,
        Action.data_deleted,
        system,
        actor_subject="system",
        school_id=school_a,
        kind="reflection",
        count=1,
        reason="deletion_request:1",
    )
    _audit(
        session,
        Action.data_deleted,
        system,
        actor_subject="system",
        kind="wechat_user",
        count=4,
        reason="unbound_wechat_user",
    )
    _audit(
        session,
        Action.data_deleted,
        system,
        actor_subject="system",
        school_id=school_b,
        kind="reflection",
        count=7,
        reason="deletion_request:9",
    )

    _incident(session, datetime(2026, 5, 1, tzinfo=UTC), 3, 5, "970101", school_id=school_a)
    _incident(session, datetime(2026, 7, 1, tzinfo=UTC), 1, 1, None)
    _incident(session, datetime(2026, 8, 1, tzinfo=UTC), 2, 2, "960101")
    _incident(session, datetime(2025, 11, 1, tzinfo=UTC), 9, 9, "970101")
    return {"venue_account": venue_account.id}


def _report(client: TestClient, settings: Settings, principal: Principal) -> dict[str, Any]:
    response = client.get(
        URL,
        params={"start": START.isoformat(), "end": END.isoformat()},
        headers=auth(settings, principal),
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- the figures against SQL ------------------------------------------------------------------


@pytest.mark.parametrize("who", ["platform", "bureau"])
def test_every_figure_equals_a_count_taken_from_the_tables(
    client: TestClient,
    session: Session,
    settings: Settings,
    side_a: Side,
    world: dict[str, Any],
    who: str,
) -> None:
    prefix = None if who == "platform" else "9701%"
    principal = side_a.principal(Role.platform_admin if who == "platform" else Role.bureau)
    report = _report(client, settings, principal)
    period = {"start": START_AT, "end": END_AT, "prefix": prefix}

    assert report["period"] == {"start": "2026-01-01", "end": "2026-10-14", "as_of": "2026-10-13"}
    held = _sql(session, PUPILS_HELD, end=END_AT, prefix=prefix, **AGES)
    assert report["pupils_at_end"] == _split(dict(held))

    decided = _sql(session, DECISIONS, **period, **AGES)
    facts = _sql(session, CONSENT_FACTS, end=END_AT, prefix=prefix, **AGES)
    ages = {row[0]: row[1] for row in facts}
    latest: dict[tuple[int, str], Any] = {}
    for row in sorted((r for r in facts if r[2] is not None), key=lambda r: r[6]):
        latest[(row[0], row[2])] = (*row[:5], _at(row[5]))
    for figures in report["consents"]:
        purpose = figures["purpose"]
        for field, decision in (
            ("given", "grant"),
            ("refused", "refuse"),
            ("withdrawn", "withdraw"),
        ):
            rows = [r for r in decided if r[0] == purpose and r[1] == decision]
            assert figures[field]["records"] == _split({r[2]: r[3] for r in rows}), (purpose, field)
            assert figures[field]["pupils"] == _split({r[2]: r[4] for r in rows}), (purpose, field)
        asked = {"under_14"} | ({"from_14_to_17"} if purpose == "volunteering" else set())
        states: dict[str, Counter[str]] = {s: Counter() for s in ("in", "no", "missing")}
        for student_id, group in ages.items():
            if group not in asked:
                continue
            row = latest.get((student_id, purpose))
            linked = row is not None and (row[4] is None or row[5] is None or row[5] >= END_AT)
            if row is not None and row[3] == "grant" and linked:
                states["in"][group] += 1
            elif row is not None and row[3] in ("refuse", "withdraw"):
                states["no"][group] += 1
            else:
                states["missing"][group] += 1
        assert figures["in_force_at_end"] == _split(states["in"]), purpose
        assert figures["refused_or_withdrawn_at_end"] == _split(states["no"]), purpose
        assert figures["missing_at_end"] == _split(states["missing"]), purpose

    access = _sql(session, ACCESS, **period, actions=[*ACCESS_SEEN, *EXPORT_SEEN])
    expected: Counter[tuple[str, str, str]] = Counter()
    for action, role, org, count in access:
        expected[("access" if action in ACCESS_SEEN else "export", role, org)] += count
    got = {(f["kind"], f["actor_role"], f["organisation"]): f["entries"] for f in report["access"]}
    assert got == dict(expected)
    assert report["access_totals"] == {
        kind: sum(n for (k, _, _), n in expected.items() if k == kind)
        for kind in ("access", "export")
    }

    requests = [
        (row[0], *(_at(value) for value in row[1:]))
        for row in _sql(session, DELETION_REQUESTS, **period, **AGES)
    ]
    done = [(r[3] - r[1]).total_seconds() / 86400 for r in requests if r[3] and r[3] < END_AT]
    still_open = [r for r in requests if r[3] is None or r[3] >= END_AT]
    deletions = report["deletions"]
    assert deletions["total"] == _split(Counter(r[0] for r in requests))
    assert deletions["carried_out"] == len(done)
    assert deletions["open_at_end"] == len(still_open)
    assert deletions["overdue"] == sum(
        1
        for r in requests
        if (r[3] and r[3] < END_AT and r[3] > r[2]) or (r in still_open and r[2] < END_AT)
    )
    assert deletions["median_days"] == (round(statistics.median(done), 2) if done else None)
    assert deletions["max_days"] == (max(done) if done else None)

    erased = _sql(session, ERASURES, **period)
    totals: Counter[tuple[str, str, str]] = Counter()
    for action, detail in erased:
        data = json.loads(detail)
        kinds = data["counts"] if action == "data_purged" else {data["kind"]: data["count"]}
        for kind, count in kinds.items():
            totals[(action, data["reason"].partition(":")[0], kind)] += count
    got_erased = {(e["action"], e["reason"], e["kind"]): e["count"] for e in report["erasures"]}
    assert got_erased == dict(totals)
    runs = _sql(session, PURGE_RUNS, start=START_AT, end=END_AT)
    assert len(report["purge_runs"]) == runs[0][0] == 1

    incidents = _sql(session, INCIDENTS, **period)
    count, children, minors = incidents[0]
    assert report["incident_totals"]["incidents"] == count
    assert report["incident_totals"]["affected_children"] == children
    assert report["incident_totals"]["affected_minors"] == minors


def test_the_seeded_world_gives_the_figures_worked_out_by_hand(
    client: TestClient, settings: Settings, side_a: Side, world: dict[str, Any]
) -> None:
    """The SQL above could agree with the report and both be wrong: a few figures by hand."""
    report = _report(client, settings, side_a.principal(Role.bureau))
    assert report["scope"] == {"kind": "region", "region_code": "970100", "region_name": "市970100"}
    # child, turning (still under 14), unlinked; teen, turning_18; adult. side_a.student came
    # after the end.
    assert report["pupils_at_end"] == _split({"under_14": 3, "from_14_to_17": 2, "adults": 1})
    by = {c["purpose"]: c for c in report["consents"]}
    record = by["participation_record"]
    assert record["given"]["records"]["under_14"] == 2  # child, unlinked (turning's was in 2025)
    assert record["in_force_at_end"]["under_14"] == 2  # child, turning
    assert record["missing_at_end"]["under_14"] == 1  # unlinked: the guardian's link revoked
    assert by["location"]["withdrawn"]["pupils"]["under_14"] == 1
    assert by["location"]["refused_or_withdrawn_at_end"]["under_14"] == 1
    assert by["record_export"]["missing_at_end"]["under_14"] == 3  # turning's came after the end
    volunteering = by["volunteering"]
    assert volunteering["asked_under"] == 18
    assert volunteering["refused"]["records"]["from_14_to_17"] == 1
    assert volunteering["in_force_at_end"]["from_14_to_17"] == 1
    assert volunteering["missing_at_end"] == _split({"under_14": 3, "from_14_to_17": 1})
    assert report["access_totals"] == {"access": 3, "export": 2}
    deletions = report["deletions"]
    # the adult's was carried out after the end and past its due date: open and overdue then
    assert (deletions["carried_out"], deletions["open_at_end"], deletions["overdue"]) == (2, 2, 2)
    assert (deletions["median_days"], deletions["max_days"]) == (7.0, 10.0)
    assert [r["age_group"] for r in deletions["requests"]] == [
        "under_14",
        "under_14",
        "from_14_to_17",
        "adults",
    ]
    assert report["incident_totals"] == {
        "incidents": 1,
        "affected_children": 3,
        "affected_minors": 5,
        "reported": 0,
        "closed": 0,
    }
    assert report["purge_runs"] == [{"at": "2026-06-01T00:00:00Z", "counts": None}]


def test_a_bureaus_report_holds_nothing_of_another_region(
    client: TestClient, settings: Settings, side_a: Side, side_b: Side, world: dict[str, Any]
) -> None:
    report = _report(client, settings, side_a.principal(Role.bureau))
    orgs = {f["organisation"] for f in report["access"]}
    assert orgs == {f"school:{side_a.school.id}", "region:970100"}
    assert f"venue:{side_a.venue.id}" not in orgs  # the venue's export named no school
    assert {r["school_id"] for r in report["deletions"]["requests"]} == {side_a.school.id}
    assert {i["region_code"] for i in report["incidents"]} == {"970101"}
    assert {(e["reason"], e["count"]) for e in report["erasures"]} == {
        ("consent_withdrawn", 2),
        ("deletion_request", 1),
    }
    platform = _report(client, settings, side_a.principal(Role.platform_admin))
    assert f"school:{side_b.school.id}" in {f["organisation"] for f in platform["access"]}
    assert f"venue:{side_a.venue.id}" in {f["organisation"] for f in platform["access"]}
    assert platform["purge_runs"][0]["counts"] == {"client_address": 2, "scan_location": 3}
    assert len(platform["incidents"]) == 3


def test_the_inventory_section_is_the_declaration(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    report = _report(client, settings, side_a.principal(Role.platform_admin))
    items = {i["key"]: i for i in report["inventory"]}
    assert "student.birth_month" in items["birth_month"]["stored_in"]
    assert items["location"]["purposes"] == ["location"]
    assert items["evidence"]["files"]


def test_xlsx_and_pdf_carry_the_figures(
    client: TestClient, settings: Settings, side_a: Side, world: dict[str, Any]
) -> None:
    headers = auth(settings, side_a.principal(Role.bureau))
    params = {"start": START.isoformat(), "end": END.isoformat()}
    report = client.get(URL, params=params, headers=headers).json()

    response = client.get(URL + ".xlsx", params=params, headers=headers)
    assert response.status_code == 200
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    assert book.sheetnames == [
        "概况",
        "处理清单",
        "同意情况",
        "查看与导出",
        "删除申请",
        "删除与清理",
        "保留期清理",
        "安全事件",
    ]
    summary = {row[0]: row[1] for row in book["概况"].iter_rows(min_row=2, values_only=True)}
    assert summary["期末在册学生：未满14周岁"] == report["pupils_at_end"]["under_14"] == 3
    assert summary["导出（条）"] == report["access_totals"]["export"]
    consent_rows = list(book["同意情况"].iter_rows(min_row=2, values_only=True))
    missing = next(r for r in consent_rows if r[0] == "volunteering" and r[2] == "期末缺失（人）")
    assert list(missing[3:]) == [3, 1, 0, 4]
    assert len(list(book["删除申请"].iter_rows(min_row=2))) == 4

    response = client.get(URL + ".pdf", params=params, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    pdf = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "合规审计报告" in pdf.replace(" ", "")
    assert "2026-10-13" in pdf


def test_generating_is_audited_and_bad_periods_change_nothing(
    client: TestClient, session: Session, settings: Settings, side_a: Side
) -> None:
    headers = auth(settings, side_a.principal(Role.bureau))
    assert client.get(URL, headers=headers).status_code == 200  # default: the previous year
    rows = _sql(
        session,
        "SELECT region_code, detail FROM audit_log WHERE action = 'privacy_report_generated'",
    )
    assert len(rows) == 1
    assert rows[0][0] == "970100"
    assert json.loads(rows[0][1]) == {"start": "2025-01-01", "end": "2026-01-01", "format": "json"}
    for start, end in (
        ("2026-05-01", "2026-05-01"),
        ("2026-05-01", "2026-04-01"),
        ("2023-01-01", "2026-01-01"),
        ("2026-01-01", "2026-12-01"),
        ("0001-01-01", "0001-01-02"),  # before the first instant a datetime holds in UTC
        ("1999-06-01", "2000-01-01"),
    ):
        response = client.get(URL + ".xlsx", params={"start": start, "end": end}, headers=headers)
        assert response.status_code == 422, (start, end)
        assert response.json()["code"] == "report_period_invalid"
    assert (
        len(_sql(session, "SELECT id FROM audit_log WHERE action = 'privacy_report_generated'"))
        == 1
    )


def test_every_action_is_classified_once() -> None:
    assert set(ACTION_KINDS) == set(Action)
    assert ACTION_KINDS[Action.records_exported] is ActionKind.export
    assert ACTION_KINDS[Action.records_viewed] is ActionKind.access
    assert ACTION_KINDS[Action.login] is ActionKind.other
    sets = (audit_service._ACCESS, audit_service._EXPORT, audit_service._OTHER)
    assert sum(len(s) for s in sets) == len(Action), "an action is in two sets"
