"""The compliance views through the API: a school sees only itself, a bureau its region (by
district and urban or rural, with the schools behind each figure); reviews frozen once keep
their figures; the ledger parsed back equals the view."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.org.models import School
from scipass.policy.packs import current
from scipass.record.models import ParticipationRecord
from tests.factories import auth, create_bureau
from tests.policy.scenes import Maker, regions, school_for

NOW = datetime(2026, 12, 20, 4, 0, tzinfo=UTC)  # Sunday 12:00 in Beijing, autumn term 2026
TERM = {"school_year": 2026, "semester": "autumn"}


@pytest.fixture
def world(session: Session, clock: FrozenClock) -> dict[str, Any]:
    """Xiangtan (湘潭市) with two districts: a school in 雨湖区 that visited a venue this year
    and one that did not, a rural school in 湘乡市 that did; a Jincheng school elsewhere."""
    clock.set(NOW)
    regions(session)
    rule = current().for_region("430302").rule("venue_visit_yearly")
    assert rule is not None
    maker = Maker(session)
    visited = school_for(session, rule, "430302", name="雨湖区实验小学")
    missed = school_for(session, rule, "430302", name="雨湖区第二小学")
    rural = school_for(session, rule, "430381", name="湘乡市乡村小学", area="rural")
    maker.make(rule, visited, 1)
    maker.make(rule, rural, 1)
    elsewhere = school_for(session, rule, "140502", name="晋城市城区小学")
    return {
        "visited": visited,
        "missed": missed,
        "rural": rural,
        "elsewhere": elsewhere,
        "xiangtan": create_bureau(session, region_code="430300"),
        "jincheng": create_bureau(session, region_code="140500"),
    }


def bureau(world: dict[str, Any], name: str) -> Principal:
    office = world[name]
    return Principal(
        subject=f"account:{office.id + 800000}",
        role=Role.bureau,
        bureau_id=office.id,
        region_code=office.region_code,
    )


def school_staff(school: School) -> Principal:
    return Principal(subject="account:900001", role=Role.school_admin, school_id=school.id)


def get(client: TestClient, settings: Settings, url: str, who: Principal, **params: Any) -> Any:
    return client.get(url, headers=auth(settings, who, now=NOW), params=params or None)


def test_a_school_sees_its_own_rules_and_nobody_elses(
    client: TestClient, settings: Settings, world: dict[str, Any]
) -> None:
    visited, missed = world["visited"], world["missed"]
    mine = get(client, settings, f"/api/v1/schools/{missed.id}/compliance", school_staff(missed))
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["term"] == {
        "school_year": 2026,
        "semester": "autumn",
        "label": "2026-2027学年第一学期",
    }
    rule = next(r for r in body["rules"] if r["rule_id"] == "venue_visit_yearly")
    assert (rule["state"], rule["figure"], rule["threshold"]) == ("missed", 0, 1)
    assert rule["missing"] == "还差 1（现为 0，要求 1）"
    assert rule["source"] == "湖南省科普教育“双走进”意见（2023年） 三.(二)"
    ok = get(client, settings, f"/api/v1/schools/{visited.id}/compliance", school_staff(visited))
    rule = next(r for r in ok.json()["rules"] if r["rule_id"] == "venue_visit_yearly")
    assert (rule["state"], rule["evidence_total"]) == ("met", 1)
    assert rule["evidence"][0]["link"].startswith("/api/v1/activities/")
    other = get(client, settings, f"/api/v1/schools/{visited.id}/compliance", school_staff(missed))
    assert (other.status_code, other.json()["code"]) == (404, "organisation_not_found")
    assert (
        get(
            client, settings, f"/api/v1/schools/{visited.id}/compliance", bureau(world, "xiangtan")
        ).status_code
        == 200
    )
    assert (
        get(
            client, settings, f"/api/v1/schools/{visited.id}/compliance", bureau(world, "jincheng")
        ).status_code
        == 404
    )


def test_a_bureau_sees_its_region_by_district_and_area_and_only_its_region(
    client: TestClient, settings: Settings, world: dict[str, Any]
) -> None:
    response = get(client, settings, "/api/v1/compliance", bureau(world, "xiangtan"), **TERM)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["region_code"], body["schools"]) == ("430300", 3)
    table = next(t for t in body["rules"] if t["rule_id"] == "venue_visit_yearly")
    assert table["total"] == {"met": 2, "missed": 1, "open": 0}
    assert {d["region_code"]: (d["name"], d["met"], d["missed"]) for d in table["by_district"]} == {
        "430302": ("雨湖区", 1, 1),
        "430381": ("湘乡市", 1, 0),
    }
    assert {a["area"]: (a["met"], a["missed"]) for a in table["by_area"]} == {
        "rural": (1, 0),
        "urban": (1, 1),
    }
    missing = [s["school_name"] for s in table["schools"] if s["state"] == "missed"]
    assert missing == ["雨湖区第二小学"]
    assert world["elsewhere"].name not in str(body)
    # the region's own rule: counsellor training person-times of the city
    region_rules = {r["rule_id"]: r for r in body["region_rules"]}
    assert region_rules["counsellor_training_city_yearly"]["threshold"] == 200
    # a district below is fine, another region is not
    below = get(
        client,
        settings,
        "/api/v1/compliance",
        bureau(world, "xiangtan"),
        region_code="430381",
        **TERM,
    )
    assert below.json()["schools"] == 1
    outside = get(
        client,
        settings,
        "/api/v1/compliance",
        bureau(world, "xiangtan"),
        region_code="140500",
        **TERM,
    )
    assert (outside.status_code, outside.json()["code"]) == (403, "outside_region")
    platform = Principal(subject="account:900004", role=Role.platform_admin)
    unnamed = get(client, settings, "/api/v1/compliance", platform, **TERM)
    assert (unnamed.status_code, unnamed.json()["code"]) == (422, "region_code_required")
    named = get(client, settings, "/api/v1/compliance", platform, region_code="430300", **TERM)
    assert named.json()["schools"] == 3


def _void_the_visit(session: Session, school: School) -> None:
    session.execute(
        update(ParticipationRecord)
        .where(col(ParticipationRecord.school_id) == school.id)
        .values(status="voided")
    )
    session.flush()


def test_a_frozen_review_keeps_its_figures_when_a_record_is_voided_afterwards(
    client: TestClient, settings: Settings, session: Session, world: dict[str, Any]
) -> None:
    me = bureau(world, "xiangtan")
    headers = auth(settings, me, now=NOW)
    created = client.post(
        "/api/v1/compliance-reviews",
        headers=headers,
        json={"name": "2026年中期评估", "kind": "mid_term", **TERM},
    )
    assert created.status_code == 201, created.text
    review_id = created.json()["id"]
    again = client.post(
        "/api/v1/compliance-reviews",
        headers=headers,
        json={"name": "2026年中期评估", "kind": "mid_term", **TERM},
    )
    assert again.json()["code"] == "policy_review_exists"
    frozen = client.post(f"/api/v1/compliance-reviews/{review_id}/freeze", headers=headers)
    assert frozen.status_code == 200, frozen.text
    assert frozen.json()["review"]["status"] == "frozen"
    twice = client.post(f"/api/v1/compliance-reviews/{review_id}/freeze", headers=headers)
    assert (twice.status_code, twice.json()["code"]) == (409, "policy_review_frozen")

    _void_the_visit(session, world["rural"])
    live = get(client, settings, "/api/v1/compliance", me, **TERM).json()
    kept = client.get(f"/api/v1/compliance-reviews/{review_id}", headers=headers).json()

    def tally(body: dict[str, Any]) -> dict[str, int]:
        return next(t for t in body["rules"] if t["rule_id"] == "venue_visit_yearly")["total"]

    assert tally(live) == {"met": 1, "missed": 2, "open": 0}
    assert tally(kept) == {"met": 2, "missed": 1, "open": 0}
    assert kept["rules"] == frozen.json()["rules"]
    assert kept["review"]["as_of"] == "2026-12-20"
    # another region's bureau does not find it
    other = client.get(
        f"/api/v1/compliance-reviews/{review_id}",
        headers=auth(settings, bureau(world, "jincheng"), now=NOW),
    )
    assert other.status_code == 404
    actions = set(session.exec(select(AuditLog.action)).all())
    assert {"policy_review_opened", "policy_review_frozen"} <= actions


def _sheet_rows(workbook: Any, title: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in workbook[title].iter_rows(min_row=2, values_only=True)]


def test_the_ledger_parsed_back_equals_the_view(
    client: TestClient, settings: Settings, session: Session, world: dict[str, Any]
) -> None:
    me = bureau(world, "xiangtan")
    view = get(client, settings, "/api/v1/compliance", me, **TERM).json()
    response = get(client, settings, "/api/v1/compliance/ledger.xlsx", me, **TERM)
    assert response.status_code == 200, response.text
    assert "ledger-430300-2026-autumn.xlsx" in response.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    assert workbook.sheetnames[0] == "汇总"
    summary = {row[0]: row for row in _sheet_rows(workbook, "汇总")}
    for table in view["rules"]:
        line = summary[table["rule_id"]]
        assert line[2] == table["description"]
        assert line[6:10] == (
            len(table["schools"]),
            table["total"]["met"],
            table["total"]["missed"],
            table["total"]["open"],
        )
        sheet = _sheet_rows(workbook, line[1])
        assert [(r[0], r[1], r[6], r[9], r[10] or "", r[11]) for r in sheet] == [
            (
                s["school_name"],
                s["school_id"],
                s["figure"],
                {"met": "达标", "missed": "未达标", "open": "未判定"}[s["state"]],
                s["missing"],
                s["evidence_total"],
            )
            for s in table["schools"]
        ]
    for rule in view["region_rules"]:
        line = summary[rule["rule_id"]]
        assert (line[10], line[11]) == (rule["figure"], rule["threshold"])
        assert _sheet_rows(workbook, line[1])[0][6] == rule["figure"]
    entry = session.exec(
        select(AuditLog).where(AuditLog.action == "compliance_ledger_exported")
    ).one()
    assert entry.region_code == "430300"
    assert date(2026, 12, 20).isoformat() in str(entry.at)
