// Shared by the pages: zh/en text, codes in words, the JSON API with translated errors,
// the live feed with reconnection, sign-in, small formatters.  No inline scripts: the
// pages load this file and their own (wallboard.js, desk.js, review.js).
"use strict";

// Terms, kept consistent: 暂停 is the state and the button, 小休 only the "break"
// reason; an agent 上线/下线 (logs on/off the queues), a person 登录/退出登录 (the page).
const I18N = {
  zh: {
    lang: "English", signin: "登录", signout: "退出登录", user: "工号 / 用户名", password: "密码 / PIN",
    desk: "坐席工作台", wallboard: "监控大屏", review: "质检复核", home: "95598 供电服务热线",
    state: "状态", ready: "就绪", paused: "暂停", logged_out: "已下线", reserved: "振铃中",
    on_call: "通话中", wrap_up: "话后处理", pause: "暂停", logoff: "下线", reason: "暂停原因",
    end_wrap: "结束话后处理", extend: "延长 60 秒", screen_pop: "来电信息", caller: "来电号码",
    account: "户号", ivr_path: "语音导航路径", intent: "诉求", waited: "排队时长",
    previous: "近 7 天来电", none: "无", wrapup_form: "话后小结", disposition: "处理结果",
    notes: "备注", save: "提交", stats: "今日统计", handled: "接听量", aht: "平均处理时长",
    missed: "未接", queue: "队列", waiting: "排队中", longest: "最长等待", sl_today: "今日服务水平",
    sl_15: "15 分钟服务水平", asa: "平均应答时长", abandoned: "放弃", needed: "Erlang C 需坐席",
    agents: "坐席", time_in_state: "状态时长", filters: "筛选", from: "开始时间", to: "结束时间",
    agent: "坐席", min_handling: "处理时长 ≥ 秒", dissatisfied: "只看不满意", complaints: "只看投诉",
    long_holds: "保持时长 ≥ 秒", search: "查询", record: "通话记录", timeline: "时间线",
    recording: "录音", qa: "质检评分", comments: "评语", total: "总分", history: "评分历史",
    arrived: "来电时间", outcome: "结果", handling: "处理时长", saved: "已保存",
    error: "出错", followup: "创建回访", number: "号码", due: "时间", create: "创建",
    any: "全部", choose: "请选择", reviewed: "已质检", not_reviewed: "未质检",
    no_recording: "此通话没有录音。", recording_missing: "录音文件不可用（可能已过保存期）。",
    recording_unplayable: "录音文件无法播放。", breakdown: "时长构成", fill_login: "请输入工号/用户名和密码。",
    running_total: "当前总分", fill_all: "请为每一项打分后再提交。", time: "时间", event: "事件",
    details: "详情", pending_pause: "待暂停", pending_note: "本次通话和话后处理结束后暂停：",
    cancel_pending: "取消待暂停", wrap_left: "话后剩余", over_limit: "已超时",
    limit: "上限", cases: "服务工单", cases_none: "该客户没有未办结的工单。", repeat_contact: "重复来电",
    repeat_why: "近期同一诉求来电 {n} 次，未办结工单 {c} 件", cases_unknown: "工单信息暂不可用。",
    call_id: "通话编号", call_done: "通话已结束，请提交话后小结。", signed_in_as: "当前登录",
    wrong_role: "此页面不适用于您的角色", go_to: "请前往", role_agent: "坐席", role_supervisor: "班长",
    role_reviewer: "质检员", data_age: "数据更新于", seconds_ago: "秒前", disconnected: "连接已断开，正在重连（第 {n} 次）……以下数据停留在",
    signed_out: "登录已失效，请重新登录。以下数据停留在", live: "实时", reconnected: "已重新连接",
    actions: "操作", listen: "监听", whisper: "耳语", barge: "强插", force_pause: "强制暂停",
    force_ready: "强制就绪", force_logout: "强制下线", confirm: "确认", cancel: "取消",
    confirm_q: "确认对坐席 {agent} 执行「{action}」？", done: "已完成", to_my_phone: "将呼叫您的话机",
    close: "关闭", incoming: "来电！", main_nav: "页面", today: "今日", talk: "通话", hold: "保持",
    acw: "话后", queue_name: "队列", satisfaction: "满意度", wrap_saved: "话后小结已保存",
    agents_by_state: "坐席状态", status: "状态信息",
    case_open: "开工单", case_new: "新建工单", case_type: "工单类型", grade: "等级", phone: "电话",
    summary: "摘要", case_created: "工单已创建", case_exists: "本通话已有工单", my_cases: "我的在办工单",
    case_id: "工单号", due_at: "时限", overdue: "已超时", overdue_only: "只看超时", owner: "跟进人",
    responsible: "责任人", apply: "执行", case_action: "处理", note: "说明", visit_at: "回访时间",
    visit_outcome: "回访结果", reached: "已联系到客户", solved: "问题已解决", save_visit: "记录回访",
    audit_trail: "处理记录", no_cases: "没有工单", refresh: "刷新", read_only: "只读",
    created: "创建时间", calls: "关联通话", case_detail: "工单详情", case_status: "工单状态",
    case_list: "工单列表", open_cases: "在办工单", who: "处理人", visits: "回访记录",
    visit_reason: "原因",
    reports: "服务报表",
  },
  en: {
    lang: "中文", signin: "Sign in", signout: "Sign out", user: "Agent id / user name",
    password: "Password / PIN", desk: "Agent desk", wallboard: "Wallboard", review: "QA review",
    home: "95598 power supply hotline", state: "State", ready: "Ready", paused: "Paused",
    logged_out: "Logged off", reserved: "Ringing", on_call: "On call", wrap_up: "Wrap-up",
    pause: "Pause", logoff: "Log off", reason: "Pause reason", end_wrap: "End wrap-up",
    extend: "Extend 60 s", screen_pop: "Caller", caller: "Caller number", account: "Account",
    ivr_path: "IVR path", intent: "Intent", waited: "Waited", previous: "Calls in the last 7 days",
    none: "none", wrapup_form: "Wrap-up", disposition: "Disposition", notes: "Notes",
    save: "Submit", stats: "Today", handled: "Handled", aht: "AHT", missed: "Missed",
    queue: "Queue", waiting: "Waiting", longest: "Longest wait", sl_today: "SL today",
    sl_15: "SL 15 min", asa: "ASA", abandoned: "Abandoned", needed: "Erlang C agents needed",
    agents: "Agents", time_in_state: "In state", filters: "Filters", from: "From", to: "To",
    agent: "Agent", min_handling: "Handling ≥ s", dissatisfied: "Dissatisfied only",
    complaints: "Complaints only", long_holds: "Hold ≥ s", search: "Search", record: "Record",
    timeline: "Timeline", recording: "Recording", qa: "QA score", comments: "Comments",
    total: "Total", history: "Score history", arrived: "Arrived", outcome: "Outcome",
    handling: "Handling", saved: "Saved", error: "Error", followup: "Create follow-up",
    number: "Number", due: "Due", create: "Create", any: "Any", choose: "Choose",
    reviewed: "Reviewed", not_reviewed: "Not reviewed", no_recording: "This call has no recording.",
    recording_missing: "The recording file is not available (past retention?).",
    recording_unplayable: "The recording file cannot be played.", breakdown: "Time split",
    fill_login: "Enter your agent id or user name and your password.",
    running_total: "Running total", fill_all: "Score every criterion before submitting.",
    time: "Time", event: "Event", details: "Details", pending_pause: "Pause pending",
    pending_note: "Pause after this call and its wrap-up:", cancel_pending: "Cancel pending pause",
    wrap_left: "Wrap-up left", over_limit: "over the limit", limit: "limit", cases: "Service cases",
    cases_none: "The caller has no open case.", repeat_contact: "Repeat contact",
    repeat_why: "{n} recent calls with the same intent, {c} open cases", cases_unknown: "Cases cannot be shown now.",
    call_id: "Call id", call_done: "The call has ended: please submit the wrap-up.",
    signed_in_as: "Signed in as", wrong_role: "This page is not for your role", go_to: "Go to",
    role_agent: "agent", role_supervisor: "supervisor", role_reviewer: "reviewer",
    data_age: "Data as of", seconds_ago: "s ago",
    disconnected: "Disconnected, reconnecting (attempt {n})… The figures below are from",
    signed_out: "Your session has ended: please sign in again. The figures below are from",
    live: "Live", reconnected: "Reconnected", actions: "Actions", listen: "Listen",
    whisper: "Whisper", barge: "Barge in", force_pause: "Force pause", force_ready: "Force ready",
    force_logout: "Force log off", confirm: "Confirm", cancel: "Cancel",
    confirm_q: "Really “{action}” agent {agent}?", done: "Done", to_my_phone: "rings your phone",
    close: "Close", incoming: "Incoming call!", main_nav: "Pages", today: "Today", talk: "talk",
    hold: "hold", acw: "after-call work", queue_name: "Queue", satisfaction: "Satisfaction",
    wrap_saved: "Wrap-up saved", agents_by_state: "Agents by state", status: "Status",
    case_open: "Open a case", case_new: "New case", case_type: "Case type", grade: "Grade",
    phone: "Phone", summary: "Summary", case_created: "Case opened",
    case_exists: "This call already has a case", my_cases: "My open cases", case_id: "Case",
    due_at: "Due", overdue: "overdue", overdue_only: "Overdue only", owner: "Owner",
    responsible: "Responsible", apply: "Apply", case_action: "Action", note: "Note",
    visit_at: "Visit at", visit_outcome: "Return-visit outcome", reached: "Customer reached",
    solved: "Problem solved", save_visit: "Record the visit", audit_trail: "Audit trail",
    no_cases: "No cases", refresh: "Refresh", read_only: "Read only", created: "Opened",
    calls: "Calls", case_detail: "Case details", case_status: "Case status", case_list: "Cases",
    open_cases: "Open cases", who: "By", visits: "Return visits", visit_reason: "Reason",
    reports: "Reports",
  },
};

