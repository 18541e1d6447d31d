"""An activity's arrivals of one day as its organiser watches them live: visits begun and ended
hour by hour (Beijing time), refused scans by hour and by reason, and the latest refusals.

Counts only, and the latest refusals without names: a page that polls every few seconds reads
no pupil's data (the named lists are the audited ``attendee-list`` and ``scan-event-list``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from scipass.checkin import errors
from scipass.checkin.door import organised_activity
from scipass.checkin.models import CheckIn, ScanEvent, ScanResult
from scipass.core.auth import Principal
from scipass.core.clock import SHANGHAI, day_bounds
from scipass.core.errors import ProblemError

RECENT_REFUSALS = 20


def _reason_titles() -> dict[str, str]:
    """Every refusal code of a scan with its Chinese title (the problem the pupil saw)."""
    titles: dict[str, str] = {}
    pending: list[type[ProblemError]] = [errors.ScanRefused]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        code, title = getattr(cls, "code", ""), getattr(cls, "title_zh", "")
        if code and title and code not in titles:
            titles[code] = title
    return titles


REASON_TITLES = _reason_titles()


def reason_title(reason: str) -> str:
    return REASON_TITLES.get(reason, reason or "未说明")


@dataclass(frozen=True, slots=True)
class HourCounts:
    hour: int
    arrivals: int
    departures: int
    refused: int


@dataclass(frozen=True, slots=True)
class Arrivals:
    activity_id: int
    day: date
    visits: int
    present: int
    refused: int
    hours: list[HourCounts]
    reasons: list[tuple[str, int]]  # most frequent first
    recent: list[ScanEvent]


def _hour(at: datetime) -> int:
    return at.astimezone(SHANGHAI).hour


def arrivals(session: Session, *, actor: Principal, activity_id: int, day: date) -> Arrivals:
    activity = organised_activity(session, actor=actor, activity_id=activity_id)
    start, end = day_bounds(day)
    visits = session.exec(
        select(CheckIn.entered_at, CheckIn.exited_at).where(
            CheckIn.activity_id == activity.id, CheckIn.day == day
        )
    ).all()
    refused = session.exec(
        select(ScanEvent)
        .where(
            ScanEvent.activity_id == activity.id,
            ScanEvent.result == ScanResult.refused.value,
            col(ScanEvent.server_time) >= start,
            col(ScanEvent.server_time) < end,
        )
        .order_by(col(ScanEvent.id).desc())
    ).all()
    came = Counter(_hour(entered) for entered, _ in visits)
    left = Counter(_hour(exited) for _, exited in visits if exited is not None)
    turned = Counter(_hour(e.server_time) for e in refused)
    hours = sorted(set(came) | set(left) | set(turned))
    return Arrivals(
        activity_id=activity.id or 0,
        day=day,
        visits=len(visits),
        present=sum(1 for _, exited in visits if exited is None),
        refused=len(refused),
        hours=[HourCounts(h, came[h], left[h], turned[h]) for h in hours],
        reasons=sorted(Counter(e.reason for e in refused).items(), key=lambda r: (-r[1], r[0])),
        recent=list(refused[:RECENT_REFUSALS]),
    )
