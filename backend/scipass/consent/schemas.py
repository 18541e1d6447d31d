from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from scipass.consent.models import Channel, Decision, Purpose
from scipass.core.inputs import RequestModel


class Notice(BaseModel):
    version: str
    title: str
    text: str
    purposes: list[Purpose]


class ConsentDecision(RequestModel):
    purposes: list[Purpose] = Field(min_length=1)
    decision: Decision
    notice_version: str = Field(max_length=40, description="监护人阅读的告知书版本，须为当前版本")


class PaperConsent(ConsentDecision):
    guardian_name: str = Field(min_length=1, max_length=30, description="签署纸质同意书的监护人")


class ConsentState(BaseModel):
    purpose: Purpose
    decision: Decision | None = Field(description="当前有效的决定；无记录时为空")
    decided_at: datetime | None
    asked: bool = Field(
        description="该学生的年龄是否须监护人同意此目的（志愿服务未满 18 周岁，其余未满 14 周岁）"
    )
    effective: bool = Field(description="是否可以为此目的处理该学生的信息")


class ConsentStatus(BaseModel):
    student_id: int
    under_14: bool
    notice_version: str
    purposes: list[ConsentState]


class ConsentEntry(BaseModel):
    id: int
    purpose: Purpose
    decision: Decision
    notice_version: str
    channel: Channel
    guardian_name: str | None
    recorded_at: datetime
