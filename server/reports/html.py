"""The period report as ONE self-contained, printable HTML file.

``render(report)`` takes the report dict (the JSON of ``GET /api/reports``) and returns
the page: an inline ``<style>`` (with ``@media print``), no script, no external
resource (no font, image or stylesheet URL), so it can be mailed, archived and
printed as it is.  Its sections: the period and grouping; the headline figures
against their targets in green / amber / red (``status``); the four charts issue 15
names (service level and volume by hour, satisfaction and its dissatisfaction
reasons, tiers and teams compared, cases by grade with the on-time closure rate),
drawn by svg.py as inline SVG; and the group table with every figure.

Every text from the dict is escaped.  A missing figure or ``None`` prints as "–"
(the charts say "no data"), so a report of a period without calls renders too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from html import escape
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import svg
from .bands import status
from .words import BY, FIGURE_WORDS, FIGURES, fmt, words

__all__ = ["render"]

BLUE, GREEN, RED, PURPLE, BROWN = "#1b4f9c", "#146c2e", "#b3261e", "#6a2d91", "#8a4b00"
STATUS_WORDS = {"met": "达标 met", "near": "接近 near", "missed": "未达标 missed",
                "none": "无数据 no data", "info": ""}
#: headline: (figure, where it comes from, higher is better)
HEADLINE = (("connection_rate", "total", True), ("service_level", "total", True),
            ("satisfaction_rate", "total", True), ("return_visit_rate", "cases", True),
            ("abandon_rate", "total", False), ("aht_s", "total", False),
            ("offered", "total", True), ("answered", "total", True), ("asa_s", "total", False),
            ("opened", "cases", True), ("overdue", "cases", False))
#: over three days of hours, the hourly chart shows offered calls only (with the SL)
DENSE_HOURS = 72
TEAM_FIGURES = ("handled", "connection_rate", "service_level", "satisfaction_rate", "aht_s",
                "occupancy", "missed_offers")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _zone(name: object) -> tzinfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _local(iso: object) -> str:
    """"2026-12-01T00:00:00+08:00" as "2026-12-01 00:00"."""
    m = re.match(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})", str(iso or ""))
    return f"{m.group(1)} {m.group(2)}" if m else str(iso or "–")


def _period_title(report: Mapping[str, Any]) -> str:
    return f"{_local(report.get('from_local'))} 至 {_local(report.get('to_local'))}"


def render(report: Mapping[str, Any]) -> str:
    """The whole report page as text (UTF-8 when written)."""
    title = f"95598 服务报表 Service report · {_period_title(report)}"
    body = [_header(report), _headline(report), _hourly(report), _satisfaction(report),
            _tiers_teams(report), _cases(report), _groups(report)]
    return ("<!doctype html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def _header(report: Mapping[str, Any]) -> str:
    by = str(report.get("by", "centre"))
    zh, en = BY.get(by, (by, by))
    generated = report.get("generated_at")
    when = (datetime.fromtimestamp(generated, _zone(report.get("timezone")))
            .strftime("%Y-%m-%d %H:%M") if isinstance(generated, int | float) else "–")
    return (f'<header id="report-header"><h1>95598 服务报表 <small>Service report</small></h1>'
            f'<dl class="meta"><dt>统计时段 Period</dt><dd>{_e(_period_title(report))}'
            f' <span class="muted">（不含结束时刻 end excluded）</span></dd>'
            f'<dt>时区 Time zone</dt><dd>{_e(report.get("timezone", "–"))}</dd>'
            f'<dt>分组 By</dt><dd>{_e(zh)} <span class="muted">{_e(en)}</span></dd>'
            f'<dt>生成时间 Generated</dt><dd>{_e(when)}</dd></dl></header>')


def _headline(report: Mapping[str, Any]) -> str:
    targets = report.get("targets") or {}
    cards = []
    for name, source, higher in HEADLINE:
        value = (report.get(source) or {}).get(name)
        target = targets.get(name)
        st = status(value, target, higher, duration=name.endswith("_s"))
        zh, en = FIGURE_WORDS[name]
        goal = (f'<span class="target">目标 target {"≥" if higher else "≤"} '
                f'{_e(fmt(name, target))}</span>' if isinstance(target, int | float) else "")
        words_ = STATUS_WORDS[st]
        cards.append(f'<div class="kpi {st}" data-figure="{name}"><span class="name">{_e(zh)}'
                     f' <small>{_e(en)}</small></span><b>{_e(fmt(name, value))}</b>{goal}'
                     + (f'<span class="status">{_e(words_)}</span>' if words_ else "") + "</div>")
    legend = ("绿色：达到目标；黄色：差距不超过 5 个百分点（时长不超过 10%）；红色：未达标。"
              " Green: target met; amber: within 5 points (10 % for durations); red: missed.")
    return (f'<section id="headline"><h2>核心指标 <small>Headline figures</small></h2>'
            f'<div class="kpis">{"".join(cards)}</div><p class="muted">{legend}</p></section>')


def _hour_labels(hourly: Sequence[Mapping[str, Any]]) -> list[str]:
    """"2026-12-01 08:00" as "08:00" when every hour is on one day, else "12-01 08:00"."""
    labels = [str(h.get("label", "")) for h in hourly]
    days = {lab[:10] for lab in labels}
    if all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", lab) for lab in labels):
        return [lab[11:] if len(days) == 1 else lab[5:] for lab in labels]
    return labels


def _figure(fid: str, zh: str, en: str, charts: Sequence[str], note: str = "") -> str:
    return (f'<section id="{fid}" class="chart-section"><h2>{_e(zh)} <small>{_e(en)}</small>'
            f'</h2><figure>{"".join(charts)}'
            + (f"<figcaption>{note}</figcaption>" if note else "") + "</figure></section>")


def _hourly(report: Mapping[str, Any]) -> str:
    hourly = report.get("hourly") or []
    sl_target = (report.get("targets") or {}).get("service_level")
    targets = ([svg.Target(sl_target, f"服务水平目标 SL target {fmt('service_level', sl_target)}",
                           RED, on_lines=True)] if isinstance(sl_target, int | float) else [])
    volume = [svg.Series("呼入 offered", [h.get("offered") for h in hourly], BLUE),
              svg.Series("接通 answered", [h.get("answered") for h in hourly], GREEN),
              svg.Series("放弃 abandoned", [h.get("abandoned") for h in hourly], RED)]
    if len(hourly) > DENSE_HOURS:
        volume = volume[:1]  # three bars an hour would be under a pixel each: offered only
    chart = svg.Chart(
        "chart-hourly", "服务水平与话务量（按小时） Service level and volume by hour",
        f"{len(hourly)} 个小时的{'、'.join(v.name.split()[0] for v in volume)}量（左轴）与服务水平"
        f"（右轴）。 {', '.join(v.name.split()[1] for v in volume)} calls per hour (left)"
        " and the service level (right).",
        _hour_labels(hourly),
        bars=volume,
        lines=[svg.Series("服务水平 SL", [h.get("service_level") for h in hourly], PURPLE)],
        bar_axis=svg.Axis("通话 calls"), line_axis=svg.Axis("服务水平 SL", True, 1.0),
        targets=targets)
    return _figure("hourly", "服务水平与话务量（按小时）", "Service level and volume by hour",
                   [svg.render(chart)])


def _satisfaction(report: Mapping[str, Any]) -> str:
    sat = report.get("satisfaction") or {}
    answers = ("satisfied", "fairly_satisfied", "dissatisfied", "no_answer")
    reasons = sorted((sat.get("reasons") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    answers_chart = svg.Chart(
        "chart-satisfaction", "满意度评价 Survey answers",
        "满意、较满意、不满意与未评价的人数。 Callers by survey answer.",
        [words("satisfaction", a) for a in answers],
        bars=[svg.Series("人数 callers", [sat.get(a) for a in answers], GREEN)],
        bar_axis=svg.Axis("人数 callers"), width=470, height=280)
    reasons_chart = svg.Chart(
        "chart-reasons", "不满意原因 Dissatisfaction reasons",
        "不满意评价的原因及人数。 Reasons given with a dissatisfied answer.",
        [words("reason", k) for k, _ in reasons],
        bars=[svg.Series("人数 callers", [v for _, v in reasons], RED)],
        bar_axis=svg.Axis("人数 callers"), width=470, height=280)
    total = report.get("total") or {}
    target = (report.get("targets") or {}).get("satisfaction_rate")
    rate = fmt("satisfaction_rate", total.get("satisfaction_rate"))
    note = (f"满意率 Satisfaction rate {_e(rate)}"
            f"（目标 target {_e(fmt('satisfaction_rate', target))}），参评率 response rate "
            f"{_e(fmt('survey_response_rate', total.get('survey_response_rate')))}。")
    return _figure("satisfaction", "满意度与不满意原因", "Satisfaction and dissatisfaction reasons",
                   [svg.render(answers_chart), svg.render(reasons_chart)], note)


def _compare_chart(cid: str, title: str, rows: Sequence[Mapping[str, Any]], kind: str,
                   targets: Mapping[str, Any]) -> str:
    figures = (("connection_rate", BLUE), ("service_level", PURPLE), ("satisfaction_rate", GREEN))
    lines = [svg.Target(targets[f], f"{FIGURE_WORDS[f][0]}目标 {fmt(f, targets[f])}", colour)
             for f, colour in figures if isinstance(targets.get(f), int | float)]
    chart = svg.Chart(
        cid, title, "每组的一拨就通率、服务水平与满意率（虚线为目标）。"
        " Connection rate, service level and satisfaction rate per group (dashed: targets).",
        [_row_label(r, kind) for r in rows],
        bars=[svg.Series(" ".join(FIGURE_WORDS[f]), [r.get(f) for r in rows], colour)
              for f, colour in figures],
        bar_axis=svg.Axis("比率 rate", True, 1.0), targets=lines, height=280)
    return svg.render(chart)


def _row_label(row: Mapping[str, Any], kind: str) -> str:
    """A tier's name from its key (the report labels tiers by key), else the label."""
    if kind == "tier":
        return words("tier", row.get("key"))
    return str(row.get("label", row.get("key")))