// Codes from the config and the records, in words.  Unknown codes fall back to the
// label the server sent (config labels are Chinese) and then to the code itself.
const CODES = {
  pause: {
    break: ["小休", "Short break"], meal: ["用餐", "Meal"], training: ["培训", "Training"],
    meeting: ["会议", "Meeting"], device_offline: ["话机离线", "Phone offline"],
    missed_call: ["未接来电", "Missed calls"],
  },
  disposition: {
    resolved: ["已解决", "Resolved"], work_order: ["已派工单", "Work order raised"],
    transferred: ["已转接", "Transferred"], callback_scheduled: ["已约回访", "Follow-up booked"],
    info_given: ["咨询已答复", "Information given"], no_action: ["无需处理", "No action needed"],
    none: ["未填写", "Not set"],
  },
  intent: {
    fault: ["故障报修", "Faults and outages"], billing: ["电费", "Bills and payment"],
    service: ["业务办理", "Service applications"], complaint: ["投诉举报", "Complaints and reports"],
    suggestion: ["意见建议", "Suggestions and praise"], general: ["综合咨询", "General enquiries"],
    english: ["英语服务", "English service"],
  },
  menu: {
    main: ["主菜单", "Main menu"], billing: ["电费", "Bills"], service: ["业务办理", "Services"],
    complaints: ["投诉举报", "Complaints"],
  },
  queue: {
    general: ["综合", "General"], fault: ["故障报修", "Faults"], billing: ["电费", "Billing"],
    service: ["业务办理", "Services"], complaints: ["投诉举报", "Complaints"],
    suggestions: ["意见建议", "Suggestions"], english: ["英语", "English"],
  },
  outcome: {
    answered: ["已接听", "Answered"], abandoned: ["放弃", "Abandoned"],
    deflected: ["停电公告已答复", "Answered by outage notice"], self_service: ["自助服务", "Self-service"],
    callback: ["已约回电", "Callback"], overflowed: ["溢出", "Overflowed"],
    system_failure: ["系统故障", "System failure"], ivr_hangup: ["语音导航中挂机", "Hung up in IVR"],
    no_answer: ["未接听", "No answer"], rejected: ["拒接", "Rejected"], cancelled: ["已取消", "Cancelled"],
    agent_hung_up: ["坐席挂机", "Agent hung up"],
  },
  event: {
    arrived: ["来电", "Arrived"], ivr_end: ["导航结束", "IVR finished"], enqueued: ["进入队列", "Queued"],
    offer: ["分配坐席", "Offered to agent"], answered: ["接听", "Answered"], hold_start: ["开始保持", "Hold"],
    hold_end: ["结束保持", "Hold ended"], bridge_end: ["通话结束", "Talk ended"],
    wrap_up_end: ["话后处理结束", "Wrap-up ended"], survey: ["满意度评价", "Survey"],
    abandoned: ["放弃", "Abandoned"], overflow: ["溢出", "Overflow"],
    callback_requested: ["请求回电", "Callback requested"], ended: ["结束", "Ended"],
    case_owner: ["工单跟进人优先", "Case owner first"],
  },
  satisfaction: {
    satisfied: ["满意", "Satisfied"], fairly_satisfied: ["较满意", "Fairly satisfied"],
    dissatisfied: ["不满意", "Dissatisfied"],
  },
  party: { caller: ["客户", "caller"], agent: ["坐席", "agent"], system: ["系统", "system"] },
  case_type: {
    complaint: ["投诉", "Complaint"], report: ["举报", "Report"], fault_repair: ["故障报修", "Fault repair"],
    service_application: ["业务办理", "Service application"], enquiry: ["咨询", "Enquiry"],
    suggestion: ["意见建议/表扬", "Suggestion or praise"],
  },
  case_status: {
    new: ["新建", "New"], accepted: ["已受理", "Accepted"], in_progress: ["处理中", "In progress"],
    resolved: ["已办结", "Resolved"], return_visit: ["待回访", "Return visit"], closed: ["已关闭", "Closed"],
    reopened: ["已重开", "Reopened"],
  },
  case_input: {
    open: ["创建", "Opened"], accept: ["受理", "Accept"], start: ["开始处理", "Start"], resolve: ["办结", "Resolve"],
    schedule_visit: ["预约回访", "Book the return visit"], note: ["添加说明", "Add a note"],
    link_call: ["关联通话", "Link a call"], reassign: ["改派", "Reassign"], escalate: ["升级", "Escalate"],
    reopen: ["重开", "Reopen"], remind: ["到期提醒", "Reminded"], visit_confirmed: ["回访：已解决", "Visit: solved"],
    visit_unresolved: ["回访：未解决", "Visit: not solved"], visit_failed: ["回访：未联系上", "Visit: not reached"],
    visit_gave_up: ["回访：多次未联系上", "Visit: given up"],
  },
  grade: { general: ["一般", "General"], important: ["重要", "Important"], major: ["重大", "Major"] },
  case_satisfaction: { 1: ["不满意", "Dissatisfied"], 2: ["较满意", "Fairly satisfied"], 3: ["满意", "Satisfied"] },
  key: {
    queue: ["队列", "queue"], agent: ["坐席", "agent"], outcome: ["结果", "outcome"],
    reason: ["原因", "reason"], language: ["语种", "language"], intent: ["诉求", "intent"],
    ring_start: ["振铃开始", "ringing from"], hung_up_by: ["挂机方", "hung up by"],
    satisfaction: ["满意度", "satisfaction"], to: ["转至", "to"], from: ["来自", "from"],
    disposition: ["处理结果", "disposition"], answer: ["评价", "answer"],
    case: ["工单", "case"], case_owner: ["跟进人优先", "case owner first"], until: ["直至", "until"],
  },
};

