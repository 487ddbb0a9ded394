"""What every engine's code does the same way, written once (Restate and Temporal use it).

An engine differs in how it journals and where it keeps a session's waits; around that, much is
the same: the deployment side refuses to run effects, a turn handle reads its host, a resolve's
answer and a wait's terminal decode alike, a config holds a signing secret and byte budgets, a
record read back is checked against the current envelope, a local server is stopped by PID. An
engine passes its own error codes and names where they differ.

Public roots only (``effecthost``, ``effecthost.engine``) and no engine SDK: the engines package
imports without the extras, and a third-party engine may build on this module too.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self, TypeVar

from effecthost import (
    AwaitEvent,
    AwaitEventKey,
    AwaitEventOutcome,
    CancelToken,
    Clock,
    DurableTurn,
    EffectEnvelope,
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    LocalExecutor,
    Outcome,
    Resolution,
    ResolveOutcome,
    ScopedController,
    Sleep,
    SleepOutcome,
    SystemClock,
    TurnInfo,
    WaitIdentity,
)
from effecthost.engine import (
    authenticate_await_event_key,
    canonical_dumps,
    load_effect_record,
    mint_await_event_key,
    mismatch_error,
    outcome_from_json,
    run_engine_turn,
)

# -- errors ---------------------------------------------------------------------------------------


def unknown_or_revoked() -> EffectHostError:
    """Refused, unknown and revoked keys answer the same (no oracle)."""
    return EffectHostError(ErrorCode.AWAIT_EVENT_UNKNOWN_OR_REVOKED, "await-event key is invalid or revoked")


def turn_not_found(session_id: str, turn_id: str) -> EffectHostError:
    return EffectHostError(ErrorCode.TURN_NOT_FOUND, f"turn {session_id!r}/{turn_id!r} was never started")


def turn_result_timeout(session_id: str, turn_id: str, timeout: float | None) -> EffectHostError:
    return EffectHostError(
        ErrorCode.TURN_RESULT_TIMEOUT, f"turn {session_id!r}/{turn_id!r} did not end in {timeout} s"
    )


def check_session(session_id: object) -> None:
    if not isinstance(session_id, str) or not session_id.strip():
        raise EffectHostError(ErrorCode.INVALID_AWAIT_EVENT_SESSION_ID, "a session id is a non-empty str")


def error_body(error: EffectHostError) -> str:
    """A turn's error as the canonical JSON an engine's failure message carries (the code and
    message alone when the error's details do not serialise)."""
    try:
        return canonical_dumps(error.to_json())
    except EffectHostError:
        return canonical_dumps({"code": error.code, "message": error.message})


# -- budgets and config ---------------------------------------------------------------------------


def over_budget(code: ErrorCode, limit: str, what: str, size: int, budget: int) -> EffectHostError:
    """``limit`` names the budget in the message (``"Restate journal budget"``)."""
    return EffectHostError(
        code,
        f"{what} is {size} bytes, over the {limit} of {budget} bytes",
        summary={"bytes": size, "budget": budget},
    )


def refuse_over_budget(code: ErrorCode, limit: str, what: str, text: str, budget: int) -> None:
    """Refuse ``text`` over ``budget`` UTF-8 bytes (encoded only when it may be over)."""
    if len(text) > budget // 4 and (size := len(text.encode("utf-8", "surrogatepass"))) > budget:
        raise over_budget(code, limit, what, size, budget)


def check_secret(secret: object) -> None:
    if not isinstance(secret, bytes) or len(secret) < 16:
        raise EffectHostError(ErrorCode.HOST_OPTION_INVALID, "the signing secret needs at least 16 bytes")


def check_byte_sizes(config: object, names: Iterable[str]) -> None:
    """Each named attribute of ``config`` is an int of at least 1024 (a budget, a payload bound)."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
            raise EffectHostError(
                ErrorCode.HOST_OPTION_INVALID, f"{name} is an int of at least 1024, not {value!r}"
            )


def secret_from_env(variable: str) -> bytes:
    """The hex signing secret in ``$variable`` (at least 16 bytes)."""
    try:
        secret = bytes.fromhex(os.environ.get(variable, ""))
    except ValueError:
        secret = b""
    if len(secret) < 16:
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID,
            f"${variable} must hold a hex secret of at least 16 bytes"
            " (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)",
        )
    return secret


def key_digest(key: AwaitEventKey) -> str:
    """A wait's name inside the engine: the SHA-256 of the key id (never the id or the token)."""
    return hashlib.sha256(key.key_id.encode("utf-8", "surrogatepass")).hexdigest()


def wait_of_record(raw: bytes | str | None, name_of: Callable[[AwaitEventKey], str]) -> str | None:
    """The engine's name (``name_of`` its key) of the wait an ``await_event`` effect record
    parks on; None for any other record, or one a listing cannot follow (its wait stays
    unsettled)."""
    if raw is None:
        return None
    try:
        command = json.loads(load_effect_record(raw).envelope_json)["command"]
        if command.get("type") != "await_event":
            return None
        return name_of(AwaitEventKey.from_json(command["key"]))
    except Exception:
        return None


# -- inside a turn --------------------------------------------------------------------------------


def outcome_of_record(
    raw: bytes | str,
    envelope: EffectEnvelope,
    *,
    envelope_only: bool,
    decode_code: ErrorCode,
    recorded_as: str,
    conflict_code: ErrorCode,
    on_conflict: Callable[[], None] | None = None,
) -> Outcome:
    """The outcome an effect's journaled record answers, checked against the current envelope:
    a record that does not decode is ``decode_code`` (``recorded_as`` names it: "journaled
    run"), a different envelope hash is ``conflict_code`` with the divergent paths (after
    ``on_conflict``), a recorded error is raised. ``envelope_only``: a sleep's or a wait's record,
    whose outcome the caller produces."""
    key = envelope.replay_key
    try:
        record = load_effect_record(raw)
    except ValueError:
        raise EffectHostError(decode_code, f"the {recorded_as} {key!r} does not decode") from None
    if record.envelope_hash != envelope.stable_hash():
        if on_conflict is not None:
            on_conflict()
        raise mismatch_error(
            conflict_code,
            record.envelope_hash,
            record.envelope_json,
            envelope.stable_hash(),
            envelope.canonical_json(),
        )
    if record.err is not None:
        raise EffectHostError.from_json(record.err)
    if envelope_only:
        return SleepOutcome()
    return outcome_from_json(record.ok)


class EngineController(abc.ABC):
    """The half of an engine's turn-scoped controller that every engine shares: the step an
    effect takes. A sleep and a wait first journal their envelope (so a changed one is a
    mismatch), then sleep or wait durably; any other effect journals its outcome. The engine
    journals (``_record``), sleeps (``sleep_ms``) and waits (``_await_event``)."""

    #: Set when the turn is cancelled: the turn stops at its next effect.
    cancel: CancelToken

    @property
    def supports_durable_effects(self) -> bool:
        return True

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        if not isinstance(envelope, EffectEnvelope) or not isinstance(local_executor, LocalExecutor):
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, "execute_effect(envelope, local_executor)")
        command = envelope.command
        if isinstance(command, Sleep):
            await self._record(envelope, None)
            await self.sleep_ms(command.duration_ms)
            return SleepOutcome()
        if isinstance(command, AwaitEvent):
            await self._record(envelope, None)
            return AwaitEventOutcome(await self._await_event(command, local_executor))
        return await self._record(envelope, local_executor)

    @abc.abstractmethod
    async def _record(self, envelope: EffectEnvelope, executor: LocalExecutor | None) -> Outcome:
        """Journal the effect (its outcome by ``executor``; None: its envelope alone)."""

    @abc.abstractmethod
    async def sleep_ms(self, ms: int) -> None: ...

    @abc.abstractmethod
    async def _await_event(self, command: AwaitEvent, executor: LocalExecutor) -> Resolution: ...


