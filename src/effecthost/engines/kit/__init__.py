"""What every engine's code does the same way, written once (Restate and Temporal use it).

An engine differs in how it journals and where it keeps a session's waits; around that, much is
the same: the deployment side refuses to run effects, a turn handle reads its host, a resolve's
answer and a wait's terminal decode alike, a config holds a signing secret and byte budgets, a
record read back is checked against the current envelope, a local server is stopped by PID. An
engine passes its own error codes and names where they differ.

Public roots only (``effecthost``, ``effecthost.engine``) and no engine SDK: the engines package
imports without the extras, and a third-party engine may build on this package too.

- :mod:`.errors`: the shared errors and checks (budgets with the engine's code);
- :mod:`.config`: the signing secret, byte sizes, a wait's digest;
- :mod:`.records`: records, resolve answers and wait terminals read back;
- :mod:`.turns`: inside a turn (``EngineController``, ``TurnEngineBase``, ``turn_registry``);
- :mod:`.deployment`: the deployment side (``DeploymentHost``, ``HostTurnHandle``,
  ``RefusingController``, ``offer_stop``);
- :mod:`.listing`: turn listings' filters and cursors (``TurnFilter``);
- :mod:`.servers`: local servers' ports and stops.
"""

from .config import check_byte_sizes, check_secret, key_digest, secret_from_env
from .deployment import DeploymentHost, HostTurnHandle, RefusingController, offer_stop, turn_request
from .errors import (
    check_session,
    error_body,
    over_budget,
    refuse_over_budget,
    turn_not_found,
    turn_result_timeout,
    unknown_or_revoked,
)
from .listing import ENDED, TurnCursor, TurnFilter, cursor_of
from .records import outcome_of_record, resolve_outcome, settle_early_waits, terminal_of, wait_of_record
from .servers import free_port, stop_process
from .turns import EngineController, TurnEngineBase, turn_registry

__all__ = [
    "ENDED",
    "TurnCursor",
    "TurnFilter",
    "cursor_of",
    "DeploymentHost",
    "EngineController",
    "HostTurnHandle",
    "RefusingController",
    "TurnEngineBase",
    "check_byte_sizes",
    "check_secret",
    "check_session",
    "error_body",
    "free_port",
    "key_digest",
    "offer_stop",
    "outcome_of_record",
    "over_budget",
    "refuse_over_budget",
    "resolve_outcome",
    "secret_from_env",
    "settle_early_waits",
    "stop_process",
    "terminal_of",
    "turn_not_found",
    "turn_registry",
    "turn_request",
    "turn_result_timeout",
    "unknown_or_revoked",
    "wait_of_record",
]
