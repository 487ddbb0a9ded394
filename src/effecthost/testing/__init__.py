"""Testing aids: the conformance kit (``effecthost.testing.conformance``) and a manual clock."""

from .._private.core.clock import ManualClock
from .._private.core.exports import claim_exports

__all__ = ["ManualClock"]

claim_exports(globals())
