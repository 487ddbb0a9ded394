"""What code called by a turn can reach through context variables (each task sees its own):
the logical call a step or tool body runs for; and the exception a suspension unwinds with.
(The turn itself is ``turn.CURRENT_TURN``.)"""

from __future__ import annotations

import contextvars

from ..core.errors import EffectHostError, ErrorCode

#: The logical call a step or tool body runs for (the same over its attempts and re-drives).
CURRENT_CALL: contextvars.ContextVar[str | None] = contextvars.ContextVar("effecthost_call", default=None)


class Suspended(BaseException):
    """The turn parked on a long wait or sleep: its record says what for, its task ends here.

    A BaseException, like ``asyncio.CancelledError``, so that a turn's ``except Exception`` does
    not swallow it (the turn would go on after its driver let go of it)."""


def outside_turn(what: str) -> EffectHostError:
    return EffectHostError(
        ErrorCode.TURN_CONTEXT_MISSING,
        f"{what} runs only inside a driven turn (host.run_turn, or a Worker for host.start_turn);"
        " outside one it would run without being journaled",
    )


def idempotency_key() -> str:
    """A stable key for the step or tool call running now: the same across its retries and
    re-drives, different for every other call. Hand it to the API the call talks to."""
    key = CURRENT_CALL.get()
    if key is None:
        raise outside_turn("idempotency_key()")
    return key
