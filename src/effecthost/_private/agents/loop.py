"""The agent loop on a durable turn.

Each model request is one ``llm_call`` effect (``{agent}#{n}``, with the turn API's retries); each
tool call is one ``tool_call`` effect whose effect id is the model's call id (spec Appendix A), and
each approval one ``await_event`` (``approval:{call_id}``). A re-drive rebuilds the same
conversation from the journal: every recorded model answer and tool result replays and nothing is
asked or run twice, so the loop needs no state of its own beyond the turn's journal.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..core import canonical
from ..core.commands import LlmCall
from ..core.errors import EffectHostError, ErrorCode
from ..turns.function import DurableTurn, durable_turn
from ..turns.retry import RetryPolicy
from ..turns.turn import Turn
from .approvals import decide
from .messages import ModelRequest, ModelResponse, ToolCallPart, Usage, tool_message
from .protocol import ModelClient, StreamDelta, StreamSink, deliver
from .tools import InvalidArguments, Tool, ToolError

#: What a model request retries by default: what the provider said could succeed later.
DEFAULT_MODEL_RETRY = RetryPolicy(
    attempts=4, initial_s=0.5, max_s=8.0, retry_on=(ErrorCode.MODEL_UNAVAILABLE,)
)


class StopReason(enum.StrEnum):
    """Why an agent run ended."""

    FINAL_ANSWER = "final_answer"
    LIMIT_REACHED = "limit_reached"
    CANCELLED = "cancelled"
    MODEL_ERROR = "model_error"
    TOOL_FAILED = "tool_failed"


@dataclasses.dataclass(frozen=True, slots=True)
class AgentLimits:
    """How far an agent may go in one run, and how it retries its model."""

    #: Model requests in one run; one more would stop it with ``limit_reached``.
    max_model_requests: int = 20
    #: Tool calls in one run (a model answer asking for more stops it before any of them runs).
    max_tool_calls: int = 50
    #: Seconds an approval may take (from when it is first asked); None: no deadline.
    approval_timeout_s: float | None = None
    #: The turn API's retry policy for each model request.
    model_retry: RetryPolicy = DEFAULT_MODEL_RETRY

    def __post_init__(self) -> None:
        for name in ("max_model_requests", "max_tool_calls"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"{name} is an int >= 1, not {value!r}")


@dataclasses.dataclass(frozen=True, slots=True)
class Spend:
    """Model requests, tool calls and tokens."""

    model_requests: int = 0
    tool_calls: int = 0
    usage: Usage = dataclasses.field(default_factory=Usage)

    def to_json(self) -> dict[str, Any]:
        return {
            "model_requests": self.model_requests,
            "tool_calls": self.tool_calls,
            "usage": self.usage.to_json(),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class AgentResult:
    """How a run ended. ``output``: the final answer's text (``final_answer`` only); ``error``: the
    coded error of any other stop. ``total`` counts the whole run as recorded, ``executed`` what
    this drive really asked and ran, ``replayed`` what it took from the journal instead: the model
    requests and tokens a replay saved."""

    agent: str
    stop: StopReason
    output: str | None
    error: EffectHostError | None
    total: Spend
    executed: Spend
    replayed: Spend
    messages: tuple[dict[str, Any], ...] = dataclasses.field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        return self.stop is StopReason.FINAL_ANSWER

    @property
    def tokens_saved(self) -> int:
        return self.replayed.usage.total_tokens

    def unwrap(self) -> str:
        """The final answer, or the stop's coded error raised."""
        if self.error is not None:
            raise self.error
        return self.output or ""

    def to_json(self) -> dict[str, Any]:
        """JSON for a turn's result (without the conversation)."""
        return {
            "agent": self.agent,
            "stop": self.stop.value,
            "output": self.output,
            "error": None if self.error is None else self.error.to_json(),
            "total": self.total.to_json(),
            "executed": self.executed.to_json(),
            "replayed": self.replayed.to_json(),
        }


