"""The seed's suites (``effect_host_conformance.rs``), ported one to one: same vectors, same
assertions, same order. Each vector gets a fresh host from ``make`` as in the seed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from effecthost import (
    CancelToken,
    DurableStep,
    EffectController,
    EffectEnvelope,
    EffectHost,
    EffectHostError,
    EffectKind,
    ExecCode,
    ExecCodeOutcome,
    ExecResponse,
    ExecutionScope,
    LocalExecutor,
    Outcome,
    Resolution,
    ResolveOutcome,
    RuntimeInvocation,
    RuntimeScope,
    WaitIdentity,
)

from ._support import (
    ConformanceFailure,
    HostFactory,
    HostPool,
    check,
    check_eq,
    expect_code,
    expect_unknown_or_revoked,
)

# ---- effect_host(make) ----------------------------------------------------------------------


async def effect_host(make: HostFactory) -> None:
    async with HostPool(make) as hosts:
        await effect_host_preserves_scope_metadata(await hosts.new())
        await effect_host_rejects_missing_scope_ids(await hosts.new())
        await effect_host_static_scope_preserves_metadata_when_available(await hosts.new())


async def effect_host_preserves_scope_metadata(host: EffectHost) -> None:
    scope = ExecutionScope.queue_drain("session-1", "drain-1")
    scoped = host.scoped(scope)
    check_eq(scoped.execution_scope, scope, "scoped controller must retain the selected semantic scope")
    check_eq(scoped.scope_id, "drain-1", "queue drain scope id")
    check_eq(scoped.turn_id, None, "queue drain has no turn id")
    turn_scope = ExecutionScope.turn("session-1", "turn-1")
    scoped_turn = host.scoped(turn_scope)
    check_eq(scoped_turn.execution_scope, turn_scope, "turn scope kept")
    check_eq(scoped_turn.scope_id, "turn-1", "turn scope id")
    check_eq(scoped_turn.turn_id, "turn-1", "turn id")


async def effect_host_rejects_missing_scope_ids(host: EffectHost) -> None:
    invalid_scopes = [
        ExecutionScope.turn("", "turn"),
        ExecutionScope.turn("session", ""),
        ExecutionScope.process(""),
        ExecutionScope.queue_drain("session", ""),
        ExecutionScope.session_delete(""),
        ExecutionScope.runtime_operation(""),
    ]
    for scope in invalid_scopes:
        try:
            host.scoped(scope)
        except EffectHostError as err:
            check_eq(
                err.code,
                "missing_execution_scope_id",
                "invalid scope ids must fail with the stable missing-scope code",
            )
        else:
            raise ConformanceFailure(f"invalid execution scope must be rejected: {scope!r}")


async def effect_host_static_scope_preserves_metadata_when_available(host: EffectHost) -> None:
    scope = ExecutionScope.runtime_operation("static-runtime-op")
    scoped = host.scoped_static(scope)
    if scoped is None:
        return
    check_eq(scoped.execution_scope, scope, "static scope kept")
    check_eq(scoped.scope_id, "static-runtime-op", "static scope id")


# ---- effect_host_await_events(make) ---------------------------------------------------------


async def effect_host_await_events(make: HostFactory) -> None:
    async with HostPool(make) as hosts:
        await effect_host_await_event_key_is_stable(await hosts.new())
        await effect_host_await_event_accepts_early_resolution(await hosts.new())
        await effect_host_await_event_duplicate_resolution_is_terminal(await hosts.new())
        await effect_host_await_event_cancel_and_timeout_are_terminal(await hosts.new())
        await effect_host_await_event_revokes_session_scope(await hosts.new())
        await effect_host_await_event_rejects_tampered_keys(await hosts.new())


async def effect_host_await_event_key_is_stable(host: EffectHost) -> None:
    scope = ExecutionScope.turn("await-event-session-stable", "turn-stable")
    wait = WaitIdentity.tool_completion("call-stable")
    first = await host.await_event_key(scope, wait)
    second = await host.await_event_key(scope, wait)
    check_eq(first, second, "minting the same (scope, wait) twice yields equal keys")


async def effect_host_await_event_accepts_early_resolution(host: EffectHost) -> None:
    scope = ExecutionScope.turn("await-event-session-early", "turn-early")
    key = await host.await_event_key(scope, WaitIdentity.tool_completion("call-early"))
    resolution = Resolution.ok({"ready": True})
    check_eq(await host.resolve_await_event(key, resolution), ResolveOutcome.ACCEPTED, "early resolve")
    awaited = await host.await_await_event(key, CancelToken(), None)
    check_eq(awaited, resolution, "await returns the early resolution")


async def effect_host_await_event_duplicate_resolution_is_terminal(host: EffectHost) -> None:
    scope = ExecutionScope.turn("await-event-session-dupe", "turn-dupe")
    key = await host.await_event_key(scope, WaitIdentity.tool_completion("call-dupe"))
    resolution = Resolution.ok("first")
    first = await host.resolve_await_event(key, resolution)
    second = await host.resolve_await_event(key, Resolution.ok("second"))
    check_eq(first, ResolveOutcome.ACCEPTED, "first resolve accepted")
    check_eq(second, ResolveOutcome.already_resolved(resolution), "duplicate resolve keeps the first")


async def effect_host_await_event_cancel_and_timeout_are_terminal(host: EffectHost) -> None:
    cancel_scope = ExecutionScope.turn("await-event-session-cancel", "turn-cancel")
    cancel_key = await host.await_event_key(cancel_scope, WaitIdentity.tool_completion("call-cancel"))
    cancel = CancelToken()
    cancel.cancel()
    cancelled = await host.await_await_event(cancel_key, cancel, None)
    check_eq(cancelled, Resolution.CANCELLED, "cancelled await-event")
    check_eq(
        await host.resolve_await_event(cancel_key, Resolution.ok("late")),
        ResolveOutcome.already_resolved(Resolution.CANCELLED),
        "late resolve after cancel",
    )
    timeout_scope = ExecutionScope.turn("await-event-session-timeout", "turn-timeout")
    timeout_key = await host.await_event_key(timeout_scope, WaitIdentity.tool_completion("call-timeout"))
    timed_out = await host.await_await_event(timeout_key, CancelToken(), time.monotonic())
    check_eq(timed_out, Resolution.TIMEOUT, "timed-out await-event")


async def effect_host_await_event_revokes_session_scope(host: EffectHost) -> None:
    scope = ExecutionScope.turn("await-event-session-revoke", "turn-revoke")
    key = await host.await_event_key(scope, WaitIdentity.tool_completion("call-revoke"))
    await host.revoke_await_events_for_session("await-event-session-revoke")
    check_eq(
        await host.resolve_await_event(key, Resolution.ok("late")),
        ResolveOutcome.UNKNOWN_OR_REVOKED,
        "resolve revoked key",
    )
    await expect_unknown_or_revoked(
        host.await_await_event(key, CancelToken(), None), "revoked key must not await"
    )


async def effect_host_await_event_rejects_tampered_keys(host: EffectHost) -> None:
    import dataclasses

    scope = ExecutionScope.turn("await-event-session-tamper", "turn-tamper")
    key = await host.await_event_key(scope, WaitIdentity.tool_completion("call-tamper"))
    key = dataclasses.replace(key, signature=key.signature + "-tampered")
    check_eq(
        await host.resolve_await_event(key, Resolution.ok("bad")),
        ResolveOutcome.UNKNOWN_OR_REVOKED,
        "resolve tampered key",
    )
    await expect_unknown_or_revoked(
        host.await_await_event(key, CancelToken(), None), "tampered key must not await"
    )


# ---- durable steps --------------------------------------------------------------------------


async def effect_host_durable_steps(make: HostFactory) -> None:
    async with HostPool(make) as hosts:
        host = await hosts.new()
        check(
            host.supports_durable_effects,
            "durable-step conformance requires a host that advertises durable effects",
        )
        scoped = host.scoped(ExecutionScope.turn("durable-step-session", "durable-step-turn"))
        await effect_controller_durable_steps(scoped.controller)


def durable_step_conformance_envelope(step_id: str, input_value: Any) -> EffectEnvelope:
    return EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope.for_turn("durable-step-session", "durable-step-turn", 7, 0),
            f"durable-step:{step_id}",
            EffectKind.DURABLE_STEP,
            f"durable-step-replay:{step_id}",
        ),
        DurableStep(step_id, input_value),
    )


async def effect_controller_durable_steps(controller: EffectController) -> None:
    check(
        controller.supports_durable_effects,
        "durable-step conformance requires a controller that advertises durable effects",
    )
    first = durable_step_conformance_envelope("create", {"x": 1})
    second = durable_step_conformance_envelope("create", {"x": 1})
    check_eq(first.stable_hash(), second.stable_hash(), "same step id/input/replay key must hash stably")
    check(first.invocation.replay_key is not None, "durable-step envelope must carry replay.key")
    changed = durable_step_conformance_envelope("create", {"x": 2})
    check(
        first.stable_hash() != changed.stable_hash(),
        "durable-step input must participate in the stable envelope hash",
    )
    outcome = await controller.execute_effect(
        first, LocalExecutor.durable_step(lambda value: {"recorded": value})
    )
    check_eq(outcome.into_durable_step(), {"recorded": {"x": 1}}, "durable-step outcome")

    def fail(_: Any) -> Any:
        raise EffectHostError("durable_step_conformance_error", "durable step failed")

    await expect_code(
        controller.execute_effect(
            durable_step_conformance_envelope("error", {"x": 1}), LocalExecutor.durable_step(fail)
        ),
        "durable_step_conformance_error",
        "durable-step error must be recorded as controller error",
    )


def durable_step_conformance_failing_executor(local_calls: list[str]) -> LocalExecutor:
    def fail(value: Any) -> Any:
        local_calls.append(repr(value))
        raise EffectHostError(
            "durable_step_replay_local_executor_called",
            "recorded durable-step replay must not invoke local execution",
        )

    return LocalExecutor.durable_step(fail)


async def effect_controller_durable_steps_replay(
    controller: EffectController, start_replay: Callable[[], None]
) -> None:
    await effect_controller_durable_steps(controller)
    success = durable_step_conformance_envelope("replay-success", {"n": 1})
    error = durable_step_conformance_envelope("replay-error", {"n": 2})
    first_success = await controller.execute_effect(
        success, LocalExecutor.durable_step(lambda value: {"first": value})
    )
    check_eq(first_success.into_durable_step(), {"first": {"n": 1}}, "first durable-step value")

    def fail(_: Any) -> Any:
        raise EffectHostError("durable_step_replay_error", "recorded error")

    await expect_code(
        controller.execute_effect(error, LocalExecutor.durable_step(fail)),
        "durable_step_replay_error",
        "first durable-step error",
    )
    start_replay()
    local_calls: list[str] = []
    replay_success = await controller.execute_effect(
        success, durable_step_conformance_failing_executor(local_calls)
    )
    check_eq(replay_success.into_durable_step(), {"first": {"n": 1}}, "replayed durable-step value")
    await expect_code(
        controller.execute_effect(error, durable_step_conformance_failing_executor(local_calls)),
        "durable_step_replay_error",
        "replayed durable-step error",
    )
    check_eq(local_calls, [], "durable-step replay must not invoke local closures")


# ---- concurrent replay ----------------------------------------------------------------------


def replay_conformance_exec_envelope(effect_id: str) -> EffectEnvelope:
    return EffectEnvelope(
        RuntimeInvocation.effect(
            RuntimeScope.for_turn("effect-conformance-session", "effect-conformance-turn", 7, 0),
            effect_id,
            EffectKind.EXEC_CODE,
            f"effect-conformance:effect-conformance-turn:{effect_id}",
        ),
        ExecCode(f"emit {effect_id}"),
    )


def replay_conformance_exec_outcome(effect_id: str) -> ExecCodeOutcome:
    return ExecCodeOutcome(ExecResponse(duration_ms=0, terminal_finish=effect_id))


def _assert_marker(outcome: Outcome, expected: str) -> None:
    result = outcome.into_exec_code()
    check(isinstance(result, ExecResponse), "exec-code response")
    assert isinstance(result, ExecResponse)
    check_eq(result.terminal_finish, expected, "replayed outcome must come from the matching replay key")


async def effect_controller_concurrent_replay_deterministic(
    controller: EffectController, start_replay: Callable[[], None]
) -> None:
    slow = replay_conformance_exec_envelope("effect-slow")
    fast = replay_conformance_exec_envelope("effect-fast")
    completion_order: list[str] = []
    barrier = asyncio.Barrier(2)
    release_slow = asyncio.Event()

    def recording_executor(effect_id: str) -> LocalExecutor:
        async def run(envelope: EffectEnvelope) -> Outcome:
            check_eq(envelope.effect_id, effect_id, "executor sees its own envelope")
            await barrier.wait()
            if effect_id == "effect-slow":
                await release_slow.wait()
                completion_order.append(effect_id)
            else:
                completion_order.append(effect_id)
                release_slow.set()
            return replay_conformance_exec_outcome(effect_id)

        return LocalExecutor.testing(run)

    try:
        slow_first, fast_first = await asyncio.wait_for(
            asyncio.gather(
                controller.execute_effect(slow, recording_executor("effect-slow")),
                controller.execute_effect(fast, recording_executor("effect-fast")),
            ),
            timeout=2.0,
        )
    except TimeoutError:
        raise ConformanceFailure(
            "concurrent first-pass effects must both enter their local executors"
        ) from None
    _assert_marker(slow_first, "effect-slow")
    _assert_marker(fast_first, "effect-fast")
    check_eq(
        completion_order,
        ["effect-fast", "effect-slow"],
        "first pass must prove local completion order can differ from effect request order",
    )
    start_replay()
    replay_local_calls: list[str] = []

    def failing_executor() -> LocalExecutor:
        def run(envelope: EffectEnvelope) -> Outcome:
            replay_local_calls.append(envelope.effect_id)
            raise EffectHostError(
                "conformance_replay_local_executor_called",
                "recorded replay must not invoke local effect execution",
            )

        return LocalExecutor.testing(run)

    try:
        fast_replay, slow_replay = await asyncio.wait_for(
            asyncio.gather(
                controller.execute_effect(fast, failing_executor()),
                controller.execute_effect(slow, failing_executor()),
            ),
            timeout=2.0,
        )
    except TimeoutError:
        raise ConformanceFailure("concurrent replay effects must resolve from host history") from None
    _assert_marker(fast_replay, "effect-fast")
    _assert_marker(slow_replay, "effect-slow")
    check_eq(replay_local_calls, [], "replay must return recorded outcomes without invoking local executors")
