// The review page's script (kept out of the HTML: the CSP allows no inline script).
"use strict";
let CURRENT = null;

async function search(ev) {
  if (ev) ev.preventDefault();
  const f = new FormData(document.getElementById("filters"));
  const q = new URLSearchParams();
  for (const [k, v] of f.entries()) {
    if (v === "" || v === null) continue;
    if (k === "from" || k === "to") q.set(k, String(new Date(v).getTime() / 1000));
    else if (v === "on") q.set(k, "true");
    else q.set(k, v);
  }
  const data = await api("GET", `/api/records?${q}`);
  document.getElementById("count").textContent = `${data.records.length} / ${data.total}`;
  document.getElementById("rows").replaceChildren(...data.records.map((r) => {
    const tr = el("tr", { class: "clickable", "data-call": r.call_id },
      ...[fmtTime(r.arrived), r.caller, r.queues.join(","), r.agent_id || "–", r.intent || "–",
        r.disposition || "–", fmtDur(r.handling_s), r.outcome || "–"].map((v) => el("td", { text: v })));
    tr.onclick = () => show(r.call_id);
    return tr;
  }));
}

async function show(callId) {
  const r = await api("GET", `/api/records/${encodeURIComponent(callId)}`);
  CURRENT = callId;
  document.getElementById("detail").hidden = false;
  document.getElementById("d-id").textContent = callId;
  const d = r.durations;
  const kv = [["caller", r.caller], ["account", r.account], ["intent", r.intent],
    ["queue", r.queues.join(", ")], ["agent", r.agent_id], ["disposition", r.disposition],
    ["notes", r.notes], ["outcome", r.outcome], ["ivr_path", r.ivr_path.map((p) => p.join(":")).join(" → ")],
    ["waited", fmtDur(d.queue_wait_s)], ["handling", fmtDur(d.handling_s)], ["aht", `talk ${fmtDur(d.talk_s)} · hold ${fmtDur(d.hold_s)} · acw ${fmtDur(d.acw_s)}`]];
  document.getElementById("d-kv").replaceChildren(...kv.flatMap(([k, v]) =>
    [el("dt", { text: t(k) }), el("dd", { text: v === null || v === undefined || v === "" ? "–" : v })]));
  const audio = document.getElementById("d-audio");
  if (r.recording_url) audio.src = r.recording_url; else audio.removeAttribute("src");
  const t0 = r.timeline.length ? r.timeline[0][0] : 0;
  document.getElementById("d-timeline").replaceChildren(...r.timeline.map(([ts, kind, det]) =>
    el("tr", {}, el("td", { text: `+${(ts - t0).toFixed(1)}s` }), el("td", { text: kind }),
      el("td", { class: "muted", text: JSON.stringify(det) }))));
  await showQa();
}

async function showQa() {
  const qa = await api("GET", `/api/records/${encodeURIComponent(CURRENT)}/qa`);
  const cur = qa.current ? qa.current.scores : {};
  document.getElementById("qa-criteria").replaceChildren(...qa.form.map((c) =>
    el("tr", {}, el("td", { text: c.label[LANG] || c.id }), el("td", { class: "muted", text: `×${c.weight}` }),
      el("td", {}, el("input", { type: "number", min: 0, max: c.max, name: c.id,
        value: cur[c.id] ?? c.max, class: "w4" })), el("td", { class: "muted", text: `/ ${c.max}` }))));
  document.getElementById("qa-history").replaceChildren(...qa.history.map((h) =>
    el("li", { text: `#${h.revision} ${fmtTime(h.at)} ${h.reviewer}: ${t("total")} ${h.total} ${h.comments || ""}` })));
}

async function saveQa(ev) {
  ev.preventDefault();
  const scores = {};
  document.querySelectorAll("#qa-criteria input").forEach((i) => { scores[i.name] = parseInt(i.value, 10); });
  const m = document.getElementById("qa-msg");
  try {
    const r = await api("POST", `/api/records/${encodeURIComponent(CURRENT)}/qa`,
      { scores, comments: document.getElementById("qa-comments").value });
    m.textContent = `${t("saved")}: ${t("total")} ${r.total}`;
    await showQa();
  } catch (e) { m.textContent = `${t("error")}: ${e.message}`; }
}

signIn(() => {
  document.getElementById("filters").addEventListener("submit", search);
  document.getElementById("qa-form").addEventListener("submit", saveQa);
  search();
});
