"""Effect commands (spec 2.6) and the envelope that carries one (spec 2.7).

Field order in ``to_json`` is the seed's declaration order; free-form values (``input``, ``args``,
``messages``...) are normalised once at construction, so a bad value fails where it was built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from . import canonical
from .await_values import AwaitEventKey
from .errors import EffectHostError, ErrorCode
from .identity import EffectKind, RuntimeInvocation, _check_u64, check_id


class Command:
    """Base of all commands: ``.kind`` names the :class:`EffectKind`."""

    kind: ClassVar[EffectKind]

    def to_json(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def validate(self) -> None:
        """Command-specific checks run by :class:`EffectEnvelope` (spec 2.7 step 5)."""


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise EffectHostError(ErrorCode.RUNTIME_EFFECT_COMMAND, f"{what} must be a string")
    return value


def _freeze(obj: object, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, slots=True)
class Sleep(Command):
    duration_ms: int
    kind: ClassVar[EffectKind] = EffectKind.SLEEP

    def __post_init__(self) -> None:
        _check_u64(self.duration_ms, "sleep duration_ms")

    def to_json(self) -> dict[str, Any]:
        return {"type": "sleep", "duration_ms": self.duration_ms}


@dataclass(frozen=True, slots=True)
class DurableStep(Command):
    step_id: str
    input: Any = None
    kind: ClassVar[EffectKind] = EffectKind.DURABLE_STEP

    def __post_init__(self) -> None:
        _text(self.step_id, "durable step id")
        _freeze(self, "input", canonical.normalize(self.input, what="durable step input"))

    def validate(self) -> None:
        if not self.step_id.strip():
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_DURABLE_STEP_ID, "durable step id must be non-empty"
            )

    def to_json(self) -> dict[str, Any]:
        return {"type": "durable_step", "step_id": self.step_id, "input": self.input}


@dataclass(frozen=True, slots=True)
class ExecCode(Command):
    code: str
    kind: ClassVar[EffectKind] = EffectKind.EXEC_CODE

    def __post_init__(self) -> None:
        _text(self.code, "exec code")

    def to_json(self) -> dict[str, Any]:
        return {"type": "exec_code", "code": self.code}


@dataclass(frozen=True, slots=True)
class AwaitEvent(Command):
    key: AwaitEventKey
    kind: ClassVar[EffectKind] = EffectKind.AWAIT_EVENT

    def __post_init__(self) -> None:
        if not isinstance(self.key, AwaitEventKey):
            raise EffectHostError(ErrorCode.RUNTIME_EFFECT_COMMAND, "await_event needs an AwaitEventKey")

    def to_json(self) -> dict[str, Any]:
        return {"type": "await_event", "key": self.key.to_json()}


@dataclass(frozen=True, slots=True)
class LlmCall(Command):
    """An LLM request (``LlmRequestSpec`` field order). Live callbacks never belong here."""

    model: str
    messages: Any = field(default_factory=list)
    attachments: Any = field(default_factory=list)
    tools: Any = field(default_factory=list)
    tool_choice: Any = None
    model_variant: str | None = None
    generation: Any = field(default_factory=dict)
    session_id: str | None = None
    output_spec: Any = None
    kind: ClassVar[EffectKind] = EffectKind.LLM_CALL

    def __post_init__(self) -> None:
        _text(self.model, "llm model")
        for name in ("messages", "attachments", "tools", "tool_choice", "generation", "output_spec"):
            _freeze(self, name, canonical.normalize(getattr(self, name), what=f"llm_call {name}"))
        for name in ("model_variant", "session_id"):
            if getattr(self, name) is not None:
                _text(getattr(self, name), f"llm_call {name}")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "llm_call",
            "request": {
                "model": self.model,
                "messages": self.messages,
                "attachments": self.attachments,
                "tools": self.tools,
                "tool_choice": self.tool_choice,
                "model_variant": self.model_variant,
                "generation": self.generation,
                "session_id": self.session_id,
                "output_spec": self.output_spec,
            },
        }


@dataclass(frozen=True, slots=True)
class ToolCall(Command):
    """A prepared tool call: ``{call_id, tool_name, args, replay?, prepared_payload?}``."""

    call_id: str
    tool_name: str
    args: Any = field(default_factory=dict)
    replay: Any = None
    prepared_payload: Any = None
    kind: ClassVar[EffectKind] = EffectKind.TOOL_CALL

    def __post_init__(self) -> None:
        _text(self.call_id, "tool call_id")
        _text(self.tool_name, "tool name")
        for name in ("args", "replay", "prepared_payload"):
            _freeze(self, name, canonical.normalize(getattr(self, name), what=f"tool_call {name}"))

    def to_json(self) -> dict[str, Any]:
        call: dict[str, Any] = {"call_id": self.call_id, "tool_name": self.tool_name, "args": self.args}
        if self.replay is not None:
            call["replay"] = self.replay
        if self.prepared_payload is not None:
            call["prepared_payload"] = self.prepared_payload
        return {"type": "tool_call", "call": call}


COMMAND_TYPES: dict[str, type[Command]] = {
    "sleep": Sleep,
    "durable_step": DurableStep,
    "exec_code": ExecCode,
    "await_event": AwaitEvent,
    "llm_call": LlmCall,
    "tool_call": ToolCall,
}


@dataclass(frozen=True, slots=True, eq=False)
class EffectEnvelope:
    """An effect request: invocation (lineage + replay key) and command (spec 2.7).

    Construction validates in the spec's order and raises its codes. ``canonical_json()`` is the
    hashed text and ``stable_hash()`` its SHA-256, both computed once.
    """

    invocation: RuntimeInvocation
    command: Command
    _canonical: str = field(default="", repr=False, compare=False)
    _hash: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.invocation, RuntimeInvocation):
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_INVOCATION_SUBJECT, "envelope needs a RuntimeInvocation"
            )
        if not isinstance(self.command, Command):
            raise EffectHostError(ErrorCode.RUNTIME_EFFECT_COMMAND, "envelope needs a command")
        subject = self.invocation.subject
        if subject.get("type") != "effect":
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_INVOCATION_SUBJECT,
                "runtime effect envelope subject must be an effect",
            )
        effect_id = subject.get("effect_id")
        if not isinstance(effect_id, str) or not effect_id.strip():
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_INVOCATION_SUBJECT,
                "runtime effect envelope effect id must be non-empty",
            )
        declared = subject.get("kind")
        if declared != self.command.kind.value:
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_INVOCATION_KIND,
                f"runtime effect invocation kind {declared} does not match command kind "
                f"{self.command.kind.value}",
            )
        replay_key = self.invocation.replay_key
        if not isinstance(replay_key, str) or replay_key == "":
            raise EffectHostError(
                ErrorCode.RUNTIME_EFFECT_REPLAY_REQUIRED, "runtime effect envelope requires replay.key"
            )
        self.command.validate()
        # After the spec's checks, so an envelope that fails one of them keeps the spec's code.
        check_id(effect_id, "effect id")
        check_id(replay_key, "replay key")
        text = canonical.dumps(self.to_json())
        object.__setattr__(self, "_canonical", text)
        object.__setattr__(self, "_hash", canonical.stable_hash_text(text))

    def to_json(self) -> dict[str, Any]:
        return {"invocation": self.invocation.to_json(), "command": self.command.to_json()}

    def canonical_json(self) -> str:
        return self._canonical

    def stable_hash(self) -> str:
        return self._hash

    @property
    def replay_key(self) -> str:
        return self.invocation.replay_key or ""

    @property
    def effect_id(self) -> str:
        return self.invocation.effect_id or ""

    @property
    def kind(self) -> EffectKind:
        return self.command.kind

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EffectEnvelope):
            return NotImplemented
        return self._canonical == other._canonical

    def __hash__(self) -> int:
        return hash(self._canonical)
