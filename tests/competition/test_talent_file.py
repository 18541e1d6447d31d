"""The 科技实践档案 lists a pupil's competitions across the years (issue 17, point 5): each
round an entry reached, where it stands, the published award only; the national rule on the
use of results; and, for staff, the talent tracking."""

from __future__ import annotations

import io
from datetime import timedelta

from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import Session

from scipass.competition.models import (
    Competition,
    Division,
    Edition,
    Entry,
    EntryMember,
    Round,
    RoundEntry,
)
from scipass.competition.results_models import Result, ResultNotice
from scipass.competition.talent_models import TalentTracking
from scipass.core.auth import Role
from scipass.core.config import Settings
from tests.factories import NOW, Side, auth

API = "/api/v1"


def _text(content: bytes) -> str:
    return "".join(
        "".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages
    )


def _competition(
    session: Session, side: Side, name: str, year: int
) -> tuple[Edition, Division, list[Round]]:
    competition = Competition(
        bureau_id=side.bureau.id or 0,
        region_code=side.region_code,
        name=name,
        organiser_unit="市科协",
        category="robotics",
        level="city",
        created_by="account:900003",
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(competition)
    session.flush()
    edition = Edition(
        competition_id=competition.id or 0, school_year=year, title=f"{year}年", created_at=NOW
    )
    session.add(edition)
    session.flush()
    division = Division(
        edition_id=edition.id or 0,
        name="小学组",
        stages="primary",
        kind="team",
        min_members=1,
        max_members=3,
        max_advisors=2,
        created_at=NOW,
    )
    rounds = [
        Round(
            edition_id=edition.id or 0,
            position=position,
            name=round_name,
            level="county",
            region_code=side.region_code,
            bureau_id=side.bureau.id,
            registration_opens_at=NOW - timedelta(days=30),
            registration_closes_at=NOW - timedelta(days=1),
            created_at=NOW,
        )
        for position, round_name in ((1, "区赛"), (2, "市赛"))
    ]
    session.add_all([division, *rounds])
    session.flush()
    return edition, division, rounds


def _entry(
    session: Session,
    side: Side,
    edition: Edition,
    division: Division,
    round_: Round,
    title: str,
    member_status: str = "active",
) -> Entry:
    entry = Entry(
        edition_id=edition.id or 0,
        division_id=division.id or 0,
        round_id=round_.id or 0,
        school_id=side.school.id or 0,
        title=title,
        status="submitted",
        registered_by_kind="school",
        created_by="account:900001",
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(entry)
    session.flush()
    session.add(
        EntryMember(
            entry_id=entry.id or 0,
            division_id=division.id or 0,
            student_id=side.student.id or 0,
            role="captain",
            status=member_status,
            joined_by="account:900001",
            joined_at=NOW,
        )
    )
    return entry


def _place(
    session: Session, side: Side, entry: Entry, round_: Round, status: str, via: str
) -> RoundEntry:
    place = RoundEntry(
        entry_id=entry.id or 0,
        round_id=round_.id or 0,
        school_id=side.school.id or 0,
        status=status,
        via=via,
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(place)
    session.flush()
    return place


def test_the_file_lists_competitions_with_published_awards_and_the_rule(
    client: TestClient, settings: Settings, session: Session, side_a: Side
) -> None:
    edition, division, (county, city) = _competition(session, side_a, "青少年机器人竞赛", 2025)
    entry = _entry(session, side_a, edition, division, county, "智能分拣机器人")
    first = _place(session, side_a, entry, county, "accepted", "registration")
    second = _place(session, side_a, entry, city, "accepted", "advanced")
    notice = ResultNotice(
        round_id=county.id or 0,
        working_days=5,
        starts_at=NOW - timedelta(days=10),
        ends_at=NOW - timedelta(days=3),
        result_count=1,
        opened_by="account:900003",
    )
    session.add(notice)
    session.flush()
    for place, round_, status, award in (
        (first, county, "published", "first"),
        (second, city, "noticed", "special"),
    ):
        session.add(
            Result(
                round_entry_id=place.id or 0,
                round_id=round_.id or 0,
                entry_id=entry.id or 0,
                school_id=side_a.school.id or 0,
                award=award,
                advances=True,
                status=status,
                notice_id=notice.id,
                entered_by="account:900003",
                entered_at=NOW,
                updated_at=NOW,
            )
        )
    # an entry the pupil was removed from before it was submitted: not theirs to show
    other_edition, other_division, (other_round, _) = _competition(
        session, side_a, "无人机大赛", 2026
    )
    _entry(session, side_a, other_edition, other_division, other_round, "被移出的作品", "removed")
    session.add(
        TalentTracking(
            student_id=side_a.student.id or 0,
            school_id=side_a.school.id or 0,
            reason="区赛一等奖",
            started_by="account:900001",
            started_by_role="school_staff",
            started_at=NOW,
        )
    )
    session.commit()

    staff = client.get(
        f"{API}/students/{side_a.student.id}/record-file",
        headers=auth(settings, side_a.principal(Role.school_staff)),
    )
    assert staff.status_code == 200, staff.text
    text = _text(staff.content)
    assert "竞赛经历" in text
    assert "青少年机器人竞赛" in text
    assert "智能分拣机器人" in text
    assert "2025-2026" in text
    assert "一等奖" in text  # published
    assert "特等奖" not in text  # still in its notice: counts for nothing yet
    assert "被移出的作品" not in text
    assert "竞赛结果不作为中小学招生入学的依据" in text
    assert "科技创新后备人才" in text
    assert "区赛一等奖" in text

    own = client.get(
        f"{API}/me/record-file", headers=auth(settings, side_a.principal(Role.student))
    )
    assert own.status_code == 200
    mine = _text(own.content)
    assert "一等奖" in mine
    assert "科技创新后备人才" not in mine  # the tracking is the school's and the bureau's


def test_a_pupil_without_competitions_has_an_empty_section(
    client: TestClient, settings: Settings, side_a: Side
) -> None:
    response = client.get(
        f"{API}/me/record-file", headers=auth(settings, side_a.principal(Role.student))
    )
    assert response.status_code == 200
    assert "无竞赛记录" in _text(response.content)
