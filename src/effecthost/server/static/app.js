// effecthost operator page: plain DOM, no framework. Every string from the server goes through
// textContent (never innerHTML), because session ids and payloads are caller-controlled.
"use strict";

const TOKEN_KEY = "effecthost.adminToken";
// sessionPages: the `after` cursor of each page back to the first (keyset paging: a session
// started meanwhile never shifts a page); sessionNext: the cursor of the page after this one.
const state = { session: null, waitTokens: "", timer: null, sessionPages: [], sessionNext: null };
const SESSIONS_PAGE = 100;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function adminToken() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

function takeTokenFromUrl() {
  // ?token=... is convenient to paste, but must not linger in the address bar or history.
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
}

function flash(text, kind) {
  const el = document.getElementById("flash");
  el.textContent = text;
  el.className = kind || "";
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + adminToken() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (!res.ok) {
    const err = new Error(data && data.code ? data.code + ": " + data.message : "HTTP " + res.status);
    err.status = res.status;
    throw err;
  }
  return data;
}

// A session id never goes into a URL path: the browser resolves "." and ".." segments (even as
// %2e) before sending, so "evil/../victim" would reach "victim". Ids travel in the query string
// (percent-encoded whole) or in a JSON body, which carry any string verbatim.
const enc = encodeURIComponent;

function when(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  // today's rows show the time only: the column stays narrow and the date adds nothing
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}
function badge(row) {
  const known = ["completed", "in_progress", "failed"].includes(row.status);
  const label = row.status === "in_progress" && row.kind === "await_event" ? "waiting"
    : row.status === "in_progress" ? "in progress" : row.status;
  return h("span", { class: "badge " + (known ? row.status : "other") }, label);
}
function pretty(value) { return h("pre", {}, JSON.stringify(value, null, 2)); }

// Reads of the sessions list overlap (the 2 s timer, a page click): only the latest may draw, or
// a slower read of the previous page would put it back on screen after the click's page.
let sessionsRead = 0;

async function loadSessions() {
  const ticket = ++sessionsRead;
  const after = state.sessionPages.length ? state.sessionPages[state.sessionPages.length - 1] : null;
  const data = await api("GET", "/v1/sessions?limit=" + SESSIONS_PAGE + (after ? "&after=" + enc(after) : ""));
  if (ticket !== sessionsRead) return null;
  state.sessionNext = data.next;
  document.getElementById("sessions-next").hidden = !data.next;
  document.getElementById("sessions-prev").hidden = state.sessionPages.length === 0;
  const body = document.querySelector("#sessions tbody");
  body.replaceChildren(...data.sessions.map((s) => h("tr", {
    "data-session": s.session_id,
    class: s.session_id === state.session ? "selected" : null,
    onclick: () => selectSession(s.session_id),
  }, h("td", {}, h("code", {}, s.session_id)), h("td", {}, s.scopes), h("td", {}, s.effects),
    h("td", {}, s.in_progress), h("td", {}, s.failed), h("td", { class: "nowrap" }, when(s.last_at_ms)))));
  document.getElementById("no-sessions").hidden = data.sessions.length > 0;
  return data.sessions;
}

function effectRow(e) {
  const result = e.error ? h("span", { class: "badge failed" }, e.error.code)
    : e.outcome ? h("code", {}, JSON.stringify(e.outcome).slice(0, 80)) : "";
  const took = e.status === "in_progress" ? "" : (e.updated_at_ms - e.created_at_ms) + " ms";
  return h("tr", { "data-replay-key": e.replay_key },
    h("td", {}, badge(e)), h("td", {}, e.kind), h("td", {}, h("code", {}, e.effect_id)),
    h("td", {}, h("code", {}, e.replay_key)), h("td", { class: "nowrap" }, when(e.created_at_ms)),
    h("td", { class: "nowrap" }, took),
    h("td", {}, result, h("details", {}, h("summary", {}, "envelope & result"),
      pretty(e.envelope), pretty(e.error || e.outcome))));
}

