"""What every engine's deployment-side host offers, and opening one from its URL.

A turn on an engine runs inside the engine (a Restate invocation, a Temporal workflow); the
deployment side starts, awaits, cancels and lists turns and serves their await events. The
command line, the HTTP service and :mod:`effecthost.operations` need only this much, so they take
any engine through :class:`EngineHost` and import an engine's SDK only when its URL is opened.
"""

from __future__ import annotations

from typing import Any, Protocol, Self

from effecthost import (
    AwaitEventKey,
    DurableTurn,
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    Resolution,
    ResolveOutcome,
    TurnInfo,
    TurnStatus,
    WaitIdentity,
)
from effecthost.store import JournalRow

#: URL schemes of the engines, by engine.
ENGINE_SCHEMES = {
    "restate": ("restate", "restate+http", "restate+https"),
    "temporal": ("temporal",),
}


class EngineTurnHandle(Protocol):
    """A turn started on an engine."""

    @property
    def session_id(self) -> str: ...

    @property
    def turn_id(self) -> str: ...

    async def info(self) -> TurnInfo: ...

    async def result(self, timeout: float | None = None) -> Any: ...  # noqa: ASYNC109 - the turn API's name


class EngineHost(Protocol):
    """An engine's deployment-side host (``RestateEffectHost``, ``TemporalEffectHost``)."""

    #: ``"restate"`` or ``"temporal"``: names the engine in messages and docs (docs/<engine>.md).
    engine: str

    async def start_turn(
        self,
        fn_or_name: DurableTurn[Any] | str,
        *,
        session_id: str,
        turn_id: str,
        input: dict[str, Any] | None = None,
    ) -> EngineTurnHandle: ...

    def turn_handle(self, session_id: str, turn_id: str) -> EngineTurnHandle: ...

    async def get_turn(self, session_id: str, turn_id: str) -> TurnInfo | None: ...

    async def list_turns(
        self,
        *,
        session_id: str | None = None,
        status: TurnStatus | str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TurnInfo]: ...

    async def query_turns(
        self,
        *,
        session_id: str | None = None,
        status: TurnStatus | str | None = None,
        name: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        search: str | None = None,
        after: tuple[int, str, str] | None = None,
        newest_first: bool = True,
        limit: int = 100,
    ) -> list[TurnInfo]:
        """Operators' listing, with the SQL hosts' filters and keyset paging."""
        ...

    async def count_turns(self) -> int:
        """How many turns the engine keeps (one count query)."""
        ...

    async def live_turns(self, *, session_id: str | None = None, limit: int = 1000) -> list[TurnInfo]:
        """The turns not ended, oldest first, without outcomes (the inbox, the change feed)."""
        ...

    async def cancel_turn(self, session_id: str, turn_id: str) -> TurnInfo: ...

    async def list_turn_effects(self, session_id: str, turn_id: str) -> list[JournalRow]:
        """The turn's journaled effects in run order, read from the engine's own journal."""
        ...

    async def await_event_key(self, scope: ExecutionScope, wait: WaitIdentity) -> AwaitEventKey: ...

    async def resolve_await_event(
        self, key: AwaitEventKey, resolution: Resolution, *, resolved_by: str | None = None
    ) -> ResolveOutcome: ...

    async def peek_await_event(self, key: AwaitEventKey) -> Resolution | None: ...

    async def list_outstanding_await_event_keys(self, session_id: str) -> list[AwaitEventKey]: ...

    async def cancel_await_events_for_session(
        self, session_id: str, *, resolved_by: str | None = None
    ) -> int:
        """Resolve the session's outstanding waits ``Cancelled``; how many were."""
        ...

    async def wait_resolvers(self, session_id: str) -> dict[str, dict[str, Any]]:
        """Who resolved the session's waits and when (``{"by", "at_ms"}`` by the wait's digest)."""
        ...

    async def revoke_await_events_for_session(self, session_id: str) -> None: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...


def engine_of_url(url: object) -> str | None:
    """``"restate"`` or ``"temporal"`` for an engine URL; None for anything else."""
    if not isinstance(url, str) or "://" not in url:
        return None
    scheme = url.split("://", 1)[0].lower()
    for engine, schemes in ENGINE_SCHEMES.items():
        if scheme in schemes:
            return engine
    return None


async def open_engine_host(url: str) -> EngineHost:
    """The deployment-side host of ``restate://HOST:PORT?admin=HOST:PORT`` (extra ``restate``,
    secret ``$EFFECTHOST_RESTATE_SECRET``) or ``temporal://HOST:PORT?task_queue=Q`` (extra
    ``temporal``, secret ``$EFFECTHOST_TEMPORAL_SECRET``); see docs/restate.md, docs/temporal.md.
    Close it with ``aclose()`` or ``async with``."""
    engine = engine_of_url(url)
    if engine == "restate":
        from .restate import open_restate_host  # raises extra_not_installed without the extra

        return open_restate_host(url)
    if engine == "temporal":
        from .temporal import open_temporal_host

        return await open_temporal_host(url)
    raise EffectHostError(
        ErrorCode.HOST_URL_UNSUPPORTED,
        f"not an engine URL: {url!r}; use restate://HOST:PORT?admin=HOST:PORT or temporal://HOST:PORT",
    )


__all__ = ["ENGINE_SCHEMES", "EngineHost", "EngineTurnHandle", "engine_of_url", "open_engine_host"]
