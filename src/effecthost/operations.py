"""What an operator does, shared by the command line and the HTTP service (and any program).

Each function takes a durable host and answers JSON-ready dicts in the shapes of
:mod:`effecthost.views`, so the page, ``effecthost ... --json`` and ``/v1`` show one shape. The
safeguards live here, once: revoking a session nothing was ever recorded for (a typo would leave a
permanent tombstone) and retiring a live session's journal are refused unless forced. Listings
page by keyset (``next``: an opaque cursor for the following page), never by offset.

Each also takes an engine's host (``restate://``, ``temporal://``): the same answers from the
engine's own state, where the engine keeps it (:mod:`effecthost.engines.operations`).

Public and free of any web framework or terminal import, like :mod:`effecthost.views`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import time
from typing import Any

from . import (
    AwaitEventKey,
    DurableEffectHost,
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    JournalRetirement,
    TurnInfo,
    TurnStatus,
)
from .engines.hosts import EngineHost
from .views import effect_view, session_view

#: Any host an operator works on: a database's, or an engine's deployment side (whose operations
#: are :mod:`effecthost.engines.operations`, imported when first needed).
AnyHost = DurableEffectHost | EngineHost

#: Turn-control waits (the machinery of cancellation) are nobody's to answer by hand.
CONTROL_WAITS = frozenset({"turn_cancel_gate", "turn_terminal"})
MAX_SCAN = 1000
_ENDED = (TurnStatus.COMPLETED, TurnStatus.FAILED, TurnStatus.CANCELLED)


# ---- cursors ----------------------------------------------------------------------------------


def encode_cursor(values: tuple[Any, ...]) -> str:
    """An opaque keyset cursor (URL-safe) for the position after ``values``."""
    raw = json.dumps(list(values), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str, shape: tuple[type, ...]) -> tuple[Any, ...]:
    """The values of a cursor made by :func:`encode_cursor`; ``invalid_argument`` for anything
    else (a hand-edited or truncated cursor)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        values = None
    if (
        not isinstance(values, list)
        or len(values) != len(shape)
        or not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, shape, strict=True))
    ):
        raise EffectHostError(ErrorCode.INVALID_ARGUMENT, "the cursor is not one this service gave out")
    return tuple(values)


# ---- turns ------------------------------------------------------------------------------------


def turn_view(info: TurnInfo, now_ms: int | None = None) -> dict[str, Any]:
    """A turn as listings show it: its record, how long it ran (so far), its listing cursor."""
    view = info.to_json()
    ended = info.status in (TurnStatus.COMPLETED, TurnStatus.FAILED, TurnStatus.CANCELLED)
    end = info.updated_at_ms if ended else (now_ms if now_ms is not None else int(time.time() * 1000))
    view["duration_ms"] = max(0, end - info.created_at_ms)
    view["scope_key"] = ExecutionScope.turn(info.session_id, info.turn_id).journal_key()
    return view


async def list_turns(
    host: AnyHost,
    *,
    session_id: str | None = None,
    status: str | None = None,
    name: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    search: str | None = None,
    after: str | None = None,
    oldest_first: bool = False,
    limit: int = 50,
) -> dict[str, Any]:
    """``{"turns": [...], "next": cursor | None}``: newest first unless ``oldest_first``."""
    if not isinstance(host, DurableEffectHost):
        from .engines import operations as on_engine

        return await on_engine.list_turns(
            host, session_id=session_id, status=status, name=name, since_ms=since_ms,
            until_ms=until_ms, search=search, after=after, oldest_first=oldest_first, limit=limit,
        )  # fmt: skip
    cursor = None if after is None else decode_cursor(after, (int, str, str))
    turns = await host.query_turns(
        session_id=session_id, status=status, name=name, since_ms=since_ms, until_ms=until_ms,
        search=search, after=cursor, newest_first=not oldest_first, limit=limit,
    )  # fmt: skip
    now = int(time.time() * 1000)
    views = [turn_view(t, now) for t in turns]
    last = turns[-1] if len(turns) == limit else None
    next_cursor = None if last is None else encode_cursor((last.created_at_ms, last.session_id, last.turn_id))
    return {"turns": views, "next": next_cursor}


