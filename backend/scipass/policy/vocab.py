"""The words the policy rules use for activities and staff (issue 19, Part C).

TEMPORARY copy for the packs branch: the measures branch owns this module, with these names
and values; at merge its version replaces this one.
"""

from __future__ import annotations

from enum import StrEnum


class Programme(StrEnum):
    """A named programme an activity belongs to."""

    science_first_lesson = "science_first_lesson"  # 科学第一课进校园
    scientist_in_school = "scientist_in_school"  # 科学家（精神）进校园
    practice_at_base = "practice_at_base"  # 科学实践到基地
    top_scientist_talk = "top_scientist_talk"  # 顶尖科学家（院士）报告


class Campaign(StrEnum):
    """A campaign an activity is tagged with."""

    science_popularisation_day = "science_popularisation_day"  # 全国科普日
    science_week = "science_week"  # 科技活动周


class StaffRole(StrEnum):
    """A school's science staff role."""

    vice_principal = "vice_principal"  # 科技副校长
    counsellor = "counsellor"  # 科技辅导员
