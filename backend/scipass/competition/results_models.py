"""Results of competition rounds (issue 17, points 3 and 4): one result per accepted entry of
a round, the public notice (公示) that results go through, and the objections raised in it.

* A result hangs off the entry's place in the round (``competition_entry_round``, one result
  per place). The round's organiser enters it (an award code and whether the entry advances)
  while it is a ``draft``; one by one or by an XLSX upload.
* The organiser puts the round's draft results into a notice: they become ``noticed`` for a
  number of working days (the region's 公示 setting, as for records). Staff of an entry's
  school may object while the notice is up; an open objection holds its result. The
  organiser resolves it: dismissed, the result stands; upheld, the result goes back to
  ``draft`` for the organiser to correct and notice again.
* After the window, a noticed result with no open objection is ``published`` (by one
  conditional update, so a retry or a second publisher finds nothing left to do). Only
  published results count: publishing appends the members' participation records and puts an
  advancing entry into the next round (``via`` = advanced).
* An entry advancing takes a place of the round's region quota (the entries a region may send
  up to the next round) when the organiser says so, by a conditional update on the quota
  counter; setting it back gives the place back once (``holds_region_quota``).
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
from scipass.privacy.categories import DataCategory, personal


class Award(StrEnum):
    """What a round's organiser gives an entry; stable codes, Chinese labels in AWARD_LABEL."""

    special = "special"  # 特等奖
    first = "first"  # 一等奖
    second = "second"  # 二等奖
    third = "third"  # 三等奖
    merit = "merit"  # 优秀奖
    finalist = "finalist"  # 入围
    participation = "participation"  # 参与


AWARD_LABEL = {
    Award.special: "特等奖",
    Award.first: "一等奖",
    Award.second: "二等奖",
    Award.third: "三等奖",
    Award.merit: "优秀奖",
    Award.finalist: "入围",
    Award.participation: "参与",
}


class ResultStatus(StrEnum):
    draft = "draft"  # entered, may change
    noticed = "noticed"  # in a public notice (公示)
    published = "published"  # counts: records appended, advancing entries moved up


class ResultObjectionStatus(StrEnum):
    open = "open"
    upheld = "upheld"  # the result was wrong: back to draft
    dismissed = "dismissed"  # the result stands


_AWARDS = ", ".join(f"'{award.value}'" for award in Award)
_STATUSES = ", ".join(f"'{status.value}'" for status in ResultStatus)


class ResultNotice(SQLModel, table=True):
    """A public notice (公示) of a round's results."""

    __tablename__ = "competition_result_notice"
    __table_args__ = (
        Index("ix_competition_result_notice_round_id", "round_id"),
        CheckConstraint("ends_at > starts_at", name="window_in_order"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    round_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_round.id"), nullable=False)
    )
    working_days: int = Field(sa_column=Column(Integer, nullable=False))
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    result_count: int = Field(sa_column=Column(Integer, nullable=False))
    opened_by: str = Field(sa_column=Column(String(40), nullable=False))


class Result(SQLModel, table=True):
    """The result of an entry in a round (one per ``competition_entry_round`` row)."""

    __tablename__ = "competition_result"
    __table_args__ = (
        UniqueConstraint("round_entry_id"),
        UniqueConstraint("round_id", "entry_id"),
        Index("ix_competition_result_round_id_status", "round_id", "status"),
        Index("ix_competition_result_notice_id", "notice_id"),
        Index("ix_competition_result_school_id", "school_id"),
        CheckConstraint(f"award IN ({_AWARDS})", name="award_known"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status_known"),
        CheckConstraint("(status = 'draft') OR (notice_id IS NOT NULL)", name="noticed_has_notice"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    round_entry_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_entry_round.id"), nullable=False)
    )
    round_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_round.id"), nullable=False)
    )
    entry_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_entry.id"), nullable=False)
    )
    # The entry's school: its staff may object, and it reviews the records.
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    award: str = Field(
        sa_column=Column(String(14), nullable=False, info=personal(DataCategory.competition))
    )
    advances: bool = Field(sa_column=Column(Boolean, nullable=False))
    # Whether the result holds a place of the round's region quota (given back once).
    holds_region_quota: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default="0")
    )
    status: str = Field(sa_column=Column(String(10), nullable=False))
    notice_id: int | None = Field(
        default=None,
        sa_column=Column(IdType, ForeignKey("competition_result_notice.id"), nullable=True),
    )
    entered_by: str = Field(sa_column=Column(String(40), nullable=False))
    entered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    published_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ResultObjection(SQLModel, table=True):
    """An objection by staff of an entry's school during the notice; an open one holds the
    result."""

    __tablename__ = "competition_result_objection"
    __table_args__ = (
        Index("ix_competition_result_objection_result_id_status", "result_id", "status"),
        Index("ix_competition_result_objection_notice_id", "notice_id"),
        Index(
            "uq_competition_result_objection_open",
            "result_id",
            "raised_by",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    result_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_result.id"), nullable=False)
    )
    notice_id: int = Field(
        sa_column=Column(IdType, ForeignKey("competition_result_notice.id"), nullable=False)
    )
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    raised_by: str = Field(sa_column=Column(String(40), nullable=False))
    raised_role: str = Field(sa_column=Column(String(20), nullable=False))
    reason: str = Field(
        sa_column=Column(Text, nullable=False, info=personal(DataCategory.objection))
    )
    raised_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(sa_column=Column(String(10), nullable=False))
    resolution: str = Field(default="", sa_column=Column(String(200), nullable=False))
    resolved_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    resolved_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
