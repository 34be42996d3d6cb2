// The cases page: every case with filters (type, grade, status, owner, overdue) for
// supervisors, who also reassign, escalate and reopen; reviewers read only.
"use strict";
let ME = null, AGENTS = [], CASES = [], CASE = null;
const STATES = ["new", "accepted", "in_progress", "resolved", "return_visit", "reopened", "closed"];

function options(select, pairs) {
  const keep = select.value;
  select.replaceChildren(el("option", { value: "", text: t("any") }),
    ...pairs.map(([v, text]) => el("option", { value: v, text })));
  select.value = keep;
}

function fillFilters() {
  const types = ME.case_types || [];
  options(document.getElementById("f-type"), types.map((c) => [c.type, tc("case_type", c.type, c.label)]));
  const grades = new Map();
  for (const c of types) for (const g of c.grades) grades.set(g.name, g.label);
  options(document.getElementById("f-grade"), [...grades].map(([n, l]) => [n, tc("grade", n, l)]));
  options(document.getElementById("f-status"), STATES.map((s) => [s, tc("case_status", s)]));
  document.getElementById("agent-ids").replaceChildren(...AGENTS.map((a) => el("option", { value: a.id, text: a.name || a.id })));
}

async function search() {
  const q = new URLSearchParams();
  for (const [key, id] of [["type", "f-type"], ["grade", "f-grade"], ["status", "f-status"], ["owner", "f-owner"]]) {
    const v = document.getElementById(id).value.trim();
    if (v) q.set(key, v);
  }
  if (document.getElementById("f-overdue").checked) q.set("overdue", "true");
  try {
    CASES = (await api("GET", `/api/cases?${q}`)).cases;
    say("list-msg", `${CASES.length}`);
  } catch (e) { say("list-msg", errText(e), true); CASES = []; }
  render();
}

function render() {
  caseRows(document.getElementById("case-rows"), CASES, pick, true);
}

function showCase(c, text) {
  CASE = c;
  caseDetail(document.getElementById("case-detail"), c, { role: ME.role, agents: AGENTS, onChanged: (n, m) => {
    showCase(n, m);
    search();
  } });
  if (text) say("case-msg", text);
}

async function pick(id) {
  try {
    showCase(await api("GET", `/api/cases/${encodeURIComponent(id)}`));
    document.getElementById("case-title").focus();
  } catch (e) { say("list-msg", errText(e), true); }
}

// Supervisors: a case event on the live feed (opened, changed, reminder, escalation)
// refreshes the list (at most once a second) and the case shown if it is that one.
let FEED = null, soon = null;
function onCaseEvent(c) {
  if (!soon) soon = setTimeout(() => { soon = null; search(); }, 1000);
  if (CASE && CASE.id === c.case_id) api("GET", `/api/cases/${encodeURIComponent(c.case_id)}`).then((n) => showCase(n)).catch(() => {});
}

let wired = false;
document.addEventListener("DOMContentLoaded", () => {
  signIn(["supervisor", "reviewer"], async (me) => {
    ME = me;
    if (me.role === "supervisor") {
      try { AGENTS = (await api("GET", "/api/snapshot")).agents.map((a) => ({ id: a.id, name: a.name })); } catch (e) { AGENTS = []; }
    } else {
      document.getElementById("nav-back").setAttribute("href", "/review.html");
      document.getElementById("nav-back").textContent = t("review");
    }
    fillFilters();
    if (!wired) {
      const b = document.getElementById("f-search");
      document.getElementById("case-filters").addEventListener("submit", once(b, search));
      wired = true;
    }
    await search();
    if (me.role === "supervisor") {
      if (FEED) FEED.restart(); else FEED = liveFeed({ case: onCaseEvent }, () => {});
    }
  });
});
document.addEventListener("langchange", () => {
  if (!ME) return;
  fillFilters();
  if (ME.role === "reviewer") document.getElementById("nav-back").textContent = t("review");
  render();
  if (CASE) showCase(CASE);
});
