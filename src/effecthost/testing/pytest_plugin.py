"""Fixtures for the conformance suites (:mod:`effecthost.testing.suites`). Opt-in: load it with
``pytest_plugins = ["effecthost.testing.pytest_plugin"]`` in your top-level conftest.py, or
``pytest -p effecthost.testing.pytest_plugin``. It needs the ``testing`` extra.

Override one fixture to point the suites at your host:

- ``effecthost_url``: a URL ``open_host`` opens (a fresh substrate per test: a new file, schema or
  name). Every host a test opens is on it, so cold-instance vectors see one substrate.
- ``effecthost_host_factory``: for a host ``open_host`` does not build. Yield a
  :class:`~effecthost.testing.conformance.HostPool` over your ``make`` and it closes the hosts::

      @pytest_asyncio.fixture
      async def effecthost_host_factory():
          async with HostPool(MyHost) as pool:
              yield pool

- ``effecthost_lease_clock``: None when your substrate keeps its own lease clock (the lease
  vectors then really wait); ``effecthost_lease_backend`` for lease fencing by other means.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from effecthost import DurableEffectHost, ManualClock

from .conformance import HostPool, LeaseFencingBackend, SubstrateLeaseBackend
from .faults import Faults


@pytest.fixture
def effecthost_url() -> str:
    """The host URL the suites open; override it (or ``effecthost_host_factory``)."""
    pytest.fail(
        "the effecthost conformance suites need a host: override the `effecthost_url` fixture "
        "(a fresh substrate per test, e.g. sqlite:///<tmp_path>/effects.db) or "
        "`effecthost_host_factory`",
        pytrace=False,
    )


@pytest_asyncio.fixture
async def effecthost_host_factory(effecthost_url: str) -> AsyncIterator[HostPool[DurableEffectHost]]:
    """``await make(**open_host_options)`` opens a host on ``effecthost_url``; every host opened
    is closed when the test ends."""
    async with HostPool.for_url(effecthost_url) as pool:
        yield pool


@pytest.fixture
def effecthost_lease_clock() -> ManualClock | None:
    """The clock the lease-fencing hosts share: manual, so expiry and renewal are driven."""
    return ManualClock()


@pytest_asyncio.fixture
async def effecthost_lease_backend(
    effecthost_host_factory: HostPool[DurableEffectHost], effecthost_lease_clock: ManualClock | None
) -> AsyncIterator[LeaseFencingBackend]:
    """Lease fencing over the factory's hosts, through their substrate's lease hooks."""
    backend = SubstrateLeaseBackend(effecthost_host_factory, effecthost_lease_clock)
    yield backend
    await backend.aclose()


@pytest.fixture
def effecthost_faults() -> Faults:
    """A fresh :class:`Faults`; ``effecthost_faults.url(inner_url)`` is a host URL behind it."""
    return Faults()
