"""A published award becomes a confirmed record for every member, which the school reviews,
publicises and archives like any record; records, exports and the PDF file state that
competition results are no basis for school admission."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import Session, col, select

from scipass.core.auth import Role
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.record import notices as record_notices
from scipass.record.models import ParticipationRecord, RecordEvent
from tests.competition.factories_results import (
    NOTICE_END,
    Api,
    ResultsScene,
    accepted_entry,
    create_results_scene,
)
from tests.factories import Side, bound_student

NOTE = "竞赛结果不作为中小学招生入学的依据"


@pytest.fixture
def api(client: TestClient, settings: Settings, clock: FrozenClock) -> Api:
    return Api(client, settings, clock)


@pytest.fixture
def scene(session: Session, side_a: Side) -> ResultsScene:
    return create_results_scene(session, side_a)


def test_a_published_award_reaches_every_members_archive(
    api: Api, session: Session, clock: FrozenClock, side_a: Side, scene: ResultsScene
) -> None:
    pupils = [
        bound_student(session, school_id=side_a.school.id or 0, birth_month=month, name=name)
        for month, name in (
            (side_a.student.birth_month.replace(year=2011), "王小明"),
            (side_a.student.birth_month.replace(year=2011), "李小红"),
        )
    ]
    entry = accepted_entry(session, scene, school=side_a.school, members=[s for s, _ in pupils])
    first = scene.rounds[0].id
    organiser = side_a.principal(Role.bureau)
    api.call(
        organiser,
        "PUT",
        f"/competition-rounds/{first}/results/{entry.id}",
        json={"award": "first", "advances": False},
    ).raise_for_status()
    api.call(organiser, "POST", f"/competition-rounds/{first}/result-notices").raise_for_status()
    clock.set(NOTICE_END)
    published = api.call(organiser, "POST", f"/competition-rounds/{first}/results/publish")
    assert published.json()["records"] == 2

    # the school's review queue holds them like any record
    teacher = side_a.principal(Role.school_staff)
    queue = api.call(teacher, "GET", "/records", params={"status": "confirmed"}).json()
    mine = [r for r in queue["items"] if r["source"] == "competition"]
    assert {r["student_name"] for r in mine} == {"王小明", "李小红"}
    for item in mine:
        assert item["role"] == "contestant"
        assert item["outcome"] == "县级选拔：一等奖"
        assert item["note"] == NOTE
        assert item["attester_unit"] == side_a.bureau.name

    # each pupil confirms, the school reviews and publicises, the notice closes: archived
    for student, principal in pupils:
        record_id = next(r["id"] for r in mine if r["student_id"] == student.id)
        confirmed = api.call(
            principal,
            "POST",
            f"/records/{record_id}/student-confirmation",
            json={"reflection": "第一次参加机器人比赛，学会了调试传感器。"},
        )
        assert confirmed.status_code == 200, confirmed.text
        reviewed = api.call(
            teacher, "POST", f"/records/{record_id}/review", json={"decision": "approve"}
        )
        assert reviewed.status_code == 200, reviewed.text
    opened = api.call(
        side_a.principal(Role.school_admin), "POST", "/notices", json={"title": "竞赛获奖公示"}
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["record_count"] == 2
    clock.advance(timedelta(days=14))
    assert record_notices.archive_due(session, now=clock.now()) == 2

    records = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.source == "competition")
    ).all()
    assert {(r.status, r.archive_seq is not None) for r in records} == {("archived", True)}
    actions = session.exec(
        select(RecordEvent.action)
        .where(RecordEvent.record_id == records[0].id)
        .order_by(col(RecordEvent.id))
    ).all()
    assert actions == [
        "created",
        "confirmed",
        "student_confirmed",
        "reviewed",
        "publicised",
        "archived",
    ]

    # the export and the pupil's file state the national rule
    export = api.call(teacher, "GET", "/record-exports", params={"format": "csv"})
    assert export.status_code == 200, export.text
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    outcome = rows[0].index("成果/奖项")
    assert {row[outcome] for row in rows[1:]} == {f"县级选拔：一等奖（{NOTE}）"}
    pdf = api.call(teacher, "GET", f"/students/{pupils[0][0].id}/record-file")
    assert pdf.status_code == 200, pdf.text
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert NOTE in "".join(text.split())


def test_publishing_again_or_a_retry_appends_nothing_more(
    api: Api, session: Session, clock: FrozenClock, side_a: Side, scene: ResultsScene
) -> None:
    from scipass.competition.results_publish import publish_due

    entry = accepted_entry(session, scene, school=side_a.school, size=3)
    first = scene.rounds[0].id
    organiser = side_a.principal(Role.bureau)
    api.call(
        organiser,
        "PUT",
        f"/competition-rounds/{first}/results/{entry.id}",
        json={"award": "finalist", "advances": False},
    ).raise_for_status()
    api.call(organiser, "POST", f"/competition-rounds/{first}/result-notices").raise_for_status()
    clock.set(NOTICE_END)
    assert publish_due(session, now=clock.now(), actor=None).records == 3
    for _ in range(2):
        again = api.call(organiser, "POST", f"/competition-rounds/{first}/results/publish")
        assert again.json()["records"] == 0
    assert publish_due(session, now=clock.now(), actor=None).records == 0
    count = session.exec(
        select(ParticipationRecord).where(ParticipationRecord.source == "competition")
    ).all()
    assert len(count) == 3