class Agent:
    """``Agent(name, model, instructions=..., tools=[...], limits=AgentLimits(...))``.

    ``await agent.run(turn, prompt)`` inside a durable turn; ``agent.as_turn()`` is a
    ``@durable_turn`` (named after the agent, input ``{"prompt": ...}``) that returns the
    result's JSON. The name, model id, instructions, tools' schemas and settings are all part of
    each model request's envelope: replaying an old turn with a changed agent is a mismatch."""

    def __init__(
        self,
        name: str,
        model: ModelClient,
        *,
        instructions: str = "",
        tools: Sequence[Tool | Callable[..., Any]] = (),
        limits: AgentLimits | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT,
                f"an agent's name is 1-64 letters, digits, '_', '.' or '-', not {name!r}",
            )
        if not isinstance(model, ModelClient):
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT,
                f"an agent's model has .model and async .request(request, on_text), not {model!r}",
            )
        self.name = name
        self.model = model
        self.instructions = instructions
        built = [t if isinstance(t, Tool) else Tool.from_function(t) for t in tools]
        self.tools: dict[str, Tool] = {}
        for tool in built:
            if tool.name in self.tools:
                raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"two tools are named {tool.name!r}")
            self.tools[tool.name] = tool
        self.limits = limits or AgentLimits()
        self.settings = dict(canonical.normalize(dict(settings or {}), what="agent settings"))

    async def run(
        self,
        turn: Turn,
        prompt: str | Sequence[Mapping[str, Any]],
        *,
        stream: StreamSink | None = None,
    ) -> AgentResult:
        """Run the loop in ``turn`` until a final answer or a stop. ``prompt``: the user's text, or
        neutral messages to start from. ``stream``: a sink for text deltas (never journaled)."""
        return await _Run(self, turn, stream).run(prompt)

    def as_turn(self, *, name: str | None = None) -> DurableTurn[dict[str, Any]]:
        agent = self

        async def run_agent(turn: Turn, prompt: str) -> dict[str, Any]:
            return (await agent.run(turn, prompt)).to_json()

        return durable_turn(name=name or self.name)(run_agent)

    def __repr__(self) -> str:
        return f"<Agent {self.name} model={self.model.model} tools={sorted(self.tools)}>"


class _Stop(Exception):
    def __init__(self, stop: StopReason, error: EffectHostError) -> None:
        super().__init__(error.message)
        self.stop = stop
        self.error = error


#: Errors that are not the model's or a tool's, and must end the turn as they are.
_FATAL = frozenset({ErrorCode.TURN_LEASE_LOST, ErrorCode.TURN_CANCELLED})


def _fatal(error: EffectHostError) -> bool:
    return error.code in _FATAL or error.is_replay_mismatch() or error.code.endswith("_lease_lost")


