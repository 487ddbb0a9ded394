"""The in-process substrate: the journal and await-event tables as Python dicts.

Operations are synchronous bodies inside async methods, so each is atomic with respect to the
event loop — the same guarantee a substrate's transaction gives. ``memory://NAME`` hosts in one
process share a substrate by name, which is how cold replay and cross-host resolve are tested.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import threading
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from ..awaits.hub import WakeHub
from ..awaits.store import (
    RESOLVED_BY,
    AwaitRecord,
    Inspection,
    PendingPromise,
    PromiseIdentity,
    StoreResult,
)
from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.errors import EffectHostError, ErrorCode
from ..journal.decisions import decide_claim
from ..journal.model import (
    ClaimRequest,
    Decision,
    Insert,
    JournalRow,
    LeaseFence,
    ScopeSummary,
    SessionSummary,
    Status,
    TakeOver,
)
from .base import SchemeSpec, Substrate
from .memory_turns import MemoryTurnStore

P = ParamSpec("P")
T = TypeVar("T")


def _atomic(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Run a store operation under the substrate's lock. The bodies never suspend, so the lock is
    never held across an await; it only matters when hosts on other threads share the substrate."""

    @functools.wraps(method)
    async def locked(*args: P.args, **kwargs: P.kwargs) -> T:
        with args[0]._lock:  # type: ignore[attr-defined]
            return await method(*args, **kwargs)

    return locked


@dataclasses.dataclass
class _Promise:
    identity: PromiseIdentity
    terminal_json: str | None
    created_at_ms: int = 0
    resolved_at_ms: int | None = None
    resolved_by: str | None = None

    def resolve(self, terminal_json: str) -> None:
        self.terminal_json = terminal_json
        self.resolved_at_ms = _now_ms()
        self.resolved_by = RESOLVED_BY.get()


def _now_ms() -> int:
    return SYSTEM_CLOCK.now_ms()


class MemoryAwaitStore:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else os.urandom(32)
        self._promises: dict[str, _Promise] = {}
        self._revoked: set[str] = set()
        self._hub = WakeHub()
        self._lock = threading.RLock()

    @property
    def hub(self) -> WakeHub:
        return self._hub

    async def signing_secret(self) -> bytes:
        return self._secret

    async def is_revoked(self, session_id: str) -> bool:
        return session_id in self._revoked

    def _revoked_for(self, identity: PromiseIdentity) -> bool:
        return identity.session_id is not None and identity.session_id in self._revoked

    @_atomic
    async def ensure_pending(self, key_id: str, identity: PromiseIdentity) -> bool:
        if self._revoked_for(identity):
            return False
        row = self._promises.get(key_id)
        if row is not None:
            return row.identity == identity
        self._promises[key_id] = _Promise(identity, None, _now_ms())
        return True

    @_atomic
    async def store_terminal(
        self, key_id: str, identity: PromiseIdentity, terminal_json: str
    ) -> tuple[StoreResult, str | None]:
        if self._revoked_for(identity):
            return StoreResult.UNKNOWN_OR_REVOKED, None
        row = self._promises.get(key_id)
        if row is None:
            row = self._promises[key_id] = _Promise(identity, None, _now_ms())
            row.resolve(terminal_json)
        elif row.identity != identity:
            return StoreResult.UNKNOWN_OR_REVOKED, None
        elif row.terminal_json is not None:
            return StoreResult.ALREADY_RESOLVED, row.terminal_json
        else:
            row.resolve(terminal_json)
        self._hub.notify_key(key_id)
        return StoreResult.STORED, None

    @_atomic
    async def inspect(self, key_id: str, identity: PromiseIdentity) -> tuple[Inspection, str | None]:
        row = self._promises.get(key_id)  # looked up even when revoked: refusals cost the same
        if self._revoked_for(identity):
            return Inspection.UNKNOWN_OR_REVOKED, None
        if row is None:
            return Inspection.MISSING, None
        if row.identity != identity:
            return Inspection.UNKNOWN_OR_REVOKED, None
        if row.terminal_json is None:
            return Inspection.PENDING, None
        return Inspection.RESOLVED, row.terminal_json

    @_atomic
    async def revoke_session(self, session_id: str) -> None:
        self._revoked.add(session_id)
        for key_id in [k for k, p in self._promises.items() if p.identity.session_id == session_id]:
            del self._promises[key_id]
        self._hub.notify_session(session_id)

    @_atomic
    async def cancel_session(self, session_id: str, cancelled_json: str) -> int:
        swept = [
            key_id
            for key_id, p in self._promises.items()
            if p.identity.session_id == session_id and p.terminal_json is None and not p.identity.turn_control
        ]
        for key_id in swept:
            self._promises[key_id].resolve(cancelled_json)
            self._hub.notify_key(key_id)
        return len(swept)

    @_atomic
    async def pending_for_session(self, session_id: str) -> list[PendingPromise]:
        return [
            PendingPromise(key_id, p.identity.scope_json, p.identity.wait_json)
            for key_id, p in self._promises.items()
            if p.identity.session_id == session_id and p.terminal_json is None
        ]

    @_atomic
    async def list_records(
        self, session_id: str | None, pending: bool, limit: int, after: tuple[int, str] | None
    ) -> list[AwaitRecord]:
        found = [
            AwaitRecord(
                key_id, p.identity.scope_json, p.identity.wait_json, p.identity.session_id,
                p.identity.turn_control, p.terminal_json, p.created_at_ms, p.resolved_at_ms,
                p.resolved_by,
            )
            for key_id, p in self._promises.items()
            if (session_id is None or p.identity.session_id == session_id)
            and (not pending or p.terminal_json is None)
            and (after is None or (p.created_at_ms, key_id) > after)
        ]
        found.sort(key=lambda r: (r.created_at_ms, r.key_id))
        return found[:limit]


