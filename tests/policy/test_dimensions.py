"""The evaluation dimension of a new record comes from its school's region's pack; a stored
record keeps the one it was given."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import NoResultFound
from sqlmodel import Session, select

from scipass.core.auth import Role
from scipass.core.config import Settings
from scipass.policy import packs
from scipass.policy.loader import PackSet, load_packs
from scipass.record.append import RecordFacts, append_record, facts_for_activity
from scipass.record.models import Dimension, ParticipationRecord, RecordCategory, RecordSource
from scipass.roster.models import Student
from tests.factories import NOW, Side, auth, create_activity, create_student

# A province of the test regions (side A's, 970000) whose documents count venue visits in
# 学业水平 and volunteering in 社会实践; side B's province (960000) has no pack: national.
TESTLAND = """
id = "testland"
name = "测试省"
region_code = "970000"
parent = "national"

[category_dimensions]
science_visit = "academic"
volunteer = "social_practice"
"""


def remap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackSet:
    """From now on, the shipped packs and Testland's."""
    directory = tmp_path / "packs"
    shutil.copytree(packs.PACK_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (directory / "testland.toml").write_text(TESTLAND, encoding="utf-8")
    loaded = load_packs(directory)
    monkeypatch.setattr(packs, "current", lambda: loaded)
    return loaded


def _facts(category: RecordCategory, dimension: Dimension | None = None) -> RecordFacts:
    at = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)
    return RecordFacts(
        title="科学实践活动",
        category=category,
        dimension=dimension,
        organiser_name="测试科技馆",
        place="测试科技馆",
        started_at=at,
        ended_at=at,
        minutes=60,
    )


def _append(session: Session, student: Student, ref: str, facts: RecordFacts) -> str:
    record, created = append_record(
        session,
        student=student,
        source=RecordSource.manual,
        source_ref=ref,
        facts=facts,
        actor=None,
        now=NOW,
    )
    assert created
    return record.dimension


def test_a_new_record_takes_its_schools_region_mapping_a_stored_one_keeps_its_own(
    session: Session,
    side_a: Side,
    side_b: Side,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    visit = _facts(RecordCategory.science_visit)
    assert _append(session, side_a.student, "before", visit) == "social_practice"

    assert remap(tmp_path, monkeypatch).uniform_mapping is False
    assert _append(session, side_a.student, "after", visit) == "academic"
    assert _append(session, side_b.student, "after", visit) == "social_practice"  # national
    volunteer = _facts(RecordCategory.volunteer)
    assert _append(session, side_a.student, "volunteer", volunteer) == "social_practice"
    assert _append(session, side_b.student, "volunteer", volunteer) == "moral"
    inquiry = _facts(RecordCategory.inquiry)  # not remapped: inherited from national
    assert _append(session, side_a.student, "inquiry", inquiry) == "academic"
    # what the source chose stays, whatever the region maps
    chosen = _facts(RecordCategory.science_visit, Dimension.art)
    assert _append(session, side_a.student, "chosen", chosen) == "art"

    session.expire_all()
    stored = session.exec(
        select(ParticipationRecord).where(
            ParticipationRecord.student_id == side_a.student.id,
            ParticipationRecord.source_ref == "before",
        )
    ).one()
    assert stored.dimension == "social_practice"  # as it was given


def test_an_activitys_record_takes_the_pupils_region_unless_the_organiser_chose(
    session: Session, side_a: Side, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remap(tmp_path, monkeypatch)
    plain = create_activity(session, venue_id=side_a.venue.id or 0)  # the national default
    chosen = create_activity(session, venue_id=side_a.venue.id or 0, dimension="art")
    assert facts_for_activity(session, plain).dimension is None
    assert facts_for_activity(session, chosen).dimension is Dimension.art
    assert _append(session, side_a.student, "plain", facts_for_activity(session, plain)) == (
        "academic"
    )
    assert _append(session, side_a.student, "chosen", facts_for_activity(session, chosen)) == (
        "art"
    )


def test_a_school_entry_without_a_dimension_takes_the_region_mapping(
    client: TestClient,
    settings: Settings,
    session: Session,
    side_a: Side,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    remap(tmp_path, monkeypatch)
    teen = create_student(session, school_id=side_a.school.id or 0, birth_month=date(2010, 3, 1))
    body = {
        "student_ids": [teen.id],
        "title": "科技馆研学",
        "category": "science_visit",
        "started_at": "2026-10-10T09:00:00+08:00",
        "ended_at": "2026-10-10T11:00:00+08:00",
        "minutes": 120,
    }
    headers = auth(settings, side_a.principal(Role.school_staff))
    response = client.post("/api/v1/records/manual", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()[0]["dimension"] == "academic"
    chosen = client.post(
        "/api/v1/records/manual",
        json={**body, "dimension": "moral", "title": "科技志愿"},
        headers=headers,
    )
    assert chosen.json()[0]["dimension"] == "moral"


def test_while_every_region_maps_alike_no_school_is_read(
    session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check-in path appends a record per scan: with the shipped packs (one mapping
    everywhere) the school's region is not even looked up."""
    missing_school = 2**40
    assert packs.current().uniform_mapping
    found = packs.dimension_for(session, missing_school, RecordCategory.science_visit)
    assert found is Dimension.social_practice
    remap(tmp_path, monkeypatch)
    with pytest.raises(NoResultFound):
        packs.dimension_for(session, missing_school, RecordCategory.science_visit)
