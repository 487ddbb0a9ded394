"""``EffectHostDurability``: pydantic-ai's durability capability for effecthost's durable turns.

The durable container is the turn driving the run (``current_turn()``), the durable unit an effect
of that turn. pydantic-ai's base capability owns the model, toolset and event plumbing; this
capability supplies the engine spec, the callable backend (``_backend.py``), replay-stable run
ids and start times, a durable timer, the telemetry replay scope and the external-event waiter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_ai._durable_replay import replay_scope
from pydantic_ai.agent import EventStreamHandler
from pydantic_ai.capabilities.abstract import WrapRunHandler
from pydantic_ai.durable_exec._base import BaseDurabilityCapability, conversation_id_from_run_id
from pydantic_ai.durable_exec._codec import JSON_CODEC
from pydantic_ai.durable_exec._spec import DurabilityEngineSpec
from pydantic_ai.external_events import external_event_scope
from pydantic_ai.models import Model
from pydantic_ai.run import AgentRunResult
from pydantic_ai.tools import AgentDepsT, RunContext

from effecthost import EffectHostError, ErrorCode

from ._backend import EffectHostOperationBackend
from ._state import driving_turn, outside_turn, state_of, turn_for_run
from ._waiter import EffectHostEventWaiter

ENGINE_SPEC = DurabilityEngineSpec(
    engine_name="effecthost",
    durable_unit_noun="effect",
    durable_container_noun="turn",
    # the journal holds canonical JSON: pydantic-ai reduces every value to its JSON form first
    codec=JSON_CODEC,
    serialization_failure=lambda error: EffectHostError(
        ErrorCode.CANONICAL_JSON_UNSUPPORTED_TYPE, f"a pydantic-ai value cannot be journaled as JSON: {error}"
    ),
    wrapped_toolset_kinds=frozenset({"function", "mcp", "dynamic"}),
    # effects run in the turn's own process: an MCP server is connected once per run, inside the
    # first effect that needs it (so connecting is covered like any effect), and closed with the run
    toolset_lifecycles={"function": "enter-always", "mcp": "enter-in-durable-unit", "dynamic": "enter-never"},
    tool_call_result_upgrade_lenient=False,
    journal_discovery=True,
    # parallel tool calls stay parallel: each is keyed by the model's call id, not by arrival order
    sequential_tools_in_durable_context=False,
    tool_config_key="effecthost",
)


@dataclass(init=False, kw_only=True)
class EffectHostDurability(BaseDurabilityCapability[AgentDepsT]):
    """Makes an agent's runs durable as effecthost turns.

    ``Agent(model, name=..., capabilities=[EffectHostDurability()])``; then ``await agent.run(...)``
    inside a ``@durable_turn`` function journals each model request as an ``llm_call`` effect, each
    tool call as a ``tool_call`` effect keyed by the model's call id, and pydantic-ai's other durable
    operations as durable steps, on whichever host drives the turn. A re-drive after a crash or a
    suspension replays them and calls nothing twice. Waits for external events
    (``HandleDeferredToolCalls`` with a token, ``RequestInput``) are await events of the turn.
    Outside a driven turn a run is refused with ``pydantic_ai_outside_turn``.
    """

    engine_spec = ENGINE_SPEC

    def __init__(
        self,
        *,
        models: Mapping[str, Model] | None = None,
        event_stream_handler: EventStreamHandler[AgentDepsT] | None = None,
        name: str | None = None,
    ) -> None:
        """``name`` defaults to the agent's name; it prefixes the journaled operation names, so
        keep it stable while turns are in flight. ``models``: other models a run may switch to,
        by id (pydantic-ai's model registry)."""
        super().__init__(models=models, event_stream_handler=event_stream_handler, name=name)

    # --- where the run is ---

    @property
    def in_durable_context(self) -> bool:
        return driving_turn() is not None

    def get_durable_operation_backend(self) -> EffectHostOperationBackend:
        return EffectHostOperationBackend(agent_name=self.name, default_model_id=self.default_model_id)

    # --- replay-stable identity and time ---

    def get_default_run_id(self) -> str | None:
        turn = driving_turn()
        if turn is None:
            return None
        return state_of(turn).next_run(lambda n: f"{turn.session_id}:{turn.turn_id}:{self.name}:run#{n}")

    def get_default_conversation_id(self, run_id: str) -> str | None:
        return conversation_id_from_run_id(run_id) if self.in_durable_context else None

    async def get_run_start_time(self, run_id: str) -> datetime | None:
        turn = driving_turn()
        if turn is None:
            return None
        started_ms = await turn.call(
            "pydantic_ai.run_start_time", _now_ms, key=f"pydantic_ai.run_start_time:{run_id}"
        )
        return datetime.fromtimestamp(started_ms / 1000, tz=UTC)

    async def durable_sleep(self, seconds: float) -> None:
        # the graph's waits between polls of a background response: a durable sleep of the turn
        # (journaled due time; a long one suspends the turn under a worker)
        await turn_for_run().sleep(max(0.0, min(seconds, 100 * 365 * 86_400.0)), name="pydantic_ai.sleep")

    # --- the run ---

    async def wrap_run(self, ctx: RunContext[AgentDepsT], *, handler: WrapRunHandler) -> AgentRunResult[Any]:
        """Refuse a run outside a driven turn; inside one, keep replayed work out of telemetry and
        wait for external events on the turn's await events."""
        if driving_turn() is None:
            raise outside_turn()
        with replay_scope(), external_event_scope(EffectHostEventWaiter()):
            return await super().wrap_run(ctx, handler=handler)


def _now_ms() -> int:
    return math.floor(datetime.now(tz=UTC).timestamp() * 1000)
