"""Hosts on distributed engines: a turn's effects journaled by the engine instead of a SQL store.

- :mod:`effecthost.engines.restate` (extra ``restate``): Restate.

Engines build on public roots only (``effecthost``, ``effecthost.engine``), so a third party
can write one the same way.
"""