// Server error codes (docs/openapi.yaml) in words; by HTTP status when a code is new.
const ERRORS = {
  bad_credentials: ["工号或密码错误。", "Wrong name or PIN/password."],
  rate_limited: ["登录失败次数过多，请 {s} 秒后再试。", "Too many failed sign-ins; try again in {s} s."],
  busy: ["服务器正在核验其他登录，请 {s} 秒后再试。", "The server is busy checking other sign-ins; try again in {s} s."],
  phone_refused: ["监听只能接到您本人的话机，请求中不能指定话机。", "Supervision rings only your own phone; the request may not name one."],
  no_device: ["您在 agents.yaml 中没有配置话机，无法监听。", "You have no phone in agents.yaml, so supervision cannot ring you."],
  wrong_phone: ["话机与工号不符。", "That phone is not this agent's."],
  not_signed_in: ["未登录或登录已失效，请重新登录。", "Not signed in, or the session has ended."],
  forbidden: ["您的角色无权执行此操作。", "Your role may not do this."],
  not_found: ["未找到。", "Not found."],
  no_such_call: ["找不到这通电话（可能已过期）。", "No such call (it may be too old)."],
  conflict: ["当前状态下无法执行。", "Not possible in the current state."],
  on_call: ["通话中无法执行，请在通话结束后再试。", "Not possible during a call; try after it."],
  invalid_transition: ["当前状态下无法执行。", "Not possible in the current state."],
  not_in_wrap_up: ["当前不在话后处理中。", "Not in wrap-up."],
  not_on_call: ["该坐席当前不在通话中。", "The agent is not on a call."],
  bad_pause_reason: ["请选择暂停原因。", "Choose a pause reason."],
  bad_disposition: ["请选择处理结果。", "Choose a disposition."],
  bad_request: ["请求有误。", "The request was not valid."],
  bad_content_type: ["请求格式有误。", "The request was not JSON."],
  method_not_allowed: ["不支持此操作。", "Not supported here."],
  asterisk_refused: ["交换机拒绝了该操作。", "The phone system refused."],
  internal: ["服务器内部错误，已记录。", "Server error (logged)."],
  network: ["无法连接服务器。", "Cannot reach the server."],
  bad_account: ["户号格式不正确。", "That is not a valid account number."],
  bad_phone: ["电话号码格式不正确（3-20 位数字）。", "That is not a valid phone number (3-20 digits)."],
  bad_filter: ["筛选条件有误。", "A filter is not valid."],
  case_invalid: ["工单信息有误（类型、等级或回访结果）。", "The case details are not valid (type, grade or visit outcome)."],
  unknown_owner: ["没有这个坐席，无法作为跟进人。", "No such agent to own the case."],
  unknown_responsible: ["没有这个责任人（坐席或班长）。", "No such agent or supervisor to be responsible."],
  deadline_past: ["时间已过，请选择以后的时间。", "That time has passed; choose a later one."],
  deadline_too_late: ["时间太远（超过一年）。", "That time is more than a year ahead."],
  not_your_case: ["这不是您的工单。", "This is not your case."],
  not_your_call: ["这不是您接听的通话。", "That is not your call."],
  unknown_call: ["找不到该通话（既不在进行中，也不在最近的通话里）。", "That call is neither live nor recent here."],
  supervisor_only: ["只有班长可以改派、升级或重开工单。", "Only a supervisor may reassign, escalate or reopen a case."],
  case_not_found: ["找不到该工单。", "No such case."],
  transition_not_allowed: ["工单当前状态下不能执行此操作。", "Not possible in the case's current state."],
  cases_disabled: ["本服务器未启用工单。", "Service cases are not enabled on this server."],
  cases_unavailable: ["工单暂时无法读取，请稍后再试。", "Cases cannot be read now; try again shortly."],
  case_ids_unavailable: ["暂时无法生成工单号（数据库未连接），请稍后再试。", "Case numbers are not available until the database answers; try again shortly."],
};

