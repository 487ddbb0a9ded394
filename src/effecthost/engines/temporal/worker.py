"""An effecthost worker: the turn and session workflows and the two local activities on one task
queue, in Temporal's workflow sandbox (effecthost and the turns' modules pass through)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from effecthost import DurableTurn, EffectHostError, ErrorCode

from ..kit import turn_registry
from .activities import SessionActivities, run_effect
from .blobs import uses_claim_check
from .config import TemporalConfig
from .workflows import REGISTRY, SessionWorkflow, TurnWorkflow

#: Libraries the integrations call from turn code that import more of themselves lazily, inside
#: a run (pydantic-ai imports anyio on its first run, and anyio defines ``threading.local``
#: subclasses the sandbox refuses): passed through, so the sandbox never re-imports them.
LIBRARY_PASSTHROUGH = (
    "pydantic_ai",
    "pydantic",
    "pydantic_core",
    "pydantic_graph",
    "anyio",
    "sniffio",
    "httpx",
    "httpcore",
    "opentelemetry",
    "logfire_api",
    "griffe",
    "typing_inspection",
    "genai_prices",
)


def _preload_lazy_imports() -> None:
    """A passed-through library that imports a module lazily, during a run, imports it under the
    sandbox's restricted ``threading``; anyio's asyncio backend (which pydantic-ai's runs load)
    subclasses ``threading.Thread``, so it is imported here, before any workflow runs."""
    if "anyio" in sys.modules:
        importlib.import_module("anyio._backends._asyncio")


def temporal_worker(
    client: Client,
    turns: Iterable[DurableTurn[Any]],
    config: TemporalConfig,
    *,
    passthrough: Sequence[str] = (),
    workflows: Sequence[type] = (),
    **worker_options: Any,
) -> Worker:
    """A worker for ``config.task_queue`` running ``turns`` (``async with`` it, or ``run()``).

    The sandbox re-imports workflow code per run; effecthost itself and ``passthrough`` (the
    modules defining your turns) are passed through, so a turn's code is imported once and its
    effects (which run in local activities, outside the sandbox) may do I/O. One worker per task
    queue per process: the queue names the turns its workflows run. ``workflows`` are more
    workflow classes for the same worker (yours, beside effecthost's)."""
    registry = turn_registry(turns)
    if config.blob_store is not None and not uses_claim_check(client.data_converter):
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID,
            "the config keeps large payloads by reference (blob_store): connect the worker's client"
            " with data_converter=config.data_converter()",
        )
    if config.task_queue in REGISTRY:
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID,
            f"a worker for task queue {config.task_queue!r} already runs in this process",
        )
    _preload_lazy_imports()
    modules = {
        "effecthost",
        *LIBRARY_PASSTHROUGH,
        *passthrough,
        *(fn.fn.__module__ for fn in registry.values()),
    }
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*sorted(modules))
    worker = _RegisteredWorker(
        client,
        task_queue=config.task_queue,
        workflows=[TurnWorkflow, SessionWorkflow, *workflows],
        activities=[run_effect, SessionActivities(client, config.task_queue).call],
        workflow_runner=SandboxedWorkflowRunner(restrictions=restrictions),
        **worker_options,
    )
    worker.registration = (config.task_queue, (registry, config))
    return worker


class _RegisteredWorker(Worker):
    """Registers its turns for its task queue while it runs."""

    registration: tuple[str, Any]

    async def run(self) -> None:
        queue, entry = self.registration
        REGISTRY[queue] = entry
        try:
            await super().run()
        finally:
            REGISTRY.pop(queue, None)
