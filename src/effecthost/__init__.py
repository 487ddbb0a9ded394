"""effecthost: durable effects for AI-agent turns.

Every side effect of a turn goes through an effect host as an envelope with a stable hash; durable
hosts journal each outcome by (scope, replay key) and replay it on a re-drive. Await events are
signed, revocable, first-writer-wins promises that outsiders resolve.
"""

from ._private.awaits.values import AwaitEventKey, Resolution, ResolveOutcome, WaitIdentity
from ._private.clock import Clock, ManualClock, SystemClock
from ._private.commands import (
    AwaitEvent,
    Command,
    DurableStep,
    EffectEnvelope,
    ExecCode,
    LlmCall,
    Sleep,
    ToolCall,
)
from ._private.errors import EffectHostError, ErrorCode
from ._private.executor import CancelToken, LocalExecutor
from ._private.hosts.base import JournalRetirement
from ._private.hosts.durable import DurableEffectHost
from ._private.hosts.inline import InlineEffectHost
from ._private.hosts.recording import RecordingEffectHost, RecordingEffectHostRecord
from ._private.identity import EffectKind, ExecutionScope, RuntimeInvocation, RuntimeScope
from ._private.journal.driver import JournalController
from ._private.outcomes import (
    AwaitEventOutcome,
    DurableStepOutcome,
    ExecCodeOutcome,
    ExecResponse,
    LlmCallOutcome,
    Outcome,
    SleepOutcome,
    ToolCallOutcome,
)
from ._private.protocols import EffectController, EffectHost, ScopedController
from ._private.urls import open_host

__version__ = "0.1.0"

__all__ = [
    "AwaitEvent",
    "AwaitEventKey",
    "AwaitEventOutcome",
    "CancelToken",
    "Clock",
    "Command",
    "DurableEffectHost",
    "DurableStep",
    "DurableStepOutcome",
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
    "RuntimeInvocation",
    "RuntimeScope",
    "ScopedController",
    "Sleep",
    "SleepOutcome",
    "SystemClock",
    "ToolCall",
    "ToolCallOutcome",
    "WaitIdentity",
    "open_host",
]