class MemoryJournalStore:
    """One host's view of a memory substrate's journal: the rows are shared, the clock is the host's."""

    def __init__(
        self,
        clock: Clock = SYSTEM_CLOCK,
        rows: dict[tuple[str, str], JournalRow] | None = None,
        lock: threading.RLock | None = None,
        seqs: dict[str, int] | None = None,
    ) -> None:
        self._rows: dict[tuple[str, str], JournalRow] = rows if rows is not None else {}
        #: Each scope's last run order given (rows keep theirs when a scope is retired).
        self._seqs: dict[str, int] = seqs if seqs is not None else {}
        self._clock = clock
        self._lock = lock or threading.RLock()

    @property
    def backend(self) -> str:
        return "memory"

    def now_ms(self) -> int:
        return self._clock.now_ms()

    @_atomic
    async def claim(self, request: ClaimRequest) -> Decision:
        key = (request.scope_key, request.replay_key)
        decision, write = decide_claim(self._rows.get(key), request, self.now_ms())
        if isinstance(write, Insert):
            seq = self._seqs.get(request.scope_key, 0) + 1
            self._seqs[request.scope_key] = seq
            write.row.seq = seq  # the row is new, made for this insert alone
            self._rows[key] = write.row
        elif isinstance(write, TakeOver):
            self._rows[key] = dataclasses.replace(
                self._rows[key],
                lease_owner=write.owner,
                lease_token=write.token,
                lease_expires_at_ms=write.lease_expires_at_ms,
                due_at_ms=write.due_at_ms,
                updated_at_ms=write.updated_at_ms,
            )
        return decision

    @_atomic
    async def preload(self, scope_key: str) -> list[JournalRow]:
        return [r for (s, _), r in self._rows.items() if s == scope_key and r.status != "in_progress"]

    def _fenced(self, fence: LeaseFence) -> JournalRow | None:
        row = self._rows.get((fence.scope_key, fence.replay_key))
        if (
            row is None
            or row.status != "in_progress"
            or row.envelope_hash != fence.envelope_hash
            or row.lease_owner != fence.owner
            or row.lease_token != fence.token
            or row.lease_expires_at_ms <= self.now_ms()
        ):
            return None
        return row

    @_atomic
    async def renew(self, fence: LeaseFence, ttl_ms: int) -> bool:
        row = self._fenced(fence)
        if row is None:
            return False
        now = self.now_ms()
        self._rows[(fence.scope_key, fence.replay_key)] = dataclasses.replace(
            row, lease_expires_at_ms=now + ttl_ms, updated_at_ms=now
        )
        return True

    @_atomic
    async def finalize(
        self,
        fence: LeaseFence,
        status: Status,
        outcome_json: str | None,
        error_json: str | None,
        *,
        canonical: bool = False,  # texts are stored as given; nothing here parses them
    ) -> bool:
        row = self._fenced(fence)
        if row is None:
            return False
        self._rows[(fence.scope_key, fence.replay_key)] = dataclasses.replace(
            row,
            status=status,
            outcome_json=outcome_json,
            error_json=error_json,
            lease_owner=None,
            lease_token=None,
            lease_expires_at_ms=0,
            updated_at_ms=self.now_ms(),
        )
        return True

    @_atomic
    async def release(self, fence: LeaseFence) -> bool:
        if self._fenced(fence) is None:
            return False
        del self._rows[(fence.scope_key, fence.replay_key)]
        return True

    @_atomic
    async def retire_session(self, session_id: str) -> int:
        doomed = [k for k, r in self._rows.items() if r.session_id == session_id]
        for key in doomed:
            del self._rows[key]
        return len(doomed)

    @_atomic
    async def retire_scope(self, scope_key: str) -> int:
        doomed = [k for k in self._rows if k[0] == scope_key]
        for key in doomed:
            del self._rows[key]
        return len(doomed)

    async def list_sessions(
        self, limit: int = 100, offset: int = 0, *, after: tuple[int, str] | None = None
    ) -> list[SessionSummary]:
        groups: dict[str, list[JournalRow]] = {}
        for row in self._rows.values():
            if row.session_id is not None:
                groups.setdefault(row.session_id, []).append(row)
        out = [
            SessionSummary(
                session_id=sid,
                scopes=len({r.scope_key for r in rows}),
                effects=len(rows),
                in_progress=sum(r.status == "in_progress" for r in rows),
                failed=sum(r.status == "failed" for r in rows),
                first_at_ms=min(r.created_at_ms for r in rows),
                last_at_ms=max(r.updated_at_ms for r in rows),
            )
            for sid, rows in groups.items()
        ]
        out.sort(key=lambda s: (-s.last_at_ms, s.session_id))
        if after is not None:
            out = [s for s in out if (-s.last_at_ms, s.session_id) > (-after[0], after[1])]
        return out[offset : offset + limit]

    async def list_scopes(self, session_id: str | None) -> list[ScopeSummary]:
        groups: dict[str, list[JournalRow]] = {}
        for row in self._rows.values():
            if row.session_id == session_id:
                groups.setdefault(row.scope_key, []).append(row)
        out = [
            ScopeSummary(
                scope_key=key,
                session_id=session_id,
                effects=len(rows),
                in_progress=sum(r.status == "in_progress" for r in rows),
                failed=sum(r.status == "failed" for r in rows),
                first_at_ms=min(r.created_at_ms for r in rows),
                last_at_ms=max(r.updated_at_ms for r in rows),
            )
            for key, rows in groups.items()
        ]
        out.sort(key=lambda s: (s.first_at_ms, s.scope_key))
        return out

    async def list_effects(
        self,
        scope_key: str,
        limit: int | None = None,
        offset: int = 0,
        *,
        after: tuple[int, int, str] | None = None,
    ) -> list[JournalRow]:
        rows = [r for (s, _), r in self._rows.items() if s == scope_key]
        if after is not None:
            rows = [r for r in rows if (r.seq, r.created_at_ms, r.replay_key) > after]
        rows.sort(key=lambda r: (r.seq, r.created_at_ms, r.replay_key))
        return rows[offset:] if limit is None else rows[offset : offset + limit]

    async def get_row(self, scope_key: str, replay_key: str) -> JournalRow | None:
        return self._rows.get((scope_key, replay_key))

    # LeaseHooks: the raw row updates the lease-fencing vectors need (spec 6.1)
    @_atomic
    async def steal_lease(self, scope_key: str, replay_key: str) -> None:
        row = self._rows[(scope_key, replay_key)]
        self._rows[(scope_key, replay_key)] = dataclasses.replace(
            row,
            lease_owner="stolen-owner",
            lease_token="stolen-token",
            lease_expires_at_ms=self.now_ms() + 10_000,
        )

    @_atomic
    async def expire_lease(self, scope_key: str, replay_key: str) -> None:
        row = self._rows[(scope_key, replay_key)]
        self._rows[(scope_key, replay_key)] = dataclasses.replace(row, lease_expires_at_ms=0)


