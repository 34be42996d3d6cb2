"""Bar, grouped/stacked bar and line charts as SVG text: pure, stdlib only.

Why server-side SVG and not a JavaScript charting library: the printable report is
one self-contained file (no script, no external resource), the report page runs
under a CSP that allows neither inline script nor inline style, and SVG text is
testable as XML.  So every chart here uses presentation attributes only (``fill=``,
``stroke=``, ``font-family=``...), never ``style=`` and never ``<script>``: the same
markup renders in the report file and, imported as DOM, in the page.

A chart is categories (``labels``) along x; ``bars`` (grouped side by side, or
stacked) on the left axis; ``lines`` on the right axis when there are bars, else on
the left; horizontal ``targets`` (e.g. the service-level target) on either axis.
``None`` is "no data" (a rate whose denominator is 0): a bar is not drawn but a grey
marker with the words says so; a line breaks there.  A chart with nothing but
zeros and ``None`` says "no data" across the plot.  Every label is XML-escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

__all__ = ["Axis", "Chart", "Series", "Target", "render", "nice_top"]

# Presentation attribute, so it also applies under a CSP without inline style.  The CJK
# faces first: Chinese labels need one installed (deploy/README.md names the package).
FONT = ("'Noto Sans CJK SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', "
        "'WenQuanYi Zen Hei', 'Microsoft YaHei', 'PingFang SC', sans-serif")
INK, MUTED, GRID, NODATA = "#16202b", "#4d5966", "#d5dbe1", "#8a939c"
NO_DATA = "无数据 no data"


@dataclass(frozen=True)
class Series:
    """``joined``: a line series drawn as a polyline through its points; False for
    categories with no order between them (points only)."""

    name: str
    values: Sequence[float | None]
    colour: str
    joined: bool = True


@dataclass(frozen=True)
class Axis:
    """``percent``: values are fractions, ticks read 0%..100%; ``maximum`` fixes the
    top (1.0 for rates), else it is a round number at or above the largest value."""

    title: str = ""
    percent: bool = False
    maximum: float | None = None


@dataclass(frozen=True)
class Target:
    value: float
    label: str
    colour: str = "#b3261e"
    on_lines: bool = False  # on the lines' axis (right) rather than the bars' (left)


@dataclass(frozen=True)
class Chart:
    chart_id: str  # unique in a page: the ids of <title> and <desc> derive from it
    title: str
    desc: str
    labels: Sequence[str]
    bars: Sequence[Series] = ()
    stacked: bool = False
    lines: Sequence[Series] = ()
    bar_axis: Axis = Axis()
    line_axis: Axis = field(default_factory=lambda: Axis(percent=True, maximum=1.0))
    targets: Sequence[Target] = ()
    width: int = 960
    height: int = 320


def nice_top(largest: float, whole: bool = False) -> tuple[float, float]:
    """(top, step) of a y axis: about five steps of 1, 2, 2.5 or 5 times a power of ten;
    ``whole`` (counts): whole steps only, so no tick reads "1.5 callers"."""
    if not largest > 0:
        return (5.0, 1.0) if whole else (1.0, 0.2)
    raw = max(largest / 5, 1.0) if whole else largest / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10)
                if m * power >= raw and not (whole and not float(m * power).is_integer()))
    return math.ceil(largest / step - 1e-9) * step, step


def _num(x: float) -> str:
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _fmt(value: float, axis: Axis) -> str:
    if axis.percent:
        return f"{value * 100:.1f}%"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _tick(value: float, axis: Axis) -> str:
    return f"{value * 100:.0f}%" if axis.percent else f"{value:,.10g}"


def _text_width(text: str, size: float = 12.0) -> float:
    """A rough advance: a CJK character is a square, a Latin one about 0.58 of it."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.58 for ch in text)


def _text(x: float, y: float, text: str, **attrs: str) -> str:
    extra = "".join(f" {k.rstrip('_').replace('_', '-')}={quoteattr(v)}"
                    for k, v in attrs.items())
    return f'<text x="{_num(x)}" y="{_num(y)}"{extra}>{escape(text)}</text>'


class _Scale:
    def __init__(self, axis: Axis, values: list[float], top_px: float, bottom_px: float):
        largest = max(values, default=0.0)
        whole = not axis.percent and all(float(v).is_integer() for v in values)
        if axis.maximum is not None:
            self.top, self.step = axis.maximum, axis.maximum / 5
            if largest > self.top:  # never clip a value (a rate over 1 would be a bug upstream)
                self.top, self.step = nice_top(largest, whole)
        else:
            self.top, self.step = nice_top(largest, whole)
        self.axis, self.top_px, self.bottom_px = axis, top_px, bottom_px

    def y(self, value: float) -> float:
        return self.bottom_px - value / self.top * (self.bottom_px - self.top_px)

    def ticks(self) -> list[float]:
        n = round(self.top / self.step)
        return [i * self.step for i in range(n + 1)]