class _Config(Protocol):
    @property
    def secret(self) -> bytes: ...

    @property
    def max_payload_bytes(self) -> int: ...


ControllerT = TypeVar("ControllerT", bound=EngineController)


class TurnEngineBase(Generic[ControllerT]):
    """What :func:`effecthost.engine.run_engine_turn` needs that every engine answers alike:
    the controller, the signing secret, the clock, the payload bound and timers by the
    controller's durable sleep. An engine adds ``park``."""

    def __init__(self, controller: ControllerT, config: _Config) -> None:
        self._controller = controller
        self._config = config
        self._clock: Clock = SystemClock()

    @property
    def controller(self) -> ControllerT:
        return self._controller

    @property
    def secret(self) -> bytes:
        return self._config.secret

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def max_payload_bytes(self) -> int:
        return self._config.max_payload_bytes

    async def sleep_until(self, due_ms: int) -> None:
        await self._controller.sleep_ms(due_ms - self._clock.now_ms())

    async def run(self, fn: DurableTurn[Any], request: dict[str, Any], turn_input: dict[str, Any]) -> Any:
        """Run ``fn`` as the turn ``request`` names, stopped by the controller's cancel token."""
        return await run_engine_turn(
            fn,
            self,
            session_id=request["session_id"],
            turn_id=request["turn_id"],
            input=turn_input,
            cancel=self._controller.cancel,
        )


