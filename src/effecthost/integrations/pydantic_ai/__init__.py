"""pydantic-ai agents on effecthost's durable turns (docs/pydantic-ai.md).

``Agent(model, name=..., capabilities=[EffectHostDurability()])``: inside a ``@durable_turn``
function, ``await agent.run(...)`` journals the run's model requests (``llm_call``), tool calls
(``tool_call``, keyed by the model's call id) and other durable operations (durable steps) in
that turn, and its waits for external events are the turn's await events. Needs the
``pydantic-ai`` extra: ``pip install 'effecthost[pydantic-ai]'``.
"""

from importlib import metadata

from effecthost import EffectHostError, ErrorCode

#: The pydantic-ai-slim releases this integration is tested against (the extra pins them).
TESTED = ">=2.78.0,<2.79"

try:
    import pydantic_ai.durable_exec  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - exercised on an install without the extra
    raise EffectHostError(
        ErrorCode.EXTRA_NOT_INSTALLED,
        f"effecthost.integrations.pydantic_ai needs {exc.name}: pip install 'effecthost[pydantic-ai]'",
    ) from None

try:
    from ._backend import EffectHostOperationBackend
    from ._durability import ENGINE_SPEC, EffectHostDurability
    from ._waiter import EffectHostEventWaiter
except ImportError as exc:  # pragma: no cover - a pydantic-ai release whose durable API moved
    raise EffectHostError(
        ErrorCode.EXTRA_NOT_INSTALLED,
        f"effecthost.integrations.pydantic_ai needs pydantic-ai-slim{TESTED}, found"
        f" {metadata.version('pydantic-ai-slim')} ({exc}): pip install 'effecthost[pydantic-ai]'",
    ) from None

__all__ = ["ENGINE_SPEC", "EffectHostDurability", "EffectHostEventWaiter", "EffectHostOperationBackend"]

# repr() and tracebacks show where users import them from
for _name in ("EffectHostDurability", "EffectHostEventWaiter", "EffectHostOperationBackend"):
    globals()[_name].__module__ = __name__
del _name
