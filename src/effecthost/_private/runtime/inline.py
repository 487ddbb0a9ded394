"""The inline host (spec 4.1): runs local executors directly and journals nothing.

Each host owns its own await registry and random secret: a key minted by one inline host is
unknown to another. Its interceptors see every effect as executed (``replayed`` is always False).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..awaits.store import AwaitStore
from ..core.commands import AwaitEvent, EffectEnvelope
from ..core.errors import EffectHostError
from ..core.executor import LocalExecutor, check_effect_arguments
from ..core.identity import ExecutionScope
from ..core.outcomes import AwaitEventOutcome, Outcome
from ..core.protocols import JournalRetirement, ScopedController
from ..journal.decisions import is_journaled
from ..stores.memory import MemoryAwaitStore
from .await_loop import AwaitCoordinator
from .awaiting import ComposedHost
from .interceptors import EffectResult, ExecuteEffectInput, Interceptor


class InlineController:
    def __init__(self, host: InlineEffectHost, scope: ExecutionScope) -> None:
        self._host = host
        self._scope = scope

    @property
    def supports_durable_effects(self) -> bool:
        # As in the seed: the inline controller can run durable steps locally; it journals nothing.
        return True

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        self._host._check_open()
        check_effect_arguments(envelope, local_executor)
        input = ExecuteEffectInput(self._scope, envelope, local_executor, "inline", self)
        return (await self._host._chain.execute_effect(input)).unwrap()

    async def execute_recorded(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> EffectResult:
        """Run the effect now. Nothing is recorded, but the same errors count as its answer as on
        a durable host (this drive's own failures, such as a missing executor, are raised)."""
        command = envelope.command
        try:
            if isinstance(command, AwaitEvent):
                cancel, deadline = local_executor.into_await_event_options()
                resolution = await self._host.await_await_event(command.key, cancel, deadline)
                return EffectResult(AwaitEventOutcome(resolution), None, False)
            return EffectResult(await local_executor.execute(envelope), None, False)
        except EffectHostError as error:
            if not is_journaled(error):
                raise
            return EffectResult(None, error, False)


class InlineEffectHost(ComposedHost):
    def __init__(self, awaits: AwaitStore | None = None, *, interceptors: Iterable[Interceptor] = ()) -> None:
        store = awaits if awaits is not None else MemoryAwaitStore()
        super().__init__(AwaitCoordinator(store), interceptors)

    @property
    def supports_durable_effects(self) -> bool:
        return True

    def scoped(self, scope: ExecutionScope) -> ScopedController:
        scope = ExecutionScope.require(scope)
        return ScopedController.shared(InlineController(self, scope), scope)

    def scoped_static(self, scope: ExecutionScope) -> ScopedController | None:
        return self.scoped(scope)

    async def retire_effect_journal(self, retirement: JournalRetirement) -> int:
        return 0
