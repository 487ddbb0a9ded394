"""The callable backend: each durable operation pydantic-ai hands over becomes one effect of the
turn that is driving the run.

- a model request (plain or streamed) is an ``llm_call`` effect named by the operation;
- a tool call (function, MCP or dynamic toolset) is a ``tool_call`` effect whose effect id is the
  model's tool-call id (spec Appendix A), so the journal reads as the conversation does;
- every other operation (tool discovery, argument validation, token counts, compaction, the event
  stream handler, a capability's ``@durable_operation``) is a durable step named by the operation.

Payloads cross as JSON: the capability declares pydantic-ai's ``JSON_CODEC``, so what a unit's body
returns is pydantic-ai's own JSON form of the result (``ModelResponse``, ``CallToolResult``, ...),
which the turn journals as canonical JSON and pydantic-ai validates back on a replay.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from pydantic_ai._durable_replay import record_durable_unit
from pydantic_ai._run_context import get_current_run_context
from pydantic_ai.durable_exec._operation import (
    DurableOperationId,
    ModelRequestId,
    ToolsetCallToolId,
)
from pydantic_ai.durable_exec._operation_backend import CallableOperationBackend, RoleBasedOperationConfig
from pydantic_ai.durable_exec._operation_names import JournalOperationNamer
from pydantic_ai.messages import ModelMessagesTypeAdapter
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import RunContext
from pydantic_core import to_jsonable_python

from ._state import state_of, turn_for_run

#: Per-operation configuration: the turn API takes none today (retries are pydantic-ai's own, or
#: the turn's resume), so every role resolves to the same empty mapping.
UnitConfig = Mapping[str, Any]
_NO_CONFIG: UnitConfig = {}

#: Keys whose values differ between a run and its replay without changing what was asked: clocks
#: and the ids pydantic-ai draws per run. They stay in the journaled outcome, never in an envelope.
_VOLATILE_KEYS = frozenset({"timestamp", "run_id", "conversation_id"})


def operation_config() -> RoleBasedOperationConfig[UnitConfig]:
    none = _NO_CONFIG
    return RoleBasedOperationConfig(model=none, event=none, capability=none, tool=none)


class EffectHostOperationBackend(CallableOperationBackend[UnitConfig]):
    """Runs each pydantic-ai durable operation as an effect of the current turn."""

    def __init__(self, *, agent_name: str, default_model_id: str | None) -> None:
        self.namer = JournalOperationNamer(agent_name, default_model_id=default_model_id or "default")
        super().__init__(namer=self.namer, config=operation_config())

    async def execute(
        self,
        *,
        operation_id: DurableOperationId,
        name: str,
        body: Callable[[], Awaitable[object]],
        cache_key: tuple[object, ...],
        config: UnitConfig,
    ) -> object:
        turn = turn_for_run()
        ran = False

        async def run() -> object:
            nonlocal ran
            ran = True
            return await body()

        operation = self.namer.operation_name(operation_id)
        state = state_of(turn)
        run_id = _run_id(cache_key)
        if isinstance(operation_id, ModelRequestId):
            messages, parameters = cache_key[1], cache_key[3]
            payload = await turn.llm(
                lambda _request: run(),
                model=operation_id.model_name,
                messages=request_messages(messages),
                tools=tool_names(parameters),
                name=operation,
                key=state.next_id(operation, run_id),
            )
        elif isinstance(operation_id, ToolsetCallToolId):
            tool_name, tool_args, ctx = cache_key[0], cache_key[1], cache_key[2]
            assert isinstance(tool_name, str)
            call_id = getattr(ctx, "tool_call_id", None) or tool_name
            payload = await turn.tool(
                tool_name,
                lambda **_args: run(),
                to_jsonable_python(tool_args, fallback=repr),
                call_id=state.tool_key(call_id, run_id),
            )
        else:
            payload = await turn.call(operation, run, key=state.next_id(operation, run_id))
        # pydantic-ai keeps the spans and token metrics of work that only replayed out of telemetry
        record_durable_unit(executed=ran)
        return payload


def _run_id(cache_key: tuple[object, ...]) -> str | None:
    """The run an operation belongs to: from the run context among its parameters, else the run
    context of the calling code (an event handed to the stream handler carries none)."""
    for value in cache_key:
        if isinstance(value, RunContext):
            return value.run_id
    current = get_current_run_context()
    return None if current is None else current.run_id


def request_messages(messages: object) -> list[Any]:
    """What a model request asks, for its envelope: the messages since the model last answered
    (the user's prompt, the tool returns, the retry prompts), as pydantic-ai's JSON without clocks
    and run ids. Earlier messages are pinned by the effects that produced them already, so the
    envelope stays small however long the conversation grows."""
    assert isinstance(messages, list)
    start = len(messages)
    while start > 0 and getattr(messages[start - 1], "kind", None) != "response":
        start -= 1
    dumped = ModelMessagesTypeAdapter.dump_python(messages[start:], mode="json")
    return [{"position": start + index, "message": _stable(item)} for index, item in enumerate(dumped)]


def tool_names(parameters: object) -> list[str]:
    """The tools the model was offered (function and output tools), by name."""
    if not isinstance(parameters, ModelRequestParameters):
        return []
    return [tool.name for tool in (*parameters.function_tools, *parameters.output_tools)]


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _stable(item) for key, item in value.items() if key not in _VOLATILE_KEYS}
    if isinstance(value, list):
        return [_stable(item) for item in value]
    return value
