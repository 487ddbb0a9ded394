"""Type-checked, never run: ``mypy --strict src tests/typing`` (``make test``, ``make lint``).

It pins what the public seams promise at the type level: every first-party host is an
``EffectHost``, ``async with await open_host(url)`` gives a ``DurableEffectHost``, every controller a
host hands out is an ``EffectController``, the first-party stores satisfy the public store Protocols,
and an ``Interceptor`` subclass fits where hosts take interceptors. A Protocol that drifts from its
implementations (a renamed method, another parameter, another return type) fails this check.

Each ``_is_*`` function below is an assignability check: ``return value`` type-checks only when the
parameter's type satisfies the declared return type.
"""

from __future__ import annotations

from typing import assert_type

from effecthost import (
    DurableEffectHost,
    EffectController,
    EffectHost,
    ExecutionScope,
    InlineEffectHost,
    JournalController,
    RecordingEffectHost,
    ScopedController,
    open_host,
)
from effecthost._private.runtime.inline import InlineController
from effecthost._private.runtime.recording import _RecordingController
from effecthost._private.stores.memory import MemoryAwaitStore, MemoryJournalStore
from effecthost._private.stores.postgres.awaits import PostgresAwaitStore
from effecthost._private.stores.postgres.journal import PostgresJournalStore
from effecthost._private.stores.sqlite.awaits import SqliteAwaitStore
from effecthost._private.stores.sqlite.journal import SqliteJournalStore
from effecthost.interceptors import EffectCounter, EffectResult, ExecuteEffectInput, Interceptor
from effecthost.store import AwaitStore, JournalBrowser, JournalStore, LeaseHooks

# ---- hosts --------------------------------------------------------------------------------------


def _is_host_inline(host: InlineEffectHost) -> EffectHost:
    return host


def _is_host_recording(host: RecordingEffectHost) -> EffectHost:
    return host


def _is_host_durable(host: DurableEffectHost) -> EffectHost:
    return host


async def _async_with_gives_the_concrete_host(url: str, scope: ExecutionScope) -> None:
    async with await open_host(url) as host:
        assert_type(host, DurableEffectHost)
        assert_type(host.controller(scope), JournalController)
        assert_type(host.scoped(scope), ScopedController)
    async with InlineEffectHost() as inline:
        assert_type(inline, InlineEffectHost)
    async with RecordingEffectHost() as recording:
        assert_type(recording, RecordingEffectHost)


# ---- controllers --------------------------------------------------------------------------------


def _is_controller_journal(controller: JournalController) -> EffectController:
    return controller


def _is_controller_inline(controller: InlineController) -> EffectController:
    return controller


def _is_controller_recording(controller: _RecordingController) -> EffectController:
    return controller


def _scoped_controllers_are_controllers(host: EffectHost, scope: ExecutionScope) -> EffectController:
    return host.scoped(scope).controller


# ---- stores -------------------------------------------------------------------------------------


def _is_journal_memory(store: MemoryJournalStore) -> JournalStore:
    return store


def _is_journal_sqlite(store: SqliteJournalStore) -> JournalStore:
    return store


def _is_journal_postgres(store: PostgresJournalStore) -> JournalStore:
    return store


def _is_browser_memory(store: MemoryJournalStore) -> JournalBrowser:
    return store


def _is_browser_sqlite(store: SqliteJournalStore) -> JournalBrowser:
    return store


def _is_browser_postgres(store: PostgresJournalStore) -> JournalBrowser:
    return store


def _is_lease_hooks_memory(store: MemoryJournalStore) -> LeaseHooks:
    return store


def _is_lease_hooks_sqlite(store: SqliteJournalStore) -> LeaseHooks:
    return store


def _is_lease_hooks_postgres(store: PostgresJournalStore) -> LeaseHooks:
    return store


def _is_await_store_memory(store: MemoryAwaitStore) -> AwaitStore:
    return store


def _is_await_store_sqlite(store: SqliteAwaitStore) -> AwaitStore:
    return store


def _is_await_store_postgres(store: PostgresAwaitStore) -> AwaitStore:
    return store


# ---- interceptors -------------------------------------------------------------------------------


class _Tracing(Interceptor):
    """A user's interceptor: observes effects, passes each call on."""

    def __init__(self) -> None:
        self.kinds: list[str] = []

    async def execute_effect(self, input: ExecuteEffectInput) -> EffectResult:
        self.kinds.append(input.envelope.kind.value)
        result = await self.next.execute_effect(input)
        assert_type(result.replayed, bool)
        return result


async def _hosts_take_interceptors(url: str) -> None:
    async with await open_host(url, interceptors=[_Tracing(), EffectCounter()]) as host:
        assert_type(host, DurableEffectHost)
    async with InlineEffectHost(interceptors=[_Tracing()]) as inline:
        assert_type(inline, InlineEffectHost)


# ---- the Protocols are not vacuous: something else is refused (an unused ignore fails --strict) ---


def _not_a_host(value: object) -> EffectHost:
    return value  # type: ignore[return-value]


def _not_a_journal(value: MemoryAwaitStore) -> JournalStore:
    return value  # type: ignore[return-value]
