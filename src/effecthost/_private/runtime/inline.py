"""The inline host (spec 4.1): runs local executors directly and journals nothing.

Each host owns its own await registry and random secret: a key minted by one inline host is
unknown to another.
"""

from __future__ import annotations

from ..awaits.store import AwaitStore
from ..core.commands import AwaitEvent, EffectEnvelope
from ..core.executor import LocalExecutor, check_effect_arguments
from ..core.identity import ExecutionScope
from ..core.outcomes import AwaitEventOutcome, Outcome
from ..core.protocols import JournalRetirement, ScopedController
from ..stores.memory import MemoryAwaitStore
from .awaiting import AwaitingHost


class InlineController:
    def __init__(self, host: InlineEffectHost) -> None:
        self._host = host

    @property
    def supports_durable_effects(self) -> bool:
        # As in the seed: the inline controller can run durable steps locally; it journals nothing.
        return True

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        self._host._check_open()
        check_effect_arguments(envelope, local_executor)
        command = envelope.command
        if isinstance(command, AwaitEvent):
            cancel, deadline = local_executor.into_await_event_options()
            return AwaitEventOutcome(await self._host.await_await_event(command.key, cancel, deadline))
        return await local_executor.execute(envelope)


class InlineEffectHost(AwaitingHost):
    def __init__(self, awaits: AwaitStore | None = None) -> None:
        super().__init__(awaits if awaits is not None else MemoryAwaitStore())
        self._controller = InlineController(self)

    @property
    def supports_durable_effects(self) -> bool:
        return True

    def scoped(self, scope: ExecutionScope) -> ScopedController:
        return ScopedController.shared(self._controller, scope)

    def scoped_static(self, scope: ExecutionScope) -> ScopedController | None:
        return ScopedController.shared(self._controller, scope)

    async def retire_effect_journal(self, retirement: JournalRetirement) -> int:
        return 0
