"""The journal half of a substrate, as two Protocols: the atoms the driver needs, and browsing.

A store does I/O only. Inside ONE short write transaction its ``claim`` reads the row for
``(scope_key, replay_key)``, asks :func:`.decisions.decide_claim` what to do (a pure function),
applies the write the decision names (insert or take over), commits, and returns the decision.
Everything else (waiting, running the executor, renewing, finalizing, diagnostics) lives in the
driver, written once. Browsing (the operator's reads and retirement) is a separate Protocol: a
driver never needs it, and a store for another engine may serve it from elsewhere.
"""

from __future__ import annotations

from typing import Protocol

from .model import ClaimRequest, Decision, JournalRow, LeaseFence, ScopeSummary, SessionSummary, Status


class JournalStore(Protocol):
    """The atoms of replay. ``backend`` prefixes codes: ``{backend}_effect_replay_*``."""

    @property
    def backend(self) -> str: ...

    def now_ms(self) -> int:
        """The store's lease clock as seen by this process (the database may use its own)."""
        ...

    async def claim(self, request: ClaimRequest) -> Decision:
        """One write transaction: read row, ``decide_claim``, apply its write, commit."""
        ...

    async def preload(self, scope_key: str) -> list[JournalRow]:
        """The scope's completed and failed rows from a plain read (they never change again), so a
        re-drive replays without a store round trip per effect. ``envelope_json`` may be "" in
        them: the driver reads a row again when it must explain a conflict."""
        ...

    async def renew(self, fence: LeaseFence, ttl_ms: int) -> bool:
        """Extend a live lease to ``now + ttl``; False when the fence no longer matches (lease lost)."""
        ...

    async def finalize(
        self,
        fence: LeaseFence,
        status: Status,
        outcome_json: str | None,
        error_json: str | None,
        *,
        canonical: bool = False,
    ) -> bool:
        """Fenced write of the outcome or error; False when the lease was lost or expired.

        ``canonical``: the caller wrote the texts with ``canonical.dumps`` (the driver always
        does), so a store that checks texts are JSON may skip parsing them again.
        """
        ...

    async def release(self, fence: LeaseFence) -> bool:
        """Fenced delete of an in-progress row whose execution ended without an outcome."""
        ...


class JournalBrowser(Protocol):
    """What operators read and retire: sessions, scopes and rows (the CLI, the HTTP service)."""

    async def list_sessions(
        self, limit: int = 100, offset: int = 0, *, after: tuple[int, str] | None = None
    ) -> list[SessionSummary]:
        """Sessions by latest activity ``(last_at_ms DESC, session_id)``; ``after``: the keyset
        position ``(last_at_ms, session_id)`` of the previous page's last session (then ``offset``
        is 0): only sessions after it in that order."""
        ...

    async def list_scopes(self, session_id: str | None) -> list[ScopeSummary]:
        """Scopes of a session, or the session-free scopes (process, runtime operation) for None."""
        ...

    async def list_effects(
        self,
        scope_key: str,
        limit: int | None = None,
        offset: int = 0,
        *,
        after: tuple[int, int, str] | None = None,
    ) -> list[JournalRow]:
        """The scope's rows in run order ``(seq, created_at_ms, replay_key)``: all of them, or the
        page of at most ``limit`` rows after skipping ``offset``; ``after``: only the rows after
        that keyset position (the previous page's last row's ``(seq, created_at_ms,
        replay_key)``)."""
        ...

    async def get_row(self, scope_key: str, replay_key: str) -> JournalRow | None: ...

    async def retire_session(self, session_id: str) -> int:
        """Delete every row of the session (turn, drain and delete scopes); return the count.

        A session's rows are the rows of its scopes, whose v2 journal keys name the session: a
        store may find them by key (``session_journal_key_ranges``) instead of by an index.
        """
        ...

    async def retire_scope(self, scope_key: str) -> int:
        """Delete the rows of exactly this scope key; return the count."""
        ...


class LeaseHooks(Protocol):
    """Raw row updates the lease-fencing conformance vectors need (spec 6.1): a substrate that
    offers them declares ``Capabilities.lease_hooks``. Never used outside tests."""

    async def steal_lease(self, scope_key: str, replay_key: str) -> None:
        """Give the in-progress row's lease to another owner, live for 10 s."""
        ...

    async def expire_lease(self, scope_key: str, replay_key: str) -> None:
        """Make the row's lease expired now, keeping its owner."""
        ...
