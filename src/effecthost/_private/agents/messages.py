"""What a model request and a model response are, as JSON (the shapes journaled in ``llm_call``).

One neutral message format, close to OpenAI's chat messages, that every client converts from:

- ``{"role": "system", "content": str}``: the agent's instructions;
- ``{"role": "user", "content": str}``;
- ``{"role": "assistant", "content": str | None, "tool_calls": [{"id", "name", "arguments"}]}``
  (``tool_calls`` only when there are some; ``arguments`` a JSON object, or the raw text the model
  sent when it was not one);
- ``{"role": "tool", "tool_call_id": str, "name": str, "content": str, "is_error": bool}``.

A response is ``{"text", "tool_calls", "usage": {"input_tokens", "output_tokens"}, "stop_reason",
"model"}``: what ``turn.llm`` journals, so a replay rebuilds the same conversation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.commands import LlmCall
from ..core.errors import EffectHostError, ErrorCode


@dataclasses.dataclass(frozen=True, slots=True)
class Usage:
    """Tokens a model request used (as its provider counted them)."""

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)

    def to_json(self) -> dict[str, int]:
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}

    @classmethod
    def from_json(cls, value: Any) -> Usage:
        if not isinstance(value, Mapping):
            return cls()
        return cls(_count(value.get("input_tokens")), _count(value.get("output_tokens")))


@dataclasses.dataclass(frozen=True, slots=True)
class ToolCallPart:
    """A tool call the model asked for. ``arguments``: the parsed JSON object, or the raw text the
    model sent when it was not a JSON object (the agent answers that with a tool error)."""

    id: str
    name: str
    arguments: dict[str, Any] | str = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}

    @classmethod
    def from_json(cls, value: Any) -> ToolCallPart:
        if not isinstance(value, Mapping) or not isinstance(value.get("id"), str):
            raise _invalid(f"a tool call needs an id and a name, not {value!r}")
        arguments = value.get("arguments", {})
        if not isinstance(arguments, (dict, str)):
            arguments = str(arguments)
        return cls(value["id"], str(value.get("name", "")), arguments)


@dataclasses.dataclass(frozen=True, slots=True)
class ModelResponse:
    """A model's answer: text, tool calls (in the model's order), usage."""

    text: str | None = None
    tool_calls: tuple[ToolCallPart, ...] = ()
    usage: Usage = Usage()
    stop_reason: str | None = None
    model: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "tool_calls": [call.to_json() for call in self.tool_calls],
            "usage": self.usage.to_json(),
            "stop_reason": self.stop_reason,
            "model": self.model,
        }

    @classmethod
    def from_json(cls, value: Any) -> ModelResponse:
        if not isinstance(value, Mapping):
            raise _invalid(f"a model response is a JSON object, not {type(value).__name__}")
        text = value.get("text")
        calls = value.get("tool_calls") or []
        if not isinstance(calls, list):
            raise _invalid("a model response's tool_calls is a list")
        stop, model = value.get("stop_reason"), value.get("model")
        return cls(
            text if isinstance(text, str) else None,
            tuple(ToolCallPart.from_json(call) for call in calls),
            Usage.from_json(value.get("usage")),
            stop if isinstance(stop, str) else None,
            model if isinstance(model, str) else None,
        )

    def assistant_message(self) -> dict[str, Any]:
        """The message that records this answer in the conversation."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["tool_calls"] = [call.to_json() for call in self.tool_calls]
        return message


@dataclasses.dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the model sees it: name, description, JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    @classmethod
    def from_json(cls, value: Any) -> ToolSpec:
        if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
            raise _invalid(f"a tool definition needs a name, not {value!r}")
        parameters = value.get("parameters")
        return cls(
            value["name"],
            str(value.get("description") or ""),
            dict(parameters) if isinstance(parameters, Mapping) else {"type": "object", "properties": {}},
        )


@dataclasses.dataclass(frozen=True, slots=True)
class ModelRequest:
    """What a model client is asked: the neutral messages, the tools, the generation settings
    (``max_tokens``, ``temperature``, ...). Built from the journaled ``LlmCall``."""

    model: str
    messages: Sequence[Mapping[str, Any]]
    tools: Sequence[ToolSpec] = ()
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_llm_call(cls, call: LlmCall) -> ModelRequest:
        messages = call.messages if isinstance(call.messages, list) else []
        tools = call.tools if isinstance(call.tools, list) else []
        settings = call.generation if isinstance(call.generation, dict) else {}
        return cls(call.model, messages, tuple(ToolSpec.from_json(t) for t in tools), settings)

    @property
    def system(self) -> str:
        """The system messages' text, joined (for APIs that take it apart from the messages)."""
        return "\n\n".join(str(m.get("content") or "") for m in self.messages if m.get("role") == "system")


def tool_message(call_id: str, name: str, content: str, is_error: bool) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": content, "is_error": is_error}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _invalid(message: str) -> EffectHostError:
    return EffectHostError(ErrorCode.MODEL_RESPONSE_INVALID, message)
