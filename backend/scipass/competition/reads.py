"""Answers of the competition API, shaped from rows (the queries live here, not in routers)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from scipass.account.models import Account
from scipass.competition import catalogue
from scipass.competition.models import (
    Advisor,
    Competition,
    Division,
    Edition,
    Entry,
    EntryMember,
    MemberStatus,
    Round,
    RoundEntry,
    Whitelist,
    WhitelistEntry,
)
from scipass.competition.schemas import (
    AdvisorRead,
    CompetitionRead,
    DivisionRead,
    EditionRead,
    EntryRead,
    MemberRead,
    OrganiserEntryRead,
    OrganiserMemberRead,
    OrganiserRead,
    RoundEntryRead,
    RoundRead,
    WhitelistEntryRead,
    WhitelistRead,
)
from scipass.org.models import School, decode_stages
from scipass.org.organiser import organiser_name, organiser_of
from scipass.record import labels
from scipass.roster.models import Student


def whitelist_read(whitelist: Whitelist, entries: int) -> WhitelistRead:
    return WhitelistRead(
        id=whitelist.id or 0,
        name=whitelist.name,
        source=whitelist.source,
        first_school_year=whitelist.first_school_year,
        last_school_year=whitelist.last_school_year,
        region_code=whitelist.region_code,
        entries=entries,
    )


def whitelist_entry_read(entry: WhitelistEntry) -> WhitelistEntryRead:
    return WhitelistEntryRead(
        id=entry.id or 0,
        whitelist_id=entry.whitelist_id,
        number=entry.number,
        name=entry.name,
        organiser=entry.organiser,
        stages=decode_stages(entry.stages),
        note=entry.note,
    )


def round_read(session: Session, round_: Round) -> RoundRead:
    ref = organiser_of(round_)
    return RoundRead(
        id=round_.id or 0,
        edition_id=round_.edition_id,
        position=round_.position,
        name=round_.name,
        level=round_.level,
        region_code=round_.region_code,
        organiser=OrganiserRead(kind=ref.kind, id=ref.id, name=organiser_name(session, ref)),
        registration_opens_at=round_.registration_opens_at,
        registration_closes_at=round_.registration_closes_at,
        school_quota=round_.school_quota,
        region_quota=round_.region_quota,
    )


def division_read(division: Division) -> DivisionRead:
    return DivisionRead(
        id=division.id or 0,
        edition_id=division.edition_id,
        name=division.name,
        stages=decode_stages(division.stages),
        grade_min=division.grade_min,
        grade_max=division.grade_max,
        kind=division.kind,
        min_members=division.min_members,
        max_members=division.max_members,
        max_advisors=division.max_advisors,
    )


def edition_read(session: Session, edition: Edition, *, full: bool = True) -> EditionRead:
    return EditionRead(
        id=edition.id or 0,
        competition_id=edition.competition_id,
        school_year=edition.school_year,
        title=edition.title,
        requires_title=edition.requires_title,
        requires_abstract=edition.requires_abstract,
        requires_attachment=edition.requires_attachment,
        attachment_max_bytes=edition.attachment_max_bytes,
        rounds=[round_read(session, r) for r in catalogue.rounds_of(session, edition.id or 0)]
        if full
        else [],
        divisions=[division_read(d) for d in catalogue.divisions_of(session, edition.id or 0)]
        if full
        else [],
    )


def competition_read(
    session: Session, competition: Competition, *, full: bool = False
) -> CompetitionRead:
    entry = (
        session.get(WhitelistEntry, competition.whitelist_entry_id)
        if competition.whitelist_entry_id
        else None
    )
    return CompetitionRead(
        id=competition.id or 0,
        bureau_id=competition.bureau_id,
        region_code=competition.region_code,
        name=competition.name,
        organiser_unit=competition.organiser_unit,
        category=competition.category,
        level=competition.level,
        description=competition.description,
        whitelisted=entry is not None,
        whitelist_entry=whitelist_entry_read(entry) if entry else None,
        notice=catalogue.NOTICE,
        editions=[
            edition_read(session, e) for e in catalogue.editions_of(session, competition.id or 0)
        ]
        if full
        else [],
    )


def entry_read(session: Session, entry: Entry) -> EntryRead:
    edition = session.get(Edition, entry.edition_id)
    division = session.get(Division, entry.division_id)
    competition = session.get(Competition, edition.competition_id) if edition else None
    assert edition is not None
    assert division is not None
    assert competition is not None
    members = session.exec(
        select(EntryMember, Student)
        .join(Student, col(Student.id) == EntryMember.student_id)
        .where(EntryMember.entry_id == entry.id, col(EntryMember.status) != MemberStatus.removed)
        .order_by(col(EntryMember.id))
    ).all()
    advisors = session.exec(
        select(Advisor, Account)
        .join(Account, col(Account.id) == Advisor.account_id)
        .where(Advisor.entry_id == entry.id)
        .order_by(col(Advisor.id))
    ).all()
    places = session.exec(
        select(RoundEntry, Round)
        .join(Round, col(Round.id) == RoundEntry.round_id)
        .where(RoundEntry.entry_id == entry.id)
        .order_by(col(Round.position))
    ).all()
    return EntryRead(
        id=entry.id or 0,
        number=entry.number,
        competition_id=competition.id or 0,
        competition_name=competition.name,
        edition_id=edition.id or 0,
        division_id=division.id or 0,
        division_name=division.name,
        round_id=entry.round_id,
        school_id=entry.school_id,
        title=entry.title,
        abstract=entry.abstract,
        has_attachment=entry.attachment_sha256 is not None,
        attachment_name=entry.attachment_name,
        status=entry.status,
        registered_by_kind=entry.registered_by_kind,
        members=[
            MemberRead(
                id=m.id or 0,
                student_id=s.id or 0,
                name=s.name,
                class_name=s.class_name,
                class_label=labels.class_label(s.grade, s.class_name),
                role=m.role,
            )
            for m, s in members
        ],
        advisors=[
            AdvisorRead(id=a.id or 0, account_id=acc.id or 0, name=acc.display_name)
            for a, acc in advisors
        ],
        rounds=[
            RoundEntryRead(
                round_id=r.id or 0,
                round_name=r.name,
                position=r.position,
                status=p.status,
                via=p.via,
                school_reason=p.school_reason,
                organiser_reason=p.organiser_reason,
            )
            for p, r in places
        ],
        created_at=entry.created_at,
        submitted_at=entry.submitted_at,
    )


def organiser_entry_read(
    session: Session, place: RoundEntry, entry: Entry, school: School, members: list[Student]
) -> OrganiserEntryRead:
    division = session.get(Division, entry.division_id)
    return OrganiserEntryRead(
        entry_id=entry.id or 0,
        number=entry.number,
        division_name=division.name if division else "",
        title=entry.title,
        school_name=school.name,
        members=[
            OrganiserMemberRead(
                name=s.name,
                class_name=s.class_name,
                class_label=labels.class_label(s.grade, s.class_name),
            )
            for s in members
        ],
        status=place.status,
        via=place.via,
    )
