"""pydantic-ai's ``ExternalEventWaiter`` on effecthost's await events.

A wait is three effects of the turn, each replayed on a re-drive:

1. the resume token is the signed token of the await-event key the wait will park on, derived
   from the turn's scope and the wait's effect id (nothing is written; a replay derives the same);
2. ``ask(token)`` runs once as a durable step, so a replay neither calls it again nor hands out a
   second token, and an answer it gave is journaled;
3. unless it answered, ``turn.wait`` parks on the key with the pending tool calls as its question,
   which the web page and ``effecthost await`` list; under a worker a long wait suspends the turn,
   and a resolve from any process (``POST /v1/await-events/{token}/resolve``) wakes it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pydantic import JsonValue
from pydantic_ai.external_events import ExternalEventError, ExternalEventWaiter
from pydantic_ai.tools import DeferredToolRequests
from pydantic_core import to_jsonable_python

from effecthost import EffectHostError, ErrorCode

from ._state import state_of, turn_for_run

#: Prefix of the effect ids of the waits this waiter makes, apart from a turn's own waits.
WAIT_PREFIX = "pydantic_ai."


class EffectHostEventWaiter(ExternalEventWaiter):
    """Waits for an external event as an await event of the turn driving the run."""

    async def wait(
        self,
        name: str,
        *,
        ask: Callable[[str], Awaitable[JsonValue]],
        timeout: timedelta | None,  # noqa: ASYNC109 - pydantic-ai's signature
    ) -> JsonValue:
        turn = turn_for_run()
        effect_id = f"{WAIT_PREFIX}{name}#{state_of(turn).next_wait(name)}"
        token = turn.await_event_key(name, key=effect_id).to_token()

        async def ask_once() -> JsonValue:
            return await ask(token)

        answer = await turn.call(f"{name}.ask", ask_once, key=f"{effect_id}.ask")
        if answer is not None:
            return answer  # type: ignore[no-any-return]
        resolution = await turn.wait(
            name,
            question=question_for(name, ask),
            timeout=None if timeout is None else timeout.total_seconds(),
            key=effect_id,
        )
        if resolution.is_ok:
            return resolution.value  # type: ignore[no-any-return]
        if resolution.status == "timeout":
            raise ExternalEventError(f"No resolution arrived within {timeout}.")
        if resolution.status == "cancelled":
            raise EffectHostError(ErrorCode.TURN_CANCELLED, f"the wait {name!r} was cancelled")
        payload = resolution.payload if isinstance(resolution.payload, dict) else {}
        reason = payload.get("message") or payload.get("code") or "resolved with an error"
        raise ExternalEventError(str(reason))


def question_for(name: str, ask: object) -> dict[str, Any]:
    """What the operator is shown: the wait's name and, when the wait is a deferred-tool-call
    handler's, the calls awaiting a decision (tool, arguments, call id)."""
    question: dict[str, Any] = {"wait": name, "source": "pydantic-ai"}
    requests = _deferred_requests(ask)
    if requests is not None:
        question["approvals"] = [_call(part) for part in requests.approvals]
        question["calls"] = [_call(part) for part in requests.calls]
    return question


def _call(part: Any) -> dict[str, Any]:
    return {
        "tool_name": part.tool_name,
        "tool_call_id": part.tool_call_id,
        "args": to_jsonable_python(part.args, fallback=repr),
    }


def _deferred_requests(ask: object, depth: int = 0) -> DeferredToolRequests | None:
    """The ``DeferredToolRequests`` a ``HandleDeferredToolCalls`` handler's ``ask`` was bound to.

    pydantic-ai hands the waiter only ``ask``; the requests are an argument of the partial it wraps
    (through its ``inline`` closure when the handler is a capability's durable operation). Found by
    looking, so a future pydantic-ai that wraps it differently loses the detail, not the wait: the
    question then names the wait alone (pinned by a test against the tested release)."""
    if depth > 4:
        return None
    if isinstance(ask, functools.partial):
        for value in (*ask.args, *ask.keywords.values()):
            if isinstance(value, DeferredToolRequests):
                return value
        return _deferred_requests(ask.func, depth + 1)
    inline = getattr(ask, "inline", None)
    if inline is not None:
        return _deferred_requests(inline, depth + 1)
    for cell in getattr(ask, "__closure__", None) or ():
        try:
            content = cell.cell_contents
        except ValueError:
            continue
        if isinstance(content, DeferredToolRequests):
            return content
        if callable(content) and content is not ask:
            found = _deferred_requests(content, depth + 1)
            if found is not None:
                return found
    return None
