"""The Restate services an effecthost endpoint binds: turns, durable waits and their index.

- ``EffecthostTurn`` (a workflow keyed by the turn): ``run`` drives one registered turn function
  as one invocation (a workflow's main handler runs once per key: starting a turn twice is
  idempotent), so the same ``@durable_turn`` code runs here as on SQLite or PostgreSQL.
- ``EffecthostWait`` (a workflow keyed by the SHA-256 of an await-event key id) holds one durable
  promise, ``resolution``: ``settle`` (first writer wins), ``peek`` and ``wait``.
- ``EffecthostWaitIndex`` (a virtual object per session) serialises registration, resolves, the
  cancel sweep and revocation (a tombstone) for the session's waits: every write to a wait's
  promise goes through it, so a revoked session refuses every later resolve.

No Restate awakeable or promise id ever leaves the endpoint: callers hold effecthost's signed keys.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import restate
from effecthost import AwaitEventKey, DurableTurn, EffectHostError, ErrorCode, Resolution
from effecthost.engine import canonical_loads
from restate import ObjectContext, ObjectSharedContext, WorkflowContext, WorkflowSharedContext

from ..kit import TurnEngineBase, error_body, turn_registry
from .config import INDEX_SERVICE, TURN_SERVICE, WAIT_SERVICE, RestateConfig
from .controller import CANCELLED_STATUS, RestateController

_log = logging.getLogger("effecthost.restate")

_PROMISE = "resolution"
#: The turn workflow's state: the turn (its name, ids and input) and what it is parked on.
_TURN = "turn"
_WAITING = "waiting"
_REVOKED = {"revoked": True}


class RestateTurnEngine(TurnEngineBase[RestateController]):
    """What :func:`effecthost.engine.run_engine_turn` needs, inside the turn workflow's handler."""

    def __init__(self, ctx: WorkflowContext, config: RestateConfig) -> None:
        super().__init__(RestateController(ctx, config), config)
        self._ctx = ctx

    async def park(self, waiting: dict[str, Any] | None) -> None:
        """Keep what the turn is parked on in the workflow's state (``describe`` reads it): a
        journaled state write, issued in program order like every other command."""
        if waiting is None:
            self._ctx.clear(_WAITING)
        else:
            self._ctx.set(_WAITING, waiting)


def error_as_terminal(error: EffectHostError) -> restate.TerminalError:
    """A turn's error as Restate's terminal failure: the message is the error's JSON."""
    return restate.TerminalError(error_body(error), 500)


def wait_services() -> list[restate.Workflow | restate.VirtualObject]:
    wait = restate.Workflow(WAIT_SERVICE)

    @wait.main()
    async def run(ctx: WorkflowContext, _request: Any) -> Any:
        return await ctx.promise(_PROMISE).value()

    @wait.handler()
    async def settle(ctx: WorkflowSharedContext, resolution: Any) -> dict[str, Any]:
        promise: restate.DurablePromise[Any] = ctx.promise(_PROMISE)
        current = await promise.peek()
        if current is not None:
            return {"status": "already_resolved", "terminal": current}
        await promise.resolve(resolution)
        return {"status": "accepted"}

    @wait.handler()
    async def peek(ctx: WorkflowSharedContext, _request: Any) -> Any:
        return await ctx.promise(_PROMISE).peek()

    @wait.handler(name="wait")
    async def wait_for(ctx: WorkflowSharedContext, _request: Any) -> Any:
        return await ctx.promise(_PROMISE).value()

    index = restate.VirtualObject(INDEX_SERVICE)

    async def _pending(ctx: ObjectContext | ObjectSharedContext) -> dict[str, str]:
        return dict(await ctx.get("pending", type_hint=dict) or {})

    @index.handler()
    async def register(ctx: ObjectContext, request: dict[str, Any]) -> str:
        if await ctx.get("revoked", type_hint=bool):
            return "revoked"
        pending = await _pending(ctx)
        if request["wait"] not in pending:
            terminal = await ctx.workflow_call(peek, key=request["wait"], arg=None)
            if terminal is not None:
                return "resolved"
            pending[request["wait"]] = request["token"]
            ctx.set("pending", pending)
        return "registered"

    @index.handler()
    async def resolve(ctx: ObjectContext, request: dict[str, Any]) -> dict[str, Any]:
        if await ctx.get("revoked", type_hint=bool):
            return {"status": "unknown_or_revoked"}
        Resolution.from_json(request["resolution"])  # only effecthost's shapes are stored
        answer: dict[str, Any] = await ctx.workflow_call(
            settle, key=request["wait"], arg=request["resolution"]
        )
        if answer.get("status") == "accepted":
            await _keep_resolver(ctx, [request["wait"]], request.get("stamp"))
        pending = await _pending(ctx)
        if pending.pop(request["wait"], None) is not None:
            ctx.set("pending", pending)
        return answer

    async def _keep_resolver(ctx: ObjectContext, waits: list[str], stamp: Any) -> None:
        """Who resolved (``{"by", "at_ms"}``, as the host sent it), per wait digest: what the
        SQL hosts keep beside a terminal (a resolve the turn publishes itself has no stamp)."""
        if not waits or not isinstance(stamp, dict):
            return
        resolvers = dict(await ctx.get("resolvers", type_hint=dict) or {})
        for wait in waits:
            resolvers[wait] = {"by": stamp.get("by"), "at_ms": stamp.get("at_ms")}
        ctx.set("resolvers", resolvers)

    @index.handler()
    async def cancel_all(ctx: ObjectContext, request: Any) -> int:
        pending = await _pending(ctx)
        swept, accepted = 0, []
        for workflow, token in sorted(pending.items()):
            if AwaitEventKey.from_token(token).wait.is_turn_control:
                continue  # turn-control gates are never swept
            answer = await ctx.workflow_call(settle, key=workflow, arg=Resolution.CANCELLED.to_json())
            if isinstance(answer, dict) and answer.get("status") == "accepted":
                accepted.append(workflow)
            del pending[workflow]
            swept += 1
        ctx.set("pending", pending)
        await _keep_resolver(ctx, accepted, request.get("stamp") if isinstance(request, dict) else None)
        return swept

    @index.handler()
    async def revoke_all(ctx: ObjectContext, _request: Any) -> int:
        pending = await _pending(ctx)
        ctx.set("revoked", True)
        for workflow in sorted(pending):  # waiters wake and refuse: the session is gone
            await ctx.workflow_call(settle, key=workflow, arg=_REVOKED)
        ctx.set("pending", {})
        return len(pending)

    @index.handler(kind="shared")
    async def inspect(ctx: ObjectSharedContext, request: dict[str, Any]) -> dict[str, Any]:
        if await ctx.get("revoked", type_hint=bool):
            return {"status": "revoked"}
        terminal = await ctx.workflow_call(peek, key=request["wait"], arg=None)
        if isinstance(terminal, dict) and terminal.get("revoked") is True:
            return {"status": "revoked"}
        return {"status": "pending" if terminal is None else "resolved", "terminal": terminal}

    @index.handler(kind="shared")
    async def revoked(ctx: ObjectSharedContext, _request: Any) -> bool:
        return bool(await ctx.get("revoked", type_hint=bool))

    @index.handler(kind="shared")
    async def outstanding(ctx: ObjectSharedContext, _request: Any) -> list[str]:
        if await ctx.get("revoked", type_hint=bool):
            return []
        return sorted((await _pending(ctx)).values())

    return [wait, index]


