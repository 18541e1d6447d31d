from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from scipass.competition.talent import Tracked
from scipass.core.auth import Principal
from scipass.core.inputs import RequestModel
from scipass.record import labels
from scipass.roster.visibility import shown_name


class TalentTrackingStart(RequestModel):
    reason: str = Field(
        min_length=1, max_length=200, description="跟踪理由，如“2026 年市青少年科技创新大赛一等奖”"
    )


class TalentTrackingEnd(RequestModel):
    reason: str = Field(min_length=1, max_length=200, description="结束跟踪的理由")


class TalentTrackingRead(BaseModel):
    id: int
    student_id: int
    student_name: str = Field(description="教育局看到的是脱敏姓名")
    school_id: int
    school_name: str
    class_label: str = Field(description="年级与班级，如“六年级3班”")
    reason: str
    started_at: datetime
    started_by_role: str = Field(description="标记人的身份：学校或教育局")
    active: bool = Field(description="是否仍在跟踪")
    ended_at: datetime | None
    end_reason: str

    @classmethod
    def of(cls, tracked: Tracked, viewer: Principal) -> TalentTrackingRead:
        t, s = tracked.tracking, tracked.student
        return cls(
            id=t.id or 0,
            student_id=s.id or 0,
            student_name=shown_name(viewer, s.name, school_id=s.school_id, student_id=s.id),
            school_id=tracked.school.id or 0,
            school_name=tracked.school.name,
            class_label=labels.class_label(s.grade, s.class_name),
            reason=t.reason,
            started_at=t.started_at,
            started_by_role=t.started_by_role,
            active=t.ended_at is None,
            ended_at=t.ended_at,
            end_reason=t.end_reason,
        )