async def turn_detail(host: AnyHost, session_id: str, turn_id: str) -> dict[str, Any]:
    """A turn and its timeline: its effects in run order, each wait with who resolved it and when."""
    if not isinstance(host, DurableEffectHost):
        from .engines import operations as on_engine

        return await on_engine.turn_detail(host, session_id, turn_id)
    info = await host.get_turn(session_id, turn_id)
    if info is None:
        raise EffectHostError(ErrorCode.TURN_NOT_FOUND, f"no turn {session_id!r}/{turn_id!r}")
    view = turn_view(info)
    rows = await host.browser.list_effects(view["scope_key"])
    resolutions = {
        r.key.key_id: r
        for r in await host.list_await_events(session_id=session_id, pending=False, limit=MAX_SCAN)
    }
    effects = []
    for row in rows:
        effect = effect_view(row)
        token = effect.get("await_token")
        record = None
        if token:
            try:
                record = resolutions.get(AwaitEventKey.from_token(token).key_id)
            except EffectHostError:
                record = None
        effect["resolved_by"] = None if record is None else record.resolved_by
        effect["resolved_at_ms"] = None if record is None else record.resolved_at_ms
        effects.append(effect)
    return {"turn": view, "effects": effects, "drives": attribute_drives(info.meta, effects)}


#: The longest a single request waits for a turn to end (a client asks again to wait longer).
MAX_RESULT_WAIT_S = 60.0


async def turn_result(
    host: AnyHost, session_id: str, turn_id: str, *, timeout_s: float = 0.0
) -> dict[str, Any]:
    """``{"done", "turn"}``: waits up to ``timeout_s`` seconds (at most :data:`MAX_RESULT_WAIT_S`)
    for the turn to end, then answers it as listings show it (its result, or its coded error);
    ``done`` is false when it had not ended by then. ``turn_not_found`` for a turn never started."""
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float)
        or not 0 <= timeout_s <= MAX_RESULT_WAIT_S
    ):
        raise EffectHostError(
            ErrorCode.INVALID_ARGUMENT, f"timeout_s is a number of seconds in [0, {MAX_RESULT_WAIT_S:g}]"
        )
    info = await host.get_turn(session_id, turn_id)
    if info is None:
        raise EffectHostError(ErrorCode.TURN_NOT_FOUND, f"no turn {session_id!r}/{turn_id!r}")
    if info.status not in _ENDED and timeout_s > 0:
        # the turn's own error, or the wait timed out: the record read below tells which
        with contextlib.suppress(EffectHostError):
            await host.turn_handle(session_id, turn_id).result(timeout=timeout_s)
        info = await host.get_turn(session_id, turn_id)
        assert info is not None  # a started turn is never forgotten
    return {"done": info.status in _ENDED, "turn": turn_view(info)}


def _drive_starts(meta: dict[str, Any]) -> list[tuple[int, int]]:
    """The ``[number, started_at_ms]`` pairs the claims wrote to the turn's meta, oldest first."""
    drives = meta.get("drives")
    if not isinstance(drives, list):
        return []
    return [
        (d[0], d[1])
        for d in drives
        if isinstance(d, list) and len(d) == 2 and all(type(v) is int for v in d)  # not bool
    ]


