"""The operator's work (:mod:`effecthost.operations`) on an engine's deployment-side host.

The answers have the shapes the SQL hosts give, so the page, ``--json`` and ``/v1`` read one
shape. What differs comes from where the state lives: the engine keeps the turns (a Restate
invocation, a Temporal workflow) and their journals, so listings are the engine's own queries
(filtered and paged by keyset as on SQL); journal browsing, resume and fork are refused with
``turns_unsupported``. :mod:`effecthost.operations` dispatches here for an :class:`EngineHost`.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from effecthost import AwaitEventKey, EffectHostError, ErrorCode, TurnInfo, TurnStatus
from effecthost.operations import CONTROL_WAITS, MAX_SCAN, decode_cursor, encode_cursor, turn_view
from effecthost.views import await_key_view, effect_view

from .hosts import EngineHost
from .kit import key_digest


def unsupported(host: EngineHost, what: str) -> EffectHostError:
    """The refusal of what an engine host cannot do (the SQL hosts can)."""
    return EffectHostError(
        ErrorCode.TURNS_UNSUPPORTED,
        f"{what} is not available on the {host.engine} engine: its turns and journals stay in"
        f" {host.engine} (turns list, show, start, result and cancel, the waits inbox and the await"
        f" events work; see docs/{host.engine}.md)",
    )


async def list_turns(
    host: EngineHost,
    *,
    session_id: str | None,
    status: str | None,
    name: str | None,
    since_ms: int | None,
    until_ms: int | None,
    search: str | None,
    after: str | None,
    oldest_first: bool,
    limit: int,
) -> dict[str, Any]:
    """The engine's turns, filtered and paged by keyset as the SQL hosts list theirs."""
    cursor = None if after is None else decode_cursor(after, (int, str, str))
    infos = await host.query_turns(
        session_id=session_id, status=status, name=name, since_ms=since_ms, until_ms=until_ms,
        search=search, after=cursor, newest_first=not oldest_first, limit=limit,
    )  # fmt: skip
    now = int(time.time() * 1000)
    last = infos[-1] if infos and len(infos) == limit else None
    next_cursor = None if last is None else encode_cursor((last.created_at_ms, last.session_id, last.turn_id))
    return {"turns": [turn_view(info, now) for info in infos], "next": next_cursor}


async def turn_detail(host: EngineHost, session_id: str, turn_id: str) -> dict[str, Any]:
    """The turn as the engine reports it, and its effects read from the engine's journal."""
    info = await host.get_turn(session_id, turn_id)
    if info is None:
        raise EffectHostError(ErrorCode.TURN_NOT_FOUND, f"no turn {session_id!r}/{turn_id!r}")
    effects = [effect_view(row) for row in await host.list_turn_effects(session_id, turn_id)]
    waits = [_digest_of(effect["await_token"]) for effect in effects]
    resolvers = await host.wait_resolvers(session_id) if any(waits) else {}
    for effect, wait in zip(effects, waits, strict=True):
        stamp = resolvers.get(wait, {}) if wait is not None else {}
        effect["resolved_by"], effect["resolved_at_ms"] = stamp.get("by"), stamp.get("at_ms")
    # drives are effecthost's claims on a SQL journal; an engine's retries are its own
    return {"turn": turn_view(info), "effects": effects, "drives": []}


def _digest_of(token: Any) -> str | None:
    """A wait's name in the engine's index (the SHA-256 of its key id), from its token."""
    if not isinstance(token, str) or not token:
        return None
    try:
        return key_digest(AwaitEventKey.from_token(token))
    except EffectHostError:
        return None


