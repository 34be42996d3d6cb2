// The report page (supervisors): a period and a grouping, then the headline figures
// against their targets, the charts and the group table.  The figures come as JSON
// (GET /api/reports); the charts are the printable report's own SVG (format=html),
// parsed and imported as DOM: they carry presentation attributes only, so they render
// under the site's CSP (no inline style, no script).
"use strict";

Object.assign(I18N.zh, {
  rp_from: "开始日期", rp_to: "结束日期（含）", rp_by: "分组", rp_run: "生成报表", rp_period: "统计时段",
  rp_csv: "下载 CSV", rp_print: "打印版报表（HTML）", rp_headline: "核心指标", rp_charts: "图表",
  rp_groups: "分组明细", rp_total: "合计", rp_target: "目标", rp_loading: "正在生成报表……",
  rp_charts_loading: "正在绘制图表……", rp_no_groups: "本时段无数据。", rp_bad_dates: "请选择开始和结束日期，且开始不晚于结束。",
  rp_met: "达标", rp_near: "接近目标", rp_missed: "未达标", rp_none: "无数据", rp_tz: "时区",
  rp_end_excluded: "不含结束时刻", rp_charts_failed: "图表暂时无法生成。",
  rp_legend: "绿色：达到目标；黄色：差距不超过 5 个百分点（时长不超过 10%）；红色：未达标。",
});
Object.assign(I18N.en, {
  rp_from: "From", rp_to: "To (inclusive)", rp_by: "Group by", rp_run: "Run the report", rp_period: "Period",
  rp_csv: "Download CSV", rp_print: "Printable report (HTML)", rp_headline: "Headline figures", rp_charts: "Charts",
  rp_groups: "By group", rp_total: "Total", rp_target: "target", rp_loading: "Computing the report…",
  rp_charts_loading: "Drawing the charts…", rp_no_groups: "No data for this period.",
  rp_bad_dates: "Choose a start and an end date, the start not after the end.",
  rp_met: "met", rp_near: "near the target", rp_missed: "missed", rp_none: "no data", rp_tz: "time zone",
  rp_end_excluded: "end excluded", rp_charts_failed: "The charts cannot be drawn now.",
  rp_legend: "Green: target met; amber: within 5 points (10 % for durations); red: missed.",
});
Object.assign(CODES, {
  by: {
    centre: ["全中心", "Centre"], queue: ["队列", "Queue"], tier: ["层级", "Tier"], team: ["班组", "Team"],
    agent: ["坐席", "Agent"], day: ["按日", "Day"], hour: ["按小时", "Hour"],
  },
  tier: { trainee: ["见习坐席", "Trainee"], agent: ["坐席", "Agent"], senior: ["资深坐席", "Senior"],
    team_lead: ["班长", "Team lead"] },
  figure: {
    offered: ["呼入量", "Offered"], answered: ["接通量", "Answered"], abandoned: ["放弃", "Abandoned"],
    short_abandoned: ["短时放弃", "Short abandons"], self_service: ["自助服务", "Self-service"],
    deflected: ["停电公告分流", "Deflected"], callbacks: ["回电", "Callbacks"], overflowed: ["溢出", "Overflowed"],
    handled: ["处理量", "Handled"], connection_rate: ["一拨就通率", "Connection rate"],
    service_level: ["服务水平", "Service level"], asa_s: ["平均应答时长", "ASA"], abandon_rate: ["放弃率", "Abandon rate"],
    aht_s: ["平均处理时长", "AHT"], occupancy: ["占用率", "Occupancy"], surveyed: ["邀评数", "Surveyed"],
    rated: ["参评数", "Rated"], satisfied: ["满意数", "Satisfied"], satisfaction_rate: ["满意率", "Satisfaction rate"],
    survey_response_rate: ["参评率", "Survey response rate"], repeat_contacts: ["重复来电", "Repeat contacts"],
    repeat_contact_rate: ["重复来电率", "Repeat-contact rate"], missed_offers: ["未接分配", "Missed offers"],
    return_visit_rate: ["回访率", "Return-visit rate"], opened: ["新建工单", "Cases opened"],
    overdue: ["超时工单", "Overdue cases"],
  },
});

// The report's JSON shape (the CSV's column order).
const FIGURES = ["offered", "answered", "abandoned", "short_abandoned", "self_service", "deflected", "callbacks",
  "overflowed", "handled", "connection_rate", "service_level", "asa_s", "abandon_rate", "aht_s", "occupancy",
  "surveyed", "rated", "satisfied", "satisfaction_rate", "survey_response_rate", "repeat_contacts",
  "repeat_contact_rate", "missed_offers"];
// [figure, from, higher is better]: as the printable report's headline (server/reports/html.py).
const HEADLINE = [["connection_rate", "total", true], ["service_level", "total", true],
  ["satisfaction_rate", "total", true], ["return_visit_rate", "cases", true], ["abandon_rate", "total", false],
  ["aht_s", "total", false], ["offered", "total", true], ["answered", "total", true], ["asa_s", "total", false],
  ["opened", "cases", true], ["overdue", "cases", false]];
let REPORT = null, wired = false;

function isRate(f) { return f.endsWith("_rate") || f === "service_level" || f === "occupancy"; }

function fmtFigure(f, v) {
  if (v === null || v === undefined || typeof v !== "number") return "–";
  if (isRate(f)) return `${(v * 100).toFixed(1)}%`;
  if (f.endsWith("_s")) return fmtDur(v);
  return v.toLocaleString(ZH() ? "zh-CN" : "en-GB");
}

