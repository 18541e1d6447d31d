"""School–venue pairing (结对): propose, confirm, decline, end; lists for both sides and the
bureau, and the bureau's coverage view."""

from __future__ import annotations

from fastapi import APIRouter

from scipass.core.callers import BureauOrPlatform, PairingAdmin, PairingReader
from scipass.core.clock import ClockDep, local_date
from scipass.core.db import SessionDep
from scipass.core.errors import problem_responses
from scipass.core.inputs import Id
from scipass.core.pagination import Page, PageDep
from scipass.org.models import School, SchoolArea, Venue
from scipass.pairing import service as pairing_service
from scipass.pairing.errors import (
    PairingExists,
    PairingInvalid,
    PairingNotFound,
    PairingTransitionInvalid,
)
from scipass.pairing.models import Pairing, PairingStatus
from scipass.pairing.schemas import PairingClose, PairingCreate, PairingRead, SchoolCoverage

router = APIRouter(tags=["pairings"])


def _read(pairing: Pairing, school_name: str, venue_name: str) -> PairingRead:
    return PairingRead(
        school_name=school_name,
        venue_name=venue_name,
        **{
            name: getattr(pairing, name)
            for name in PairingRead.model_fields
            if hasattr(pairing, name)
        },
    )


def _one(session: SessionDep, pairing: Pairing) -> PairingRead:
    school = session.get(School, pairing.school_id)
    venue = session.get(Venue, pairing.venue_id)
    return _read(pairing, school.name if school else "", venue.name if venue else "")


@router.post(
    "/pairings",
    name="pairing-propose",
    summary="发起结对",
    description="学校管理员给出 `venue_id`，场馆管理员给出 `school_id`；发起方视为已确认，"
    "待对方确认后生效。",
    status_code=201,
    responses=problem_responses(PairingInvalid, PairingExists),
)
def propose(
    body: PairingCreate, caller: PairingAdmin, session: SessionDep, clock: ClockDep
) -> PairingRead:
    return _one(session, pairing_service.propose(session, actor=caller, data=body, now=clock.now()))


@router.post(
    "/pairings/{pairing_id}/confirm",
    name="pairing-confirm",
    summary="确认结对",
    responses=problem_responses(PairingNotFound, PairingTransitionInvalid),
)
def confirm(
    pairing_id: Id, caller: PairingAdmin, session: SessionDep, clock: ClockDep
) -> PairingRead:
    pairing = pairing_service.confirm(session, actor=caller, pairing_id=pairing_id, now=clock.now())
    return _one(session, pairing)


@router.post(
    "/pairings/{pairing_id}/decline",
    name="pairing-decline",
    summary="拒绝或撤回结对邀请",
    responses=problem_responses(PairingNotFound, PairingTransitionInvalid),
)
def decline(
    pairing_id: Id,
    caller: PairingAdmin,
    session: SessionDep,
    clock: ClockDep,
    body: PairingClose | None = None,
) -> PairingRead:
    pairing = pairing_service.decline(
        session,
        actor=caller,
        pairing_id=pairing_id,
        reason=body.reason if body else "",
        now=clock.now(),
    )
    return _one(session, pairing)


@router.post(
    "/pairings/{pairing_id}/end",
    name="pairing-end",
    summary="结束结对",
    description="任一方可结束生效中的结对；结束日期记为今天（若原定更晚）。",
    responses=problem_responses(PairingNotFound, PairingTransitionInvalid),
)
def end(
    pairing_id: Id,
    caller: PairingAdmin,
    session: SessionDep,
    clock: ClockDep,
    body: PairingClose | None = None,
) -> PairingRead:
    now = clock.now()
    pairing = pairing_service.end(
        session,
        actor=caller,
        pairing_id=pairing_id,
        reason=body.reason if body else "",
        now=now,
        today=local_date(now),
    )
    return _one(session, pairing)


@router.get(
    "/pairings",
    name="pairing-list",
    summary="结对列表",
    description="学校、场馆看本单位的结对；教育局看辖区内学校的结对。",
    responses=problem_responses(),
)
def list_pairings(
    caller: PairingReader, session: SessionDep, page: PageDep, status: PairingStatus | None = None
) -> Page[PairingRead]:
    rows, total = pairing_service.list_pairings(session, actor=caller, page=page, status=status)
    return Page[PairingRead].of([_read(p, s.name, v.name) for p, s, v in rows], total, page)


@router.get(
    "/pairing-coverage",
    name="pairing-coverage",
    summary="辖区学校结对情况",
    description="辖区内每所学校今天生效的结对数（004 二.4：城区学校至少结对 1 个场馆）。"
    "`area=urban` 只看城区学校。",
    responses=problem_responses(),
)
def coverage(
    caller: BureauOrPlatform,
    session: SessionDep,
    clock: ClockDep,
    page: PageDep,
    area: SchoolArea | None = None,
) -> Page[SchoolCoverage]:
    rows = pairing_service.coverage(session, actor=caller, today=local_date(clock.now()), area=area)
    return Page[SchoolCoverage].sliced(
        [
            SchoolCoverage(
                school_id=s.id or 0,
                school_name=s.name,
                region_code=s.region_code,
                area=s.area,
                active_pairings=n,
            )
            for s, n in rows
        ],
        page,
    )
