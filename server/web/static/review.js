// The QA review page: filter records, open one, listen, read its timeline, score it.
"use strict";
let ME = null, ROWS = [], REC = null, QA = null;

function fillFilters() {
  const fill = (id, items) => {
    const sel = document.getElementById(id), keep = sel.value;
    sel.replaceChildren(el("option", { value: "", text: t("any") }),
      ...items.map(([v, text]) => el("option", { value: v, text })));
    sel.value = keep;
  };
  fill("f-queue", ME.queues.map((q) => [q, tc("queue", q)]));
  fill("f-disposition", [...ME.dispositions.map((c) => [c.code, tc("disposition", c.code, c.label)]),
    ["none", tc("disposition", "none")]]);
}

async function search() {
  const f = new FormData(document.getElementById("filters"));
  const q = new URLSearchParams();
  for (const [k, v] of f.entries()) {
    if (v === "" || v === null) continue;
    if (k === "from" || k === "to") q.set(k, String(new Date(v).getTime() / 1000));
    else if (v === "on") q.set(k, "true");
    else q.set(k, v);
  }
  try {
    const data = await api("GET", `/api/records?${q}`);
    ROWS = data.records;
    document.getElementById("count").textContent = `${data.records.length} / ${data.total}`;
    renderRows();
  } catch (e) { say("count", errText(e), true); }
}

function renderRows() {
  document.getElementById("rows").replaceChildren(...ROWS.map((r) => {
    const tr = el("tr", { class: "clickable", "data-call": r.call_id, tabindex: 0 },
      ...[fmtTime(r.arrived), r.caller, r.queues.map((x) => tc("queue", x)).join("、"), r.agent_id || "–",
        tc("intent", r.intent), tc("disposition", r.disposition), fmtDur(r.handling_s),
        tc("outcome", r.outcome)].map((v) => el("td", { text: v })),
      el("td", { "data-testid": "reviewed", text: r.qa_revisions ? `✓ ${r.qa_revisions}` : t("not_reviewed") }));
    tr.addEventListener("click", () => show(r.call_id));
    tr.addEventListener("keydown", (e) => { if (e.key === "Enter") show(r.call_id); });
    return tr;
  }));
}

