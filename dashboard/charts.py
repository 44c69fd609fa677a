"""Server-side SVG geometry of the "incidents created per day by severity" stacked bar chart.

The template ``dashboard/_chart.html`` draws these shapes; colours and hatching come from CSS
classes per severity, and the same figures are rendered as a table for screen readers and for
reading without colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dashboard.selectors import SEVERITIES_DESC, DayCounts

WIDTH = 760
HEIGHT = 220
LEFT = 38
RIGHT = 8
TOP = 10
BOTTOM = 24


@dataclass
class Segment:
    """One severity's part of a day's bar: ``y`` (top edge) and ``height`` in viewBox units
    (SVG user units, y down), ``count`` incidents of ``severity``."""

    severity: str
    y: float
    height: float
    count: int


@dataclass
class Bar:
    """One day's stacked bar: ``x`` (left edge), ``width`` and ``label_x`` (centre of the day
    label) in viewBox units; ``label`` ("17 Feb"), drawn if ``show_label``; ``total``
    incidents; ``title`` the tooltip text; ``segments`` most severe at the bottom."""

    x: float
    width: float
    label: str
    label_x: float
    show_label: bool
    total: int
    title: str
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Chart:
    """Everything the template needs: viewBox size, bars, gridlines and the text alternative."""

    width: int
    height: int
    plot_bottom: float
    plot_left: float
    plot_right: float
    bars: list[Bar]
    gridlines: list[tuple[float, int]]
    title: str
    desc: str
    days: list[DayCounts]
    severities: list[str]
    total: int


def _nice_max(value: int) -> int:
    """The smallest 1/2/5×10^n at or above ``value`` (at least 4)."""
    if value <= 4:
        return 4
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * exponent >= value:
            return step * exponent
    return 10 * exponent  # pragma: no cover


def build_chart(days: list[DayCounts]) -> Chart:
    """Lay out ``days`` (oldest first) as stacked bars, most severe at the bottom."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    bottom = TOP + plot_h
    top_value = _nice_max(max((d.total for d in days), default=0))
    slot = plot_w / max(len(days), 1)
    bar_w = max(1.0, slot * 0.72)
    label_every = max(1, math.ceil(len(days) / 12))
    bars: list[Bar] = []
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar_w) / 2
        y = float(bottom)
        parts = []
        segments = []
        for severity in SEVERITIES_DESC:
            count = day.counts.get(severity, 0)
            if not count:
                continue
            h = plot_h * count / top_value
            y -= h
            segments.append(
                Segment(severity=severity, y=round(y, 2), height=round(h, 2), count=count)
            )
            parts.append(f"{count} {severity}")
        bars.append(
            Bar(
                x=round(x, 2),
                width=round(bar_w, 2),
                label=day.day.strftime("%d %b"),
                label_x=round(x + bar_w / 2, 2),
                show_label=(len(days) - 1 - i) % label_every == 0,
                total=day.total,
                title=f"{day.day:%a %d %b %Y}: {day.total} incidents"
                + (f" ({', '.join(parts)})" if parts else ""),
                segments=segments,
            )
        )
    gridlines = [(round(bottom - plot_h * frac, 2), int(top_value * frac)) for frac in (0, 0.5, 1)]
    total = sum(d.total for d in days)
    first, last = (days[0].day, days[-1].day) if days else (None, None)
    title = "Incidents created per day by severity"
    busiest = max(days, key=lambda d: d.total, default=None)
    desc = (
        f"Stacked bars, one per day from {first:%d %b %Y} to {last:%d %b %Y}: {total} incidents"
        + (
            f"; busiest day {busiest.day:%d %b} with {busiest.total}."
            if busiest and busiest.total
            else "."
        )
        if first and last
        else "No days selected."
    )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        plot_bottom=bottom,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        bars=bars,
        gridlines=gridlines,
        title=title,
        desc=desc,
        days=days,
        severities=SEVERITIES_DESC,
        total=total,
    )
