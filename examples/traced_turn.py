"""A turn traced with OpenTelemetry: a model call and a tool, a failure, a resume. The re-drive
replays the model call and the tool from the journal and emits no span for them.

python examples/traced_turn.py   (needs opentelemetry-sdk: pip install 'effecthost[otel]' opentelemetry-sdk)
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

from effecthost import EffectHostError, LlmCall, Turn, durable_turn, open_host
from effecthost.contrib.otel import OTelInterceptor, ReplayAwareIdGenerator

OUTAGE = {"on": True}


class PrintSpans(SpanExporter):
    """Prints each span as it ends (an application would export OTLP instead)."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            attrs = span.attributes or {}
            shown = {
                k: attrs[k] for k in ("effecthost.turn.outcome", "gen_ai.usage.output_tokens") if k in attrs
            }
            print(f"  span {span.name:<28} {span.status.status_code.name:<6} {shown}")
        return SpanExportResult.SUCCESS


def model(request: LlmCall) -> dict[str, Any]:  # a stand-in for an OpenAI client call
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": "Lyon"}}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 2},
    }


def book(city: str) -> str:
    if OUTAGE["on"]:
        raise TimeoutError("the booking API timed out")
    return f"booked in {city}"


@durable_turn
async def trip(turn: Turn) -> str:
    reply = await turn.llm(model, model="gpt-4o-mini", messages=[{"role": "user", "content": "where?"}])
    city = reply["choices"][0]["message"]["content"]
    weather = await turn.tool("weather", lambda city: f"sunny in {city}", {"city": city})
    return f"{weather}, {await turn.step('book', book, city)}"


async def main() -> None:
    provider = TracerProvider(id_generator=ReplayAwareIdGenerator())
    provider.add_span_processor(SimpleSpanProcessor(PrintSpans()))
    url = f"sqlite:///{tempfile.mkdtemp()}/traced.db"
    async with await open_host(url, interceptors=[OTelInterceptor(tracer_provider=provider)]) as host:
        print("first drive:")
        try:
            await host.run_turn(trip, session_id="alice", turn_id="trip-1")
        except EffectHostError as error:
            print(f"  -> {error.code}")
        OUTAGE["on"] = False
        await host.resume_turn("alice", "trip-1")
        print("second drive (the model call and the tool replay: no spans for them):")
        print("  ->", await host.run_turn(trip, session_id="alice", turn_id="trip-1"))
    provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