// /v1/effects answers a page at a time (at most 1000 rows); a scope is shown whole, so read pages
// until the last (no `next`). Keyset paging in run order (seq, created_at_ms, replay_key): pages
// never skip or repeat, even while the scope grows.
const EFFECTS_PAGE = 1000;
async function scopeEffects(scopeKey) {
  const effects = [];
  let after = null;
  for (;;) {
    const page = await api("GET", "/v1/effects?scope_key=" + enc(scopeKey) + "&limit=" + EFFECTS_PAGE +
      (after ? "&after=" + enc(after) : ""));
    effects.push(...page.effects);
    if (!page.next) return effects;
    after = page.next;
  }
}

async function loadScopes(sessionId) {
  const data = await api("GET", "/v1/scopes?session_id=" + enc(sessionId));
  const blocks = await Promise.all(data.scopes.map(async (scope) => {
    const effects = await scopeEffects(scope.scope_key);
    const title = scope.scope ? scope.scope.type + " " + Object.entries(scope.scope)
      .filter(([k]) => k !== "type").map(([k, v]) => k + "=" + v).join(" ") : scope.scope_key;
    return h("div", { class: "scope" }, h("div", { class: "scope-title" }, title),
      h("table", {}, h("thead", {}, h("tr", {}, ...["status", "kind", "effect id", "replay key",
        "started", "took", "result"].map((t) => h("th", {}, t)))),
      h("tbody", {}, effects.map(effectRow))));
  }));
  // an answer that arrives after another session was selected must not overwrite that one
  if (sessionId !== state.session) return;
  document.getElementById("scopes").replaceChildren(...blocks);
}