def turn_service(turns: Iterable[DurableTurn[Any]], config: RestateConfig) -> restate.Workflow:
    registry = turn_registry(turns)
    service = restate.Workflow(TURN_SERVICE)

    @service.main()
    async def run(ctx: WorkflowContext, request: dict[str, Any]) -> Any:
        fn = registry.get(str(request.get("name")))
        if fn is None:
            raise error_as_terminal(
                EffectHostError(
                    ErrorCode.TURN_NOT_FOUND,
                    f"no turn function named {request.get('name')!r} is registered on this endpoint",
                )
            )
        engine = RestateTurnEngine(ctx, config)
        turn_input = request.get("input") or {}
        # the input joins the turn's one state write at the start; a turn journaled before it
        # did mismatches on replay (docs/restate.md, "Deployments and versioning")
        turn = {k: request.get(k) for k in ("name", "session_id", "turn_id")}
        ctx.set(_TURN, {**turn, "input": turn_input})
        try:
            return await engine.run(fn, request, turn_input)
        except EffectHostError as error:
            raise error_as_terminal(error) from None
        except restate.TerminalError as err:
            if err.status_code == CANCELLED_STATUS:
                raise error_as_terminal(
                    EffectHostError(ErrorCode.TURN_CANCELLED, "the turn was cancelled")
                ) from None
            raise
        except Exception as exc:
            if restate.is_internal_exception(exc):
                raise
            raise error_as_terminal(
                EffectHostError(ErrorCode.TURN_FAILED, f"{type(exc).__name__}: {exc}")
            ) from None

    @service.handler()
    async def describe(ctx: WorkflowSharedContext, _request: Any) -> Any:
        """The turn (name, ids, input) and what it is parked on (None between waits); None
        when the turn was never started. A turn started before the input was kept has none."""
        turn = await ctx.get(_TURN, type_hint=dict)
        if turn is None:
            return None
        return {**turn, _WAITING: await ctx.get(_WAITING, type_hint=dict)}

    return service


def restate_services(
    turns: Iterable[DurableTurn[Any]], config: RestateConfig
) -> list[restate.Service | restate.VirtualObject | restate.Workflow]:
    """Every service an effecthost endpoint binds (the turn workflow and the durable waits)."""
    return [turn_service(turns, config), *wait_services()]


def restate_app(
    turns: Iterable[DurableTurn[Any]],
    config: RestateConfig,
    *,
    extra: Iterable[restate.Service | restate.VirtualObject | restate.Workflow] = (),
) -> Any:
    """The ASGI app of an endpoint (serve it with hypercorn, HTTP/2)."""
    return restate.app(services=[*restate_services(turns, config), *extra])


def decode_terminal(message: str) -> EffectHostError:
    """The EffectHostError a terminal failure's message carries (see :func:`error_as_terminal`)."""
    message = re.sub(r"^\[\d{3}\] ", "", message)  # Restate prefixes a failure with its status
    try:
        return EffectHostError.from_json(canonical_loads(message))
    except (ValueError, EffectHostError):
        return EffectHostError(ErrorCode.TURN_FAILED, message)
