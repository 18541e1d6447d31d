from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from scipass.core.inputs import MULTILINE, Id, RequestModel
from scipass.pairing.models import PairingStatus


class PairingCreate(RequestModel):
    """Proposed by a school admin (give ``venue_id``) or a venue admin (give ``school_id``)."""

    venue_id: Id | None = None
    school_id: Id | None = None
    starts_on: date
    ends_on: date | None = Field(default=None, description="不填表示长期")
    note: str = Field(
        default="",
        max_length=500,
        examples=["每学期组织一次科学实践到基地"],
        json_schema_extra=MULTILINE,
    )


class PairingClose(RequestModel):
    reason: str = Field(default="", max_length=200)


class PairingRead(BaseModel):
    id: int
    school_id: int
    school_name: str
    venue_id: int
    venue_name: str
    starts_on: date
    ends_on: date | None
    note: str
    proposed_by: str
    status: PairingStatus
    school_confirmed_at: datetime | None
    venue_confirmed_at: datetime | None
    closed_at: datetime | None
    close_reason: str


class SchoolCoverage(BaseModel):
    school_id: int
    school_name: str
    region_code: str
    area: str
    active_pairings: int = Field(description="今天生效的结对数")
