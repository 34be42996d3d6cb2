"""server/reports/html.py: the printable report from a report dict (the JSON shape of
GET /api/reports; tests/fixtures/report-sample.json is one day by queue): every
section and chart, nothing fetched from elsewhere, no script, the figures formatted
from the dict, the headline coloured against the targets, every text escaped, and a
period without calls rendered with "no data"."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from server.reports import bands, html
from server.reports.words import FIGURES

SAMPLE = Path(__file__).parent / "fixtures" / "report-sample.json"
SVG_NS = "http://www.w3.org/2000/svg"


@pytest.fixture
def report() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


class Page(HTMLParser):
    """Tags with their attributes; the cells carrying data-figure, row by row."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[tuple[str, str]] = []  # (data-figure, text) in document order
        self.rows: list[tuple[str | None, dict[str, str]]] = []  # (data-key, figure -> text)
        self._figure: str | None = None
        self._buf: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "tr":
            self.rows.append((a.get("data-key"), {}))
        if "data-figure" in a and tag in ("td", "dd"):
            self._figure, self._buf = a["data-figure"], []

    def handle_data(self, data):
        self._buf.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "dd") and self._figure is not None:
            text = "".join(self._buf)
            self.cells.append((self._figure, text))
            if tag == "td":
                self.rows[-1][1][self._figure] = text
            self._figure = None

    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if a.get("id")}

    def kpi(self, figure: str) -> dict[str, str | None]:
        (a,) = [a for t, a in self.tags if t == "div" and a.get("data-figure") == figure]
        return a

    def group_rows(self) -> dict[str, dict[str, str]]:
        """Each group's cells over both tables of the group section."""
        out: dict[str, dict[str, str]] = {}
        for key, cells in self.rows:
            if key is not None:
                out.setdefault(key, {}).update(cells)
        return out


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def test_every_section_and_chart_is_there(report):
    page = Page(html.render(report))
    assert {"report-header", "headline", "hourly", "satisfaction", "tiers-teams", "cases",
            "groups"} <= page.ids()
    charts = {a["id"] for t, a in page.tags if t == "svg"}
    assert charts == {"chart-hourly", "chart-satisfaction", "chart-reasons", "chart-tiers",
                      "chart-teams", "chart-cases"}
    for t, a in page.tags:
        if t == "svg":  # each chart names itself for a screen reader
            assert a["role"] == "img" and a["aria-labelledby"].startswith(a["id"])


def test_self_contained_no_script_no_external_resource(report):
    text = html.render(report)
    page = Page(text)
    assert not [t for t, _ in page.tags if t in ("script", "link", "img", "iframe", "object")]
    assert not [a for _, attrs in page.tags for a in attrs
                if a in ("src", "href", "style") or a.startswith("on")]
    assert "url(" not in text and "@import" not in text and "//" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert text.count("<style>") == 1 and "@media print" in text


def test_figures_are_formatted_from_the_dict(report):
    page = Page(html.render(report))
    total = report["total"]
    # The headline: rates as % with one decimal, durations as m:ss, counts as integers.
    cards = html.render(report)
    for figure in ("connection_rate", "service_level", "satisfaction_rate", "abandon_rate"):
        assert f"<b>{pct(total[figure])}</b>" in cards
    aht = round(total["aht_s"])
    assert f"<b>{aht // 60}:{aht % 60:02d}</b>" in cards
    assert f"<b>{total['offered']:,}</b>" in cards
    assert f"<b>{pct(report['cases']['return_visit_rate'])}</b>" in cards
    # The group tables: one row per group, every FIGURES column once, plus the total.
    rows = page.group_rows()
    assert list(rows) == [g["key"] for g in report["groups"]]
    assert all(list(cells) == list(FIGURES) for cells in rows.values())
    fault = next(g for g in report["groups"] if g["key"] == "fault")
    assert rows["fault"]["offered"] == str(fault["offered"])
    assert rows["fault"]["service_level"] == pct(fault["service_level"])
    asa = round(fault["asa_s"])
    assert rows["fault"]["asa_s"] == f"{asa // 60}:{asa % 60:02d}"
    assert rows["fault"]["satisfaction_rate"] == pct(fault["satisfaction_rate"])
    assert rows["fault"]["missed_offers"] == str(fault["missed_offers"])
    # A queue without calls: its rates are "–", its counts 0.
    assert rows["english"]["offered"] == "0" and rows["english"]["connection_rate"] == "–"
    totals = [c for k, c in page.rows if k is None and ("offered" in c or "surveyed" in c)]
    assert totals[0]["offered"] == str(total["offered"])
    assert totals[1]["satisfaction_rate"] == pct(total["satisfaction_rate"])


