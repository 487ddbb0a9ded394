"""The errors both engines raise alike, and the checks that raise them (an engine passes its own
code and names where they differ: a budget's)."""

from __future__ import annotations

from effecthost import (
    EffectHostError,
    ErrorCode,
)
from effecthost.engine import (
    canonical_dumps,
)


def unknown_or_revoked() -> EffectHostError:
    """Refused, unknown and revoked keys answer the same (no oracle)."""
    return EffectHostError(ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED, "await-event key is invalid or revoked")


def turn_not_found(session_id: str, turn_id: str) -> EffectHostError:
    return EffectHostError(ErrorCode.TURN_NOT_FOUND, f"turn {session_id!r}/{turn_id!r} was never started")


def turn_result_timeout(session_id: str, turn_id: str, timeout: float | None) -> EffectHostError:
    return EffectHostError(
        ErrorCode.TURN_RESULT_TIMEOUT, f"turn {session_id!r}/{turn_id!r} did not end in {timeout} s"
    )


def check_session(session_id: object) -> None:
    if not isinstance(session_id, str) or not session_id.strip():
        raise EffectHostError(ErrorCode.INVALID_AWAIT_EVENT_SESSION_ID, "a session id is a non-empty str")


def error_body(error: EffectHostError) -> str:
    """A turn's error as the canonical JSON an engine's failure message carries (the code and
    message alone when the error's details do not serialise)."""
    try:
        return canonical_dumps(error.to_json())
    except EffectHostError:
        return canonical_dumps({"code": error.code, "message": error.message})


def over_budget(code: ErrorCode, limit: str, what: str, size: int, budget: int) -> EffectHostError:
    """``limit`` names the budget in the message (``"Restate journal budget"``)."""
    return EffectHostError(
        code,
        f"{what} is {size} bytes, over the {limit} of {budget} bytes",
        summary={"bytes": size, "budget": budget},
    )


def refuse_over_budget(code: ErrorCode, limit: str, what: str, text: str, budget: int) -> None:
    """Refuse ``text`` over ``budget`` UTF-8 bytes (encoded only when it may be over)."""
    if len(text) > budget // 4 and (size := len(text.encode("utf-8", "surrogatepass"))) > budget:
        raise over_budget(code, limit, what, size, budget)
