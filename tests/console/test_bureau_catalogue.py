"""The bureau's catalogue pages in the console: a local whitelist created and an entry added
(a missing stage refused beside its field, as the API refuses it), a competition created,
set to a whitelist entry and given an edition through the forms, the catalogue read by
another region's bureau without its forms, and the region's public-notice length set and
handed back to the region above."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.competition.models import Competition, Edition, Whitelist, WhitelistEntry
from scipass.core.auth import Role
from scipass.org.models import Region
from tests.console.signing import create_staff, sign_in
from tests.factories import Side

JSON = {"accept": "application/json"}


@pytest.fixture
def officer(app: FastAPI, session: Session, side_a: Side) -> tuple[TestClient, str]:
    name = create_staff(session, username="a-officer", role=Role.bureau, org_id=side_a.bureau.id)
    console = TestClient(app, raise_server_exceptions=False)
    return console, sign_in(console, name)


def _post(console: TestClient, csrf: str, operation: str, **fields: Any) -> Any:
    return console.post(
        f"/console/do/{operation}", data={"csrf_token": csrf, **fields}, headers=JSON
    )


def test_a_local_whitelist_and_its_entries_are_made_through_the_forms(
    session: Session, side_a: Side, officer: tuple[TestClient, str]
) -> None:
    console, csrf = officer
    page = console.get("/console/bureau/whitelists")
    assert 'action="/console/do/whitelist-create"' in page.text
    made = _post(
        console,
        csrf,
        "whitelist-create",
        name="测试市竞赛名单",
        source="测试市教育局公告",
        first_school_year="2026",
        last_school_year="2027",
    )
    assert made.status_code == 200, made.text
    whitelist = session.exec(select(Whitelist).where(Whitelist.name == "测试市竞赛名单")).one()
    assert (whitelist.region_code, whitelist.first_school_year) == (side_a.region_code, 2026)

    url = f"/console/bureau/whitelists/{whitelist.id}"
    assert 'action="/console/do/whitelist-entry-create"' in console.get(url).text
    fields = {
        "path.whitelist_id": str(whitelist.id),
        "name": "测试机器人赛",
        "organiser": "测试科协",
    }
    refused = _post(console, csrf, "whitelist-entry-create", **fields)
    assert refused.status_code == 422
    assert any(e["field"] == "body.stages" for e in refused.json()["errors"])
    added = console.post(
        "/console/do/whitelist-entry-create",
        data={"csrf_token": csrf, **fields, "stages": ["primary", "junior"]},
        headers=JSON,
    )
    assert added.status_code == 200, added.text
    entry = session.exec(
        select(WhitelistEntry).where(WhitelistEntry.whitelist_id == whitelist.id)
    ).one()
    assert (entry.name, entry.stages) == ("测试机器人赛", "primary,junior")
    listed = console.get(url).text
    assert re.search(
        r"<th scope=\"row\">测试机器人赛</th><td>测试科协</td><td>小学、初中</td>", listed
    )
    exported = console.post(
        "/console/do/whitelist-export",
        data={"csrf_token": csrf, "path.whitelist_id": str(whitelist.id)},
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/vnd.openxmlformats")


def test_a_competition_is_created_set_to_an_entry_and_given_an_edition(
    app: FastAPI,
    session: Session,
    side_a: Side,
    side_b: Side,
    officer: tuple[TestClient, str],
) -> None:
    console, csrf = officer
    refused = _post(
        console,
        csrf,
        "competition-create",
        name="测试县机器人竞赛",
        organiser_unit="测试县教育局",
        category="robotics",
        level="county",
    )
    assert refused.status_code == 422  # neither an entry nor "not whitelisted": the API's rule
    assert refused.json()["title"]
    made = _post(
        console,
        csrf,
        "competition-create",
        name="测试县机器人竞赛",
        organiser_unit="测试县教育局",
        category="robotics",
        level="county",
        not_whitelisted="on",
    )
    assert made.status_code == 200, made.text
    competition = session.exec(
        select(Competition).where(Competition.name == "测试县机器人竞赛")
    ).one()
    assert (competition.bureau_id, competition.whitelist_entry_id) == (side_a.bureau.id, None)
    listed = console.get("/console/bureau/competitions").text
    assert f'href="/console/bureau/competitions/{competition.id}">测试县机器人竞赛</a>' in listed

    whitelist = Whitelist(
        name="测试地区名单",
        source="测试",
        first_school_year=2026,
        last_school_year=2027,
        region_code=side_a.region_code,
        bureau_id=side_a.bureau.id,
        created_at=competition.created_at,
    )
    session.add(whitelist)
    session.flush()
    entry = WhitelistEntry(
        whitelist_id=whitelist.id or 0,
        name="测试机器人赛",
        organiser="测试科协",
        stages="primary",
        created_at=competition.created_at,
    )
    session.add(entry)
    session.flush()
    url = f"/console/bureau/competitions/{competition.id}"
    page = console.get(url).text
    assert f'<option value="{entry.id}">测试机器人赛（测试科协）</option>' in page
    path = {"path.competition_id": str(competition.id)}
    set_ = _post(
        console, csrf, "competition-whitelist-set", whitelist_entry_id=str(entry.id), **path
    )
    assert set_.status_code == 200, set_.text
    session.refresh(competition)
    assert competition.whitelist_entry_id == entry.id

    edition = console.post(
        "/console/do/competition-edition-create",
        data={
            "csrf_token": csrf,
            **path,
            "school_year": "2026",
            "title": "第一届",
            "requires_title": "false",  # the box left unticked sends only its hidden false
            "requires_attachment": ["false", "on"],
            "attachment_max_mb": "5",
        },
        headers=JSON,
    )
    assert edition.status_code == 200, edition.text
    stored = session.exec(select(Edition).where(Edition.competition_id == competition.id)).one()
    assert (stored.requires_title, stored.requires_attachment) == (False, True)
    assert stored.attachment_max_bytes == 5 * 1024 * 1024
    assert "第一届" in console.get(url).text

    # another region's bureau reads the catalogue (as the API lets it) but gets no form
    name = create_staff(session, username="b-officer", role=Role.bureau, org_id=side_b.bureau.id)
    other = TestClient(app, raise_server_exceptions=False)
    other_csrf = sign_in(other, name)
    seen = other.get(url)
    assert seen.status_code == 200
    assert "测试县机器人竞赛" in seen.text
    assert "competition-whitelist-set" not in seen.text
    assert "competition-edition-create" not in seen.text
    foreign = _post(other, other_csrf, "competition-whitelist-set", not_whitelisted="on", **path)
    assert foreign.status_code in (403, 404)
    session.refresh(competition)
    assert competition.whitelist_entry_id == entry.id


def test_the_regions_notice_length_is_set_and_handed_back(
    session: Session, side_a: Side, side_b: Side, officer: tuple[TestClient, str]
) -> None:
    console, csrf = officer
    page = console.get("/console/bureau/notice-setting")
    assert page.status_code == 200
    assert 'action="/console/do/notice-setting-set"' in page.text
    path = {"path.region_code": side_a.region_code}
    out_of_range = _post(console, csrf, "notice-setting-set", working_days="0", **path)
    assert out_of_range.status_code == 422
    assert out_of_range.json()["errors"][0]["field"] == "body.working_days"
    region = session.get(Region, side_a.region_code)
    assert region is not None
    assert region.notice_working_days is None

    assert _post(console, csrf, "notice-setting-set", working_days="7", **path).status_code == 200
    session.refresh(region)
    assert region.notice_working_days == 7
    shown = console.get("/console/bureau/notice-setting").text
    assert 'data-effective="7"' in shown
    assert "沿用上级设置" in shown

    county = f"{side_a.region_code[:4]}01"
    below = console.get("/console/bureau/notice-setting", params={"region_code": county}).text
    assert 'data-effective="7"' in below  # the county has none of its own
    assert f"沿用 {side_a.region_code} 的设置" in below

    inherit = {"working_days:json": "null", **path}
    assert _post(console, csrf, "notice-setting-set", **inherit).status_code == 200
    session.refresh(region)
    assert region.notice_working_days is None

    other = console.get(
        "/console/bureau/notice-setting", params={"region_code": side_b.region_code}
    )
    assert other.status_code == 404
    assert "notice-setting-set" not in other.text
    foreign = {"path.region_code": side_b.region_code, "working_days": "9"}
    assert _post(console, csrf, "notice-setting-set", **foreign).status_code == 403
    assert session.get(Region, side_b.region_code).notice_working_days is None  # type: ignore[union-attr]


def test_the_platform_reads_the_catalogue_without_its_forms(app: FastAPI, session: Session) -> None:
    name = create_staff(session, username="platform-3", role=Role.platform_admin, org_id=None)
    console = TestClient(app, raise_server_exceptions=False)
    sign_in(console, name)
    for url in ("/console/bureau/competitions", "/console/bureau/whitelists"):
        page = console.get(url)
        assert page.status_code == 200
        assert "data-enhance" not in page.text.split("</header>")[1], url
    assert "请输入要设置的行政区划代码" in console.get("/console/bureau/notice-setting").text