function waitForm(w) {
  const okBox = h("textarea", { rows: 3, name: "payload", "aria-label": "JSON payload" },
    '{"approved": true}');
  const code = h("input", { name: "code", placeholder: "error code", value: "rejected" });
  const message = h("input", { name: "message", placeholder: "message", size: 30 });
  const pick = (v) => h("input", { type: "radio", name: "kind-" + w.key_id, value: v,
    checked: v === "ok" });
  const result = h("span", { class: "result muted" });
  const form = h("form", { class: "wait", "data-key-id": w.key_id, onsubmit: async (ev) => {
    ev.preventDefault();
    const kind = form.querySelector("input[type=radio]:checked").value;
    let resolution;
    if (kind === "ok") {
      try { resolution = { status: "ok", payload: JSON.parse(okBox.value) }; }
      catch (e) { result.textContent = "payload is not JSON: " + e.message; return; }
    } else {
      resolution = { status: "err", payload: { code: code.value, message: message.value } };
    }
    try {
      const out = await api("POST", "/v1/await-events/" + enc(w.token) + "/resolve", resolution);
      result.textContent = out.status;
      flash("resolved " + w.wait.type + ": " + out.status, "ok");
      await refresh();
    } catch (e) { result.textContent = e.message; }
  } },
    h("div", { class: "row" }, h("strong", {}, w.wait.type),
      h("code", {}, Object.entries(w.wait).filter(([k]) => k !== "type")
        .map(([k, v]) => k + "=" + v).join(" ")), h("span", { class: "muted" }, "in " + w.scope.type +
        (w.scope.turn_id ? " " + w.scope.turn_id : ""))),
    h("div", { class: "row" }, h("label", {}, pick("ok"), " ok with JSON payload"),
      h("label", {}, pick("err"), " error"), code, message),
    okBox,
    h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Resolve"), result));
  return form;
}

async function loadWaits(sessionId) {
  const data = await api("GET", "/v1/await-events?session_id=" + enc(sessionId));
  if (sessionId !== state.session) return;  // a late answer for a session no longer shown
  // Rebuild the forms only when the set of waits changed, so a refresh never eats typed input.
  const tokens = data.await_events.map((w) => w.token).join(",");
  if (tokens === state.waitTokens) return;
  state.waitTokens = tokens;
  document.getElementById("waits").replaceChildren(...data.await_events.map(waitForm));
  document.getElementById("no-waits").hidden = data.await_events.length > 0;
}

async function selectSession(sessionId) {
  if (window.effecthostConsole) window.effecthostConsole.sessionShown(sessionId);
  // Another session: its forms are built afresh. The same one again (a click on the session the
  // page opened by itself): keep the forms, or a payload being typed would be thrown away.
  if (sessionId !== state.session) state.waitTokens = null;
  state.session = sessionId;
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-session").textContent = sessionId;
  document.querySelectorAll("#sessions tbody tr").forEach((tr) =>
    tr.classList.toggle("selected", tr.dataset.session === sessionId));
  await Promise.all([loadWaits(sessionId), loadScopes(sessionId)]);
}

async function refresh() {
  if (!adminToken()) { flash("Enter the admin token to browse.", "error"); return; }
  if (window.effecthostConsole && !window.effecthostConsole.sessionsShown()) {
    await window.effecthostConsole.refresh();
    return;
  }
  try {
    const sessions = await loadSessions();
    if (sessions === null) return;  // a later read of the list draws instead
    // Open the most recent session on first load: a waiting approval should be one glance away.
    if (state.session && !document.getElementById("detail-session").textContent) await selectSession(state.session);
    else if (!state.session && sessions.length > 0) await selectSession(sessions[0].session_id);
    else if (state.session) await Promise.all([loadWaits(state.session), loadScopes(state.session)]);
    if (document.getElementById("flash").className === "error") flash("");
  } catch (e) {
    flash(e.status === 401 ? "The admin token was refused." : e.message, "error");
  }
}

async function sessionAction(action, confirmText) {
  if (!state.session || (confirmText && !confirm(confirmText))) return;
  try {
    const sessionId = state.session;
    let out;
    try {
      out = await api("POST", "/v1/sessions/" + action, { session_id: sessionId });
    } catch (e) {
      // a safeguard (session_live, session_unknown): say why, and offer to force it
      if (!/^session_(live|unknown)/.test(e.message) || !confirm(e.message + "\n\nDo it anyway?")) throw e;
      out = await api("POST", "/v1/sessions/" + action, { session_id: sessionId, force: true });
    }
    flash(action + " " + sessionId + ": " + JSON.stringify(out), "ok");
    await refresh();
  } catch (e) { flash(e.message, "error"); }
}

function boot() {
  takeTokenFromUrl();
  document.getElementById("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = document.getElementById("token-input");
    if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value);
    input.value = "";
    refresh();
  });
  document.getElementById("refresh").addEventListener("click", refresh);
  document.getElementById("sessions-next").addEventListener("click", () => {
    if (state.sessionNext) state.sessionPages.push(state.sessionNext);
    refresh();
  });
  document.getElementById("sessions-prev").addEventListener("click", () => {
    state.sessionPages.pop(); refresh();
  });
  document.getElementById("cancel-session").addEventListener("click", () => sessionAction("cancel"));
  document.getElementById("revoke-session").addEventListener("click", () => sessionAction("revoke",
    "Revoke every await event of this session? This cannot be undone."));
  document.getElementById("retire-session").addEventListener("click", () => sessionAction("retire",
    "Delete this session's journal rows?"));
  fetch("/readyz").then((r) => r.json()).then((d) => {
    document.getElementById("backend").textContent = d.backend ? "backend: " + d.backend : "";
  }).catch(() => {});
  state.timer = setInterval(() => {
    if (document.getElementById("auto-refresh").checked) refresh();
  }, 2000);
  refresh();
}

// after console.js has run too (both scripts sit at the end of the body)
document.addEventListener("DOMContentLoaded", boot);
