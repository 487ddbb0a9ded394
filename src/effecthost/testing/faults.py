"""Store calls that fail on cue: a host's behaviour under faults a real substrate will not produce
when a test wants them (a full disk at finalize, a connection lost after a commit).

:class:`Faults` says which calls fail; :func:`inject_faults` wraps a :class:`Substrate`'s stores
so they consult it; ``open_host(faults.url(inner_url))`` opens an ordinary host over the wrapped
substrate of ``inner_url``. An injected failure is the coded store error a real outage gives
(``{backend}_effect_replay_store`` from the journal, ``{backend}_await_event_store`` from the await
store), so the host cannot tell it from one.
"""

from __future__ import annotations

import uuid
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from effecthost import Clock, EffectHostError, ErrorCode, open_host
from effecthost.store import (
    AwaitStore,
    ClaimRequest,
    Decision,
    Inspection,
    JournalBrowser,
    JournalRow,
    JournalStore,
    LeaseFence,
    PendingPromise,
    PromiseIdentity,
    SchemeSpec,
    ScopeSummary,
    SessionSummary,
    Status,
    StoreResult,
    Substrate,
    WakeHub,
    register_scheme,
)

T = TypeVar("T")

JOURNAL_CALLS = frozenset({"claim", "preload", "renew", "finalize", "release"})
BROWSER_CALLS = frozenset(
    {"list_sessions", "list_scopes", "list_effects", "get_row", "retire_session", "retire_scope"}
)
AWAIT_CALLS = frozenset(
    {
        "signing_secret",
        "is_revoked",
        "ensure_pending",
        "store_terminal",
        "inspect",
        "revoke_session",
        "cancel_session",
        "pending_for_session",
    }
)
#: The URL scheme ``Faults.url`` names (registered the first time a URL is made).
SCHEME = "faulty"


@dataclass
class _Rule:
    call: str
    skip: int
    times: int | None  # None: every call until cleared
    after_write: bool


class Faults:
    """Which store calls fail next, and how many calls each store saw.

    ``faults.fail("finalize")`` fails the next finalize; ``times=3`` the next three, ``times=None``
    every one until :meth:`clear`; ``skip=2`` lets two pass first. ``after_write=True`` carries the
    call out and then fails it, as when a commit succeeds but its acknowledgement is lost. Rules for
    one call apply one after another, in the order given.
    """

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self._rules: list[_Rule] = []
        #: Calls made through the wrapped stores, by name (failed ones included).
        self.calls: Counter[str] = Counter()
        #: Failures injected, by call name.
        self.injected: Counter[str] = Counter()

    def fail(self, call: str, times: int | None = 1, *, skip: int = 0, after_write: bool = False) -> Faults:
        if call not in JOURNAL_CALLS | BROWSER_CALLS | AWAIT_CALLS:
            known = ", ".join(sorted(JOURNAL_CALLS | BROWSER_CALLS | AWAIT_CALLS))
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"no store call {call!r}; one of {known}")
        if (times is not None and times < 1) or skip < 0:
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, "times is None or at least 1; skip at least 0")
        self._rules.append(_Rule(call, skip, times, after_write))
        return self

    def clear(self) -> None:
        """No call fails from now on (the counters stay)."""
        self._rules.clear()

    def url(self, inner_url: str) -> str:
        """A host URL for ``open_host``: the substrate of ``inner_url`` behind these faults. Every
        host opened on it shares this :class:`Faults` (while it lives) and the inner substrate."""
        register_scheme(SCHEME, SchemeSpec(open=_open_faulty))  # idempotent
        _LIVE[self.id] = self
        return f"{SCHEME}://{self.id}/{inner_url}"

    def _take(self, call: str) -> _Rule | None:
        """The rule that fails this call, if any (consuming one use of it)."""
        self.calls[call] += 1
        for rule in self._rules:
            if rule.call != call:
                continue
            if rule.skip:
                rule.skip -= 1
                return None
            if rule.times is not None:
                rule.times -= 1
                if rule.times == 0:
                    self._rules.remove(rule)
            self.injected[call] += 1
            return rule
        return None

    async def run(self, call: str, code: str, operation: Callable[[], Awaitable[T]]) -> T:
        """Carry ``operation`` out unless a rule fails ``call`` first (or after it, ``after_write``)."""
        rule = self._take(call)
        if rule is not None and not rule.after_write:
            raise _injected(code, call, "before")
        result = await operation()
        if rule is not None:
            raise _injected(code, call, "after")
        return result


def _injected(code: str, call: str, when: str) -> EffectHostError:
    return EffectHostError(code, f"injected fault: {call} failed ({when} reaching the substrate)")


#: Faults by id, for the scheme's open; weak, so a test's Faults goes when the test drops it.
_LIVE: weakref.WeakValueDictionary[str, Faults] = weakref.WeakValueDictionary()


def inject_faults(substrate: Substrate, faults: Faults) -> Substrate:
    """The same substrate with its journal, browser and await store consulting ``faults``. Its
    capabilities and lease hooks are the inner substrate's (the hooks never fail)."""
    backend = substrate.journal.backend
    return Substrate(
        journal=FaultyJournalStore(substrate.journal, faults),
        browser=FaultyBrowser(substrate.browser, faults, backend),
        awaits=FaultyAwaitStore(substrate.awaits, faults, backend),
        close=substrate.close,
        capabilities=substrate.capabilities,
        lease_hooks=substrate.lease_hooks,
    )


