"""Bar charts drawn on the server as inline SVG: the geometry of horizontal stacked bars
(met, not met, not judged) of figures the API answered. No figure is computed here that the
API did not give: a chart adds up the API's tallies, lays them out and says them in words
(the SVG's ``<desc>``); the page shows the same figures in a table beside it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

STATES: tuple[tuple[str, str], ...] = (("met", "达标"), ("missed", "未达标"), ("open", "未判定"))
WIDTH = 640
LABEL_WIDTH = 150
VALUE_WIDTH = 40
BAR_HEIGHT = 22
GAP = 12
TOP = 8
AXIS = 24


@dataclass(frozen=True, slots=True)
class Segment:
    state: str
    label: str
    value: int
    x: float
    width: float

    @property
    def centre(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True, slots=True)
class Bar:
    label: str  # short, drawn at the bar's left
    full_label: str  # in the bar's <title> and the table
    counts: dict[str, int]
    total: int
    y: float
    segments: list[Segment]

    @property
    def middle(self) -> float:
        return self.y + BAR_HEIGHT / 2


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    value: int


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    unit: str
    bars: list[Bar]
    ticks: list[Tick]

    width: int = WIDTH
    label_width: int = LABEL_WIDTH

    @property
    def height(self) -> int:
        return TOP + len(self.bars) * (BAR_HEIGHT + GAP) + AXIS

    @property
    def axis_y(self) -> int:
        return TOP + len(self.bars) * (BAR_HEIGHT + GAP)

    @property
    def plot_end(self) -> int:
        return self.width - VALUE_WIDTH

    @property
    def states(self) -> list[tuple[str, str]]:
        """The states any bar has, for the legend and the table's columns (met and not met
        always)."""
        return [
            (key, label)
            for key, label in STATES
            if key != "open" or any(bar.counts["open"] for bar in self.bars)
        ]

    @property
    def description(self) -> str:
        """The chart in words (its ``<desc>``)."""
        if not self.bars:
            return f"{self.title}：没有数据。"
        parts = [
            f"{bar.full_label}："
            + "，".join(f"{label} {bar.counts[key]}" for key, label in self.states)
            for bar in self.bars
        ]
        return f"{self.title}（单位：{self.unit}）。" + "；".join(parts) + "。"


def short(text: str, length: int = 10) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _nice_step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if top / step <= 5:
            return step
    return max(1, top // 5)


def stacked(
    key: str, title: str, unit: str, rows: Iterable[tuple[str, Mapping[str, int]]]
) -> Chart:
    """A horizontal stacked bar per row (``label``, counts by state), scaled to the largest
    total."""
    listed = [(label, {k: int(counts.get(k, 0)) for k, _ in STATES}) for label, counts in rows]
    top = max((sum(c.values()) for _, c in listed), default=0)
    step = _nice_step(max(top, 1))
    scale_top = max(step, -(-max(top, 1) // step) * step)
    plot = WIDTH - VALUE_WIDTH - LABEL_WIDTH
    bars = []
    for index, (label, counts) in enumerate(listed):
        x = float(LABEL_WIDTH)
        segments = []
        for state, state_label in STATES:
            value = counts[state]
            if value <= 0:
                continue
            width = plot * value / scale_top
            segments.append(Segment(state, state_label, value, round(x, 2), round(width, 2)))
            x += width
        bars.append(
            Bar(
                label=short(label),
                full_label=label,
                counts=counts,
                total=sum(counts.values()),
                y=TOP + index * (BAR_HEIGHT + GAP),
                segments=segments,
            )
        )
    ticks = [
        Tick(round(LABEL_WIDTH + plot * value / scale_top, 2), value)
        for value in range(0, scale_top + 1, step)
    ]
    return Chart(key=key, title=title, unit=unit, bars=bars, ticks=ticks)
