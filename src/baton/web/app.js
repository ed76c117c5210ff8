// baton's control plane: one page, no framework, no asset from the internet.
// It reads the REST API under /api and follows /api/stream (Server-Sent Events) to update live.
"use strict";

const STATUSES = ["queued", "scoping", "running", "reviewing", "verifying", "refining", "waiting_human",
  "accepted", "escalated", "failed", "cancelled"];
const ROLES = ["viewer", "reviewer", "operator", "admin"];
const state = { me: null, csrf: null, stream: null, refresh: null, page: null, fresh: true };
const $main = () => document.getElementById("main");

// --- small helpers -----------------------------------------------------------------------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
// put a page in place: nested arrays flattened, empty parts left out. A live update draws
// the page anew; what a person was typing into a field with a `data-keep` key (its text,
// focus and selection) is taken from the old page the moment the new one replaces it, so
// no event wipes a half-written objective or comment. A page opened afresh (route) starts
// with empty fields.
function render(...parts) {
  const kept = state.fresh ? new Map() : keptFields();
  state.fresh = false;
  $main().replaceChildren(...parts.flat(Infinity).filter((p) => p !== null && p !== undefined && p !== false));
  for (const el of $main().querySelectorAll("[data-keep]")) {
    const was = kept.get(el.dataset.keep);
    if (!was) continue;
    el.value = was.value;
    if (was.focused) {
      el.focus();
      if (was.start !== null) el.setSelectionRange(was.start, was.end);
    }
  }
}

function keptFields() {
  const kept = new Map();
  for (const el of $main().querySelectorAll("[data-keep]")) {
    const typed = el.tagName !== "SELECT";
    kept.set(el.dataset.keep, {
      value: el.value, focused: el === document.activeElement,
      start: typed ? el.selectionStart : null, end: typed ? el.selectionEnd : null,
    });
  }
  return kept;
}

// one line saying what an event means (as `baton show` says it)
function describe(e) {
  const d = e.data, n = d.attempt;
  switch (e.kind) {
    case "item.submitted": return "submitted";
    case "item.scoped": return `scoped: cascade ${d.plan.cascade.join(" > ")}, ${d.plan.budget.attempts} attempts`;
    case "attempt.started": return `attempt ${n} started on ${d.agent}`;
    case "attempt.finished": return `attempt ${n} finished`;
    case "attempt.failed": return `attempt ${n} failed: ${String(isBlob(d.error) ? d.error.preview : d.error).slice(0, 120)}`;
    case "attempt.abandoned": return `attempt ${n} abandoned: ${d.reason || ""}`;
    case "review.decided": return `review by ${d.reviewer} (${d.by || "?"}): ${d.decision}${d.comments ? ": " + String(isBlob(d.comments) ? d.comments.preview : d.comments).slice(0, 100) : ""}`;
    case "review.failed": return `reviewer ${d.reviewer} could not decide`;
    case "check.recorded": return `check ${d.verifier} ${d.passed ? "passed" : "FAILED"}`;
    case "feedback.created": return `feedback for the next attempt: ${d.feedback.length} point(s)`;
    case "human.requested": return `waiting for a person: ${d.wait}${d.reviewer ? " (" + d.reviewer + ")" : ""}`;
    case "item.accepted": return `ACCEPTED (attempt ${n} by ${d.agent})`;
    case "item.escalated": return `ESCALATED: ${d.reason}`;
    case "item.failed": return `FAILED: ${d.reason}`;
    case "item.cancelled": return `cancelled by ${d.by || "?"}`;
    case "item.reopened": return `reopened by ${d.by}`;
    case "change.applied": return `change of attempt ${n} applied: ${d.how} ${d.target || ""}`;
    default: return e.kind;
  }
}

const when = (t) => (t ? new Date(t * 1000).toLocaleString() : "-");
const secs = (s) => (s === null || s === undefined ? "-" : s < 90 ? `${s.toFixed(1)}s` : `${(s / 60).toFixed(1)}m`);
const pct = (x) => (x === null || x === undefined ? "-" : `${Math.round(x * 100)}%`);
const num = (x, d = 2) => (x === null || x === undefined ? "-" : Number(x).toFixed(d));
const can = (role) => state.me && ROLES.indexOf(state.me.role) >= ROLES.indexOf(role);

