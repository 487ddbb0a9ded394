"""The deployment side: a host over a Temporal client that never runs effects.

It mints effecthost's signed v3 keys and resolves, peeks, awaits, cancels and revokes await events
through the session workflow; every key is authenticated (constant time) before Temporal is
touched, so an altered token is refused without an RPC (refused, unknown and revoked keys answer
the same). Turns: ``start_turn`` starts the turn workflow (one per session and turn: starting it
again is a no-op), ``turn_handle(..).result()`` awaits it, ``cancel_turn`` requests the workflow's
cancellation, ``query_turns`` reads Temporal's visibility.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, CancelledError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from effecthost import (
    AwaitEventKey,
    CancelToken,
    DurableTurn,
    EffectHostError,
    ErrorCode,
    ExecutionScope,
    JournalRetirement,
    Resolution,
    TurnInfo,
    TurnStatus,
    WaitIdentity,
)
from effecthost.engine import authenticate_await_event_key, canonical_dumps, mint_await_event_key
from effecthost.store import JournalRow

from ..kit import (
    ENDED,
    DeploymentHost,
    HostTurnHandle,
    RefusingController,
    TurnFilter,
    cursor_of,
    offer_stop,
    settle_early_waits,
    terminal_of,
    turn_not_found,
    turn_request,
    turn_result_timeout,
    unknown_or_revoked,
)
from .blobs import BlobSweep, FileBlobStore, sweep_blobs
from .config import (
    BLOBS_ENV,
    SESSION_WORKFLOW,
    TURN_WORKFLOW,
    TemporalConfig,
    check_budget,
    session_workflow_id,
    session_workflow_id_of,
    turn_workflow_id,
    turn_workflow_prefix,
    wait_id,
)
from .timeline import turn_timeline
from .workflows import decode_failure

_POLL_S = 0.05
#: How long a timeline listing waits for a session workflow to say how a wait ended.
_WAIT_TERMINAL_S = 5.0


class TemporalTurnHandle(HostTurnHandle["TemporalEffectHost"]):
    """A turn started on Temporal: its info and its result, from any process."""

    __slots__ = ()


def _client_error(what: str, exc: BaseException) -> EffectHostError:
    return EffectHostError(ErrorCode.TEMPORAL_CLIENT, f"{what}: {type(exc).__name__}: {exc}")


class TemporalEffectHost(DeploymentHost):
    """The deployment-side host over a connected ``temporalio`` client."""

    engine = "temporal"

    def __init__(self, client: Client, config: TemporalConfig) -> None:
        super().__init__(
            RefusingController(
                ErrorCode.TEMPORAL_EFFECT_HOST_REQUIRES_WORKFLOW_SCOPE,
                "a Temporal workflow, through TemporalController (a turn on an effecthost worker does)",
            ),
            config.secret,
        )
        self._client = client
        self._config = config

    @classmethod
    async def connect(cls, address: str, config: TemporalConfig) -> TemporalEffectHost:
        try:
            client = await Client.connect(
                address, namespace=config.namespace, data_converter=config.data_converter()
            )
        except Exception as exc:
            raise _client_error(f"connect {address}", exc) from None
        return cls(client, config)

    @property
    def client(self) -> Client:
        return self._client

    # -- session workflows ------------------------------------------------------------------------

    async def _update(self, workflow_id: str, update: str, body: Any) -> Any:
        try:
            handle: WorkflowHandle[Any, Any] = await self._client.start_workflow(
                SESSION_WORKFLOW,
                None,
                id=workflow_id,
                task_queue=self._config.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            return await handle.execute_update(update, body)
        except Exception as exc:
            raise _client_error(f"update {update}", exc) from None

    async def _query(self, workflow_id: str, query: str, *args: Any) -> Any:
        """A session workflow's query; None when the session was never touched, or is being
        started right now (its first workflow task not done: nothing is registered in it yet)."""
        try:
            return await self._client.get_workflow_handle(workflow_id).query(query, args=list(args))
        except RPCError as exc:
            if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION):
                return None
            raise _client_error(f"query {query}", exc) from None
        except Exception as exc:
            raise _client_error(f"query {query}", exc) from None

    # -- await events -----------------------------------------------------------------------------

    # (minting, resolving and the session sweeps: DeploymentHost, through these three)

    async def _session_revoked(self, key: AwaitEventKey) -> bool:
        return bool(await self._query(session_workflow_id(key), "revoked"))

    async def _publish(self, key: AwaitEventKey, resolution: Any, stamp: dict[str, Any]) -> Any:
        """An update of the session workflow; a resolution over the history budget is refused
        before Temporal is touched."""
        body = {"wait": wait_id(key), "resolution": resolution, "stamp": stamp}
        check_budget("a resolution", canonical_dumps(body), self._config.history_budget_bytes)
        return await self._update(session_workflow_id(key), "resolve", body)

    async def _session_call(self, session_id: str, call: str, stamp: dict[str, Any] | None = None) -> Any:
        """``outstanding`` is a query (a worker answers it); the sweeps are updates."""
        if call == "outstanding":
            return await self._query(session_workflow_id_of(session_id), call)
        body = None if stamp is None else {"stamp": stamp}
        return await self._update(session_workflow_id_of(session_id), call, body)

    async def wait_resolvers(self, session_id: str) -> dict[str, dict[str, Any]]:
        """The session workflow's ``resolvers`` query ({} from a worker that predates it)."""
        try:
            kept = await self._query(session_workflow_id_of(session_id), "resolvers")
        except EffectHostError:
            kept = None  # a worker without the query answers it as failed: nobody is known
        return {k: v for k, v in kept.items() if isinstance(v, dict)} if isinstance(kept, dict) else {}

    async def _inspect(self, key: AwaitEventKey) -> dict[str, Any]:
        if not authenticate_await_event_key(self._config.secret, key):
            raise unknown_or_revoked()
        answer = await self._query(session_workflow_id(key), "inspect", wait_id(key))
        if answer is None:
            return {"status": "pending", "terminal": None}
        if answer.get("status") == "revoked":
            raise unknown_or_revoked()
        return dict(answer)

    async def peek_await_event(self, key: AwaitEventKey) -> Resolution | None:
        terminal = (await self._inspect(key)).get("terminal")
        return None if terminal is None else terminal_of(terminal)

    async def await_await_event(
        self, key: AwaitEventKey, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> Resolution:
        """Wait outside a workflow (the session's ``inspect`` query, polled); a cancel or the
        deadline publishes ``Cancelled``/``Timeout`` first-writer-wins, then the terminal returns."""
        if not authenticate_await_event_key(self._config.secret, key):
            raise unknown_or_revoked()
        answer = await self._update(
            session_workflow_id(key), "register", {"wait": wait_id(key), "token": key.to_token()}
        )
        if answer.get("status") == "revoked":
            raise unknown_or_revoked()
        cancel = cancel or CancelToken()
        published = False  # once Cancelled/Timeout is offered, only the standing terminal matters
        while True:
            self._check_open()
            terminal = (await self._inspect(key)).get("terminal")
            if terminal is not None:
                return terminal_of(terminal)
            if not published and await offer_stop(self.resolve_await_event, key, cancel, deadline):
                published = True
                continue
            stops = {asyncio.ensure_future(self._closed.wait()), asyncio.ensure_future(cancel.wait())}
            try:
                await asyncio.wait(stops, timeout=_POLL_S, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for stop in stops:
                    stop.cancel()

    async def retire_effect_journal(self, retirement: JournalRetirement) -> int:
        """Temporal keeps a closed workflow's history for the namespace's retention; nothing is
        retired from here."""
        return 0

    # -- turns ------------------------------------------------------------------------------------

    async def start_turn(
        self,
        fn_or_name: DurableTurn[Any] | str,
        *,
        session_id: str,
        turn_id: str,
        input: dict[str, Any] | None = None,
    ) -> TemporalTurnHandle:
        """Start the turn's workflow (one per session and turn: starting it again is a no-op).
        An input over the history budget is refused before Temporal is touched."""
        request = turn_request(fn_or_name, session_id, turn_id, input)
        name = request["name"]
        check_budget("the turn's input", canonical_dumps(request["input"]), self._config.history_budget_bytes)
        try:
            await self._client.start_workflow(
                TURN_WORKFLOW,
                request,
                id=turn_workflow_id(session_id, turn_id),
                task_queue=self._config.task_queue,
                memo={"session_id": session_id, "turn_id": turn_id, "name": name, "input": request["input"]},
                task_timeout=self._config.task_timeout,
                # an ended turn is not run again (Temporal's default would start a new run)
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            pass
        except Exception as exc:
            raise _client_error("start turn", exc) from None
        return TemporalTurnHandle(self, session_id, turn_id)

    def turn_handle(self, session_id: str, turn_id: str) -> TemporalTurnHandle:
        return TemporalTurnHandle(self, session_id, turn_id)

    async def turn_result(self, session_id: str, turn_id: str, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """The turn's result, or its coded error raised."""
        handle = self._client.get_workflow_handle(turn_workflow_id(session_id, turn_id))
        try:
            return await asyncio.wait_for(handle.result(), timeout)
        except TimeoutError:
            raise turn_result_timeout(session_id, turn_id, timeout) from None
        except WorkflowFailureError as exc:
            raise _failure_of(exc) from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise turn_not_found(session_id, turn_id) from None
            raise _client_error("turn result", exc) from None

    async def _info(self, execution: WorkflowExecution, *, outcome: bool = True) -> TurnInfo:
        """The turn of a workflow as described or listed (its memo says what it is parked on);
        ``outcome``: an ended turn's result or error read from its history (which tells a
        cancelled turn from a failed one)."""
        memo = await execution.memo()
        status = _status_of(execution.status)
        waiting = memo.get("waiting") if status is TurnStatus.RUNNING else None
        if isinstance(waiting, dict):
            status = TurnStatus.SLEEPING if waiting.get("kind") == "sleep" else TurnStatus.WAITING
        info = TurnInfo(
            session_id=str(memo.get("session_id")),
            turn_id=str(memo.get("turn_id")),
            name=str(memo.get("name")),
            status=status,
            input=dict(memo.get("input") or {}),
            result=None,
            error=None,
            waiting=self._signed(waiting) if isinstance(waiting, dict) else None,
            attempts=1,
            resumes=0,
            cancel_requested=False,
            created_at_ms=int(execution.start_time.timestamp() * 1000),
            updated_at_ms=int((execution.close_time or execution.start_time).timestamp() * 1000),
            meta={"engine": "temporal", "workflow_id": execution.id, "run_id": execution.run_id},
        )
        return await self._with_outcome(info) if outcome else info

    async def _with_outcome(self, info: TurnInfo) -> TurnInfo:
        if info.status not in ENDED:
            return info
        handle = self._client.get_workflow_handle(turn_workflow_id(info.session_id, info.turn_id))
        try:
            return dataclasses.replace(info, result=await handle.result())
        except WorkflowFailureError as exc:
            error = _failure_of(exc)
            status = TurnStatus.CANCELLED if error.code == ErrorCode.TURN_CANCELLED else info.status
            return dataclasses.replace(info, error=error, status=status)

    def _signed(self, waiting: dict[str, Any]) -> dict[str, Any]:
        """The memo's ``waiting`` as the turn API wrote it: a wait's key identity signed again
        into its token (``key``). A thin memo (a turn started before) has no identity."""
        identity = waiting.get("key_identity")
        if not isinstance(identity, dict):
            return waiting
        rest = {k: v for k, v in waiting.items() if k != "key_identity"}
        try:
            scope = ExecutionScope.from_json(identity["scope"])
            wait = WaitIdentity.from_json(identity["wait"])
            key = mint_await_event_key(self._config.secret, scope, wait)
        except (EffectHostError, KeyError, TypeError, ValueError):
            return rest
        return {**rest, "key": key.to_token()}

    async def get_turn(self, session_id: str, turn_id: str) -> TurnInfo | None:
        try:
            described = await self._client.get_workflow_handle(
                turn_workflow_id(session_id, turn_id)
            ).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise _client_error("describe turn", exc) from None
        return await self._info(described)

    async def list_turn_effects(self, session_id: str, turn_id: str) -> list[JournalRow]:
        """The turn's effects in run order, read from its workflow's history: envelope, hash,
        outcome or error as the SQL hosts list them; ``turn_not_found`` for a turn never started.
        An effect is listed once its local activity's marker is in the history; a closed
        workflow's history is kept for the namespace's retention, after which the turn is gone."""
        handle = self._client.get_workflow_handle(turn_workflow_id(session_id, turn_id))
        try:
            history = await handle.fetch_history()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise turn_not_found(session_id, turn_id) from None
            raise _client_error("turn history", exc) from None
        rows = await turn_timeline(session_id, turn_id, history, self._client.data_converter)
        await settle_early_waits(rows, self._wait_terminal)
        return rows

    async def _wait_terminal(self, key: AwaitEventKey) -> Any:
        """A wait's terminal as its session workflow keeps it (a query: a worker answers it, so
        a listing does not hang on a queue no worker polls)."""
        query = self._query(session_workflow_id(key), "inspect", wait_id(key))
        answer = await asyncio.wait_for(query, _WAIT_TERMINAL_S)
        if not isinstance(answer, dict):
            return None
        return {"revoked": True} if answer.get("status") == "revoked" else answer.get("terminal")

    async def _find_turns(self, wanted: TurnFilter, *, results: bool) -> list[TurnInfo]:
        """Turns from Temporal's visibility store, which is eventually consistent: a turn just
        started, or one whose state just changed, shows so a moment later. The session, the
        status, the time range and the cursor's side go into the visibility query; as its SQL
        stores cannot order by start time, the matching turns are read (a thousand per call),
        ordered here and cut at the cursor. An ended turn's outcome is read from its history
        only for the turns of the page (and for failed ones where the status asked for tells
        ``cancelled`` from ``failed``; with ``results=False`` a cancelled turn reads failed)."""
        candidates: list[TurnInfo] = []
        try:
            async for execution in self._client.list_workflows(_visibility_query(wanted), page_size=1000):
                info = await self._info(execution, outcome=False)
                if wanted.admits(info) and wanted.past_cursor(info) and _may_have(wanted.status, info):
                    candidates.append(info)
        except RPCError as exc:
            raise _client_error("list turns", exc) from None
        candidates.sort(key=cursor_of, reverse=wanted.newest_first)
        found: list[TurnInfo] = []
        while candidates and len(found) < wanted.limit:
            room = wanted.limit - len(found)
            batch, candidates = candidates[:room], candidates[room:]
            if results or wanted.status in (TurnStatus.FAILED, TurnStatus.CANCELLED):
                batch = list(await asyncio.gather(*(self._with_outcome(info) for info in batch)))
            found += [info for info in batch if wanted.has_status(info)]
        return found

    async def count_turns(self) -> int:
        """Visibility's count of turn workflows (eventually consistent, as its listings)."""
        try:
            counted = await self._client.count_workflows(f"WorkflowType = '{TURN_WORKFLOW}'")
        except RPCError as exc:
            raise _client_error("count turns", exc) from None
        return counted.count

    async def cancel_turn(self, session_id: str, turn_id: str) -> TurnInfo:
        """Signal the turn's ``cancel``: a parked wait publishes ``Cancelled``, a sleep ends, and
        the turn ends ``turn_cancelled`` (a signal, not Temporal's cancellation request, so every
        replay sees the cancel at the same point of the turn). An ended turn is left as it is."""
        handle = self._client.get_workflow_handle(turn_workflow_id(session_id, turn_id))
        try:
            await handle.signal("cancel")
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: never started, or ended
                raise _client_error("cancel turn", exc) from None
        info = await self.get_turn(session_id, turn_id)
        if info is None:
            raise turn_not_found(session_id, turn_id)
        return info

    # -- lifetime ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Waits parked on this host end with ``host_closed`` (the client is the caller's)."""
        self._closed.set()
        await asyncio.sleep(0)

    def __repr__(self) -> str:
        return f"<TemporalEffectHost {self._config.task_queue}>"


async def open_temporal_host(url: str, config: TemporalConfig | None = None) -> TemporalEffectHost:
    """``temporal://HOST:PORT?namespace=NS&task_queue=Q``; the signing secret from ``config`` or
    ``$EFFECTHOST_TEMPORAL_SECRET``."""
    address, options = parse_temporal_url(url)
    if config is None:
        config = TemporalConfig.from_env(**options)
    elif options:
        from dataclasses import replace

        config = replace(config, **options)  # type: ignore[arg-type]
    return await TemporalEffectHost.connect(address, config)


def parse_temporal_url(url: str) -> tuple[str, dict[str, str]]:
    """``temporal://HOST:PORT?namespace=NS&task_queue=Q``: the address and the options given."""
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme != "temporal" or not parts.netloc:
        raise EffectHostError(
            ErrorCode.HOST_URL_INVALID, f"not a Temporal URL (temporal://HOST:PORT?task_queue=Q): {url!r}"
        )
    query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
    return parts.netloc, {k: query[k] for k in ("namespace", "task_queue") if k in query}


async def sweep_blob_store(
    url: str,
    directory: str | os.PathLike[str] | None = None,
    *,
    grace_s: float = 86400.0,
    dry_run: bool = False,
) -> BlobSweep:
    """:func:`sweep_blobs` over the namespace of ``temporal://HOST:PORT?namespace=NS`` and the
    store in ``directory`` (default ``$EFFECTHOST_TEMPORAL_BLOBS``); no signing secret needed."""
    address, options = parse_temporal_url(url)
    directory = directory or os.environ.get(BLOBS_ENV, "")
    if not directory:
        raise EffectHostError(
            ErrorCode.INVALID_ARGUMENT, f"no blob store: pass its directory or set ${BLOBS_ENV}"
        )
    if not await asyncio.to_thread(Path(directory).is_dir):
        raise EffectHostError(
            ErrorCode.INVALID_ARGUMENT, f"the blob store {str(directory)!r} is not a directory"
        )
    try:
        client = await Client.connect(address, namespace=options.get("namespace", "default"))
    except Exception as exc:
        raise _client_error("connect", exc) from None
    return await sweep_blobs(client, FileBlobStore(directory), grace_s=grace_s, dry_run=dry_run)


def _failure_of(exc: WorkflowFailureError) -> EffectHostError:
    cause = exc.cause
    if isinstance(cause, CancelledError):
        return EffectHostError(ErrorCode.TURN_CANCELLED, "the turn was cancelled")
    if isinstance(cause, ApplicationError):
        return decode_failure(cause.message)
    return EffectHostError(ErrorCode.TURN_FAILED, str(cause or exc))


def _visibility_query(wanted: TurnFilter) -> str:
    """What of a listing's filter Temporal's visibility query can say: the workflow type, the
    session (a workflow id prefix), the execution status, the time range and the cursor's side
    (whole milliseconds, bounds the rows check exactly)."""
    terms = [f"WorkflowType = '{TURN_WORKFLOW}'"]
    if wanted.session_id is not None:
        terms.append(f"WorkflowId STARTS_WITH '{_quoted(turn_workflow_prefix(wanted.session_id))}'")
    if wanted.live:
        terms.append("ExecutionStatus = 'Running'")
    if wanted.status is not None:
        states = ", ".join(f"'{state}'" for state in _EXECUTION_STATES[wanted.status])
        terms.append(f"ExecutionStatus IN ({states})")
    low = [wanted.since_ms] if wanted.since_ms is not None else []
    high = [wanted.until_ms] if wanted.until_ms is not None else []
    if wanted.after is not None:
        (high if wanted.newest_first else low).append(wanted.after[0] + (1 if wanted.newest_first else 0))
    if low:
        terms.append(f"StartTime >= '{_rfc3339(max(low))}'")
    if high:
        terms.append(f"StartTime < '{_rfc3339(min(high))}'")
    return " AND ".join(terms)


#: Visibility's execution statuses a turn status can come from (a turn cancelled through
#: effecthost ends its workflow failed, with the turn_cancelled code).
_EXECUTION_STATES: dict[TurnStatus, tuple[str, ...]] = {
    TurnStatus.PENDING: ("Running",),
    TurnStatus.RUNNING: ("Running",),
    TurnStatus.WAITING: ("Running",),
    TurnStatus.SLEEPING: ("Running",),
    TurnStatus.COMPLETED: ("Completed",),
    TurnStatus.FAILED: ("Failed", "Terminated", "TimedOut"),
    TurnStatus.CANCELLED: ("Canceled", "Failed"),
}


def _may_have(wanted: TurnStatus | None, info: TurnInfo) -> bool:
    """Whether a listed turn can have the status asked for once its outcome is read."""
    if wanted is None or info.status is wanted:
        return True
    return wanted is TurnStatus.CANCELLED and info.status is TurnStatus.FAILED


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status_of(status: WorkflowExecutionStatus | None) -> TurnStatus:
    if status == WorkflowExecutionStatus.COMPLETED:
        return TurnStatus.COMPLETED
    if status == WorkflowExecutionStatus.CANCELED:
        return TurnStatus.CANCELLED
    if status in (
        WorkflowExecutionStatus.FAILED,
        WorkflowExecutionStatus.TERMINATED,
        WorkflowExecutionStatus.TIMED_OUT,
    ):
        return TurnStatus.FAILED
    return TurnStatus.RUNNING
