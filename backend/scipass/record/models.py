"""Participation records (写实记录) and what hangs off them: their history, evidence files,
public notices (公示) and objections.

A record moves ``pending → confirmed → reviewed → publicised → archived``; it may end as
``rejected`` or ``withdrawn`` before it is archived, and an archived record is only ever
``voided`` by a correction that issues a new record pointing at it (``replaces_id``).

One source event gives at most one record per student: ``(student_id, source, source_ref)``
is unique, so a retried or concurrent append returns the first record. Archived records of a
student form a hash chain (``archive_seq``, ``prev_hash``, ``content_hash``); the unique
``(student_id, archive_seq)`` keeps the chain a line even if two archivers race.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
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


class RecordCategory(StrEnum):
    """The kind of factual record (写实记录) a participation becomes."""

    science_visit = "science_visit"  # 科普场馆参观与研学
    course_lecture = "course_lecture"  # 科学课程、讲座
    inquiry = "inquiry"  # 科学探究、研究性学习、营地
    competition = "competition"  # 科技竞赛
    volunteer = "volunteer"  # 志愿服务
    other = "other"


class Dimension(StrEnum):
    """The five aspects of the Ministry of Education guidance; provinces may map differently."""

    moral = "moral"  # 思想品德
    academic = "academic"  # 学业水平
    health = "health"  # 身心健康
    art = "art"  # 艺术素养
    social_practice = "social_practice"  # 社会实践


# The national mapping of record categories to dimensions (DESIGN.md: visits, courses, camps
# -> 社会实践; competitions, research -> 学业水平; volunteering -> 思想品德), as the national
# policy pack holds it (policy/packs/national.toml; a test keeps the two equal). An activity
# gets it when its organiser names no dimension; a new record's dimension comes from its
# school's region's pack (scipass.record.append).
DEFAULT_DIMENSION = {
    RecordCategory.science_visit: Dimension.social_practice,
    RecordCategory.course_lecture: Dimension.social_practice,
    RecordCategory.inquiry: Dimension.academic,
    RecordCategory.competition: Dimension.academic,
    RecordCategory.volunteer: Dimension.moral,
    RecordCategory.other: Dimension.social_practice,
}


class RecordSource(StrEnum):
    checkin = "checkin"  # a check-in at an activity (source_ref: the visit)
    competition = "competition"  # a competition result
    volunteer = "volunteer"  # a volunteer shift
    manual = "manual"  # entered by school staff (a club term, a school science festival)
    correction = "correction"  # issued when an archived record is voided (source_ref: its id)


class RecordStatus(StrEnum):
    pending = "pending"  # appended by a source, waiting for the organiser
    confirmed = "confirmed"  # the organiser attests it (谁组织谁记录，谁记录谁证明)
    reviewed = "reviewed"  # the school approved it
    publicised = "publicised"  # in a public notice (公示) window
    archived = "archived"  # in the evaluation file; never changes
    rejected = "rejected"  # by the organiser, the school, or an upheld objection
    withdrawn = "withdrawn"  # by the student, before review
    voided = "voided"  # an archived record replaced by a correction


class RecordRole(StrEnum):
    participant = "participant"  # 参与者
    contestant = "contestant"  # 参赛选手
    volunteer = "volunteer"  # 志愿者
    science_guide = "science_guide"  # 小小科普辅导员
    presenter = "presenter"  # 展示/报告人
    organiser = "organiser"  # 组织者
    other = "other"


class QuarantineReason(StrEnum):
    """Why a stored evidence file is no longer served (see ``record/evidence_cleanup.py``)."""

    active_content = "active_content"  # a PDF with scripts, attachments or launch actions
    unreadable = "unreadable"  # an image or PDF that cannot be decoded, or is encrypted
    too_complex = "too_complex"  # over the pixel, page, object or decompression limits
    duplicate = "duplicate"  # cleaned, it equals another file of the same record
    missing = "missing"  # the file was no longer in storage when it was to be cleaned
    # The guardian withdrew the ``photos`` consent before the record was archived: the file is
    # deleted, the row stays as a tombstone (record/withdrawal.py).
    consent_withdrawn = "consent_withdrawn"


class ConfirmedAs(StrEnum):
    """Who gave the pupil's side of a record: the pupil, a linked guardian for the pupil
    (家长代为确认), or, for a pupil with no phone and no bound guardian, a teacher of the school
    where the school allows it (教师代为确认)."""

    student = "student"
    guardian = "guardian"
    teacher = "teacher"


class ReflectionBy(StrEnum):
    """Who wrote a record's reflection: the pupil, or a guardian for the pupil (家长代填)."""

    student = "student"
    guardian = "guardian"


