"""Cross-process wake-ups for await events on one SQLite file.

Rows are the truth; this channel only shortens the time until a waiter in another process re-reads
its row (without it, the coordinator's poll backoff — 25 ms doubling to 1 s — is the only path).

Design: a process that parks a waiter binds one Unix datagram socket in ``<db>.wake/``. After a
resolve (or revoke / cancel sweep) commits, the resolver sends the key id (or session id) as one
datagram to every socket in that directory. Sending is non-blocking and best effort: a full receive
buffer drops the hint (the waiter still polls), and a socket nobody listens on any more
(``ECONNREFUSED``) belongs to a dead process and is removed. Unix socket paths are limited to ~107
bytes, so on Linux the socket is addressed through ``/proc/self/fd/<dirfd>/<name>``, which keeps the
address short however deep the database lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import sys

from ...awaits.store import WakeHub

_MAX_DATAGRAM = 4096


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
        self.received = 0

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def _open_dir(self, create: bool) -> int | None:
        if self._dirfd is None:
            if create:
                os.makedirs(self.directory, exist_ok=True)
            try:
                self._dirfd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:
                return None
        return self._dirfd

    def _address(self, name: str) -> str:
        if sys.platform.startswith("linux") and self._dirfd is not None:
            return f"/proc/self/fd/{self._dirfd}/{name}"
        return os.path.join(self.directory, name)

    def listen(self) -> None:
        """Bind this process's socket (idempotent). Must run before a waiter first reads its row."""
        if self._listener is not None or self._closed:
            return
        self._open_dir(create=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind(self._address(self._name))
        except OSError:
            sock.close()
            return  # e.g. a read-only directory: waiters fall back to polling
        self._listener = sock
        self._loop.add_reader(sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        sock = self._listener
        if sock is None:
            return
        while True:
            try:
                data = sock.recv(_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.received += 1
            self.dispatch(data.decode("utf-8", "replace"))

    def dispatch(self, message: str) -> None:
        self._hub.dispatch_hint(message, source=self.directory)

    def publish(self, messages: list[str]) -> int:
        """Send each message to every other process's socket; returns how many sends succeeded."""
        if self._closed or not messages:
            return 0
        if self._open_dir(create=False) is None:
            return 0
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return 0
        peers = [n for n in names if n != self._name]
        if not peers:
            return 0
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        sent = 0
        payloads = [m.encode("utf-8") for m in messages]
        for name in peers:
            address = self._address(name)
            for payload in payloads:
                try:
                    self._sender.sendto(payload, address)
                    sent += 1
                except (ConnectionRefusedError, FileNotFoundError):
                    # Nobody listens: the owning process died without cleaning up.
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(self.directory, name))
                    break
                except OSError:
                    break  # buffer full or similar: the waiter's poll picks it up
        return sent

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.directory, self._name))
        if self._sender is not None:
            self._sender.close()
            self._sender = None
        if self._dirfd is not None:
            os.close(self._dirfd)
            self._dirfd = None
