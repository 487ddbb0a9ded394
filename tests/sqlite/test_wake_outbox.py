"""What a resolver does when a peer's receive queue is full (defect 8), on real sockets.

A peer here is either a raw Unix datagram socket bound in ``<db>.wake/`` that the test reads (or
does not read) when it chooses, or a second :class:`WakeChannel` with its own hub. The wire format
is the documented one: one hint as text, or a JSON list of hints.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from effecthost import ExecutionScope, Resolution, ResolveOutcome, WaitIdentity, open_host
from effecthost._private.awaits.hub import WakeHub
from effecthost._private.stores.sqlite.wake import MAX_DATAGRAM, WakeChannel

SCOPE = ExecutionScope.turn("outbox-session", "outbox-turn")


def _peer(db_path: str) -> socket.socket:
    wake_dir = Path(db_path + ".wake")
    wake_dir.mkdir(mode=0o700, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(wake_dir / "peer"))
    return sock


def _hints(datagram: bytes) -> list[str]:
    assert len(datagram) <= MAX_DATAGRAM
    if datagram.startswith(b"["):
        hints = json.loads(datagram)
        assert isinstance(hints, list)
        return hints
    return [datagram.decode()]


def _covered(datagrams: list[bytes], key_ids: list[str]) -> bool:
    hints = {h for d in datagrams for h in _hints(d)}
    return "*" in hints or {f"k:{k}" for k in key_ids} <= hints


async def _resolve_one_by_one(host: Any, count: int) -> list[str]:
    key_ids = []
    for i in range(count):
        key = await host.await_event_key(SCOPE, WaitIdentity.custom(f"k{i}"))
        assert await host.resolve_await_event(key, Resolution.ok(i)) == ResolveOutcome.ACCEPTED
        key_ids.append(key.key_id)
        await asyncio.sleep(0)  # let this resolve's hint leave before the next commit
    return key_ids


async def _read_until_covered(peer: socket.socket, key_ids: list[str]) -> list[bytes]:
    peer.setblocking(False)
    datagrams: list[bytes] = []
    while not _covered(datagrams, key_ids):
        try:
            datagrams.append(peer.recv(65536))
        except BlockingIOError:
            await asyncio.sleep(0.002)
    return datagrams


async def test_a_peer_whose_queue_filled_up_still_gets_every_hint(db_url: str, db_path: str) -> None:
    peer = _peer(db_path)
    host = await open_host(db_url)
    try:
        # Far more hints than the peer's queue holds, while it reads nothing.
        key_ids = await _resolve_one_by_one(host, 300)
        datagrams = await asyncio.wait_for(_read_until_covered(peer, key_ids), 10)
        hints = [h for d in datagrams for h in _hints(d)]
        # 300 key hints do not fit in one datagram: the held-back outbox became "wake everyone"
        # instead of growing or dropping hints.
        assert "*" in hints
        assert host.await_coordinator.store.channel.degraded >= 1
    finally:
        await host.aclose()
        peer.close()


async def test_the_hints_of_one_commit_share_a_datagram(db_url: str, db_path: str) -> None:
    peer_hub = WakeHub()
    peer = WakeChannel(db_path, peer_hub, asyncio.get_running_loop())
    host = await open_host(db_url)
    try:
        peer.listen()
        # Session ids may hold any character but NUL: the framing must not split or merge them.
        odd_session = 'odd\nsession: with "quotes", [brackets] and é'
        keys = [await host.await_event_key(SCOPE, WaitIdentity.custom(f"k{i}")) for i in range(50)]
        subscriptions = [peer_hub.subscribe(k.key_id, None) for k in keys]
        subscriptions.append(peer_hub.subscribe("some key of the odd session", odd_session))
        await asyncio.gather(
            *(host.resolve_await_event(k, Resolution.ok(i)) for i, k in enumerate(keys)),
            host.revoke_await_events_for_session(odd_session),
        )
        await asyncio.wait_for(asyncio.gather(*(s.event.wait() for s in subscriptions)), 10)
        assert peer.received < 10  # 51 hints, a handful of datagrams: none overflowed the queue
        assert peer_hub.malformed_hints == 0
        for subscription in subscriptions:
            subscription.close()
    finally:
        await host.aclose()
        peer.close()


def _drain_later(peer: socket.socket, start_after_s: float, out: list[tuple[float, bytes]]) -> None:
    """Start reading only after the host began closing; read until the peer is silent."""
    time.sleep(start_after_s)
    peer.settimeout(1.0)
    while True:
        try:
            out.append((time.monotonic(), peer.recv(65536)))
        except TimeoutError:
            return


async def test_closing_delivers_hints_held_back_by_a_full_queue(db_url: str, db_path: str) -> None:
    peer = _peer(db_path)
    host = await open_host(db_url)
    received: list[tuple[float, bytes]] = []
    reader = threading.Thread(target=_drain_later, args=(peer, 0.1, received))
    try:
        # The queue fills after its first few datagrams; the rest wait in the outbox, and this
        # process closes at once (like a resolver that exits right after its last resolve).
        key_ids = await _resolve_one_by_one(host, 30)
        reader.start()
    finally:
        await host.aclose()
    closed_at = time.monotonic()
    await asyncio.to_thread(reader.join)
    peer.close()
    assert _covered([d for _, d in received], key_ids)
    assert all(at <= closed_at for at, _ in received)  # nothing is sent after close returned


async def test_closing_while_a_peer_never_reads_leaves_nothing_scheduled(db_url: str, db_path: str) -> None:
    peer = _peer(db_path)
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    host = await open_host(db_url)
    channel = weakref.ref(host.await_coordinator.store.channel)
    try:
        await _resolve_one_by_one(host, 30)  # a retry timer is pending now
    finally:
        await host.aclose()
    del host
    gc.collect()
    assert channel() is None  # nothing scheduled on the loop still holds the closed channel
    await asyncio.sleep(0.2)  # any timer left behind would fire now
    peer.setblocking(False)
    queued = 0
    while True:
        try:
            peer.recv(65536)
            queued += 1
        except BlockingIOError:
            break
    await asyncio.sleep(0.2)  # room in the queue again: a leftover retry would send into it
    try:
        late = peer.recv(65536)
    except BlockingIOError:
        late = None
    peer.close()
    assert queued >= 1
    assert late is None
    assert errors == []
