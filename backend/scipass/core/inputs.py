"""What the API accepts at the door: bounded integers and clean text.

Every integer a client sends (an id in a path, a filter in a query, a number in a body) has a
type from here, so no value reaches the database beyond what its column holds: an id out of
range answers 422 ``validation_failed``, never a 500. A test walks the OpenAPI document and
fails on an integer input without both bounds.

Ids are 64-bit in the database (``BIGINT`` on PostgreSQL; SQLite's ``INTEGER`` always is), see
:class:`scipass.core.db.IdType`. A province of ten million pupils scanning twenty times a year
passes 2³¹ scan events within a decade, and one width for every key keeps foreign keys the
same type as what they point at. The API takes ids only up to 2⁵³ − 1, the largest integer a
JavaScript number (the mini-program's) holds exactly.
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Interval
from fastapi import Query

MAX_ID = 2**53 - 1  # Number.MAX_SAFE_INTEGER
MAX_OFFSET = 1_000_000  # deeper than any page a person turns to; exports read everything
INT32_MAX = 2**31 - 1

# A row's id, as paths, filters and bodies name it.
Id = Annotated[int, Interval(ge=1, le=MAX_ID)]
# How many rows of a list to skip.
Offset = Annotated[int, Interval(ge=0, le=MAX_OFFSET)]
# The first calendar year of a school year (2026 is 2026-2027).
SchoolYear = Annotated[int, Interval(ge=2000, le=2100)]
# 年级 1–12: primary 1–6, junior 7–9, senior 10–12.
Grade = Annotated[int, Interval(ge=1, le=12)]

# The same filters in every list and export.
GradeFilter = Annotated[Grade | None, Query(description="年级 1–12（七年级为 7，高一为 10）")]
SchoolYearFilter = Annotated[
    SchoolYear | None, Query(description="学年（开始的年份，2026 即 2026-2027 学年）")
]
