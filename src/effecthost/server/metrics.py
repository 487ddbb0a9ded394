"""``GET /metrics``: the service's OpenTelemetry metrics in Prometheus text format.

With the Prometheus exporter installed (``pip install 'effecthost[prometheus]'``) each app owns a
``MeterProvider`` whose Prometheus reader writes into the app's own registry (two apps in one
process never mix their figures). It holds the service's requests
(``http.server.request.duration``), what the OpenTelemetry interceptor of the app's host records
(await events resolved, effects the service runs), and ``effecthost.turns``: the live turns of the
substrate by status, counted at each scrape, so every worker's turns are in it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from .. import DurableEffectHost, TurnStatus
from ..operations import AnyHost

_log = logging.getLogger("effecthost.server")

#: Statuses counted at each scrape, and how many turns of one status a scrape reads at most.
COUNTED = (TurnStatus.PENDING, TurnStatus.RUNNING, TurnStatus.WAITING, TurnStatus.SLEEPING)
MAX_COUNTED = 100_000
_PAGE = 1000
#: The HTTP semantic conventions' advised boundaries for request durations.
HTTP_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]


class Metrics:
    def __init__(self) -> None:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.metrics import CallbackOptions, Observation
        from opentelemetry.sdk.metrics import MeterProvider
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

        self._generate = generate_latest
        self.content_type = CONTENT_TYPE_LATEST
        self.registry = CollectorRegistry()
        try:
            reader = PrometheusMetricReader(registry=self.registry)
        except TypeError:  # an exporter older than its registry= argument: the global registry
            self.registry = REGISTRY
            reader = PrometheusMetricReader()
        self.provider = MeterProvider(metric_readers=[reader])
        meter = self.provider.get_meter("effecthost.server")
        self.request_duration = meter.create_histogram(
            "http.server.request.duration",
            unit="s",
            description="Duration of HTTP server requests",
            explicit_bucket_boundaries_advisory=HTTP_BUCKETS_S,
        )
        self._counts: dict[str, int] = {}

        def observe(_: CallbackOptions) -> Iterable[Observation]:
            return [Observation(n, {"effecthost.turn.status": s}) for s, n in self._counts.items()]

        meter.create_observable_gauge(
            "effecthost.turns",
            callbacks=[observe],
            unit="{turn}",
            description="Live turns on the substrate by status (counted at each scrape)",
        )

    async def refresh(self, host: AnyHost) -> None:
        if not isinstance(host, DurableEffectHost):
            return  # an engine counts its own runs (Restate's and Temporal's metrics)
        store = host.substrate.turns
        if store is None:
            return
        for status in COUNTED:
            count = 0
            while count < MAX_COUNTED:
                page = await store.list_turns(status=status, limit=_PAGE, offset=count)
                count += len(page)
                if len(page) < _PAGE:
                    break
            self._counts[str(status)] = count

    def render(self) -> bytes:
        body: bytes = self._generate(self.registry)
        return body

    def record_request(self, method: str, route: str, status: int, seconds: float) -> None:
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "http.route": route,
            "http.response.status_code": status,
        }
        self.request_duration.record(seconds, attributes)

    def close(self) -> None:
        self.provider.shutdown()


def metrics_or_none() -> Metrics | None:
    """The app's metrics, or None when the Prometheus exporter (or the SDK) is not installed."""
    try:
        return Metrics()
    except ModuleNotFoundError as exc:
        _log.debug("GET /metrics is off: %s is not installed", exc.name)
        return None
