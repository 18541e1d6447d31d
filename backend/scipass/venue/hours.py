"""Opening hours: a week of periods in Beijing time, with exception dates.

A period is ``["09:00", "17:00"]`` (start inclusive, end exclusive); a day may have several
(a lunch break) and none (closed). An exception date replaces the week for that date.
Slots and reservations must lie inside one period of the day they fall on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from itertools import pairwise

from scipass.core.clock import SHANGHAI

_HH_MM = re.compile(r"\d{2}:\d{2}")

WEEKDAY_LABELS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")

Period = tuple[time, time]


class HoursInvalid(ValueError):
    """Periods that are not ``HH:MM`` pairs in order and without overlap."""


def parse_periods(periods: Sequence[Sequence[str]]) -> list[Period]:
    parsed: list[Period] = []
    for pair in periods:
        if len(pair) != 2:
            raise HoursInvalid("每个时段须为 [开始, 结束]")
        if not all(isinstance(text, str) and _HH_MM.fullmatch(text) for text in pair):
            raise HoursInvalid(f"时间格式应为 HH:MM（北京时间）：{list(pair)}")
        try:
            start, end = (time.fromisoformat(text) for text in pair)
        except ValueError:
            raise HoursInvalid(f"时间格式应为 HH:MM：{list(pair)}") from None
        if start >= end:
            raise HoursInvalid(f"开始时间须早于结束时间：{pair[0]}-{pair[1]}")
        parsed.append((start, end))
    parsed.sort()
    for (_, previous_end), (start, _) in pairwise(parsed):
        if start < previous_end:
            raise HoursInvalid("同一天的时段不能重叠")
    return parsed


def normalise_week(week: Mapping[str, Sequence[Sequence[str]]]) -> dict[str, list[list[str]]]:
    """The stored form: keys "1".."7" (ISO weekday), each a sorted list of periods."""
    result: dict[str, list[list[str]]] = {}
    for key in map(str, range(1, 8)):
        periods = parse_periods(week.get(key, []))
        result[key] = [[s.strftime("%H:%M"), e.strftime("%H:%M")] for s, e in periods]
    unknown = set(week) - set(result)
    if unknown:
        raise HoursInvalid(f"未知的星期：{sorted(unknown)}（应为 1-7，1 为周一）")
    return result


def open_weekdays(week: Mapping[str, Sequence[Sequence[str]]]) -> str:
    return "".join("1" if week.get(str(day)) else "0" for day in range(1, 8))


def periods_on(
    week: Mapping[str, Sequence[Sequence[str]]],
    day: date,
    exception: Sequence[Sequence[str]] | None,
) -> list[Period]:
    """The periods a venue is open on ``day``: the exception's if there is one, else the week's."""
    if exception is not None:
        return parse_periods(exception)
    return parse_periods(week.get(str(day.isoweekday()), []))


def within(periods: Sequence[Period], starts_at: datetime, ends_at: datetime) -> bool:
    """Whether the span lies inside one period of one day (Beijing time)."""
    start = starts_at.astimezone(SHANGHAI)
    end = ends_at.astimezone(SHANGHAI)
    if start.date() != end.date():
        return False
    return any(p_start <= start.time() and end.time() <= p_end for p_start, p_end in periods)


def summary(week: Mapping[str, Sequence[Sequence[str]]]) -> str:
    """A one-line form for the printed directory: "周一至周五 09:00-17:00；周六 09:00-12:00"."""
    groups: list[tuple[list[int], str]] = []
    for day in range(1, 8):
        text = "、".join(f"{s}-{e}" for s, e in week.get(str(day), []))
        if groups and groups[-1][1] == text and groups[-1][0][-1] == day - 1:
            groups[-1][0].append(day)
        else:
            groups.append(([day], text))
    parts = []
    for days, text in groups:
        if not text:
            continue
        label = WEEKDAY_LABELS[days[0] - 1]
        if len(days) > 1:
            label += ("至" if len(days) > 2 else "、") + WEEKDAY_LABELS[days[-1] - 1]
        parts.append(f"{label} {text}")
    return "；".join(parts) or "暂不对外开放"