class _Run:
    def __init__(self, agent: Agent, turn: Turn, sink: StreamSink | None) -> None:
        self.agent = agent
        self.turn = turn
        self.sink = sink
        self.specs = [tool.spec.to_json() for tool in agent.tools.values()]
        self.requests = 0
        self.tool_calls = 0
        self.usage = Usage()
        self.executed = Spend()
        self.replayed = Spend()
        self.used_ids: set[str] = set()
        self.messages: list[dict[str, Any]] = []

    async def run(self, prompt: str | Sequence[Mapping[str, Any]]) -> AgentResult:
        if self.agent.instructions:
            self.messages.append({"role": "system", "content": self.agent.instructions})
        if isinstance(prompt, str):
            self.messages.append({"role": "user", "content": prompt})
        else:
            self.messages.extend(dict(m) for m in prompt)
        try:
            return await self._loop()
        except _Stop as stop:
            return self._result(stop.stop, None, stop.error)
        except EffectHostError as error:
            if error.code == ErrorCode.TURN_CANCELLED:
                return self._result(StopReason.CANCELLED, None, error)
            raise

    async def _loop(self) -> AgentResult:
        limits = self.agent.limits
        while True:
            if self.requests >= limits.max_model_requests:
                raise _Stop(
                    StopReason.LIMIT_REACHED,
                    EffectHostError(
                        ErrorCode.AGENT_LIMIT_REACHED,
                        f"agent {self.agent.name!r} made {self.requests} model requests"
                        f" (max_model_requests) without a final answer",
                    ),
                )
            response = await self._ask()
            self.messages.append(response.assistant_message())
            if not response.tool_calls:
                return self._result(StopReason.FINAL_ANSWER, response.text or "", None)
            if self.tool_calls + len(response.tool_calls) > limits.max_tool_calls:
                raise _Stop(
                    StopReason.LIMIT_REACHED,
                    EffectHostError(
                        ErrorCode.AGENT_LIMIT_REACHED,
                        f"agent {self.agent.name!r} was asked for {len(response.tool_calls)} more tool"
                        f" calls after {self.tool_calls} (max_tool_calls {limits.max_tool_calls})",
                    ),
                )
            self.tool_calls += len(response.tool_calls)
            calls = [(call, self._effect_id(call)) for call in response.tool_calls]
            # started together, in the model's order; their results go back in that order
            outcomes = await asyncio.gather(
                *(self._call_tool(call, effect_id) for call, effect_id in calls), return_exceptions=True
            )
            stop: _Stop | None = None
            for outcome in outcomes:
                if isinstance(outcome, _Stop):
                    stop = stop or outcome
                elif isinstance(outcome, BaseException):
                    raise outcome  # a suspension, a mismatch, a lost lease: the turn's, not ours
            if stop is not None:
                raise stop
            self.messages.extend(o for o in outcomes if isinstance(o, dict))

    def _effect_id(self, call: ToolCallPart) -> str:
        """The model's call id; a call id the model already used in this turn (some servers number
        calls per answer) gets ``~{n}`` appended, deterministically."""
        base = call.id or f"call-{self.requests}"  # a model that sends no id: the request's number
        effect_id, n = base, 1
        while effect_id in self.used_ids:
            n += 1
            effect_id = f"{base}~{n}"
        self.used_ids.add(effect_id)
        return effect_id

    # -- the model --------------------------------------------------------------------------

    async def _ask(self) -> ModelResponse:
        self.requests += 1
        number = self.requests
        client = self.agent.model
        executed = False

        async def on_text(text: str) -> None:
            await self._emit(StreamDelta(self.agent.name, number, text))

        async def ask(command: LlmCall) -> dict[str, Any]:
            nonlocal executed
            executed = True
            answer = await client.request(
                ModelRequest.from_llm_call(command), on_text if self.sink is not None else None
            )
            if not isinstance(answer, ModelResponse):
                raise EffectHostError(
                    ErrorCode.MODEL_RESPONSE_INVALID,
                    f"{type(client).__name__}.request returned {type(answer).__name__}, not a ModelResponse",
                )
            return answer.to_json()

        try:
            raw = await self.turn.llm(
                ask,
                model=client.model,
                messages=list(self.messages),
                tools=self.specs,
                name=self.agent.name,
                retry=self.agent.limits.model_retry,
                generation=self.agent.settings,
            )
            response = ModelResponse.from_json(raw)
        except EffectHostError as error:
            if _fatal(error):
                raise
            raise _Stop(StopReason.MODEL_ERROR, error) from None
        self.usage = self.usage + response.usage
        one = Spend(1, 0, response.usage)
        if executed:
            self.executed = _plus(self.executed, one)
        else:
            self.replayed = _plus(self.replayed, one)
            if response.text:
                await self._emit(StreamDelta(self.agent.name, number, response.text, replayed=True))
        return response

    async def _emit(self, delta: StreamDelta) -> None:
        if self.sink is not None and not await deliver(self.sink, delta):
            self.sink = None

    # -- tools ------------------------------------------------------------------------------

    async def _call_tool(self, call: ToolCallPart, effect_id: str) -> dict[str, Any]:
        """The tool message that answers ``call``: its result, or an error the model can act on."""
        tool = self.agent.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.agent.tools)) or "none"
            return self._answer(call, effect_id, f"there is no tool {call.name!r} (tools: {known})", True)
        arguments: Mapping[str, Any] | str = call.arguments
        try:
            tool.validate(arguments)
        except InvalidArguments as exc:
            return self._answer(call, effect_id, f"invalid arguments for {tool.name}: {exc}", True)
        assert isinstance(arguments, Mapping)
        if tool.needs_approval:
            question = {
                "agent": self.agent.name,
                "tool": tool.name,
                "call_id": call.id,
                "arguments": dict(arguments),
                "description": tool.description,
            }
            resolution = await self.turn.wait(
                f"approve-{tool.name}",
                key=f"approval:{effect_id}",
                question=question,
                timeout=self.agent.limits.approval_timeout_s,
            )
            decision = decide(resolution)
            if decision.verdict == "cancelled":
                raise _Stop(
                    StopReason.CANCELLED, EffectHostError(ErrorCode.TURN_CANCELLED, "the turn was cancelled")
                )
            if decision.verdict != "approved":
                what = (
                    "rejected by the approver" if decision.verdict == "rejected" else "not approved in time"
                )
                return self._answer(call, effect_id, f"not run: {what}: {decision.reason}", True)
            if decision.arguments is not None:
                arguments = decision.arguments
                try:
                    tool.validate(arguments)
                except InvalidArguments as exc:
                    return self._answer(call, effect_id, f"not run: the approver's arguments: {exc}", True)
        return await self._run_tool(tool, call, effect_id, dict(arguments))

    async def _run_tool(
        self, tool: Tool, call: ToolCallPart, effect_id: str, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        executed = False

        async def body(**given: Any) -> Any:
            nonlocal executed
            executed = True
            kwargs = tool.validate(given)
            try:
                value = tool.fn(**kwargs)
                if inspect.isawaitable(value):
                    value = await value
            except ToolError as exc:
                raise EffectHostError(ErrorCode.AGENT_TOOL_ERROR, str(exc) or type(exc).__name__) from None
            return tool.to_jsonable(value)

        retry = tool.retry
        if retry is not None and retry.retry_on is None:
            # every exception retries, but a ToolError is an answer for the model, not a failure
            retry = dataclasses.replace(retry, retry_on=(Exception,))
        try:
            value = await self.turn.tool(tool.name, body, arguments, call_id=effect_id, retry=retry)
        except EffectHostError as error:
            self._count_tool(executed)
            if _fatal(error):
                raise
            if error.code == ErrorCode.AGENT_TOOL_ERROR:
                return self._answer(call, effect_id, error.message, True)
            raise _Stop(
                StopReason.TOOL_FAILED,
                EffectHostError(
                    ErrorCode.AGENT_TOOL_FAILED,
                    f"tool {tool.name!r} (call {effect_id!r}) failed: {error}",
                    summary={"tool": tool.name, "call_id": effect_id, "cause": error.to_json()},
                ),
            ) from None
        self._count_tool(executed)
        content = value if isinstance(value, str) else canonical.dumps(canonical.normalize(value))
        return self._answer(call, effect_id, content, False)

    def _count_tool(self, executed: bool) -> None:
        if executed:
            self.executed = _plus(self.executed, Spend(0, 1))
        else:
            self.replayed = _plus(self.replayed, Spend(0, 1))

    def _answer(self, call: ToolCallPart, effect_id: str, content: str, is_error: bool) -> dict[str, Any]:
        return tool_message(call.id or effect_id, call.name, content, is_error)

    def _result(self, stop: StopReason, output: str | None, error: EffectHostError | None) -> AgentResult:
        return AgentResult(
            agent=self.agent.name,
            stop=stop,
            output=output,
            error=error,
            total=Spend(self.requests, self.tool_calls, self.usage),
            executed=self.executed,
            replayed=self.replayed,
            messages=tuple(self.messages),
        )


def _plus(a: Spend, b: Spend) -> Spend:
    return Spend(a.model_requests + b.model_requests, a.tool_calls + b.tool_calls, a.usage + b.usage)
