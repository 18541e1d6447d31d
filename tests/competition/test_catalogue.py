"""The catalogue and the whitelist: the shipped national list, regional lists kept by bureaus
(XLSX in and out, all-or-nothing), competitions linked to an entry or marked not
whitelisted, one edition a school year, rounds organised by a school, a venue or a bureau."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, func, select

from scipass.competition import catalogue
from scipass.competition.models import Competition, Round, RoundEntry, WhitelistEntry
from scipass.core.auth import Principal, Role
from scipass.core.config import Settings
from tests.factories import NOW, Side, auth, bound_student, create_competition


def call(
    client: TestClient, settings: Settings, who: Principal, method: str, url: str, **kw: Any
) -> Any:
    return client.request(method, "/api/v1" + url, headers=auth(settings, who), **kw)


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_the_national_list_ships_with_its_source(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    pupil = side_a.principal(Role.student)
    lists = call(client, settings, pupil, "GET", "/competition-whitelists").json()["items"]
    [national] = [w for w in lists if w["region_code"] is None]
    assert national["first_school_year"] == 2025
    assert national["last_school_year"] == 2027
    assert "教育部" in national["source"]
    assert national["entries"] == 12
    entries = call(
        client, settings, pupil, "GET", f"/competition-whitelists/{national['id']}/entries"
    ).json()["items"]
    assert entries[0]["name"] == "全国青少年人工智能创新挑战赛"
    assert entries[0]["stages"] == ["primary", "junior", "senior", "vocational"]
    assert entries[5]["stages"] == ["senior"]


def test_a_bureau_keeps_a_regional_list_in_xlsx(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    bureau = side_a.principal(Role.bureau)
    created = call(
        client,
        settings,
        bureau,
        "POST",
        "/competition-whitelists",
        json={
            "name": "测试市2026年竞赛活动名单",
            "source": "测试市教育局〔2026〕1号",
            "first_school_year": 2026,
            "last_school_year": 2027,
        },
    )
    assert created.status_code == 201, created.text
    list_id = created.json()["id"]
    assert created.json()["region_code"] == side_a.region_code

    bad = _xlsx(
        [
            ["序号", "竞赛名称", "主办单位", "面向学段", "备注"],
            [1, "测试市青少年科技创新大赛", "测试市科协", "小学、初中", ""],
            [2, "", "测试市科协", "大学", ""],
            [3, "测试市青少年科技创新大赛", "测试市教育局", "初中", ""],
        ]
    )
    refused = call(
        client,
        settings,
        bureau,
        "POST",
        f"/competition-whitelists/{list_id}/import",
        files={"file": ("名单.xlsx", bad)},
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "whitelist_import_invalid"
    assert {(e["line"], e["column"]) for e in refused.json()["errors"]} == {
        (3, "竞赛名称"),
        (3, "面向学段"),
        (4, "竞赛名称"),
    }
    count = select(func.count()).where(WhitelistEntry.whitelist_id == list_id)
    assert session.exec(count).one() == 0

    good = _xlsx(
        [
            ["序号", "竞赛名称", "主办单位", "面向学段", "备注"],
            [1, "测试市青少年科技创新大赛", "测试市科协", "小学、初中", "市级"],
            [2, "测试市中小学生航模比赛", "测试市体育局", "初中，普通高中", ""],
        ]
    )
    imported = call(
        client,
        settings,
        bureau,
        "POST",
        f"/competition-whitelists/{list_id}/import",
        files={"file": ("名单.xlsx", good)},
    )
    assert imported.json() == {"imported": 2, "unchanged": 0}
    again = call(
        client,
        settings,
        bureau,
        "POST",
        f"/competition-whitelists/{list_id}/import",
        files={"file": ("名单.xlsx", good)},
    )
    assert again.json() == {"imported": 0, "unchanged": 2}

    exported = call(client, settings, bureau, "GET", f"/competition-whitelists/{list_id}/export")
    sheet = load_workbook(io.BytesIO(exported.content)).worksheets[0]
    rows = [[c or "" for c in row] for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["序号", "竞赛名称", "主办单位", "面向学段", "备注"]
    assert rows[2] == ["2", "测试市中小学生航模比赛", "测试市体育局", "初中、普通高中", ""]

    other = call(
        client,
        settings,
        side_b.principal(Role.bureau),
        "POST",
        f"/competition-whitelists/{list_id}/entries",
        json={"name": "别处的竞赛", "organiser": "别处", "stages": ["primary"]},
    )
    assert other.status_code == 404


def test_an_import_racing_another_answers_409_and_writes_nothing(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two imports at once with a name in common: the second one's read saw the list without
    it, and its write meets the unique (list, name). Staged by hiding the entry from the read."""
    bureau = side_a.principal(Role.bureau)
    created = call(
        client,
        settings,
        bureau,
        "POST",
        "/competition-whitelists",
        json={
            "name": "测试市竞赛名单（并发）",
            "source": "测试市教育局〔2026〕2号",
            "first_school_year": 2026,
            "last_school_year": 2027,
        },
    )
    list_id = created.json()["id"]
    first = call(
        client,
        settings,
        bureau,
        "POST",
        f"/competition-whitelists/{list_id}/entries",
        json={"name": "测试市科技节", "organiser": "测试市科协", "stages": ["primary"]},
    )
    assert first.status_code == 201, first.text
    monkeypatch.setattr(catalogue, "entries_of", lambda session, whitelist_id: [])
    racing = _xlsx(
        [
            ["序号", "竞赛名称", "主办单位", "面向学段", "备注"],
            [1, "测试市航模比赛", "测试市体育局", "初中", ""],
            [2, "测试市科技节", "测试市科协", "小学", ""],
        ]
    )
    refused = call(
        client,
        settings,
        bureau,
        "POST",
        f"/competition-whitelists/{list_id}/import",
        files={"file": ("名单.xlsx", racing)},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "competition_exists"
    names = session.exec(select(WhitelistEntry.name).where(WhitelistEntry.whitelist_id == list_id))
    assert list(names.all()) == ["测试市科技节"]


def test_a_competition_is_linked_to_an_entry_or_marked_not_whitelisted(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    bureau = side_a.principal(Role.bureau)
    body = {
        "name": "测试县青少年机器人竞赛",
        "organiser_unit": "测试县教育局",
        "category": "robotics",
        "level": "county",
    }
    neither = call(client, settings, bureau, "POST", "/competitions", json=body)
    assert neither.status_code == 422
    assert neither.json()["code"] == "competition_invalid"
    assert session.exec(select(func.count()).select_from(Competition)).one() == 0

    entry_id = session.exec(select(WhitelistEntry.id).where(WhitelistEntry.number == 2)).one()
    linked = call(
        client,
        settings,
        bureau,
        "POST",
        "/competitions",
        json={**body, "whitelist_entry_id": entry_id},
    )
    assert linked.status_code == 201, linked.text
    assert linked.json()["whitelisted"] is True
    assert linked.json()["notice"] == "竞赛结果不作为中小学招生入学的依据。竞赛活动不收取任何费用。"
    competition_id = linked.json()["id"]
    unlinked = call(
        client,
        settings,
        bureau,
        "PUT",
        f"/competitions/{competition_id}/whitelist",
        json={"not_whitelisted": True},
    )
    assert unlinked.json()["whitelisted"] is False

    edition = {"school_year": 2026, "title": "第一届"}
    first = call(
        client, settings, bureau, "POST", f"/competitions/{competition_id}/editions", json=edition
    )
    assert first.status_code == 201
    second = call(
        client, settings, bureau, "POST", f"/competitions/{competition_id}/editions", json=edition
    )
    assert second.status_code == 409
    assert second.json()["code"] == "competition_edition_exists"


def test_a_competition_links_only_to_a_list_of_a_region_containing_its_own(
    client: TestClient, settings: Settings, session: Session, side_a: Side, side_b: Side
) -> None:
    def regional_entry(side: Side) -> int:
        bureau = side.principal(Role.bureau)
        whitelist = call(
            client,
            settings,
            bureau,
            "POST",
            "/competition-whitelists",
            json={
                "name": f"{side.region_code}竞赛名单",
                "source": "教育局文件",
                "first_school_year": 2026,
                "last_school_year": 2027,
            },
        ).json()
        entry = call(
            client,
            settings,
            bureau,
            "POST",
            f"/competition-whitelists/{whitelist['id']}/entries",
            json={"name": "市青少年科技节", "organiser": "市科协", "stages": ["primary"]},
        )
        assert entry.status_code == 201, entry.text
        return int(entry.json()["id"])

    own, other = regional_entry(side_a), regional_entry(side_b)
    bureau = side_a.principal(Role.bureau)
    body = {
        "name": "测试市青少年科技节",
        "organiser_unit": "测试市科协",
        "category": "other",
        "level": "city",
    }
    refused = call(
        client,
        settings,
        bureau,
        "POST",
        "/competitions",
        json={**body, "whitelist_entry_id": other},
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "competition_invalid"
    assert "其他地区" in refused.json()["detail"]
    assert session.exec(select(func.count()).select_from(Competition)).one() == 0

    linked = call(
        client, settings, bureau, "POST", "/competitions", json={**body, "whitelist_entry_id": own}
    )
    assert linked.status_code == 201, linked.text
    relinked = call(
        client,
        settings,
        bureau,
        "PUT",
        f"/competitions/{linked.json()['id']}/whitelist",
        json={"whitelist_entry_id": other},
    )
    assert relinked.status_code == 422
    assert relinked.json()["code"] == "competition_invalid"
    assert session.get(Competition, linked.json()["id"]).whitelist_entry_id == own


def test_rounds_have_one_organiser_of_three_kinds(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    bureau = side_a.principal(Role.bureau)
    competition = call(
        client,
        settings,
        bureau,
        "POST",
        "/competitions",
        json={
            "name": "测试市科技创新大赛",
            "organiser_unit": "测试市科协",
            "category": "innovation_contest",
            "level": "city",
            "not_whitelisted": True,
        },
    ).json()
    edition = call(
        client,
        settings,
        bureau,
        "POST",
        f"/competitions/{competition['id']}/editions",
        json={"school_year": 2026, "title": "第一届", "requires_abstract": True},
    ).json()
    organisers = [
        ("school", side_a.school.id, "970101"),
        ("venue", side_a.venue.id, "970101"),
        ("bureau", side_a.bureau.id, "970100"),
    ]
    for position, (kind, organiser_id, region) in enumerate(organisers, start=1):
        made = call(
            client,
            settings,
            bureau,
            "POST",
            f"/competition-editions/{edition['id']}/rounds",
            json={
                "position": position,
                "name": f"第{position}轮",
                "level": "county" if position < 3 else "city",
                "region_code": region,
                "organiser": {"kind": kind, "id": organiser_id},
                "registration_opens_at": "2026-10-01T00:00:00Z",
                "registration_closes_at": "2026-10-30T00:00:00Z",
                "school_quota": 3,
            },
        )
        assert made.status_code == 201, made.text
        assert made.json()["organiser"]["kind"] == kind
    division = call(
        client,
        settings,
        bureau,
        "POST",
        f"/competition-editions/{edition['id']}/divisions",
        json={
            "name": "小学组",
            "stages": ["primary"],
            "kind": "team",
            "min_members": 2,
            "max_members": 3,
        },
    )
    assert division.status_code == 201
    shown = call(
        client,
        settings,
        side_a.principal(Role.student),
        "GET",
        f"/competitions/{competition['id']}",
    ).json()
    [shown_edition] = shown["editions"]
    assert [r["organiser"]["kind"] for r in shown_edition["rounds"]] == [
        "school",
        "venue",
        "bureau",
    ]
    assert shown_edition["divisions"][0]["max_members"] == 3


def test_an_advancing_entry_appears_in_the_next_round_without_registering(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    """Ready for results: a row of the next round, ``via = advanced``, is what its organiser
    lists (a school's own selection first, then the bureau's county round)."""
    scene = create_competition(
        session,
        bureau=side_a.bureau,
        region_code="970101",
        round={"bureau_id": None, "school_id": side_a.school.id, "name": "校级选拔"},
    )
    county = Round(
        edition_id=scene.edition.id or 0,
        position=2,
        name="县级",
        level="county",
        region_code="970101",
        bureau_id=side_a.bureau.id,
        registration_opens_at=NOW,
        registration_closes_at=NOW.replace(month=11),
        created_at=NOW,
    )
    session.add(county)
    session.flush()
    _, captain = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=NOW.date().replace(year=2011, day=1)
    )
    entry = call(
        client,
        settings,
        captain,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries",
        json={"division_id": scene.division.id, "title": "自制显微镜"},
    ).json()
    school = side_a.principal(Role.school_admin)
    # the school's own round: the school recommends, and accepts as its organiser
    mate = bound_student(
        session, school_id=side_a.school.id or 0, birth_month=NOW.date().replace(year=2011, day=1)
    )[0]
    call(
        client,
        settings,
        school,
        "POST",
        f"/competition-entries/{entry['id']}/members",
        json={"student_id": mate.id},
    ).raise_for_status()
    call(
        client, settings, captain, "POST", f"/competition-entries/{entry['id']}/submit"
    ).raise_for_status()
    call(
        client, settings, school, "POST", f"/competition-entries/{entry['id']}/recommend"
    ).raise_for_status()
    accepted = call(
        client,
        settings,
        school,
        "POST",
        f"/competition-rounds/{scene.round.id}/entries/{entry['id']}/accept",
    )
    assert accepted.status_code == 200, accepted.text
    session.add(
        RoundEntry(
            entry_id=entry["id"],
            round_id=county.id or 0,
            school_id=side_a.school.id or 0,
            status="recommended",
            via="advanced",
            created_at=NOW,
            updated_at=NOW,
        )
    )
    session.flush()
    listed = call(
        client,
        settings,
        side_a.principal(Role.bureau),
        "GET",
        f"/competition-rounds/{county.id}/entries",
    ).json()["items"]
    assert [(i["entry_id"], i["via"]) for i in listed] == [(entry["id"], "advanced")]