class ObjectionStatus(StrEnum):
    open = "open"
    upheld = "upheld"  # the record was wrong: it is rejected
    dismissed = "dismissed"  # the record stands


# Statuses from which each role's step may leave.
ORGANISER_OPEN = (RecordStatus.pending,)
STUDENT_OPEN = (RecordStatus.pending, RecordStatus.confirmed)
# Records that count towards a student's totals.
COUNTED = (
    RecordStatus.pending,
    RecordStatus.confirmed,
    RecordStatus.reviewed,
    RecordStatus.publicised,
    RecordStatus.archived,
)


class ParticipationRecord(SQLModel, table=True):
    __tablename__ = "participation_record"
    __table_args__ = (
        UniqueConstraint("student_id", "source", "source_ref", name="uq_record_source_key"),
        UniqueConstraint("student_id", "archive_seq", name="uq_record_archive_seq"),
        CheckConstraint("minutes >= 0", name="minutes_not_negative"),
        CheckConstraint("ended_at >= started_at", name="ends_after_start"),
        Index("ix_participation_record_school_id_status", "school_id", "status"),
        Index("ix_participation_record_school_id_term", "school_id", "school_year", "semester"),
        Index("ix_participation_record_organiser_venue_id", "organiser_venue_id", "status"),
        Index("ix_participation_record_activity_id", "activity_id"),
        # The policy engine's read of which activities each school's pupils took part in
        # (scipass.record.measures.school_activity_pupils): answered from the index alone.
        Index(
            "ix_participation_record_school_activity",
            "school_id",
            "activity_id",
            "status",
            "started_at",
            "student_id",
        ),
        Index("ix_participation_record_notice_id", "notice_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    student_id: int = Field(sa_column=Column(IdType, ForeignKey("student.id"), nullable=False))
    # The student's school when the record was made: the school reviews and exports it.
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    source: str = Field(sa_column=Column(String(20), nullable=False))
    source_ref: str = Field(sa_column=Column(String(64), nullable=False))
    activity_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("activity.id"), nullable=True)
    )
    # Who organised it, and so confirms it: a venue or a school (never both, maybe neither
    # for an outside event a school records by hand).
    organiser_venue_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("venue.id"), nullable=True)
    )
    organiser_school_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("school.id"), nullable=True)
    )
    organiser_name: str = Field(sa_column=Column(String(100), nullable=False))
    title: str = Field(
        sa_column=Column(String(100), nullable=False, info=personal(DataCategory.participation))
    )
    category: str = Field(sa_column=Column(String(20), nullable=False))
    dimension: str = Field(sa_column=Column(String(20), nullable=False))
    place: str = Field(sa_column=Column(String(100), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    school_year: int = Field(sa_column=Column(Integer, nullable=False))
    semester: str = Field(sa_column=Column(String(8), nullable=False))
    minutes: int = Field(
        sa_column=Column(Integer, nullable=False, info=personal(DataCategory.participation))
    )
    role: str = Field(sa_column=Column(String(20), nullable=False))
    # 成果/奖项
    outcome: str = Field(
        sa_column=Column(String(100), nullable=False, info=personal(DataCategory.participation))
    )
    # the student's own words
    reflection: str = Field(
        sa_column=Column(Text, nullable=False, info=personal(DataCategory.reflection))
    )
    # 证明人: the person who attests the record, their unit and a contact (masked when shown)
    attester_name: str = Field(sa_column=Column(String(50), nullable=False))
    attester_unit: str = Field(sa_column=Column(String(100), nullable=False))
    attester_phone: str = Field(sa_column=Column(String(30), nullable=False))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    status_reason: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: str = Field(sa_column=Column(String(40), nullable=False))
    confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    student_confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # Who confirmed for the pupil (ConfirmedAs) and their subject ("wechat:<id>" of the pupil
    # or the guardian, "account:<id>" of an attesting teacher); null until confirmed.
    student_confirmed_as: str | None = Field(
        default=None, sa_column=Column(String(10), nullable=True)
    )
    student_confirmed_by: str | None = Field(
        default=None, sa_column=Column(String(40), nullable=True)
    )
    # Who wrote the reflection (ReflectionBy); null while there is none.
    reflection_by: str | None = Field(
        default=None,
        sa_column=Column(String(10), nullable=True, info=personal(DataCategory.reflection)),
    )
    reviewed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    reviewed_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    notice_id: int | None = Field(
        default=None, sa_column=Column(IdType, ForeignKey("record_notice.id"), nullable=True)
    )
    archived_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    archive_seq: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    prev_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    content_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    replaces_id: int | None = Field(
        default=None,
        sa_column=Column(IdType, ForeignKey("participation_record.id"), nullable=True),
    )
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RecordEvent(SQLModel, table=True):
    """The history of a record: every step, by whom and when. Rows are only added."""

    __tablename__ = "record_event"
    __table_args__ = (Index("ix_record_event_record_id", "record_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    record_id: int = Field(
        sa_column=Column(IdType, ForeignKey("participation_record.id"), nullable=False)
    )
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    action: str = Field(sa_column=Column(String(30), nullable=False))
    actor: str = Field(sa_column=Column(String(40), nullable=False))
    actor_role: str = Field(sa_column=Column(String(20), nullable=False))
    from_status: str | None = Field(default=None, sa_column=Column(String(12), nullable=True))
    to_status: str = Field(sa_column=Column(String(12), nullable=False))
    note: str = Field(sa_column=Column(String(200), nullable=False))


class RecordEvidence(SQLModel, table=True):
    """A file attached to a record, stored once under the upload directory by its SHA-256.

    ``sha256`` and ``size`` describe the stored file: an image as re-encoded without its
    metadata, a PDF as uploaded. ``cleaned_at`` is when that was done (at upload, or by the
    one-off cleaning of files stored before); a null marks a file still to be cleaned. When the
    cleaning replaced a file, ``original_sha256`` keeps the hash it had before, which the
    archive hash chain goes on covering. A quarantined file is no longer served."""

    __tablename__ = "record_evidence"
    __table_args__ = (
        UniqueConstraint("record_id", "sha256"),
        Index("ix_record_evidence_record_id", "record_id"),
        Index("ix_record_evidence_cleaned_at", "cleaned_at"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    record_id: int = Field(
        sa_column=Column(IdType, ForeignKey("participation_record.id"), nullable=False)
    )
    sha256: str = Field(
        sa_column=Column(String(64), nullable=False, info=personal(DataCategory.evidence))
    )
    media_type: str = Field(
        sa_column=Column(String(40), nullable=False, info=personal(DataCategory.evidence))
    )
    size: int = Field(
        sa_column=Column(Integer, nullable=False, info=personal(DataCategory.evidence))
    )
    filename: str = Field(
        sa_column=Column(String(100), nullable=False, info=personal(DataCategory.evidence))
    )
    uploaded_by: str = Field(sa_column=Column(String(40), nullable=False))
    uploaded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    cleaned_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    original_sha256: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    quarantined_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    quarantine_reason: str | None = Field(default=None, sa_column=Column(String(20), nullable=True))


class RecordNotice(SQLModel, table=True):
    """A public notice (公示) window a school opens for reviewed records."""

    __tablename__ = "record_notice"
    __table_args__ = (Index("ix_record_notice_school_id_ends_at", "school_id", "ends_at"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    title: str = Field(sa_column=Column(String(100), nullable=False))
    working_days: int = Field(sa_column=Column(Integer, nullable=False))
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    record_count: int = Field(sa_column=Column(Integer, nullable=False))
    opened_by: str = Field(sa_column=Column(String(40), nullable=False))


class RecordObjection(SQLModel, table=True):
    """An objection raised during a notice window; an open one holds the record."""

    __tablename__ = "record_objection"
    __table_args__ = (
        Index("ix_record_objection_record_id_status", "record_id", "status"),
        Index("ix_record_objection_notice_id", "notice_id"),
        # One open objection per person and record.
        Index(
            "uq_record_objection_open",
            "record_id",
            "raised_by",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    record_id: int = Field(
        sa_column=Column(IdType, ForeignKey("participation_record.id"), nullable=False)
    )
    notice_id: int = Field(sa_column=Column(IdType, ForeignKey("record_notice.id"), nullable=False))
    raised_by: str = Field(sa_column=Column(String(40), nullable=False))
    raised_role: str = Field(sa_column=Column(String(20), nullable=False))
    reason: str = Field(
        sa_column=Column(Text, nullable=False, info=personal(DataCategory.objection))
    )
    raised_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(sa_column=Column(String(10), nullable=False))
    resolution: str = Field(sa_column=Column(String(200), nullable=False))
    resolved_by: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    resolved_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