def turn_registry(turns: Iterable[DurableTurn[Any]]) -> dict[str, DurableTurn[Any]]:
    """The turn functions an endpoint or a worker runs, by name."""
    registry: dict[str, DurableTurn[Any]] = {}
    for fn in turns:
        if not isinstance(fn, DurableTurn):
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"not a @durable_turn function: {fn!r}")
        registry[fn.name] = fn
    return registry


# -- the deployment side --------------------------------------------------------------------------


class RefusingController:
    """The deployment side's controller: effects run inside the engine, never here.
    ``inside`` says where (``"a Restate handler, through RestateController (...)"``)."""

    def __init__(self, code: ErrorCode, inside: str) -> None:
        self._code = code
        self._inside = inside

    @property
    def supports_durable_effects(self) -> bool:
        return True

    async def execute_effect(self, envelope: EffectEnvelope, local_executor: LocalExecutor) -> Outcome:
        raise EffectHostError(self._code, f"effect {envelope.effect_id!r} must run inside {self._inside}")


class _TurnSource(Protocol):
    async def get_turn(self, session_id: str, turn_id: str) -> TurnInfo | None: ...

    async def turn_result(self, session_id: str, turn_id: str, timeout: float | None = None) -> Any: ...  # noqa: ASYNC109


HostT = TypeVar("HostT", bound=_TurnSource)


@dataclass(frozen=True, slots=True)
class HostTurnHandle(Generic[HostT]):
    """A turn started on an engine: its info and its result, from any process."""

    host: HostT
    session_id: str
    turn_id: str

    async def info(self) -> TurnInfo:
        found = await self.host.get_turn(self.session_id, self.turn_id)
        if found is None:
            raise turn_not_found(self.session_id, self.turn_id)
        return found

    async def result(self, timeout: float | None = None) -> Any:  # noqa: ASYNC109 - the turn API's name
        return await self.host.turn_result(self.session_id, self.turn_id, timeout)


def turn_request(
    fn_or_name: DurableTurn[Any] | str, session_id: str, turn_id: str, input: dict[str, Any] | None
) -> dict[str, Any]:
    """What starts a turn on an engine (checked ids; the turn's name, ids and input)."""
    name = fn_or_name.name if isinstance(fn_or_name, DurableTurn) else fn_or_name
    ExecutionScope.require(ExecutionScope.turn(session_id, turn_id))
    return {"name": name, "session_id": session_id, "turn_id": turn_id, "input": input or {}}


