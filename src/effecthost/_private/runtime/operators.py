"""What the console reads that the turn API does not: promise rows across sessions (the inbox,
who resolved a wait) and turn listings with filters and keyset paging.

Both need optional store methods (``AwaitRecords.list_records``, ``query_turns``) that the
first-party stores have; a third-party store without them gets ``unsupported``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..awaits import keys
from ..awaits.store import AwaitRecord, AwaitStore
from ..core import canonical
from ..core.await_values import AwaitEventKey, WaitIdentity
from ..core.errors import EffectHostError, ErrorCode
from ..core.identity import ExecutionScope, check_id
from ..core.resolutions import Resolution
from ..lifecycle.model import TurnStatus
from ..lifecycle.query import TurnCursor, TurnQuery
from ..lifecycle.store import TurnStore
from .turn_control import TurnInfo

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class AwaitEventRecord:
    """One await event as operators see it: its key (``key.to_token()`` resolves it), whether and
    how it was resolved, when and by whom (``resolved_by``: the name a resolver gave, such as an
    operator token's name or "webhook"; None when not said)."""

    key: AwaitEventKey
    session_id: str | None
    created_at_ms: int
    resolution: Resolution | None
    resolved_at_ms: int | None
    resolved_by: str | None

    @property
    def cursor(self) -> tuple[int, str]:
        """Where the next page starts (pass it as ``after=``)."""
        return (self.created_at_ms, self.key.key_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "token": self.key.to_token(),
            "key_id": self.key.key_id,
            "session_id": self.session_id,
            "scope": self.key.scope.to_json(),
            "wait": self.key.wait.to_json(),
            "created_at_ms": self.created_at_ms,
            "status": "pending" if self.resolution is None else "resolved",
            "resolution": None if self.resolution is None else self.resolution.to_json(),
            "resolved_at_ms": self.resolved_at_ms,
            "resolved_by": self.resolved_by,
        }


def _unsupported(code: ErrorCode, what: str) -> EffectHostError:
    return EffectHostError(code, f"this substrate's store cannot list {what}")


def _limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise EffectHostError(
            ErrorCode.INVALID_ARGUMENT, f"limit is an int in [1, {MAX_PAGE}], not {limit!r}"
        )
    return limit


async def list_await_records(
    store: AwaitStore,
    secret: bytes,
    *,
    session_id: str | None,
    pending: bool,
    limit: int,
    after: tuple[int, str] | None,
) -> list[AwaitEventRecord]:
    lister = getattr(store, "list_records", None)
    if lister is None:
        raise _unsupported(ErrorCode.AWAIT_EVENT_UNSUPPORTED, "await events")
    if session_id is not None:
        check_id(session_id, "session id")
    rows: list[AwaitRecord] = await lister(session_id, pending, _limit(limit), after)
    out: list[AwaitEventRecord] = []
    for row in rows:
        scope = ExecutionScope.from_json(canonical.loads(row.scope_json))
        wait = WaitIdentity.from_json(canonical.loads(row.wait_json))
        resolution = (
            None if row.terminal_json is None else Resolution.from_json(canonical.loads(row.terminal_json))
        )
        out.append(
            AwaitEventRecord(
                keys.mint(secret, scope, wait), row.session_id, row.created_at_ms, resolution,
                row.resolved_at_ms, row.resolved_by,
            )
        )
    return out


async def query_turns(
    store: TurnStore,
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
) -> list[TurnInfo]:
    query_fn = getattr(store, "query_turns", None)
    if query_fn is None:
        raise _unsupported(ErrorCode.TURNS_UNSUPPORTED, "turns by filter")
    for value, what in ((session_id, "session id"), (name, "turn name"), (search, "id")):
        if value is not None:
            check_id(value, what)
    try:
        wanted = None if status is None else TurnStatus(status)
    except ValueError:
        raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"unknown turn status {status!r}") from None
    for bound, what in ((since_ms, "since_ms"), (until_ms, "until_ms")):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"{what} is ms since the epoch (an int)")
    if after is not None and not (
        isinstance(after, tuple)
        and len(after) == 3
        and isinstance(after[0], int)
        and isinstance(after[1], str)
        and isinstance(after[2], str)
    ):
        raise EffectHostError(
            ErrorCode.INVALID_ARGUMENT, "after is a (created_at_ms, session_id, turn_id) cursor"
        )
    query = TurnQuery(
        session_id, wanted, name, since_ms, until_ms, search, after, bool(newest_first), _limit(limit)
    )
    return [TurnInfo.of(r) for r in await query_fn(query)]
