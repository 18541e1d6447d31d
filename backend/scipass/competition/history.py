"""A pupil's competitions across the years, for the 科技实践档案 (issue 17, point 5; 002
二.(四): 建立科技创新后备人才跟踪档案): every entry the pupil was in (not one they were
removed from before it was submitted), each round it reached, where it stands there, and the
award once the result is published. Reads only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select as sa_select  # typed for more entities than sqlmodel's select
from sqlmodel import Session, col

from scipass.competition.models import (
    Competition,
    Division,
    Edition,
    Entry,
    EntryMember,
    MemberStatus,
    Round,
    RoundEntry,
    RoundEntryStatus,
)
from scipass.competition.results_models import AWARD_LABEL, Award, Result, ResultStatus

ROUND_STATE_LABEL = {
    RoundEntryStatus.submitted: "待学校推荐",
    RoundEntryStatus.declined: "学校未推荐",
    RoundEntryStatus.recommended: "学校已推荐",
    RoundEntryStatus.accepted: "参赛",
    RoundEntryStatus.rejected: "未入选",
    RoundEntryStatus.withdrawn: "已退出",
}


@dataclass(frozen=True, slots=True)
class CompetitionLine:
    """One round of one entry of the pupil."""

    school_year: int
    competition: str
    division: str
    round_name: str
    entry_title: str
    state: str  # where the entry stands in the round
    award: str  # the published award, or "" (results not yet published count for nothing)

    def cells(self) -> tuple[str, ...]:
        year = f"{self.school_year}-{self.school_year + 1}"
        return (
            year,
            self.competition,
            self.division,
            self.round_name,
            self.entry_title,
            self.state,
            self.award,
        )


HEADER = ("学年", "竞赛", "组别", "轮次", "作品/队伍", "状态", "获奖")


def student_lines(session: Session, student_id: int) -> list[CompetitionLine]:
    """The pupil's competition history, oldest school year first, rounds in order."""
    rows = session.execute(
        sa_select(Edition, Competition, Division, Round, Entry, RoundEntry, Result)
        .select_from(EntryMember)
        .join(Entry, col(Entry.id) == col(EntryMember.entry_id))
        .join(Edition, col(Edition.id) == col(Entry.edition_id))
        .join(Competition, col(Competition.id) == col(Edition.competition_id))
        .join(Division, col(Division.id) == col(Entry.division_id))
        .join(RoundEntry, col(RoundEntry.entry_id) == col(Entry.id))
        .join(Round, col(Round.id) == col(RoundEntry.round_id))
        .outerjoin(
            Result,
            (col(Result.round_entry_id) == col(RoundEntry.id))
            & (col(Result.status) == ResultStatus.published.value),
        )
        .where(
            col(EntryMember.student_id) == student_id,
            col(EntryMember.status) != MemberStatus.removed.value,
        )
        .order_by(
            col(Edition.school_year),
            col(Competition.name),
            col(Entry.id),
            col(Round.position),
        )
    ).all()
    return [
        CompetitionLine(
            school_year=edition.school_year,
            competition=competition.name,
            division=division.name,
            round_name=round_.name,
            entry_title=entry.title,
            state=ROUND_STATE_LABEL.get(RoundEntryStatus(place.status), place.status),
            award=AWARD_LABEL[Award(result.award)] if result is not None else "",
        )
        for edition, competition, division, round_, entry, place, result in rows
    ]
