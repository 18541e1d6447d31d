"""Working days (工作日) in Asia/Shanghai, for notice windows such as 公示.

Monday to Friday are working days, except the public holidays listed in
``SCIPASS_HOLIDAYS``; weekend days listed in ``SCIPASS_MAKEUP_WORKDAYS`` (调休上班) count as
working days. The State Council publishes each year's arrangement in November or December;
the operator adds it to the settings, so no year's calendar is guessed in code.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta

from scipass.core.clock import SHANGHAI, local_date


def is_working_day(day: date, *, holidays: Collection[date], makeup: Collection[date]) -> bool:
    if day in makeup:
        return True
    return day.weekday() < 5 and day not in holidays


def window_end(
    opened_at: datetime, working_days: int, *, holidays: Collection[date], makeup: Collection[date]
) -> datetime:
    """The end of a window of ``working_days`` full working days after ``opened_at``.

    Counting starts the day after opening, so a notice posted on a Friday afternoon still
    gives objectors the full number of days; the window ends at midnight (Beijing time)
    after its last working day."""
    day = local_date(opened_at)
    counted = 0
    while counted < working_days:
        day += timedelta(days=1)
        if is_working_day(day, holidays=holidays, makeup=makeup):
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(0), SHANGHAI)
