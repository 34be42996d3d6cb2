// The wallboard: queues and agents live, never stale numbers shown as live.
// The snapshot is fetched on every pushed change (coalesced) and every 10 s; the
// banner says how old the data is, and turns red (disconnected) or amber (signed
// out) when it stops being live; then the waits stop ticking.
"use strict";
let SNAP = null, fetchedAt = 0, pending = null, FEED = null, ME = null;
let LINK = "live", attempt = 0;
const SHOWN_STATES = ["ready", "on_call", "reserved", "wrap_up", "paused", "logged_out"];
const REFRESH_MS = 10000;

// The centre's headline today (GET /api/snapshot "today", from the records in Redis).
// Its words live here, beside the only page that shows them.
Object.assign(I18N.zh, {
  today_figures: "今日全中心", today_offered: "今日进线（已结束）", today_answered: "今日接通（已结束）",
  in_progress: "另有 {n} 通进行中",
  today_conn: "一拨就通率", today_sl: "今日服务水平", today_abandon: "今日放弃率",
  today_sat: "今日满意率", open_cases: "未办结工单", overdue_cases: "超时工单",
  target: "目标", today_loading: "正在从 Redis 读取今日数据……",
  today_unavailable: "今日数据暂时无法从 Redis 读取（正在重试），以下仅含本次启动后的通话：",
  sl_green: "达标", sl_amber: "接近目标（差 5 点内）", sl_red: "未达标", sl_none: "暂无数据",
});
Object.assign(I18N.en, {
  today_figures: "Whole centre today", today_offered: "Offered today (ended)",
  today_answered: "Answered today (ended)", in_progress: "+{n} in progress",
  today_conn: "Connection rate (一拨就通)", today_sl: "Service level today", today_abandon: "Abandoned today",
  today_sat: "Satisfaction today", open_cases: "Open cases", overdue_cases: "Overdue cases",
  target: "target", today_loading: "Reading today's figures from Redis…",
  today_unavailable: "Today's figures cannot be read from Redis (retrying); these count only calls since the start:",
  sl_green: "on target", sl_amber: "near (< 5 points under)", sl_red: "below target", sl_none: "no data yet",
});

function renderToday() {
  const h = SNAP.today;
  if (!h) return;
  const tile = (key, value, sub, cls) => el("div", { class: `tile ${cls || ""}`, "data-testid": key },
    el("b", { text: value }), el("span", { text: t(key) }), sub ? el("small", { text: sub }) : null);
  const pctT = (x) => `${t("target")} ${fmtPct(x)}`;
  const sl = h.service_level_status;
  const note = h.state === "ok" ? null : el("p", { class: `today-note ${h.state}`, "data-testid": "today-state",
    text: `${t(h.state === "loading" ? "today_loading" : "today_unavailable")} ${h.error || ""}` });
  document.getElementById("today").replaceChildren(
    tile("today_offered", h.offered, t("in_progress").replace("{n}", h.in_progress ?? 0)),
    tile("today_answered", h.answered),
    tile("today_conn", fmtPct(h.connection_rate), pctT(h.connection_rate_target)),
    el("div", { class: `tile sl ${sl}`, "data-testid": "today_sl", "data-status": sl },
      el("b", { text: fmtPct(h.service_level) }), el("span", { text: t("today_sl") }),
      el("small", { text: `${t(`sl_${sl}`)} · ${pctT(h.service_level_target)}` })),
    tile("today_abandon", fmtPct(h.abandon_rate), `≤ ${fmtPct(h.abandon_rate_target)}`),
    tile("today_sat", fmtPct(h.satisfaction_rate), pctT(h.satisfaction_rate_target)),
    tile("open_cases", h.open_cases ?? "–"),
    tile("overdue_cases", h.overdue_cases ?? "–", null, h.overdue_cases ? "alert" : ""),
    ...(note ? [note] : []));
}

function isLive() { return LINK === "live" && SNAP !== null; }

// Seconds to add to the snapshot's timers: only while live.
function age() { return isLive() ? (Date.now() - fetchedAt) / 1000 : 0; }

