"""Operators' turn listings: filters, a keyset cursor and a direction, stated once.

``TurnQuery`` is what the console asks for (the page, the CLI, the HTTP API); :func:`sql_where`
renders it for both SQL stores and :func:`matches` for the memory store, so the three cannot drift.
Paging is by keyset on the total order ``(created_at_ms, session_id, turn_id)``, never by offset:
a page boundary stays put while turns are being started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import LiteralString

from .model import TurnRecord, TurnStatus

#: A position in the listing order: the last turn of the previous page.
TurnCursor = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class TurnQuery:
    session_id: str | None = None
    status: TurnStatus | None = None
    name: str | None = None
    #: Started at or after / before (ms since the epoch).
    since_ms: int | None = None
    until_ms: int | None = None
    #: An exact session id or turn id ("search by id").
    search: str | None = None
    after: TurnCursor | None = None
    newest_first: bool = True
    limit: int = 100


def order_key(record: TurnRecord) -> TurnCursor:
    return (record.created_at_ms, record.session_id, record.turn_id)


def matches(query: TurnQuery, record: TurnRecord) -> bool:
    """The memory store's filter: exactly what :func:`sql_where` says."""
    key = order_key(record)
    return (
        (query.session_id is None or record.session_id == query.session_id)
        and (query.status is None or record.status is query.status)
        and (query.name is None or record.name == query.name)
        and (query.since_ms is None or record.created_at_ms >= query.since_ms)
        and (query.until_ms is None or record.created_at_ms < query.until_ms)
        and (query.search is None or query.search in (record.session_id, record.turn_id))
        and (
            query.after is None
            or (key < query.after if query.newest_first else key > query.after)
        )
    )


def sql_where(query: TurnQuery, mark: LiteralString) -> tuple[LiteralString, list[object]]:
    """``WHERE ... ORDER BY ... LIMIT <mark>`` and its parameters; ``mark`` is the store's
    placeholder (``?`` or ``%s``)."""
    terms: list[LiteralString] = []
    params: list[object] = []

    def term(sql: LiteralString, *values: object) -> None:
        terms.append(sql)
        params.extend(values)

    if query.session_id is not None:
        term("session_id = " + mark, query.session_id)
    if query.status is not None:
        term("status = " + mark, str(query.status))
    if query.name is not None:
        term("name = " + mark, query.name)
    if query.since_ms is not None:
        term("created_at_ms >= " + mark, query.since_ms)
    if query.until_ms is not None:
        term("created_at_ms < " + mark, query.until_ms)
    if query.search is not None:
        term("(session_id = " + mark + " OR turn_id = " + mark + ")", query.search, query.search)
    if query.after is not None:
        op: LiteralString = "<" if query.newest_first else ">"
        term(
            "(created_at_ms, session_id, turn_id) " + op + " (" + mark + ", " + mark + ", " + mark + ")",
            *query.after,
        )
    direction: LiteralString = " DESC" if query.newest_first else ""
    where: LiteralString = (" WHERE " + " AND ".join(terms)) if terms else ""
    order: LiteralString = (
        " ORDER BY created_at_ms" + direction + ", session_id" + direction + ", turn_id" + direction
    )
    params.append(max(query.limit, 0))
    return where + order + " LIMIT " + mark, params
