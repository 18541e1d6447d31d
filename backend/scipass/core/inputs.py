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

import re
from typing import Annotated, Any

from annotated_types import Interval
from fastapi import Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

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


# --- text -------------------------------------------------------------------------------------

# A request model's field whose text may hold line breaks (a description, a reflection): the
# mini-program's and the console's text areas. Every other text field is one line.
MULTILINE: dict[str, Any] = {"x-multiline": True}

_BIDI_CONTROLS = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A))


def refused(char: str, *, multiline: bool) -> bool:
    """Whether ``char`` may not appear in text a client sends."""
    point = ord(char)
    if point < 0x20:  # C0 controls, NUL included
        return not (char == "\t" or (multiline and char == "\n"))
    return (
        0x7F <= point <= 0x9F  # DEL and the C1 controls
        or 0xD800 <= point <= 0xDFFF  # a lone surrogate (only escapes in JSON can make one)
        or 0xFDD0 <= point <= 0xFDEF  # noncharacters
        or (point & 0xFFFE) == 0xFFFE  # U+FFFE, U+FFFF and their twins in every plane
        or point in _BIDI_CONTROLS  # bidirectional overrides and isolates: text that reads
        # otherwise than it is stored, in a name another organisation sees
    )


def _refused_class(*, multiline: bool) -> re.Pattern[str]:
    """:func:`refused` as one character class, which scans a string in C rather than a
    Python call per character (this runs on every text field of every request). A test
    checks both agree on every code point."""
    allowed = "\t\n" if multiline else "\t"
    c0 = "".join(f"\\x{point:02x}" for point in range(0x20) if chr(point) not in allowed)
    twins = "".join(
        f"\\U{plane << 16 | 0xFFFE:08x}\\U{plane << 16 | 0xFFFF:08x}" for plane in range(17)
    )
    return re.compile(
        f"[{c0}\\x7f-\\x9f\\ud800-\\udfff\\ufdd0-\\ufdef{twins}\\u202a-\\u202e\\u2066-\\u2069]"
    )


_REFUSED_ONE_LINE = _refused_class(multiline=False)
_REFUSED_MULTILINE = _refused_class(multiline=True)


def refused_pattern(*, multiline: bool) -> re.Pattern[str]:
    """The characters :func:`refused` names, as a compiled character class."""
    return _REFUSED_MULTILINE if multiline else _REFUSED_ONE_LINE


def first_refused(text: str, *, multiline: bool = False) -> str | None:
    """The first character of ``text`` the rule refuses, as ``U+XXXX``; None when clean."""
    found = refused_pattern(multiline=multiline).search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def clean_text(text: str, *, multiline: bool = False) -> str:
    """``text`` as accepted (CR LF of a text area becomes LF); raises the validation error
    ``invalid_characters`` when the rule refuses a character."""
    if multiline:
        text = text.replace("\r\n", "\n")
    bad = first_refused(text, multiline=multiline)
    if bad is not None:
        raise PydanticCustomError(
            INVALID_CHARACTERS,
            "text holds a character that is not allowed: {character}",
            {"character": bad},
        )
    return text


INVALID_CHARACTERS = "invalid_characters"


def _cleaned(value: Any, multiline: bool) -> Any:
    if isinstance(value, str):
        return clean_text(value, multiline=multiline)
    if isinstance(value, list):
        return [_cleaned(item, multiline) for item in value]
    if isinstance(value, tuple | set | frozenset):
        return type(value)(_cleaned(item, multiline) for item in value)
    if isinstance(value, dict):
        return {_cleaned(k, False): _cleaned(v, multiline) for k, v in value.items()}
    return value  # numbers, dates, enums, nested request models (checked by their own rule)


class RequestModel(BaseModel):
    """The base of every request body: one rule for every text field in it.

    Refused everywhere: NUL and the other C0 controls except tab (a line break only in
    fields marked :data:`MULTILINE`), DEL and the C1 controls, lone surrogates,
    noncharacters (U+FFFE, U+FFFF, ...) and the bidirectional overrides and isolates
    (U+202A–U+202E, U+2066–U+2069). The answer is the usual 422 ``validation_failed`` whose
    error item names the field with ``type: invalid_characters``. Query and path text passes
    the same rule (:func:`check_url_text`)."""

    @field_validator("*", mode="after")
    @classmethod
    def _clean_text(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        extra = field.json_schema_extra if field is not None else None
        multiline = isinstance(extra, dict) and bool(extra.get("x-multiline"))
        return _cleaned(value, multiline)


async def check_url_text(request: Request) -> None:
    """The text rule for query and path parameters: a dependency of every API router, so it
    runs before the caller is even authenticated."""
    errors = [
        {
            "type": INVALID_CHARACTERS,
            "loc": (source, name),
            "msg": f"text holds a character that is not allowed: {bad}",
            "input": value,
            "ctx": {"character": bad},
        }
        for source, values in (
            ("path", request.path_params.items()),
            ("query", request.query_params.multi_items()),
        )
        for name, value in values
        if isinstance(value, str) and (bad := first_refused(value)) is not None
    ]
    if errors:
        raise RequestValidationError(errors)
