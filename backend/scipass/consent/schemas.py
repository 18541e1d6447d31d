from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from scipass.consent.models import Channel, Decision, Purpose
from scipass.consent.notices import ChangeKind, NoticeVersion
from scipass.core.inputs import RequestModel


class NoticeVersionRead(BaseModel):
    version: str
    published_on: date
    kind: ChangeKind = Field(
        description="editorial：文字调整，原同意继续有效；material：实质性变更"
    )
    adds_purposes: list[Purpose]
    adds_recipients: dict[Purpose, list[str]] = Field(description="按目的新增的接收方")
    deadline: date | None = Field(description="涉及目的的原同意继续有效的最后一天（含）")
    summary: str

    @classmethod
    def of(cls, notice: NoticeVersion) -> NoticeVersionRead:
        return cls(
            version=notice.version,
            published_on=notice.published_on,
            kind=notice.kind,
            adds_purposes=sorted(notice.adds_purposes),
            adds_recipients={p: list(r) for p, r in notice.adds_recipients},
            deadline=notice.deadline,
            summary=notice.summary,
        )


class Notice(BaseModel):
    version: str
    title: str
    text: str
    purposes: list[Purpose]
    versions: list[NoticeVersionRead] = Field(description="告知书各版本，从旧到新")


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
    notice_version: str | None = Field(description="当前有效的决定所依据的告知书版本；无记录时为空")
    renewal_needed: bool = Field(
        description="告知书有实质性变更（新增目的或接收方）涉及此目的，须监护人按当前版本重新作答"
    )
    renewal_due: date | None = Field(
        description="原同意继续有效的最后一天（含，北京时间）；此后未重新同意则停止处理。"
        "新增的目的没有此日期：原同意从不包括它"
    )


class ConsentStatus(BaseModel):
    student_id: int
    under_14: bool
    notice_version: str
    purposes: list[ConsentState]
    renewal_needed: list[Purpose] = Field(description="须按当前告知书重新作答的目的")


class ConsentEntry(BaseModel):
    id: int
    purpose: Purpose
    decision: Decision
    notice_version: str
    channel: Channel
    guardian_name: str | None
    recorded_at: datetime
