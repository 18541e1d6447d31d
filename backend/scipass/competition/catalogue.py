"""The catalogue: whitelists and their entries, competitions, editions, rounds and divisions.

A bureau manages competitions of its region and keeps regional whitelists; everyone signed in
reads the catalogue (it is what pupils choose from). Whether a competition is whitelisted for
an edition: it is linked to an entry of a list that covers the edition's school year.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from scipass.audit import service as audit_service
from scipass.competition.errors import (
    CompetitionExists,
    CompetitionInvalid,
    CompetitionNotFound,
    EditionExists,
    EditionNotFound,
    WhitelistNotFound,
)
from scipass.competition.models import (
    Competition,
    Division,
    Edition,
    Round,
    Whitelist,
    WhitelistEntry,
)
from scipass.competition.schemas import (
    CompetitionCreate,
    CompetitionWhitelistSet,
    DivisionCreate,
    EditionCreate,
    RoundCreate,
    WhitelistCreate,
    WhitelistEntryCreate,
)
from scipass.core.auth import Principal, region_contains, region_prefix
from scipass.core.db import flush_unique
from scipass.core.pagination import count_rows
from scipass.org.models import Bureau, Region, School, Stage, Venue, decode_stages, encode_stages
from scipass.org.organiser import OrganiserKind, OrganiserRef
from scipass.record.labels import NOT_FOR_ADMISSION

# What a competition states wherever it is shown: the national rule (record.labels, worded
# there once) and that no fees are handled (DOMAIN-NOTES §1.6).
NOTICE = f"{NOT_FOR_ADMISSION}。竞赛活动不收取任何费用。"


def audit(
    session: Session,
    actor: Principal,
    now: datetime,
    kind: str,
    object_id: object,
    **detail: Any,
) -> None:
    audit_service.record(
        session,
        action=audit_service.Action.competition_changed,
        at=now,
        actor=actor,
        object_type=kind,
        object_id=object_id,
        region_code=actor.region_code,
        **detail,
    )


# --- whitelists ---------------------------------------------------------------------------


def list_whitelists(session: Session) -> list[tuple[Whitelist, int]]:
    count = (
        select(func.count(col(WhitelistEntry.id)))
        .where(WhitelistEntry.whitelist_id == Whitelist.id)
        .correlate(Whitelist)
        .scalar_subquery()
    )
    rows = session.exec(select(Whitelist, count).order_by(col(Whitelist.id))).all()
    return [(w, int(n)) for w, n in rows]


def get_whitelist(session: Session, whitelist_id: int) -> Whitelist:
    whitelist = session.get(Whitelist, whitelist_id)
    if whitelist is None:
        raise WhitelistNotFound()
    return whitelist


def own_whitelist(session: Session, *, actor: Principal, whitelist_id: int) -> Whitelist:
    """A list the bureau keeps (the shipped national list belongs to no bureau)."""
    whitelist = get_whitelist(session, whitelist_id)
    if whitelist.bureau_id is None or whitelist.bureau_id != actor.bureau_id:
        raise WhitelistNotFound()
    return whitelist


def entries_of(session: Session, whitelist_id: int) -> list[WhitelistEntry]:
    return list(
        session.exec(
            select(WhitelistEntry)
            .where(WhitelistEntry.whitelist_id == whitelist_id)
            .order_by(col(WhitelistEntry.number), col(WhitelistEntry.id))
        ).all()
    )


def create_whitelist(
    session: Session, *, actor: Principal, data: WhitelistCreate, now: datetime
) -> Whitelist:
    if data.last_school_year < data.first_school_year:
        raise CompetitionInvalid("最后学年不能早于第一个学年", "The years are out of order")
    whitelist = Whitelist(
        name=data.name.strip(),
        source=data.source.strip(),
        first_school_year=data.first_school_year,
        last_school_year=data.last_school_year,
        region_code=actor.region_code,
        bureau_id=actor.bureau_id,
        created_at=now,
    )
    session.add(whitelist)
    flush_unique(session, CompetitionExists("已有同名白名单", "A list of that name exists"))
    audit(session, actor, now, "competition_whitelist", whitelist.id, change="created")
    return whitelist


def add_entry(
    session: Session,
    *,
    actor: Principal,
    whitelist_id: int,
    data: WhitelistEntryCreate,
    now: datetime,
) -> WhitelistEntry:
    whitelist = own_whitelist(session, actor=actor, whitelist_id=whitelist_id)
    entry = WhitelistEntry(
        whitelist_id=whitelist.id or 0,
        number=data.number,
        name=data.name.strip(),
        organiser=data.organiser.strip(),
        stages=encode_stages(data.stages),
        note=data.note.strip(),
        created_at=now,
    )
    session.add(entry)
    flush_unique(session, CompetitionExists("名单中已有该竞赛", "The list has that entry"))
    audit(session, actor, now, "competition_whitelist_entry", entry.id, change="created")
    return entry


def get_whitelist_entry(session: Session, entry_id: int) -> WhitelistEntry:
    entry = session.get(WhitelistEntry, entry_id)
    if entry is None:
        raise WhitelistNotFound("白名单条目不存在", "Whitelist entry not found")
    return entry


def whitelisted_for(
    session: Session, competition: Competition, school_year: int, stages: list[Stage]
) -> bool:
    """Whether the competition is on a list that covers ``school_year`` and admits every one of
    ``stages`` (a division's: a list entry for senior pupils does not whitelist a primary
    division of the same competition)."""
    if competition.whitelist_entry_id is None:
        return False
    entry = session.get(WhitelistEntry, competition.whitelist_entry_id)
    whitelist = session.get(Whitelist, entry.whitelist_id) if entry else None
    return (
        entry is not None
        and whitelist is not None
        and whitelist.first_school_year <= school_year <= whitelist.last_school_year
        and set(stages) <= set(decode_stages(entry.stages))
    )


# --- competitions ---------------------------------------------------------------------------


def _link(
    session: Session, whitelist_entry_id: int | None, not_whitelisted: bool, region_code: str
) -> int | None:
    """The whitelist entry a competition of ``region_code`` is linked to: exactly one of an
    entry or an explicit "not whitelisted". An entry of a regional list counts only where that
    region contains the competition's (the national list, of no region, counts everywhere)."""
    if (whitelist_entry_id is None) == (not not_whitelisted):
        raise CompetitionInvalid(
            "请选择对应的白名单条目，或明确标记为未列入白名单",
            "Give a whitelist entry, or mark the competition as not whitelisted",
        )
    if whitelist_entry_id is not None:
        entry = get_whitelist_entry(session, whitelist_entry_id)
        whitelist = get_whitelist(session, entry.whitelist_id)
        if whitelist.region_code is not None and not region_contains(
            whitelist.region_code, region_code
        ):
            raise CompetitionInvalid(
                "该白名单条目属于其他地区的名单，不适用于本竞赛所在地区",
                "The entry is on another region's list",
            )
    return whitelist_entry_id


