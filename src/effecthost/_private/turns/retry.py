"""Retry policies of steps and tool calls.

Each attempt is its own journaled effect (``{key}:attempt:{n}`` from the second on) and each
backoff a durable sleep whose due time (jitter included) is journaled, so a re-drive replays the
same attempts and waits no longer than what was left. Whether an error retries is decided from
what is journaled (its code, and for an exception the recorded class names), never from live
objects, so a replay takes the same decisions as the first run.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..core.errors import EffectHostError, ErrorCode


def exception_names(exc: BaseException) -> list[str]:
    """The qualified names of ``exc``'s classes, most specific first (what a journaled step
    failure keeps, so that ``retry_on`` types match on replay too)."""
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__ if cls is not object]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` in all (1: no retry). Backoff before attempt n+1:
    ``min(initial_s * multiplier**(n-1), max_s)``, times a factor in ``[1 - jitter, 1 + jitter]``.

    What retries: by default every failure of the function itself (an exception it raised, or an
    ``EffectHostError`` it raised); with ``retry_on`` only those exception types and error codes.
    Cancellation, lease loss and replay mismatches never retry.
    """

    attempts: int = 1
    initial_s: float = 0.5
    multiplier: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.2
    retry_on: tuple[type[BaseException] | str, ...] | None = None
    _names: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) or self.attempts < 1:
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, f"attempts must be an int >= 1, not {self.attempts!r}"
            )
        for name in ("initial_s", "multiplier", "max_s", "jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
                raise EffectHostError(
                    ErrorCode.INVALID_ARGUMENT, f"{name} must be a number >= 0, not {value!r}"
                )
        if self.jitter > 1:
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, f"jitter must be in [0, 1], not {self.jitter!r}"
            )
        if self.retry_on is not None:
            object.__setattr__(self, "_names", frozenset(_names_of(self.retry_on)))

    def retries(self, error: EffectHostError) -> bool:
        if error.code in _NEVER or error.is_replay_mismatch() or error.code.endswith("_lease_lost"):
            return False
        if self.retry_on is None:
            return True
        if error.code in self._names:
            return True
        recorded = (error.summary or {}).get("exception", [])
        return isinstance(recorded, list) and any(name in self._names for name in recorded)

    def backoff_s(self, attempt: int) -> float:
        """The delay after failed ``attempt`` (from 1), jitter drawn now (and then journaled)."""
        base = min(self.initial_s * self.multiplier ** (attempt - 1), self.max_s)
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


NO_RETRY = RetryPolicy()
_NEVER = frozenset({ErrorCode.TURN_CANCELLED, ErrorCode.TURN_LEASE_LOST, ErrorCode.TURN_PAYLOAD_TOO_LARGE})


def _names_of(items: Iterable[type[BaseException] | str]) -> list[str]:
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, type) and issubclass(item, BaseException):
            names.append(f"{item.__module__}.{item.__qualname__}")
        else:
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, f"retry_on holds exception types and error codes, not {item!r}"
            )
    return names
