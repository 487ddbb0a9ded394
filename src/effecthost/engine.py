"""The seam for engine-backed hosts: what a host that journals effects in another engine
(``effecthost.engines.restate``) needs from effecthost, and nothing an agent author uses.

- canonical JSON (``canonical_dumps``/``canonical_loads``/``canonical_normalize``) and
  ``outcome_from_json``: the journaled shapes, byte for byte what the SQL hosts record;
- ``mint_await_event_key``/``authenticate_await_event_key``: effecthost's signed v3 keys;
- ``mismatch_error``: the replay-mismatch diagnostic (divergent JSON paths) with the engine's code;
- ``dump_effect_record``/``load_effect_record``: the record an engine journals per effect (the
  envelope, its hash, the outcome or the error), and ``timeline_rows``: a turn's records read
  back as ``JournalRow`` values, the timeline the SQL hosts list;
- ``TurnEngine`` and ``run_engine_turn``: run a ``@durable_turn`` function through the engine's
  controller, timers and waits, so the same turn code runs on every host; an engine that is also
  a ``ParkingEngine`` is told what the turn is parked on (for its listings).
"""

from ._private.awaits.keys import authenticate as authenticate_await_event_key
from ._private.awaits.keys import mint as mint_await_event_key
from ._private.core.canonical import dumps as canonical_dumps
from ._private.core.canonical import loads as canonical_loads
from ._private.core.canonical import normalize as canonical_normalize
from ._private.core.exports import claim_exports
from ._private.core.outcomes import outcome_from_json
from ._private.journal.engine_records import (
    UNSETTLED,
    EffectRecord,
    TimelineEntry,
    dump_effect_record,
    load_effect_record,
    settle_wait_row,
    timeline_rows,
)
from ._private.journal.mismatch import mismatch_error
from ._private.turns.engine import run_engine_turn
from ._private.turns.turn import ParkingEngine, TurnEngine

__all__ = [
    "EffectRecord",
    "ParkingEngine",
    "TimelineEntry",
    "TurnEngine",
    "UNSETTLED",
    "authenticate_await_event_key",
    "canonical_dumps",
    "canonical_loads",
    "canonical_normalize",
    "dump_effect_record",
    "load_effect_record",
    "mint_await_event_key",
    "mismatch_error",
    "outcome_from_json",
    "run_engine_turn",
    "settle_wait_row",
    "timeline_rows",
]

claim_exports(globals())