def create_competition(
    session: Session, *, actor: Principal, data: CompetitionCreate, now: datetime
) -> Competition:
    bureau = session.get(Bureau, actor.bureau_id or 0)
    if bureau is None:
        raise CompetitionInvalid("只有教育局或科协可以创建竞赛", "Only a bureau creates these")
    competition = Competition(
        bureau_id=bureau.id or 0,
        region_code=bureau.region_code,
        name=data.name.strip(),
        organiser_unit=data.organiser_unit.strip(),
        category=data.category.value,
        level=data.level.value,
        description=data.description,
        whitelist_entry_id=_link(
            session, data.whitelist_entry_id, data.not_whitelisted, bureau.region_code
        ),
        created_by=actor.subject,
        created_at=now,
        updated_at=now,
    )
    session.add(competition)
    flush_unique(session, CompetitionExists("已有同名竞赛", "A competition of that name exists"))
    audit(session, actor, now, "competition", competition.id, change="created")
    return competition


def get_competition(session: Session, competition_id: int) -> Competition:
    competition = session.get(Competition, competition_id)
    if competition is None:
        raise CompetitionNotFound()
    return competition


def own_competition(session: Session, *, actor: Principal, competition_id: int) -> Competition:
    competition = get_competition(session, competition_id)
    if competition.bureau_id != actor.bureau_id:
        raise CompetitionNotFound()
    return competition


def set_whitelist(
    session: Session,
    *,
    actor: Principal,
    competition_id: int,
    data: CompetitionWhitelistSet,
    now: datetime,
) -> Competition:
    competition = own_competition(session, actor=actor, competition_id=competition_id)
    before = competition.whitelist_entry_id
    competition.whitelist_entry_id = _link(
        session, data.whitelist_entry_id, data.not_whitelisted, competition.region_code
    )
    competition.updated_at = now
    session.add(competition)
    session.flush()
    audit(
        session,
        actor,
        now,
        "competition",
        competition.id,
        change="whitelist",
        whitelist_entry={"from": before, "to": competition.whitelist_entry_id},
    )
    return competition


def list_competitions(
    session: Session, *, region_code: str | None, offset: int, limit: int
) -> tuple[list[Competition], int]:
    query = select(Competition)
    if region_code:
        # competitions of the region, of the regions above it, and of those below it
        codes = [region_code[:2] + "0000", region_code[:4] + "00", region_code]
        query = query.where(
            col(Competition.region_code).in_(codes)
            | col(Competition.region_code).startswith(region_prefix(region_code))
        )
    total = count_rows(session, query)
    rows = session.exec(query.order_by(col(Competition.id).desc()).offset(offset).limit(limit))
    return list(rows.all()), total