async def inbox(
    host: EngineHost, *, session_id: str | None, after: str | None, limit: int
) -> dict[str, Any]:
    """The unanswered waits of the sessions with live turns (or of one session), oldest first,
    each with its turn and, where the turn reports it, its question; paged by keyset
    (``created_at_ms``, ``key_id``) as on SQL. The engine keeps a session's waits in its index,
    so every page reads the waits of the live turns' sessions and cuts at the cursor."""
    cursor = None if after is None else decode_cursor(after, (int, str))
    live = await host.live_turns(session_id=session_id, limit=MAX_SCAN)
    turns = {(info.session_id, info.turn_id): info for info in live}
    sessions = sorted({info.session_id for info in live} | ({session_id} if session_id else set()))
    waits = []
    for session in sessions:
        for key in await host.list_outstanding_await_event_keys(session):
            if key.wait.variant in CONTROL_WAITS:
                continue
            view = await_key_view(key)
            turn_ids = key.scope.ids if key.scope.variant == "turn" else None
            info = None if turn_ids is None else turns.get((turn_ids[0], turn_ids[1]))
            if info is not None and info.status is TurnStatus.RUNNING and info.waiting is None:
                # registered with the engine, but the turn's report (a memo, its state) does not
                # say so yet: listed a moment later, with its question, rather than without it
                continue
            waiting = (info.waiting or {}) if info is not None else {}
            mine = waiting.get("key") == view["token"]
            view.update(
                session_id=session,
                # the engine keeps no registration time: the turn's start, which stays put (its
                # last change moves while it is parked, and would move the inbox's cursor)
                created_at_ms=info.created_at_ms if info is not None else 0,
                status="pending",
                resolution=None,
                resolved_at_ms=None,
                resolved_by=None,
                question=waiting.get("question") if mine else None,
                name=waiting.get("name") if mine else None,
                turn=None if info is None else _turn_context(info),
            )
            waits.append(view)
    waits.sort(key=lambda view: (view["created_at_ms"], view["key_id"]))
    if cursor is not None:
        waits = [view for view in waits if (view["created_at_ms"], view["key_id"]) > cursor]
    page = waits[: max(limit, 0)]
    last = page[-1] if page and len(waits) > len(page) else None
    next_cursor = None if last is None else encode_cursor((last["created_at_ms"], last["key_id"]))
    return {"waits": page, "next": next_cursor}


def _turn_context(info: TurnInfo) -> dict[str, Any]:
    return {
        "session_id": info.session_id,
        "turn_id": info.turn_id,
        "name": info.name,
        "status": str(info.status),
        "input": info.input,
        "created_at_ms": info.created_at_ms,
    }


async def changes(host: EngineHost) -> dict[str, Any]:
    """A token that moves when a turn starts, changes state or ends, or a wait comes or goes."""
    live = await host.live_turns(limit=MAX_SCAN)
    counted = await host.count_turns()  # a turn that started and ended between two reads
    waits = []
    for session in sorted({info.session_id for info in live}):
        waits += [key.key_id for key in await host.list_outstanding_await_event_keys(session)]
    state = [
        sorted((t.session_id, t.turn_id, str(t.status), t.updated_at_ms) for t in live),
        counted,
        sorted(waits),
    ]
    digest = hashlib.sha256(json.dumps(state, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return {"token": digest.hexdigest()[:24], "live_turns": len(live), "pending_waits": len(waits)}


async def revoke_session(host: EngineHost, session_id: str, *, force: bool) -> dict[str, Any]:
    """Revoke the session's await keys forever; a session the engine has no turn or wait of is
    refused (``session_unknown``) unless ``force``, as on the SQL hosts."""
    pending = await host.list_outstanding_await_event_keys(session_id)  # a blank id: its own code
    turns = await host.query_turns(session_id=session_id, limit=1)
    if not force and not pending and not turns:
        raise EffectHostError(
            ErrorCode.SESSION_UNKNOWN,
            f"the {host.engine} engine has no turn or wait of session {session_id!r}; revoking it"
            " writes a permanent tombstone (force to revoke anyway)",
        )
    await host.revoke_await_events_for_session(session_id)
    return {"session_id": session_id, "status": "revoked", "pending_waits_revoked": len(pending)}


async def cancel_waits(host: EngineHost, session_id: str, *, by: str | None = None) -> dict[str, Any]:
    cancelled = await host.cancel_await_events_for_session(session_id, resolved_by=by)
    return {"session_id": session_id, "status": "cancelled", "cancelled": cancelled}


__all__ = ["cancel_waits", "changes", "inbox", "list_turns", "revoke_session", "turn_detail", "unsupported"]
