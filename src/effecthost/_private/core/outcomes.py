"""Effect outcomes (spec 2.8) with typed extractors, and ExecResponse (spec 2.9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import canonical
from .errors import EffectHostError, ErrorCode
from .identity import EffectKind
from .resolutions import Resolution


def _freeze(obj: object, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, slots=True)
class ExecResponse:
    """What a code cell produced. ``terminal_finish`` is the value it ended with."""

    observations: Any = field(default_factory=list)
    observation_truncation: Any = field(default_factory=list)
    tool_calls: Any = field(default_factory=list)
    images: Any = field(default_factory=list)
    printed_images: Any = field(default_factory=list)
    error: str | None = None
    duration_ms: int = 0
    terminal_finish: Any = None

    def __post_init__(self) -> None:
        for name in (
            "observations",
            "observation_truncation",
            "tool_calls",
            "images",
            "printed_images",
            "terminal_finish",
        ):
            _freeze(self, name, canonical.normalize(getattr(self, name), what=f"exec response {name}"))

    def to_json(self) -> dict[str, Any]:
        return {
            "observations": self.observations,
            "observation_truncation": self.observation_truncation,
            "tool_calls": self.tool_calls,
            "images": self.images,
            "printed_images": self.printed_images,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "terminal_finish": self.terminal_finish,
        }

    @classmethod
    def from_json(cls, value: Any) -> ExecResponse:
        if not isinstance(value, dict):
            raise _decode_error("exec response must be an object")
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in value.items() if k in names})


class Outcome:
    """Base of all outcomes. ``into_*`` extract a variant or raise ``runtime_effect_wrong_outcome``."""

    kind: ClassVar[EffectKind]

    def to_json(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _expect(self, expected: type[Outcome]) -> Any:
        if not isinstance(self, expected):
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_WRONG_OUTCOME,
                f"expected {expected.kind.value} outcome, got {self.kind.value}",
            )
        return self

    def into_sleep(self) -> None:
        self._expect(SleepOutcome)

    def into_durable_step(self) -> Any:
        return self._expect(DurableStepOutcome).value

    def into_exec_code(self) -> ExecResponse | str:
        result: ExecResponse | str = self._expect(ExecCodeOutcome).result
        return result

    def into_await_event(self) -> Resolution:
        resolution: Resolution = self._expect(AwaitEventOutcome).resolution
        return resolution

    def into_llm_call(self) -> LlmCallOutcome:
        outcome: LlmCallOutcome = self._expect(LlmCallOutcome)
        return outcome

    def into_tool_call(self) -> Any:
        outcome: ToolCallOutcome = self._expect(ToolCallOutcome)
        launch = outcome.launch
        if isinstance(launch, dict) and launch.get("status") == "pending":
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_TOOL_CALL_PENDING, "tool call outcome is still pending"
            )
        return launch

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return canonical.dumps(self.to_json()) == canonical.dumps(other.to_json())

    def __hash__(self) -> int:
        return hash(canonical.dumps(self.to_json()))


@dataclass(frozen=True, slots=True, eq=False)
class SleepOutcome(Outcome):
    kind: ClassVar[EffectKind] = EffectKind.SLEEP

    def to_json(self) -> dict[str, Any]:
        return {"type": "sleep"}


@dataclass(frozen=True, slots=True, eq=False)
class DurableStepOutcome(Outcome):
    value: Any = None
    kind: ClassVar[EffectKind] = EffectKind.DURABLE_STEP

    def __post_init__(self) -> None:
        _freeze(self, "value", canonical.normalize(self.value, what="durable step value"))

    def to_json(self) -> dict[str, Any]:
        return {"type": "durable_step", "value": self.value}


@dataclass(frozen=True, slots=True, eq=False)
class ExecCodeOutcome(Outcome):
    """``result`` is an :class:`ExecResponse` (``Ok``) or an error string (``Err``)."""

    result: ExecResponse | str
    kind: ClassVar[EffectKind] = EffectKind.EXEC_CODE

    def to_json(self) -> dict[str, Any]:
        if isinstance(self.result, ExecResponse):
            return {"type": "exec_code", "result": {"Ok": self.result.to_json()}}
        return {"type": "exec_code", "result": {"Err": self.result}}


@dataclass(frozen=True, slots=True, eq=False)
class AwaitEventOutcome(Outcome):
    resolution: Resolution
    kind: ClassVar[EffectKind] = EffectKind.AWAIT_EVENT

    def to_json(self) -> dict[str, Any]:
        return {"type": "await_event", "resolution": self.resolution.to_json()}


@dataclass(frozen=True, slots=True, eq=False)
class LlmCallOutcome(Outcome):
    """An LLM response (``Ok``) or the provider's error (``Err``), as free-form JSON."""

    response: Any = None
    error: Any = None
    text_streamed: bool = False
    kind: ClassVar[EffectKind] = EffectKind.LLM_CALL

    def __post_init__(self) -> None:
        _freeze(self, "response", canonical.normalize(self.response, what="llm response"))
        _freeze(self, "error", canonical.normalize(self.error, what="llm error"))

    def to_json(self) -> dict[str, Any]:
        result = {"Ok": self.response} if self.error is None else {"Err": self.error}
        return {"type": "llm_call", "result": result, "text_streamed": bool(self.text_streamed)}


