"""The operator's work (:mod:`effecthost.operations`) on an engine's deployment-side host.

The answers have the shapes the SQL hosts give, so the page, ``--json`` and ``/v1`` read one
shape. What differs comes from where the state lives: the engine keeps the turns (a Restate
invocation, a Temporal workflow) and their journals, so listings are the engine's own queries,
filtered here, in one page; journal browsing, resume and fork are refused with
``turns_unsupported``. :mod:`effecthost.operations` dispatches here for an :class:`EngineHost`.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from effecthost import EffectHostError, ErrorCode, TurnInfo, TurnStatus
from effecthost.operations import CONTROL_WAITS, MAX_SCAN, turn_view
from effecthost.views import await_key_view, effect_view

from .hosts import EngineHost

_ENDED = (TurnStatus.COMPLETED, TurnStatus.FAILED, TurnStatus.CANCELLED)


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
    """The engine's turns, filtered by name, time and id as the SQL hosts filter in their query;
    one page (``next`` is always None)."""
    if after is not None:
        raise EffectHostError(
            ErrorCode.INVALID_ARGUMENT, "an engine's turns come in one page: raise limit instead of paging"
        )
    if status is not None:
        try:
            TurnStatus(status)
        except ValueError:
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"unknown turn status {status!r}") from None
    infos = await host.list_turns(session_id=session_id, status=status, limit=MAX_SCAN)
    now = int(time.time() * 1000)
    views = [
        turn_view(info, now)
        for info in infos
        if (name is None or info.name == name)
        and (since_ms is None or info.created_at_ms >= since_ms)
        and (until_ms is None or info.created_at_ms < until_ms)
        and (search is None or search in (info.session_id, info.turn_id))
    ]
    views.sort(key=lambda view: (view["created_at_ms"], view["session_id"], view["turn_id"]))
    if not oldest_first:
        views.reverse()
    return {"turns": views[:limit], "next": None}


async def turn_detail(host: EngineHost, session_id: str, turn_id: str) -> dict[str, Any]:
    """The turn as the engine reports it, and its effects read from the engine's journal."""
    info = await host.get_turn(session_id, turn_id)
    if info is None:
        raise EffectHostError(ErrorCode.TURN_NOT_FOUND, f"no turn {session_id!r}/{turn_id!r}")
    effects = []
    for row in await host.list_turn_effects(session_id, turn_id):
        effect = effect_view(row)
        effect["resolved_by"] = effect["resolved_at_ms"] = None  # the engine does not keep who
        effects.append(effect)
    # drives are effecthost's claims on a SQL journal; an engine's retries are its own
    return {"turn": turn_view(info), "effects": effects, "drives": []}


def _live(infos: list[TurnInfo]) -> list[TurnInfo]:
    return [info for info in infos if info.status not in _ENDED]


async def inbox(
    host: EngineHost, *, session_id: str | None, after: str | None, limit: int
) -> dict[str, Any]:
    """The unanswered waits of the sessions with live turns (or of one session), oldest first,
    each with its turn and, where the turn reports it, its question; one page."""
    if after is not None:
        raise EffectHostError(
            ErrorCode.INVALID_ARGUMENT, "an engine's waits come in one page: raise limit instead of paging"
        )
    live = _live(await host.list_turns(session_id=session_id, limit=MAX_SCAN))
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
                created_at_ms=info.updated_at_ms if info is not None else 0,
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
    return {"waits": waits[:limit], "next": None}


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
    infos = await host.list_turns(limit=MAX_SCAN)
    live = _live(infos)
    waits = []
    for session in sorted({info.session_id for info in live}):
        waits += [key.key_id for key in await host.list_outstanding_await_event_keys(session)]
    state = [
        sorted((t.session_id, t.turn_id, str(t.status), t.updated_at_ms) for t in live),
        sorted((t.session_id, t.turn_id, t.created_at_ms) for t in infos)[-1:],
        sorted(waits),
    ]
    digest = hashlib.sha256(json.dumps(state, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return {"token": digest.hexdigest()[:24], "live_turns": len(live), "pending_waits": len(waits)}


async def revoke_session(host: EngineHost, session_id: str, *, force: bool) -> dict[str, Any]:
    """Revoke the session's await keys forever; a session the engine has no turn or wait of is
    refused (``session_unknown``) unless ``force``, as on the SQL hosts."""
    pending = await host.list_outstanding_await_event_keys(session_id)  # a blank id: its own code
    turns = await host.list_turns(session_id=session_id, limit=1)
    if not force and not pending and not turns:
        raise EffectHostError(
            ErrorCode.SESSION_UNKNOWN,
            f"the {host.engine} engine has no turn or wait of session {session_id!r}; revoking it"
            " writes a permanent tombstone (force to revoke anyway)",
        )
    await host.revoke_await_events_for_session(session_id)
    return {"session_id": session_id, "status": "revoked", "pending_waits_revoked": len(pending)}


async def cancel_waits(host: EngineHost, session_id: str) -> dict[str, Any]:
    cancelled = await host.cancel_await_events_for_session(session_id)
    return {"session_id": session_id, "status": "cancelled", "cancelled": cancelled}


__all__ = ["cancel_waits", "changes", "inbox", "list_turns", "revoke_session", "turn_detail", "unsupported"]