// The same bands as server/reports/bands.py `status`: amber within 5 points (10 % for a duration).
function status(value, target, higher, duration) {
  if (typeof value !== "number") return "none";
  if (typeof target !== "number") return "info";
  const gap = higher ? target - value : value - target;
  if (gap <= 0) return "met";
  // a hair of room: exactly 5 points short is amber (0.8 - 0.75 is 0.05000000000000004)
  return gap <= (duration ? target * 0.1 : 0.05) + 1e-9 ? "near" : "missed";
}

function query(format) {
  const q = new URLSearchParams({ from: document.getElementById("rp-from").value,
    to: document.getElementById("rp-to").value, by: document.getElementById("rp-by").value });
  if (format) q.set("format", format);
  return `/api/reports?${q}`;
}

function groupLabel(row) {
  const by = REPORT.by;
  if (by === "tier") return tc("tier", row.key, row.label);
  if (by === "queue") return tc("queue", row.key, row.label);
  return row.label || row.key;
}

function render() {
  if (!REPORT) return;
  const r = REPORT, targets = r.targets || {};
  document.getElementById("rp-period").textContent =
    `${(r.from_local || "").replace("T", " ").slice(0, 16)} – ${(r.to_local || "").replace("T", " ").slice(0, 16)}` +
    ` (${t("rp_end_excluded")}; ${t("rp_tz")} ${r.timezone}) · ${tc("by", r.by)}`;
  document.getElementById("rp-headline").replaceChildren(...HEADLINE.map(([f, from, higher]) => {
    const v = (r[from] || {})[f], target = targets[f], st = status(v, target, higher, f.endsWith("_s"));
    return el("div", { class: `rp-kpi ${st}`, "data-figure": f },
      el("span", { class: "name", text: tc("figure", f) }),
      el("b", { text: fmtFigure(f, v) }),
      typeof target === "number" ? el("span", { class: "target",
        text: `${t("rp_target")} ${higher ? "≥" : "≤"} ${fmtFigure(f, target)}` }) : null,
      st === "info" ? null : el("span", { class: "status", text: t(`rp_${st}`) }));
  }));
  const table = document.getElementById("rp-table");
  const head = el("tr", {}, el("th", { scope: "col", text: tc("by", r.by) }),
    ...FIGURES.map((f) => el("th", { scope: "col", text: tc("figure", f) })));
  const row = (label, g, key) => el("tr", { "data-key": key },
    el("th", { scope: "row", text: label }),
    ...FIGURES.map((f) => el("td", { "data-figure": f, text: fmtFigure(f, g[f]) })));
  table.tHead.replaceChildren(head);
  const groups = r.groups || [];
  table.tBodies[0].replaceChildren(...(groups.length ? groups.map((g) => row(groupLabel(g), g, g.key))
    : [el("tr", {}, el("td", { colspan: FIGURES.length + 1, class: "muted", text: t("rp_no_groups") }))]));
  table.tFoot.replaceChildren(row(t("rp_total"), r.total || {}));
}

// The charts: the printable report's sections, each heading with its SVG charts.
// Fires when they are in the page; a failure leaves a sentence instead.
async function charts(url) {
  const box = document.getElementById("rp-charts");
  box.setAttribute("aria-busy", "true");
  box.replaceChildren(el("p", { class: "muted", text: t("rp_charts_loading") }));
  try {
    const resp = await fetch(url, { credentials: "same-origin" });
    if (!resp.ok) throw new Error(String(resp.status));
    // The body only: a parsed document inherits this page's CSP in Chromium, which would
    // report the report's own inline <style> (in its head) as refused.
    const text = await resp.text(), body = text.indexOf("<body");
    const doc = new DOMParser().parseFromString(body >= 0 ? text.slice(body) : text, "text/html");
    const parts = [];
    for (const section of doc.querySelectorAll("section.chart-section")) {
      const h = section.querySelector("h2");
      parts.push(el("h3", { text: h ? h.textContent : "" }));
      for (const svg of section.querySelectorAll("svg.chart")) parts.push(document.importNode(svg, true));
    }
    box.replaceChildren(...parts);
  } catch (e) {
    box.replaceChildren(el("p", { class: "error", text: t("rp_charts_failed") }));
  } finally { box.setAttribute("aria-busy", "false"); }
}

async function run() {
  const from = document.getElementById("rp-from").value, to = document.getElementById("rp-to").value;
  if (!from || !to || from > to) { say("rp-msg", t("rp_bad_dates"), true); return; }
  say("rp-msg", t("rp_loading"));
  const chartsDone = charts(query("html"));
  try {
    REPORT = await api("GET", query());
    say("rp-msg", "");
    document.getElementById("rp-csv").setAttribute("href", query("csv"));
    document.getElementById("rp-html").setAttribute("href", query("html"));
    document.getElementById("rp-result").hidden = false;
    render();
  } catch (e) {
    REPORT = null;  // never a previous period's figures under this one's error
    document.getElementById("rp-result").hidden = true;
    say("rp-msg", errText(e), true);
  }
  await chartsDone;
}

function fillBy() {
  const sel = document.getElementById("rp-by"), keep = sel.value || "centre";
  sel.replaceChildren(...Object.keys(CODES.by).map((k) => el("option", { value: k, text: tc("by", k) })));
  sel.value = keep;
}

document.addEventListener("DOMContentLoaded", () => {
  fillBy();
  const today = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  for (const id of ["rp-from", "rp-to"]) if (!document.getElementById(id).value) document.getElementById(id).value = today;
  signIn(["supervisor"], () => {
    if (wired) return;
    wired = true;
    const b = document.getElementById("rp-run");
    document.getElementById("report-form").addEventListener("submit", once(b, run));
  });
});
document.addEventListener("langchange", () => { fillBy(); render(); });