def _stack_heights(chart: Chart) -> list[float]:
    if chart.stacked:
        return [sum(s.values[i] or 0.0 for s in chart.bars) for i in range(len(chart.labels))]
    return [v for s in chart.bars for v in s.values if v is not None]


def render(chart: Chart) -> str:
    """The chart as one ``<svg>`` element (no XML declaration: it is embedded)."""
    for s in (*chart.bars, *chart.lines):
        if len(s.values) != len(chart.labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for "
                             f"{len(chart.labels)} labels")
    w, h, n = chart.width, chart.height, len(chart.labels)
    two_axes = bool(chart.bars) and bool(chart.lines)
    left, right = 64.0, w - (64.0 if two_axes else 24.0)
    every = [v for s in (*chart.bars, *chart.lines) for v in s.values]
    empty = n == 0 or all(v is None or v == 0 for v in every)
    nones = 0 if empty else sum(v is None for v in every)
    legend, legend_h = _legend(chart, left, right, nones)
    top, bottom = 8 + legend_h + 30, h - 40.0  # room for the axis titles under the legend
    bar_scale = _Scale(chart.bar_axis, _stack_heights(chart), top, bottom)
    line_values = [v for s in chart.lines for v in s.values if v is not None]
    line_scale = _Scale(chart.line_axis, line_values, top, bottom)
    if not chart.bars:
        bar_scale = line_scale  # a line chart: its axis on the left
    desc = chart.desc + (f" ({nones} 处无数据 / {nones} points without data)" if nones else "")
    tid, did = f"{chart.chart_id}-title", f"{chart.chart_id}-desc"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id={quoteattr(chart.chart_id)}'
           f' viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img"'
           f' aria-labelledby={quoteattr(f"{tid} {did}")} font-family={quoteattr(FONT)}'
           f' font-size="12" fill="{INK}">',
           f'<title id={quoteattr(tid)}>{escape(chart.title)}</title>',
           f'<desc id={quoteattr(did)}>{escape(desc)}</desc>',
           f'<rect class="plot" x="{_num(left)}" y="{_num(top)}" width="{_num(right - left)}"'
           f' height="{_num(bottom - top)}" fill="#ffffff" stroke="{GRID}"/>']
    out += _axis(bar_scale, left, right, "start", grid=True)
    if two_axes:
        out += _axis(line_scale, left, right, "end", grid=False)
    out += legend
    out += _x_labels(chart.labels, left, right, bottom)
    if empty:
        out.append(_text((left + right) / 2, (top + bottom) / 2, NO_DATA, class_="empty",
                         text_anchor="middle", font_size="16", fill=MUTED))
    else:
        out += _bars(chart, bar_scale, left, right)
        out += _lines(chart, line_scale, left, right)
    for t in chart.targets:
        out += _target(t, line_scale if t.on_lines else bar_scale, left, right)
    out.append("</svg>")
    return "\n".join(out)


def _axis(scale: _Scale, left: float, right: float, side: str, grid: bool) -> list[str]:
    out = []
    x = left - 6 if side == "start" else right + 6
    anchor = "end" if side == "start" else "start"
    for v in scale.ticks():
        y = scale.y(v)
        if grid and v > 0:
            out.append(f'<line x1="{_num(left)}" x2="{_num(right)}" y1="{_num(y)}"'
                       f' y2="{_num(y)}" stroke="{GRID}" stroke-width="1"/>')
        out.append(_text(x, y + 4, _tick(v, scale.axis), class_="tick", text_anchor=anchor,
                         fill=MUTED))
    if scale.axis.title:
        # Over the tick labels, inside the canvas: the left one from its edge, the right
        # one up to its edge.
        out.append(_text(4 if side == "start" else right + 60, scale.top_px - 12,
                         scale.axis.title, class_="axis-title",
                         text_anchor="start" if side == "start" else "end", fill=MUTED))
    return out


def _legend(chart: Chart, left: float, right: float, nones: int) -> tuple[list[str], float]:
    """The series, the targets (dashed) and, when a value is missing, the no-data mark;
    wrapped into rows across the plot's width.  Returns the markup and its height."""
    items: list[tuple[str, str, str]] = [("bar", s.colour, s.name) for s in chart.bars]
    items += [("line" if s.joined else "point", s.colour, s.name) for s in chart.lines]
    items += [("target", t.colour, t.label) for t in chart.targets]
    if nones:
        items.append(("nodata", NODATA, NO_DATA))
    out, x, y = [], left, 8.0
    for kind, colour, name in items:
        width = 26 + _text_width(name)
        if x > left and x + width > right:
            x, y = left, y + 18
        if kind == "bar":
            out.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="12" height="12"'
                       f' fill={quoteattr(colour)}/>')
        elif kind == "point":
            out.append(f'<circle cx="{_num(x + 6)}" cy="{_num(y + 6)}" r="4"'
                       f' fill={quoteattr(colour)}/>')
        elif kind == "nodata":
            out.append(f'<line x1="{_num(x + 6)}" x2="{_num(x + 6)}" y1="{_num(y)}"'
                       f' y2="{_num(y + 12)}" stroke="{NODATA}" stroke-width="2"'
                       f' stroke-dasharray="2 2"/>')
        else:
            dash = ' stroke-dasharray="4 3"' if kind == "target" else ""
            out.append(f'<line x1="{_num(x)}" x2="{_num(x + 16)}" y1="{_num(y + 6)}"'
                       f' y2="{_num(y + 6)}" stroke={quoteattr(colour)} stroke-width="2.5"{dash}/>')
        out.append(_text(x + 20, y + 10, name, class_="legend"))
        x += width + 12
    return out, y + 12 - 8


