"""The public region endpoints over the demo world."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlmodel import Session, select

from scipass.demo import data, loader
from scipass.org.models import School, Stage, Venue, decode_stages, encode_stages
from tests.demo_world import DemoWorld, inside, open_world


@pytest.fixture(scope="module")
def world(
    engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoWorld]:
    """The demo, loaded once for this module at the real time (tests/demo_world.py)."""
    with open_world(engine, database_url, tmp_path_factory.mktemp("regions"), None) as world:
        yield world


@pytest.fixture
def connection(world: DemoWorld) -> Iterator[Connection]:
    """Each test in a savepoint of the world, rolled back at its end."""
    with inside(world) as connection:
        yield connection


@pytest.fixture
def demo(connection: Connection) -> None:
    """The test reads the demo world (its connection is a savepoint in it)."""


def test_demo_covers_every_seed_region_stage_and_area(session: Session, demo: None) -> None:
    assert loader.load(session) is None  # loading twice changes nothing
    schools = session.exec(select(School)).all()
    stages = {stage for school in schools for stage in decode_stages(school.stages)}
    assert stages == set(Stage)
    assert {school.area for school in schools} == {"urban", "rural"}
    cities = {"430300": "湘潭", "150400": "赤峰", "140500": "晋城"}
    parents = {code: parent for code, _name, _level, parent in data.REGIONS}
    for city in cities:
        assert any(parents[v.region_code] == city for v in session.exec(select(Venue)).all())
        assert any(parents[s.region_code] == city for s in schools)
    assert any(s.region_code == "430381" for s in schools)  # Xiangxiang (000)
    for venue in session.exec(select(Venue)).all():
        # GCJ-02 points inside mainland China
        assert 73 < venue.longitude < 135
        assert 18 < venue.latitude < 54


def test_region_list_filters_and_pages(client: TestClient, demo: None) -> None:
    response = client.get("/api/v1/regions", params={"level": "province"})
    assert response.status_code == 200
    body = response.json()
    assert [r["code"] for r in body["items"]] == ["140000", "150000", "430000"]
    assert body["total"] == 3

    page = client.get(
        "/api/v1/regions", params={"parent_code": "430300", "limit": 2, "offset": 2}
    ).json()
    assert page["total"] == 5
    assert [r["code"] for r in page["items"]] == ["430321", "430381"]


def test_region_detail_has_ancestors_and_children(client: TestClient, demo: None) -> None:
    body = client.get("/api/v1/regions/430381").json()
    assert body["name"] == "湘乡市"
    assert [r["code"] for r in body["ancestors"]] == ["430000", "430300"]
    assert body["children"] == []
    city = client.get("/api/v1/regions/150400").json()
    assert {r["name"] for r in city["children"]} >= {"红山区", "宁城县"}


def test_stage_encoding_is_canonical() -> None:
    assert encode_stages(["senior", "primary", "primary"]) == "primary,senior"
    assert decode_stages("primary,junior") == [Stage.primary, Stage.junior]
    with pytest.raises(ValueError, match="kindergarten"):
        encode_stages(["kindergarten"])