function detailText(key, v) {
  if (v === null || v === undefined || v === "") return "–";
  if (key === "outcome") return tc("outcome", v);
  if (key === "queue" || key === "to" || key === "from") return tc("queue", v);
  if (key === "intent") return tc("intent", v);
  if (key === "satisfaction" || key === "answer") return tc("satisfaction", v);
  if (key === "disposition") return tc("disposition", v);
  if (key === "hung_up_by") return tc("party", v);
  if (key === "ring_start") return fmtTime(v, true);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

async function show(callId) {
  try {
    REC = await api("GET", `/api/records/${encodeURIComponent(callId)}`);
  } catch (e) { say("count", errText(e), true); return; }
  renderDetail();
  document.getElementById("detail").hidden = false;
  document.getElementById("d-title").focus();
  const audio = document.getElementById("d-audio"), msg = document.getElementById("d-audio-msg");
  msg.hidden = true;
  audio.removeAttribute("src");
  audio.hidden = true;
  let problem = REC.recording_url ? null : "no_recording";
  if (!problem) {  // a file past retention: say so instead of a silent 0:00 player
    const head = await fetch(REC.recording_url, { method: "HEAD", credentials: "same-origin" })
      .catch(() => null);
    problem = head && head.ok ? null : "recording_missing";
  }
  if (problem) {
    msg.hidden = false;
    msg.dataset.msg = problem;
    msg.textContent = t(problem);
  } else {
    audio.hidden = false;
    audio.src = REC.recording_url;
  }
  await showQa();
}

function renderDetail() {
  const r = REC;
  if (!r) return;
  document.getElementById("d-id").textContent = r.call_id;
  const d = r.durations;
  const kv = [["caller", r.caller], ["account", r.account], ["intent", tc("intent", r.intent)],
    ["queue", r.queues.map((x) => tc("queue", x)).join("、")], ["agent", r.agent_id],
    ["disposition", tc("disposition", r.disposition)], ["notes", r.notes], ["outcome", tc("outcome", r.outcome)],
    ["satisfaction", tc("satisfaction", r.satisfaction)],
    ["ivr_path", r.ivr_path.map(([m, k]) => `${tc("menu", m)} ${ZH() ? "按" : "key"} ${k}`).join(" → ")],
    ["waited", fmtDur(d.queue_wait_s)], ["handling", fmtDur(d.handling_s)],
    ["breakdown", `${t("talk")} ${fmtDur(d.talk_s)} · ${t("hold")} ${fmtDur(d.hold_s)} · ${t("acw")} ${fmtDur(d.acw_s)}`]];
  document.getElementById("d-kv").replaceChildren(...kv.flatMap(([k, v]) =>
    [el("dt", { text: t(k) }), el("dd", { text: v === null || v === undefined || v === "" ? "–" : v })]));
  document.getElementById("d-timeline").replaceChildren(...r.timeline.map(([ts, kind, det]) =>
    el("tr", {}, el("td", { text: fmtTime(ts, true) }), el("td", { text: tc("event", kind) }),
      el("td", { text: Object.entries(det || {}).map(([k, v]) => `${tc("key", k)}: ${detailText(k, v)}`).join("；") }))));
  const msg = document.getElementById("d-audio-msg");
  if (!msg.hidden && msg.dataset.msg) msg.textContent = t(msg.dataset.msg);
}

function runningTotal() {
  if (!QA) return null;
  let sum = 0, weights = 0, all = true;
  for (const c of QA.form) {
    const i = document.querySelector(`#qa-criteria input[name="${c.id}"]`);
    weights += c.weight;
    if (!i || i.value === "") { all = false; continue; }
    sum += Math.min(c.max, Math.max(0, Number(i.value))) / c.max * c.weight;
  }
  document.getElementById("qa-total").textContent = weights ? (sum / weights * 100).toFixed(1) : "–";
  return all;
}

async function showQa() {
  QA = await api("GET", `/api/records/${encodeURIComponent(REC.call_id)}/qa`);
  renderQa(true);
}

function renderQa(fresh) {
  const old = {};
  document.querySelectorAll("#qa-criteria input").forEach((i) => { old[i.name] = i.value; });
  // A new review starts empty; the current scores are in the history below.
  document.getElementById("qa-criteria").replaceChildren(...QA.form.map((c) => {
    const input = el("input", { type: "number", min: 0, max: c.max, step: 1, name: c.id, id: `qa-${c.id}`, required: "" });
    if (!fresh && old[c.id] !== undefined) input.value = old[c.id];
    input.addEventListener("input", runningTotal);
    return el("tr", {}, el("td", {}, el("label", { for: `qa-${c.id}`, text: c.label[LANG] || c.id })),
      el("td", { class: "muted", text: `×${c.weight}` }), el("td", {}, input),
      el("td", { class: "muted", text: `/ ${c.max}` }));
  }));
  if (fresh) { document.getElementById("qa-comments").value = ""; say("qa-msg", ""); }
  runningTotal();
  document.getElementById("qa-history").replaceChildren(...QA.history.map((h) =>
    el("li", { text: `#${h.revision} ${fmtTime(h.at)} ${h.reviewer}: ${t("total")} ${h.total} ${h.comments || ""}` })));
}

async function saveQa() {
  if (!runningTotal()) { say("qa-msg", t("fill_all"), true); return; }
  const scores = {};
  document.querySelectorAll("#qa-criteria input").forEach((i) => { scores[i.name] = parseInt(i.value, 10); });
  try {
    const r = await api("POST", `/api/records/${encodeURIComponent(REC.call_id)}/qa`,
      { scores, comments: document.getElementById("qa-comments").value });
    QA = await api("GET", `/api/records/${encodeURIComponent(REC.call_id)}/qa`);
    renderQa(false);
    say("qa-msg", `${t("saved")}: ${t("total")} ${r.total}`);
    const row = ROWS.find((x) => x.call_id === REC.call_id);
    if (row) { row.qa_revisions = QA.history.length; renderRows(); }
  } catch (e) { say("qa-msg", errText(e), true); }
}

document.addEventListener("DOMContentLoaded", () => {
  const audio = document.getElementById("d-audio");
  audio.addEventListener("error", () => {
    if (!audio.getAttribute("src")) return;
    const msg = document.getElementById("d-audio-msg");
    audio.hidden = true;
    msg.hidden = false;
    msg.dataset.msg = "recording_unplayable";
    msg.textContent = t("recording_unplayable");
  });
  const sb = document.getElementById("search");
  document.getElementById("filters").addEventListener("submit", once(sb, search));
  const qb = document.getElementById("qa-submit");
  document.getElementById("qa-form").addEventListener("submit", once(qb, saveQa));
  signIn(["reviewer", "supervisor"], (me) => {
    ME = me;
    fillFilters();
    search();
  });
});
document.addEventListener("langchange", () => {
  if (!ME) return;
  fillFilters();
  renderRows();
  renderDetail();
  if (QA) renderQa(false);
});
