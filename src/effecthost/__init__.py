"""effecthost: durable effects for AI-agent turns.

Every side effect of a turn goes through an effect host as an envelope with a stable hash; durable
hosts journal each outcome by (scope, replay key) and replay it on a re-drive. Await events are
signed, revocable, first-writer-wins promises that outsiders resolve.
"""

from ._private.core.await_values import AwaitEventKey, WaitIdentity
from ._private.core.clock import Clock, ManualClock, SystemClock
from ._private.core.commands import (
    AwaitEvent,
    Command,
    DurableStep,
    EffectEnvelope,
    ExecCode,
    LlmCall,
    Sleep,
    ToolCall,
)
from ._private.core.errors import CodeTraits, EffectHostError, ErrorCode, traits_of
from ._private.core.executor import CancelToken, LocalExecutor
from ._private.core.exports import claim_exports
from ._private.core.identity import EffectKind, ExecutionScope, RuntimeInvocation, RuntimeScope
from ._private.core.outcomes import (
    AwaitEventOutcome,
    DurableStepOutcome,
    ExecCodeOutcome,
    ExecResponse,
    LlmCallOutcome,
    Outcome,
    SleepOutcome,
    ToolCallOutcome,
)
from ._private.core.protocols import EffectController, EffectHost, JournalRetirement, ScopedController
from ._private.core.resolutions import Resolution, ResolveOutcome
from ._private.lifecycle.model import TurnStatus
from ._private.runtime.controller import JournalController
from ._private.runtime.durable import DurableEffectHost
from ._private.runtime.inline import InlineEffectHost
from ._private.runtime.operators import AwaitEventRecord
from ._private.runtime.recording import RecordingEffectHost, RecordingEffectHostRecord
from ._private.runtime.registry import open_host
from ._private.runtime.turn_control import TurnHandle, TurnInfo
from ._private.turns.context import idempotency_key
from ._private.turns.function import DurableTurn, durable_turn, step, tool
from ._private.turns.retry import RetryPolicy
from ._private.turns.turn import Turn, current_turn
from ._private.turns.worker import Worker

__version__ = "0.1.0"

__all__ = [
    "AwaitEvent",
    "AwaitEventKey",
    "AwaitEventOutcome",
    "AwaitEventRecord",
    "CancelToken",
    "Clock",
    "CodeTraits",
    "Command",
    "DurableEffectHost",
    "DurableStep",
    "DurableStepOutcome",
    "DurableTurn",
    "EffectController",
    "EffectEnvelope",
    "EffectHost",
    "EffectHostError",
    "EffectKind",
    "ErrorCode",
    "ExecCode",
    "ExecCodeOutcome",
    "ExecResponse",
    "ExecutionScope",
    "InlineEffectHost",
    "JournalController",
    "JournalRetirement",
    "LlmCall",
    "LlmCallOutcome",
    "LocalExecutor",
    "ManualClock",
    "Outcome",
    "RecordingEffectHost",
    "RecordingEffectHostRecord",
    "Resolution",
    "ResolveOutcome",
    "RetryPolicy",
    "RuntimeInvocation",
    "RuntimeScope",
    "ScopedController",
    "Sleep",
    "SleepOutcome",
    "SystemClock",
    "ToolCall",
    "ToolCallOutcome",
    "Turn",
    "TurnHandle",
    "TurnInfo",
    "TurnStatus",
    "WaitIdentity",
    "Worker",
    "current_turn",
    "durable_turn",
    "idempotency_key",
    "open_host",
    "step",
    "tool",
    "traits_of",
]

claim_exports(globals())
