"""The interceptor chain around effect execution and await-event calls.

Subclass :class:`Interceptor`, override the calls you observe, pass each on with
``await self.next.<call>(input)``, and open a host with ``open_host(url, interceptors=[...])``
(or ``InlineEffectHost(interceptors=[...])``); the first interceptor given is the outermost. An
effect's call returns an :class:`EffectResult`, whose ``replayed`` says whether the answer came
from the journal or from running the executor now. Each drive of a turn passes through
``drive_turn`` around its effects (``DriveTurnInput``, ``TurnEnd``). See docs/architecture.md.
"""

from ._private.core.exports import claim_exports
from ._private.runtime.interceptors import (
    AwaitAwaitEventInput,
    DriveTurnInput,
    EffectCounter,
    EffectLog,
    EffectResult,
    ExecuteEffectInput,
    Interceptor,
    MintAwaitEventKeyInput,
    PeekAwaitEventInput,
    RecordedExecution,
    ResolveAwaitEventInput,
    TurnEnd,
)

__all__ = [
    "AwaitAwaitEventInput",
    "DriveTurnInput",
    "EffectCounter",
    "EffectLog",
    "EffectResult",
    "ExecuteEffectInput",
    "Interceptor",
    "MintAwaitEventKeyInput",
    "PeekAwaitEventInput",
    "RecordedExecution",
    "ResolveAwaitEventInput",
    "TurnEnd",
]

claim_exports(globals())
