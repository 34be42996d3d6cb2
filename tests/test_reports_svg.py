"""server/reports/svg.py: charts as SVG text that parses as XML, whose bars and points
are the data given (counted, and measured against the plot), with every label escaped,
no style attribute and no script, and "no data" shown where a value is missing."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from server.reports import svg

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(text: str) -> ET.Element:
    assert "style=" not in text and "<script" not in text.lower()
    return ET.fromstring(text)


def plot(root: ET.Element) -> tuple[float, float, float, float]:
    """(left, top, width, height) of the plot frame."""
    p = root.find("s:rect[@class='plot']", NS)
    assert p is not None
    return tuple(float(p.get(k)) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def bars(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//s:rect[@class='bar']", NS)


def texts(root: ET.Element, cls: str) -> list[str]:
    return [t.text or "" for t in root.findall(f".//s:text[@class='{cls}']", NS)]


def test_grouped_bars_are_the_values_in_proportion():
    offered, answered = [12, 40, 0, 33], [10, 38, 0, 30]
    chart = svg.Chart("c1", "volume", "desc", ["08:00", "09:00", "10:00", "11:00"],
                      bars=[svg.Series("offered", offered, "#1b4f9c"),
                            svg.Series("answered", answered, "#146c2e")])
    root = parse(svg.render(chart))
    rects = bars(root)
    assert len(rects) == 8  # 4 hours x 2 series, the zeros included
    left, top, width, height = plot(root)
    values = [v for pair in zip(offered, answered, strict=True) for v in pair]  # hour by hour
    heights = [float(r.get("height")) for r in rects]
    per_call = heights[2] / 40  # the tallest bar's (09:00 offered) pixels per call
    for v, h in zip(values, heights, strict=True):
        assert h == pytest.approx(v * per_call, abs=0.02)
    # Each bar stands on the baseline, inside the plot, left to right.
    for r in rects:
        assert float(r.get("y")) + float(r.get("height")) == pytest.approx(top + height)
        x, w = float(r.get("x")), float(r.get("width"))
        assert left <= x and x + w <= left + width
    xs = [float(r.get("x")) for r in rects]
    assert xs == sorted(xs)
    # The axis reaches the largest value: its top tick is at least 40 and the bar for 40
    # is as tall as 40 / top of the plot.
    top_tick = max(float(t.replace(",", "")) for t in texts(root, "tick"))
    assert top_tick >= 40
    assert heights[2] == pytest.approx(40 / top_tick * height, abs=0.02)
    tips = [r.find("s:title", NS).text for r in rects]
    assert tips[0] == "08:00 · offered: 12" and tips[3] == "09:00 · answered: 38"


def test_percent_bars_and_the_target_line_sit_on_a_0_to_100_axis():
    rates = [0.972, 0.5, 1.0]
    chart = svg.Chart("c2", "tiers", "d", ["见习坐席", "坐席", "资深坐席"],
                      bars=[svg.Series("一拨就通率", rates, "#1b4f9c")],
                      bar_axis=svg.Axis("rate", percent=True, maximum=1.0),
                      targets=[svg.Target(0.95, "目标 95%")])
    root = parse(svg.render(chart))
    _, top, _, height = plot(root)
    for r, v in zip(bars(root), rates, strict=True):
        assert float(r.get("height")) == pytest.approx(v * height, abs=0.02)
    assert texts(root, "tick") == ["0%", "20%", "40%", "60%", "80%", "100%"]
    (target,) = root.findall(".//s:line[@class='target']", NS)
    assert float(target.get("y1")) == pytest.approx(top + height - 0.95 * height, abs=0.02)
    assert target.find("s:title", NS).text == "目标 95%"
    assert "目标 95%" in texts(root, "legend")  # named in the legend, not on the bars
    assert [t.text for t in root.findall(".//s:text[@class='xlabel']", NS)] == [
        "见习坐席", "坐席", "资深坐席"]
    assert root.get("font-family").startswith("'Noto Sans CJK SC'")


def test_stacked_bars_pile_up_to_the_sum():
    a, b = [3, 0, 5], [1, 4, 5]
    chart = svg.Chart("c3", "t", "d", ["x", "y", "z"], stacked=True,
                      bars=[svg.Series("a", a, "#111111"), svg.Series("b", b, "#222222")])
    root = parse(svg.render(chart))
    rects = bars(root)
    _, top, _, height = plot(root)
    top_tick = max(float(t) for t in texts(root, "tick"))
    assert top_tick >= 10
    for i in range(3):
        lower, upper = rects[2 * i], rects[2 * i + 1]
        assert float(lower.get("x")) == float(upper.get("x"))
        # the upper segment starts where the lower one ends
        assert float(upper.get("y")) + float(upper.get("height")) == pytest.approx(
            float(lower.get("y")), abs=0.02)
        total = float(lower.get("height")) + float(upper.get("height"))
        assert total == pytest.approx((a[i] + b[i]) / top_tick * height, abs=0.05)


def test_a_line_breaks_at_no_data_and_says_so():
    sl = [None, 0.5, 0.9, None, 0.8, 1.0]
    chart = svg.Chart("c4", "SL", "服务水平", [f"{h:02d}:00" for h in range(6)],
                      lines=[svg.Series("SL", sl, "#6a2d91")])
    root = parse(svg.render(chart))
    points = root.findall(".//s:circle[@class='point']", NS)
    assert len(points) == 4
    _, top, _, height = plot(root)
    for c, v in zip(points, [v for v in sl if v is not None], strict=True):
        assert float(c.get("cy")) == pytest.approx(top + height - v * height, abs=0.02)
    runs = [p.get("points").split() for p in root.findall(".//s:polyline[@class='line']", NS)]
    assert [len(r) for r in runs] == [2, 2]  # 01-02 and 04-05: no line through 03:00
    nodata = root.findall(".//s:g[@class='nodata']", NS)
    assert len(nodata) == 2
    assert nodata[0].find("s:title", NS).text == "00:00 · SL: 无数据 no data"
    assert "2 处无数据" in root.find("s:desc", NS).text
    assert svg.NO_DATA in texts(root, "legend")


def test_points_only_when_the_categories_have_no_order():
    chart = svg.Chart("c5", "t", "d", ["投诉·一般", "投诉·重大"],
                      bars=[svg.Series("opened", [6, 1], "#1b4f9c")],
                      lines=[svg.Series("on time", [1.0, None], "#8a4b00", joined=False)])
    root = parse(svg.render(chart))
    assert root.findall(".//s:polyline", NS) == []
    assert len(root.findall(".//s:circle[@class='point']", NS)) == 1
    # Two axes: counts on the left, the rate on the right.
    ticks = texts(root, "tick")
    assert "100%" in ticks and "6" in ticks or "8" in ticks


def test_a_bar_without_a_value_is_marked_not_drawn():
    chart = svg.Chart("c6", "t", "d", ["一班", "二班"],
                      bars=[svg.Series("SL", [0.8, None], "#6a2d91")],
                      bar_axis=svg.Axis(percent=True, maximum=1.0))
    root = parse(svg.render(chart))
    assert len(bars(root)) == 1
    (mark,) = root.findall(".//s:g[@class='nodata']", NS)
    assert mark.find("s:text", NS).text == "无数据"  # the band is wide: the words show


@pytest.mark.parametrize("labels,values", [([], []), (["00:00", "01:00"], [0, 0])])
def test_no_calls_reads_no_data(labels, values):
    chart = svg.Chart("c7", "t", "d", labels, bars=[svg.Series("offered", values, "#1b4f9c")],
                      lines=[svg.Series("SL", [None] * len(values), "#6a2d91")])
    root = parse(svg.render(chart))
    assert bars(root) == [] and root.findall(".//s:circle", NS) == []
    assert texts(root, "empty") == [svg.NO_DATA]


def test_every_label_is_escaped():
    evil = '</text><script>alert(1)</script> & "q" \'a\''
    chart = svg.Chart('x"><script>', f"title {evil}", f"desc {evil}", [evil],
                      bars=[svg.Series(evil, [1], '"red" onload="x"')],
                      lines=[svg.Series(evil, [0.5], "#000")],
                      targets=[svg.Target(0.5, evil, on_lines=True)])
    text = svg.render(chart)
    root = parse(text)  # still well-formed XML, no script element
    assert root.findall(".//s:script", NS) == []
    assert not [a for e in root.iter() for a in e.attrib if a.lower().startswith("on")]
    assert root.find("s:title", NS).text == f"title {evil}"
    assert texts(root, "xlabel") == [evil]
    assert evil in texts(root, "legend")
    assert bars(root)[0].get("fill") == '"red" onload="x"'  # an attribute value, quoted


def test_many_hours_thin_the_labels_not_the_bars():
    n = 31 * 24
    labels = [f"12-{d + 1:02d} {h:02d}:00" for d in range(31) for h in range(24)]
    chart = svg.Chart("c8", "t", "d", labels,
                      bars=[svg.Series("offered", [(i % 24) * 2 for i in range(n)], "#1b4f9c")])
    root = parse(svg.render(chart))
    assert len(bars(root)) == n
    shown = texts(root, "xlabel")
    left, _, width, _ = plot(root)
    assert 1 < len(shown) < n and shown[0] == labels[0]
    # they do not overlap: each has at least its rough width (11 characters) of room
    assert len(shown) * 11 * 12 * 0.58 <= width


def test_a_series_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="2 values for 3 labels"):
        svg.render(svg.Chart("c9", "t", "d", ["a", "b", "c"],
                             bars=[svg.Series("s", [1, 2], "#000")]))


@pytest.mark.parametrize("largest", [0.3, 1, 7, 40, 57, 99, 100, 101, 588, 12345, 1e6 + 1])
def test_the_axis_top_is_round_and_above_the_largest(largest):
    top, step = svg.nice_top(largest)
    assert top >= largest and top - step < largest
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 9) in (1, 2, 2.5, 5)
    assert 3 <= round(top / step) <= 10


@pytest.mark.parametrize("largest,ticks", [(2, [0, 1, 2]), (3, [0, 1, 2, 3]),
                                           (7, [0, 2, 4, 6, 8]), (12, [0, 5, 10, 15])])
def test_a_count_axis_has_whole_ticks(largest, ticks):
    """Counts (all values whole) never get a "1.5 callers" tick; rates still may."""
    top, step = svg.nice_top(largest, whole=True)
    assert [i * step for i in range(round(top / step) + 1)] == ticks
    assert svg.nice_top(2)[1] == 0.5  # a rate-like axis keeps its finer steps