async def _open_faulty(url: str, *, clock: Clock, options: dict[str, Any]) -> Substrate:
    """``faulty://<faults id>/<inner url>``: the inner URL's substrate behind those faults."""
    faults_id, _, inner_url = url.split("://", 1)[1].partition("/")
    faults = _LIVE.get(faults_id)
    if faults is None or not inner_url:
        raise EffectHostError(
            ErrorCode.HOST_URL_INVALID, f"{url!r} names no live Faults (make it with Faults.url)"
        )
    # The public road to another scheme's substrate is open_host; its host is only a shell here.
    inner = await open_host(inner_url, clock=clock, **options)
    wrapped = inject_faults(inner.substrate, faults)
    return Substrate(
        journal=wrapped.journal,
        browser=wrapped.browser,
        awaits=wrapped.awaits,
        close=inner.aclose,
        capabilities=wrapped.capabilities,
        lease_hooks=wrapped.lease_hooks,
    )


class FaultyJournalStore:
    """A :class:`JournalStore` whose calls fail as ``faults`` says."""

    def __init__(self, inner: JournalStore, faults: Faults) -> None:
        self._inner = inner
        self._faults = faults
        self._code = f"{inner.backend}_effect_replay_store"

    @property
    def backend(self) -> str:
        return self._inner.backend

    def now_ms(self) -> int:
        return self._inner.now_ms()

    async def claim(self, request: ClaimRequest) -> Decision:
        return await self._faults.run("claim", self._code, lambda: self._inner.claim(request))

    async def preload(self, scope_key: str) -> list[JournalRow]:
        return await self._faults.run("preload", self._code, lambda: self._inner.preload(scope_key))

    async def renew(self, fence: LeaseFence, ttl_ms: int) -> bool:
        return await self._faults.run("renew", self._code, lambda: self._inner.renew(fence, ttl_ms))

    async def finalize(
        self,
        fence: LeaseFence,
        status: Status,
        outcome_json: str | None,
        error_json: str | None,
        *,
        canonical: bool = False,
    ) -> bool:
        return await self._faults.run(
            "finalize",
            self._code,
            lambda: self._inner.finalize(fence, status, outcome_json, error_json, canonical=canonical),
        )

    async def release(self, fence: LeaseFence) -> bool:
        return await self._faults.run("release", self._code, lambda: self._inner.release(fence))


class FaultyBrowser:
    """A :class:`JournalBrowser` whose calls fail as ``faults`` says."""

    def __init__(self, inner: JournalBrowser, faults: Faults, backend: str) -> None:
        self._inner = inner
        self._faults = faults
        self._code = f"{backend}_effect_replay_store"

    async def list_sessions(
        self, limit: int = 100, offset: int = 0, *, after: tuple[int, str] | None = None
    ) -> list[SessionSummary]:
        return await self._faults.run(
            "list_sessions", self._code, lambda: self._inner.list_sessions(limit, offset, after=after)
        )

    async def list_scopes(self, session_id: str | None) -> list[ScopeSummary]:
        return await self._faults.run("list_scopes", self._code, lambda: self._inner.list_scopes(session_id))

    async def list_effects(
        self,
        scope_key: str,
        limit: int | None = None,
        offset: int = 0,
        *,
        after: tuple[int, int, str] | None = None,
    ) -> list[JournalRow]:
        return await self._faults.run(
            "list_effects",
            self._code,
            lambda: self._inner.list_effects(scope_key, limit, offset, after=after),
        )

    async def get_row(self, scope_key: str, replay_key: str) -> JournalRow | None:
        return await self._faults.run(
            "get_row", self._code, lambda: self._inner.get_row(scope_key, replay_key)
        )

    async def retire_session(self, session_id: str) -> int:
        return await self._faults.run(
            "retire_session", self._code, lambda: self._inner.retire_session(session_id)
        )

    async def retire_scope(self, scope_key: str) -> int:
        return await self._faults.run("retire_scope", self._code, lambda: self._inner.retire_scope(scope_key))


class FaultyAwaitStore:
    """An :class:`AwaitStore` whose calls fail as ``faults`` says (wake-ups pass untouched: they
    are hints, and a lost one only costs a poll)."""

    def __init__(self, inner: AwaitStore, faults: Faults, backend: str) -> None:
        self._inner = inner
        self._faults = faults
        self._code = f"{backend}_await_event_store"

    @property
    def hub(self) -> WakeHub:
        return self._inner.hub

    async def signing_secret(self) -> bytes:
        return await self._faults.run("signing_secret", self._code, self._inner.signing_secret)

    async def is_revoked(self, session_id: str) -> bool:
        return await self._faults.run("is_revoked", self._code, lambda: self._inner.is_revoked(session_id))

    async def ensure_pending(self, key_id: str, identity: PromiseIdentity) -> bool:
        return await self._faults.run(
            "ensure_pending", self._code, lambda: self._inner.ensure_pending(key_id, identity)
        )

    async def store_terminal(
        self, key_id: str, identity: PromiseIdentity, terminal_json: str
    ) -> tuple[StoreResult, str | None]:
        return await self._faults.run(
            "store_terminal", self._code, lambda: self._inner.store_terminal(key_id, identity, terminal_json)
        )

    async def inspect(self, key_id: str, identity: PromiseIdentity) -> tuple[Inspection, str | None]:
        return await self._faults.run("inspect", self._code, lambda: self._inner.inspect(key_id, identity))

    async def revoke_session(self, session_id: str) -> None:
        await self._faults.run("revoke_session", self._code, lambda: self._inner.revoke_session(session_id))

    async def cancel_session(self, session_id: str, cancelled_json: str) -> int:
        return await self._faults.run(
            "cancel_session", self._code, lambda: self._inner.cancel_session(session_id, cancelled_json)
        )

    async def pending_for_session(self, session_id: str) -> list[PendingPromise]:
        return await self._faults.run(
            "pending_for_session", self._code, lambda: self._inner.pending_for_session(session_id)
        )
