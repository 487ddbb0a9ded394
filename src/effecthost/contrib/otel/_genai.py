"""What the GenAI semantic conventions say about a model call, read from effecthost's values.

Pure: no OpenTelemetry import. The request side comes from the :class:`LlmCall` command, the
response side from the free-form JSON a model function returned (the shapes of the OpenAI chat
completions and responses APIs and of Anthropic's messages API are recognised; anything else
yields only what the request says).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from effecthost import LlmCall

#: ``OTEL_SEMCONV_STABILITY_OPT_IN`` value that selects the latest experimental GenAI conventions.
LATEST_OPT_IN = "gen_ai_latest_experimental"

#: Request options of ``LlmCall.generation`` and the attribute each is reported as.
_REQUEST_OPTIONS = {
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "top_k": "gen_ai.request.top_k",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_output_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}


def latest_conventions(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``OTEL_SEMCONV_STABILITY_OPT_IN`` lists ``gen_ai_latest_experimental``."""
    value = (environ if environ is not None else os.environ).get("OTEL_SEMCONV_STABILITY_OPT_IN", "")
    return LATEST_OPT_IN in {part.strip() for part in value.split(",")}


def content_capture_default(environ: Mapping[str, str] | None = None) -> bool:
    """``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` as a bool (off when unset)."""
    value = (environ if environ is not None else os.environ).get(
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", ""
    )
    return value.strip().lower() in {"true", "1", "yes", "span_only", "span_and_event"}


def provider_key(latest: bool) -> str:
    """The attribute naming the provider: ``gen_ai.provider.name`` in the latest conventions,
    ``gen_ai.system`` in v1.36 and before (the default, as the conventions' transition asks)."""
    return "gen_ai.provider.name" if latest else "gen_ai.system"


def split_model(model: str) -> tuple[str | None, str]:
    """``"openai:gpt-4o"`` → (``"openai"``, ``"gpt-4o"``); a bare model name has no provider."""
    provider, colon, name = model.partition(":")
    if colon and provider and name and provider.replace("-", "_").replace(".", "_").isidentifier():
        return provider, name
    return None, model


def request_attributes(command: LlmCall) -> dict[str, Any]:
    _, model = split_model(command.model)
    attributes: dict[str, Any] = {"gen_ai.operation.name": "chat", "gen_ai.request.model": model}
    if command.session_id:
        attributes["gen_ai.conversation.id"] = command.session_id
    generation = command.generation
    if isinstance(generation, dict):
        for option, key in _REQUEST_OPTIONS.items():
            value = generation.get(option)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                attributes[key] = value
        stop = generation.get("stop") or generation.get("stop_sequences")
        if isinstance(stop, str):
            stop = [stop]
        if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
            attributes["gen_ai.request.stop_sequences"] = stop
    return attributes


def provider_of(command: LlmCall, response: Any, default: str) -> str:
    """The provider a ``provider:model`` name, the response's shape or ``default`` says."""
    named, _ = split_model(command.model)
    if named:
        return named
    if isinstance(response, dict):
        if response.get("type") == "message" and "stop_reason" in response:
            return "anthropic"
        if str(response.get("object", "")).startswith(("chat.completion", "response")):
            return "openai"
        found = response.get("provider")
        if isinstance(found, str) and found:
            return found
    return default


def response_attributes(response: Any) -> dict[str, Any]:
    """Response model and id, finish reasons and token usage, where the response holds them."""
    if not isinstance(response, dict):
        return {}
    attributes: dict[str, Any] = {}
    model = response.get("model")
    if isinstance(model, str) and model:
        attributes["gen_ai.response.model"] = model
    ident = response.get("id")
    if isinstance(ident, str) and ident:
        attributes["gen_ai.response.id"] = ident
    reasons = finish_reasons(response)
    if reasons:
        attributes["gen_ai.response.finish_reasons"] = reasons
    input_tokens, output_tokens = token_usage(response)
    if input_tokens is not None:
        attributes["gen_ai.usage.input_tokens"] = input_tokens
    if output_tokens is not None:
        attributes["gen_ai.usage.output_tokens"] = output_tokens
    return attributes


def finish_reasons(response: dict[str, Any]) -> list[str]:
    choices = response.get("choices")
    if isinstance(choices, list):  # OpenAI chat completions
        return [str(c["finish_reason"]) for c in choices if isinstance(c, dict) and c.get("finish_reason")]
    for key in ("stop_reason", "finish_reason"):  # Anthropic messages; already-normalised shapes
        value = response.get(key)
        if isinstance(value, str) and value:
            return [value]
    status = response.get("status")  # OpenAI responses
    if isinstance(status, str) and status and response.get("object") == "response":
        return [status]
    return []


def token_usage(response: dict[str, Any]) -> tuple[int | None, int | None]:
    usage = response.get("usage")
    if not isinstance(usage, dict):
        return None, None
    return (
        _int(usage.get("input_tokens", usage.get("prompt_tokens"))),
        _int(usage.get("output_tokens", usage.get("completion_tokens"))),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
