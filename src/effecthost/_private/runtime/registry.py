"""``open_host(url)``: the one place that assembles durable hosts, from a registry of URL schemes.

A scheme maps to a :class:`SchemeSpec`: an ``open`` function that opens a :class:`Substrate` for one
host (given the host's clock and the remaining options), and optionally a ``check_schema`` that
reads a substrate's schema version without writing. memory, sqlite and postgresql are built in and
imported only when first used (so nobody imports psycopg who does not use PostgreSQL); a third party
registers its own with :func:`register_scheme`. Because this module alone builds hosts, the clock
a caller passes reaches the substrate and the host alike.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ..core.clock import SYSTEM_CLOCK, Clock
from ..core.errors import EffectHostError, ErrorCode
from ..journal.model import LeaseTimings
from ..stores.base import SchemaStatus, SchemeSpec
from .durable import DEFAULT_LEASE_TTL_MS, DurableEffectHost
from .interceptors import Interceptor
from .turn_control import DEFAULT_MAX_PAYLOAD_BYTES

#: A lease is how long a crashed owner's claim blocks its successor; past a day it is a typo (and
#: a ttl of 1e300 s would overflow every store's timestamps).
MAX_LEASE_TTL_S = 86_400


#: Built-in schemes, imported on first use: scheme -> (module, attribute of its SchemeSpec).
_BUILT_IN = {
    "memory": ("effecthost._private.stores.memory", "SCHEME"),
    "sqlite": ("effecthost._private.stores.sqlite", "SCHEME"),
    "postgresql": ("effecthost._private.stores.postgres", "SCHEME"),
    "postgres": ("effecthost._private.stores.postgres", "SCHEME"),
}
_EXTRAS = {"postgresql": "postgres", "postgres": "postgres"}
_REGISTERED: dict[str, SchemeSpec] = {}
#: Engine URL schemes (``effecthost.engines``): named here only to point their users the right way.
_ENGINES = {
    "restate": "restate",
    "restate+http": "restate",
    "restate+https": "restate",
    "temporal": "temporal",
}


def register_scheme(scheme: str, spec: SchemeSpec) -> None:
    """Make ``open_host("<scheme>://...")`` open substrates with ``spec`` (replacing any earlier)."""
    if not isinstance(scheme, str) or not scheme.isascii() or not scheme.isalnum():
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID, f"a URL scheme is letters and digits: {scheme!r}"
        )
    if not isinstance(spec, SchemeSpec):
        raise EffectHostError(ErrorCode.HOST_OPTION_INVALID, "register_scheme needs a SchemeSpec")
    _REGISTERED[scheme.lower()] = spec


def scheme_of(url: object) -> tuple[str, SchemeSpec]:
    """The URL's scheme and how to open it; coded errors for what is not a host URL."""
    if not isinstance(url, str) or "://" not in url:
        raise EffectHostError(ErrorCode.HOST_URL_INVALID, f"not a host URL: {url!r}")
    scheme = urlsplit(url).scheme.lower()
    spec = _REGISTERED.get(scheme)
    if spec is not None:
        return scheme, spec
    engine = _ENGINES.get(scheme)
    if engine is not None:
        # an engine is not a substrate: its turns run inside the engine, not on a DurableEffectHost
        raise EffectHostError(
            ErrorCode.HOST_URL_UNSUPPORTED,
            f"{scheme}:// is the {engine} engine, not a database: open its deployment-side host with"
            f" effecthost.engines.open_engine_host({url!r}) (see docs/{engine}.md)",
        )
    if scheme not in _BUILT_IN:
        known = ", ".join(f"{name}://" for name in sorted({*_BUILT_IN, *_REGISTERED} - {"postgres"}))
        raise EffectHostError(
            ErrorCode.HOST_URL_UNSUPPORTED, f"unsupported host URL scheme {scheme!r}; use one of {known}"
        )
    module_name, attribute = _BUILT_IN[scheme]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get(scheme, "")
        raise EffectHostError(
            ErrorCode.EXTRA_NOT_INSTALLED,
            f"{scheme}:// hosts need {exc.name}: pip install 'effecthost[{extra}]'",
        ) from None
    built: SchemeSpec = getattr(module, attribute)
    return scheme, built


def lease_from(lease_ttl_s: float | None) -> LeaseTimings:
    if lease_ttl_s is None:
        return LeaseTimings(DEFAULT_LEASE_TTL_MS)
    if (
        isinstance(lease_ttl_s, bool)
        or not isinstance(lease_ttl_s, (int, float))
        or not math.isfinite(lease_ttl_s)
        or not 0 < lease_ttl_s <= MAX_LEASE_TTL_S
    ):
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID,
            f"lease_ttl_s must be a number of seconds in (0, {MAX_LEASE_TTL_S}], not {lease_ttl_s!r}",
        )
    return LeaseTimings(max(3, int(lease_ttl_s * 1000)))


async def open_host(
    url: str,
    *,
    lease_ttl_s: float | None = None,
    clock: Clock | None = None,
    interceptors: Iterable[Interceptor] = (),
    max_turn_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
    **options: Any,
) -> DurableEffectHost:
    """Open a durable host. Two hosts on the same URL share journal, await events and secret.

    ``clock`` (default: the system clock) is the clock of the substrate's leases and due times and
    of the host's waits alike; ``interceptors`` wrap every effect and await-event call, outermost
    first; ``max_turn_payload_bytes`` bounds a turn's input, result and each effect's value (UTF-8 bytes
    of their canonical JSON), the same on every substrate. Other keyword options go to the
    substrate (e.g. ``synchronous=`` on SQLite).
    """
    _, spec = scheme_of(url)
    if (
        isinstance(max_turn_payload_bytes, bool)
        or not isinstance(max_turn_payload_bytes, int)
        or max_turn_payload_bytes < 1
    ):
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID,
            f"max_turn_payload_bytes must be a positive int, not {max_turn_payload_bytes!r}",
        )
    lease = lease_from(lease_ttl_s)
    use_clock = clock or SYSTEM_CLOCK
    interceptors = tuple(interceptors)
    substrate = await spec.open(url, clock=use_clock, options=options)
    try:
        return DurableEffectHost(
            substrate,
            url=url,
            clock=use_clock,
            lease=lease,
            interceptors=interceptors,
            max_turn_payload_bytes=max_turn_payload_bytes,
        )
    except BaseException:
        await substrate.close()
        raise


async def check_schema(url: str) -> SchemaStatus:
    """The schema version a substrate holds, read without writing (``effecthost migrate --check``)."""
    scheme, spec = scheme_of(url)
    if spec.check_schema is None:
        raise EffectHostError(
            ErrorCode.SCHEMA_CHECK_UNSUPPORTED,
            f"{scheme}:// substrates have no schema to check without opening",
        )
    return await spec.check_schema(url)
