"""Store-level vectors: the :class:`~effecthost.store.JournalBrowser` reads behind ``GET /v1/effects``
and ``effecthost journal show``, checked through ``host.browser`` (as :class:`DurableEffectHost`
declares it; a host of another kind that claims browsing declares the same property)."""

from __future__ import annotations

import uuid
from typing import Protocol, runtime_checkable

from effecthost import EffectHost, ExecutionScope, JournalRetirement
from effecthost.store import JournalBrowser

from ._support import ConformanceFailure, HostFactory, HostPool, check_eq, record_step


@runtime_checkable
class BrowsableHost(EffectHost, Protocol):
    """A host whose journal operators can read: ``browser`` is its :class:`JournalBrowser`."""

    @property
    def browser(self) -> JournalBrowser: ...


async def journal_store_lists_effects_in_pages(make: HostFactory) -> None:
    """``list_effects(scope_key, limit, offset)``: every row of one scope by default, or pages of it,
    in run order (``seq``, the order of first claims in the scope: 1, 2, ...; ties, if a store
    allows them, by ``(created_at_ms, replay_key)``; a store that leaves ``seq`` at 0 lists by
    ``(created_at_ms, replay_key)``), so consecutive pages neither skip nor repeat a row."""
    async with HostPool(make) as hosts:
        host = await hosts.new()
        if not isinstance(host, BrowsableHost):
            raise ConformanceFailure("a host that claims browsing exposes its JournalBrowser as .browser")
        journal = host.browser
        session = f"paging-{uuid.uuid4().hex[:8]}"
        scope = ExecutionScope.turn(session, "turn")
        # Same prefix, zero-padded: every collation orders these keys alike.
        keys = [f"page-{i:02d}" for i in range(7)]
        try:
            # Last key first: rows written within one millisecond must still come out in run order,
            # not by replay key.
            for key in reversed(keys):
                await record_step(host, scope, key)
            await record_step(host, ExecutionScope.turn(session, "other-turn"), "page-03")
            scope_key = scope.journal_key()
            listed = await journal.list_effects(scope_key)  # no limit: every row of the scope
            check_eq(sorted(r.replay_key for r in listed), keys, "the scope's rows, and only them")
            if any(r.seq for r in listed):
                check_eq(
                    [(r.seq, r.replay_key) for r in listed],
                    list(enumerate(reversed(keys), start=1)),
                    "rows come in run order, numbered 1, 2, ... (seq)",
                )
            else:  # a store that does not number its rows (seq stays 0): the older total order
                order = [(r.created_at_ms, r.replay_key) for r in listed]
                check_eq(order, sorted(order), "rows come in (created_at_ms, replay_key) order")
            pages = [await journal.list_effects(scope_key, limit=3, offset=o) for o in (0, 3, 6, 9)]
            check_eq([len(p) for p in pages], [3, 3, 1, 0], "pages of 3 over 7 rows")
            check_eq(
                [r.replay_key for p in pages for r in p],
                [r.replay_key for r in listed],
                "consecutive pages neither skip nor repeat a row",
            )
            middle = await journal.list_effects(scope_key, limit=2, offset=4)
            check_eq(
                [r.replay_key for r in middle],
                [r.replay_key for r in listed[4:6]],
                "limit and offset slice the same order",
            )
        finally:
            await host.retire_effect_journal(JournalRetirement.session(session))
