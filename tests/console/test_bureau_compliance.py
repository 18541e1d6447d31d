"""The bureau's compliance pages in the console: the dashboard's three charts and tables say
the API's figures (``GET /compliance``), the schools' list filters, sorts and pages, a school's
drill-down shows what it lacks and is refused to another region's bureau, the ledger is
exported (and audited) by the dashboard's form, and the platform names a region first."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import Session, col, select

from scipass.audit.models import AuditLog
from scipass.core.auth import Principal, Role
from scipass.core.config import Settings
from tests.console.signing import create_staff, sign_in
from tests.factories import auth
from tests.policy.test_compliance_api import NOW, TERM, bureau
from tests.policy.test_compliance_api import world as world  # a fixture

BAR = re.compile(
    r'<g class="bar" data-label="([^"]*)" data-met="(\d+)" data-missed="(\d+)" data-open="(\d+)">'
)
ROW = re.compile(
    r'<tr><th scope="row">([^<]*)</th>((?:<td data-state="\w+">\d+</td>)+)<td>(\d+)</td>'
)
CELL = re.compile(r'<td data-state="(\w+)">(\d+)</td>')


def chart(html: str, key: str) -> dict[str, Any]:
    """A chart of the page: its SVG's bars, its table's rows, its title and description."""
    start = html.index(f'<figure class="chart" id="chart-{key}"')
    part = html[start : html.index("</figure>", start)]
    assert 'role="img"' in part
    bars = {label: (int(m), int(x), int(o)) for label, m, x, o in BAR.findall(part)}
    rows = {}
    for label, cells, total in ROW.findall(part):
        counts = {state: int(n) for state, n in CELL.findall(cells)}
        rows[label] = (counts["met"], counts["missed"], counts.get("open", 0))
        assert int(total) == sum(counts.values())
    title = re.search(r"<title id=[^>]*>([^<]*)</title>", part)
    desc = re.search(r"<desc id=[^>]*>([^<]*)</desc>", part)
    assert title
    assert desc
    return {"bars": bars, "rows": rows, "title": title.group(1), "desc": desc.group(1)}


def api_region(client: TestClient, settings: Settings, who: Principal, **params: Any) -> Any:
    answer = client.get("/api/v1/compliance", headers=auth(settings, who, now=NOW), params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def summed(tables: list[dict[str, Any]], part: str, key: str) -> dict[str, tuple[int, ...]]:
    found: dict[str, list[int]] = {}
    for table in tables:
        for row in table[part]:
            counts = found.setdefault(row[key], [0, 0, 0])
            for index, state in enumerate(("met", "missed", "open")):
                counts[index] += row[state]
    return {k: tuple(v) for k, v in found.items()}


@pytest.fixture
def officer(app: FastAPI, session: Session, world: dict[str, Any]) -> tuple[TestClient, str]:
    name = create_staff(
        session, username="xt-officer", role=Role.bureau, org_id=world["xiangtan"].id
    )
    client = TestClient(app, raise_server_exceptions=False)
    return client, sign_in(client, name)


def test_the_three_charts_and_the_rules_table_say_the_apis_figures(
    client: TestClient,
    settings: Settings,
    world: dict[str, Any],
    officer: tuple[TestClient, str],
) -> None:
    console, _ = officer
    expected = api_region(client, settings, bureau(world, "xiangtan"), **TERM)
    page = console.get("/console/bureau/compliance", params=TERM)
    assert page.status_code == 200, page.text
    html = page.text
    assert "湘潭市 · 2026-2027学年第一学期" in html

    per_rule = chart(html, "per-rule")
    want = {
        t["description"]: (t["total"]["met"], t["total"]["missed"], t["total"]["open"])
        for t in expected["rules"]
    }
    assert per_rule["bars"] == want
    assert per_rule["rows"] == want
    visit = next(t for t in expected["rules"] if t["rule_id"] == "venue_visit_yearly")
    assert want[visit["description"]] == (2, 1, 0)  # the world's two visits and one miss
    assert f"{visit['description']}：达标 2，未达标 1" in per_rule["desc"]

    # by district and urban against rural: every rule summed, as the API tallies them
    names = {d["region_code"]: d["name"] for t in expected["rules"] for d in t["by_district"]}
    districts = chart(html, "by-district")
    by_code = summed(expected["rules"], "by_district", "region_code")
    assert districts["bars"] == {names[c]: v for c, v in by_code.items()}
    assert districts["rows"] == districts["bars"]
    areas = chart(html, "by-area")
    by_area = summed(expected["rules"], "by_area", "area")
    assert areas["bars"] == {{"urban": "城镇", "rural": "乡村"}[a]: v for a, v in by_area.items()}
    assert areas["rows"] == areas["bars"]

    # one rule chosen: its own tallies, the API's figures of the compliance test
    one = console.get(
        "/console/bureau/compliance", params={**TERM, "rule": "venue_visit_yearly"}
    ).text
    assert chart(one, "by-district")["bars"] == {"雨湖区": (1, 1, 0), "湘乡市": (1, 0, 0)}
    assert chart(one, "by-area")["rows"] == {"城镇": (1, 1, 0), "乡村": (1, 0, 0)}
    assert "按区县：「" in chart(one, "by-district")["title"]

    # the rules' table and the region's own rule
    row = re.search(r'<tr data-rule="venue_visit_yearly">(.*?)</tr>', html, re.S)
    assert row
    assert re.findall(r'<td data-state="\w+">(\d+)</td>', row.group(1)) == ["2", "1", "0"]
    region_table = html.split('<table id="region-rules">')[1].split("</table>")[0]
    training = expected["region_rules"][0]
    assert training["rule_id"] == "counsellor_training_city_yearly"
    assert training["description"] in region_table
    assert f"<td>{training['figure']}</td><td>200</td>" in region_table


def test_the_schools_list_filters_sorts_and_pages_on_the_server(
    world: dict[str, Any], officer: tuple[TestClient, str]
) -> None:
    console, _ = officer

    def listed(**params: Any) -> list[str]:
        html = console.get("/console/bureau/compliance", params={**TERM, **params}).text
        table = html.split('<table id="schools">')[1].split("</table>")[0]
        return re.findall(r'<a href="/console/bureau/schools/\d+[^"]*">([^<]*)</a>', table)

    everyone = listed(sort="name")
    assert everyone == sorted(["雨湖区实验小学", "雨湖区第二小学", "湘乡市乡村小学"])
    assert listed(rule="venue_visit_yearly", state="missed") == ["雨湖区第二小学"]
    assert listed(rule="venue_visit_yearly", state="met", sort="name") == sorted(
        ["雨湖区实验小学", "湘乡市乡村小学"]
    )
    assert listed(area="rural") == ["湘乡市乡村小学"]
    assert listed(district="430381") == ["湘乡市乡村小学"]
    first = listed(sort="name", limit=2)
    second = listed(sort="name", limit=2, offset=2)
    assert first + second == everyone
    page = console.get("/console/bureau/compliance", params={**TERM, "limit": 2}).text
    assert "第 1 / 2 页，共 3 条" in page
    # the drill-down links keep the term
    assert (
        f"/console/bureau/schools/{world['missed'].id}?school_year=2026&amp;semester=autumn" in page
    )


def test_a_school_drill_down_shows_what_is_missing_to_its_region_only(
    app: FastAPI, session: Session, world: dict[str, Any], officer: tuple[TestClient, str]
) -> None:
    console, _ = officer
    missed = world["missed"]
    page = console.get(f"/console/bureau/schools/{missed.id}", params=TERM)
    assert page.status_code == 200, page.text
    assert "雨湖区第二小学" in page.text
    assert "雨湖区 · 城镇 · 2026-2027学年第一学期" in page.text
    rule = re.search(
        r'data-rule="venue_visit_yearly" data-state="(\w+)">(.*?)</section>', page.text, re.S
    )
    assert rule
    assert rule.group(1) == "missed"
    assert "还差 1（现为 0，要求 1）" in rule.group(2)
    visited = console.get(f"/console/bureau/schools/{world['visited'].id}", params=TERM).text
    rule = re.search(
        r'data-rule="venue_visit_yearly" data-state="(\w+)">(.*?)</section>', visited, re.S
    )
    assert rule
    assert rule.group(1) == "met"
    assert "计入的佐证（1）" in rule.group(2)

    name = create_staff(
        session, username="jc-officer", role=Role.bureau, org_id=world["jincheng"].id
    )
    other = TestClient(app, raise_server_exceptions=False)
    sign_in(other, name)
    refused = other.get(f"/console/bureau/schools/{missed.id}", params=TERM)
    assert refused.status_code == 404
    assert "单位不存在" in refused.text
    assert "雨湖区第二小学" not in refused.text
    outside = other.get("/console/bureau/compliance", params={**TERM, "region_code": "430300"})
    assert outside.status_code == 403
    assert "超出本单位管辖的地区" in outside.text
    assert "雨湖区" not in outside.text


def test_the_ledger_is_exported_by_the_dashboards_form_and_audited(
    session: Session, world: dict[str, Any], officer: tuple[TestClient, str]
) -> None:
    console, csrf = officer
    page = console.get("/console/bureau/compliance", params=TERM).text
    assert 'action="/console/do/region-compliance-ledger"' in page
    assert 'name="query.school_year" value="2026"' in page
    before = session.exec(
        select(AuditLog).where(col(AuditLog.action) == "compliance_ledger_exported")
    ).all()
    answer = console.post(
        "/console/do/region-compliance-ledger",
        data={
            "csrf_token": csrf,
            "_form": "ledger",
            "query.school_year": "2026",
            "query.semester": "autumn",
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in answer.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(answer.content))
    assert len(workbook.sheetnames) >= 2
    after = session.exec(
        select(AuditLog).where(col(AuditLog.action) == "compliance_ledger_exported")
    ).all()
    assert len(after) == len(before) + 1
    assert after[-1].region_code == "430300"
    # without the CSRF token nothing is exported
    refused = console.post(
        "/console/do/region-compliance-ledger", data={"query.school_year": "2026"}
    )
    assert refused.status_code == 403


def test_the_platform_names_a_region_first(
    app: FastAPI, client: TestClient, settings: Settings, session: Session, world: dict[str, Any]
) -> None:
    name = create_staff(session, username="platform-1", role=Role.platform_admin, org_id=None)
    console = TestClient(app, raise_server_exceptions=False)
    sign_in(console, name)
    unnamed = console.get("/console/bureau/compliance", params=TERM)
    assert unnamed.status_code == 200
    assert "请指定行政区划代码" in unnamed.text
    assert 'id="chart-per-rule"' not in unnamed.text
    # the region is chosen from the public region list, not typed as a code
    assert '<option value="430300">湘潭市</option>' in unnamed.text
    named = console.get("/console/bureau/compliance", params={**TERM, "region_code": "430300"})
    assert named.status_code == 200
    platform = Principal(subject="account:900004", role=Role.platform_admin)
    expected = api_region(client, settings, platform, region_code="430300", **TERM)
    assert chart(named.text, "per-rule")["rows"] == {
        t["description"]: (t["total"]["met"], t["total"]["missed"], t["total"]["open"])
        for t in expected["rules"]
    }