def attribute_drives(meta: dict[str, Any], effects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Which drive executed each effect and which replayed it, derived (the journal does not
    record drives): an effect was executed by the drive during which its row was claimed
    (``created_at_ms`` at or after that drive's start, before the next one's), and replayed by
    every later drive. A forked turn's kept prefix (its outcomes come from the source turn) and
    an effect claimed before the first drive the meta keeps (a turn re-driven more than 100
    times) were executed by none of them and replayed by all.
    Sets ``executed_in_drive`` and ``replayed_in_drives`` on each effect; answers the drives,
    each with the ``seq`` of what it executed and replayed."""
    starts = _drive_starts(meta)
    executed: list[list[int]] = [[] for _ in starts]
    replayed: list[list[int]] = [[] for _ in starts]
    fork = meta.get("fork")
    kept = fork.get("keep") if isinstance(fork, dict) else None
    kept = kept if isinstance(kept, int) and not isinstance(kept, bool) else 0
    for effect in effects:
        claimed = effect["created_at_ms"]
        index = next((i for i in range(len(starts) - 1, -1, -1) if starts[i][1] <= claimed), None)
        if effect["seq"] <= kept:
            index = None  # a fork's kept prefix: its outcomes came from the source turn's journal
        effect["executed_in_drive"] = None if index is None else starts[index][0]
        later = range(0 if index is None else index + 1, len(starts))
        effect["replayed_in_drives"] = [starts[i][0] for i in later]
        if index is not None:
            executed[index].append(effect["seq"])
        for i in later:
            replayed[i].append(effect["seq"])
    return [
        {"drive": n, "started_at_ms": at, "executed": executed[i], "replayed": replayed[i]}
        for i, (n, at) in enumerate(starts)
    ]


# ---- the journal: sessions and a scope's effects ------------------------------------------------


async def list_sessions(
    host: DurableEffectHost, *, after: str | None = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """``{"sessions": [...], "next": cursor | None}``: sessions by latest activity, newest first.
    ``after`` is a previous page's ``next``; ``offset`` (the older paging, kept working) cannot
    be combined with it. A session that is written to while it is being paged moves to the front
    (the order is by activity), so a pager may meet it again or not at all; every other session
    keeps its place."""
    _one_paging(after, offset)
    cursor = None if after is None else decode_cursor(after, (int, str))
    sessions = await host.browser.list_sessions(limit, offset, after=cursor)
    last = sessions[-1] if len(sessions) == limit else None
    return {
        "sessions": [session_view(s) for s in sessions],
        "next": None if last is None else encode_cursor((last.last_at_ms, last.session_id)),
    }


async def list_effects(
    host: DurableEffectHost, scope_key: str, *, after: str | None = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    """``{"scope_key", "effects": [...], "next": cursor | None}``: the scope's effects in run
    order; ``after`` is a previous page's ``next`` (``offset``, the older paging, cannot be
    combined with it). Effects recorded while paging come after the cursor, never shift it."""
    _one_paging(after, offset)
    cursor = None if after is None else decode_cursor(after, (int, int, str))
    rows = await host.browser.list_effects(scope_key, limit, offset, after=cursor)
    last = rows[-1] if len(rows) == limit else None
    return {
        "scope_key": scope_key,
        "effects": [effect_view(r) for r in rows],
        "next": None if last is None else encode_cursor((last.seq, last.created_at_ms, last.replay_key)),
    }


def _one_paging(after: str | None, offset: int) -> None:
    if after is not None and offset:
        raise EffectHostError(
            ErrorCode.INVALID_ARGUMENT, "page by after (a cursor) or by offset, not both"
        )


# ---- the inbox --------------------------------------------------------------------------------


async def inbox(
    host: AnyHost,
    *,
    session_id: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Waits nobody has answered yet, across sessions (or of one), oldest first, each with its
    question and context: the turn (name, input, status) whose wait it is."""
    if not isinstance(host, DurableEffectHost):
        from .engines import operations as on_engine

        return await on_engine.inbox(host, session_id=session_id, after=after, limit=limit)
    cursor = None if after is None else decode_cursor(after, (int, str))
    records = await host.list_await_events(
        session_id=session_id,
        pending=True,
        limit=limit,
        after=cursor,
    )
    waits = []
    for record in records:
        if record.key.wait.variant in CONTROL_WAITS:
            continue
        view = record.to_json()
        view["turn"] = None
        view["question"] = None
        view["name"] = None
        scope = record.key.scope
        if scope.variant == "turn":
            turn_session, turn_id = scope.ids
            info = await host.get_turn(turn_session, turn_id)
            if info is not None:
                view["turn"] = {
                    "session_id": info.session_id,
                    "turn_id": info.turn_id,
                    "name": info.name,
                    "status": str(info.status),
                    "input": info.input,
                    "created_at_ms": info.created_at_ms,
                }
                waiting = info.waiting or {}
                if waiting.get("key") == view["token"]:
                    view["question"] = waiting.get("question")
                    view["name"] = waiting.get("name")
        waits.append(view)
    last = records[-1] if len(records) == limit else None
    return {"waits": waits, "next": None if last is None else encode_cursor(last.cursor)}


# ---- the change feed ------------------------------------------------------------------------


_LIVE = (TurnStatus.PENDING, TurnStatus.RUNNING, TurnStatus.WAITING, TurnStatus.SLEEPING)