let LANG = localStorage.getItem("lang") || "zh";
const ZH = () => LANG === "zh";

function t(key, vars) {
  let s = (I18N[LANG] && I18N[LANG][key]) || I18N.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace(`{${k}}`, v);
  return s;
}

// A code in words: tc("pause", "meal"); `fallback` (e.g. the config label) if unknown.
function tc(kind, code, fallback) {
  if (code === null || code === undefined || code === "") return "–";
  const pair = CODES[kind] && CODES[kind][code];
  if (pair) return pair[ZH() ? 0 : 1];
  return fallback || code;
}

function errText(e) {
  const pair = ERRORS[e.code] || ERRORS[{ 401: "not_signed_in", 403: "forbidden", 404: "not_found",
    409: "conflict", 429: "rate_limited" }[e.status]] || (e.status >= 500 ? ERRORS.internal : ERRORS.bad_request);
  // Retry-After: the page says when, as the server does ("try again in N s").
  return pair[ZH() ? 0 : 1].replace("{s}", e.retryAfter || "60");
}

function applyI18n() {
  document.documentElement.lang = ZH() ? "zh-CN" : "en";
  document.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
  document.querySelectorAll("[data-i18n-ph]").forEach((e) => { e.placeholder = t(e.dataset.i18nPh); });
  document.querySelectorAll("[data-i18n-label]").forEach((e) => { e.setAttribute("aria-label", t(e.dataset.i18nLabel)); });
}

