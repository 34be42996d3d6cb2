// The agent desk.  The server is the source of truth: after a reload (or a re-sign-in)
// GET /api/agents/{id} gives back the state, a pending pause and the current call with
// its screen-pop and the wrap-up saved so far.  Every submit is guarded against a
// double click here and idempotent on the server.
"use strict";
let ME = null, AGENT = null, FEED = null, CALL = null, skew = 0, fetchedAt = 0;
const SUBMITTED = new Set();  // call ids whose wrap-up was saved
const BUSY = ["reserved", "on_call", "wrap_up"];

function serverNow() { return Date.now() / 1000 + skew; }

function pauseLabel(code) {
  const r = (ME.pause_reasons || []).find((c) => c.code === code);
  return tc("pause", code, r && r.label);
}

// ------------------------------------------------------------ state
function showAgent(a) {
  AGENT = a;
  fetchedAt = Date.now();
  skew = (a.since + a.in_state_s) - Date.now() / 1000;
  const s = document.getElementById("state");
  s.textContent = t(a.state);
  s.className = `state ${a.state}`;
  s.dataset.state = a.state;
  document.getElementById("reason").textContent = a.state === "paused" ? pauseLabel(a.pause_reason) : "";
  const wish = a.pending_pause || (a.state === "paused" ? a.pause_reason : null);
  const sel = document.getElementById("pause-reason");
  if (wish && [...sel.options].some((o) => o.value === wish)) sel.value = wish;
  const pend = document.getElementById("pending");
  pend.hidden = !a.pending_pause;
  document.getElementById("pending-text").textContent =
    a.pending_pause ? `${t("pending_pause")} · ${t("pending_note")} ${pauseLabel(a.pending_pause)}` : "";
  const wrap = a.state === "wrap_up";
  document.getElementById("btn-end-wrap").disabled = !wrap;
  document.getElementById("btn-extend").disabled = !wrap;
  document.getElementById("btn-ready").disabled = a.state === "ready" && !a.pending_pause;
  document.getElementById("btn-logout").disabled = a.state === "logged_out" || a.state === "on_call";
  ring(a.state === "reserved");
  if (!BUSY.includes(a.state)) {
    document.getElementById("pop").hidden = true;  // the call is done
    if (!CALL || SUBMITTED.has(CALL)) document.getElementById("wrap").hidden = true;
  }
  renderPop();
  tick();
}

// The timers between pushes: time in state, the wrap-up countdown, the alarms.
function tick() {
  if (!AGENT) return;
  const inState = AGENT.in_state_s + (Date.now() - fetchedAt) / 1000;
  document.getElementById("timer").textContent = fmtDur(inState);
  const left = AGENT.state === "wrap_up" && AGENT.wrap_up_ends_at ? AGENT.wrap_up_ends_at - serverNow() : null;
  const wl = document.getElementById("wrap-left");
  wl.hidden = left === null;
  if (left !== null) wl.textContent = `${t("wrap_left")} ${fmtDur(left)}`;
  let alarm = left !== null && left < -5;
  if (AGENT.state === "paused") {
    const r = (ME.pause_reasons || []).find((c) => c.code === AGENT.pause_reason);
    if (r && r.limit_s && inState > r.limit_s) alarm = true;
  }
  const al = document.getElementById("alarm");
  al.hidden = !alarm;
  al.textContent = alarm ? t("over_limit") : "";
}

async function loadAgent() {
  const a = await api("GET", `/api/agents/${encodeURIComponent(ME.id)}`);
  showAgent(a);
  if (a.call) showPop(a.call);
  if (a.visit_case && (!CASE || CASE.id !== a.visit_case)) pickCase(a.visit_case, false);
  return a;
}

async function refreshStats() {
  const s = await api("GET", `/api/agents/${encodeURIComponent(ME.id)}/stats`);
  document.getElementById("stat-handled").textContent = s.handled;
  document.getElementById("stat-aht").textContent = fmtDur(s.aht_s);
  document.getElementById("stat-missed").textContent = s.missed_offers;
}

async function act(fn) {
  say("msg", "");
  try { showAgent(await fn()); } catch (e) { say("msg", errText(e), true); }
}

// ------------------------------------------------------------ the screen-pop
function ivrWords(steps) {
  return (steps || []).map((s) => {
    const where = tc("menu", s.menu);
    const to = s.to === "menu" ? tc("menu", s.name) : s.to === "intent" ? tc("intent", s.name)
      : s.to === "self_service" ? `${tc("intent", s.name)}（${ZH() ? "自助" : "self-service"}）`
      : s.to === "agent" ? (ZH() ? "人工服务" : "an agent") : s.to === "back" ? (ZH() ? "返回上一级" : "back")
      : (ZH() ? "无效按键" : "invalid key");
    return `${where} ${ZH() ? "按" : "key"} ${s.key} → ${to}`;
  }).join("；") || "–";
}

