// effecthost operator console: turns, a turn's timeline, the inbox. Plain DOM like app.js (whose
// h(), api(), flash(), when(), enc() and selectSession() it uses); every server string goes
// through textContent. Every state of the page is a URL (the hash), so a view can be linked,
// bookmarked and reloaded: #/turns?status=failed, #/turn?session=S&turn=T&effect=3, #/inbox,
// #/sessions?session=S.
"use strict";

(function () {
  const TURNS_PAGE = 50;
  const live = { view: "sessions", params: new URLSearchParams(), inboxTokens: null, turnKey: null };

  function route() {
    const hash = window.location.hash.replace(/^#/, "");
    const [path, query] = hash.split("?");
    const view = { "/turns": "turns", "/turn": "turn", "/inbox": "inbox", "/sessions": "sessions" }[path];
    return { view: view || "sessions", params: new URLSearchParams(query || "") };
  }

  function link(view, params) {
    const query = new URLSearchParams(params || {}).toString();
    return "#/" + view + (query ? "?" + query : "");
  }

  function show(view) {
    live.view = view;
    document.querySelectorAll(".view").forEach((el) => { el.hidden = el.id !== view + "-view"; });
    document.querySelectorAll(".sessions-view").forEach((el) => {
      el.hidden = view !== "sessions" || (el.id === "detail" && !state.session);
    });
    document.querySelectorAll("nav a[data-view]").forEach((a) => {
      const current = a.dataset.view === view || (view === "turn" && a.dataset.view === "turns");
      if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return "";
    return ms < 10000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s";
  }

  function statusBadge(status) {
    const kind = { completed: "completed", failed: "failed", cancelled: "failed", waiting: "in_progress",
      running: "in_progress", sleeping: "in_progress", pending: "other" }[status] || "other";
    return h("span", { class: "badge " + kind }, status);
  }

  // ---- turns --------------------------------------------------------------------------------

  async function loadTurns(params) {
    const form = document.getElementById("turn-filters");
    for (const name of ["status", "name", "session", "q", "order"]) {
      if (document.activeElement !== form.elements[name]) form.elements[name].value = params.get(name) || (name === "order" ? "newest" : "");
    }
    const query = new URLSearchParams({ limit: String(TURNS_PAGE) });
    for (const [from, to] of [["status", "status"], ["name", "name"], ["session", "session_id"], ["q", "q"], ["order", "order"], ["after", "after"]]) {
      if (params.get(from)) query.set(to, params.get(from));
    }
    const at = window.location.hash;
    const data = await api("GET", "/v1/turns?" + query.toString());
    if (live.view !== "turns" || window.location.hash !== at) return;  // a later read answers instead
    document.querySelector("#turns tbody").replaceChildren(...data.turns.map((t) => {
      const href = link("turn", { session: t.session_id, turn: t.turn_id });
      return h("tr", { "data-session": t.session_id, "data-turn": t.turn_id, "data-status": t.status },
        h("td", {}, statusBadge(t.status)), h("td", {}, t.name),
        h("td", {}, h("code", {}, t.session_id)),
        h("td", {}, h("a", { href }, h("code", {}, t.turn_id))),
        h("td", { class: "nowrap" }, when(t.created_at_ms)), h("td", { class: "nowrap" }, duration(t.duration_ms)));
    }));
    document.getElementById("no-turns").hidden = data.turns.length > 0;
    const next = document.getElementById("turns-next");
    next.hidden = !data.next;
    if (data.next) {
      const nextParams = new URLSearchParams(params);
      nextParams.set("after", data.next);
      next.setAttribute("href", link("turns", nextParams));
    }
  }

  function applyFilters(ev) {
    ev.preventDefault();
    const form = ev.target;
    const params = new URLSearchParams();
    for (const name of ["status", "name", "session", "q", "order"]) {
      const value = form.elements[name].value.trim();
      if (value && !(name === "order" && value === "newest")) params.set(name, value);
    }
    window.location.hash = link("turns", params);
  }

  // ---- one turn: facts, timeline, controls ----------------------------------------------------

  function conversation(request, outcome) {
    const out = h("div", { class: "conversation" });
    for (const m of (request && request.messages) || []) {
      const text = typeof m.content === "string" ? m.content : JSON.stringify(m.content);
      out.append(h("div", { class: "msg " + (m.role || "other") }, h("b", {}, m.role || "message"), " ", text));
    }
    const result = outcome && outcome.result;
    if (result && result.Ok !== undefined) {
      const r = result.Ok || {};
      const text = r.text !== undefined ? r.text : r.content !== undefined ? r.content : r.message;
      const body = text === undefined ? JSON.stringify(r) : (typeof text === "string" ? text : JSON.stringify(text));
      out.append(h("div", { class: "msg assistant" }, h("b", {}, "assistant"), " ", body));
      if (r.tool_calls) out.append(h("div", { class: "msg tool" }, h("b", {}, "tool calls"), " ", JSON.stringify(r.tool_calls)));
      if (r.usage) out.append(h("div", { class: "muted" }, "usage: " + JSON.stringify(r.usage)));
    } else if (result && result.Err) {
      out.append(h("div", { class: "msg error" }, h("b", {}, "error"), " ", JSON.stringify(result.Err)));
    }
    return out;
  }

  function effectBody(e) {
    const command = (e.envelope && e.envelope.command) || {};
    const parts = [];
    if (e.kind === "llm_call") parts.push(conversation(command.request, e.outcome));
    else if (e.kind === "tool_call") {
      const call = command.call || {};
      parts.push(h("div", {}, h("b", {}, call.tool_name || "tool"), " args ", h("code", {}, JSON.stringify(call.args))));
      if (e.outcome) parts.push(h("div", {}, "result ", h("code", {}, JSON.stringify(e.outcome.result !== undefined ? e.outcome.result : e.outcome))));
    } else if (e.kind === "await_event") {
      const resolution = e.outcome && e.outcome.resolution;
      if (resolution) {
        parts.push(h("div", {}, "answered ", h("code", {}, JSON.stringify(resolution)),
          e.resolved_by ? " by " : "", e.resolved_by ? h("b", { class: "who" }, e.resolved_by) : "",
          e.resolved_at_ms ? " at " + when(e.resolved_at_ms) : ""));
      } else parts.push(h("div", { class: "muted" }, "waiting for an answer (see the inbox)"));
    } else if (e.kind === "durable_step") {
      const value = command.input;
      if (command.step_id === "wait" && value && value.question !== undefined) {
        parts.push(h("div", { class: "question" }, "asks: ", h("code", {}, JSON.stringify(value.question))));
      }
      if (e.outcome) parts.push(h("div", {}, "→ ", h("code", {}, JSON.stringify(e.outcome.value))));
    } else if (e.outcome) parts.push(h("code", {}, JSON.stringify(e.outcome)));
    if (e.error) parts.push(h("div", { class: "error-line" }, h("b", {}, e.error.code), ": ", e.error.message || ""));
    return parts;
  }

  function timelineItem(e, longest, turn, focus) {
    const took = e.status === "in_progress" ? null : e.updated_at_ms - e.created_at_ms;
    const width = took === null ? 100 : Math.max(2, Math.round((took / Math.max(longest, 1)) * 100));
    const bar = h("span", { class: "bar " + e.status, "data-width": String(width), "aria-hidden": "true" });
    bar.style.width = width + "%";  // CSSOM, not an inline style attribute: allowed by the CSP
    const fork = h("button", { type: "button", class: "small", title: "a new turn that keeps the effects before this one",
      onclick: () => forkTurn(turn, e.seq - 1) }, "Fork here");
    const item = h("li", { id: "effect-" + e.seq, "data-seq": String(e.seq), "data-kind": e.kind,
      class: "effect" + (String(e.seq) === focus ? " focus" : "") },
      h("div", { class: "effect-head" },
        h("a", { href: link("turn", { session: turn.session_id, turn: turn.turn_id, effect: String(e.seq) }), class: "seq" }, "#" + e.seq),
        h("span", { class: "kind" }, e.kind), h("code", {}, e.effect_id), badgeOf(e),
        driveMarker(e), h("span", { class: "took" }, took === null ? "running" : duration(took)), fork),
      h("div", { class: "bar-track" }, bar),
      h("div", { class: "effect-body" }, ...effectBody(e)),
      h("details", {}, h("summary", {}, "JSON"), h("pre", {}, JSON.stringify(e, null, 2))));
    return item;
  }

  // Which drive executed the effect ("d2") and which replayed it ("↻3–5"): compact, spelled out
  // in the title and the accessible label.
  function driveMarker(e) {
    const ran = e.executed_in_drive, again = e.replayed_in_drives || [];
    if (ran == null && !again.length) return "";
    const span = again.length === 0 ? "" : again.length === 1 ? String(again[0]) : again[0] + "–" + again[again.length - 1];
    const said = (ran == null ? "executed before the drives recorded" : "executed in drive " + ran) +
      (again.length ? "; replayed by drive" + (again.length > 1 ? "s " : " ") + again.join(", ") : "");
    return h("span", { class: "drives", title: said, "aria-label": said, "data-executed": ran == null ? "" : String(ran),
      "data-replayed": again.join(",") }, (ran == null ? "d–" : "d" + ran) + (span ? " ↻" + span : ""));
  }

  function badgeOf(e) {
    const label = e.status === "in_progress" && e.kind === "await_event" ? "waiting"
      : e.status === "in_progress" ? "in progress" : e.status;
    return h("span", { class: "badge " + (["completed", "in_progress", "failed"].includes(e.status) ? e.status : "other") }, label);
  }

  async function loadTurn(params) {
    const session = params.get("session"), turnId = params.get("turn");
    const at = window.location.hash;
    const data = await api("GET", "/v1/turn?session_id=" + enc(session) + "&turn_id=" + enc(turnId));
    if (live.view !== "turn" || window.location.hash !== at) return;  // another turn was opened meanwhile
    const turn = data.turn;
    const key = JSON.stringify([turn.status, turn.updated_at_ms, data.effects.map((e) => [e.seq, e.status, e.updated_at_ms])]);
    if (key === live.turnKey) return;  // nothing changed: keep the page (and any open details) as it is
    live.turnKey = key;
    document.getElementById("turn-name").textContent = turn.name + " " + turn.session_id + " / " + turn.turn_id;
    const fact = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
    document.getElementById("turn-facts").replaceChildren(
      ...fact("status", statusBadge(turn.status)), ...fact("started", when(turn.created_at_ms)),
      ...fact("duration", duration(turn.duration_ms)), ...fact("attempts", String(turn.attempts)),
      ...fact("resumes", String(turn.resumes)),
      ...fact("input", h("code", {}, JSON.stringify(turn.input))),
      ...(turn.status === "completed" ? fact("result", h("code", {}, JSON.stringify(turn.result))) : []),
      ...(turn.meta && turn.meta.fork ? fact("forked from", h("a", { href: link("turn", { session: turn.session_id, turn: turn.meta.fork.turn_id }) }, turn.meta.fork.turn_id + " (kept " + turn.meta.fork.keep + ")")) : []));
    document.getElementById("turn-error").replaceChildren(...(turn.error ? [h("p", { class: "error-line", role: "alert" },
      h("b", {}, turn.error.code), ": ", turn.error.message)] : []));
    const longest = Math.max(1, ...data.effects.map((e) => e.status === "in_progress" ? 0 : e.updated_at_ms - e.created_at_ms));
    const focus = params.get("effect");
    document.getElementById("timeline").replaceChildren(...data.effects.map((e) => timelineItem(e, longest, turn, focus)));
    document.getElementById("turn-json").textContent = JSON.stringify(data, null, 2);
    const ended = ["completed", "failed", "cancelled"].includes(turn.status);
    document.getElementById("turn-cancel").disabled = ended;
    document.getElementById("turn-resume").disabled = turn.status !== "failed";
    live.turn = turn;
    if (focus) { const el = document.getElementById("effect-" + focus); if (el) el.scrollIntoView({ block: "center" }); }
  }

  async function turnAction(action, confirmText) {
    const turn = live.turn;
    if (!turn || !confirm(confirmText)) return;
    try {
      const out = await api("POST", "/v1/turns/" + action, { session_id: turn.session_id, turn_id: turn.turn_id });
      flash(action + " " + turn.turn_id + ": now " + out.turn.status, "ok");
      live.turnKey = null;
      live.changes = null;
      await refresh();
    } catch (e) { flash(e.message, "error"); }
  }

  async function forkTurn(turn, keep) {
    turn = turn || live.turn;
    if (!turn) return;
    if (keep === undefined) {
      const given = prompt("Keep how many of its first effects' outcomes?", "1");
      if (given === null) return;
      keep = parseInt(given, 10);
      if (!(keep >= 0)) { flash("keep is a number of effects", "error"); return; }
    }
    const newId = prompt("The fork's turn id:", turn.turn_id + "-fork-" + keep);
    if (!newId) return;
    try {
      const out = await api("POST", "/v1/turns/fork", { session_id: turn.session_id, turn_id: turn.turn_id, new_turn_id: newId, keep });
      flash("forked as " + out.turn.turn_id, "ok");
      window.location.hash = link("turn", { session: out.turn.session_id, turn: out.turn.turn_id });
    } catch (e) { flash(e.message, "error"); }
  }

  // ---- the inbox ------------------------------------------------------------------------------

  function inboxCard(w) {
    const reason = h("input", { name: "reason", "aria-label": "reason for rejecting", placeholder: "reason" });
    const custom = h("textarea", { name: "custom", rows: 3, "aria-label": "custom resolution JSON" },
      '{"status": "ok", "payload": {"approved": true}}');
    const result = h("span", { class: "result muted", role: "status" });
    const send = async (resolution, what) => {
      try {
        const out = await api("POST", "/v1/await-events/" + enc(w.token) + "/resolve", resolution);
        flash(what + " " + (w.name || "wait") + ": " + out.status, "ok");
        result.textContent = out.status;
        live.inboxTokens = null;
        live.changes = null;
        await refresh();
      } catch (e) { result.textContent = e.message; flash(e.message, "error"); }
    };
    const turn = w.turn;
    return h("article", { class: "wait-card", "data-key-id": w.key_id, "data-session": w.session_id || "" },
      h("div", { class: "row" }, h("strong", {}, w.name || w.wait.type),
        turn ? h("a", { href: link("turn", { session: turn.session_id, turn: turn.turn_id }) }, turn.name + " " + turn.session_id + " / " + turn.turn_id)
          : h("span", { class: "muted" }, "session " + (w.session_id || "")),
        h("span", { class: "muted" }, "since " + when(w.created_at_ms))),
      w.question !== null ? h("div", { class: "question" }, h("b", {}, "Question "), h("pre", {}, JSON.stringify(w.question, null, 2))) : "",
      turn ? h("div", { class: "muted" }, "input ", h("code", {}, JSON.stringify(turn.input))) : "",
      h("div", { class: "row" },
        h("button", { type: "button", class: "primary approve", onclick: () => send({ status: "ok", payload: { approved: true } }, "approved") }, "Approve"),
        reason,
        h("button", { type: "button", class: "danger reject", onclick: () => {
          if (!reason.value.trim()) { result.textContent = "give a reason to reject"; reason.focus(); return; }
          send({ status: "err", payload: { code: "rejected", message: reason.value.trim() } }, "rejected");
        } }, "Reject"), result),
      h("details", {}, h("summary", {}, "Custom resolution"), custom,
        h("button", { type: "button", onclick: () => {
          let resolution;
          try { resolution = JSON.parse(custom.value); } catch (e) { result.textContent = "not JSON: " + e.message; return; }
          send(resolution, "resolved");
        } }, "Send")),
      h("details", {}, h("summary", {}, "JSON"), h("pre", {}, JSON.stringify(w, null, 2))));
  }

  async function loadInbox(params) {
    const query = new URLSearchParams({ limit: "100" });
    if (params.get("after")) query.set("after", params.get("after"));
    const at = window.location.hash;
    const data = await api("GET", "/v1/waits?" + query.toString());
    if (live.view !== "inbox" || window.location.hash !== at) return;  // another page was asked for
    const tokens = data.waits.map((w) => w.token).join(",");
    if (tokens === live.inboxTokens) return;  // unchanged
    live.inboxTokens = tokens;
    // keyed by wait: a card still listed is kept as it is (with a reason being typed into it)
    const box = document.getElementById("inbox");
    const kept = new Map([...box.children].map((card) => [card.dataset.keyId, card]));
    box.replaceChildren(...data.waits.map((w) => kept.get(w.key_id) || inboxCard(w)));
    document.getElementById("no-inbox").hidden = data.waits.length > 0;
    const next = document.getElementById("inbox-next");
    next.hidden = !data.next;
    if (data.next) next.setAttribute("href", link("inbox", { after: data.next }));
  }

  // ---- wiring -----------------------------------------------------------------------------------

  async function refresh() {
    const { view, params } = route();
    try {
      if (view === "turns") await loadTurns(params);
      else if (view === "turn") await loadTurn(params);
      else if (view === "inbox") await loadInbox(params);
      if (document.getElementById("flash").className === "error") flash("");
    } catch (e) {
      flash(e.status === 401 ? "The token was refused." : e.message, "error");
    }
  }

  async function onRoute() {
    const { view, params } = route();
    live.changes = null;  // a new view reads at once
    live.turnKey = null;
    live.inboxTokens = null;
    if (view === "turn") {
      // another turn: nothing of the previous one may stay on screen while this one loads
      for (const id of ["turn-facts", "turn-error", "timeline"]) document.getElementById(id).replaceChildren();
      document.getElementById("turn-name").textContent = "";
      document.getElementById("turn-json").textContent = "";
      live.turn = null;
    }
    show(view);
    if (view === "sessions") {
      const session = params.get("session");
      if (session && session !== state.session) await selectSession(session);
      else await window.refresh();  // app.js's refresh: the sessions view
      return;
    }
    await window.effecthostConsole.refresh();  // the feed's token is taken with the first read
  }

  // Live updates: one small read of live state every 2 s (/v1/changes); the view is read again
  // only when its token moved (a turn started, changed state or ended, a wait came or went).
  async function poll() {
    const data = await api("GET", "/v1/changes");
    document.getElementById("inbox-count").textContent = data.pending_waits ? String(data.pending_waits) : "";
    if (data.token === live.changes) return;
    live.changes = data.token;
    await refresh();
  }

  window.effecthostConsole = {
    sessionsShown: () => live.view === "sessions",
    refresh: async () => {
      try { await poll(); } catch (e) { flash(e.status === 401 ? "The token was refused." : e.message, "error"); }
    },
    sessionShown(sessionId) {
      // the session view's URL names the session, so a reload or a shared link opens it again
      const wanted = link("sessions", { session: sessionId });
      if (window.location.hash && window.location.hash !== wanted) history.replaceState(null, "", wanted);
      else if (!window.location.hash) history.replaceState(null, "", window.location.pathname + window.location.search + wanted);
    },
  };

  document.getElementById("turn-filters").addEventListener("submit", applyFilters);
  document.getElementById("turn-cancel").addEventListener("click", () => turnAction("cancel", "Cancel this turn? Its waits resolve cancelled."));
  document.getElementById("turn-resume").addEventListener("click", () => turnAction("resume", "Run this failed turn again from its failing effect?"));
  document.getElementById("turn-fork").addEventListener("click", () => forkTurn());
  window.addEventListener("hashchange", onRoute);
  show(route().view);
  // app.js's boot runs the first refresh once both scripts are in (DOMContentLoaded); a deep link
  // to a session opens it first, so the first refresh does not pick the newest one instead.
  if (route().view === "sessions" && route().params.get("session")) state.session = route().params.get("session");
})();
