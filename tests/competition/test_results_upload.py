"""The results template and its upload: all or nothing, every bad row reported by line."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, select

from scipass.competition.models import Entry, Quota, RoundEntry
from scipass.competition.results_models import Result
from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from tests.competition.factories_results import (
    Api,
    ResultsScene,
    accepted_entry,
    create_results_scene,
)
from tests.factories import Side

HEADER = ["报名编号", "作品/队伍名称", "学校", "成员", "奖项", "是否晋级"]


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


@pytest.fixture
def scene(session: Session, side_a: Side) -> ResultsScene:
    return create_results_scene(session, side_a, region_quota=5)


def _xlsx(rows: list[list[object]], header: list[str] = HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _upload(api: Api, side: Side, round_id: int, content: bytes) -> Any:
    return api.call(
        side.principal(Role.bureau),
        "POST",
        f"/competition-rounds/{round_id}/results/upload",
        files={"file": ("成绩.xlsx", content, "application/octet-stream")},
    )


def _results(session: Session) -> list[tuple[int, str, bool, bool]]:
    return [
        (r.entry_id, r.award, r.advances, r.holds_region_quota)
        for r in session.exec(select(Result).order_by(Result.entry_id)).all()  # type: ignore[arg-type]
    ]


def _quota_used(session: Session) -> int:
    return sum(q.used for q in session.exec(select(Quota).where(Quota.scope == "region")).all())


def test_the_template_lists_the_accepted_entries_and_an_upload_enters_them(
    api: Api, session: Session, side_a: Side, scene: ResultsScene
) -> None:
    one = accepted_entry(session, scene, school=side_a.school)
    two = accepted_entry(session, scene, school=side_a.school, size=1)
    first = scene.rounds[0].id or 0

    template = api.call(
        side_a.principal(Role.bureau), "GET", f"/competition-rounds/{first}/results/template"
    )
    assert template.status_code == 200, template.text
    sheet = load_workbook(io.BytesIO(template.content)).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == HEADER
    assert [(r[0], r[2]) for r in rows[1:]] == [
        (one.number, side_a.school.name),
        (two.number, side_a.school.name),
    ]
    other_venue = api.call(
        side_a.principal(Role.venue_staff), "GET", f"/competition-rounds/{first}/results/template"
    )
    assert other_venue.status_code == 404

    content = _xlsx(
        [[one.number, "", "", "", "一等奖", "是"], [two.number, "", "", "", "参与", ""]]
    )
    response = _upload(api, side_a, first, content)
    assert response.status_code == 200, response.text
    assert response.json() == {"entered": 2}
    assert _results(session) == [
        (one.id, "first", True, True),
        (two.id, "participation", False, False),
    ]
    assert _quota_used(session) == 1


def test_an_upload_with_one_bad_row_changes_nothing(
    api: Api, session: Session, side_a: Side, scene: ResultsScene
) -> None:
    entries = [accepted_entry(session, scene, school=side_a.school, size=1) for _ in range(3)]
    first = scene.rounds[0].id or 0
    # a result entered before: the failed upload must leave it as it was
    api.call(
        side_a.principal(Role.bureau),
        "PUT",
        f"/competition-rounds/{first}/results/{entries[0].id}",
        json={"award": "third", "advances": False},
    ).raise_for_status()
    before = (_results(session), _quota_used(session))

    good = [[e.number, "", "", "", "一等奖", "是"] for e in entries]
    bad = [*good[:2], [entries[2].number, "", "", "", "金奖", "否"]]
    response = _upload(api, side_a, first, _xlsx(bad))
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "competition_results_upload_invalid"
    assert problem["errors"] == [
        {"line": 4, "column": "奖项", "reason": problem["errors"][0]["reason"]}
    ]
    session.expire_all()
    assert (_results(session), _quota_used(session)) == before


def test_every_bad_row_is_reported_by_line(
    api: Api, session: Session, side_a: Side, side_b: Side, scene: ResultsScene
) -> None:
    one, two = (accepted_entry(session, scene, school=side_a.school, size=1) for _ in range(2))
    rejected = accepted_entry(session, scene, school=side_a.school, size=1)
    session.exec(  # refused by the organiser: not in the round's list
        Entry.__table__.update()  # type: ignore[attr-defined]
        .where(Entry.__table__.c.id == rejected.id)  # type: ignore[attr-defined]
        .values(status="withdrawn")
    )
    session.exec(
        RoundEntry.__table__.update()  # type: ignore[attr-defined]
        .where(RoundEntry.__table__.c.entry_id == rejected.id)  # type: ignore[attr-defined]
        .values(status="withdrawn")
    )
    first = scene.rounds[0].id or 0
    rows: list[list[object]] = [
        [one.number, "", "", "", "一等奖", "是"],  # 2: fine
        [one.number, "", "", "", "二等奖", "否"],  # 3: repeated
        ["C0-99999", "", "", "", "二等奖", "否"],  # 4: unknown number
        [two.number, "", "", "", "", "也许"],  # 5: no award, bad advance
        [],  # 6: empty, skipped
        [rejected.number, "", "", "", "三等奖", "否"],  # 7: not accepted
        ["", "", "", "", "优秀奖", "否"],  # 8: no number
    ]
    response = _upload(api, side_a, first, _xlsx(rows))
    assert response.status_code == 422
    found = [(e["line"], e["column"]) for e in response.json()["errors"]]
    assert found == [
        (3, "报名编号"),
        (4, "报名编号"),
        (5, "奖项"),
        (5, "是否晋级"),
        (7, "报名编号"),
        (8, "报名编号"),
    ]
    assert _results(session) == []
    assert _quota_used(session) == 0


def test_last_round_advances_and_the_region_quota_are_row_errors(
    api: Api, session: Session, side_a: Side
) -> None:
    scene = create_results_scene(session, side_a, region_quota=1)
    entries = [accepted_entry(session, scene, school=side_a.school, size=1) for _ in range(3)]
    rows: list[list[object]] = [[e.number, "", "", "", "一等奖", "是"] for e in entries]
    response = _upload(api, side_a, scene.rounds[0].id or 0, _xlsx(rows))
    assert response.status_code == 422
    assert [(e["line"], e["column"]) for e in response.json()["errors"]] == [
        (3, "是否晋级"),
        (4, "是否晋级"),
    ]
    assert _results(session) == []
    assert _quota_used(session) == 0

    last = create_results_scene(session, side_a, second_round=False)
    entry = accepted_entry(session, last, school=side_a.school, size=1)
    response = _upload(
        api, side_a, last.rounds[0].id or 0, _xlsx([[entry.number, "", "", "", "特等奖", "是"]])
    )
    assert [(e["line"], e["column"]) for e in response.json()["errors"]] == [(2, "是否晋级")]


def test_a_file_that_is_not_the_template_is_refused(
    api: Api, session: Session, side_a: Side, side_b: Side, scene: ResultsScene
) -> None:
    first = scene.rounds[0].id or 0
    not_xlsx = _upload(api, side_a, first, b"entry,award\n1,first\n")
    assert not_xlsx.status_code == 400
    assert not_xlsx.json()["code"] == "competition_results_file_unreadable"
    no_header = _upload(api, side_a, first, _xlsx([], header=["编号", "名次"]))
    assert no_header.json()["code"] == "competition_results_file_unreadable"
    outsider = api.call(
        side_b.principal(Role.bureau),
        "POST",
        f"/competition-rounds/{first}/results/upload",
        files={"file": ("成绩.xlsx", _xlsx([]), "application/octet-stream")},
    )
    assert outsider.status_code == 404