let POP = null;
function showPop(screen) {
  if (!screen) return;
  POP = screen;
  if (CALL !== screen.call_id) {
    CALL = screen.call_id;
    const code = document.getElementById("wrap-code"), notes = document.getElementById("wrap-notes");
    code.value = screen.disposition && screen.disposition !== "none" ? screen.disposition : "";
    notes.value = screen.notes || "";
    say("wrap-msg", "");
  }
  renderPop();
  loadHistory(screen);
  document.getElementById("pop").hidden = false;
  document.getElementById("wrap").hidden = false;
}

// The customer's open cases and the repeat flag (GET /api/customers/history), kept so
// that a language switch renders them again.
let HISTORY = null;  // {screen, answer} or {screen, failed: true}
async function loadHistory(screen) {
  HISTORY = null;
  const q = new URLSearchParams();
  if (screen.account) q.set("account", screen.account);
  if (screen.caller) q.set("phone", screen.caller);
  if ([...q.keys()].length) {
    q.set("intent", screen.intent || ""); q.set("exclude_call", screen.call_id);
    try { HISTORY = { screen, answer: await api("GET", "/api/customers/history?" + q) }; } catch (e) {
      HISTORY = { screen, failed: true };
    }
  }
  if (POP === screen) renderHistory();
}

function renderHistory() {
  const list = document.getElementById("pop-cases"), badge = document.getElementById("pop-repeat");
  const h = HISTORY && HISTORY.screen === POP ? HISTORY.answer : null;
  badge.hidden = !(h && h.repeat);
  if (HISTORY && HISTORY.failed) {
    list.replaceChildren(el("li", { class: "muted", text: t("cases_unknown") }));
    return;
  }
  if (h) badge.textContent = `${t("repeat_contact")}: ${t("repeat_why", { n: h.same_intent_calls.length, c: h.open_cases.length })}`;
  const open = h ? h.cases.filter((c) => h.open_cases.includes(c.id)) : [];
  list.replaceChildren(...(open.length ? open.map((c) => el("li", {},
    el("span", { text: `${c.id} · ${tc("case_type", c.type)} · ${tc("case_status", c.state)}` })))
    : [el("li", { class: "muted", text: t("cases_none") })]));
}

function renderPop() {
  const s = POP;
  if (!s) return;
  document.getElementById("pop").dataset.callId = s.call_id;
  document.getElementById("pop-id").textContent = s.call_id;
  document.getElementById("pop-caller").textContent = s.caller || "–";
  document.getElementById("pop-account").textContent = s.account || "–";
  document.getElementById("pop-queue").textContent = tc("queue", s.queue);
  document.getElementById("pop-intent").textContent = tc("intent", s.intent);
  document.getElementById("pop-ivr").textContent = ivrWords(s.ivr_steps);
  document.getElementById("pop-wait").textContent = fmtDur(s.waited_s);
  const prev = s.previous_calls || [];
  document.getElementById("pop-prev").replaceChildren(...(prev.length ? prev.map((p) =>
    el("tr", {}, el("td", { text: fmtTime(p.arrived) }), el("td", { text: tc("intent", p.intent) }),
      el("td", { text: tc("outcome", p.outcome) }), el("td", { text: tc("disposition", p.disposition) })))
    : [el("tr", {}, el("td", { colspan: 4, class: "muted", text: t("none") }))]));
  renderHistory();
  const note = document.getElementById("wrap-note");
  note.hidden = !(AGENT && !BUSY.includes(AGENT.state) && !SUBMITTED.has(s.call_id));
  note.textContent = t("call_done");
}

// Ringing: a tone made with WebAudio (no sound file) and a flashing title.
let ringTimer = null, audio = null;
const TITLE = document.title;
function beep() {
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.2, audio.currentTime);
    g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    o.connect(g).connect(audio.destination);
    o.start(); o.stop(audio.currentTime + 0.6);
  } catch (e) { /* no audio device: the title still flashes */ }
}
function ring(on) {
  document.body.classList.toggle("ringing", on);
  if (on && !ringTimer) {
    let flip = false;
    beep();
    ringTimer = setInterval(() => {
      flip = !flip;
      document.title = flip ? `🔔 ${t("incoming")}` : TITLE;
      if (flip) beep();
    }, 800);
  } else if (!on && ringTimer) {
    clearInterval(ringTimer);
    ringTimer = null;
    document.title = TITLE;
  }
}

