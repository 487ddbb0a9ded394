"""Turn listings on an engine: the operators' filters and keyset pages the SQL hosts give.

An engine keeps its turns in its own tables (Restate's invocations and state, Temporal's
visibility store), so each engine pushes what its query language can say into its query and
checks the rest here, row by row, with the same meaning as the SQL hosts' ``query_turns``.
"""

from __future__ import annotations

from dataclasses import dataclass

from effecthost import EffectHostError, ErrorCode, TurnInfo, TurnStatus

#: A listing's position: the last turn's ``(created_at_ms, session_id, turn_id)``.
TurnCursor = tuple[int, str, str]

ENDED = frozenset({TurnStatus.COMPLETED, TurnStatus.FAILED, TurnStatus.CANCELLED})


def cursor_of(info: TurnInfo) -> TurnCursor:
    return (info.created_at_ms, info.session_id, info.turn_id)


@dataclass(frozen=True)
class TurnFilter:
    """What an operator asked for: the filters of ``query_turns``, checked once."""

    session_id: str | None = None
    status: TurnStatus | None = None
    name: str | None = None
    #: Started at or after / before (ms since the epoch).
    since_ms: int | None = None
    until_ms: int | None = None
    #: An exact session id or turn id.
    search: str | None = None
    after: TurnCursor | None = None
    newest_first: bool = True
    limit: int = 100
    #: Only turns not ended (the inbox and the change feed).
    live: bool = False

    @classmethod
    def of(
        cls,
        *,
        session_id: str | None,
        status: TurnStatus | str | None,
        name: str | None,
        since_ms: int | None,
        until_ms: int | None,
        search: str | None,
        after: TurnCursor | None,
        newest_first: bool,
        limit: int,
        live: bool = False,
    ) -> TurnFilter:
        """The filter, or ``invalid_argument`` for an unknown status or a malformed cursor."""
        for value, what in ((session_id, "session id"), (name, "turn name"), (search, "id")):
            if value is not None and (not isinstance(value, str) or "\x00" in value):
                raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"a {what} is text without NUL: {value!r}")
        for bound, what in ((since_ms, "since_ms"), (until_ms, "until_ms")):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"{what} is ms since the epoch (an int)")
        wanted = None
        if status is not None:
            try:
                wanted = TurnStatus(status)
            except ValueError:
                raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"unknown turn status {status!r}") from None
        if after is not None and not (
            len(after) == 3
            and isinstance(after[0], int)
            and isinstance(after[1], str)
            and isinstance(after[2], str)
        ):
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, f"a turn cursor is (ms, session, turn): {after!r}"
            )
        return cls(
            session_id=session_id,
            status=wanted,
            name=name,
            since_ms=since_ms,
            until_ms=until_ms,
            search=search,
            after=after,
            newest_first=newest_first,
            limit=max(int(limit), 0),
            live=live,
        )

    def admits(self, info: TurnInfo) -> bool:
        """Every filter but the status (an engine may learn a turn's exact status only when it
        reads its outcome) and the cursor (the engine's query pages)."""
        return (
            (self.session_id is None or info.session_id == self.session_id)
            and (self.name is None or info.name == self.name)
            and (self.since_ms is None or info.created_at_ms >= self.since_ms)
            and (self.until_ms is None or info.created_at_ms < self.until_ms)
            and (self.search is None or self.search in (info.session_id, info.turn_id))
        )

    def past_cursor(self, info: TurnInfo) -> bool:
        """Whether the turn comes after the cursor, in the listing's direction."""
        if self.after is None:
            return True
        key = cursor_of(info)
        return key < self.after if self.newest_first else key > self.after

    def has_status(self, info: TurnInfo) -> bool:
        return (self.status is None or info.status is self.status) and not (
            self.live and info.status in ENDED
        )
