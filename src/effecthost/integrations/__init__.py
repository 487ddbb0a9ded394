"""Integrations of effecthost with agent frameworks, each behind its own extra.

- ``effecthost.integrations.pydantic_ai`` (``pip install 'effecthost[pydantic-ai]'``): the
  ``EffectHostDurability`` capability for pydantic-ai agents.

An integration builds on effecthost's public API only.
"""

__all__: list[str] = []
