"""The wake-up hub: in-process wake-ups for the waiters parked on one substrate.

A wake-up names a key or a session and carries nothing else: whoever can send one (any role that
may ``NOTIFY``, any process that reaches a wake socket) can only make a waiter read its row again,
never hand it an answer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass

_log = logging.getLogger("effecthost.wake")

#: At most one warning per this many seconds about malformed hints (a flood must not flood logs).
MALFORMED_LOG_EVERY_S = 10.0


class WakeHub:
    """Per-substrate, in-process wake-ups keyed by promise key id (and by session for revocation).

    A waiter subscribes *before* it inspects the row, so a terminal stored between the inspection
    and the wait still wakes it: no lost wake-ups. Host objects on one substrate may live on
    different threads and event loops (a server in a thread, a test in the main loop), so each
    subscription remembers its loop and is woken through it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, set[_Waiter]] = {}
        self._by_session: dict[str, set[_Waiter]] = {}
        #: Hints ignored as malformed (tests read it; the log says the same, rate-limited).
        self.malformed_hints = 0
        self._malformed_logged_at = -MALFORMED_LOG_EVERY_S
        self._malformed_unlogged = 0

    def subscribe(self, key_id: str, session_id: str | None) -> Subscription:
        waiter = _Waiter(asyncio.Event(), asyncio.get_running_loop())
        with self._lock:
            self._by_key.setdefault(key_id, set()).add(waiter)
            if session_id is not None:
                self._by_session.setdefault(session_id, set()).add(waiter)
        return Subscription(self, key_id, session_id, waiter)

    def _drop(self, key_id: str, session_id: str | None, waiter: _Waiter) -> None:
        with self._lock:
            for index, name in ((self._by_key, key_id), (self._by_session, session_id)):
                if name is None:
                    continue
                waiters = index.get(name)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del index[name]

    def _wake(self, waiters: list[_Waiter]) -> None:
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for waiter in waiters:
            if waiter.loop is current:
                waiter.event.set()
            elif not waiter.loop.is_closed():
                waiter.loop.call_soon_threadsafe(waiter.event.set)

    def notify_key(self, key_id: str) -> None:
        """Wake the key's waiters: each reads its row again and returns only what is stored."""
        with self._lock:
            waiters = list(self._by_key.get(key_id, ()))
        self._wake(waiters)

    def notify_session(self, session_id: str) -> None:
        with self._lock:
            waiters = list(self._by_session.get(session_id, ()))
        self._wake(waiters)

    def dispatch_hint(self, hint: str, *, source: str) -> bool:
        """Act on one cross-process hint: ``k:<key id>``, ``s:<session id>`` or ``*`` (everyone).

        Anything else is ignored and logged (at most once per :data:`MALFORMED_LOG_EVERY_S`, with
        a count): the sender may be anyone who can reach the channel, so a malformed hint must
        neither end a wait nor cost more than this check. True when the hint was understood.
        """
        kind, colon, name = hint.partition(":")
        if hint == "*":
            self.notify_all()
        elif colon and name and kind == "k":
            self.notify_key(name)
        elif colon and name and kind == "s":
            self.notify_session(name)  # waiters subscribe by session too
        else:
            self._malformed_hint(hint, source)
            return False
        return True

    def _malformed_hint(self, hint: str, source: str) -> None:
        with self._lock:
            self.malformed_hints += 1
            now = time.monotonic()
            if now - self._malformed_logged_at < MALFORMED_LOG_EVERY_S:
                self._malformed_unlogged += 1
                return
            self._malformed_logged_at, skipped, self._malformed_unlogged = now, self._malformed_unlogged, 0
        _log.warning(
            "ignored a malformed wake-up hint from %s: %r (%d more since the last such warning)",
            source,
            hint[:80],
            skipped,
        )

    def notify_all(self) -> None:
        """Wake every waiter (they re-read their rows); used when a remote hint is ambiguous."""
        with self._lock:
            waiters = [w for group in self._by_key.values() for w in group]
        self._wake(waiters)

    def subscribed_keys(self) -> set[str]:
        with self._lock:
            return set(self._by_key)


@dataclass(eq=False)
class _Waiter:
    event: asyncio.Event
    loop: asyncio.AbstractEventLoop


class Subscription:
    __slots__ = ("_hub", "_key_id", "_session_id", "_waiter")

    def __init__(self, hub: WakeHub, key_id: str, session_id: str | None, waiter: _Waiter) -> None:
        self._hub = hub
        self._key_id = key_id
        self._session_id = session_id
        self._waiter = waiter

    @property
    def event(self) -> asyncio.Event:
        return self._waiter.event

    def close(self) -> None:
        self._hub._drop(self._key_id, self._session_id, self._waiter)