// ------------------------------------------------------------ wrap-up
async function submitWrap() {
  const code = document.getElementById("wrap-code").value;
  if (!CALL) return;
  if (!code) { say("wrap-msg", errText({ code: "bad_disposition" }), true); return; }
  const callId = CALL;
  try {
    await api("POST", `/api/agents/${encodeURIComponent(ME.id)}/disposition`, {
      call_id: callId, code, notes: document.getElementById("wrap-notes").value,
    });
    if (AGENT && AGENT.state === "wrap_up") {
      showAgent(await api("POST", `/api/agents/${encodeURIComponent(ME.id)}/wrapup`, { action: "end", call_id: callId }));
    }
    SUBMITTED.add(callId);
    say("wrap-msg", t("wrap_saved"));
    say("msg", "");
    if (AGENT && !BUSY.includes(AGENT.state)) {
      document.getElementById("pop").hidden = true;
      document.getElementById("wrap").hidden = true;
    }
  } catch (e) { say("wrap-msg", errText(e), true); }
}

// ------------------------------------------------------------ service cases (工单)
// The IVR intent suggests the case type; the agent may change it.
const TYPE_FOR_INTENT = { complaint: "complaint", fault: "fault_repair", service: "service_application",
  suggestion: "suggestion" };
let CASES = [], CASE = null;

function fillCaseGrades() {
  const type = document.getElementById("cn-type").value;
  const info = (ME.case_types || []).find((c) => c.type === type);
  const grades = (info && info.grades) || [];
  const g = document.getElementById("cn-grade"), keep = g.value;
  g.replaceChildren(...grades.map((x) => el("option", { value: x.name, text: tc("grade", x.name, x.label) })));
  if (grades.some((x) => x.name === keep)) g.value = keep;
  document.getElementById("cn-grade-box").hidden = !grades.length;
}

function fillCaseTypes() {
  const s = document.getElementById("cn-type"), keep = s.value;
  s.replaceChildren(...(ME.case_types || []).map((c) => el("option", { value: c.type, text: tc("case_type", c.type, c.label) })));
  if (keep) s.value = keep;
  fillCaseGrades();
}

// "Open a case" from the current call: prefilled from the screen-pop.
function startCase() {
  if (!POP) return;
  document.getElementById("cn-type").value = TYPE_FOR_INTENT[POP.intent] || "enquiry";
  fillCaseGrades();
  document.getElementById("cn-account").value = POP.account || "";
  document.getElementById("cn-phone").value = POP.caller || "";
  document.getElementById("cn-call").textContent = POP.call_id;
  document.getElementById("cn-intent").textContent = tc("intent", POP.intent);
  document.getElementById("case-form").dataset.callId = POP.call_id;
  document.getElementById("case-form").dataset.intent = POP.intent || "";
  say("cn-msg", "");
  document.getElementById("case-new").hidden = false;
  document.getElementById("cn-type").focus();
}

async function submitCase() {
  const form = document.getElementById("case-form"), callId = form.dataset.callId;
  const body = {
    type: document.getElementById("cn-type").value,
    account: document.getElementById("cn-account").value.trim(),
    phone: document.getElementById("cn-phone").value.trim(),
    summary: document.getElementById("cn-summary").value,
  };
  if (!document.getElementById("cn-grade-box").hidden) body.grade = document.getElementById("cn-grade").value;
  if (callId) Object.assign(body, { call_id: callId, intent: form.dataset.intent || undefined,
    client_key: `desk:${callId}` });  // one case per call: a repeat returns the first
  try {
    const c = await api("POST", "/api/cases", body);
    say("cn-msg", `${t(c.created ? "case_created" : "case_exists")} ${c.id}`);
    await loadMyCases();
  } catch (e) { say("cn-msg", errText(e), true); }
}

function renderMyCases() {
  caseRows(document.getElementById("my-cases"), CASES, pickCase, false);
}

async function loadMyCases() {
  try {
    CASES = (await api("GET", "/api/cases")).cases;
    say("my-cases-msg", "");
  } catch (e) { say("my-cases-msg", errText(e), true); }
  renderMyCases();
}

function showCase(c, text) {
  CASE = c;
  caseDetail(document.getElementById("case-detail"), c, { role: "agent", currentCall: POP && POP.call_id,
    onChanged: (n, m) => {
    showCase(n, m);
    loadMyCases();
  } });
  if (text) say("case-msg", text);
}

async function pickCase(id, focus = true) {
  try {
    showCase(await api("GET", `/api/cases/${encodeURIComponent(id)}`));
    if (focus) document.getElementById("case-title").focus();
  } catch (e) { say("my-cases-msg", errText(e), true); }
}