function toast(message, bad = false) {
  const t = document.getElementById("toast");
  t.textContent = message;
  t.className = bad ? "bad" : "";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const res = await fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text();
  if (res.status === 401) { location.hash = "#/login"; throw new Error(data.detail || "log in"); }
  if (!res.ok) throw new Error((data && data.detail) || `${res.status} ${res.statusText}`);
  return data;
}

async function act(path, body, done) {
  try {
    const out = await api(path, { method: "POST", body });
    toast(out.message || "done");
    if (done) done();
  } catch (e) { toast(e.message, true); }
}

// --- live updates ------------------------------------------------------------------------
function startStream() {
  if (state.stream) return;
  const source = new EventSource("/api/stream", { withCredentials: true });
  const live = document.getElementById("live");
  source.onopen = () => live.classList.add("on");
  source.onerror = () => live.classList.remove("on");
  source.addEventListener("baton", (msg) => {
    const event = JSON.parse(msg.data);
    if (state.refresh) state.refresh(event);
    updateInboxCount();
  });
  // the server ends the stream when the session ends or its token is revoked: log in again;
  // a stream it drops (too slow, or the server stopping) says reconnect: the browser comes
  // back by itself from the last event it had (Last-Event-ID), and misses nothing
  source.addEventListener("ended", (msg) => {
    const ended = JSON.parse(msg.data);
    if (ended.reconnect) return;
    source.close(); state.stream = null; state.me = null; state.csrf = null;
    toast(ended.why, true);
    location.hash = "#/login";
  });
  state.stream = source;
}

function debounced(fn, ms = 250) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// --- pages -------------------------------------------------------------------------------
async function login() {
  const input = h("input", { type: "password", placeholder: "baton_...", autocomplete: "off", id: "token" });
  const error = h("p", { class: "error" });
  const form = h("form", {
    class: "panel login",
    onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const me = await api("/api/session", { method: "POST", body: { token: input.value } });
        state.me = me; state.csrf = me.csrf;
        location.hash = "#/board";
      } catch (e) { error.textContent = e.message; }
    },
  }, h("h1", {}, "Log in to baton"), h("p", { class: "muted" }, "Paste an API token (baton token create)."),
  input, h("button", { class: "primary", type: "submit" }, "Log in"), error);
  render(form);
  input.focus();
}

const COLUMN = 50; // the newest cards of each status the board shows (its count says how many in all)

async function board() {
  // one page per status, newest first: each is read through the store's index, so the
  // board costs the same on a store of a thousand items and of a million
  const [books, ...pages] = await Promise.all([api("/api/playbooks"),
    ...STATUSES.map((s) => api(`/api/items?status=${s}&order=newest&limit=${COLUMN}`))]);
  const counts = pages[0].counts;
  // scoping: only stores written by baton 0.1 have items there (never-claimed ones)
  const columns = STATUSES.map((s, n) => [s, pages[n].items]).filter(([s]) => s !== "scoping" || counts.scoping)
    .map(([s, items]) => h("section", { class: "column", "data-status": s },
      h("h3", {}, h("span", {}, s.replace("_", " ")), h("span", { class: "muted" }, String(counts[s] || 0))),
      items.map((i) => h("a", { class: `card s-${i.status}`, href: `#/items/${encodeURIComponent(i.item_id)}`, "data-item": i.item_id },
        h("div", { class: "id" }, i.item_id),
        h("div", { class: "obj", title: i.objective }, i.objective),
        h("div", { class: "muted" }, `${i.attempts} attempt(s)`))),
      (counts[s] || 0) > items.length ? h("p", { class: "muted more" }, `the newest ${items.length} of ${counts[s]}`) : null));
  const submit = can("operator") && books.length ? submitForm(books) : null;
  render(h("h1", {}, "Board"), submit, h("div", { class: "board" }, columns));
  state.refresh = debounced(() => { if (state.page === "board") board(); }, 500);
}

