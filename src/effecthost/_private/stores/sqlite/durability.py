"""Which commits fsync: the ``synchronous`` option of a SQLite host.

``full`` (default): every commit that records something a caller is told — a finalized outcome or
error, an await-event terminal, a revocation, a cancel sweep, a retirement, the schema — is synced
to disk before the caller hears of it (SQLite ``synchronous=FULL`` for that transaction). Lease
bookkeeping (claims, renewals, releases, pending-wait registrations) commits without an fsync:
other processes see it at once (WAL shared memory); only a power loss can take it away, and then no
process that held the lease survives either — the effect is re-claimed, exactly as after a lease
expiry. The WAL is sequential, so the next synced commit also makes the earlier ones durable.

``normal``: nothing fsyncs at commit (SQLite ``synchronous=NORMAL`` in WAL mode). A killed process
loses nothing; an OS crash or power loss may roll back the last commits (never corrupts the file),
so an effect whose outcome was returned may run again after a power loss.

``extra``: every commit fsyncs, lease bookkeeping included (plain SQLite ``synchronous=FULL``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import EffectHostError, ErrorCode

LEVELS = ("full", "normal", "extra")
DEFAULT_LEVEL = "full"


@dataclass(frozen=True, slots=True)
class Durability:
    level: str
    outcomes: bool  # fsync commits that record outcomes, terminals, revocations, retirements
    leases: bool  # fsync claims, renewals, releases and pending-wait registrations

    @classmethod
    def parse(cls, value: object) -> Durability:
        level = DEFAULT_LEVEL if value is None else value
        if not isinstance(level, str) or level.strip().lower() not in LEVELS:
            raise EffectHostError(
                ErrorCode.HOST_OPTION_INVALID,
                f"synchronous must be one of {', '.join(LEVELS)} (got {value!r})",
            )
        level = level.strip().lower()
        return cls(level, outcomes=level != "normal", leases=level == "extra")
