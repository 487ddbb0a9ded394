"""The seam for backend authors: what a substrate implements, and how ``open_host`` finds it.

A substrate is opened per host by an ``open`` function registered for a URL scheme
(:func:`register_scheme`); it returns a :class:`Substrate`: a :class:`JournalStore` (the atoms of
replay), a :class:`JournalBrowser` (what operators read and retire), an :class:`AwaitStore` (the
first-writer-wins promise table, with its :class:`WakeHub`), the :class:`Capabilities` it declares,
optional :class:`LeaseHooks` for the conformance kit, and how to close it. ``decide_claim`` is the
claim decision every journal store applies inside its write transaction. The conformance kit in
:mod:`effecthost.testing` proves a substrate; docs/writing-a-host.md walks through a complete one.
"""

from .._private.awaits.hub import Subscription, WakeHub
from .._private.awaits.store import AwaitStore, Inspection, PendingPromise, PromiseIdentity, StoreResult
from .._private.core.errors import backend_code
from .._private.core.exports import claim_exports
from .._private.core.identity import session_journal_key_ranges
from .._private.journal.decisions import decide_claim, decide_replay
from .._private.journal.model import (
    Busy,
    Claimed,
    ClaimRequest,
    CorruptRow,
    Decision,
    HashConflict,
    Insert,
    JournalRow,
    LeaseFence,
    ReplayError,
    ReplayOutcome,
    ScopeSummary,
    SessionSummary,
    Status,
    StrictReplayMiss,
    TakeOver,
    Write,
)
from .._private.journal.store import JournalBrowser, JournalStore, LeaseHooks
from .._private.runtime.registry import check_schema, register_scheme
from .._private.stores.base import Capabilities, OpenSubstrate, SchemaStatus, SchemeSpec, Substrate

__all__ = [
    "AwaitStore",
    "Busy",
    "Capabilities",
    "ClaimRequest",
    "Claimed",
    "CorruptRow",
    "Decision",
    "HashConflict",
    "Insert",
    "Inspection",
    "JournalBrowser",
    "JournalRow",
    "JournalStore",
    "LeaseFence",
    "LeaseHooks",
    "OpenSubstrate",
    "PendingPromise",
    "PromiseIdentity",
    "ReplayError",
    "ReplayOutcome",
    "SchemaStatus",
    "SchemeSpec",
    "ScopeSummary",
    "SessionSummary",
    "Status",
    "StoreResult",
    "StrictReplayMiss",
    "Subscription",
    "Substrate",
    "TakeOver",
    "WakeHub",
    "Write",
    "backend_code",
    "check_schema",
    "decide_claim",
    "decide_replay",
    "register_scheme",
    "session_journal_key_ranges",
]

claim_exports(globals())
