"""A complete third-party substrate: the journal and the await events in plain dicts.

Written against ``effecthost.store`` alone, as a backend for a new database would be: the atoms
below are each atomic (no ``await`` inside them), which is what a real store gets from a
transaction. ``register()`` makes ``open_host("dict://NAME")`` open it; docs/writing-a-host.md walks
through it, and examples/test_dict_store.py proves it with the conformance kit.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from effecthost import Clock, EffectHostError, ErrorCode
from effecthost.store import (
    Capabilities,
    ClaimRequest,
    Decision,
    Insert,
    Inspection,
    JournalRow,
    LeaseFence,
    PendingPromise,
    PromiseIdentity,
    SchemeSpec,
    ScopeSummary,
    SessionSummary,
    Status,
    StoreResult,
    Substrate,
    TakeOver,
    WakeHub,
    decide_claim,
    register_scheme,
)


class DictJournal:
    """JournalStore, JournalBrowser and LeaseHooks over one dict of rows."""

    def __init__(self, rows: dict[tuple[str, str], JournalRow], clock: Clock) -> None:
        self._rows = rows
        self._clock = clock

    @property
    def backend(self) -> str:
        return "dict"  # error codes read dict_effect_replay_*

    def now_ms(self) -> int:
        return self._clock.now_ms()

    async def claim(self, request: ClaimRequest) -> Decision:
        key = (request.scope_key, request.replay_key)
        decision, write = decide_claim(self._rows.get(key), request, self.now_ms())
        if isinstance(write, Insert):
            self._rows[key] = write.row
        elif isinstance(write, TakeOver):
            self._rows[key] = dataclasses.replace(
                self._rows[key], lease_owner=write.owner, lease_token=write.token,
                lease_expires_at_ms=write.lease_expires_at_ms, due_at_ms=write.due_at_ms,
                updated_at_ms=write.updated_at_ms,
            )  # fmt: skip
        return decision

    async def preload(self, scope_key: str) -> list[JournalRow]:
        return [r for (s, _), r in self._rows.items() if s == scope_key and r.status != "in_progress"]

    def _fenced(self, fence: LeaseFence) -> JournalRow | None:
        row = self._rows.get((fence.scope_key, fence.replay_key))
        live = row is not None and row.status == "in_progress" and row.lease_expires_at_ms > self.now_ms()
        if not live or row is None:
            return None
        held = (row.envelope_hash, row.lease_owner, row.lease_token)
        return row if held == (fence.envelope_hash, fence.owner, fence.token) else None

    async def renew(self, fence: LeaseFence, ttl_ms: int) -> bool:
        row = self._fenced(fence)
        if row is not None:
            now = self.now_ms()
            self._rows[(fence.scope_key, fence.replay_key)] = dataclasses.replace(
                row, lease_expires_at_ms=now + ttl_ms, updated_at_ms=now
            )
        return row is not None

    async def finalize(
        self, fence: LeaseFence, status: Status, outcome_json: str | None, error_json: str | None,
        *, canonical: bool = False,
    ) -> bool:  # fmt: skip
        row = self._fenced(fence)
        if row is not None:
            self._rows[(fence.scope_key, fence.replay_key)] = dataclasses.replace(
                row, status=status, outcome_json=outcome_json, error_json=error_json, lease_owner=None,
                lease_token=None, lease_expires_at_ms=0, updated_at_ms=self.now_ms(),
            )  # fmt: skip
        return row is not None

    async def release(self, fence: LeaseFence) -> bool:
        found = self._fenced(fence) is not None
        if found:
            del self._rows[(fence.scope_key, fence.replay_key)]
        return found

    # ---- JournalBrowser ----------------------------------------------------------------------

    async def list_sessions(
        self, limit: int = 100, offset: int = 0, *, after: tuple[int, str] | None = None
    ) -> list[SessionSummary]:
        sessions = {r.session_id for r in self._rows.values() if r.session_id is not None}
        summaries = [_session(s, [r for r in self._rows.values() if r.session_id == s]) for s in sessions]
        if after is not None:  # keyset: after (last_at_ms DESC, session_id)
            summaries = [s for s in summaries if (-s.last_at_ms, s.session_id) > (-after[0], after[1])]
        summaries.sort(key=lambda s: (-s.last_at_ms, s.session_id))
        return summaries[offset : offset + limit]

    async def list_scopes(self, session_id: str | None) -> list[ScopeSummary]:
        scopes = {r.scope_key for r in self._rows.values() if r.session_id == session_id}
        return sorted(
            (_scope(k, session_id, [r for r in self._rows.values() if r.scope_key == k]) for k in scopes),
            key=lambda s: (s.first_at_ms, s.scope_key),
        )

    async def list_effects(
        self,
        scope_key: str,
        limit: int | None = None,
        offset: int = 0,
        *,
        after: tuple[int, int, str] | None = None,
    ) -> list[JournalRow]:
        # this store does not number rows (seq 0): run order is (created_at_ms, replay_key)
        rows = sorted((r for r in self._rows.values() if r.scope_key == scope_key
                       and (after is None or (r.seq, r.created_at_ms, r.replay_key) > after)),
                      key=lambda r: (r.created_at_ms, r.replay_key))  # fmt: skip
        return rows[offset:] if limit is None else rows[offset : offset + limit]

    async def get_row(self, scope_key: str, replay_key: str) -> JournalRow | None:
        return self._rows.get((scope_key, replay_key))

    async def retire_session(self, session_id: str) -> int:
        return self._delete(lambda r: r.session_id == session_id)

    async def retire_scope(self, scope_key: str) -> int:
        return self._delete(lambda r: r.scope_key == scope_key)

    def _delete(self, doomed: Any) -> int:
        keys = [k for k, r in self._rows.items() if doomed(r)]
        for key in keys:
            del self._rows[key]
        return len(keys)

    # ---- LeaseHooks (the lease-fencing vectors of the conformance kit) -----------------------

    async def steal_lease(self, scope_key: str, replay_key: str) -> None:
        row = self._rows[(scope_key, replay_key)]
        self._rows[(scope_key, replay_key)] = dataclasses.replace(
            row, lease_owner="thief", lease_token="thief", lease_expires_at_ms=self.now_ms() + 10_000
        )

    async def expire_lease(self, scope_key: str, replay_key: str) -> None:
        row = self._rows[(scope_key, replay_key)]
        self._rows[(scope_key, replay_key)] = dataclasses.replace(row, lease_expires_at_ms=0)


def _session(session_id: str, rows: list[JournalRow]) -> SessionSummary:
    return SessionSummary(
        session_id, len({r.scope_key for r in rows}), len(rows), sum(r.status == "in_progress" for r in rows),
        sum(r.status == "failed" for r in rows), min(r.created_at_ms for r in rows),
        max(r.updated_at_ms for r in rows),
    )  # fmt: skip


def _scope(scope_key: str, session_id: str | None, rows: list[JournalRow]) -> ScopeSummary:
    return ScopeSummary(
        scope_key, session_id, len(rows), sum(r.status == "in_progress" for r in rows),
        sum(r.status == "failed" for r in rows), min(r.created_at_ms for r in rows),
        max(r.updated_at_ms for r in rows),
    )  # fmt: skip


@dataclasses.dataclass
class _Promise:
    identity: PromiseIdentity
    terminal_json: str | None = None


class DictAwaits:
    """AwaitStore: the first-writer-wins promise table, a secret, and a WakeHub to wake waiters."""

    def __init__(self) -> None:
        self._secret = os.urandom(32)
        self._promises: dict[str, _Promise] = {}
        self._revoked: set[str] = set()
        self._hub = WakeHub()

    @property
    def hub(self) -> WakeHub:
        return self._hub

    async def signing_secret(self) -> bytes:
        return self._secret

    async def is_revoked(self, session_id: str) -> bool:
        return session_id in self._revoked

    def _refused(self, identity: PromiseIdentity) -> bool:
        return identity.session_id in self._revoked

    async def ensure_pending(self, key_id: str, identity: PromiseIdentity) -> bool:
        if self._refused(identity):
            return False
        promise = self._promises.setdefault(key_id, _Promise(identity))
        return promise.identity == identity

    async def store_terminal(
        self, key_id: str, identity: PromiseIdentity, terminal_json: str
    ) -> tuple[StoreResult, str | None]:
        promise = self._promises.get(key_id)
        if self._refused(identity) or (promise is not None and promise.identity != identity):
            return StoreResult.UNKNOWN_OR_REVOKED, None
        if promise is not None and promise.terminal_json is not None:
            return StoreResult.ALREADY_RESOLVED, promise.terminal_json
        self._promises[key_id] = _Promise(identity, terminal_json)
        self._hub.notify_key(key_id)  # after the write: a woken waiter reads what is stored
        return StoreResult.STORED, None

    async def inspect(self, key_id: str, identity: PromiseIdentity) -> tuple[Inspection, str | None]:
        promise = self._promises.get(key_id)
        if self._refused(identity) or (promise is not None and promise.identity != identity):
            return Inspection.UNKNOWN_OR_REVOKED, None
        if promise is None:
            return Inspection.MISSING, None
        if promise.terminal_json is None:
            return Inspection.PENDING, None
        return Inspection.RESOLVED, promise.terminal_json

    async def revoke_session(self, session_id: str) -> None:
        self._revoked.add(session_id)
        for key_id in [k for k, p in self._promises.items() if p.identity.session_id == session_id]:
            del self._promises[key_id]
        self._hub.notify_session(session_id)

    async def cancel_session(self, session_id: str, cancelled_json: str) -> int:
        swept = [k for k, p in self._promises.items() if p.identity.session_id == session_id
                 and p.terminal_json is None and not p.identity.turn_control]  # fmt: skip
        for key_id in swept:
            self._promises[key_id].terminal_json = cancelled_json
            self._hub.notify_key(key_id)
        return len(swept)

    async def pending_for_session(self, session_id: str) -> list[PendingPromise]:
        return [
            PendingPromise(key_id, p.identity.scope_json, p.identity.wait_json)
            for key_id, p in self._promises.items()
            if p.identity.session_id == session_id and p.terminal_json is None
        ]


_SHARED: dict[str, tuple[dict[tuple[str, str], JournalRow], DictAwaits]] = {}


async def open_dict_substrate(url: str, *, clock: Clock, options: dict[str, Any]) -> Substrate:
    """``dict://NAME``: hosts opened on one name in this process share its rows and promises."""
    name = url.split("://", 1)[1]
    if not name or options:
        raise EffectHostError(ErrorCode.HOST_URL_INVALID, "dict URLs look like dict://NAME, no options")
    rows, awaits = _SHARED.setdefault(name, ({}, DictAwaits()))
    journal = DictJournal(rows, clock)  # each host reads the shared rows with its own clock

    async def close() -> None:
        return None  # the rows outlive the host: another host on the name replays them

    return Substrate(journal=journal, browser=journal, awaits=awaits, close=close,
                     capabilities=Capabilities(), lease_hooks=journal)  # fmt: skip


def register() -> None:
    register_scheme("dict", SchemeSpec(open=open_dict_substrate))
