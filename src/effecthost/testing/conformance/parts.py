"""The kit's vectors by part, in the order they run: the one list :func:`~.runner.vectors`, the
report and the pytest suites are built from, so a vector has the same name everywhere.

A part is what a host claims as a whole (a :class:`~.runner.Capabilities` flag, a suite class).
Every vector takes the host factory, except the lease-fencing ones, which take a
:class:`~.lease.LeaseFencingBackend`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from effecthost import DurableEffectHost, EffectController, ExecutionScope

from . import browse, cold, later, lease, seed, turns
from ._support import ConformanceFailure, HostFactory, HostPool, ReplayingController

MakeVector = Callable[[HostFactory], Awaitable[None]]
LeaseVector = Callable[[lease.LeaseFencingBackend], Awaitable[None]]


def _fresh_scope() -> ExecutionScope:
    return ExecutionScope.turn(f"conformance-{uuid.uuid4().hex[:12]}", "conformance-turn")


def _replaying(controller: EffectController) -> ReplayingController:
    if not isinstance(controller, ReplayingController):
        raise ConformanceFailure("a durable-journal host's controllers have start_replay()")
    return controller


async def controller_durable_steps_replay(make: HostFactory) -> None:
    """The seed's ``effect_controller_durable_steps_replay`` on a controller of a fresh scope."""
    async with HostPool(make) as hosts:
        controller = _replaying((await hosts.new()).scoped(_fresh_scope()).controller)
        await seed.effect_controller_durable_steps_replay(controller, controller.start_replay)


async def controller_concurrent_replay(make: HostFactory) -> None:
    """The seed's ``effect_controller_concurrent_replay_deterministic`` on a fresh scope."""
    async with HostPool(make) as hosts:
        controller = _replaying((await hosts.new()).scoped(_fresh_scope()).controller)
        await seed.effect_controller_concurrent_replay_deterministic(controller, controller.start_replay)


async def controller_replay_mismatch(make: HostFactory) -> None:
    """Replay-mismatch diagnostics. A :class:`DurableEffectHost` must use its backend's code;
    a host of another kind any code classified as a replay mismatch."""
    async with HostPool(make) as hosts:
        host = await hosts.new()
        code = f"{host.backend}_effect_replay_hash_conflict" if isinstance(host, DurableEffectHost) else None
        controller = host.scoped(_fresh_scope()).controller
        await later.effect_controller_replay_mismatch_diagnostics(controller, code)


HOST: tuple[tuple[str, MakeVector], ...] = (("effect_host", seed.effect_host),)
AWAIT_EVENTS: tuple[tuple[str, MakeVector], ...] = (
    ("effect_host_await_events", seed.effect_host_await_events),
    (
        "effect_host_await_event_session_cancel_resolves_outstanding_waits",
        later.effect_host_await_event_session_cancel_resolves_outstanding_waits,
    ),
    ("effect_host_lists_outstanding_waits", later.effect_host_lists_outstanding_waits),
)
DURABLE_JOURNAL: tuple[tuple[str, MakeVector], ...] = (
    ("effect_host_durable_steps", seed.effect_host_durable_steps),
    ("effect_controller_durable_steps_replay", controller_durable_steps_replay),
    ("effect_controller_concurrent_replay_deterministic", controller_concurrent_replay),
    ("effect_controller_replay_mismatch_diagnostics", controller_replay_mismatch),
    ("effect_host_retires_session_journal", later.effect_host_retires_session_journal),
    ("effect_host_retires_process_journal", later.effect_host_retires_process_journal),
)
BROWSING: tuple[tuple[str, MakeVector], ...] = (
    ("journal_store_lists_effects_in_pages", browse.journal_store_lists_effects_in_pages),
)
COLD_INSTANCES: tuple[tuple[str, MakeVector], ...] = (
    ("effect_host_await_events_cold_instance", cold.effect_host_await_events_cold_instance),
)
LEASE_FENCING: tuple[tuple[str, LeaseVector], ...] = (
    ("lease_fencing_renews_long_running_lease", lease.lease_fencing_renews_long_running_lease),
    ("lease_fencing_reports_lease_lost_when_stolen", lease.lease_fencing_reports_lease_lost_when_stolen),
    ("lease_fencing_rejects_finalize_after_expiry", lease.lease_fencing_rejects_finalize_after_expiry),
    (
        "lease_fencing_reclaims_explicitly_expired_lease",
        lease.lease_fencing_reclaims_explicitly_expired_lease,
    ),
)
TURNS: tuple[tuple[str, MakeVector], ...] = (
    ("turn_runs_once_and_replays", turns.turn_runs_once_and_replays),
    ("turn_keys_follow_the_convention", turns.turn_keys_follow_the_convention),
    ("turn_changed_code_reports_a_mismatch", turns.turn_changed_code_reports_a_mismatch),
    ("turn_retries_and_resumes", turns.turn_retries_and_resumes),
    ("turn_waits_suspend_and_resume", turns.turn_waits_suspend_and_resume),
    ("turn_wait_deadline_is_durable", turns.turn_wait_deadline_is_durable),
    ("turn_cancel_ends_the_turn", turns.turn_cancel_ends_the_turn),
    ("turn_apis_refuse_outside_a_turn", turns.turn_apis_refuse_outside_a_turn),
    ("turn_fork_keeps_the_first_effects", turns.turn_fork_keeps_the_first_effects),
)
