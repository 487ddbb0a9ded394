"""Hosts on distributed engines: a turn's effects journaled by the engine instead of a SQL store.

- :mod:`effecthost.engines.restate` (extra ``restate``): Restate.
- :mod:`effecthost.engines.temporal` (extra ``temporal``): Temporal.
- :func:`open_engine_host`: the deployment-side host of a ``restate://`` or ``temporal://`` URL,
  as an :class:`EngineHost` (what the command line and the HTTP service use).

Engines build on public roots only (``effecthost``, ``effecthost.engine``), so a third party
can write one the same way. This package imports no engine SDK until an engine's URL is opened.
"""

from .hosts import ENGINE_SCHEMES, EngineHost, EngineTurnHandle, engine_of_url, open_engine_host

__all__ = ["ENGINE_SCHEMES", "EngineHost", "EngineTurnHandle", "engine_of_url", "open_engine_host"]
