"""What the engine cases written once (tests/engine_*_cases.py) need of one engine's test stack:
an :class:`EngineUnderTest`, which tests/restate's and tests/temporal's conftest give as the
``engine`` fixture. Where the engines genuinely differ (how soon a listing shows a new turn, what
a crash or a replay means there) it says so here, in one place, rather than in two copies of the
cases."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from effecthost import AwaitEventKey, TurnInfo, TurnStatus
from engine_service_cases import EngineTarget

if TYPE_CHECKING:
    from effecthost.engines.restate import RestateEffectHost
    from effecthost.engines.temporal import TemporalEffectHost

    EngineHost = RestateEffectHost | TemporalEffectHost

T = TypeVar("T")


@dataclass
class EngineUnderTest:
    """One engine's running stack, as the shared cases see it (subclassed per engine)."""

    host: EngineHost
    target: EngineTarget  # its URL and secret, for the command line
    secret: bytes  # the secret the engine's wait keys are signed with
    marks: Path  # where the endpoint's or worker's effects leave their marks
    kills: Path  # the tags of the kills the endpoint or worker did to itself (tests/engine_turns.py)
    #: The code of a step over the engine's 16 KiB budget (Restate's journal, Temporal's history).
    budget_error: str
    #: The code of an effect run through the host outside a Restate handler or Temporal workflow.
    outside_scope_error: str
    #: Temporal's listings show news a moment later (its visibility, what ``list_turns`` reads;
    #: its history, written when a workflow task completes); Restate's are current at once, and
    #: its cases keep checking them at once.
    listings_lag: bool = False

    @property
    def name(self) -> str:
        return self.target.engine

    def marked(self) -> list[str]:
        return self.marks.read_text().splitlines() if self.marks.exists() else []

    async def current(
        self, listing: Callable[[], Awaitable[list[T]]], ready: Callable[[list[T]], bool] = bool
    ) -> list[T]:
        """``listing()``: at once, or (where listings lag) its first answer that is ``ready``."""
        found = await listing()
        for _ in range(400 if self.listings_lag else 0):
            if ready(found):
                break
            await asyncio.sleep(0.025)
            found = await listing()
        return found

    async def check_parked_record(self, info: TurnInfo, key: AwaitEventKey) -> None:
        """Engine-specific checks of where a parked turn's ``waiting`` is kept."""

    async def between_concurrent_waits(self) -> None:
        """What the engine does to a turn parked on its second of two waits (a crash, say)."""

    async def check_finished_turn_replays(self, info: TurnInfo) -> None:
        """Engine-specific checks that a finished turn's record replays on this code."""

    async def run_through_a_crash(self, name: str, session_id: str, input: dict[str, Any]) -> Any:
        """Run turn ``name`` (as turn ``t``), whose code SIGKILLs its endpoint or worker once,
        to its result: the engine's way back (a restarted endpoint, a replacement worker)."""
        raise NotImplementedError


async def marked_line(engine: EngineUnderTest, line: str) -> None:
    """Until the endpoint or worker marked ``line``."""
    for _ in range(400):
        if line in engine.marked():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never marked: {line}")


async def outstanding(engine: EngineUnderTest, session: str, n: int = 1) -> list[AwaitEventKey]:
    """The session's outstanding wait keys, once there are ``n`` (a wait registers a moment after
    its turn starts)."""
    for _ in range(400):
        keys = await engine.host.list_outstanding_await_event_keys(session)
        if len(keys) >= n:
            return keys
        await asyncio.sleep(0.025)
    raise AssertionError(f"no outstanding wait in {session}")


async def reported(handle: Any, status: TurnStatus) -> TurnInfo:
    """The turn's info once it reports ``status`` (a turn parks a moment after its wait or timer
    registers; Temporal's memo is written a moment after it parks)."""
    for _ in range(400):
        info: TurnInfo = await handle.info()
        if info.status is status:
            return info
        await asyncio.sleep(0.025)
    raise AssertionError(f"the turn never reported {status}: {info}")
