"""A worker process with the OpenTelemetry SDK, for the crash test: ``python traced_worker.py URL
SPANS MODE``. Spans go to the file SPANS, one JSON object a line, as each span ends (the SDK's
console exporter behind its simple processor: nothing is held back, so what a SIGKILL loses is
only what had not ended).

MODE ``start`` records the turn and exits. MODE ``crash`` drives it with a worker; its ``slow``
step writes SPANS + ``.inside`` and then hangs until the test SIGKILLs the process. MODE
``finish`` drives it to its end (taking the dead worker's leases over once they expire) and
exits 0.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from effecthost import LlmCall, Turn, Worker, durable_turn, open_host
from effecthost.contrib.otel import OTelInterceptor, ReplayAwareIdGenerator

LEASE_TTL_S = 1.0
MODE = ""
SPANS = Path()


def model(request: LlmCall) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }


def _mark_inside() -> None:
    Path(f"{SPANS}.inside").write_text("inside")


async def slow() -> str:
    if MODE == "crash":
        _mark_inside()
        await asyncio.sleep(3600)  # the test kills the process here
    return "slow done"


@durable_turn(name="traced")
async def traced(turn: Turn) -> list[Any]:
    answer = await turn.llm(model, model="gpt-4o-mini", messages=[{"role": "user", "content": "go"}])
    found = await turn.tool("lookup", lambda city: f"sunny in {city}", {"city": "Lyon"}, call_id="call_1")
    done = await turn.step("slow", slow)
    sent = await turn.tool("notify", lambda to: f"told {to}", {"to": "ops"}, call_id="call_2")
    return [answer["id"], found, done, sent]


def _line(span: ReadableSpan) -> str:
    return span.to_json(indent=None) + "\n"


def tracer_provider() -> TracerProvider:
    spans = SPANS.open("a", buffering=1)
    provider = TracerProvider(id_generator=ReplayAwareIdGenerator())
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=spans, formatter=_line)))
    return provider


async def main(url: str, provider: TracerProvider) -> None:
    interceptor = OTelInterceptor(tracer_provider=provider)
    async with await open_host(url, lease_ttl_s=LEASE_TTL_S, interceptors=[interceptor]) as host:
        if MODE == "start":
            await host.start_turn(traced, session_id="s", turn_id="t")
            return
        async with Worker(host, turns=[traced], poll_interval_s=0.05):
            result = await host.turn_handle("s", "t").result(timeout=60)
    print(result, flush=True)
    provider.shutdown()


if __name__ == "__main__":
    MODE, SPANS = sys.argv[3], Path(sys.argv[2])
    asyncio.run(main(sys.argv[1], tracer_provider()))
