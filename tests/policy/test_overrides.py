"""A region's effective pack through the API, and bureaus' overrides: versioned, audited,
by the bureau of the region or one above it; who may read what."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Principal, Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.main import create_app
from scipass.org.models import Bureau, Region
from scipass.policy.effective import apply_overrides
from scipass.policy.models import PolicyOverride
from scipass.policy.packs import current
from tests.factories import NOW, auth, create_bureau, create_region, create_school, token
from tests.servers import serve

PROVINCE, CITY, COUNTY, SIBLING = "430000", "430300", "430381", "430302"


@dataclass
class Hunan:
    """Hunan, Xiangtan, Xiangxiang and another district of Xiangtan; a bureau in each, and
    a school in Xiangxiang."""

    bureaus: dict[str, Principal]
    school_staff: Principal
    platform: Principal


@pytest.fixture
def hunan(session: Session) -> Hunan:
    create_region(session, PROVINCE, "湖南省", "province", None)
    create_region(session, CITY, "湘潭市", "city", PROVINCE)
    create_region(session, COUNTY, "湘乡市", "county", CITY)
    create_region(session, SIBLING, "雨湖区", "county", CITY)
    create_region(session, "140000", "山西省", "province", None)
    create_region(session, "140500", "晋城市", "city", "140000")
    create_region(session, "150000", "内蒙古自治区", "province", None)
    create_region(session, "150400", "赤峰市", "city", "150000")
    bureaus = {}
    for number, code in enumerate((PROVINCE, CITY, COUNTY, SIBLING)):
        bureau = create_bureau(session, region_code=code)
        bureaus[code] = Principal(
            subject=f"account:93000{number}",
            role=Role.bureau,
            bureau_id=bureau.id,
            region_code=code,
        )
    school = create_school(session, region_code=COUNTY)
    staff = Principal(subject="account:930010", role=Role.school_admin, school_id=school.id)
    platform = Principal(subject="account:900004", role=Role.platform_admin)
    return Hunan(bureaus=bureaus, school_staff=staff, platform=platform)


def pack(client: TestClient, settings: Settings, who: Principal, code: str) -> Any:
    return client.get(f"/api/v1/policy/packs/{code}", headers=auth(settings, who))


def rule_of(body: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in body["rules"] if r["id"] == rule_id)


def override(client: TestClient, settings: Settings, who: Principal, **body: Any) -> httpx.Response:
    payload = {"reason": "本地区考核要求", "expected_version": 0, **body}
    return client.post("/api/v1/policy/overrides", json=payload, headers=auth(settings, who))


def test_the_pack_shows_its_rules_sources_and_where_each_value_comes_from(
    client: TestClient, settings: Settings, hunan: Hunan
) -> None:
    response = pack(client, settings, hunan.bureaus[COUNTY], COUNTY)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pack"] == {"id": "xiangxiang", "name": "湘乡市", "region_code": COUNTY}
    assert [p["id"] for p in body["chain"]] == ["national", "hunan", "xiangtan", "xiangxiang"]
    assert {d["code"]: d["name"] for d in body["dimensions"]}["social_practice"] == "社会实践"
    assert {c["category"]: c["dimension"] for c in body["category_dimensions"]} == {
        "science_visit": "social_practice",
        "course_lecture": "social_practice",
        "inquiry": "academic",
        "competition": "academic",
        "volunteer": "moral",
        "other": "social_practice",
    }
    visit = rule_of(body, "venue_visit_yearly")
    assert visit["source"] == {"file": "003_09c4e1dfef763b9a.txt", "section": "三.(二)"}
    assert visit["defined_in"]["id"] == "hunan"
    assert visit["threshold"] == {"min": 1, "max": None}
    assert (visit["enabled"], visit["ready"], visit["version"]) == (True, True, 0)
    assert visit["origins"]["threshold_min"] == {
        "kind": "pack",
        "pack_id": "hunan",
        "region_code": PROVINCE,
        "version": None,
    }
    assert rule_of(body, "counsellor_training_county_yearly")["threshold"]["min"] == 100
    assert rule_of(body, "counsellor_training_city_yearly")["threshold"]["min"] == 200


def test_a_rule_without_a_number_waits_for_the_bureau(
    client: TestClient, settings: Settings, hunan: Hunan, session: Session
) -> None:
    chifeng = create_bureau(session, region_code="150400")
    bureau = Principal(
        subject="account:930020", role=Role.bureau, bureau_id=chifeng.id, region_code="150400"
    )
    regular = rule_of(pack(client, settings, bureau, "150400").json(), "venue_visit_regular")
    assert (regular["threshold"]["min"], regular["ready"]) == (None, False)
    created = override(
        client,
        settings,
        bureau,
        region_code="150400",
        rule_id="venue_visit_regular",
        threshold_min=2,
    )
    assert created.status_code == 201, created.text
    regular = rule_of(pack(client, settings, bureau, "150400").json(), "venue_visit_regular")
    assert (regular["threshold"]["min"], regular["ready"], regular["version"]) == (2, True, 1)


def test_an_override_applies_to_its_region_and_below_and_is_versioned(
    client: TestClient, settings: Settings, hunan: Hunan, session: Session
) -> None:
    city = hunan.bureaus[CITY]
    first = override(
        client, settings, city, region_code=CITY, rule_id="venue_visit_yearly", threshold_min=2
    )
    assert first.status_code == 201, first.text
    assert (first.json()["version"], first.json()["threshold_min"]) == (1, 2)

    for code in (CITY, COUNTY, SIBLING):  # the city and its districts
        visit = rule_of(pack(client, settings, city, code).json(), "venue_visit_yearly")
        assert visit["threshold"]["min"] == 2, code
        assert visit["origins"]["threshold_min"] == {
            "kind": "override",
            "pack_id": None,
            "region_code": CITY,
            "version": 1,
        }
        assert visit["origins"]["enabled"]["kind"] == "pack"
    province = pack(client, settings, hunan.bureaus[PROVINCE], PROVINCE).json()
    assert rule_of(province, "venue_visit_yearly")["threshold"]["min"] == 1  # not upwards

    # A second edit names the version it read; the one it did not read is refused.
    stale = override(
        client, settings, city, region_code=CITY, rule_id="venue_visit_yearly", threshold_min=3
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "policy_override_stale"
    second = override(
        client,
        settings,
        city,
        region_code=CITY,
        rule_id="venue_visit_yearly",
        threshold_min=3,
        expected_version=1,
    )
    assert second.json()["version"] == 2
    assert (
        rule_of(pack(client, settings, city, COUNTY).json(), "venue_visit_yearly")["threshold"][
            "min"
        ]
        == 3
    )

    rows = session.exec(select(PolicyOverride).where(PolicyOverride.region_code == CITY)).all()
    assert sorted((r.version, r.threshold_min) for r in rows) == [(1, 2), (2, 3)]  # kept
    audit = session.exec(
        select(AuditLog)
        .where(AuditLog.action == "policy_override_created")
        .order_by(col(AuditLog.id))
    ).all()
    assert [(a.region_code, a.actor) for a in audit] == [(CITY, city.subject)] * 2
    assert '"version": 2' in audit[-1].detail
    assert "本地区考核要求" in audit[-1].detail


def test_switching_off_and_on_per_region_and_value(
    client: TestClient, settings: Settings, hunan: Hunan
) -> None:
    city, county = hunan.bureaus[CITY], hunan.bureaus[COUNTY]
    override(
        client, settings, city, region_code=CITY, rule_id="venue_visit_yearly", threshold_min=2
    ).raise_for_status()
    off = override(
        client,
        settings,
        county,
        region_code=COUNTY,
        rule_id="venue_visit_yearly",
        enabled=False,
        reason="本县另行安排",
    )
    assert off.status_code == 201, off.text

    visit = rule_of(pack(client, settings, county, COUNTY).json(), "venue_visit_yearly")
    assert (visit["enabled"], visit["ready"], visit["version"]) == (False, False, 1)
    assert visit["origins"]["enabled"] == {
        "kind": "override",
        "pack_id": None,
        "region_code": COUNTY,
        "version": 1,
    }
    # the county's own version sets only enabled: the city's threshold still applies
    assert visit["threshold"]["min"] == 2
    assert visit["origins"]["threshold_min"]["region_code"] == CITY
    sibling = rule_of(pack(client, settings, city, SIBLING).json(), "venue_visit_yearly")
    assert sibling["enabled"] is True

    on = override(
        client,
        settings,
        county,
        region_code=COUNTY,
        rule_id="venue_visit_yearly",
        enabled=True,
        expected_version=1,
    )
    assert on.status_code == 201
    visit = rule_of(pack(client, settings, county, COUNTY).json(), "venue_visit_yearly")
    assert (visit["enabled"], visit["version"]) == (True, 2)

    # a version that sets nothing takes the region back to what applies above
    back = override(
        client,
        settings,
        city,
        region_code=CITY,
        rule_id="venue_visit_yearly",
        expected_version=1,
        reason="恢复省定标准",
    )
    assert back.status_code == 201
    visit = rule_of(pack(client, settings, county, COUNTY).json(), "venue_visit_yearly")
    assert visit["threshold"]["min"] == 1
    assert visit["origins"]["threshold_min"]["kind"] == "pack"


def test_a_regions_figure_is_set_at_that_region_only(
    client: TestClient, settings: Settings, hunan: Hunan
) -> None:
    county = override(
        client,
        settings,
        hunan.bureaus[COUNTY],
        region_code=COUNTY,
        rule_id="counsellor_training_city_yearly",
        threshold_min=50,
    )
    assert county.status_code == 422
    assert county.json()["code"] == "policy_override_invalid"
    talks = override(
        client,
        settings,
        hunan.bureaus[CITY],
        region_code=CITY,
        rule_id="top_scientist_talks_yearly",
        enabled=False,
    )
    assert talks.json()["code"] == "policy_override_invalid"
    city = override(
        client,
        settings,
        hunan.bureaus[CITY],
        region_code=CITY,
        rule_id="counsellor_training_city_yearly",
        threshold_min=250,
    )
    assert city.status_code == 201, city.text
    by_province = override(
        client,
        settings,
        hunan.bureaus[PROVINCE],
        region_code=PROVINCE,
        rule_id="top_scientist_talks_yearly",
        threshold_min=2,
    )
    assert by_province.status_code == 201, by_province.text


def test_bad_overrides_change_nothing(
    client: TestClient, settings: Settings, hunan: Hunan, session: Session
) -> None:
    province = hunan.bureaus[PROVINCE]
    cases = [
        ({"rule_id": "science_counsellor", "enabled": False}, 404, "policy_rule_not_found"),
        (
            {"rule_id": "top_scientist_talks_yearly", "threshold_min": 3},
            422,
            "policy_override_invalid",
        ),  # above the pack's max of 2
        (
            {"rule_id": "venue_visit_yearly", "threshold_min": 3, "threshold_max": 2},
            422,
            "policy_override_invalid",
        ),
        ({"rule_id": "venue_visit_yearly", "threshold_min": -1}, 422, "validation_failed"),
        ({"rule_id": "Venue Visit", "enabled": False}, 422, "validation_failed"),
        (
            {"rule_id": "venue_visit_yearly", "enabled": False, "reason": "x"},
            422,
            "validation_failed",
        ),
        (
            {"rule_id": "venue_visit_yearly", "enabled": False, "region_code": "439999"},
            404,
            "region_not_found",
        ),
    ]
    for body, status, code in cases:
        response = override(client, settings, province, **{"region_code": PROVINCE, **body})
        assert (response.status_code, response.json()["code"]) == (status, code), body
    assert session.exec(select(PolicyOverride)).all() == []
    widened = override(
        client,
        settings,
        province,
        region_code=PROVINCE,
        rule_id="top_scientist_talks_yearly",
        threshold_min=3,
        threshold_max=4,
    )
    assert widened.status_code == 201, widened.text


def test_only_a_bureau_of_the_region_or_above_overrides(
    client: TestClient, settings: Settings, hunan: Hunan
) -> None:
    body = {"rule_id": "venue_visit_yearly", "enabled": False}
    refused = [
        (hunan.bureaus[COUNTY], CITY),  # a district for its city
        (hunan.bureaus[SIBLING], COUNTY),  # a district for its neighbour
        (hunan.bureaus[COUNTY], "140500"),  # another province
    ]
    for who, code in refused:
        response = override(client, settings, who, region_code=code, **body)
        assert response.status_code == 403, (who.region_code, code)
        assert response.json()["code"] == "outside_region"
    for who in (hunan.school_staff, hunan.platform):
        response = override(client, settings, who, region_code=COUNTY, **body)
        assert response.json()["code"] == "role_forbidden"
    province = override(client, settings, hunan.bureaus[PROVINCE], region_code=COUNTY, **body)
    assert province.status_code == 201, province.text


def test_who_reads_which_pack(client: TestClient, settings: Settings, hunan: Hunan) -> None:
    allowed = {
        hunan.school_staff: (COUNTY, CITY, PROVINCE),  # its region and those above
        hunan.bureaus[COUNTY]: (COUNTY, CITY, PROVINCE),
        hunan.bureaus[CITY]: (CITY, COUNTY, SIBLING, PROVINCE),  # below, and above
        hunan.platform: (COUNTY, SIBLING, "140500", "150400"),
    }
    refused = {
        hunan.school_staff: (SIBLING, "140500"),
        hunan.bureaus[COUNTY]: (SIBLING, "140500"),
        hunan.bureaus[SIBLING]: (COUNTY,),
    }
    for who, codes in allowed.items():
        for code in codes:
            assert pack(client, settings, who, code).status_code == 200, (who.role, code)
    for who, codes in refused.items():
        for code in codes:
            response = pack(client, settings, who, code)
            assert response.status_code == 403, (who.role, code)
            assert response.json()["code"] == "outside_region"
    missing = pack(client, settings, hunan.platform, "439999")
    assert missing.json()["code"] == "region_not_found"


def test_the_history_stays_in_the_region(
    client: TestClient, settings: Settings, hunan: Hunan
) -> None:
    rule = {"rule_id": "venue_visit_yearly"}
    override(
        client, settings, hunan.bureaus[CITY], region_code=CITY, threshold_min=2, **rule
    ).raise_for_status()
    override(
        client, settings, hunan.bureaus[COUNTY], region_code=COUNTY, enabled=False, **rule
    ).raise_for_status()
    override(
        client, settings, hunan.bureaus[SIBLING], region_code=SIBLING, threshold_min=3, **rule
    ).raise_for_status()

    def history(who: Principal, **params: str) -> httpx.Response:
        return client.get("/api/v1/policy/overrides", params=params, headers=auth(settings, who))

    county = history(hunan.bureaus[COUNTY]).json()
    assert [(o["region_code"], o["version"]) for o in county["items"]] == [(COUNTY, 1)]
    city = history(hunan.bureaus[CITY], region_code=CITY).json()
    assert {o["region_code"] for o in city["items"]} == {CITY, COUNTY, SIBLING}
    assert city["total"] == 3
    assert history(hunan.bureaus[CITY], rule_id="after_school_science_weekly").json()["total"] == 0
    assert history(hunan.bureaus[COUNTY], region_code=CITY).json()["code"] == "outside_region"
    assert history(hunan.platform).json()["total"] == 3
    assert history(hunan.school_staff).json()["code"] == "role_forbidden"


# --- two bureaus editing at once: the database decides -----------------------------------

RACE_REGION = "430000"


@pytest.fixture
def race(engine: Engine) -> Iterator[Principal]:
    with Session(engine) as s:
        s.add(Region(code=RACE_REGION, name="湖南省", level="province"))
        s.flush()
        bureau = Bureau(name="并发测试教育局", region_code=RACE_REGION, created_at=NOW)
        s.add(bureau)
        s.commit()
        who = Principal(
            subject="account:930099",
            role=Role.bureau,
            bureau_id=bureau.id,
            region_code=RACE_REGION,
        )
    yield who
    with Session(engine) as s:
        s.execute(delete(PolicyOverride).where(col(PolicyOverride.region_code) == RACE_REGION))
        s.execute(delete(AuditLog).where(col(AuditLog.region_code) == RACE_REGION))
        s.execute(delete(Bureau).where(col(Bureau.region_code) == RACE_REGION))
        s.execute(delete(Region).where(col(Region.code) == RACE_REGION))
        s.commit()


def test_concurrent_edits_of_one_version_make_one_version(
    settings: Settings, engine: Engine, race: Principal
) -> None:
    bearer = token(settings, race)
    body = {
        "region_code": RACE_REGION,
        "rule_id": "venue_visit_yearly",
        "expected_version": 0,
        "reason": "同时修改",
    }

    async def all_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            return await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/policy/overrides",
                        json={**body, "threshold_min": n},
                        headers={"Authorization": f"Bearer {bearer}"},
                    )
                    for n in range(1, 21)
                )
            )

    with serve(create_app(settings, clock=FrozenClock(NOW))) as url:
        responses = asyncio.run(all_at_once())
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, [r.text for r in responses if r.status_code != 409]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "policy_override_stale"
    }
    with Session(engine) as s:
        rows = s.exec(select(PolicyOverride).where(PolicyOverride.region_code == RACE_REGION)).all()
        audit = s.exec(select(AuditLog).where(AuditLog.region_code == RACE_REGION)).all()
    assert [r.version for r in rows] == [1]
    assert len(audit) == 1


def test_an_override_above_does_not_reach_past_a_nearer_pack_file() -> None:
    """Xiangxiang's own file sets its county figure (100); a value recorded at Xiangtan, above
    it, leaves that alone, while Xiangtan's own figure takes it."""

    def row(rule_id: str, value: int) -> PolicyOverride:
        return PolicyOverride(
            region_code="430300",
            rule_id=rule_id,
            version=1,
            threshold_min=value,
            reason="测试",
            created_by="account:1",
            created_at=NOW,
        )

    rows = [row("counsellor_training_county_yearly", 50), row("after_school_science_weekly", 2)]
    packs = current()
    county = apply_overrides(packs.for_region("430381"), "430381", rows)
    own, inherited = (
        county.rule("counsellor_training_county_yearly"),
        county.rule("after_school_science_weekly"),
    )
    assert own is not None
    assert inherited is not None
    assert (own.threshold_min, inherited.threshold_min) == (100, 2)
