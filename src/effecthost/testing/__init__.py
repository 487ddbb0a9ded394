"""Testing aids: the conformance kit (``effecthost.testing.conformance``) and a manual clock."""

from .._private.core.clock import ManualClock

__all__ = ["ManualClock"]
