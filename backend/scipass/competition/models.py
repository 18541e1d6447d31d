"""Competitions (竞赛): whitelist, catalogue, editions, rounds, divisions, entries and teams.

* The whitelist is data: lists (the national 2025–2028 list ships with the migration that
  made these tables; a bureau adds regional ones) and their entries, each with the list's
  source document, the school years it covers, the organiser and the stages it admits.
* A competition belongs to a bureau (education bureau or science association) and is linked
  to a whitelist entry, or is not whitelisted (``whitelist_entry_id`` NULL). It has at most one
  edition per school year (the national rule, DOMAIN-NOTES §1.6).
* An edition has rounds in order (a school selection, then county, city, province); each has
  its own organiser (:mod:`scipass.org.organiser`), registration window, a quota of entries
  per school, and a quota per region to the next round. Its divisions fix stage, grades,
  individual or team, members and advisors. The edition says which entry fields it requires.
* An entry is registered in one round of an edition and division, by a pupil (its captain, or
  a guardian for the pupil) or by the school (学校统一报名). Members join with a short-lived
  invitation code or are added by the school; a pupil is in at most one live entry of a
  division (a partial unique index). An entry's way through the rounds is
  ``competition_entry_round``: submitted → recommended by the school (or declined) →
  accepted by the round's organiser (or rejected); withdrawn before the deadline. A later
  round's row is added when an entry advances (``via`` = advanced), so the next organiser
  sees it without a new registration.
* Quotas are counters (``competition_quota``) taken by a conditional update, so concurrent
  recommendations never pass the quota; a withdrawal gives the place back.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.org.organiser import one_organiser_check
from scipass.privacy.categories import DataCategory, personal


class CompetitionCategory(StrEnum):
    robotics = "robotics"
    innovation_contest = "innovation_contest"
    drone = "drone"
    invention = "invention"
    programming_ai = "programming_ai"
    science_drama = "science_drama"
    science_survey = "science_survey"
    science_film = "science_film"
    olympiad = "olympiad"
    other = "other"


class CompetitionLevel(StrEnum):
    school = "school"
    county = "county"
    city = "city"
    province = "province"
    national = "national"


class EntryKind(StrEnum):
    individual = "individual"
    team = "team"


class EntryStatus(StrEnum):
    forming = "forming"  # members join, fields are filled in
    submitted = "submitted"  # sent to the school (and on through the rounds)
    withdrawn = "withdrawn"


class MemberRole(StrEnum):
    captain = "captain"
    member = "member"


class MemberStatus(StrEnum):
    active = "active"
    removed = "removed"  # by the captain or the school, before submission
    withdrawn = "withdrawn"  # the whole entry was withdrawn


class RoundEntryStatus(StrEnum):
    submitted = "submitted"  # waiting for the school's recommendation (学校推荐)
    declined = "declined"  # the school did not recommend it (with a reason)
    recommended = "recommended"  # sent to the round's organiser, a place of the school's quota
    accepted = "accepted"  # the organiser admitted it: it takes part in the round
    rejected = "rejected"  # the organiser refused it (with a reason)
    withdrawn = "withdrawn"  # withdrawn before the deadline: place and quota freed


class RoundEntryVia(StrEnum):
    registration = "registration"  # registered in this round
    advanced = "advanced"  # came up from the previous round's result


class QuotaScope(StrEnum):
    school = "school"  # entries a school may recommend to the round
    region = "region"  # entries a region may send up to the next round


LIVE_MEMBER = "status = 'active'"
LIVE_ROUND_ENTRY = "status IN ('submitted', 'recommended', 'accepted')"


class Whitelist(SQLModel, table=True):
    """A list of approved competitions: the national one, or a region's (a city bureau files
    the national and provincial ones held locally and approves its own)."""

    __tablename__ = "competition_whitelist"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint("last_school_year >= first_school_year", name="years_in_order"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    name: str = Field(sa_column=Column(String(200), nullable=False))
    # The document the list comes from (title, issuer, number, address).
    source: str = Field(sa_column=Column(String(500), nullable=False))
    # School years it covers, by the calendar year they start in: 2025–2027 is 2025-09 → 2028-08.
    first_school_year: int = Field(sa_column=Column(Integer, nullable=False))
    last_school_year: int = Field(sa_column=Column(Integer, nullable=False))
    # NULL: national (shipped); else the region of the bureau that keeps it.
    region_code: str | None = Field(
        default=None, sa_column=Column(String(6), ForeignKey("region.code"), nullable=True)
    )
    bureau_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("bureau.id"), nullable=True, index=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class WhitelistEntry(SQLModel, table=True):
    __tablename__ = "competition_whitelist_entry"
    __table_args__ = (UniqueConstraint("whitelist_id", "name"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    whitelist_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_whitelist.id"), nullable=False)
    )
    number: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    name: str = Field(sa_column=Column(String(200), nullable=False))
    organiser: str = Field(sa_column=Column(String(200), nullable=False))
    stages: str = Field(sa_column=Column(String(60), nullable=False))  # "primary,junior,..."
    note: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Competition(SQLModel, table=True):
    __tablename__ = "competition"
    __table_args__ = (
        UniqueConstraint("bureau_id", "name"),
        Index("ix_competition_region_code", "region_code"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    bureau_id: int = Field(sa_column=Column(IdType, ForeignKey("bureau.id"), nullable=False))
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    organiser_unit: str = Field(sa_column=Column(String(200), nullable=False))
    category: str = Field(sa_column=Column(String(20), nullable=False))
    level: str = Field(sa_column=Column(String(10), nullable=False))
    description: str = Field(default="", sa_column=Column(Text, nullable=False))
    # NULL: not whitelisted (the bureau says so explicitly when it creates the competition).
    whitelist_entry_id: int | None = Field(
        default=None,
        sa_column=Column(IdType, ForeignKey("competition_whitelist_entry.id"), nullable=True),
    )
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Edition(SQLModel, table=True):
    """One school year's edition of a competition, and the entry fields it requires."""

    __tablename__ = "competition_edition"
    __table_args__ = (
        UniqueConstraint("competition_id", "school_year"),
        CheckConstraint("attachment_max_bytes > 0", name="attachment_max_positive"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    competition_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition.id"), nullable=False)
    )
    school_year: int = Field(sa_column=Column(Integer, nullable=False))  # 2026: 2026-09 → 2027-08
    title: str = Field(sa_column=Column(String(100), nullable=False))
    requires_title: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default="1")
    )
    requires_abstract: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    requires_attachment: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        sa_column=Column(Integer, nullable=False, server_default=str(10 * 1024 * 1024)),
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Round(SQLModel, table=True):
    """A round of an edition (school selection, county, city, province...), in order."""

    __tablename__ = "competition_round"
    __table_args__ = (
        UniqueConstraint("edition_id", "position"),
        one_organiser_check(),
        CheckConstraint("registration_closes_at > registration_opens_at", name="window_in_order"),
        CheckConstraint("school_quota IS NULL OR school_quota >= 0", name="school_quota_positive"),
        CheckConstraint("region_quota IS NULL OR region_quota >= 0", name="region_quota_positive"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    edition_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_edition.id"), nullable=False)
    )
    position: int = Field(sa_column=Column(Integer, nullable=False))  # 1, 2, ...
    name: str = Field(sa_column=Column(String(50), nullable=False))
    level: str = Field(sa_column=Column(String(10), nullable=False))
    # Schools of this region (and below) take part; for a school's own selection, its region.
    region_code: str = Field(sa_column=Column(String(6), ForeignKey("region.code"), nullable=False))
    # The organiser (exactly one, scipass.org.organiser).
    school_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("school.id"), nullable=True, index=True)
    )
    venue_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("venue.id"), nullable=True, index=True)
    )
    bureau_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("bureau.id"), nullable=True, index=True)
    )
    registration_opens_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    registration_closes_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Entries a school may recommend to this round (NULL: no limit).
    school_quota: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # Entries a region (county of the school) may send up to the next round (NULL: no limit).
    region_quota: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Division(SQLModel, table=True):
    """组别: by stage (and grades), individual or team, members and advisors."""

    __tablename__ = "competition_division"
    __table_args__ = (
        UniqueConstraint("edition_id", "name"),
        CheckConstraint("min_members >= 1 AND max_members >= min_members", name="members_range"),
        CheckConstraint("max_advisors >= 0", name="advisors_positive"),
        CheckConstraint(
            "grade_min IS NULL OR grade_max IS NULL OR grade_max >= grade_min", name="grades_range"
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    edition_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_edition.id"), nullable=False)
    )
    name: str = Field(sa_column=Column(String(50), nullable=False))
    stages: str = Field(sa_column=Column(String(60), nullable=False))
    grade_min: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    grade_max: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    kind: str = Field(sa_column=Column(String(10), nullable=False))  # individual | team
    min_members: int = Field(sa_column=Column(Integer, nullable=False))
    max_members: int = Field(sa_column=Column(Integer, nullable=False))
    max_advisors: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Entry(SQLModel, table=True):
    """An entry (作品/队伍) of a school's pupils in a division, registered in a round."""

    __tablename__ = "competition_entry"
    __table_args__ = (
        UniqueConstraint("number"),
        Index("ix_competition_entry_school_id_edition_id", "school_id", "edition_id"),
        Index("ix_competition_entry_round_id", "round_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    # The entry number printed on lists and used by result uploads (C + edition + id).
    number: str | None = Field(default=None, sa_column=Column(String(24), nullable=True))
    edition_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_edition.id"), nullable=False)
    )
    division_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_division.id"), nullable=False)
    )
    round_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_round.id"), nullable=False)
    )
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    title: str = Field(
        default="",
        sa_column=Column(String(100), nullable=False, info=personal(DataCategory.competition)),
    )
    abstract: str = Field(
        default="", sa_column=Column(Text, nullable=False, info=personal(DataCategory.competition))
    )
    attachment_sha256: str | None = Field(
        default=None,
        sa_column=Column(String(64), nullable=True, info=personal(DataCategory.competition)),
    )
    attachment_media_type: str | None = Field(
        default=None,
        sa_column=Column(String(40), nullable=True, info=personal(DataCategory.competition)),
    )
    attachment_size: int | None = Field(
        default=None,
        sa_column=Column(Integer, nullable=True, info=personal(DataCategory.competition)),
    )
    attachment_name: str | None = Field(
        default=None,
        sa_column=Column(String(100), nullable=True, info=personal(DataCategory.competition)),
    )
    status: str = Field(sa_column=Column(String(12), nullable=False))
    # school: registered by the school (学校统一报名); student: by the captain (or a guardian).
    registered_by_kind: str = Field(sa_column=Column(String(10), nullable=False))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    submitted_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    withdrawn_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class EntryMember(SQLModel, table=True):
    """A pupil in an entry. One live membership per pupil and division, whatever the race."""

    __tablename__ = "competition_entry_member"
    __table_args__ = (
        Index(
            "uq_competition_entry_member_live_division_student",
            "division_id",
            "student_id",
            unique=True,
            sqlite_where=text(LIVE_MEMBER),
            postgresql_where=text(LIVE_MEMBER),
        ),
        Index("ix_competition_entry_member_entry_id", "entry_id"),
        Index("ix_competition_entry_member_student_id", "student_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    entry_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_entry.id"), nullable=False)
    )
    division_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_division.id"), nullable=False)
    )
    student_id: int = Field(
        sa_column=Column(
            IdType,
            ForeignKey("student.id"),
            nullable=False,
            info=personal(DataCategory.competition),
        )
    )
    role: str = Field(sa_column=Column(String(10), nullable=False))  # captain | member
    status: str = Field(sa_column=Column(String(10), nullable=False))
    joined_by: str = Field(sa_column=Column(String(40), nullable=False))
    joined_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    left_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Invitation(SQLModel, table=True):
    """A short-lived, single-use code a captain gives a team-mate; stored as its SHA-256."""

    __tablename__ = "competition_invitation"
    __table_args__ = (
        UniqueConstraint("code_sha256"),
        Index("ix_competition_invitation_entry_id", "entry_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    entry_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_entry.id"), nullable=False)
    )
    code_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    used_by_student_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("student.id"), nullable=True)
    )
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Advisor(SQLModel, table=True):
    """指导教师: a teacher account of the entry's school."""

    __tablename__ = "competition_advisor"
    __table_args__ = (UniqueConstraint("entry_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    entry_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_entry.id"), nullable=False)
    )
    account_id: int = Field(sa_column=Column(IdType, ForeignKey("account.id"), nullable=False))
    added_by: str = Field(sa_column=Column(String(40), nullable=False))
    added_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RoundEntry(SQLModel, table=True):
    """An entry's place in one round: the school's recommendation and the organiser's
    decision; results of the round hang off this row."""

    __tablename__ = "competition_entry_round"
    __table_args__ = (
        UniqueConstraint("entry_id", "round_id"),
        Index("ix_competition_entry_round_round_id_status", "round_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    entry_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_entry.id"), nullable=False)
    )
    round_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_round.id"), nullable=False)
    )
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    via: str = Field(sa_column=Column(String(12), nullable=False))
    # Whether the entry holds a place of the school's quota of this round (given back once).
    holds_quota: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    school_decided_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    school_decided_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    school_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))
    organiser_decided_by: str | None = Field(
        default=None, sa_column=Column(String(40), nullable=True)
    )
    organiser_decided_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    organiser_reason: str = Field(default="", sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Quota(SQLModel, table=True):
    """Places taken of a round's quota, per school or per region; taken by a conditional
    update (``used < limit``), given back on withdrawal."""

    __tablename__ = "competition_quota"
    __table_args__ = (
        UniqueConstraint("round_id", "scope", "scope_key"),
        CheckConstraint("used >= 0", name="used_positive"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    round_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_round.id"), nullable=False)
    )
    scope: str = Field(sa_column=Column(String(10), nullable=False))  # school | region
    scope_key: str = Field(sa_column=Column(String(20), nullable=False))  # school id, region code
    used: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
