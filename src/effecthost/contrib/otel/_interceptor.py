"""``OTelInterceptor``: spans and metrics of turns and effects, none for what replay answered.

Whether an effect replays is known only once the journal answered, so an effect's span starts
where its work starts: inside the local executor, which the interceptor wraps (the span is then
current while the model or tool runs, and a client library's own spans nest under it). Waits and
raw sleeps have no executor: their span is made after the answer, with the effect's start time.
A replayed effect ran nothing and emits nothing, unless ``emit_replayed`` asks for it.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import importlib.util
import json
import random
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.trace import ProxyTracerProvider, Span, SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from effecthost import (
    AwaitEvent,
    AwaitEventOutcome,
    DurableStep,
    DurableStepOutcome,
    EffectEnvelope,
    EffectHostError,
    LlmCall,
    LlmCallOutcome,
    LocalExecutor,
    Outcome,
    ResolveOutcome,
    Sleep,
    ToolCall,
    ToolCallOutcome,
    TurnStatus,
    __version__,
)
from effecthost.interceptors import (
    DriveTurnInput,
    EffectResult,
    ExecuteEffectInput,
    Interceptor,
    ResolveAwaitEventInput,
    TurnEnd,
)

from . import _genai
from ._instruments import Instruments

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.id_generator import IdGenerator as _IdGeneratorBase
else:
    try:  # the SDK's base class when the SDK is there; the SDK only duck-types it anyway
        from opentelemetry.sdk.trace.id_generator import IdGenerator as _IdGeneratorBase
    except ImportError:
        _IdGeneratorBase = object

_W3C = TraceContextTextMapPropagator()
#: (trace id, scope key, replay key) of the effect span being started in this context: a
#: :class:`ReplayAwareIdGenerator` derives its span id from them (only then is the hash computed).
_EFFECT_SPAN: contextvars.ContextVar[tuple[int, str, str] | None] = contextvars.ContextVar(
    "effecthost_otel_effect_span", default=None
)


@dataclasses.dataclass(slots=True)
class _Drive:
    """The drive a task's effects belong to (what a resumed wait waited since)."""

    wait_since_ms: int | None


_DRIVE: contextvars.ContextVar[_Drive | None] = contextvars.ContextVar("effecthost_otel_drive", default=None)


class ReplayAwareIdGenerator(_IdGeneratorBase):
    """An ``IdGenerator`` for the SDK's ``TracerProvider(id_generator=...)``: random ids, except
    for effect spans, whose span id is derived from the trace id, scope and replay key. An
    effect's span then has the same id however often re-drives emit it (``emit_replayed``), and a
    backend that keys spans by (trace id, span id) keeps one."""

    def generate_span_id(self) -> int:
        effect = _EFFECT_SPAN.get()
        if effect is not None:
            return derived_span_id(*effect)
        while True:
            value = random.getrandbits(64)
            if value:
                return value

    def generate_trace_id(self) -> int:
        while True:
            value = random.getrandbits(128)
            if value:
                return value

    def is_trace_id_random(self) -> bool:
        return True  # trace ids are random (only effect span ids are derived)


def derived_span_id(trace_id: int, scope_key: str, replay_key: str) -> int:
    digest = hashlib.sha256(
        f"{trace_id:032x}\x00{scope_key}\x00{replay_key}".encode("utf-8", "surrogatepass")
    )
    return int.from_bytes(digest.digest()[:8], "big") or 1


def _sdk_installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ImportError:
        return False


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _attempt_of(replay_key: str) -> int:
    _, sep, tail = replay_key.rpartition(":attempt:")
    return int(tail) if sep and tail.isdigit() else 1


