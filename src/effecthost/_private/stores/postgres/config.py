"""Options of a PostgreSQL host: taken from the URL query and from ``open_host`` keywords.

Parsing needs no driver, so a bad option fails before psycopg is imported. effecthost's own query
parameters are removed from the URL; everything else is passed to libpq unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...core.errors import EffectHostError, ErrorCode

DEFAULT_SCHEMA = "effecthost"
#: Per outcome, error and envelope: big enough for any sane LLM transcript, small enough that one
#: runaway value cannot exhaust the server's memory or the 1 GiB ``text`` limit.
DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
# Unquoted-identifier shape only, and short enough that the NOTIFY channel and the
# application_name built from it stay under PostgreSQL's 63-byte identifier limit.
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")

#: What libpq accepts in a connection URI's query (PostgreSQL 17's list); anything else is refused
#: here, at once, as SQLite refuses an unknown option, instead of reaching the driver.
LIBPQ_KEYS = frozenset(
    {
        "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "require_auth",
        "channel_binding", "connect_timeout", "client_encoding", "options",
        "fallback_application_name", "keepalives", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "replication", "gssencmode", "sslmode",
        "sslnegotiation", "requiressl", "sslcompression", "sslcert", "sslkey", "sslpassword",
        "sslcertmode", "sslrootcert", "sslcrl", "sslcrldir", "sslsni", "requirepeer",
        "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname", "gsslib",
        "gssdelegation", "service", "target_session_attrs", "load_balance_hosts",
    }
)  # fmt: skip
_OWN_KEYS = (
    "schema",
    "pool_min_size",
    "pool_max_size",
    "pool_size",
    "max_payload_bytes",
    "connect_timeout_s",
)


@dataclass(frozen=True, slots=True)
class PostgresOptions:
    conninfo: str  # the URL without effecthost's parameters (libpq parses it)
    schema: str
    pool_min_size: int
    pool_max_size: int
    max_payload_bytes: int
    connect_timeout_s: float
    application_name: str

    @property
    def channel(self) -> str:
        """The NOTIFY channel of this schema: wake-ups never cross schemas."""
        return f"effecthost_{self.schema}"

    @property
    def listen_application_name(self) -> str:
        return f"effecthost-listen:{self.schema}"


def _invalid(message: str) -> EffectHostError:
    return EffectHostError(ErrorCode.HOST_OPTION_INVALID, message)


def _int(name: str, value: Any, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} must be an integer, got {value!r}") from None
    if isinstance(value, bool) or number < minimum:
        raise _invalid(f"{name} must be an integer ≥ {minimum}, got {value!r}")
    return number


def _float(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not number > 0:
        raise _invalid(f"{name} must be a positive number, got {value!r}")
    return number


def parse_options(url: str, overrides: dict[str, Any]) -> PostgresOptions:
    """Merge URL query parameters with keyword options (keywords win)."""
    unknown = set(overrides) - {*_OWN_KEYS, "application_name"}
    if unknown:
        raise _invalid(f"unknown PostgreSQL host options: {sorted(unknown)}")
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {k: v for k, v in query if k in _OWN_KEYS}
    rest = [(k, v) for k, v in query if k not in _OWN_KEYS and k != "application_name"]
    strange = sorted({k for k, _ in rest} - LIBPQ_KEYS)
    if strange:
        raise _invalid(
            f"unknown PostgreSQL URL option(s) {strange}: effecthost takes {sorted(_OWN_KEYS)} "
            "and application_name, libpq its connection parameters"
        )
    app = dict(query).get("application_name")
    merged: dict[str, Any] = {**own, **{k: v for k, v in overrides.items() if v is not None}}
    schema = str(merged.get("schema", DEFAULT_SCHEMA))
    if not _SCHEMA_RE.match(schema):
        raise _invalid(
            f"schema {schema!r} must match {_SCHEMA_RE.pattern} (lowercase letters, digits, underscore)"
        )
    max_size = _int("pool_max_size", merged.get("pool_max_size", merged.get("pool_size", 10)), 1)
    min_size = _int("pool_min_size", merged.get("pool_min_size", min(1, max_size)), 0)
    if min_size > max_size:
        raise _invalid("pool_min_size must not exceed pool_max_size")
    app_name = overrides.get("application_name") or app or f"effecthost:{schema}"
    return PostgresOptions(
        conninfo=urlunsplit(parts._replace(query=urlencode(rest))),
        schema=schema,
        pool_min_size=min_size,
        pool_max_size=max_size,
        max_payload_bytes=_int(
            "max_payload_bytes", merged.get("max_payload_bytes", DEFAULT_MAX_PAYLOAD_BYTES), 1
        ),
        connect_timeout_s=_float("connect_timeout_s", merged.get("connect_timeout_s", 10.0)),
        application_name=str(app_name),
    )