@dataclass(frozen=True, slots=True, eq=False)
class ToolCallOutcome(Outcome):
    """``launch`` is ``{"status":"done","result":..}`` or ``{"status":"pending",...}``."""

    launch: Any
    triggers: Any = field(default_factory=list)
    kind: ClassVar[EffectKind] = EffectKind.TOOL_CALL

    def __post_init__(self) -> None:
        _freeze(self, "launch", canonical.normalize(self.launch, what="tool launch"))
        _freeze(self, "triggers", canonical.normalize(self.triggers, what="tool triggers"))

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "tool_call", "launch": self.launch}
        if self.triggers:
            body["triggers"] = self.triggers
        return body


def _decode_error(message: str) -> EffectHostError:
    return EffectHostError(ErrorCode.RUNTIME_EFFECT_OUTCOME_DECODE, message)


def _result(value: Any) -> tuple[bool, Any]:
    if isinstance(value, dict) and len(value) == 1:
        if "Ok" in value:
            return True, value["Ok"]
        if "Err" in value:
            return False, value["Err"]
    raise _decode_error('result must be {"Ok": ..} or {"Err": ..}')


def _trusted(cls: type[Any], **fields: Any) -> Any:
    """Build an outcome from journaled JSON without re-normalising it: the journal only ever holds
    canonical JSON we wrote ourselves, and replay is the hot path."""
    obj = object.__new__(cls)
    for name, item in fields.items():
        object.__setattr__(obj, name, item)
    return obj


def outcome_from_json(value: Any) -> Outcome:
    """Decode a journaled outcome; a shape we do not know raises ``runtime_effect_outcome_decode``."""
    if not isinstance(value, dict):
        raise _decode_error("outcome must be an object")
    kind = value.get("type")
    try:
        if kind == "sleep":
            return SleepOutcome()
        if kind == "durable_step":
            if "value" not in value:
                raise _decode_error("durable_step outcome needs a value")
            outcome: Outcome = _trusted(DurableStepOutcome, value=value["value"])
            return outcome
        if kind == "exec_code":
            ok, body = _result(value.get("result"))
            return ExecCodeOutcome(ExecResponse.from_json(body) if ok else str(body))
        if kind == "await_event":
            return AwaitEventOutcome(Resolution.from_json(value.get("resolution")))
        if kind == "llm_call":
            ok, body = _result(value.get("result"))
            streamed = bool(value.get("text_streamed", False))
            return LlmCallOutcome(body, None, streamed) if ok else LlmCallOutcome(None, body, streamed)
        if kind == "tool_call":
            return ToolCallOutcome(value.get("launch"), value.get("triggers", []))
    except EffectHostError as err:
        raise _decode_error(f"cannot decode {kind} outcome: {err.message}") from None
    except TypeError as err:
        raise _decode_error(f"cannot decode {kind} outcome: {err}") from None
    raise _decode_error(f"unknown outcome type {kind!r}")
