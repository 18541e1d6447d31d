"""What each caller may read of participation records, as query conditions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, true
from sqlmodel import col, select

from scipass.core.auth import SCHOOL_ROLES, VENUE_ROLES, Principal, Role, region_prefix
from scipass.org.models import School
from scipass.record.models import ParticipationRecord, RecordCategory, RecordStatus
from scipass.roster.models import GuardianLink, Student


def visible(principal: Principal) -> ColumnElement[bool]:
    """The records ``principal`` may see: a student their own, a guardian their linked
    children's, school staff their school's, venue staff those their venue organised, a bureau
    those of schools in its region."""
    record = ParticipationRecord
    role = principal.role
    if role is Role.platform_admin:
        return true()
    if role is Role.student and principal.student_id is not None:
        # only while the token's WeChat user is still bound to that roster entry
        bound = select(Student.id).where(
            Student.id == principal.student_id,
            Student.wechat_user_id == principal.wechat_user_id,
        )
        return col(record.student_id).in_(bound)
    if role is Role.guardian and principal.wechat_user_id is not None:
        linked = select(GuardianLink.student_id).where(
            GuardianLink.guardian_id == principal.wechat_user_id,
            col(GuardianLink.revoked_at).is_(None),
        )
        return col(record.student_id).in_(linked)
    if role in SCHOOL_ROLES and principal.school_id is not None:
        return col(record.school_id) == principal.school_id
    if role in VENUE_ROLES and principal.venue_id is not None:
        return col(record.organiser_venue_id) == principal.venue_id
    if role is Role.bureau and principal.region_code:
        schools = select(School.id).where(
            col(School.region_code).startswith(region_prefix(principal.region_code))
        )
        return col(record.school_id).in_(schools)
    return false()


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordFilter:
    """Narrowing within what a caller sees: scope (region, school, grade, class, student),
    term, status, activity and kind of record (category)."""

    region_code: str | None = None
    school_id: int | None = None
    grade: int | None = None
    class_name: str | None = None
    student_id: int | None = None
    school_year: int | None = None
    semester: str | None = None
    status: RecordStatus | None = None
    activity_id: int | None = None
    category: RecordCategory | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        record = ParticipationRecord
        where: list[ColumnElement[bool]] = []
        if self.region_code:
            schools = select(School.id).where(
                col(School.region_code).startswith(region_prefix(self.region_code))
            )
            where.append(col(record.school_id).in_(schools))
        if self.school_id is not None:
            where.append(col(record.school_id) == self.school_id)
        if self.grade is not None or self.class_name:
            students = select(Student.id)
            if self.grade is not None:
                students = students.where(Student.grade == self.grade)
            if self.class_name:
                students = students.where(Student.class_name == self.class_name)
            where.append(col(record.student_id).in_(students))
        if self.student_id is not None:
            where.append(col(record.student_id) == self.student_id)
        if self.school_year is not None:
            where.append(col(record.school_year) == self.school_year)
        if self.semester:
            where.append(col(record.semester) == self.semester)
        if self.status is not None:
            where.append(col(record.status) == self.status.value)
        if self.activity_id is not None:
            where.append(col(record.activity_id) == self.activity_id)
        if self.category is not None:
            where.append(col(record.category) == self.category.value)
        return where

    def describe(self) -> dict[str, Any]:
        """The filter as written to the audit log (only what was set)."""
        values = {
            "region_code": self.region_code,
            "school_id": self.school_id,
            "grade": self.grade,
            "class_name": self.class_name,
            "student_id": self.student_id,
            "school_year": self.school_year,
            "semester": self.semester,
            "status": self.status.value if self.status else None,
            "activity_id": self.activity_id,
            "category": self.category.value if self.category else None,
        }
        return {key: value for key, value in values.items() if value not in (None, "")}

    @classmethod
    def from_described(cls, values: dict[str, Any]) -> RecordFilter:
        """The filter :meth:`describe` wrote (a queued job's parameters)."""
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        if known.get("status") is not None:
            known["status"] = RecordStatus(known["status"])
        if known.get("category") is not None:
            known["category"] = RecordCategory(known["category"])
        return cls(**known)
