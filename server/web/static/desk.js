// The desk page's script (kept out of the HTML: the CSP allows no inline script).
"use strict";
let ME = null, STATE = "logged_out", stateStart = Date.now(), currentCall = null;

function showState(state, reason, inStateS) {
  STATE = state;
  stateStart = Date.now() - (inStateS || 0) * 1000;
  const s = document.getElementById("state");
  s.textContent = t(state);
  s.className = `state ${state}`;
  s.dataset.state = state;
  document.getElementById("reason").textContent = reason ? `(${reason})` : "";
  const wrap = state === "wrap_up";
  document.getElementById("btn-end-wrap").disabled = !wrap;
  document.getElementById("btn-extend").disabled = !wrap;
  if (wrap || currentCall) document.getElementById("wrap").hidden = false;
}

async function refreshStats() {
  const s = await api("GET", `/api/agents/${ME.id}/stats`);
  document.getElementById("stat-handled").textContent = s.handled;
  document.getElementById("stat-aht").textContent = fmtDur(s.aht_s);
  document.getElementById("stat-missed").textContent = s.missed_offers;
  return s;
}

async function setState(state, reason) {
  const msg = document.getElementById("msg");
  msg.textContent = "";
  try {
    const body = reason ? { state, reason } : { state };
    const a = await api("POST", `/api/agents/${ME.id}/state`, body);
    showState(a.state, a.pause_reason, a.in_state_s);
  } catch (e) { msg.textContent = `${t("error")}: ${e.message}`; }
}

function showOffer(o) {
  const s = o.screen || {};
  currentCall = s.call_id;
  document.getElementById("pop").hidden = false;
  document.getElementById("pop").dataset.callId = s.call_id;
  document.getElementById("pop-caller").textContent = s.caller || "–";
  document.getElementById("pop-account").textContent = s.account || "–";
  document.getElementById("pop-ivr").textContent =
    (s.ivr_path || []).map(([m, k]) => `${m}:${k}`).join(" → ") || "–";
  document.getElementById("pop-intent").textContent = s.intent || "–";
  document.getElementById("pop-wait").textContent = fmtDur(s.waited_s);
  const prev = s.previous_calls || [];
  document.getElementById("pop-prev").textContent = prev.length
    ? prev.map((p) => `${fmtTime(p.arrived)} ${p.intent || ""} ${p.disposition || ""}`).join("; ")
    : t("none");
  document.getElementById("wrap").hidden = false;
  document.getElementById("wrap-msg").textContent = "";
}

async function submitWrap() {
  const m = document.getElementById("wrap-msg");
  try {
    await api("POST", `/api/agents/${ME.id}/disposition`, {
      call_id: currentCall, code: document.getElementById("wrap-code").value,
      notes: document.getElementById("wrap-notes").value,
    });
    if (STATE === "wrap_up") {
      const a = await api("POST", `/api/agents/${ME.id}/wrapup`, { action: "end" });
      showState(a.state, a.pause_reason, a.in_state_s);
    }
    m.textContent = t("saved");
    document.getElementById("wrap-notes").value = "";
  } catch (e) { m.textContent = `${t("error")}: ${e.message}`; }
}

signIn(async (me) => {
  ME = me;
  const fill = (id, items) => {
    const sel = document.getElementById(id);
    sel.replaceChildren(...items.map((c) => el("option", { value: c.code, text: c.label })));
  };
  fill("pause-reason", me.pause_reasons.filter((c) => !["device_offline", "missed_call"].includes(c.code)));
  fill("wrap-code", me.dispositions);
  fill("fu-queue", me.queues.map((q) => ({ code: q, label: q })));
  const s = await refreshStats();
  showState(s.state.state, s.state.pause_reason, s.state.in_state_s);
  document.getElementById("btn-ready").onclick = () => setState("ready");
  document.getElementById("btn-pause").onclick = () =>
    setState("paused", document.getElementById("pause-reason").value);
  document.getElementById("btn-logout").onclick = () => setState("logged_out");
  document.getElementById("btn-end-wrap").onclick = async () => {
    const a = await api("POST", `/api/agents/${ME.id}/wrapup`, { action: "end" });
    showState(a.state, a.pause_reason, a.in_state_s);
  };
  document.getElementById("btn-extend").onclick = () =>
    api("POST", `/api/agents/${ME.id}/wrapup`, { action: "extend", seconds: 60 });
  document.getElementById("wrap-submit").onclick = submitWrap;
  document.getElementById("fu-create").onclick = async () => {
    const m = document.getElementById("fu-msg");
    try {
      const f = await api("POST", "/api/followups", {
        queue: document.getElementById("fu-queue").value,
        number: document.getElementById("fu-number").value.trim(),
        note: document.getElementById("fu-note").value,
      });
      m.textContent = `${t("saved")} ${f.id}`;
    } catch (e) { m.textContent = `${t("error")}: ${e.message}`; }
  };
  openFeed({
    agent: (a) => { showState(a.new, a.reason && a.new === "paused" ? a.reason : "", 0); refreshStats(); },
    offer: showOffer,
    record: () => refreshStats(),
  });
  // The per-state timer is a local display clock, not a poll: the server pushes changes.
  setInterval(() => {
    document.getElementById("timer").textContent = fmtDur((Date.now() - stateStart) / 1000);
  }, 1000);
});
document.addEventListener("langchange", () => { if (ME) showState(STATE, "", (Date.now() - stateStart) / 1000); });
