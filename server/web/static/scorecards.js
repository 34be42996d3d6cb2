// The review page's scorecards: per agent or team over the filters' period, with QA,
// the appraisal (绩效) score and the ranking within each tier (GET /api/scorecards).
"use strict";
Object.assign(I18N.zh, {
  sc_title: "绩效与排名", sc_period: "时间段同上方筛选", sc_by: "按", sc_by_agent: "坐席", sc_by_team: "班组",
  sc_tier: "层级", sc_show: "查看", sc_ranking: "层级内排名", sc_name: "姓名", sc_tier_col: "层级",
  sc_team: "班组", sc_lead: "班长", sc_sat: "满意率", sc_missed: "未接", sc_complaint_calls: "投诉来电处理",
  sc_qa: "质检均分（份数）", sc_score: "绩效得分", sc_rank: "排名", sc_records: "{n} 条通话记录",
  sc_unranked: "未排名",
});
Object.assign(I18N.en, {
  sc_title: "Scorecards and ranking", sc_period: "Period: the filters above", sc_by: "By", sc_by_agent: "Agent",
  sc_by_team: "Team", sc_tier: "Tier", sc_show: "Show", sc_ranking: "Ranking within each tier", sc_name: "Name",
  sc_tier_col: "Tier", sc_team: "Team", sc_lead: "Lead", sc_sat: "Satisfaction", sc_missed: "Missed",
  sc_complaint_calls: "Complaint calls handled", sc_qa: "QA mean (reviewed)", sc_score: "Appraisal score",
  sc_rank: "Rank", sc_records: "{n} call records", sc_unranked: "not ranked",
});

let SC = null;

function scTiers(tiers) {
  const sel = document.getElementById("sc-tier"), keep = sel.value;
  sel.replaceChildren(el("option", { value: "", text: t("any") }),
    ...tiers.map((x) => el("option", { value: x, text: x })));
  sel.value = keep;
}

async function scShow() {
  const f = new FormData(document.getElementById("filters"));
  const q = new URLSearchParams({ by: document.getElementById("sc-by").value });
  for (const k of ["from", "to"]) {
    const v = f.get(k);
    if (v) q.set(k, String(new Date(v).getTime() / 1000));
  }
  const tier = document.getElementById("sc-tier").value;
  if (tier) q.set("tier", tier);
  try {
    SC = await api("GET", `/api/scorecards?${q}`);
    scTiers(SC.tier_names);
    say("sc-msg", t("sc_records", { n: SC.records }));
    scRender();
  } catch (e) { say("sc-msg", errText(e), true); }
}

function scRender() {
  if (!SC) return;
  const qa = (c) => (c.qa_score === null ? "–" : `${c.qa_score} (${c.qa_reviewed})`);
  const common = (c) => [c.handled, fmtDur(c.aht_s), fmtPct(c.satisfaction_rate), c.missed_offers,
    c.complaint_calls_handled, qa(c)];
  const heads = ["handled", "aht", "sc_sat", "sc_missed", "sc_complaint_calls", "sc_qa"];
  let head, rows;
  if (SC.by === "team") {
    head = ["sc_team", "sc_lead", ...heads];
    rows = SC.teams.map((c) => [c.name || c.team, `${c.lead || "–"} ${c.lead_name || ""}`, ...common(c)]);
  } else {
    head = ["agent", "sc_name", "sc_tier_col", "sc_team", ...heads, "sc_score", "sc_rank"];
    rows = SC.agents.map((c) => [c.agent_id, c.name || "", c.tier || "–", c.team || "–", ...common(c),
      c.appraisal.score ?? "–", c.appraisal.rank ? `${c.appraisal.rank} / ${c.appraisal.ranked_in_tier}` : t("sc_unranked")]);
  }
  document.getElementById("sc-head").replaceChildren(el("tr", {}, ...head.map((k) => el("th", { text: t(k) }))));
  document.getElementById("sc-rows").replaceChildren(...rows.map((r) =>
    el("tr", { "data-sc": r[0] }, ...r.map((v) => el("td", { text: v === null || v === undefined ? "–" : String(v) })))));
  document.getElementById("sc-ranking").replaceChildren(...SC.tiers.map((tier) =>
    el("div", { class: "card", "data-tier": tier.tier || "" }, el("h4", { text: tier.tier || "–" }),
      el("ol", {}, ...tier.ranking.filter((r) => r.rank).map((r) =>
        el("li", { value: r.rank, text: `${r.agent_id} ${r.name || ""} · ${r.score}` }))))));
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("sc-form").addEventListener("submit", (e) => { e.preventDefault(); scShow(); });
  scTiers([]);
});
document.addEventListener("langchange", scRender);
