// Service cases (工单) on the desk and the cases page: the list's rows and one case's
// details with the actions this role may take.  The server decides (the transition
// table, who may do what); the buttons offered here are only the likely next steps.
"use strict";

// Next steps by state: an agent on their own case; a supervisor also these.
const AGENT_STEPS = {
  new: ["accept"], accepted: ["start"], in_progress: ["resolve"], reopened: ["start"],
  resolved: ["schedule_visit"], return_visit: [], closed: [],
};
const SUPERVISOR_STEPS = {
  new: ["reassign", "escalate"], accepted: ["reassign", "escalate"],
  in_progress: ["reassign", "escalate"], reopened: ["reassign", "escalate"],
  resolved: ["reopen", "reassign", "escalate"], return_visit: ["reopen", "reassign", "escalate"],
  closed: ["reopen"],
};

function caseSteps(c, role) {
  if (role === "reviewer") return [];
  const steps = [...(AGENT_STEPS[c.state] || [])];
  if (role === "supervisor") steps.push(...(SUPERVISOR_STEPS[c.state] || []));
  if (c.state !== "closed") steps.push("note");
  steps.push("link_call");  // a later call about the case (a closed one too: evidence)
  return steps;
}

function caseDue(c) {
  if (!c.due_at) return "–";
  return c.overdue ? `${fmtTime(c.due_at)} · ${t("overdue")}` : fmtTime(c.due_at);
}

// One row; the id is a button (keyboard: Tab to it, Enter opens the details).
function caseRow(c, onPick, withOwner) {
  const open = el("button", { type: "button", class: "link", "data-case": c.id, text: c.id });
  open.addEventListener("click", () => onPick(c.id));
  return el("tr", { "data-case-row": c.id, class: c.overdue ? "overdue" : null },
    el("td", {}, open),
    el("td", { text: tc("case_type", c.type) }),
    el("td", { text: c.grade ? tc("grade", c.grade) : "–" }),
    el("td", { "data-testid": "case-state", text: tc("case_status", c.state) }),
    withOwner ? el("td", { text: c.owner || "–" }) : null,
    el("td", { class: c.overdue ? "error" : null, text: caseDue(c) }));
}

function caseRows(tbody, cases, onPick, withOwner) {
  tbody.replaceChildren(...(cases.length ? cases.map((c) => caseRow(c, onPick, withOwner))
    : [el("tr", {}, el("td", { colspan: withOwner ? 6 : 5, class: "muted", text: t("no_cases") }))]));
}

function labelled(key, control) {
  return el("label", {}, el("span", { text: t(key) }), control);
}

function toLocalInput(epoch) {
  const d = new Date(epoch * 1000);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}

// Renders case `c` into `box` (a section).  opts: role, agents ([{id, name}] for
// reassign), currentCall (the desk's call id: link_call's default), onChanged(case)
// after a successful action.
function caseDetail(box, c, opts) {
  const facts = el("dl", { class: "kv" },
    el("dt", { text: t("case_id") }), el("dd", { "data-testid": "case-id", text: c.id }),
    el("dt", { text: t("case_status") }), el("dd", { "data-testid": "case-state", text: tc("case_status", c.state) }),
    el("dt", { text: t("case_type") }), el("dd", { text: tc("case_type", c.type) }),
    el("dt", { text: t("grade") }), el("dd", { text: c.grade ? tc("grade", c.grade) : "–" }),
    el("dt", { text: t("account") }), el("dd", { text: c.account || "–" }),
    el("dt", { text: t("phone") }), el("dd", { text: c.phone || "–" }),
    el("dt", { text: t("owner") }), el("dd", { text: c.owner || "–" }),
    el("dt", { text: t("responsible") }), el("dd", { text: c.responsible || "–" }),
    el("dt", { text: t("due_at") }), el("dd", { class: c.overdue ? "error" : null, text: caseDue(c) }),
    el("dt", { text: t("summary") }), el("dd", { text: c.summary || "–" }),
    el("dt", { text: t("calls") }), el("dd", { text: (c.call_ids || []).join(", ") || "–" }));
  const audit = el("table", {}, el("thead", {}, el("tr", {},
    el("th", { text: t("time") }), el("th", { text: t("who") }), el("th", { text: t("case_action") }),
    el("th", { text: t("case_status") }), el("th", { text: t("note") }))),
    el("tbody", {}, ...(c.audit || []).map((a) => el("tr", {},
      el("td", { text: fmtTime(a.at) }), el("td", { text: a.actor }), el("td", { text: tc("case_input", a.input) }),
      el("td", { text: tc("case_status", a.to_state) }), el("td", { text: a.note || "" })))));
  const parts = [el("h2", { id: "case-title", tabindex: "-1", text: `${t("case_detail")} ${c.id}` }), facts];
  const msg = el("p", { id: "case-msg", role: "status", "aria-live": "polite" });
  const steps = caseSteps(c, opts.role);
  if (steps.length) parts.push(actionForm(c, steps, opts, msg));
  if (c.state === "return_visit" && opts.role !== "reviewer") parts.push(visitForm(c, opts, msg));
  if (opts.role === "reviewer") parts.push(el("p", { class: "muted", text: t("read_only") }));
  parts.push(msg, el("h3", { text: t("audit_trail") }), audit);
  box.replaceChildren(...parts);
  box.hidden = false;
}

