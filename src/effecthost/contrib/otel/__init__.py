"""OpenTelemetry for effecthost (``pip install 'effecthost[otel]'``: the API only; the SDK and
its exporters are the application's choice).

``open_host(url, interceptors=[OTelInterceptor()])`` traces every drive of a turn
(``invoke_agent {turn}``), every effect that runs (``chat {model}``, ``execute_tool {tool}``,
``effecthost.await_event``, ``effecthost.sleep``, ``effecthost.step {name}``) and records the
GenAI client metrics and effecthost's own. Effects answered from the journal emit no span. See
docs/observability.md.
"""

from __future__ import annotations

import importlib.util

from effecthost import EffectHostError, ErrorCode


def _require_otel_extra() -> None:
    for module in ("opentelemetry", "opentelemetry.trace", "opentelemetry.metrics"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package that is missing or blocked
            found = False
        if not found:
            raise EffectHostError(
                ErrorCode.EXTRA_NOT_INSTALLED,
                "effecthost.contrib.otel needs the otel extra (opentelemetry-api is not installed): "
                "pip install 'effecthost[otel]'",
            )


_require_otel_extra()

from ._interceptor import OTelInterceptor, ReplayAwareIdGenerator, derived_span_id  # noqa: E402

__all__ = ["OTelInterceptor", "ReplayAwareIdGenerator", "derived_span_id"]

for _name in __all__:  # repr() and docs show where users import them from
    globals()[_name].__module__ = __name__
del _name