def _x_labels(labels: Sequence[str], left: float, right: float, bottom: float) -> list[str]:
    """Every k-th label, k the smallest that keeps them from overlapping."""
    n = len(labels)
    if n == 0:
        return []
    band = (right - left) / n
    widest = max(_text_width(lab) for lab in labels) + 8
    k = max(1, math.ceil(widest / band))
    return [_text(left + (i + 0.5) * band, bottom + 18, labels[i], class_="xlabel",
                  text_anchor="middle") for i in range(0, n, k)]


def _nodata(x: float, y: float, band: float, label: str) -> str:
    """A grey mark for a missing value; its words show when the band has room."""
    tip = f"<title>{escape(label)}: {NO_DATA}</title>"
    if band >= 44:
        return (f'<g class="nodata">{tip}' + _text(x, y - 4, "无数据", text_anchor="middle",
                                                   font_size="10", fill=NODATA) + "</g>")
    return (f'<g class="nodata">{tip}<line x1="{_num(x)}" x2="{_num(x)}" y1="{_num(y)}"'
            f' y2="{_num(y - 8)}" stroke="{NODATA}" stroke-width="2"'
            f' stroke-dasharray="2 2"/></g>')


def _bars(chart: Chart, scale: _Scale, left: float, right: float) -> list[str]:
    n, k = len(chart.labels), len(chart.bars)
    if k == 0:
        return []
    band = (right - left) / n
    inner = band * (0.7 if band >= 4 else 1.0)
    width = inner if chart.stacked else inner / k
    out = []
    for i, label in enumerate(chart.labels):
        x0, base = left + i * band + (band - inner) / 2, scale.bottom_px
        for j, s in enumerate(chart.bars):
            v = s.values[i]
            x = x0 if chart.stacked else x0 + j * width
            if v is None:
                out.append(_nodata(x + width / 2, scale.bottom_px, band, f"{label} · {s.name}"))
                continue
            height = scale.bottom_px - scale.y(v)
            y = (base if chart.stacked else scale.bottom_px) - height
            out.append(f'<rect class="bar" x="{_num(x)}" y="{_num(y)}" width="{_num(width)}"'
                       f' height="{_num(height)}" fill={quoteattr(s.colour)}>'
                       f'<title>{escape(label)} · {escape(s.name)}: '
                       f'{escape(_fmt(v, chart.bar_axis))}</title></rect>')
            if chart.stacked:
                base = y
    return out


def _lines(chart: Chart, scale: _Scale, left: float, right: float) -> list[str]:
    n = len(chart.labels)
    band = (right - left) / n
    axis = chart.line_axis
    radius = max(1.0, min(3.5, band * 0.3))
    out = []
    for s in chart.lines:
        runs: list[list[str]] = [[]]
        dots = []
        for i, v in enumerate(s.values):
            x, label = left + (i + 0.5) * band, chart.labels[i]
            if v is None:
                runs.append([])
                # Under the top edge: at the bottom it would sit on the bars.
                out.append(_nodata(x, scale.top_px + 14, band, f"{label} · {s.name}"))
                continue
            y = scale.y(v)
            runs[-1].append(f"{_num(x)},{_num(y)}")
            dots.append(f'<circle class="point" cx="{_num(x)}" cy="{_num(y)}" r="{_num(radius)}"'
                        f' fill={quoteattr(s.colour)}><title>{escape(label)} · '
                        f'{escape(s.name)}: {escape(_fmt(v, axis))}</title></circle>')
        for run in runs if s.joined else ():
            if len(run) > 1:
                out.append(f'<polyline class="line" points="{" ".join(run)}" fill="none"'
                           f' stroke={quoteattr(s.colour)} stroke-width="2"/>')
        out += dots
    return out


def _target(t: Target, scale: _Scale, left: float, right: float) -> list[str]:
    """A dashed line across the plot; the legend names it (a label on the plot would
    sit on the bars)."""
    y = scale.y(t.value)
    return [f'<line class="target" x1="{_num(left)}" x2="{_num(right)}" y1="{_num(y)}"'
            f' y2="{_num(y)}" stroke={quoteattr(t.colour)} stroke-width="1.5"'
            f' stroke-dasharray="6 4"><title>{escape(t.label)}</title></line>']