function alarmOf(a) {
  const now = SNAP.at + age();  // the server's clock, not this screen's
  if (a.state === "wrap_up" && a.wrap_up_ends_at && now > a.wrap_up_ends_at + 5) return true;
  if (a.state === "paused") {
    const r = (ME.pause_reasons || []).find((c) => c.code === a.pause_reason);
    return !!(r && r.limit_s && a.in_state_s + age() > r.limit_s);
  }
  return false;
}

function pauseLabel(code) {
  const r = (ME.pause_reasons || []).find((c) => c.code === code);
  return tc("pause", code, r && r.label);
}

function renderBanner() {
  const b = document.getElementById("banner");
  if (!SNAP) { b.textContent = ""; b.className = "banner"; return; }
  const at = fmtTime(fetchedAt / 1000, true);
  if (LINK === "live") {
    b.className = "banner live";
    b.textContent = `${t("live")} · ${t("data_age")} ${at}（${Math.round((Date.now() - fetchedAt) / 1000)} ${t("seconds_ago")}）`;
  } else {
    b.className = `banner ${LINK}`;
    b.textContent = `${t(LINK, { n: attempt })} ${at}`;
  }
  document.body.classList.toggle("stale", LINK !== "live");
}

function render() {
  renderBanner();
  if (!SNAP) return;
  renderToday();
  const extra = age();
  document.getElementById("states").replaceChildren(...SHOWN_STATES.map((s) =>
    el("div", { "data-testid": `state-${s}`, class: `tile ${s}` },
      el("b", { text: SNAP.agents_by_state[s] || 0 }), el("span", { text: t(s) }))));
  document.getElementById("queues").replaceChildren(...SNAP.queues.map((q) => {
    const longest = q.waiting ? q.longest_wait_s + extra : 0;
    const kv = [["longest", fmtDur(longest)], ["sl_today", fmtPct(q.service_level)],
      ["sl_15", fmtPct(q.service_level_15m)], ["asa", fmtDur(q.asa_s)], ["aht", fmtDur(q.aht_s)],
      ["abandoned", q.abandoned], ["needed", q.agents_needed]];
    return el("div", { class: "q", "data-queue": q.name },
      el("h3", { text: tc("queue", q.name) }),
      el("div", { class: `big${longest > q.sl_threshold_s ? " alert" : ""}`,
        "data-testid": `waiting-${q.name}`, text: q.waiting }),
      el("div", { class: "sub", text: t("waiting") }),
      el("dl", { class: "kpis" }, ...kv.flatMap(([k, v]) =>
        [el("dt", { text: t(k) }), el("dd", { "data-testid": `${k}-${q.name}`, text: v })])));
  }));
  document.getElementById("agents").replaceChildren(...SNAP.agents.map((a) => {
    const alarm = alarmOf(a);
    const detail = a.state === "paused" ? pauseLabel(a.pause_reason)
      : a.queue ? tc("queue", a.queue) : "";
    const btn = el("button", { type: "button", class: "act", "data-agent-act": a.id, text: t("actions"),
      "aria-label": `${t("actions")} ${a.id} ${a.name || ""}` });
    btn.addEventListener("click", () => openActions(a));
    return el("div", { class: `agent${alarm ? " alarmed" : ""}`, "data-agent": a.id },
      el("span", { class: "who", text: `${a.id} ${a.name || ""}` }),
      el("span", { class: `state ${a.state}`, "data-state": a.state, text: t(a.state) }),
      el("span", { class: "t", "data-testid": `in-state-${a.id}`, text: a.since ? fmtDur(a.in_state_s + extra) : "–" }),
      el("span", { class: "d", text: detail }),
      a.pending_pause ? el("span", { class: "d", text: `${t("pending_pause")}: ${pauseLabel(a.pending_pause)}` }) : null,
      alarm ? el("span", { class: "alarm", text: t("over_limit") }) : null,
      btn);
  }));
}

