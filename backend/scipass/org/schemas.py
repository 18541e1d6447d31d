from __future__ import annotations

from pydantic import BaseModel, Field

from scipass.org.models import RegionLevel


class RegionRead(BaseModel):
    code: str = Field(description="GB/T 2260 行政区划代码", examples=["430381"])
    name: str = Field(examples=["湘乡市"])
    level: RegionLevel
    parent_code: str | None = Field(default=None, examples=["430300"])


class RegionDetail(RegionRead):
    ancestors: list[RegionRead] = Field(description="从省级到上一级的上级区划")
    children: list[RegionRead] = Field(description="直接下级区划")