class DeploymentHost(abc.ABC):
    """The parts of an engine's deployment-side host that do not depend on the engine: scopes
    over a :class:`RefusingController`, minting keys and resolving them (every key authenticated
    before the engine is touched), the session sweeps, ``run_turn``, ``async with``, and the close
    event parked waits watch. The engine reaches its wait index through the ``_session_*`` and
    ``_publish`` hooks."""

    engine: str

    def __init__(self, controller: RefusingController, secret: bytes) -> None:
        self._controller = controller
        self._secret = secret
        self._closed = asyncio.Event()

    @property
    def supports_durable_effects(self) -> bool:
        return True

    def scoped(self, scope: ExecutionScope) -> ScopedController:
        return ScopedController.shared(self._controller, scope)

    def scoped_static(self, scope: ExecutionScope) -> ScopedController | None:
        return self.scoped(scope)

    # -- await events -----------------------------------------------------------------------------

    @abc.abstractmethod
    async def _session_revoked(self, key: AwaitEventKey) -> bool:
        """Whether the key's session is revoked (one read of the engine)."""

    @abc.abstractmethod
    async def _publish(self, key: AwaitEventKey, resolution: Any) -> Any:
        """Offer a resolution's JSON to the key's wait (first writer wins); the index's answer."""

    @abc.abstractmethod
    async def _session_call(self, session_id: str, call: str) -> Any:
        """The session's ``revoke_all``, ``cancel_all`` or ``outstanding``; its answer."""

    async def await_event_key(self, scope: ExecutionScope, wait: WaitIdentity) -> AwaitEventKey:
        """Mint (a pure derivation); a revoked session mints nothing (one read of the engine)."""
        ExecutionScope.require(scope)
        key = mint_await_event_key(self._secret, scope, wait)
        if scope.session_id and await self._session_revoked(key):
            raise unknown_or_revoked()
        return key

    async def resolve_await_event(self, key: AwaitEventKey, resolution: Resolution) -> ResolveOutcome:
        if not isinstance(resolution, Resolution):
            raise EffectHostError(ErrorCode.AWAIT_EVENT_RESOLUTION_INVALID, "resolve needs a Resolution")
        if not authenticate_await_event_key(self._secret, key):
            return ResolveOutcome.UNKNOWN_OR_REVOKED  # before the engine is touched
        return resolve_outcome(await self._publish(key, resolution.to_json()))

    async def revoke_await_events_for_session(self, session_id: str) -> None:
        check_session(session_id)
        await self._session_call(session_id, "revoke_all")

    async def cancel_await_events_for_session(self, session_id: str) -> int:
        """Resolve the session's outstanding waits ``Cancelled``; how many were."""
        check_session(session_id)
        cancelled = await self._session_call(session_id, "cancel_all")
        return cancelled if isinstance(cancelled, int) else 0

    async def list_outstanding_await_event_keys(self, session_id: str) -> list[AwaitEventKey]:
        check_session(session_id)
        tokens = await self._session_call(session_id, "outstanding")
        return [AwaitEventKey.from_token(token) for token in tokens or []]

    # -- turns ------------------------------------------------------------------------------------

    @abc.abstractmethod
    async def start_turn(
        self,
        fn_or_name: DurableTurn[Any] | str,
        *,
        session_id: str,
        turn_id: str,
        input: dict[str, Any] | None = None,
    ) -> HostTurnHandle[Any]: ...

    async def run_turn(
        self,
        fn_or_name: DurableTurn[Any] | str,
        *,
        session_id: str,
        turn_id: str,
        input: dict[str, Any] | None = None,
    ) -> Any:
        handle = await self.start_turn(fn_or_name, session_id=session_id, turn_id=turn_id, input=input)
        return await handle.result()

    # -- lifetime ---------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise EffectHostError(ErrorCode.HOST_CLOSED, "the host closed while a wait was parked on it")

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def offer_stop(
    resolve: Callable[[AwaitEventKey, Resolution], Any],
    key: AwaitEventKey,
    cancel: CancelToken,
    deadline: float | None,
) -> bool:
    """A wait awaited outside the engine: once ``cancel`` is set or ``deadline`` has passed,
    publish ``Cancelled``/``Timeout`` through ``resolve`` (first writer wins) and answer True.
    A turn-control wait never publishes: its waiter stops with an error instead."""
    control = key.wait.is_turn_control
    if cancel.cancelled:
        if control:
            raise EffectHostError(ErrorCode.TURN_CONTROL_WAIT_CANCELLED, "turn-control wait cancelled")
        await resolve(key, Resolution.CANCELLED)
        return True
    if deadline is not None and time.monotonic() >= deadline:
        if control:
            raise EffectHostError(ErrorCode.TURN_CONTROL_WAIT_TIMEOUT, "turn-control wait timed out")
        await resolve(key, Resolution.TIMEOUT)
        return True
    return False


def resolve_outcome(answer: Any) -> ResolveOutcome:
    """A resolve's answer from the engine's wait index (``accepted``, ``already_resolved`` with
    the standing terminal, anything else: unknown or revoked)."""
    status = answer.get("status") if isinstance(answer, dict) else None
    if status == "accepted":
        return ResolveOutcome.ACCEPTED
    if status == "already_resolved":
        terminal = answer.get("terminal")
        if isinstance(terminal, dict) and terminal.get("revoked") is True:
            return ResolveOutcome.UNKNOWN_OR_REVOKED
        return ResolveOutcome.already_resolved(Resolution.from_json(terminal))
    return ResolveOutcome.UNKNOWN_OR_REVOKED


def terminal_of(value: Any) -> Resolution:
    """A wait's terminal as the engine keeps it; the revoked tombstone is refused."""
    if isinstance(value, dict) and value.get("revoked") is True:
        raise unknown_or_revoked()
    return Resolution.from_json(value)


# -- local servers --------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(
    process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, wait_s: float = 3.0
) -> None:
    """Stop ``process`` by its PID: ``sig``, then SIGKILL if it has not ended in ``wait_s``."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(process.pid, sig)
    try:
        process.wait(wait_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait(wait_s)
