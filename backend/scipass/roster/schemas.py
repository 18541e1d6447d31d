from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from scipass.core.inputs import Id, RequestModel
from scipass.org.models import Stage


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int


class StudentRead(BaseModel):
    id: int
    student_no: str
    name: str
    gender: str
    stage: Stage
    grade: int
    grade_label: str
    class_name: str
    birth_month: str = Field(description="出生年月 YYYY-MM", examples=["2016-03"])
    under_14: bool
    bound: bool
    bound_at: datetime | None
    guardian_count: int


class StudentCodes(BaseModel):
    id: int
    binding_code: str | None = Field(description="学生绑定码；已绑定时为空")
    guardian_code: str | None


class Relation(StrEnum):
    father = "father"
    mother = "mother"
    grandparent = "grandparent"
    other = "other"


class StudentBinding(RequestModel):
    school_id: Id
    student_no: str = Field(min_length=1, max_length=32)
    code: str = Field(min_length=4, max_length=16, description="学校发放的一次性绑定码")


class GuardianBinding(StudentBinding):
    relation: Relation


class GuardianRead(BaseModel):
    id: int
    relation: Relation
    created_at: datetime


class TemplateFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