function actionForm(c, steps, opts, msg) {
  const input = el("select", { id: "case-input" }, ...steps.map((s) => el("option", { value: s, text: tc("case_input", s) })));
  const note = el("input", { id: "case-note", size: 30 });
  const when = el("input", { id: "case-visit-at", type: "datetime-local", value: toLocalInput(Date.now() / 1000 + 3600) });
  const whenBox = labelled("visit_at", when);
  const owner = el("select", { id: "case-owner" }, ...(opts.agents || []).map((a) =>
    el("option", { value: a.id, text: `${a.id} ${a.name || ""}`, selected: a.id === c.owner ? "selected" : null })));
  const ownerBox = labelled("owner", owner);
  const call = el("input", { id: "case-call", size: 24, value: opts.currentCall || "" });
  const callBox = labelled("call_id", call);
  const button = el("button", { id: "case-apply", class: "primary", text: t("apply") });
  const form = el("form", { id: "case-act", class: "row", novalidate: "" },
    labelled("case_action", input), whenBox, ownerBox, callBox, labelled("note", note), button);
  const sync = () => {
    whenBox.hidden = input.value !== "schedule_visit";
    ownerBox.hidden = input.value !== "reassign";
    callBox.hidden = input.value !== "link_call";
  };
  input.addEventListener("change", sync);
  sync();
  form.addEventListener("submit", once(button, async () => {
    const body = { input: input.value, note: note.value };
    if (input.value === "schedule_visit") body.visit_at = new Date(when.value).getTime() / 1000;
    if (input.value === "reassign") body.owner = owner.value;
    if (input.value === "link_call") body.call_id = call.value.trim();
    try {
      const changed = await api("POST", `/api/cases/${encodeURIComponent(c.id)}/transition`, body);
      opts.onChanged(changed, t("saved"));
    } catch (e) { msg.textContent = errText(e); msg.className = "error"; }
  }));
  return form;
}

function visitForm(c, opts, msg) {
  const reached = el("input", { id: "visit-reached", type: "checkbox", checked: "checked" });
  const solved = el("input", { id: "visit-solved", type: "checkbox", checked: "checked" });
  const sat = el("select", { id: "visit-satisfaction" }, ...[3, 2, 1].map((n) =>
    el("option", { value: String(n), text: tc("case_satisfaction", n) })));
  const reason = el("input", { id: "visit-reason", size: 24 });
  const button = el("button", { id: "visit-save", text: t("save_visit") });
  const form = el("form", { id: "case-visit", class: "row", novalidate: "" },
    el("strong", { text: t("visit_outcome") }), labelled("reached", reached), labelled("solved", solved),
    labelled("satisfaction", sat), labelled("visit_reason", reason), button);
  const sync = () => { solved.disabled = sat.disabled = reason.disabled = !reached.checked; };
  reached.addEventListener("change", sync);
  sync();
  form.addEventListener("submit", once(button, async () => {
    const body = reached.checked ? { reached: true, resolved: solved.checked,
      satisfaction: Number(sat.value), reason: reason.value } : { reached: false };
    try {
      const changed = await api("POST", `/api/cases/${encodeURIComponent(c.id)}/visit`, body);
      opts.onChanged(changed, t("saved"));
    } catch (e) { msg.textContent = errText(e); msg.className = "error"; }
  }));
  return form;
}