class OTelInterceptor(Interceptor):
    """Traces and metrics per the OpenTelemetry GenAI semantic conventions.

    ``tracer_provider`` / ``meter_provider``: default, the global ones (set by the SDK or an
    auto-instrumentation). ``capture_content``: put messages, tool arguments and results on spans
    (default ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, off). ``emit_replayed``: emit
    replayed effects too, marked ``effecthost.replayed``. ``provider_name``: the provider of model
    calls whose model name (``provider:model``) and response do not tell. ``environ``: read instead
    of ``os.environ`` (``OTEL_SEMCONV_STABILITY_OPT_IN``).
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool | None = None,
        emit_replayed: bool = False,
        provider_name: str = "_OTHER",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._tracer = trace.get_tracer("effecthost", __version__, tracer_provider)
        self._metrics = Instruments(metrics.get_meter("effecthost", __version__, meter_provider))
        self.latest_conventions = _genai.latest_conventions(environ)
        self._provider_key = _genai.provider_key(self.latest_conventions)
        self.capture_content = (
            _genai.content_capture_default(environ) if capture_content is None else bool(capture_content)
        )
        self.emit_replayed = bool(emit_replayed)
        self.provider_name = provider_name
        # With no provider given and none set globally yet, the API hands out proxies: while both
        # globals are still those proxies nothing can record, and calls pass straight through.
        global_tracing = tracer_provider is None and isinstance(
            trace.get_tracer_provider(), ProxyTracerProvider
        )
        self._proxies = (
            (trace.get_tracer_provider(), metrics.get_meter_provider())
            if global_tracing and meter_provider is None
            else None
        )
        self._recheck_at = 0.0
        self._last_scope: object = None
        self._last_scope_key = ""
        #: No SDK to set a provider with, and none set: the interceptor stays out of the effect
        #: path for good (a host asks once, when it is built).
        self._passive = self._proxies is not None and not _sdk_installed()

    def observes_effects(self) -> bool:
        return not self._passive

    def _idle(self) -> bool:
        """True while only the API's proxies exist. Reading the globals costs two environment
        lookups, so it is done at most once a second: a provider set later is used from then on."""
        proxies = self._proxies
        if proxies is None:
            return False
        now = time.monotonic()
        if now < self._recheck_at:
            return True
        self._recheck_at = now + 1.0
        if trace.get_tracer_provider() is proxies[0] and metrics.get_meter_provider() is proxies[1]:
            return True
        self._proxies = None
        return False

    # -- turns --------------------------------------------------------------------------------

    async def drive_turn(self, input: DriveTurnInput) -> TurnEnd:
        if self._idle():
            return await self.next.drive_turn(input)
        carried = input.carried
        parent = _W3C.extract(carried) if "traceparent" in carried else None
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": input.name,
            "gen_ai.conversation.id": input.session_id,
            "effecthost.turn.id": input.turn_id,
            "effecthost.turn.attempt": input.attempt,
            "effecthost.backend": input.backend,
        }
        if self.provider_name != "_OTHER":
            attributes[self._provider_key] = self.provider_name
        now_ms = time.time_ns() // 1_000_000
        wait_since = None
        if input.resumed_from is not None:
            attributes["effecthost.turn.resumed_from"] = str(input.resumed_from)
            self._metrics.suspended.add(-1)
            if input.suspended_at_ms is not None:
                waited_ms = max(now_ms - input.suspended_at_ms, 0)
                attributes["effecthost.turn.suspended_ms"] = waited_ms
                if input.resumed_from is TurnStatus.WAITING:
                    wait_since = input.suspended_at_ms  # its await effect reports the whole wait
                else:
                    self._metrics.wait_duration.record(waited_ms / 1000, {"effecthost.wait.kind": "sleep"})
        span = self._tracer.start_span(
            f"invoke_agent {input.name}", context=parent, kind=SpanKind.INTERNAL, attributes=attributes
        )
        if "traceparent" not in carried and span.get_span_context().is_valid:
            # later drives (after a suspension or a crash, in any process) become its children
            _W3C.inject(carried, context=trace.set_span_in_context(span))
        token = otel_context.attach(trace.set_span_in_context(span))
        drive_token = _DRIVE.set(_Drive(wait_since))
        outcome = "released"
        try:
            end = await self.next.drive_turn(input)
            outcome = "lease_lost" if end.status is None else str(end.status)
            if end.status is None:
                self._metrics.leases_lost.add(1, {"effecthost.lease.kind": "turn"})
            elif end.status is TurnStatus.WAITING or end.status is TurnStatus.SLEEPING:
                self._metrics.suspended.add(1)
            elif end.status is TurnStatus.FAILED and end.error is not None:
                span.set_attribute("error.type", end.error.code)
                span.set_status(Status(StatusCode.ERROR, end.error.message))
            return end
        except BaseException as exc:
            if isinstance(exc, Exception):
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                outcome = "error"
            raise
        finally:
            _DRIVE.reset(drive_token)
            otel_context.detach(token)
            span.set_attribute("effecthost.turn.outcome", outcome)
            self._metrics.turns.add(1, {"effecthost.turn.outcome": outcome, "gen_ai.agent.name": input.name})
            span.end()

    # -- await events -------------------------------------------------------------------------

    async def resolve_await_event(self, input: ResolveAwaitEventInput) -> ResolveOutcome:
        outcome = await self.next.resolve_await_event(input)
        if not self._idle():
            self._metrics.resolves.add(1, {"effecthost.resolve.outcome": outcome.status})
        return outcome

    # -- effects ------------------------------------------------------------------------------

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        if self._idle():
            return await self.next.execute_effect(input)
        started_ns = time.time_ns()
        started = time.perf_counter()
        command = input.envelope.command
        call = _EffectCall(self, input)
        if not isinstance(command, (Sleep, AwaitEvent)):
            wrapped = LocalExecutor.testing(call.run)
            input = ExecuteEffectInput(input.scope, input.envelope, wrapped, input.backend, input.controller)
        try:
            result = await self.next.execute_effect(input)
        except EffectHostError as error:
            self._raised(input, call, error, time.perf_counter() - started)
            raise
        except BaseException as exc:
            if call.span is not None:
                call.span.record_exception(exc)
                call.span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                call.span.end()
            raise
        self._settled(input, call, result, started_ns, time.perf_counter() - started)
        return result

    def _settled(
        self,
        input: ExecuteEffectInput,
        call: _EffectCall,
        result: EffectResult,
        started_ns: int,
        seconds: float,
    ) -> None:
        envelope = input.envelope
        command = envelope.command
        kind = str(command.kind)
        outcome = result.outcome
        failed = result.error is not None or (
            isinstance(outcome, LlmCallOutcome) and outcome.error is not None
        )
        verdict = "replayed" if result.replayed else "failed" if failed else "executed"
        labels = {"effecthost.effect.kind": kind, "effecthost.effect.result": verdict}
        metrics_ = self._metrics
        metrics_.effects.add(1, labels)
        metrics_.effect_duration.record(seconds, labels)
        span = call.span
        if result.replayed:
            if isinstance(command, LlmCall) and isinstance(outcome, LlmCallOutcome):
                metrics_.saved_calls.add(1, {"gen_ai.request.model": _genai.split_model(command.model)[1]})
                tokens_in, tokens_out = _genai.token_usage(outcome.response or {})
                for token_type, count in (("input", tokens_in), ("output", tokens_out)):
                    if count:
                        metrics_.saved_tokens.add(count, {"gen_ai.token.type": token_type})
            if not self.emit_replayed:
                return
            span = self._start_effect_span(envelope, input, started_ns)
        elif span is None:  # a wait or a raw sleep: no executor ran, the span is made now
            span = self._start_effect_span(envelope, input, started_ns)
        waited_ms: float | None = None
        if isinstance(command, AwaitEvent) and not result.replayed:
            waited_ms = seconds * 1000
            drive = _DRIVE.get()
            if drive is not None and drive.wait_since_ms is not None:
                waited_ms = max(waited_ms, time.time_ns() // 1_000_000 - drive.wait_since_ms)
                drive.wait_since_ms = None
            metrics_.wait_duration.record(waited_ms / 1000, {"effecthost.wait.kind": "await_event"})
        if isinstance(command, LlmCall) and not result.replayed:
            self._record_model_call(command, outcome, result.error, seconds)
        if span is None:
            return
        answer: dict[str, Any] = {
            "effecthost.replayed": result.replayed,
            "effecthost.lease.took_over": result.took_over,
            "effecthost.effect.result": verdict,
        }
        if waited_ms is not None:
            answer["effecthost.await.waited_ms"] = round(waited_ms, 3)
        self._describe_answer(answer, command, outcome)
        if result.error is not None:
            answer["error.type"] = result.error.code
            span.set_status(Status(StatusCode.ERROR, result.error.message))
        elif isinstance(outcome, LlmCallOutcome) and outcome.error is not None:
            answer["error.type"] = _error_type(outcome.error)
            span.set_status(Status(StatusCode.ERROR, "the model call failed"))
        span.set_attributes(answer)  # one call: each set_attribute takes the span's lock
        span.end()

    def _raised(
        self, input: ExecuteEffectInput, call: _EffectCall, error: EffectHostError, seconds: float
    ) -> None:
        """A mismatch, a lost lease, an outage, a closed host: nothing was recorded."""
        envelope = input.envelope
        kind = str(envelope.command.kind)
        labels = {"effecthost.effect.kind": kind, "effecthost.effect.result": "failed"}
        self._metrics.effects.add(1, labels)
        self._metrics.effect_duration.record(seconds, labels)
        attributes = {"effecthost.replay_key": envelope.replay_key, "error.type": error.code}
        if error.is_replay_mismatch():
            self._metrics.mismatches.add(1, {"effecthost.effect.kind": kind})
            summary = error.summary or {}
            paths = [str(p) for p in summary.get("first_divergent_paths") or []]
            current = trace.get_current_span()
            current.add_event(
                "effecthost.replay_mismatch",
                {
                    **attributes,
                    "effecthost.scope": self._scope_key(input),
                    "effecthost.effect.kind": kind,
                    "effecthost.mismatch.divergent_paths": paths,
                    "effecthost.mismatch.divergent_path_count": int(summary.get("divergent_path_count", 0)),
                },
            )
        elif error.code.endswith("_lease_lost"):
            self._metrics.leases_lost.add(1, {"effecthost.lease.kind": "effect"})
        span = call.span
        if span is not None:
            span.set_attributes({"error.type": error.code, "effecthost.replayed": False})
            span.set_status(Status(StatusCode.ERROR, error.message))
            span.end()

    def _record_model_call(
        self, command: LlmCall, outcome: Outcome | None, error: EffectHostError | None, seconds: float
    ) -> None:
        response = outcome.response if isinstance(outcome, LlmCallOutcome) else None
        labels: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            self._provider_key: _genai.provider_of(command, response, self.provider_name),
            "gen_ai.request.model": _genai.split_model(command.model)[1],
        }
        model = response.get("model") if isinstance(response, dict) else None
        if isinstance(model, str) and model:
            labels["gen_ai.response.model"] = model
        if error is not None:
            labels["error.type"] = error.code
        elif isinstance(outcome, LlmCallOutcome) and outcome.error is not None:
            labels["error.type"] = _error_type(outcome.error)
        self._metrics.operation_duration.record(seconds, labels)
        if isinstance(response, dict):
            tokens_in, tokens_out = _genai.token_usage(response)
            if tokens_in is not None:
                self._metrics.token_usage.record(tokens_in, {**labels, "gen_ai.token.type": "input"})
            if tokens_out is not None:
                self._metrics.token_usage.record(tokens_out, {**labels, "gen_ai.token.type": "output"})

    # -- spans --------------------------------------------------------------------------------

    def _start_effect_span(self, envelope: EffectEnvelope, input: ExecuteEffectInput, start_ns: int) -> Span:
        command = envelope.command
        scope_key = self._scope_key(input)
        name, kind, attributes = self._describe_request(command, envelope)
        attributes.update(
            {
                "effecthost.scope": scope_key,
                "effecthost.replay_key": envelope.replay_key,
                "effecthost.effect.kind": str(command.kind),
                "effecthost.envelope.hash": envelope.stable_hash(),
                "effecthost.backend": input.backend,
            }
        )
        parent = trace.get_current_span().get_span_context()
        trace_id = parent.trace_id if parent.is_valid else 0
        naming = _EFFECT_SPAN.set((trace_id, scope_key, envelope.replay_key) if trace_id else None)
        try:
            return self._tracer.start_span(name, kind=kind, attributes=attributes, start_time=start_ns)
        finally:
            _EFFECT_SPAN.reset(naming)

    def _describe_request(
        self, command: Any, envelope: EffectEnvelope
    ) -> tuple[str, SpanKind, dict[str, Any]]:
        if isinstance(command, LlmCall):
            attributes = _genai.request_attributes(command)
            named, _ = _genai.split_model(command.model)
            if named or self.provider_name != "_OTHER":
                attributes[self._provider_key] = named or self.provider_name
            if self.capture_content:
                attributes["gen_ai.input.messages"] = _json(command.messages)
                if command.tools:
                    attributes["gen_ai.tool.definitions"] = _json(command.tools)
            return f"chat {attributes['gen_ai.request.model']}", SpanKind.CLIENT, attributes
        if isinstance(command, ToolCall):
            attributes = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": command.tool_name,
                "gen_ai.tool.call.id": command.call_id,
                "gen_ai.tool.type": "function",
                "effecthost.attempt": _attempt_of(envelope.replay_key),
            }
            if self.capture_content:
                attributes["gen_ai.tool.call.arguments"] = _json(command.args)
            return f"execute_tool {command.tool_name}", SpanKind.INTERNAL, attributes
        if isinstance(command, AwaitEvent):
            return (
                "effecthost.await_event",
                SpanKind.INTERNAL,
                {"effecthost.await.key_id": command.key.key_id, "effecthost.effect.id": envelope.effect_id},
            )
        if isinstance(command, Sleep):
            return (
                "effecthost.sleep",
                SpanKind.INTERNAL,
                {"effecthost.sleep.duration_ms": command.duration_ms},
            )
        if isinstance(command, DurableStep):
            attributes = {
                "effecthost.step.id": command.step_id,
                "effecthost.attempt": _attempt_of(envelope.replay_key),
            }
            if command.step_id == "sleep" and isinstance(command.input, dict):
                # a turn's sleep: this effect journals its due time, the turn then waits for it
                seconds = command.input.get("seconds")
                if isinstance(seconds, (int, float)):
                    attributes["effecthost.sleep.requested_s"] = seconds
                return "effecthost.sleep", SpanKind.INTERNAL, attributes
            return f"effecthost.step {command.step_id}", SpanKind.INTERNAL, attributes
        return f"effecthost.{command.kind}", SpanKind.INTERNAL, {}

    def _scope_key(self, input: ExecuteEffectInput) -> str:
        """The scope's journal key, computed once per scope object (it is canonical JSON, and a
        controller passes the same scope object with each of its effects)."""
        scope = input.scope
        if scope is not self._last_scope:
            self._last_scope, self._last_scope_key = scope, scope.journal_key()
        return self._last_scope_key

    def _describe_answer(self, answer: dict[str, Any], command: Any, outcome: Outcome | None) -> None:
        if isinstance(outcome, LlmCallOutcome) and isinstance(command, LlmCall):
            response = outcome.response
            answer.update(_genai.response_attributes(response))
            answer[self._provider_key] = _genai.provider_of(command, response, self.provider_name)
            if self.capture_content and response is not None:
                answer["gen_ai.output.messages"] = _json(response)
        elif isinstance(outcome, ToolCallOutcome) and self.capture_content:
            launch = outcome.launch
            value = launch.get("result") if isinstance(launch, dict) else launch
            answer["gen_ai.tool.call.result"] = _json(value)
        elif isinstance(outcome, AwaitEventOutcome):
            answer["effecthost.await.outcome"] = outcome.resolution.status
        elif (
            isinstance(outcome, DurableStepOutcome)
            and isinstance(command, DurableStep)
            and command.step_id == "sleep"
            and isinstance(outcome.value, int)
        ):
            answer["effecthost.sleep.due_at_ms"] = outcome.value


def _error_type(error: Any) -> str:
    if isinstance(error, dict):
        for key in ("code", "type"):
            value = error.get(key)
            if isinstance(value, str) and value:
                return value
    return "_OTHER"


class _EffectCall:
    """One effect's call through the interceptor: the span its executor started, if it ran."""

    __slots__ = ("_input", "_owner", "_real", "span")

    def __init__(self, owner: OTelInterceptor, input: ExecuteEffectInput) -> None:
        self._owner = owner
        self._input = input
        self._real = input.local_executor
        self.span: Span | None = None

    async def run(self, envelope: EffectEnvelope) -> Outcome:
        """The wrapped executor: the effect runs now, so its span starts now and is current."""
        span = self._owner._start_effect_span(envelope, self._input, time.time_ns())
        self.span = span
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            return await self._real.execute(envelope)
        finally:
            otel_context.detach(token)