def create_edition(
    session: Session, *, actor: Principal, competition_id: int, data: EditionCreate, now: datetime
) -> Edition:
    competition = own_competition(session, actor=actor, competition_id=competition_id)
    edition = Edition(
        competition_id=competition.id or 0,
        school_year=data.school_year,
        title=data.title.strip(),
        requires_title=data.requires_title,
        requires_abstract=data.requires_abstract,
        requires_attachment=data.requires_attachment,
        attachment_max_bytes=data.attachment_max_mb * 1024 * 1024,
        created_at=now,
    )
    session.add(edition)
    flush_unique(session, EditionExists())
    audit(session, actor, now, "competition_edition", edition.id, change="created")
    return edition


def editions_of(session: Session, competition_id: int) -> list[Edition]:
    return list(
        session.exec(
            select(Edition)
            .where(Edition.competition_id == competition_id)
            .order_by(col(Edition.school_year).desc())
        ).all()
    )


def own_edition(session: Session, *, actor: Principal, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise EditionNotFound()
    competition = session.get(Competition, edition.competition_id)
    if competition is None or competition.bureau_id != actor.bureau_id:
        raise EditionNotFound()
    return edition


def _organiser(session: Session, data: RoundCreate) -> OrganiserRef:
    kind = data.organiser.kind
    row: School | Venue | Bureau | None
    if kind is OrganiserKind.school:
        row = session.get(School, data.organiser.id)
    elif kind is OrganiserKind.venue:
        row = session.get(Venue, data.organiser.id)
    else:
        row = session.get(Bureau, data.organiser.id)
    if row is None:
        raise CompetitionInvalid("承办方不存在", "The organiser does not exist")
    if not region_contains(data.region_code, row.region_code) and not region_contains(
        row.region_code, data.region_code
    ):
        raise CompetitionInvalid(
            "承办方不在本轮的地区", "The organiser is outside the round's region"
        )
    return OrganiserRef(kind, data.organiser.id)


def create_round(
    session: Session, *, actor: Principal, edition_id: int, data: RoundCreate, now: datetime
) -> Round:
    edition = own_edition(session, actor=actor, edition_id=edition_id)
    if session.get(Region, data.region_code) is None or not region_contains(
        actor.region_code or "x", data.region_code
    ):
        raise CompetitionInvalid("地区不在本辖区内", "The region is outside the bureau's")
    if data.registration_closes_at <= data.registration_opens_at:
        raise CompetitionInvalid("报名截止时间须晚于开始时间", "The window is out of order")
    organiser = _organiser(session, data)
    round_ = Round(
        edition_id=edition.id or 0,
        position=data.position,
        name=data.name.strip(),
        level=data.level.value,
        region_code=data.region_code,
        registration_opens_at=data.registration_opens_at,
        registration_closes_at=data.registration_closes_at,
        school_quota=data.school_quota,
        region_quota=data.region_quota,
        created_at=now,
        **organiser.columns(),
    )
    session.add(round_)
    flush_unique(session, CompetitionExists("本届已有该轮次", "The edition has that round"))
    audit(session, actor, now, "competition_round", round_.id, change="created")
    return round_


def rounds_of(session: Session, edition_id: int) -> list[Round]:
    return list(
        session.exec(
            select(Round).where(Round.edition_id == edition_id).order_by(col(Round.position))
        ).all()
    )


def create_division(
    session: Session, *, actor: Principal, edition_id: int, data: DivisionCreate, now: datetime
) -> Division:
    edition = own_edition(session, actor=actor, edition_id=edition_id)
    if data.max_members < data.min_members:
        raise CompetitionInvalid("人数上限不能小于下限", "max_members is below min_members")
    if data.kind == "individual" and data.max_members != 1:
        raise CompetitionInvalid("个人赛每份报名一人", "An individual entry has one member")
    if data.grade_min and data.grade_max and data.grade_max < data.grade_min:
        raise CompetitionInvalid("年级范围有误", "The grades are out of order")
    division = Division(
        edition_id=edition.id or 0,
        name=data.name.strip(),
        stages=encode_stages(data.stages),
        grade_min=data.grade_min,
        grade_max=data.grade_max,
        kind=data.kind.value,
        min_members=data.min_members,
        max_members=data.max_members,
        max_advisors=data.max_advisors,
        created_at=now,
    )
    session.add(division)
    flush_unique(session, CompetitionExists("本届已有同名组别", "The edition has that division"))
    audit(session, actor, now, "competition_division", division.id, change="created")
    return division


def divisions_of(session: Session, edition_id: int) -> list[Division]:
    return list(
        session.exec(
            select(Division).where(Division.edition_id == edition_id).order_by(col(Division.id))
        ).all()
    )
