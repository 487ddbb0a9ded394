"""Testing aids: a manual clock, store faults on cue, and the conformance kit.

- :class:`ManualClock`: leases and due times that move only when a test says so.
- :class:`Faults` and :func:`inject_faults`: chosen store calls fail with the coded store error
  a real outage gives (:mod:`effecthost.testing.faults`).
- :mod:`effecthost.testing.conformance`: the vectors as plain async functions, ``run_all``.
- :mod:`effecthost.testing.suites` and the opt-in :mod:`effecthost.testing.pytest_plugin`: the
  vectors as pytest classes to subclass (needs the ``testing`` extra).
"""

from effecthost import ManualClock

from .faults import Faults, FaultyAwaitStore, FaultyBrowser, FaultyJournalStore, inject_faults

__all__ = [
    "Faults",
    "FaultyAwaitStore",
    "FaultyBrowser",
    "FaultyJournalStore",
    "ManualClock",
    "inject_faults",
]
