"""The workflows an effecthost worker runs: turns and their sessions' waits.

- ``EffecthostTurn`` (id ``effecthost-turn/{len}:{session}/{turn}``) drives one registered turn
  function through :class:`TemporalController` (starting a turn twice is idempotent: one workflow
  per id), so the same ``@durable_turn`` code runs here as on SQLite, PostgreSQL and Restate. Its
  ``settled`` signal carries a wait's terminal from the session workflow.
- ``EffecthostSession`` (id ``effecthost-session/{session}``) serialises a session's waits:
  registration, resolves (first writer wins), the cancel sweep and revocation (a tombstone), as
  updates; ``inspect``, ``outstanding`` and ``revoked`` as queries. A per-session workflow rather
  than a visibility query: revocation must refuse every later resolve and first-writer-wins needs
  one writer, which visibility (eventually consistent, no writes) cannot give.

No Temporal task token or workflow handle ever leaves the worker: callers hold effecthost's keys.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from effecthost import AwaitEventKey, CancelToken, DurableTurn, EffectHostError, ErrorCode, Resolution
from effecthost.engine import canonical_loads

from ..kit import TurnEngineBase, error_body
from .config import SESSION_WORKFLOW, TURN_WORKFLOW, TemporalConfig
from .controller import TemporalController

#: What each task queue's worker in this process runs: its turn functions and its config.
REGISTRY: dict[str, tuple[dict[str, DurableTurn[Any]], TemporalConfig]] = {}

_REVOKED = {"revoked": True}


#: The patch a turn workflow starts with since the turn API reports its waits in the memo: a
#: history without it (a turn started before) keeps the controller's thin memo writes, in their
#: places, so it replays on this code (Temporal's versioning; see docs/temporal.md).
WAITING_PATCH = "effecthost-turn-waiting-memo"


class TemporalTurnEngine(TurnEngineBase[TemporalController]):
    """What :func:`effecthost.engine.run_engine_turn` needs, inside one turn workflow.

    ``reports_waits``: the turn API's ``waiting`` goes to the memo (:meth:`park`); False for a
    turn whose history predates it (the controller's thin memo writes instead)."""

    def __init__(
        self,
        config: TemporalConfig,
        settled: dict[str, Any],
        cancel: CancelToken,
        *,
        reports_waits: bool = True,
    ) -> None:
        super().__init__(
            TemporalController(config, settled, cancel=cancel, parks_in_memo=not reports_waits), config
        )
        self._reports_waits = reports_waits

    async def park(self, waiting: dict[str, Any] | None) -> None:
        """Say in the memo what the turn is parked on (a history command, so a replay repeats
        it; ``describe`` reads it without a worker). A wait's signed token never goes there:
        the memo keeps the key's unsigned identity and the host signs it again."""
        if self._reports_waits:
            workflow.upsert_memo({"waiting": memo_waiting(waiting)})


def memo_waiting(waiting: dict[str, Any] | None) -> dict[str, Any] | None:
    """The memo's form of a turn's ``waiting``: a wait's ``key`` (a bearer token) becomes its
    ``key_identity`` (the key's scope and wait, no signature)."""
    if waiting is None or "key" not in waiting:
        return waiting
    key = AwaitEventKey.from_token(waiting["key"])
    rest = {k: v for k, v in waiting.items() if k != "key"}
    return {**rest, "key_identity": {"scope": key.scope.to_json(), "wait": key.wait.to_json()}}


def error_as_failure(error: EffectHostError) -> ApplicationError:
    """A turn's error as the workflow's failure: the message is the error's JSON, the type its code."""
    return ApplicationError(error_body(error), type=str(error.code), non_retryable=True)


def decode_failure(message: str) -> EffectHostError:
    """The EffectHostError a failure's message carries (see :func:`error_as_failure`)."""
    try:
        return EffectHostError.from_json(canonical_loads(message))
    except (ValueError, EffectHostError, KeyError, TypeError):
        return EffectHostError(ErrorCode.TURN_FAILED, message)


class ReplayMismatch(Exception):
    """A replay mismatch: not a Temporal failure, so the workflow task fails and is retried."""


@workflow.defn(name=TURN_WORKFLOW)
class TurnWorkflow:
    def __init__(self) -> None:
        self._settled: dict[str, Any] = {}
        self._turn: dict[str, Any] = {}
        #: Set by the ``cancel`` signal (a history event: every replay sees it at the same point).
        self._cancel = CancelToken()

    @workflow.run
    async def run(self, request: dict[str, Any]) -> Any:
        self._turn = {k: request.get(k) for k in ("name", "session_id", "turn_id")}
        reports_waits = workflow.patched(WAITING_PATCH)  # first: before any other command
        registered = REGISTRY.get(workflow.info().task_queue)
        fn = registered[0].get(str(request.get("name"))) if registered else None
        if registered is None or fn is None:
            raise error_as_failure(
                EffectHostError(
                    ErrorCode.TURN_NOT_FOUND,
                    f"no turn function named {request.get('name')!r} is registered on this worker",
                )
            )
        engine = TemporalTurnEngine(registered[1], self._settled, self._cancel, reports_waits=reports_waits)
        try:
            return await engine.run(fn, request, request.get("input") or {})
        except EffectHostError as error:
            if engine.controller.replay_mismatch:
                # the turn's code changed under a running workflow: fail the workflow *task*, as
                # Temporal's own non-determinism check does, so the turn waits (history intact)
                # for a worker running code that matches it (a rollback, or a patched turn)
                raise ReplayMismatch(str(error)) from None
            if error.code == ErrorCode.TURN_CANCELLED and engine.controller.cancel_requested:
                raise asyncio.CancelledError() from None  # Temporal cancelled it: it ends CANCELED
            raise error_as_failure(error) from None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise error_as_failure(
                EffectHostError(ErrorCode.TURN_FAILED, f"{type(exc).__name__}: {exc}")
            ) from None

    @workflow.signal(name="cancel")
    def cancel(self) -> None:
        """effecthost's cancel: a parked wait publishes ``Cancelled``, a sleep ends, the next
        effect raises ``turn_cancelled``; an effect under way finishes first."""
        self._cancel.cancel()

    @workflow.signal(name="settled")
    def settled(self, wait: str, terminal: Any) -> None:
        self._settled.setdefault(wait, terminal)

    @workflow.query(name="describe")
    def describe(self) -> dict[str, Any]:
        return self._turn


@workflow.defn(name=SESSION_WORKFLOW)
class SessionWorkflow:
    @workflow.init
    def __init__(self, state: dict[str, Any] | None) -> None:
        # The state a rollover carries over is restored here, not in ``run``: an update that
        # arrives with a run's first task is handled before ``run`` starts, and ``run`` restoring
        # the state then dropped what that update had accepted (one resolution lost per rollover)
        state = state or {}
        self._revoked = bool(state.get("revoked"))
        #: wait id -> [token, turn workflow id or None]
        self._pending: dict[str, list[Any]] = dict(state.get("pending") or {})
        #: wait id -> terminal (a resolution's JSON, or the revoked tombstone)
        self._terminals: dict[str, Any] = dict(state.get("terminals") or {})
        #: wait id -> who resolved it and when ({"by", "at_ms"}, as a host sent it); data only,
        #: no workflow command, so a history recorded before it replays unchanged
        self._resolvers: dict[str, Any] = dict(state.get("resolvers") or {})

    @workflow.run
    async def run(self, state: dict[str, Any] | None) -> None:
        # a session lives as long as its waits; its history is rolled over when Temporal asks
        await workflow.wait_condition(
            lambda: workflow.info().is_continue_as_new_suggested() and workflow.all_handlers_finished()
        )
        workflow.continue_as_new(
            {
                "revoked": self._revoked,
                "pending": self._pending,
                "terminals": self._terminals,
                "resolvers": self._resolvers,
            }
        )

    async def _notify(self, workflow_id: str | None, wait: str, terminal: Any) -> None:
        if not workflow_id:
            return
        try:
            await workflow.get_external_workflow_handle(workflow_id).signal("settled", args=[wait, terminal])
        except Exception:  # the turn ended meanwhile: the terminal stays here for peeks
            workflow.logger.info("wait %s settled after its turn ended", wait)

    @workflow.update(name="register")
    async def register(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._revoked:
            return {"status": "revoked"}
        wait = request["wait"]
        if wait in self._terminals:
            return {"status": "resolved", "terminal": self._terminals[wait]}
        self._pending[wait] = [request["token"], request.get("workflow_id")]
        return {"status": "registered"}

    @workflow.update(name="resolve")
    async def resolve(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._revoked:
            return {"status": "unknown_or_revoked"}
        wait = request["wait"]
        Resolution.from_json(request["resolution"])  # only effecthost's shapes are stored
        if wait in self._terminals:
            return {"status": "already_resolved", "terminal": self._terminals[wait]}
        self._terminals[wait] = request["resolution"]
        self._keep_resolver(wait, request.get("stamp"))
        entry = self._pending.pop(wait, None)
        if entry is not None:
            await self._notify(entry[1], wait, request["resolution"])
        return {"status": "accepted"}

    def _keep_resolver(self, wait: str, stamp: Any) -> None:
        if isinstance(stamp, dict):
            self._resolvers[wait] = {"by": stamp.get("by"), "at_ms": stamp.get("at_ms")}

    @workflow.update(name="cancel_all")
    async def cancel_all(self, request: Any) -> int:
        swept = 0
        for wait, (token, workflow_id) in sorted(self._pending.items()):
            if AwaitEventKey.from_token(token).wait.is_turn_control:
                continue  # turn-control gates are never swept
            if wait not in self._terminals:
                self._terminals[wait] = Resolution.CANCELLED.to_json()
                self._keep_resolver(wait, request.get("stamp") if isinstance(request, dict) else None)
            del self._pending[wait]
            await self._notify(workflow_id, wait, self._terminals[wait])
            swept += 1
        return swept

    @workflow.update(name="revoke_all")
    async def revoke_all(self, _request: Any) -> int:
        self._revoked = True
        pending, self._pending = self._pending, {}
        for wait, (_token, workflow_id) in sorted(pending.items()):  # waiters wake and refuse
            await self._notify(workflow_id, wait, _REVOKED)
        return len(pending)

    @workflow.query(name="inspect")
    def inspect(self, wait: str) -> dict[str, Any]:
        if self._revoked:
            return {"status": "revoked"}
        terminal = self._terminals.get(wait)
        return {"status": "pending" if terminal is None else "resolved", "terminal": terminal}

    @workflow.query(name="resolvers")
    def resolvers(self) -> dict[str, Any]:
        return dict(self._resolvers)

    @workflow.query(name="outstanding")
    def outstanding(self) -> list[str]:
        return [] if self._revoked else sorted(token for token, _ in self._pending.values())

    @workflow.query(name="revoked")
    def revoked(self) -> bool:
        return self._revoked
