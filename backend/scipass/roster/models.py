"""School rosters: students as the school registered them, and their guardians.

We keep the least that the product needs (DESIGN.md, "Minors"): student number, name,
gender, birth year and month (for the under-14 rule), grade and class. No ID-card number.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from scipass.core.db import IdType, UTCDateTime
from scipass.privacy.categories import DataCategory, personal


class Student(SQLModel, table=True):
    __tablename__ = "student"
    __table_args__ = (
        UniqueConstraint("school_id", "student_no"),
        Index("ix_student_school_id_grade_class_name", "school_id", "grade", "class_name"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    school_id: int = Field(sa_column=Column(IdType, ForeignKey("school.id"), nullable=False))
    student_no: str = Field(
        sa_column=Column(String(32), nullable=False, info=personal(DataCategory.roster_identity))
    )
    name: str = Field(
        sa_column=Column(String(30), nullable=False, info=personal(DataCategory.roster_identity))
    )
    # male | female
    gender: str = Field(
        sa_column=Column(String(6), nullable=False, info=personal(DataCategory.roster_identity))
    )
    # always the 1st
    birth_month: date = Field(
        sa_column=Column(Date, nullable=False, info=personal(DataCategory.birth_month))
    )
    stage: str = Field(
        sa_column=Column(String(12), nullable=False, info=personal(DataCategory.school_class))
    )
    # 1-12
    grade: int = Field(
        sa_column=Column(Integer, nullable=False, info=personal(DataCategory.school_class))
    )
    class_name: str = Field(
        sa_column=Column(String(20), nullable=False, info=personal(DataCategory.school_class))
    )
    # One WeChat account binds one student (unique); NULL until bound.
    wechat_user_id: int | None = Field(
        default=None,
        sa_column=Column(
            IdType,
            ForeignKey("wechat_user.id"),
            nullable=True,
            unique=True,
            info=personal(DataCategory.wechat_identity),
        ),
    )
    bound_at: datetime | None = Field(
        default=None,
        sa_column=Column(UTCDateTime(), nullable=True, info=personal(DataCategory.wechat_identity)),
    )
    # One-time codes the school hands out; cleared when used, renewed by the school.
    binding_code: str | None = Field(default=None, sa_column=Column(String(12), nullable=True))
    guardian_code: str | None = Field(default=None, sa_column=Column(String(12), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class GuardianLink(SQLModel, table=True):
    """A guardian's WeChat account linked to a student, through a school-issued code."""

    __tablename__ = "guardian_link"
    __table_args__ = (UniqueConstraint("guardian_id", "student_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    guardian_id: int = Field(
        sa_column=Column(
            IdType,
            ForeignKey("wechat_user.id"),
            nullable=False,
            index=True,
            info=personal(DataCategory.guardian),
        )
    )
    student_id: int = Field(
        sa_column=Column(IdType, ForeignKey("student.id"), nullable=False, index=True)
    )
    relation: str = Field(
        sa_column=Column(String(12), nullable=False, info=personal(DataCategory.guardian))
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Unlinking keeps the row (consent records point at it) and stops its consent counting.
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