def test_the_headline_is_coloured_against_the_targets(report):
    report["total"]["connection_rate"] = 0.93   # 95 % target, 2 points short: amber
    report["total"]["service_level"] = 0.83     # 80 % target: met
    report["total"]["abandon_rate"] = 0.12      # at most 5 %: 7 points over, red
    report["total"]["aht_s"] = 320              # 300 s target, 6.7 % over: amber
    report["total"]["satisfaction_rate"] = None  # nobody rated: no data
    page = Page(html.render(report))
    assert "near" in page.kpi("connection_rate")["class"]
    assert "met" in page.kpi("service_level")["class"]
    assert "missed" in page.kpi("abandon_rate")["class"]
    assert "near" in page.kpi("aht_s")["class"]
    assert "none" in page.kpi("satisfaction_rate")["class"]
    assert "missed" in page.kpi("return_visit_rate")["class"]  # 91.7 % of 100 %
    assert "info" in page.kpi("offered")["class"]  # a count without a target


@pytest.mark.parametrize("value,target,higher,duration,expected", [
    (0.95, 0.95, True, False, "met"), (0.9001, 0.95, True, False, "near"),
    (0.8999, 0.95, True, False, "missed"), (0.05, 0.05, False, False, "met"),
    (0.0999, 0.05, False, False, "near"), (331, 300, False, True, "missed"),
    (329, 300, False, True, "near"), (None, 0.8, True, False, "none"),
    (0.5, None, True, False, "info"),
    # exactly 5 points short is amber, whatever binary floating point makes of 0.8 - 0.75
    (0.75, 0.8, True, False, "near"), (0.7499, 0.8, True, False, "missed")])
def test_status_bands(value, target, higher, duration, expected):
    assert bands.status(value, target, higher, duration) == expected


def test_every_text_from_the_dict_is_escaped(report):
    evil = '<img src=x onerror=alert(1)>&"'
    report["groups"][0]["label"] = evil
    report["teams"][0]["label"] = evil
    report["teams"][0]["lead"] = evil
    report["satisfaction"]["reasons"] = {evil: 2}
    report["timezone"] = evil
    report["by"] = evil
    report["cases"]["by_grade"][0]["type"] = evil
    text = html.render(report)
    assert "<img" not in text and "onerror=alert(1)>" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;&quot;" in text
    for svg_text in re.findall(r"<svg .*?</svg>", text, re.S):
        ET.fromstring(svg_text)  # each chart is still well-formed XML


def no_calls(report: dict) -> dict:
    """The sample turned into a period without a call (what the report gives then)."""
    empty = copy.deepcopy(report)
    zero = {f: (None if f.endswith(("_rate", "_s")) or f in ("service_level", "occupancy")
                else 0) for f in FIGURES}
    empty["total"] = dict(zero)
    empty["groups"], empty["tiers"], empty["teams"] = [], [], []
    empty["hourly"] = [{**h, "offered": 0, "answered": 0, "abandoned": 0, "service_level": None}
                       for h in report["hourly"]]
    empty["satisfaction"] = {"satisfied": 0, "fairly_satisfied": 0, "dissatisfied": 0,
                             "no_answer": 0, "reasons": {}}
    empty["cases"] = {"opened": 0, "closed": 0, "overdue": 0, "return_visit_rate": None,
                      "on_time_acceptance_rate": None, "on_time_closure_rate": None,
                      "by_type": {}, "by_grade": []}
    return empty


def test_a_period_without_calls_says_no_data(report):
    text = html.render(no_calls(report))
    page = Page(text)
    charts = re.findall(r"<svg .*?</svg>", text, re.S)
    assert len(charts) == 6
    for chart in charts:
        root = ET.fromstring(chart)
        assert root.findall(f".//{{{SVG_NS}}}rect[@class='bar']") == []
        assert [t.text for t in root.iter(f"{{{SVG_NS}}}text") if t.get("class") == "empty"] \
            == ["无数据 no data"]
    assert "none" in page.kpi("service_level")["class"]
    assert page.kpi("offered")["class"] == "kpi info"
    assert page.group_rows() == {}
    assert text.count("无数据 no data</td>") == 4  # two small tables, two group tables


def test_even_an_empty_dict_renders():
    page = Page(html.render({}))
    assert "groups" in page.ids() and "headline" in page.ids()


def test_a_month_of_hours_draws_one_bar_an_hour(report):
    day = report["hourly"]
    report["hourly"] = [{**day[i % 24], "start": day[0]["start"] + 3600 * i,
                         "label": f"2026-12-{i // 24 + 1:02d} {i % 24:02d}:00"}
                        for i in range(31 * 24)]
    text = html.render(report)
    (chart,) = [c for c in re.findall(r"<svg .*?</svg>", text, re.S) if 'id="chart-hourly"' in c]
    root = ET.fromstring(chart)
    bars = root.findall(f".//{{{SVG_NS}}}rect[@class='bar']")
    assert len(bars) == 31 * 24  # offered only: three bars an hour would be sub-pixel
    assert all(b.find(f"{{{SVG_NS}}}title").text.split(" · ")[1].startswith("呼入 offered")
               for b in bars)
    points = root.findall(f".//{{{SVG_NS}}}circle[@class='point']")
    assert len(points) == 31 * sum(h["service_level"] is not None for h in day)
    labels = [t.text for t in root.iter(f"{{{SVG_NS}}}text") if t.get("class") == "xlabel"]
    assert labels[0] == "12-01 00:00"  # days differ: month-day and hour
