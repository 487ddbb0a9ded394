"""Cross-process wake-ups for await events on one SQLite file.

Rows are the truth; this channel only shortens the time until a waiter in another process re-reads
its row (without it, the coordinator's poll backoff — 25 ms doubling to 1 s — is the only path).
A hint names a key (``k:<key id>``), a session (``s:<session id>``) or everyone (``*``) and nothing
else, so whoever manages to send one can only cause a re-read.

Design: a process that parks a waiter binds one Unix datagram socket in ``<db>.wake/`` — the
directory mode 0700 and the socket 0600, so only the owner's processes can reach it. After a resolve
(or revoke / cancel sweep) commits, the resolver queues the hint for every socket in the directory
and sends it at once — or, while other callbacks are ready in the same loop turn (the rest of a
group commit's resolves), after them, so those resolves share one datagram per peer.

A peer's receive queue is short (``net.unix.max_dgram_qlen``, 10 on Linux) and a busy peer lets it
fill. A send that would block therefore keeps that peer's *outbox* and retries it (0.5 ms doubling
to 5 ms; every 100 ms once the peer has been full for a second) instead of dropping the hint; hints
published meanwhile join the outbox, so a slow peer gets fewer, fuller datagrams. An outbox is
bounded by one datagram: when it would overflow it becomes ``*`` (the peer's waiters all re-read) —
a wasted read, never a lost wake-up. Closing tries the outboxes once more for a bounded time (a
resolver may exit right after its last resolve) and leaves no timer behind. A socket nobody
listens on (``ECONNREFUSED``) belongs to a dead process and is removed.

Framing: a datagram holds one hint as UTF-8 text (what earlier versions send and read), or a JSON
list of hint strings, ASCII-escaped — a session id may hold any character but NUL, so no separator
would do; a plain hint never starts with ``[``. Anything else, or any datagram over the size
limit, is ignored and logged by :meth:`WakeHub.dispatch_hint`.

Unix socket paths are limited to ~107 bytes, so on Linux the socket is addressed through
``/proc/self/fd/<dirfd>/<name>``, which keeps the address short however deep the database lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import secrets
import socket
import stat
import sys
import time

from ...awaits.hub import WakeHub
from .db import ready_queue

#: The largest datagram this channel sends; a longer one received is not ours and is ignored.
MAX_DATAGRAM = 16384
# Retries of a full peer: the peer drains within a scheduler slice or two when it runs at all, so
# a short cap keeps the added latency small; a peer still full after STUCK_S is stopped or blocked
# (its own poll has long taken over), and is then tried only every RETRY_STUCK_S.
RETRY_START_S = 0.0005
RETRY_MAX_S = 0.005
STUCK_S = 1.0
RETRY_STUCK_S = 0.1
#: How long closing may block on peers whose queues are full before their hints are left to polls.
CLOSE_FLUSH_S = 0.5
#: Datagrams read per readable callback, so a flood cannot starve the loop's other work.
_READS_PER_WAKE = 256
_EVERYONE = "*"
# Errors after which the same send may succeed shortly (the peer's queue or kernel memory is full).
_TRANSIENT = {errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR, errno.ENOBUFS, errno.ENOMEM}


def _json_size(hint: str) -> int:
    return len(json.dumps(hint))  # ensure_ascii: characters == bytes


class _Outbox:
    """Hints not yet delivered to one peer: an ordered set, at most one datagram, or ``*``."""

    __slots__ = ("_hints", "_size")

    def __init__(self) -> None:
        self._hints: dict[str, None] = {}
        self._size = 1  # the list's brackets, minus one comma

    def add(self, hint: str) -> bool:
        """False when the outbox had to become ``*`` to stay within one datagram."""
        if _EVERYONE in self._hints or hint in self._hints:
            return True
        self._size += _json_size(hint) + 1
        if hint == _EVERYONE or self._size > MAX_DATAGRAM:
            self._hints = {_EVERYONE: None}
            return hint == _EVERYONE
        self._hints[hint] = None
        return True

    def datagram(self) -> bytes:
        hints = list(self._hints)
        if len(hints) == 1:
            with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate: use the JSON form
                return hints[0].encode("utf-8")
        return json.dumps(hints, separators=(",", ":")).encode("ascii")


class WakeChannel:
    def __init__(self, db_path: str, hub: WakeHub, loop: asyncio.AbstractEventLoop) -> None:
        self.directory = db_path + ".wake"
        self._hub = hub
        self._loop = loop
        self._name = f"{os.getpid()}-{secrets.token_hex(6)}"
        self._dirfd: int | None = None
        self._listener: socket.socket | None = None
        self._sender: socket.socket | None = None
        self._closed = False
        self._pending: list[str] = []  # published, not yet assigned to peers' outboxes
        self._outboxes: dict[str, _Outbox] = {}
        self._flush_soon: asyncio.Handle | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._retry_delay = RETRY_START_S
        self._blocked_since: float | None = None
        # The callbacks ready this turn (db.ready_queue says why); None: cannot tell.
        self._ready = ready_queue(loop)
        self.received = 0
        #: Sends that found a peer's queue full and were kept for a retry (benchmarks read these).
        self.deferred = 0
        #: Outboxes that overflowed and became ``*``.
        self.degraded = 0

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def _open_dir(self, create: bool) -> int | None:
        if self._dirfd is None:
            if create:
                with contextlib.suppress(OSError):  # exists already, or cannot: open() decides
                    os.mkdir(self.directory, 0o700)  # the umask can only remove bits
            try:
                self._dirfd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                return None
        return self._dirfd

    def _address(self, name: str) -> str:
        if sys.platform.startswith("linux") and self._dirfd is not None:
            return f"/proc/self/fd/{self._dirfd}/{name}"
        return os.path.join(self.directory, name)

    def _chmod(self, name: str, mode: int) -> None:
        if os.chmod in os.supports_dir_fd and self._dirfd is not None:
            os.chmod(name, mode, dir_fd=self._dirfd)
        else:
            os.chmod(os.path.join(self.directory, name), mode)

    def listen(self) -> None:
        """Bind this process's socket (idempotent). Must run before a waiter first reads its row."""
        if self._listener is not None or self._closed:
            return
        dirfd = self._open_dir(create=True)
        if dirfd is None:
            return
        _owner_only(dirfd)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind(self._address(self._name))
        except OSError:
            sock.close()
            return  # e.g. a read-only directory: waiters fall back to polling
        try:
            # bind() applied the umask. Until this chmod the 0700 directory keeps others out; the
            # umask is not narrowed around bind() instead because it is process-wide (threads).
            self._chmod(self._name, 0o600)
        except OSError:
            sock.close()
            self._unlink(self._name)
            return  # owner-only or not at all
        self._listener = sock
        self._loop.add_reader(sock.fileno(), self._on_readable)

    # ---- receiving -------------------------------------------------------------------------

    def _on_readable(self) -> None:
        sock = self._listener
        if sock is None:
            return
        for _ in range(_READS_PER_WAKE):
            try:
                data = sock.recv(MAX_DATAGRAM + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.received += 1
            self.dispatch(data)

    def dispatch(self, data: bytes) -> None:
        """Act on one datagram. The sender may be anyone who reaches the socket: what is not a hint
        or a JSON list of hints goes to the hub as a (malformed) text, which it logs and ignores."""
        source = self.directory
        if len(data) > MAX_DATAGRAM:
            self._hub.dispatch_hint(f"<a datagram over {MAX_DATAGRAM} bytes>", source=source)
            return
        if data.startswith(b"["):
            try:
                hints = json.loads(data)
            except (ValueError, RecursionError):
                hints = None
            if isinstance(hints, list) and hints and all(isinstance(h, str) for h in hints):
                for hint in hints:
                    self._hub.dispatch_hint(hint, source=source)
            else:
                self._hub.dispatch_hint(data.decode("utf-8", "replace"), source=source)
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            # Replacing the bad bytes could turn junk into a well-formed hint; say what came.
            self._hub.dispatch_hint(f"<not UTF-8: {data[:60]!r}>", source=source)
            return
        self._hub.dispatch_hint(text, source=source)

    # ---- sending ---------------------------------------------------------------------------

    def publish(self, messages: list[str]) -> None:
        """Send hints to every other process's socket: now when nothing else is ready to run this
        loop turn, else once the turn's other callbacks (the rest of a group commit's resolves,
        each publishing its own hint) have run, so they share one datagram per peer."""
        if self._closed or not messages or self._loop.is_closed():
            return
        self._pending.extend(messages)
        if self._flush_soon is not None:
            return
        ready = self._ready
        if ready is not None and not ready:
            self._flush()  # also keeps a sequential resolver's next write on its no-batch path
        else:
            self._flush_soon = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_soon = None
        if self._closed:
            return
        self._distribute()
        if self._send_outboxes():
            self._retry_delay, self._blocked_since = RETRY_START_S, None
            if self._retry is not None:
                self._retry.cancel()
                self._retry = None
        elif self._retry is None:
            now = self._loop.time()
            if self._blocked_since is None:
                self._blocked_since = now
            stuck = now - self._blocked_since > STUCK_S
            self._retry = self._loop.call_later(RETRY_STUCK_S if stuck else self._retry_delay, self._on_retry)
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)

    def _on_retry(self) -> None:
        self._retry = None
        self._flush()

    def _distribute(self) -> None:
        """Move published hints into the outbox of every peer listed *now* (after the commit: a
        waiter that binds later reads its row after binding, so it needs no hint)."""
        if not self._pending:
            return
        hints, self._pending = self._pending, []
        if self._open_dir(create=False) is None:
            return
        try:
            # The directory we address sockets through, even if the path was replaced since.
            names = os.listdir(self._dirfd if os.listdir in os.supports_fd else self.directory)
        except OSError:
            return
        for name in names:
            if name == self._name:
                continue
            outbox = self._outboxes.setdefault(name, _Outbox())
            for hint in hints:
                if not outbox.add(hint):
                    self.degraded += 1

    def _send_outboxes(self) -> bool:
        """One attempt per outbox; True when none is left waiting for a full queue to drain."""
        for name in list(self._outboxes):
            if self._send(name, self._outboxes[name].datagram()):
                del self._outboxes[name]
        return not self._outboxes

    def _send(self, name: str, payload: bytes) -> bool:
        """True when the outbox is done with (sent, or the peer is gone); False to retry later."""
        try:
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            self._sender.sendto(payload, self._address(name))
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            if isinstance(exc, ConnectionRefusedError):
                self._unlink(name)  # nobody listens: the owning process died without cleaning up
            return True
        except OSError as exc:
            if exc.errno in _TRANSIENT:
                self.deferred += 1
                return False
            # e.g. EACCES (another user's socket) or EMFILE: the resolve has committed and must
            # not fail now; that peer's poll covers it.
            return True
        return True

    def _unlink(self, name: str) -> None:
        with contextlib.suppress(OSError):
            if os.unlink in os.supports_dir_fd and self._dirfd is not None:
                os.unlink(name, dir_fd=self._dirfd)
            else:
                os.unlink(os.path.join(self.directory, name))

    def _flush_before_close(self) -> None:
        """Deliver what is queued, waiting a bounded time for full queues to drain: this process
        may exit right after its last resolve, and no retry timer may outlive the channel."""
        self._distribute()
        deadline = time.monotonic() + CLOSE_FLUSH_S
        delay = RETRY_START_S
        while not self._send_outboxes() and time.monotonic() < deadline:
            time.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)
        self._outboxes.clear()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for handle in (self._flush_soon, self._retry):
            if handle is not None:
                handle.cancel()
        self._flush_soon = self._retry = None
        self._flush_before_close()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
            self._unlink(self._name)
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        if self._dirfd is not None:
            os.close(self._dirfd)
            self._dirfd = None


def _owner_only(dirfd: int) -> None:
    """Make our wake directory 0700 (mkdir applied the umask; an older version made it 0755)."""
    with contextlib.suppress(OSError):
        found = os.fstat(dirfd)
        if found.st_uid == os.geteuid() and stat.S_IMODE(found.st_mode) != 0o700:
            os.fchmod(dirfd, 0o700)
