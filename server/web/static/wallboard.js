// The wallboard page's script (kept out of the HTML: the CSP allows no inline script).
"use strict";
let SNAP = null, fetchedAt = 0, pending = null;
const SHOWN_STATES = ["ready", "on_call", "reserved", "wrap_up", "paused", "logged_out"];

function render() {
  if (!SNAP) return;
  const age = (Date.now() - fetchedAt) / 1000;  // tick waits and timers between pushes
  document.getElementById("states").replaceChildren(...SHOWN_STATES.map((s) =>
    el("div", { "data-testid": `state-${s}` }, el("b", { text: SNAP.agents_by_state[s] || 0 }), t(s))));
  document.getElementById("queues").replaceChildren(...SNAP.queues.map((q) => {
    const longest = q.waiting ? q.longest_wait_s + age : 0;
    const kv = [["longest", fmtDur(longest)], ["sl_today", fmtPct(q.service_level)],
      ["sl_15", fmtPct(q.service_level_15m)], ["asa", fmtDur(q.asa_s)], ["aht", fmtDur(q.aht_s)],
      ["abandoned", q.abandoned], ["needed", q.agents_needed]];
    return el("div", { class: "q", "data-queue": q.name },
      el("h2", { text: q.name }),
      el("div", { class: `big${longest > q.sl_threshold_s ? " alert" : ""}`,
        "data-testid": `waiting-${q.name}`, text: q.waiting }),
      el("div", { class: "muted", text: t("waiting") }),
      el("div", { class: "kpis" }, ...kv.flatMap(([k, v]) =>
        [el("span", { text: t(k) }), el("span", { "data-testid": `${k}-${q.name}`, text: v })])));
  }));
  document.getElementById("agents").replaceChildren(...SNAP.agents
    .filter((a) => a.state !== "logged_out")
    .map((a) => el("tr", { "data-agent": a.id },
      el("td", { text: a.id }), el("td", { text: a.name || "" }),
      el("td", {}, el("span", { class: `state ${a.state}`, text: t(a.state) })),
      el("td", { text: fmtDur(a.in_state_s + age) }))));
}

async function refresh() {
  pending = null;
  SNAP = await api("GET", "/api/snapshot");
  fetchedAt = Date.now();
  render();
}

// Every pushed change schedules one snapshot fetch (coalesced over 100 ms).
function changed() {
  if (!pending) pending = setTimeout(refresh, 100);
}

signIn(async () => {
  await refresh();
  const feed = openFeed({ agent: changed, call: changed, offer: changed, record: changed });
  feed.addEventListener("open", changed);  // after a reconnect, catch up at once
  setInterval(() => { render(); document.getElementById("clock").textContent = new Date().toLocaleTimeString(); }, 1000);
});
document.addEventListener("langchange", render);
