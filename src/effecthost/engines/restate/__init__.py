"""effecthost on Restate (extra ``restate``): the same turns on a distributed engine.

- :class:`RestateController`: the handler-scoped controller (journaled runs named after replay
  keys, durable timers, durable waits).
- :func:`restate_app` / :func:`restate_services`: the endpoint's services (turns, waits, index).
- :class:`RestateEffectHost`: the deployment side: mints keys, resolves/peeks/cancels/revokes
  through the ingress, starts, awaits, cancels and lists turns.
- :class:`RestateServer`, :class:`Endpoint`: run ``restate-server`` and an endpoint locally.

See docs/restate.md.
"""

from effecthost import EffectHostError, ErrorCode

try:
    import restate as _restate  # noqa: F401
except ImportError as exc:  # pragma: no cover - the message is the point
    raise EffectHostError(
        ErrorCode.EXTRA_NOT_INSTALLED,
        "effecthost.engines.restate needs the restate extra: pip install 'effecthost[restate]'",
    ) from exc

from .config import RestateConfig
from .controller import RestateController
from .devserver import Endpoint, RestateServer, find_server_binary
from .host import RestateEffectHost, RestateTurnHandle, open_restate_host
from .services import RestateTurnEngine, restate_app, restate_services

__all__ = [
    "Endpoint",
    "RestateConfig",
    "RestateController",
    "RestateEffectHost",
    "RestateServer",
    "RestateTurnEngine",
    "RestateTurnHandle",
    "find_server_binary",
    "open_restate_host",
    "restate_app",
    "restate_services",
]
