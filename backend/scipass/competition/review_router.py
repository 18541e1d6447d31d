"""The school's recommendation (学校推荐) and the round organiser's list and decisions."""

from __future__ import annotations

from fastapi import APIRouter

from scipass.competition import reads, review
from scipass.competition.errors import (
    EntryNotFound,
    EntryStateInvalid,
    RoundNotFound,
    SchoolQuotaReached,
)
from scipass.competition.schemas import EntryRead, OrganiserEntryRead, Reason
from scipass.core.callers import OrganiserOrBureau, SchoolStaff
from scipass.core.clock import ClockDep
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep

router = APIRouter(tags=["competition-entries"])


@router.post(
    "/competition-entries/{entry_id}/recommend",
    name="competition-entry-recommend",
    summary="学校推荐",
    description="本校教师把已提交的报名推荐给轮次承办方，占用本校在该轮次的推荐名额；"
    "名额已满返回 409 `competition_school_quota_reached`。",
    responses=problem_responses(EntryNotFound, EntryStateInvalid, SchoolQuotaReached),
)
def recommend(entry_id: Id, caller: SchoolStaff, session: SessionDep, clock: ClockDep) -> EntryRead:
    entry = review.recommend(session, actor=caller, entry_id=entry_id, now=clock.now())
    return reads.entry_read(session, entry)


@router.post(
    "/competition-entries/{entry_id}/decline",
    name="competition-entry-decline",
    summary="学校不予推荐",
    description="须写明原因，学生可见。",
    responses=problem_responses(EntryNotFound, EntryStateInvalid),
)
def decline(
    entry_id: Id, body: Reason, caller: SchoolStaff, session: SessionDep, clock: ClockDep
) -> EntryRead:
    entry = review.decline(
        session, actor=caller, entry_id=entry_id, reason=body.reason, now=clock.now()
    )
    return reads.entry_read(session, entry)


@router.get(
    "/competition-rounds/{round_id}/entries",
    name="competition-round-entries",
    summary="送达本轮次的报名",
    description="轮次承办方（学校、场馆或教育局/科协）查看学校推荐来的报名和晋级来的报名："
    "只含学生姓名、学校和班级（获奖名单按姓名、学校公布），不含学生的其他信息。每次查看记入审计日志。",
    responses=problem_responses(RoundNotFound),
)
def round_entries(
    round_id: Id, caller: OrganiserOrBureau, session: SessionDep, clock: ClockDep, page: PageDep
) -> Page[OrganiserEntryRead]:
    rows = review.entries_sent(session, actor=caller, round_id=round_id, now=clock.now())
    return Page[OrganiserEntryRead].sliced(
        [reads.organiser_entry_read(session, *row) for row in rows], page
    )


@router.post(
    "/competition-rounds/{round_id}/entries/{entry_id}/accept",
    name="competition-entry-accept",
    summary="承办方受理报名",
    responses=problem_responses(RoundNotFound, EntryNotFound, EntryStateInvalid),
)
def accept(
    round_id: Id, entry_id: Id, caller: OrganiserOrBureau, session: SessionDep, clock: ClockDep
) -> OrganiserEntryRead:
    review.decide(
        session,
        actor=caller,
        round_id=round_id,
        entry_id=entry_id,
        accept=True,
        reason="",
        now=clock.now(),
    )
    return _one(session, caller, round_id, entry_id)


@router.post(
    "/competition-rounds/{round_id}/entries/{entry_id}/reject",
    name="competition-entry-reject",
    summary="承办方不予受理",
    description="须写明原因，学校和学生可见。",
    responses=problem_responses(RoundNotFound, EntryNotFound, EntryStateInvalid),
)
def reject(
    round_id: Id,
    entry_id: Id,
    body: Reason,
    caller: OrganiserOrBureau,
    session: SessionDep,
    clock: ClockDep,
) -> OrganiserEntryRead:
    review.decide(
        session,
        actor=caller,
        round_id=round_id,
        entry_id=entry_id,
        accept=False,
        reason=body.reason,
        now=clock.now(),
    )
    return _one(session, caller, round_id, entry_id)


def _one(
    session: SessionDep, caller: OrganiserOrBureau, round_id: int, entry_id: int
) -> OrganiserEntryRead:
    row = review.entry_sent(session, actor=caller, round_id=round_id, entry_id=entry_id)
    return reads.organiser_entry_read(session, *row)
