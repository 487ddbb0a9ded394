"""The deployment side: a host that talks to Restate's ingress and admin API, never runs effects.

It mints effecthost's signed v3 keys and resolves, peeks, awaits, cancels and revokes await events
through the session's index object; every key is authenticated (constant time) before Restate is
touched, so an altered token is refused without a request (no oracle: refused, unknown and revoked
keys answer the same). Resolves carry an idempotency key (a retried resolve is the same resolve).
Turns: ``start_turn`` submits the turn workflow's ``run`` (one invocation per session and turn,
idempotent by its key), ``turn_handle(..).result()`` attaches to it, ``cancel_turn`` cancels the
invocation, ``query_turns`` and ``get_turn`` read Restate's invocation and state tables (SQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import time
import urllib.parse
from typing import Any

import httpx

from effecthost import (
    AwaitEventKey,
    CancelToken,
    DurableTurn,
    EffectHostError,
    ErrorCode,
    JournalRetirement,
    Resolution,
    TurnInfo,
    TurnStatus,
)
from effecthost.engine import authenticate_await_event_key, canonical_dumps
from effecthost.store import JournalRow

from ..kit import (
    ENDED,
    DeploymentHost,
    HostTurnHandle,
    RefusingController,
    TurnFilter,
    offer_stop,
    settle_early_waits,
    terminal_of,
    turn_not_found,
    turn_request,
    turn_result_timeout,
    unknown_or_revoked,
)
from .config import (
    INDEX_SERVICE,
    TURN_SERVICE,
    WAIT_SERVICE,
    RestateConfig,
    index_key,
    session_index_key,
    turn_key,
    wait_key,
)
from .services import decode_terminal
from .timeline import JOURNAL_COLUMNS, turn_timeline

#: How long one ingress call may take before it is retried (a wait's long poll restarts).
_CALL_TIMEOUT_S = 30.0
#: Rows per listing query: a page whose name or status filter skips rows reads on in batches.
_LIST_BATCH = 200


class RestateTurnHandle(HostTurnHandle["RestateEffectHost"]):
    """A turn started on Restate: its info and its result, from any process."""

    __slots__ = ()


class RestateEffectHost(DeploymentHost):
    """The deployment-side host over ``ingress_url`` (and ``admin_url`` for cancel and list)."""

    engine = "restate"

    def __init__(self, ingress_url: str, admin_url: str, config: RestateConfig) -> None:
        super().__init__(
            RefusingController(
                ErrorCode.RESTATE_EFFECT_HOST_REQUIRES_HANDLER_SCOPE,
                "a Restate handler, through RestateController (a turn on the EffecthostTurn service does)",
            ),
            config.secret,
        )
        self._ingress = ingress_url.rstrip("/")
        self._admin = admin_url.rstrip("/")
        self._config = config
        self._client = httpx.AsyncClient(timeout=_CALL_TIMEOUT_S)

    # -- ingress --------------------------------------------------------------------------------

    async def _post(self, path: str, body: Any, *, idempotency_key: str | None = None) -> Any:
        headers = {"content-type": "application/json"}
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        try:
            response = await self._client.post(
                f"{self._ingress}/{path}",
                content=json.dumps(body).encode(),
                headers=headers,
            )
        except httpx.HTTPError as exc:
            raise EffectHostError(
                ErrorCode.RESTATE_INGRESS, f"POST {path}: {type(exc).__name__}: {exc}"
            ) from None
        if response.status_code >= 300:
            raise EffectHostError(
                ErrorCode.RESTATE_INGRESS, f"POST {path}: HTTP {response.status_code}: {response.text[:300]}"
            )
        return response.json() if response.content else None

    async def _long_poll(self, path: str) -> Any:
        """A wait's long poll on a client of its own: cancelling it closes its connection."""
        async with httpx.AsyncClient(timeout=_CALL_TIMEOUT_S) as client:
            try:
                response = await client.post(
                    f"{self._ingress}/{path}", content=b"null", headers={"content-type": "application/json"}
                )
            except httpx.HTTPError as exc:
                raise EffectHostError(ErrorCode.RESTATE_INGRESS, f"{path}: {type(exc).__name__}") from None
        if response.status_code >= 300:
            raise EffectHostError(ErrorCode.RESTATE_INGRESS, f"POST {path}: HTTP {response.status_code}")
        return response.json() if response.content else None

    def _index(self, key: str, handler: str) -> str:
        return f"{INDEX_SERVICE}/{urllib.parse.quote(key, safe='')}/{handler}"

    # -- await events -----------------------------------------------------------------------------

    # (minting, resolving and the session sweeps: DeploymentHost, through these three)

    async def _session_revoked(self, key: AwaitEventKey) -> bool:
        return bool(await self._post(self._index(index_key(key), "revoked"), None))

    async def _publish(self, key: AwaitEventKey, resolution: Any, stamp: dict[str, Any]) -> Any:
        """Through the session's index, idempotent by the key and the resolution (a retried
        resolve is the same resolve, whoever sends it again: the first stamp stays)."""
        body = {"wait": wait_key(key), "resolution": resolution, "stamp": stamp}
        digest = hashlib.sha256(canonical_dumps([key.key_id, resolution]).encode()).hexdigest()
        return await self._post(self._index(index_key(key), "resolve"), body, idempotency_key=digest)

    async def _session_call(self, session_id: str, call: str, stamp: dict[str, Any] | None = None) -> Any:
        body = None if stamp is None else {"stamp": stamp}
        return await self._post(self._index(session_index_key(session_id), call), body)

    async def wait_resolvers(self, session_id: str) -> dict[str, dict[str, Any]]:
        """The session index's ``resolvers`` state, read through the admin query API."""
        rows = await self._query(
            f"SELECT value_utf8 FROM state WHERE service_name = '{INDEX_SERVICE}'"
            f" AND service_key = '{_sql_text(session_index_key(session_id))}' AND key = 'resolvers'"
        )
        kept = _json_of(rows[0].get("value_utf8")) if rows else None
        return {k: v for k, v in kept.items() if isinstance(v, dict)} if isinstance(kept, dict) else {}

    async def _inspect(self, key: AwaitEventKey) -> dict[str, Any]:
        if not authenticate_await_event_key(self._config.secret, key):
            raise unknown_or_revoked()
        answer: dict[str, Any] = await self._post(
            self._index(index_key(key), "inspect"), {"wait": wait_key(key)}
        )
        if answer.get("status") == "revoked":
            raise unknown_or_revoked()
        return answer

    async def peek_await_event(self, key: AwaitEventKey) -> Resolution | None:
        answer = await self._inspect(key)
        terminal = answer.get("terminal")
        return None if terminal is None else Resolution.from_json(terminal)

    async def await_await_event(
        self, key: AwaitEventKey, cancel: CancelToken | None = None, deadline: float | None = None
    ) -> Resolution:
        """Wait outside a handler (a long poll on the wait's promise); a cancel or the deadline
        publishes ``Cancelled``/``Timeout`` first-writer-wins, then the standing terminal returns."""
        if not authenticate_await_event_key(self._config.secret, key):
            raise unknown_or_revoked()
        registered = await self._post(
            self._index(index_key(key), "register"), {"wait": wait_key(key), "token": key.to_token()}
        )
        if registered == "revoked":
            raise unknown_or_revoked()
        cancel = cancel or CancelToken()
        path = f"{WAIT_SERVICE}/{wait_key(key)}/wait"
        published = False  # once Cancelled/Timeout is offered, only the standing terminal matters
        while True:
            self._check_open()
            if not published:
                published = await offer_stop(self.resolve_await_event, key, cancel, deadline)
            poll = asyncio.ensure_future(self._long_poll(path))
            stops: set[asyncio.Future[Any]] = {poll, asyncio.ensure_future(self._closed.wait())}
            if not published:
                stops.add(asyncio.ensure_future(cancel.wait()))
            if deadline is not None and not published:
                stops.add(asyncio.ensure_future(asyncio.sleep(max(0.0, deadline - time.monotonic()))))
            try:
                await asyncio.wait(stops, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for other in stops - {poll}:
                    other.cancel()
            if poll.done():
                try:
                    return terminal_of(poll.result())
                except EffectHostError as err:
                    if err.code != ErrorCode.RESTATE_INGRESS or self._closed.is_set():
                        raise  # refused, or closed; a timed-out long poll polls again
                continue
            poll.cancel()
            with contextlib.suppress(BaseException):
                await poll

    async def retire_effect_journal(self, retirement: JournalRetirement) -> int:
        """Restate keeps a journal as long as its retention says (``journal_retention``); nothing
        is retired from here."""
        return 0

    # -- turns ------------------------------------------------------------------------------------

    def _turn_path(self, session_id: str, turn_id: str) -> str:
        return f"{TURN_SERVICE}/{urllib.parse.quote(turn_key(session_id, turn_id), safe='')}"

    async def start_turn(
        self,
        fn_or_name: DurableTurn[Any] | str,
        *,
        session_id: str,
        turn_id: str,
        input: dict[str, Any] | None = None,
    ) -> RestateTurnHandle:
        """Submit the turn (one invocation per session and turn: starting it again is a no-op)."""
        request = turn_request(fn_or_name, session_id, turn_id, input)
        await self._post(f"{self._turn_path(session_id, turn_id)}/run/send", request)
        return RestateTurnHandle(self, session_id, turn_id)

    def turn_handle(self, session_id: str, turn_id: str) -> RestateTurnHandle:
        return RestateTurnHandle(self, session_id, turn_id)

    async def turn_result(self, session_id: str, turn_id: str, timeout: float | None = None) -> Any:  # noqa: ASYNC109
        """Attach to the turn's invocation; its result, or its coded error raised."""
        key = urllib.parse.quote(turn_key(session_id, turn_id), safe="")
        url = f"{self._ingress}/restate/workflow/{TURN_SERVICE}/{key}/attach"
        try:
            response = await self._client.get(url, timeout=timeout if timeout is not None else None)
        except httpx.TimeoutException:
            raise turn_result_timeout(session_id, turn_id, timeout) from None
        except httpx.HTTPError as exc:
            raise EffectHostError(ErrorCode.RESTATE_INGRESS, f"attach: {type(exc).__name__}: {exc}") from None
        if response.status_code == 200:
            return response.json()
        if response.status_code == 404:
            raise turn_not_found(session_id, turn_id)
        raise decode_terminal(_failure_message(response))

    async def _query(self, sql: str) -> list[dict[str, Any]]:
        try:
            response = await self._client.post(
                f"{self._admin}/query", json={"query": sql}, headers={"accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise EffectHostError(ErrorCode.RESTATE_INGRESS, f"admin query: {exc}") from None
        if response.status_code >= 300:
            raise EffectHostError(
                ErrorCode.RESTATE_INGRESS, f"admin query: HTTP {response.status_code}: {response.text[:300]}"
            )
        rows: list[dict[str, Any]] = response.json().get("rows", [])
        return rows

    async def _invocations(self, where: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        return await self._query(
            "SELECT id, target_service_key, status, completion_result, completion_failure,"
            " created_at, modified_at, retry_count FROM sys_invocation"
            f" WHERE target_service_name = '{TURN_SERVICE}' AND target_handler_name = 'run'{where}"
            f" ORDER BY created_at LIMIT {int(limit)} OFFSET {int(offset)}"
        )

    async def _turn_rows(self, where: str, order: str, limit: int) -> list[dict[str, Any]]:
        """Turn invocations with what their workflow's state says (the turn, what it is parked
        on): one query, no call to the endpoint."""
        return await self._query(
            "SELECT i.id, i.target_service_key, i.status, i.completion_result, i.completion_failure,"
            " CAST(i.created_at AS BIGINT) AS created_ms, CAST(i.modified_at AS BIGINT) AS modified_ms,"
            " i.retry_count, t.value_utf8 AS turn, w.value_utf8 AS waiting FROM sys_invocation i"
            f" LEFT JOIN state t ON t.service_name = '{TURN_SERVICE}'"
            " AND t.service_key = i.target_service_key AND t.key = 'turn'"
            f" LEFT JOIN state w ON w.service_name = '{TURN_SERVICE}'"
            " AND w.service_key = i.target_service_key AND w.key = 'waiting'"
            f" WHERE i.target_service_name = '{TURN_SERVICE}' AND i.target_handler_name = 'run'{where}"
            f" ORDER BY i.created_at {order}, i.target_service_key {order} LIMIT {int(limit)}"
        )

    def _row_info(self, row: dict[str, Any]) -> TurnInfo | None:
        """The turn of a :meth:`_turn_rows` row; None until its endpoint has kept the turn in
        the workflow's state (its first step)."""
        turn = _json_of(row.get("turn"))
        if not isinstance(turn, dict):
            return None
        waiting = _json_of(row.get("waiting"))
        status, error = _status_of(row, waiting, "input" in turn), None
        if status in (TurnStatus.FAILED, TurnStatus.CANCELLED):
            error = decode_terminal(str(row.get("completion_failure") or ""))
            if error.code == ErrorCode.TURN_CANCELLED:
                status = TurnStatus.CANCELLED
        return TurnInfo(
            session_id=str(turn.get("session_id")),
            turn_id=str(turn.get("turn_id")),
            name=str(turn.get("name")),
            status=status,
            input=dict(turn.get("input") or {}),
            result=None,
            error=error,
            waiting=waiting if status in (TurnStatus.WAITING, TurnStatus.SLEEPING) else None,
            attempts=int(row.get("retry_count") or 0) + 1,
            resumes=0,
            cancel_requested=False,
            created_at_ms=int(row.get("created_ms") or 0),
            updated_at_ms=int(row.get("modified_ms") or 0),
            meta={"engine": "restate", "invocation_id": row.get("id")},
        )

    async def _with_results(self, infos: list[TurnInfo]) -> list[TurnInfo]:
        """Completed turns with their output (one ingress read each, side by side)."""

        async def filled(info: TurnInfo) -> TurnInfo:
            if info.status is not TurnStatus.COMPLETED:
                return info
            output = await self._output(turn_key(info.session_id, info.turn_id))
            return dataclasses.replace(info, result=output)

        return list(await asyncio.gather(*(filled(info) for info in infos)))

    async def _output(self, key: str) -> Any:
        url = f"{self._ingress}/restate/workflow/{TURN_SERVICE}/{urllib.parse.quote(key, safe='')}/output"
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            raise EffectHostError(ErrorCode.RESTATE_INGRESS, f"turn output: {exc}") from None
        return response.json() if response.status_code == 200 else None

    async def count_turns(self) -> int:
        rows = await self._query(
            "SELECT count(*) AS turns FROM sys_invocation"
            f" WHERE target_service_name = '{TURN_SERVICE}' AND target_handler_name = 'run'"
        )
        return int(rows[0].get("turns") or 0) if rows else 0

    async def get_turn(self, session_id: str, turn_id: str) -> TurnInfo | None:
        key = _sql_text(turn_key(session_id, turn_id))
        rows = await self._turn_rows(f" AND i.target_service_key = '{key}'", "ASC", 1)
        info = self._row_info(rows[0]) if rows else None
        return None if info is None else (await self._with_results([info]))[0]

    async def _find_turns(self, wanted: TurnFilter, *, results: bool) -> list[TurnInfo]:
        """Turns read from Restate's invocation and state tables, a batch per query: the
        session, the id searched for, the time range, whether the turn ended and the cursor go
        into the query; the name and the exact status (which the turn's state decides) are
        checked on each row. Turns with the same start millisecond come in the order of their
        invocation key."""
        where = _listing_where(wanted)
        order, before = ("DESC", "<") if wanted.newest_first else ("ASC", ">")
        position = None if wanted.after is None else (wanted.after[0], turn_key(*wanted.after[1:]))
        found: list[TurnInfo] = []
        while len(found) < wanted.limit:
            keyset = ""
            if position is not None:
                at, key = f"to_timestamp_millis({int(position[0])})", _sql_text(position[1])
                keyset = (
                    f" AND (i.created_at {before} {at} OR"
                    f" (i.created_at = {at} AND i.target_service_key {before} '{key}'))"
                )
            rows = await self._turn_rows(where + keyset, order, _LIST_BATCH)
            for row in rows:
                info = self._row_info(row)
                if info is not None and wanted.admits(info) and wanted.has_status(info):
                    found.append(info)
            if len(rows) < _LIST_BATCH:
                break
            last = rows[-1]
            position = (int(last.get("created_ms") or 0), str(last.get("target_service_key")))
        found = found[: wanted.limit]
        return await self._with_results(found) if results else found

    async def list_turn_effects(self, session_id: str, turn_id: str) -> list[JournalRow]:
        """The turn's effects in run order, read from its invocation's journal (``sys_journal``):
        envelope, hash, outcome or error as the SQL hosts list them; ``turn_not_found`` for a turn
        never started. Restate keeps an ended invocation's journal for its journal retention
        (a day by default); after that the list is empty."""
        key = turn_key(session_id, turn_id).replace("'", "''")
        rows = await self._invocations(f" AND target_service_key = '{key}'", limit=1)
        if not rows:
            raise turn_not_found(session_id, turn_id)
        invocation = str(rows[0]["id"]).replace("'", "''")
        journal = await self._query(
            f"SELECT {JOURNAL_COLUMNS} FROM sys_journal WHERE id = '{invocation}' ORDER BY index"
        )
        ended = str(rows[0].get("status", "")) == "completed"
        timeline = turn_timeline(session_id, turn_id, journal, ended=ended, ms=_ms)
        await settle_early_waits(timeline, self._wait_terminal)
        return timeline

    async def _wait_terminal(self, key: AwaitEventKey) -> Any:
        """A wait's terminal as its index answers it (the revoked tombstone for a revoked one)."""
        answer = await self._post(self._index(index_key(key), "inspect"), {"wait": wait_key(key)})
        if not isinstance(answer, dict):
            return None
        return {"revoked": True} if answer.get("status") == "revoked" else answer.get("terminal")

    async def cancel_turn(self, session_id: str, turn_id: str) -> TurnInfo:
        """Cancel the turn's invocation: Restate delivers it at the handler's next await point; a
        parked wait publishes ``Cancelled`` and the turn ends ``turn_cancelled``."""
        key = turn_key(session_id, turn_id).replace("'", "''")
        rows = await self._invocations(f" AND target_service_key = '{key}'", limit=1)
        if not rows:
            raise turn_not_found(session_id, turn_id)
        invocation = urllib.parse.quote(str(rows[0]["id"]), safe="")
        try:
            response = await self._client.patch(f"{self._admin}/invocations/{invocation}/cancel")
        except httpx.HTTPError as exc:
            raise EffectHostError(ErrorCode.RESTATE_INGRESS, f"cancel: {exc}") from None
        if response.status_code >= 300 and response.status_code != 409:
            raise EffectHostError(
                ErrorCode.RESTATE_INGRESS, f"cancel: HTTP {response.status_code}: {response.text[:300]}"
            )
        info = await self.get_turn(session_id, turn_id)
        assert info is not None
        return info

    # -- lifetime ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the HTTP client; waits parked on this host end with ``host_closed``."""
        if self._closed.is_set():
            return
        self._closed.set()
        await asyncio.sleep(0)  # parked waits see the close before the client goes
        await self._client.aclose()

    def __repr__(self) -> str:
        return f"<RestateEffectHost {self._ingress}>"


def open_restate_host(url: str, config: RestateConfig | None = None) -> RestateEffectHost:
    """``restate://HOST:INGRESS_PORT?admin=HOST:ADMIN_PORT`` (``restate+https://`` for TLS); the
    signing secret from ``config`` or ``$EFFECTHOST_RESTATE_SECRET``."""
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("restate", "restate+http", "restate+https") or not parts.netloc:
        raise EffectHostError(
            ErrorCode.HOST_URL_INVALID, f"not a Restate URL (restate://HOST:PORT?admin=HOST:PORT): {url!r}"
        )
    http = "https" if parts.scheme.endswith("https") else "http"
    query = urllib.parse.parse_qs(parts.query)
    admin = query.get("admin", [f"{parts.hostname}:9070"])[0]
    return RestateEffectHost(
        f"{http}://{parts.netloc}", f"{http}://{admin}", config or RestateConfig.from_env()
    )


def _listing_where(wanted: TurnFilter) -> str:
    """What of a listing's filter Restate's SQL can check: the session (its keys' prefix), the
    id searched for (a session's prefix or a turn's suffix; the row check is exact), whether
    the turn ended (its invocation completed) and the time range."""
    where = ""
    if wanted.session_id is not None:
        where += f" AND starts_with(i.target_service_key, '{_sql_text(_session_prefix(wanted.session_id))}')"
    if wanted.search is not None:
        prefix, suffix = _sql_text(_session_prefix(wanted.search)), _sql_text("/" + wanted.search)
        where += (
            f" AND (starts_with(i.target_service_key, '{prefix}')"
            f" OR ends_with(i.target_service_key, '{suffix}'))"
        )
    if wanted.live or wanted.status not in (None, *ENDED):
        where += " AND i.status <> 'completed'"
    elif wanted.status is not None:
        where += " AND i.status = 'completed'"
    if wanted.since_ms is not None:
        where += f" AND i.created_at >= to_timestamp_millis({int(wanted.since_ms)})"
    if wanted.until_ms is not None:
        where += f" AND i.created_at < to_timestamp_millis({int(wanted.until_ms)})"
    return where


def _session_prefix(session_id: str) -> str:
    return f"{len(session_id)}:{session_id}/"


def _sql_text(text: str) -> str:
    """A string for inside a SQL literal ('' for ')."""
    return text.replace("'", "''")


def _json_of(value: Any) -> Any:
    """A state value as the SDK's JSON serde wrote it (None when absent or unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _failure_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    return str(body.get("message", "")) if isinstance(body, dict) else str(body)


def _status_of(row: dict[str, Any], waiting: Any, kept: bool) -> TurnStatus:
    """The turn's status from its invocation's and, while it is under way (running, suspended,
    backing off), from what the turn workflow's state says it is parked on. ``kept``: the state
    has this shape (a turn started before it was kept reports a suspension as waiting)."""
    status = str(row.get("status", ""))
    if status == "completed":
        return TurnStatus.COMPLETED if row.get("completion_result") == "success" else TurnStatus.FAILED
    if status in ("pending", "scheduled", "inboxed"):
        return TurnStatus.PENDING
    if isinstance(waiting, dict):
        return TurnStatus.SLEEPING if waiting.get("kind") == "sleep" else TurnStatus.WAITING
    if status == "suspended" and not kept:
        return TurnStatus.WAITING
    return TurnStatus.RUNNING


def _ms(value: Any) -> int:
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value:
        from datetime import datetime

        with contextlib.suppress(ValueError):
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    return 0