// ------------------------------------------------------------ wiring
function fillSelects() {
  fillCaseTypes();
  const pr = document.getElementById("pause-reason"), keep = pr.value;
  pr.replaceChildren(...ME.pause_reasons.filter((c) => !["device_offline", "missed_call"].includes(c.code))
    .map((c) => el("option", { value: c.code, text: tc("pause", c.code, c.label) })));
  if (keep) pr.value = keep;
  const wc = document.getElementById("wrap-code"), wkeep = wc.value;
  wc.replaceChildren(el("option", { value: "", text: `— ${t("choose")} —` }),
    ...ME.dispositions.map((c) => el("option", { value: c.code, text: tc("disposition", c.code, c.label) })));
  wc.value = wkeep;
  const fq = document.getElementById("fu-queue"), fkeep = fq.value;
  fq.replaceChildren(...ME.queues.map((q) => el("option", { value: q, text: tc("queue", q) })));
  if (fkeep) fq.value = fkeep;
}

function wire() {
  const path = (p) => `/api/agents/${encodeURIComponent(ME.id)}${p}`;
  const on = (id, fn) => { const b = document.getElementById(id); b.addEventListener("click", once(b, fn)); };
  on("btn-ready", () => act(() => api("POST", path("/state"), { state: "ready" })));
  on("btn-pause", () => act(() => api("POST", path("/state"),
    { state: "paused", reason: document.getElementById("pause-reason").value })));
  on("btn-logout", () => act(() => api("POST", path("/state"), { state: "logged_out" })));
  on("btn-end-wrap", () => act(() => api("POST", path("/wrapup"), { action: "end", call_id: CALL || undefined })));
  on("btn-extend", () => act(() => api("POST", path("/wrapup"), { action: "extend", seconds: 60 })));
  on("btn-cancel-pending", () => act(() => api("DELETE", path("/pending-pause"))));
  const ws = document.getElementById("wrap-submit");
  document.getElementById("wrap-form").addEventListener("submit", once(ws, submitWrap));
  document.getElementById("btn-case-open").addEventListener("click", startCase);
  document.getElementById("cn-type").addEventListener("change", fillCaseGrades);
  const cs = document.getElementById("cn-submit");
  document.getElementById("case-form").addEventListener("submit", once(cs, submitCase));
  const fb = document.getElementById("fu-create");
  document.getElementById("fu-form").addEventListener("submit", once(fb, async () => {
    try {
      const f = await api("POST", "/api/followups", {
        queue: document.getElementById("fu-queue").value,
        number: document.getElementById("fu-number").value.trim(),
        note: document.getElementById("fu-note").value,
      });
      say("fu-msg", `${t("saved")} ${f.id}`);
    } catch (e) { say("fu-msg", errText(e), true); }
  }));
}

function onLink(state, n) {
  const b = document.getElementById("banner");
  b.className = state === "live" ? "banner" : `banner ${state}`;
  b.textContent = state === "live" ? "" : `${t(state, { n })} ${fmtTime(fetchedAt / 1000, true)}`;
  if (state === "live" && ME) {  // catch up after a gap: the state and my cases
    loadAgent().catch(() => {});
    loadMyCases();
  }
}

let wired = false;
document.addEventListener("DOMContentLoaded", () => {
  signIn(["agent"], async (me) => {
    ME = me;
    fillSelects();
    if (!wired) { wire(); wired = true; }
    await loadAgent();
    refreshStats().catch(() => {});
    loadMyCases();
    const handlers = {
      agent: () => loadAgent().catch(() => {}),
      // A return-visit call: its case with the visit-outcome form.
      offer: (o) => { showPop(o.screen); if (o.screen && o.screen.case_id) pickCase(o.screen.case_id, false); },
      // One of my cases moved (here, by a supervisor, by the server) or is due.
      case: (c) => { loadMyCases(); if (CASE && CASE.id === c.case_id) pickCase(c.case_id, false); },
      record: () => refreshStats().catch(() => {}),
    };
    if (FEED) FEED.restart(); else FEED = liveFeed(handlers, onLink);
  });
  setInterval(tick, 1000);
  setInterval(() => { if (ME) loadMyCases(); }, 60000);  // due times turn overdue
});
document.addEventListener("langchange", () => {
  if (!ME) return;
  fillSelects();
  renderMyCases();
  if (CASE) showCase(CASE);
  if (POP) document.getElementById("cn-intent").textContent = tc("intent", POP.intent);
  if (AGENT) showAgent(Object.assign({}, AGENT, { in_state_s: AGENT.in_state_s + (Date.now() - fetchedAt) / 1000 }));
});
