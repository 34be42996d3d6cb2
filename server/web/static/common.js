// Shared by the pages: zh/en text, the JSON API, the live feed, small formatters.
"use strict";

const I18N = {
  zh: {
    lang: "English", signin: "登录", signout: "退出", user: "工号 / 用户名", password: "密码 / PIN",
    desk: "坐席工作台", wallboard: "监控大屏", review: "质检复核", home: "95598 热线",
    state: "状态", ready: "就绪", paused: "小休", logged_out: "签出", reserved: "振铃",
    on_call: "通话中", wrap_up: "话后处理", pause: "小休", reason: "原因",
    end_wrap: "结束话后", extend: "延长 60 秒", screen_pop: "来电弹屏", caller: "来电号码",
    account: "户号", ivr_path: "IVR 路径", intent: "诉求", waited: "排队时长",
    previous: "近 7 天来电", none: "无", wrapup_form: "话后小结", disposition: "处理结果",
    notes: "备注", save: "提交", stats: "今日统计", handled: "接听量", aht: "平均处理时长",
    missed: "未接", queue: "队列", waiting: "排队", longest: "最长等待", sl_today: "今日服务水平",
    sl_15: "15 分钟服务水平", asa: "平均应答速度", abandoned: "放弃", needed: "Erlang C 需坐席",
    agents: "坐席", time_in_state: "状态时长", filters: "筛选", from: "开始", to: "结束",
    agent: "坐席", min_handling: "处理时长 ≥ 秒", dissatisfied: "不满意", complaints: "投诉",
    long_holds: "保持 ≥ 秒", search: "查询", record: "通话记录", timeline: "时间线",
    recording: "录音", qa: "质检评分", comments: "评语", total: "总分", history: "历史",
    arrived: "来电时间", outcome: "结果", handling: "处理时长", saved: "已保存",
    error: "出错", followup: "创建回访", number: "号码", due: "时间", create: "创建",
  },
  en: {
    lang: "中文", signin: "Sign in", signout: "Sign out", user: "Agent id / user name",
    password: "Password / PIN", desk: "Agent desk", wallboard: "Wallboard", review: "QA review",
    home: "95598 hotline", state: "State", ready: "Ready", paused: "Paused",
    logged_out: "Logged out", reserved: "Ringing", on_call: "On call", wrap_up: "Wrap-up",
    pause: "Pause", reason: "Reason", end_wrap: "End wrap-up", extend: "Extend 60 s",
    screen_pop: "Incoming call", caller: "Caller", account: "Account", ivr_path: "IVR path",
    intent: "Intent", waited: "Waited", previous: "Calls in the last 7 days", none: "none",
    wrapup_form: "Wrap-up", disposition: "Disposition", notes: "Notes", save: "Submit",
    stats: "Today", handled: "Handled", aht: "AHT", missed: "Missed", queue: "Queue",
    waiting: "Waiting", longest: "Longest wait", sl_today: "SL today", sl_15: "SL 15 min",
    asa: "ASA", abandoned: "Abandoned", needed: "Erlang C agents needed", agents: "Agents",
    time_in_state: "In state", filters: "Filters", from: "From", to: "To", agent: "Agent",
    min_handling: "Handling ≥ s", dissatisfied: "Dissatisfied", complaints: "Complaints",
    long_holds: "Hold ≥ s", search: "Search", record: "Record", timeline: "Timeline",
    recording: "Recording", qa: "QA score", comments: "Comments", total: "Total",
    history: "History", arrived: "Arrived", outcome: "Outcome", handling: "Handling",
    saved: "Saved", error: "Error", followup: "Create follow-up", number: "Number", due: "Due",
    create: "Create",
  },
};

let LANG = localStorage.getItem("lang") || "zh";

function t(key) {
  return (I18N[LANG] && I18N[LANG][key]) || I18N.en[key] || key;
}

function applyI18n() {
  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-ph]").forEach((el) => { el.placeholder = t(el.dataset.i18nPh); });
}

function toggleLang() {
  LANG = LANG === "zh" ? "en" : "zh";
  localStorage.setItem("lang", LANG);
  applyI18n();
  document.dispatchEvent(new Event("langchange"));
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    const err = new Error((data && data.error) || String(r.status));
    err.status = r.status;
    throw err;
  }
  return data;
}

// Server-Sent Events: handlers by event name; the browser reconnects by itself.
function openFeed(handlers) {
  const es = new EventSource("/api/feed");
  for (const [name, fn] of Object.entries(handlers)) {
    es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  }
  return es;
}

function fmtDur(s) {
  if (s === null || s === undefined) return "–";
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(2, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

function fmtPct(x) {
  return x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`;
}

function fmtTime(epoch) {
  return epoch ? new Date(epoch * 1000).toLocaleString(LANG === "zh" ? "zh-CN" : "en-GB") : "–";
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// The sign-in form every page starts with; resolves with /api/me once signed in.
async function signIn(onSignedIn) {
  const form = document.getElementById("login");
  const show = (me) => {
    form.hidden = true;
    document.getElementById("main").hidden = false;
    document.getElementById("who").textContent = `${me.name} (${me.id})`;
    onSignedIn(me);
  };
  try {
    show(await api("GET", "/api/me"));
    return;
  } catch (e) { /* not signed in yet */ }
  form.hidden = false;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const msg = document.getElementById("login-msg");
    msg.textContent = "";
    try {
      await api("POST", "/api/login", {
        username: document.getElementById("login-user").value.trim(),
        password: document.getElementById("login-pass").value,
      });
      show(await api("GET", "/api/me"));
    } catch (e) {
      msg.textContent = `${t("error")}: ${e.message}`;
    }
  });
}

async function signOut() {
  try { await api("POST", "/api/logout"); } finally { location.reload(); }
}

// Buttons say what they do with data-action (the CSP allows no onclick="...").
document.addEventListener("DOMContentLoaded", () => {
  applyI18n();
  const actions = { lang: toggleLang, signout: signOut };
  document.querySelectorAll("[data-action]").forEach((b) => {
    b.addEventListener("click", () => actions[b.dataset.action]());
  });
});
