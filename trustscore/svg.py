"""Charts as inline SVG, written by hand: what ``report`` draws.

No plotting library: a line chart, grouped bars and a scatter cover every
chart of the report, the bytes are the same for the same numbers, and the
page needs no script to draw them (nor a network to fetch one). Every mark
(a line, a bar, a point) carries ``class="mark"`` so a browser test can
count what was drawn; every text is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 560
HEIGHT = 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 16, 28, 46
PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a")


def _ok(value: object) -> bool:
    """A number to draw: not missing, not NaN, not infinite."""
    return isinstance(value, int | float) and math.isfinite(value)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.0f}"
    if abs(x) >= 1:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    out = []
    x = start
    while x <= hi + step * 1e-9:
        out.append(round(x, 10))
        x += step
    return out


@dataclass(frozen=True)
class Series:
    name: str
    xs: Sequence[float]
    ys: Sequence[float]


class _Frame:
    """The axes of one chart: data coordinates to pixels, the grid and labels."""

    def __init__(
        self,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        x_label: str,
        y_label: str,
    ) -> None:
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1
        self.x_label, self.y_label = x_label, y_label
        self.w = WIDTH - _LEFT - _RIGHT
        self.h = HEIGHT - _TOP - _BOTTOM

    def px(self, x: float) -> float:
        return _LEFT + (x - self.x0) / (self.x1 - self.x0) * self.w

    def py(self, y: float) -> float:
        return _TOP + self.h - (y - self.y0) / (self.y1 - self.y0) * self.h

    def axes(self, x_ticks: bool = True) -> list[str]:
        out = [
            f'<rect x="{_LEFT}" y="{_TOP}" width="{self.w}" height="{self.h}" '
            'fill="#fff" stroke="#d0d7de"/>'
        ]
        for t in _ticks(self.y0, self.y1):
            y = self.py(t)
            out.append(
                f'<line x1="{_LEFT}" x2="{_LEFT + self.w}" y1="{y:.1f}" y2="{y:.1f}" '
                'stroke="#eaeef2"/>'
            )
            out.append(
                f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_esc(_fmt(t))}</text>'
            )
        if x_ticks:
            for t in _ticks(self.x0, self.x1):
                x = self.px(t)
                out.append(
                    f'<text x="{x:.1f}" y="{_TOP + self.h + 16}" text-anchor="middle">'
                    f"{_esc(_fmt(t))}</text>"
                )
        out.append(
            f'<text x="{_LEFT + self.w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
            f'class="axis">{_esc(self.x_label)}</text>'
        )
        out.append(
            f'<text x="14" y="{_TOP + self.h / 2:.1f}" text-anchor="middle" class="axis" '
            f'transform="rotate(-90 14 {_TOP + self.h / 2:.1f})">{_esc(self.y_label)}</text>'
        )
        return out


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    x = _LEFT
    for i, name in enumerate(names):
        color = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="17">{_esc(name)}</text>')
        x += 24 + 7 * len(name)
    return out


def _svg(chart_id: str, title: str, body: list[str]) -> str:
    return (
        f'<svg class="chart" id="{_esc(chart_id)}" role="img" aria-label="{_esc(title)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        'xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>"
    )


def line_chart(
    chart_id: str,
    title: str,
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    *,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    diagonal: bool = False,
    markers: bool = False,
) -> str:
    xs = [x for s in series for x in s.xs if _ok(x)]
    ys = [y for s in series for y in s.ys if _ok(y)]
    frame = _Frame(
        x_range or (min(xs, default=0.0), max(xs, default=1.0)),
        y_range or (min(ys, default=0.0), max(ys, default=1.0)),
        x_label,
        y_label,
    )
    body = frame.axes()
    if diagonal:
        body.append(
            f'<line x1="{frame.px(frame.x0):.1f}" y1="{frame.py(frame.y0):.1f}" '
            f'x2="{frame.px(frame.x1):.1f}" y2="{frame.py(frame.y1):.1f}" '
            'stroke="#8c959f" stroke-dasharray="4 4"/>'
        )
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        points = [
            (frame.px(x), frame.py(y)) for x, y in zip(s.xs, s.ys, strict=True) if _ok(x) and _ok(y)
        ]
        if not points:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(
            f'<polyline class="mark" points="{path}" fill="none" stroke="{color}" '
            f'stroke-width="2"><title>{_esc(s.name)}</title></polyline>'
        )
        if markers:
            for x, y in points:
                body.append(
                    f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"/>'
                )
    body += _legend([s.name for s in series])
    return _svg(chart_id, title, body)


def bar_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    y_label: str,
    *,
    horizontal: bool = False,
) -> str:
    """Grouped bars: one group per category, one bar per series (``Series.ys``
    aligned with ``categories``; ``xs`` unused). ``horizontal``: one series, the
    categories down the left (long names, e.g. features)."""
    values = [v for s in series for v in s.ys if _ok(v)]
    top = max([*values, 0.0]) or 1.0
    low = min([*values, 0.0])
    if horizontal:
        return _hbars(chart_id, title, categories, series[0], y_label, low, top)
    frame = _Frame((0.0, float(len(categories))), (low, top * 1.08), "", y_label)
    body = frame.axes(x_ticks=False)
    n = max(len(series), 1)
    slot = frame.w / max(len(categories), 1)
    bar = slot * 0.8 / n
    for c, name in enumerate(categories):
        x_mid = _LEFT + slot * (c + 0.5)
        body.append(
            f'<text x="{x_mid:.1f}" y="{_TOP + frame.h + 16}" text-anchor="middle">'
            f"{_esc(name)}</text>"
        )
        for i, s in enumerate(series):
            v = s.ys[c]
            if not _ok(v):
                continue
            x = _LEFT + slot * c + slot * 0.1 + bar * i
            y0, y1 = frame.py(max(v, 0.0)), frame.py(min(v, 0.0))
            body.append(
                f'<rect class="mark" x="{x:.1f}" y="{y0:.1f}" width="{bar:.1f}" '
                f'height="{max(y1 - y0, 0.5):.1f}" fill="{PALETTE[i % len(PALETTE)]}">'
                f"<title>{_esc(s.name)} {_esc(name)}: {_esc(_fmt(v))}</title></rect>"
            )
    body += _legend([s.name for s in series])
    return _svg(chart_id, title, body)


def _hbars(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    s: Series,
    x_label: str,
    low: float,
    top: float,
) -> str:
    left = 230
    width = WIDTH - left - _RIGHT
    row = (HEIGHT - _TOP - 24) / max(len(categories), 1)
    body = [
        f'<rect x="{left}" y="{_TOP}" width="{width}" height="{HEIGHT - _TOP - 24}" fill="#fff"/>'
    ]
    for c, name in enumerate(categories):
        v = s.ys[c]
        y = _TOP + row * c
        shown = name if len(name) <= 34 else name[:33] + "…"
        body.append(
            f'<text x="{left - 6}" y="{y + row * 0.7:.1f}" text-anchor="end">{_esc(shown)}</text>'
        )
        w = max((v - min(low, 0.0)) / (top - min(low, 0.0)) * width, 0.5) if _ok(v) else 0
        body.append(
            f'<rect class="mark" x="{left}" y="{y + row * 0.15:.1f}" width="{w:.1f}" '
            f'height="{row * 0.7:.1f}" fill="{PALETTE[0]}"><title>{_esc(name)}: '
            f"{_esc(_fmt(v))}</title></rect>"
        )
        body.append(f'<text x="{left + w + 4:.1f}" y="{y + row * 0.7:.1f}">{_esc(_fmt(v))}</text>')
    body.append(
        f'<text x="{left + width / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" '
        f'class="axis">{_esc(x_label)}</text>'
    )
    return _svg(chart_id, title, body)


def scatter(
    chart_id: str,
    title: str,
    xs: Sequence[float],
    ys: Sequence[float],
    x_label: str,
    y_label: str,
) -> str:
    finite = [(x, y) for x, y in zip(xs, ys, strict=True) if _ok(x) and _ok(y)]
    frame = _Frame(
        (min((x for x, _ in finite), default=0.0), max((x for x, _ in finite), default=1.0)),
        (min([0.0, *(y for _, y in finite)]), max([0.0, *(y for _, y in finite)])),
        x_label,
        y_label,
    )
    body = frame.axes()
    body.append(
        f'<line x1="{_LEFT}" x2="{_LEFT + frame.w}" y1="{frame.py(0.0):.1f}" '
        f'y2="{frame.py(0.0):.1f}" stroke="#8c959f"/>'
    )
    for x, y in finite:
        body.append(
            f'<circle class="mark" cx="{frame.px(x):.1f}" cy="{frame.py(y):.1f}" r="2" '
            f'fill="{PALETTE[0]}" fill-opacity="0.5"/>'
        )
    return _svg(chart_id, title, body)