def _small_table(rows: Sequence[Mapping[str, Any]], kind: str, head: str) -> str:
    cols = "".join(f"<th>{_e(FIGURE_WORDS[f][0])}<br><small>{_e(FIGURE_WORDS[f][1])}</small></th>"
                   for f in TEAM_FIGURES)
    body = "".join(
        f"<tr><th scope=\"row\">{_e(_row_label(r, kind))}"
        + (f" <small>班长 lead {_e(r['lead'])}</small>" if r.get("lead") else "") + "</th>"
        + "".join(f'<td data-figure="{f}">{_e(fmt(f, r.get(f)))}</td>' for f in TEAM_FIGURES)
        + "</tr>" for r in rows)
    if not rows:
        body = f'<tr><td colspan="{len(TEAM_FIGURES) + 1}" class="muted">无数据 no data</td></tr>'
    return (f'<table class="small"><thead><tr><th>{head}</th>{cols}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _tiers_teams(report: Mapping[str, Any]) -> str:
    targets = report.get("targets") or {}
    tiers, teams = report.get("tiers") or [], report.get("teams") or []
    parts = [_compare_chart("chart-tiers", "层级对比 Tiers compared", tiers, "tier", targets),
             _small_table(tiers, "tier", "层级 tier"),
             _compare_chart("chart-teams", "班组对比 Teams compared", teams, "team", targets),
             _small_table(teams, "team", "班组 team")]
    return _figure("tiers-teams", "层级与班组对比", "Tiers and teams compared", parts)


def _cases(report: Mapping[str, Any]) -> str:
    cases = report.get("cases") or {}
    rows = cases.get("by_grade") or []
    labels = [f"{words('case_type', r.get('type'))}·{words('grade', r.get('grade'))}" for r in rows]
    chart = svg.Chart(
        "chart-cases", "工单（按类型与等级）及按时办结率 Cases by grade, on-time closure",
        "每个类型与等级的新建、办结、超时工单数（左轴）与按时办结率（右轴，圆点）。"
        " Cases opened, closed and overdue per type and grade (left),"
        " on-time closure (right, dots).",
        labels,
        bars=[svg.Series("新建 opened", [r.get("opened") for r in rows], BLUE),
              svg.Series("办结 closed", [r.get("closed") for r in rows], GREEN),
              svg.Series("超时 overdue", [r.get("overdue") for r in rows], RED)],
        lines=[svg.Series("按时办结率 on-time closure",
                          [r.get("on_time_closure_rate") for r in rows], BROWN, joined=False)],
        bar_axis=svg.Axis("工单 cases"), line_axis=svg.Axis("按时 on time", True, 1.0))
    summary = "".join(
        f'<dt>{_e(FIGURE_WORDS[f][0])} <small>{_e(FIGURE_WORDS[f][1])}</small></dt>'
        f'<dd data-figure="{f}">{_e(fmt(f, cases.get(f)))}</dd>'
        for f in ("opened", "closed", "overdue", "return_visit_rate", "on_time_acceptance_rate",
                  "on_time_closure_rate"))
    by_type = "、".join(f"{_e(words('case_type', k))} {_e(fmt('opened', v))}"
                       for k, v in sorted((cases.get("by_type") or {}).items())) or "–"
    grade_rows = "".join(
        f"<tr><th scope=\"row\">{_e(lab)}</th>"
        + "".join(f'<td>{_e(fmt(f, r.get(f)))}</td>'
                  for f in ("opened", "closed", "overdue", "on_time_closure_rate")) + "</tr>"
        for lab, r in zip(labels, rows, strict=True))
    table = ("<table class=\"small\"><thead><tr><th>类型·等级 type·grade</th><th>新建</th>"
             "<th>办结</th><th>超时</th><th>按时办结率</th></tr></thead>"
             f"<tbody>{grade_rows}</tbody></table>") if rows else ""
    dl = f'<dl class="meta">{summary}<dt>按类型 by type</dt><dd>{by_type}</dd></dl>'
    return _figure("cases", "工单（按等级）及按时率", "Cases by grade with on-time rate",
                   [svg.render(chart), dl, table])


def _groups(report: Mapping[str, Any]) -> str:
    """Every FIGURES column, in two tables so that each fits a landscape page: the calls,
    then the survey and repeat contacts; each with the total in its footer."""
    by = str(report.get("by", "centre"))
    zh, en = BY.get(by, (by, by))
    groups = report.get("groups") or []
    cut = FIGURES.index("surveyed")
    tables = []
    for caption, columns in (("话务 Calls", FIGURES[:cut]),
                             ("评价与重复来电 Survey and repeat contacts", FIGURES[cut:])):
        head = "".join(f'<th scope="col">{_e(FIGURE_WORDS[f][0])}<br>'
                       f"<small>{_e(FIGURE_WORDS[f][1])}</small></th>" for f in columns)

        def row(label: str, r: Mapping[str, Any], key: object = None,
                columns: Sequence[str] = columns) -> str:
            key_attr = f' data-key="{_e(key)}"' if key is not None else ""
            return (f"<tr{key_attr}><th scope=\"row\">{_e(label)}</th>"
                    + "".join(f'<td data-figure="{f}">{_e(fmt(f, r.get(f)))}</td>'
                              for f in columns) + "</tr>")
        body = "".join(row(str(g.get("label", g.get("key"))), g, g.get("key")) for g in groups)
        if not groups:
            body = f'<tr><td colspan="{len(columns) + 1}" class="muted">无数据 no data</td></tr>'
        foot = row("合计 Total", report.get("total") or {})
        tables.append(f'<table class="groups"><caption>{_e(caption)}</caption><thead><tr>'
                      f'<th scope="col">{_e(zh)}</th>{head}</tr></thead><tbody>{body}</tbody>'
                      f"<tfoot>{foot}</tfoot></table>")
    return (f'<section id="groups"><h2>分组明细（按{_e(zh)}） <small>By {_e(en)}</small></h2>'
            + "".join(tables) + "</section>")


CSS = """
:root { color: #16202b; background: #fff; font-size: 14px;
  font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", sans-serif; }
body { margin: 0 auto; max-width: 1040px; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; } h2 { font-size: 1.15rem; margin: 1.2rem 0 .5rem; }
small, .muted { color: #4d5966; font-weight: normal; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.meta dt { color: #4d5966; } dl.meta dd { margin: 0; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .5rem; }
.kpi { border: 1px solid #d5dbe1; border-left: 6px solid #4d5966; border-radius: 4px;
  padding: .4rem .6rem; display: grid; gap: .1rem; }
.kpi b { font-size: 1.6rem; font-variant-numeric: tabular-nums; }
.kpi .target, .kpi .status { font-size: .85rem; }
.kpi.met { border-left-color: #146c2e; background: #e6f4ea; }
.kpi.near { border-left-color: #8a6100; background: #fff5d6; }
.kpi.missed { border-left-color: #b3261e; background: #fde7e4; }
.kpi.met .status { color: #0d4d22; } .kpi.near .status { color: #6b4b00; }
.kpi.missed .status { color: #8c1d17; }
.kpi.none { background: #f1f3f5; }
figure { margin: 0; } figcaption { margin-top: .3rem; }
svg.chart { max-width: 100%; height: auto; display: inline-block; vertical-align: top; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: .5rem 0; }
th, td { padding: .2rem .4rem; border-bottom: 1px solid #d5dbe1; text-align: right; }
th[scope="row"], thead th:first-child { text-align: left; }
thead th { vertical-align: bottom; font-size: .85rem; }
tfoot th, tfoot td { font-weight: 700; border-top: 2px solid #16202b; }
table.groups { font-size: .85rem; width: 100%; }
caption { text-align: left; font-weight: 700; padding: .3rem 0; }
@page { size: A4 landscape; margin: 10mm; }
@media print {
  :root { font-size: 11px; } body { max-width: none; padding: 0; }
  * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  section { break-inside: avoid; } #groups { break-inside: auto; }
  thead { display: table-header-group; } tr { break-inside: avoid; }
  table.groups { font-size: 10px; }
}
"""