class MemorySubstrate:
    """One named in-process substrate: journal rows and an await store with one secret, shared by
    every host opened on ``memory://NAME`` in this process; each host reads it with its own clock."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows: dict[tuple[str, str], JournalRow] = {}
        self.seqs: dict[str, int] = {}
        self.lock = threading.RLock()
        self.awaits = MemoryAwaitStore()
        self.turns = MemoryTurnStore(self.awaits.hub, self.lock)

    def journal(self, clock: Clock) -> MemoryJournalStore:
        return MemoryJournalStore(clock, self.rows, self.lock, self.seqs)


_SUBSTRATES: weakref.WeakValueDictionary[str, MemorySubstrate] = weakref.WeakValueDictionary()


def named_substrate(name: str) -> MemorySubstrate:
    """The live substrate called ``name`` (kept alive by the hosts that use it)."""
    substrate = _SUBSTRATES.get(name)
    if substrate is None:
        substrate = MemorySubstrate(name)
        _SUBSTRATES[name] = substrate
    return substrate


async def open_memory_substrate(url: str, *, clock: Clock, options: dict[str, Any]) -> Substrate:
    """``memory://NAME``: this process's substrate called NAME, seen with ``clock``."""
    name = url.split("://", 1)[1]
    if not name:
        raise EffectHostError(ErrorCode.HOST_URL_INVALID, "memory URLs need a name: memory://NAME")
    if options:
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID, f"unknown memory host option(s): {', '.join(sorted(options))}"
        )
    shared = named_substrate(name)
    journal = shared.journal(clock)

    async def close() -> None:
        shared.name  # noqa: B018 - the closure keeps the named substrate alive while a host uses it

    return Substrate(
        journal=journal,
        browser=journal,
        awaits=shared.awaits,
        turns=shared.turns,
        close=close,
        lease_hooks=journal,
    )


SCHEME = SchemeSpec(open=open_memory_substrate)
