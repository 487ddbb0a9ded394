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
from pydantic_ai.durable_exec._model_error_codec import decode_model_error, encode_model_error
from pydantic_ai.durable_exec._operation import (
    DurableOperationId,
    ModelRequestId,
    ToolsetCallToolId,
)
from pydantic_ai.durable_exec._operation_backend import CallableOperationBackend, RoleBasedOperationConfig
from pydantic_ai.durable_exec._operation_names import JournalOperationNamer
from pydantic_ai.exceptions import ModelAPIError
from pydantic_ai.messages import ModelMessagesTypeAdapter
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import RunContext
from pydantic_core import to_jsonable_python

from effecthost import EffectHostError, ErrorCode

from ._state import state_of, turn_for_run

#: Per-operation configuration: the turn API takes none today (retries are pydantic-ai's own, or
#: the turn's resume), so every role resolves to the same empty mapping.
UnitConfig = Mapping[str, Any]
_NO_CONFIG: UnitConfig = {}

#: Keys whose values differ between a run and its replay without changing what was asked: clocks
#: and the ids pydantic-ai draws per run. They stay in the journaled outcome, never in an envelope.
_VOLATILE_KEYS = frozenset({"timestamp", "run_id", "conversation_id"})

#: Where a failed model request's journaled error keeps the model error's JSON form.
_MODEL_ERROR = "pydantic_ai_model_error"


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
            try:
                payload = await turn.llm(
                    lambda _request: _model_errors_kept(run),
                    model=operation_id.model_name,
                    messages=request_messages(messages),
                    tools=tool_names(parameters),
                    name=operation,
                    key=state.next_id(operation, run_id),
                )
            except EffectHostError as error:
                rebuilt = _rebuilt_model_error(error)
                if rebuilt is None:
                    raise
                # the model's own error, as pydantic-ai raised it: its model-error retries and
                # fallbacks see it on the first run and on every replay alike
                record_durable_unit(executed=ran)
                raise rebuilt from error
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


async def _model_errors_kept(run: Callable[[], Awaitable[object]]) -> object:
    """Run a model request; a model error (``ModelAPIError``) is journaled with the JSON form
    pydantic-ai's codec gives it, so a replay raises it again with its type and fields."""
    try:
        return await run()
    except ModelAPIError as error:
        try:
            encoded = encode_model_error(error)
        except Exception:  # a field that cannot be encoded: the error crosses as text
            encoded = None
        summary: dict[str, Any] = {"exception": exception_names(error)}
        if encoded is not None and decode_model_error(encoded) is not None:
            summary[_MODEL_ERROR] = encoded
        raise EffectHostError(
            ErrorCode.TURN_STEP_FAILED, f"{type(error).__name__}: {error}", summary=summary
        ) from error


def _rebuilt_model_error(error: EffectHostError) -> ModelAPIError | None:
    encoded = (error.summary or {}).get(_MODEL_ERROR)
    return decode_model_error(encoded) if isinstance(encoded, dict) else None


def exception_names(error: BaseException) -> list[str]:
    return [f"{cls.__module__}.{cls.__qualname__}" for cls in type(error).__mro__ if cls is not object]


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