async function refresh() {
  clearTimeout(pending);
  pending = null;
  try {
    SNAP = await api("GET", "/api/snapshot");
    fetchedAt = Date.now();
    const d = document.getElementById("act");
    const now = d.open && TARGET && SNAP.agents.find((x) => x.id === TARGET.id);
    if (now) showTarget(now);
  } catch (e) { /* the feed's state machine shows why; the board keeps its last data */ }
  render();
}

// Every pushed change schedules one snapshot fetch (coalesced over 100 ms).
function changed() { if (!pending) pending = setTimeout(refresh, 100); }

function onLink(state, n) {
  LINK = state;
  attempt = n;
  if (state === "live") changed();
  render();
}

// ------------------------------------------------------------ supervisor actions
let TARGET = null, ACTION = null;

// The open dialog follows the agent: listen/whisper/barge only while on a call.
function showTarget(a) {
  TARGET = a;
  document.getElementById("act-title").textContent = `${t("actions")}: ${a.id} ${a.name || ""} · ${t(a.state)}`;
  document.querySelectorAll("#act [data-mode]").forEach((b) => { b.disabled = a.state !== "on_call"; });
}

function openActions(a) {
  const d = document.getElementById("act");
  showTarget(a);
  document.getElementById("act-confirm").hidden = true;
  say("act-msg", "");
  if (!d.open) d.showModal();
  d.querySelector("[data-force]").focus();
}

function ask(kind, value, label) {
  ACTION = { kind, value };
  document.getElementById("act-question").textContent =
    t("confirm_q", { agent: `${TARGET.id} ${TARGET.name || ""}`, action: label });
  document.getElementById("act-confirm").hidden = false;
  document.getElementById("act-yes").disabled = false;
  document.getElementById("act-yes").focus();
}

async function confirmed() {
  const a = TARGET, act = ACTION;
  // The box stays where it is (a second click must not land on another button);
  // only its Confirm is spent until the next action is chosen.
  document.getElementById("act-yes").disabled = true;
  try {
    if (act.kind === "mode") {
      await api("POST", "/api/supervise", { agent_id: a.id, mode: act.value });
    } else {
      const body = { action: act.value };
      if (act.value === "pause") body.reason = document.getElementById("act-reason").value;
      showTarget(await api("POST", `/api/agents/${encodeURIComponent(a.id)}/force`, body));
    }
    say("act-msg", t("done"));
    changed();
  } catch (e) { say("act-msg", errText(e), true); }
}

function wireActions() {
  const d = document.getElementById("act");
  d.querySelectorAll("[data-mode]").forEach((b) =>
    b.addEventListener("click", () => ask("mode", b.dataset.mode, t(b.dataset.mode))));
  d.querySelectorAll("[data-force]").forEach((b) =>
    b.addEventListener("click", () => ask("force", b.dataset.force, t(`force_${b.dataset.force}`))));
  const yes = document.getElementById("act-yes");
  yes.addEventListener("click", once(yes, confirmed));
  document.getElementById("act-no").addEventListener("click", () => { document.getElementById("act-confirm").hidden = true; });
  document.getElementById("act-close").addEventListener("click", () => d.close());
}

function fillReasons() {
  document.getElementById("act-reason").replaceChildren(...ME.pause_reasons
    .filter((c) => !["device_offline", "missed_call"].includes(c.code))
    .map((c) => el("option", { value: c.code, text: tc("pause", c.code, c.label) })));
}

document.addEventListener("DOMContentLoaded", () => {
  wireActions();
  signIn(["supervisor"], async (me) => {
    ME = me;
    fillReasons();
    await refresh();
    if (FEED) FEED.restart();  // signed in again: the board stays, the feed resumes
    else FEED = liveFeed({ agent: changed, call: changed, offer: changed, record: changed }, onLink);
  });
  setInterval(() => {
    document.getElementById("clock").textContent = new Date().toLocaleTimeString(ZH() ? "zh-CN" : "en-GB", { hour12: false });
    render();
  }, 1000);
  setInterval(() => { if (isLive()) refresh(); }, REFRESH_MS);
});
document.addEventListener("langchange", () => { if (ME) { fillReasons(); render(); } });