async def changes(host: AnyHost) -> dict[str, Any]:
    """A token that changes whenever a turn starts, changes state or ends, or a wait comes or
    goes: a page polls it and re-reads its view only when it moved. It reads live state only (the
    turns not ended, through the status index; the unanswered waits, through their partial index),
    never the history that piles up behind it."""
    if not isinstance(host, DurableEffectHost):
        from .engines import operations as on_engine

        return await on_engine.changes(host)
    live: list[TurnInfo] = []
    for status in _LIVE:
        live += await host.query_turns(status=status, limit=MAX_SCAN)
    newest = await host.query_turns(limit=1)
    waits = await host.list_await_events(pending=True, limit=MAX_SCAN)
    state = [
        sorted((t.session_id, t.turn_id, str(t.status), t.updated_at_ms) for t in live),
        [(t.session_id, t.turn_id, t.created_at_ms) for t in newest],
        sorted(w.key.key_id for w in waits),
    ]
    digest = hashlib.sha256(json.dumps(state, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return {"token": digest.hexdigest()[:24], "live_turns": len(live), "pending_waits": len(waits)}


# ---- sessions, with safeguards ----------------------------------------------------------------


async def session_activity(host: DurableEffectHost, session_id: str) -> dict[str, Any]:
    """What the substrate holds for a session: journal rows (in progress), turns (live) and waits
    (outstanding)."""
    scopes = await host.browser.list_scopes(session_id)
    turns = await host.query_turns(session_id=session_id, limit=MAX_SCAN)
    waits = await host.list_await_events(session_id=session_id, pending=False, limit=MAX_SCAN)
    live = [
        t for t in turns if t.status not in (TurnStatus.COMPLETED, TurnStatus.FAILED, TurnStatus.CANCELLED)
    ]
    return {
        "session_id": session_id,
        "effects": sum(s.effects for s in scopes),
        "in_progress": sum(s.in_progress for s in scopes),
        "turns": len(turns),
        "live_turns": len(live),
        "waits": len(waits),
        "pending_waits": sum(1 for w in waits if w.resolution is None),
    }


async def revoke_session(host: AnyHost, session_id: str, *, force: bool = False) -> dict[str, Any]:
    """Revoke every await key of the session, forever. A session with no record at all is refused
    (``session_unknown``) unless ``force``: the tombstone is permanent, a typo would keep it."""
    if not isinstance(host, DurableEffectHost):
        from .engines import operations as on_engine

        return await on_engine.revoke_session(host, session_id, force=force)
    await host.list_outstanding_await_event_keys(session_id)  # a blank id: its own code, first
    activity = await session_activity(host, session_id)
    if not force and activity["effects"] == activity["turns"] == activity["waits"] == 0:
        raise EffectHostError(
            ErrorCode.SESSION_UNKNOWN,
            f"nothing was ever recorded for session {session_id!r}; revoking it writes a permanent "
            "tombstone (force to revoke anyway)",
        )
    await host.revoke_await_events_for_session(session_id)
    return {"session_id": session_id, "status": "revoked", "pending_waits_revoked": activity["pending_waits"]}


async def retire_session(host: AnyHost, session_id: str, *, force: bool = False) -> dict[str, Any]:
    """Delete the session's journal rows. A live session (a turn not ended, an effect in progress,
    a wait outstanding) is refused (``session_live``) unless ``force``: its running turn would
    lose its lease and re-run effects. An engine keeps its journals for its own retention."""
    if not isinstance(host, DurableEffectHost):
        from .engines import operations as on_engine

        raise on_engine.unsupported(host, "retiring a session's journal")
    activity = await session_activity(host, session_id)
    live = activity["live_turns"] + activity["in_progress"] + activity["pending_waits"]
    if live and not force:
        raise EffectHostError(
            ErrorCode.SESSION_LIVE,
            f"session {session_id!r} is live ({activity['live_turns']} turns not ended, "
            f"{activity['in_progress']} effects in progress, {activity['pending_waits']} waits "
            "outstanding); retiring its journal would break them (force to retire anyway)",
        )
    retired = await host.retire_effect_journal(JournalRetirement.session(session_id))
    return {"session_id": session_id, "retired_rows": retired}


async def cancel_waits(host: AnyHost, session_id: str, *, by: str | None = None) -> dict[str, Any]:
    """Resolve the session's outstanding waits ``Cancelled``; says how many (``by``: who, as
    the host records it)."""
    if not isinstance(host, DurableEffectHost):
        from .engines import operations as on_engine

        return await on_engine.cancel_waits(host, session_id, by=by)
    cancelled = await host.cancel_await_events(session_id, resolved_by=by)
    return {"session_id": session_id, "status": "cancelled", "cancelled": cancelled}


__all__ = [
    "CONTROL_WAITS",
    "MAX_RESULT_WAIT_S",
    "AnyHost",
    "attribute_drives",
    "cancel_waits",
    "changes",
    "decode_cursor",
    "encode_cursor",
    "inbox",
    "list_effects",
    "list_sessions",
    "list_turns",
    "retire_session",
    "revoke_session",
    "session_activity",
    "turn_detail",
    "turn_result",
    "turn_view",
]