function toggleLang() {
  LANG = ZH() ? "en" : "zh";
  localStorage.setItem("lang", LANG);
  applyI18n();
  document.dispatchEvent(new Event("langchange"));
}

// Fires with the JSON body; fails with an Error carrying .status and .code ("network"
// when the server cannot be reached).
async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  let r;
  try { r = await fetch(path, opts); } catch (e) {
    const err = new Error("network"); err.status = 0; err.code = "network"; throw err;
  }
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    const err = new Error((data && data.error) || String(r.status));
    err.status = r.status;
    err.code = data && data.code;
    err.retryAfter = r.headers.get("Retry-After");
    if (r.status === 401) document.dispatchEvent(new Event("signedout"));
    throw err;
  }
  return data;
}

// Runs `fn` once at a time for a button: a double click sends one request.
function once(button, fn) {
  return async (ev) => {
    if (ev) ev.preventDefault();
    if (button.dataset.busy) return;
    button.dataset.busy = "1";
    button.setAttribute("aria-busy", "true");
    try { await fn(ev); } finally { delete button.dataset.busy; button.removeAttribute("aria-busy"); }
  };
}

// The live feed.  EventSource gives up for good on a 401 and says nothing either way,
// so the page manages it: on any error it asks /api/me why, shows the banner
// ("disconnected" or "signed out") and retries with backoff (1 s doubling to 30 s).
// onState(state, attempt): "live" | "disconnected" | "signed_out".
function liveFeed(handlers, onState) {
  let es = null, attempt = 0, timer = null, stopped = false;
  const connect = () => {
    timer = null;
    if (stopped) return;
    es = new EventSource("/api/feed");
    for (const [name, fn] of Object.entries(handlers)) {
      es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
    }
    es.addEventListener("open", () => { attempt = 0; onState("live", 0); });
    es.addEventListener("error", async () => {
      es.close();
      attempt += 1;
      let state = "disconnected";
      try { await api("GET", "/api/me"); } catch (e) { if (e.status === 401) state = "signed_out"; }
      onState(state, attempt);
      if (state === "disconnected") retry();
    });
  };
  const retry = () => {
    if (!timer && !stopped) timer = setTimeout(connect, Math.min(30000, 1000 * 2 ** Math.min(attempt - 1, 5)));
  };
  connect();
  return {
    restart() { stopped = false; if (es) es.close(); clearTimeout(timer); attempt = 0; connect(); },
    stop() { stopped = true; if (es) es.close(); clearTimeout(timer); },
  };
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

function fmtTime(epoch, timeOnly) {
  if (!epoch) return "–";
  const d = new Date(epoch * 1000), loc = ZH() ? "zh-CN" : "en-GB";
  return timeOnly ? d.toLocaleTimeString(loc, { hour12: false }) : d.toLocaleString(loc, { hour12: false });
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// Status and error lines: each lives in an aria-live region of the page.
function say(id, text, isError) {
  const m = document.getElementById(id);
  if (!m) return;
  m.textContent = text || "";
  m.classList.toggle("error", !!isError);
}

const PAGE_FOR = { agent: "desk.html", supervisor: "wallboard.html", reviewer: "review.html" };

// The sign-in dialog.  It closes (and forgets the password) once signed in; a role
// the page does not serve gets a message and a link instead of a blank page; an
// ended session reopens it over the page, which keeps what it shows.
// onSignedIn(me) runs after every sign-in (again after a re-sign-in).
function signIn(roles, onSignedIn) {
  const box = document.getElementById("login");
  const user = document.getElementById("login-user"), pass = document.getElementById("login-pass");
  const open = () => {
    box.hidden = false;
    document.body.classList.add("signing-in");
    pass.value = "";
    (user.value ? pass : user).focus();
  };
  const show = (me) => {
    pass.value = "";
    box.hidden = true;
    document.body.classList.remove("signing-in");
    const who = () => { document.getElementById("who").textContent = `${t("role_" + me.role)} ${me.name} (${me.id})`; };
    who();
    document.addEventListener("langchange", who);
    if (!roles.includes(me.role)) {
      const gate = document.getElementById("wrong-role");
      const link = el("a", { href: `/${PAGE_FOR[me.role]}`, text: t({ agent: "desk", supervisor: "wallboard", reviewer: "review" }[me.role]) });
      gate.replaceChildren(el("h2", { text: t("wrong_role") }),
        el("p", { text: `${t("signed_in_as")}: ${t("role_" + me.role)} ${me.name}. ${t("go_to")} ` }, link));
      gate.hidden = false;
      document.getElementById("main").hidden = true;
      link.focus();
      return;
    }
    document.getElementById("main").hidden = false;
    const wasOpen = document.activeElement === pass || document.activeElement === user;
    onSignedIn(me);
    const title = document.getElementById("main-title");
    if (title && wasOpen) title.focus();  // the keyboard leaves the closed dialog
  };
  box.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = document.getElementById("login-btn");
    if (btn.dataset.busy) return;
    btn.dataset.busy = "1";
    say("login-msg", "");
    if (!user.value.trim() || !pass.value) {
      say("login-msg", t("fill_login"), true);
      (user.value.trim() ? pass : user).focus();
      delete btn.dataset.busy;
      return;
    }
    try {
      await api("POST", "/api/login", { username: user.value.trim(), password: pass.value });
      show(await api("GET", "/api/me"));
    } catch (e) {
      pass.value = "";
      say("login-msg", errText(e), true);
      pass.focus();
    } finally { delete btn.dataset.busy; }
  });
  document.addEventListener("signedout", () => { if (box.hidden) open(); });
  api("GET", "/api/me").then(show, open);
}

async function signOut() {
  try { await api("POST", "/api/logout"); } catch (e) { /* signed out anyway */ }
  location.reload();
}

function wireHeader() {
  document.getElementById("btn-lang").addEventListener("click", toggleLang);
  const so = document.getElementById("btn-signout");
  if (so) so.addEventListener("click", signOut);
}

document.addEventListener("DOMContentLoaded", () => { applyI18n(); wireHeader(); });
