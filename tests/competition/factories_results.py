"""Rows for the results tests, inserted directly: a competition with an edition, rounds in
order and a division, and entries already accepted in the first round (registration,
recommendation and acceptance are tested with the entries; here they are the starting point).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from scipass.competition.models import (
    Competition,
    Division,
    Edition,
    Entry,
    EntryMember,
    Round,
    RoundEntry,
)
from scipass.core.auth import Principal
from scipass.core.clock import FrozenClock
from scipass.core.config import Settings
from scipass.org.models import School
from scipass.roster.models import Student
from tests.factories import NOW, Side, auth, consent_on_paper, create_student

_serial = itertools.count(1)

# Results put on notice at NOW (Wednesday 14 October 2026, 10:00 Beijing): five working days
# run to Wednesday 21, so the notice closes at Thursday 22 October 00:00 Beijing.
NOTICE_END = datetime(2026, 10, 21, 16, 0, tzinfo=UTC)


@dataclass
class ResultsScene:
    competition: Competition
    edition: Edition
    rounds: list[Round]
    division: Division
    entries: list[Entry] = field(default_factory=list)
    members: dict[int, list[Student]] = field(default_factory=dict)


def create_results_scene(
    session: Session,
    side: Side,
    *,
    category: str = "robotics",
    region_quota: int | None = None,
    second_round: bool = True,
) -> ResultsScene:
    """A county robotics contest of ``side``'s bureau: round 1 organised by the bureau, round 2
    (the city final) by ``side``'s venue."""
    serial = next(_serial)
    competition = Competition(
        bureau_id=side.bureau.id or 0,
        region_code=side.bureau.region_code,
        name=f"青少年机器人竞赛{serial}",
        organiser_unit="县教育局",
        category=category,
        level="county",
        created_by="account:900003",
        created_at=NOW,
        updated_at=NOW,
    )
    session.add(competition)
    session.flush()
    edition = Edition(
        competition_id=competition.id or 0,
        school_year=2026,
        title="2026—2027学年",
        created_at=NOW,
    )
    session.add(edition)
    session.flush()
    window = {
        "registration_opens_at": NOW - timedelta(days=30),
        "registration_closes_at": NOW - timedelta(days=7),
        "region_code": side.region_code,
        "created_at": NOW,
    }
    rounds = [
        Round(
            edition_id=edition.id or 0,
            position=1,
            name="县级选拔",
            level="county",
            bureau_id=side.bureau.id,
            region_quota=region_quota,
            **window,  # type: ignore[arg-type]
        )
    ]
    if second_round:
        rounds.append(
            Round(
                edition_id=edition.id or 0,
                position=2,
                name="市级决赛",
                level="city",
                venue_id=side.venue.id,
                **window,  # type: ignore[arg-type]
            )
        )
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
    session.add_all([*rounds, division])
    session.flush()
    return ResultsScene(competition, edition, rounds, division)


def accepted_entry(
    session: Session,
    scene: ResultsScene,
    *,
    school: School,
    members: list[Student] | None = None,
    size: int = 2,
) -> Entry:
    """An entry of ``school`` accepted in the scene's first round, with ``members``."""
    serial = next(_serial)
    pupils = members or [
        create_student(session, school_id=school.id or 0, name=f"学生{serial}{n}")
        for n in range(size)
    ]
    first = scene.rounds[0]
    entry = Entry(
        edition_id=scene.edition.id or 0,
        division_id=scene.division.id or 0,
        round_id=first.id or 0,
        school_id=school.id or 0,
        title=f"智能分拣机器人{serial}",
        status="submitted",
        registered_by_kind="school",
        created_by="account:900001",
        created_at=NOW,
        submitted_at=NOW,
        updated_at=NOW,
    )
    session.add(entry)
    session.flush()
    entry.number = f"C{scene.edition.id}-{entry.id:05d}"
    session.add(entry)
    for position, pupil in enumerate(pupils):
        # registering an under-14 member asked for the guardian's consent (entries.py)
        consent_on_paper(session, student=pupil, purposes=("participation_record",))
        session.add(
            EntryMember(
                entry_id=entry.id or 0,
                division_id=scene.division.id or 0,
                student_id=pupil.id or 0,
                role="captain" if position == 0 else "member",
                status="active",
                joined_by="account:900001",
                joined_at=NOW,
            )
        )
    session.add(
        RoundEntry(
            entry_id=entry.id or 0,
            round_id=first.id or 0,
            school_id=school.id or 0,
            status="accepted",
            via="registration",
            organiser_decided_by="account:900003",
            organiser_decided_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    session.flush()
    scene.entries.append(entry)
    scene.members[entry.id or 0] = pupils
    return entry


def accept_advanced(session: Session, *, entry_id: int, round_id: int) -> None:
    """The next round's organiser accepts an entry that came up (the organiser's decision is
    the entries' business; here it is the starting point)."""
    place = session.exec(
        select(RoundEntry).where(RoundEntry.entry_id == entry_id, RoundEntry.round_id == round_id)
    ).one()
    assert (place.status, place.via) == ("recommended", "advanced")
    place.status = "accepted"
    session.add(place)
    session.flush()


@dataclass
class Api:
    """The test client with tokens minted at the frozen clock's time."""

    client: TestClient
    settings: Settings
    clock: FrozenClock

    def call(self, who: Principal, method: str, url: str, **kwargs: Any) -> Any:
        headers = auth(self.settings, who, now=self.clock.now())
        return self.client.request(method, "/api/v1" + url, headers=headers, **kwargs)