function submitForm(books) {
  const select = h("select", { id: "submit-playbook", "data-keep": "submit-playbook" }, books.map((b) => h("option", { value: b.name }, b.name)));
  const text = h("textarea", { id: "submit-objective", "data-keep": "submit-objective", placeholder: "objective of a new work item" });
  return h("form", {
    class: "panel",
    onsubmit: async (ev) => {
      ev.preventDefault();
      if (!text.value.trim()) return toast("write the objective first", true);
      try {
        const out = await api("/api/items", { method: "POST", body: { playbook: select.value, items: [{ objective: text.value }] } });
        toast(`submitted ${out.map((o) => o.id).join(", ")}`);
        text.value = "";
      } catch (e) { toast(e.message, true); }
    },
  }, h("h3", {}, "Submit work"), h("div", { class: "decide" }, select, text,
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit", id: "submit-button" }, "Submit"))));
}

function diffBlock(diff) {
  const pre = h("pre", { class: "diff" });
  for (const line of diff.replace(/\n$/, "").split("\n")) {
    let cls = "";
    if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff --git") || line.startsWith("index ")) cls = "meta";
    else if (line.startsWith("+")) cls = "add";
    else if (line.startsWith("-")) cls = "del";
    else if (line.startsWith("@@")) cls = "hunk";
    pre.append(h("span", { class: cls }, line + "\n"));
  }
  return pre;
}

// what an event keeps aside (core/bounds.py): {"$blob": "sha256:...", bytes, json, preview}
const isBlob = (v) => v !== null && typeof v === "object" && typeof v["$blob"] === "string" && "preview" in v;

// a value as a block: text as it is, data as JSON, a blob as its preview and a link to it whole
function block(v) {
  if (isBlob(v)) {
    return h("div", { class: "blob" }, h("pre", {}, v.preview + "…"),
      h("p", { class: "muted" }, `shown: the first ${v.preview.length.toLocaleString()} characters of ${v.bytes.toLocaleString()} bytes; `,
        h("a", { href: `/api/blobs/${encodeURIComponent(v["$blob"])}`, target: "_blank", rel: "noopener" }, "open it whole")));
  }
  if (typeof v === "string") return h("pre", {}, v);
  const inner = JSON.stringify(v, (k, x) => (isBlob(x) ? `${x.preview}… [${x.bytes} bytes: /api/blobs/${x["$blob"]}]` : x), 2);
  return h("pre", {}, inner);
}

function output(out) {
  if (!out) return null;
  if (isBlob(out)) return [block(out)];
  const parts = [];
  if (out.data !== undefined) parts.push(block(out.data));
  else if (out.text) parts.push(block(out.text));
  if (out.change) {
    const c = out.change;
    parts.push(h("p", { class: "muted" }, `${c.files.length} file(s), +${c.added} -${c.removed} on ${c.branch}`),
      h("ul", {}, c.files.map((f) => h("li", {}, `${f.path}  +${f.added} -${f.removed}`))),
      diffBlock(c.diff || ""));
  }
  return parts;
}

function decisionForm(item, waiting) {
  if (!waiting || !can("reviewer")) return null;
  if (waiting.wait === "work") return h("p", { class: "muted" }, "waits for a person's work: submit it with baton submit-result");
  const comments = h("textarea", { id: "comments", "data-keep": `comments:${item}`, placeholder: "comments (needed to request changes or reject)" });
  const base = `/api/items/${encodeURIComponent(item)}`;
  const reload = () => setTimeout(route, 300);
  const need = (fn) => () => (comments.value.trim() ? fn() : toast("say what to change first", true));
  return h("div", { class: "panel decide" },
    h("h3", {}, waiting.wait === "escalation" ? "Escalated: a person owns it" : `Waiting for review (${waiting.reviewer || "human"})`),
    waiting.reason ? h("p", { class: "muted" }, waiting.reason) : null,
    comments,
    h("div", { class: "row" },
      waiting.wait === "review" ? h("button", { class: "approve", id: "approve", onclick: () => act(`${base}/approve`, { comments: comments.value }, reload) }, "Approve") : null,
      h("button", { id: "request-changes", onclick: need(() => act(`${base}/request-changes`, { comments: comments.value }, reload)) }, "Request changes"),
      h("button", { class: "reject", id: "reject", onclick: need(() => act(`${base}/reject`, { comments: comments.value }, reload)) }, "Reject")));
}

// what an attempt was handed besides the objective (as `baton show` says it)
function given(input) {
  const b = input.budget || {};
  const left = [`${b.attempts} attempt(s)`];
  if (b.seconds !== null && b.seconds !== undefined) left.push(`${Math.round(b.seconds)}s`);
  if (b.tokens !== null && b.tokens !== undefined) left.push(`${b.tokens} tokens`);
  if (b.cost !== null && b.cost !== undefined) left.push(`${num(b.cost, 4)} cost`);
  const checks = (input.acceptance || []).join(", ") || "none";
  const where = input.workdir ? `; in ${input.workdir}` : "";
  return `given: checks ${checks}; ${(input.feedback || []).length} feedback point(s); budget left ${left.join(", ")}${where}`;
}

async function item(id) {
  const d = await api(`/api/items/${encodeURIComponent(id)}`);
  const attempts = d.attempts.map((a) => h("div", { class: `panel attempt${a.accepted ? " accepted" : ""}` },
    h("h3", {}, `Attempt ${a.attempt} by ${a.agent}`, a.accepted ? " — accepted" : "", a.abandoned ? " — abandoned" : ""),
    h("p", { class: "muted" }, `started ${when(a.started_at)}; ${a.finished_at ? "finished " + when(a.finished_at) : "not finished"}; ${secs(a.usage && a.usage.seconds)}`),
    a.input ? h("p", { class: "muted" }, given(a.input)) : null,
    a.input && a.input.feedback && a.input.feedback.length
      ? [h("h3", {}, "Feedback it was given"), h("ul", {}, a.input.feedback.map((f) => h("li", {}, `${f.source}: `, h("pre", {}, f.message))))] : null,
    a.output ? [h("h3", {}, "Output"), output(a.output)] : null,
    a.error ? [h("h3", { class: "error" }, "Error"), block(a.error)] : null,
    a.checks.length ? [h("h3", {}, "Checks"), a.checks.map((c) => h("div", {},
      h("span", { class: `check ${c.passed ? "pass" : "fail"}` }, `${c.passed ? "✔" : "✘"} ${c.verifier}`),
      c.score !== null && c.score !== undefined ? h("span", { class: "muted" }, ` score ${num(c.score)}`) : null,
      c.evidence ? block(c.evidence) : null))] : null,
    a.reviews.length ? [h("h3", {}, "Reviews"), a.reviews.map((r) => h("div", {},
      h("b", {}, `${r.reviewer}: ${r.decision}`), h("span", { class: "muted" }, ` by ${r.by || "?"}`),
      r.comments ? block(r.comments) : null))] : null,
    a.feedback && a.feedback.length ? [h("h3", {}, "Feedback handed on"), h("ul", {}, a.feedback.map((f) => h("li", {}, `${f.source}: ${f.message.slice(0, 300)}`)))] : null));
  const cancel = can("operator") && !["accepted", "failed", "cancelled"].includes(d.item.status)
    ? h("button", { id: "cancel", onclick: () => act(`/api/items/${encodeURIComponent(id)}/cancel`, { reason: "cancelled from the web page" }, () => setTimeout(route, 300)) }, "Cancel item") : null;
  render(
    h("p", {}, h("a", { href: "#/board" }, "← board")),
    h("h1", {}, id, " ", h("span", { class: `status ${d.item.status}`, id: "item-status" }, d.item.status)),
    h("div", { class: "panel" }, h("b", {}, "Objective"), block(d.events[0].data.spec.objective),
      d.events[0].data.spec.inputs && Object.keys(d.events[0].data.spec.inputs).length
        ? [h("b", {}, "Inputs"), block(d.events[0].data.spec.inputs)] : null, cancel),
    decisionForm(id, d.waiting),
    h("h2", {}, "Attempts"), attempts.length ? attempts : h("p", { class: "muted" }, "none yet"),
    h("h2", {}, "Timeline"),
    h("ul", { class: "events" }, d.events.map((e) => h("li", {}, `${when(e.at)}  #${e.seq}  ${describe(e)}`))));
  state.refresh = (event) => { if (event.log === id && state.page === "item") debounced(() => item(id))(); };
}

async function inbox() {
  const entries = await api("/api/inbox");
  const rows = entries.map((e) => {
    const base = `/api/items/${encodeURIComponent(e.item)}`;
    const comment = h("input", { placeholder: "comment", "data-item": e.item, "data-keep": `comment:${e.item}` });
    const reload = () => setTimeout(inbox, 300);
    const needText = (fn) => () => (comment.value.trim() ? fn() : toast("say what to change first", true));
    return h("tr", { "data-item": e.item },
      h("td", {}, h("a", { href: `#/items/${encodeURIComponent(e.item)}` }, e.item)),
      h("td", {}, e.wait === "review" ? `review (${e.reviewer || "human"})` : e.wait),
      h("td", {}, when(e.since)), h("td", {}, e.objective), h("td", { class: "muted" }, e.reason || ""),
      h("td", {}, can("reviewer") && e.wait !== "work" ? h("div", { class: "row" }, comment,
        e.wait === "review" ? h("button", { class: "approve", onclick: () => act(`${base}/approve`, { comments: comment.value }, reload) }, "Approve") : null,
        h("button", { onclick: needText(() => act(`${base}/request-changes`, { comments: comment.value }, reload)) }, "Request changes"),
        h("button", { class: "reject", onclick: needText(() => act(`${base}/reject`, { comments: comment.value }, reload)) }, "Reject")) : null));
  });
  render(h("h1", {}, `Inbox (${entries.length})`),
    entries.length ? h("table", {}, h("tr", {}, ["item", "waits for", "since", "objective", "why", ""].map((c) => h("th", {}, c))), rows)
      : h("p", { class: "muted" }, "Nothing waits for a person."));
  state.refresh = debounced(() => { if (state.page === "inbox") inbox(); }, 400);
}

async function agents() {
  const rows = await api("/api/agents");
  const reload = () => setTimeout(agents, 300);
  render(h("h1", {}, "Agents"), rows.length ? h("table", {},
    h("tr", {}, ["agent", "playbook", "kind", "state", "running", "concurrency", "attempts", "accepted", "acceptance", "mean seconds", "tokens", "cost", ""].map((c) => h("th", {}, c))),
    rows.map((r) => h("tr", { "data-agent": r.agent },
      h("td", {}, h("b", {}, r.agent)), h("td", {}, r.playbook), h("td", {}, r.kind),
      h("td", {}, r.paused ? h("span", { class: "status failed" }, "paused") : h("span", { class: "status accepted" }, "active"), r.note ? h("div", { class: "muted" }, r.note) : null),
      h("td", {}, String(r.running)), h("td", {}, String(r.concurrency)), h("td", {}, String(r.attempts)), h("td", {}, String(r.accepted)),
      h("td", {}, pct(r.acceptance_rate)), h("td", {}, secs(r.score && r.score.seconds_mean)),
      h("td", {}, String((r.score && r.score.tokens) || 0)), h("td", {}, num(r.score && r.score.cost, 4)),
      h("td", {}, can("operator") ? (r.paused
        ? h("button", { onclick: () => act(`/api/agents/${encodeURIComponent(r.agent)}/resume`, undefined, reload) }, "Resume")
        : h("button", { class: "reject", onclick: () => act(`/api/agents/${encodeURIComponent(r.agent)}/pause`, { reason: "paused from the web page" }, reload) }, "Pause")) : null))))
    : h("p", { class: "muted" }, "No agents yet: they appear once a playbook's items are submitted."));
  state.refresh = debounced(() => { if (state.page === "agents") agents(); }, 1000);
}

function chart(title, points, fmt) {
  const w = 380, hgt = 160, pad = 28;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  const ys = points.map((p) => p[1]).filter((y) => y !== null && y !== undefined);
  const add = (tag, attrs) => { const el = document.createElementNS(svg.namespaceURI, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); svg.append(el); return el; };
  add("line", { class: "axis", x1: pad, y1: hgt - pad, x2: w - 6, y2: hgt - pad });
  add("line", { class: "axis", x1: pad, y1: 6, x2: pad, y2: hgt - pad });
  if (ys.length) {
    const max = Math.max(...ys, 1e-9), min = Math.min(0, ...ys);
    const x = (i) => pad + (points.length === 1 ? (w - pad - 6) / 2 : (i * (w - pad - 6)) / (points.length - 1));
    const y = (v) => hgt - pad - ((v - min) / (max - min || 1)) * (hgt - pad - 10);
    const path = points.map((p, i) => (p[1] === null || p[1] === undefined ? null : `${x(i)},${y(p[1])}`)).filter(Boolean);
    add("polyline", { class: "line", points: path.join(" ") });
    points.forEach((p, i) => { if (p[1] !== null && p[1] !== undefined) add("circle", { class: "dot", cx: x(i), cy: y(p[1]), r: 3 }); });
    add("text", { x: 2, y: 14 }).textContent = fmt(max);
    add("text", { x: pad, y: hgt - 8 }).textContent = new Date(points[0][0] * 1000).toLocaleTimeString();
  } else add("text", { x: pad + 10, y: hgt / 2 }).textContent = "no data yet";
  return h("div", { class: "panel chart" }, h("h3", {}, title), svg);
}

async function metricsPage() {
  const m = await api("/api/metrics");
  // about thirty points over the whole record, never finer than a minute
  const bucket = Math.max(60, Math.ceil((m.window_seconds || 0) / 30));
  const series = await api(`/api/metrics/series?bucket=${bucket}`);
  const fig = (label, value) => h("div", { class: "figure" }, h("div", { class: "n" }, value), h("div", { class: "l" }, label));
  const maxRate = Math.max(...m.agents.map((a) => a.attempts), 1);
  render(h("h1", {}, "Metrics"),
    h("div", { class: "figures" },
      fig("accepted / hour", num(m.throughput_per_hour, 1)), fig("cycle time p50 / p90", `${secs(m.cycle_p50)} / ${secs(m.cycle_p90)}`),
      fig("first-pass yield", pct(m.first_pass_yield)), fig("attempts per accepted", num(m.attempts_per_accepted)),
      fig("review rejection rate", pct(m.review_rejection_rate)), fig("verification pass rate", pct(m.verification_pass_rate)),
      fig("escalation rate", pct(m.escalation_rate)), fig("human wait p50", secs(m.human_wait_p50)),
      fig("tokens per accepted", num(m.tokens_per_accepted, 0)), fig("cost per accepted", num(m.cost_per_accepted, 4))),
    h("h2", {}, "Over time"),
    h("div", { class: "charts" },
      chart("Throughput (accepted per bucket)", series.map((s) => [s.start, s.items.accepted || 0]), (v) => num(v, 0)),
      chart("Cycle time p50", series.map((s) => [s.start, s.cycle_p50]), secs),
      chart("First-pass yield", series.map((s) => [s.start, s.first_pass_yield]), pct),
      chart("Escalation rate", series.map((s) => [s.start, s.escalation_rate]), pct),
      chart("Cost per accepted item", series.map((s) => [s.start, s.cost_per_accepted]), (v) => num(v, 4))),
    h("h2", {}, "Agents compared"),
    h("table", {}, h("tr", {}, ["agent", "attempts", "", "accepted", "first-pass", "mean seconds", "tokens", "cost"].map((c) => h("th", {}, c))),
      m.agents.map((a) => h("tr", {}, h("td", {}, a.agent), h("td", {}, String(a.attempts)),
        h("td", { style: "width:30%" }, h("div", { class: "bar", style: `width:${(100 * a.attempts) / maxRate}%` })),
        h("td", {}, String(a.accepted)), h("td", {}, String(a.first_pass_accepted)), h("td", {}, secs(a.seconds_mean)),
        h("td", {}, String(a.tokens)), h("td", {}, num(a.cost, 4))))));
  state.refresh = debounced(() => { if (state.page === "metrics") metricsPage(); }, 2000);
}

// --- routing -----------------------------------------------------------------------------
async function whoami() {
  try {
    const me = await fetch("/api/session", { credentials: "same-origin" });
    if (!me.ok) return null;
    return await me.json();
  } catch { return null; }
}

async function route() {
  const hash = location.hash || "#/board";
  const [, page, arg] = hash.split("/");
  if (page !== "login" && !state.me) {
    state.me = await whoami();
    if (!state.me) { location.hash = "#/login"; return; }
    state.csrf = state.me.csrf;
  }
  if (state.me) {
    document.getElementById("who").textContent = `${state.me.name} (${state.me.role})`;
    document.getElementById("logout").hidden = state.me.open;
    startStream();
    updateInboxCount();
  }
  state.page = page === "items" ? "item" : page;
  state.fresh = true; // a page opened anew: its fields start empty
  document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
  state.refresh = null;
  try {
    if (page === "login") return await login();
    if (page === "items" && arg) return await item(decodeURIComponent(arg));
    if (page === "inbox") return await inbox();
    if (page === "agents") return await agents();
    if (page === "metrics") return await metricsPage();
    return await board();
  } catch (e) {
    render(h("p", { class: "error" }, e.message));
  }
}

const updateInboxCount = debounced(async () => {
  try {
    const entries = await api("/api/inbox");
    const badge = document.getElementById("inbox-count");
    badge.textContent = String(entries.length);
    badge.hidden = entries.length === 0;
  } catch { /* the page shows errors where they matter */ }
}, 300);

document.getElementById("logout").addEventListener("click", async () => {
  // the session's CSRF header goes with a logout too (a page of another site cannot end it)
  await fetch("/api/session", {
    method: "DELETE", credentials: "same-origin",
    headers: state.csrf ? { "X-CSRF-Token": state.csrf } : {},
  });
  state.me = null; state.csrf = null;
  if (state.stream) { state.stream.close(); state.stream = null; }
  location.hash = "#/login";
});
window.addEventListener("hashchange", route);
route();
