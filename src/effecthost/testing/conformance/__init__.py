"""The conformance kit: the seed's suites ported one to one, the later vectors effecthost adopts
and the store-level browsing vectors. Plain async functions taking a host factory (``make() ->
host``, sync or async), plus :func:`run_all` (a report) and :func:`conformance_suite` (a pytest
class) to check any host. The suite classes to subclass in pytest are in
:mod:`effecthost.testing.suites`, their fixtures in :mod:`effecthost.testing.pytest_plugin`.

This package needs nothing beyond effecthost itself (the ``effecthost conformance`` command runs
it); only :func:`conformance_suite` imports pytest, when called.
"""

from ._support import ConformanceFailure, HostFactory, HostPool
from .browse import journal_store_lists_effects_in_pages
from .cold import effect_host_await_events_cold_instance
from .later import (
    effect_controller_replay_mismatch_diagnostics,
    effect_host_await_event_session_cancel_resolves_outstanding_waits,
    effect_host_lists_outstanding_waits,
    effect_host_lists_registered_unresolved_waits,
    effect_host_retires_process_journal,
    effect_host_retires_session_journal,
)
from .lease import LeaseFencingBackend, SubstrateLeaseBackend, effect_controller_lease_fencing
from .runner import Capabilities, ConformanceReport, VectorResult, conformance_suite, run_all, vectors
from .seed import (
    effect_controller_concurrent_replay_deterministic,
    effect_controller_durable_steps,
    effect_controller_durable_steps_replay,
    effect_host,
    effect_host_await_events,
    effect_host_durable_steps,
)

__all__ = [
    "Capabilities",
    "ConformanceFailure",
    "ConformanceReport",
    "HostFactory",
    "HostPool",
    "LeaseFencingBackend",
    "SubstrateLeaseBackend",
    "VectorResult",
    "conformance_suite",
    "effect_controller_concurrent_replay_deterministic",
    "effect_controller_durable_steps",
    "effect_controller_durable_steps_replay",
    "effect_controller_lease_fencing",
    "effect_controller_replay_mismatch_diagnostics",
    "effect_host",
    "effect_host_await_event_session_cancel_resolves_outstanding_waits",
    "effect_host_await_events",
    "effect_host_await_events_cold_instance",
    "effect_host_durable_steps",
    "effect_host_lists_outstanding_waits",
    "effect_host_lists_registered_unresolved_waits",
    "effect_host_retires_process_journal",
    "effect_host_retires_session_journal",
    "journal_store_lists_effects_in_pages",
    "run_all",
    "vectors",
]
