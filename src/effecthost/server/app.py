"""``create_app``: the Starlette application — JSON API under /v1, health probes, the web page."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from .. import EffectHostError, ErrorCode, open_host
from ..engines import engine_of_url, open_engine_host
from . import console, docs, routes, sessions
from .access import Access, require
from .errors import HANDLERS, ApiError
from .metrics import Metrics, metrics_or_none
from .middleware import BodyDeadline, RequestLog, SecurityHeaders
from .openapi import openapi_document

STATIC_DIR = Path(__file__).parent / "static"
DEFAULT_MAX_BODY_BYTES = 1_048_576
DEFAULT_BODY_TIMEOUT_S = 10.0


class EffectHostApp(Starlette):
    """Starlette with the body deadline and security headers outside even its error middleware."""

    body_timeout_s = DEFAULT_BODY_TIMEOUT_S
    metrics: Metrics | None = None

    def build_middleware_stack(self) -> ASGIApp:
        inner = SecurityHeaders(BodyDeadline(super().build_middleware_stack(), self.body_timeout_s))
        return RequestLog(inner, self.metrics)


async def _openapi(_: Request) -> JSONResponse:
    return JSONResponse(openapi_document())


async def _metrics(request: Request) -> Response:
    require(request, "admin")
    metrics: Metrics | None = request.app.state.metrics
    if metrics is None:
        raise ApiError(
            404,
            "metrics_unavailable",
            "GET /metrics needs the Prometheus exporter: pip install 'effecthost[prometheus]'",
        )
    await metrics.refresh(routes.any_host_of(request))
    return Response(metrics.render(), media_type=metrics.content_type)


async def _index(_: Request) -> Response:
    # no-store: the page is tiny and must never be served stale after an upgrade
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})


def api_routes() -> list[BaseRoute]:
    """The routes the OpenAPI document describes (a test keeps the two in step)."""
    session = "/v1/sessions/{session_id:path}"
    path, query, body = sessions.from_path, sessions.from_query, sessions.from_body
    return [
        Route("/healthz", routes.healthz, methods=["GET"]),
        Route("/readyz", routes.readyz, methods=["GET"]),
        Route("/v1/openapi.json", _openapi, methods=["GET"]),
        Route("/v1/docs", docs.page, methods=["GET"]),
        Route("/v1/await-events", sessions.endpoint(sessions.waits, query), methods=["GET"]),
        Route("/v1/await-events/{token}", routes.peek, methods=["GET"]),
        Route("/v1/await-events/{token}/resolve", routes.resolve, methods=["POST"]),
        Route("/v1/sessions", routes.list_sessions, methods=["GET"]),
        # the body form carries any session id (see sessions.py); the path form below cannot
        Route("/v1/sessions/cancel", sessions.endpoint(sessions.cancel, body), methods=["POST"]),
        Route("/v1/sessions/revoke", sessions.endpoint(sessions.revoke, body), methods=["POST"]),
        Route("/v1/sessions/retire", sessions.endpoint(sessions.retire, body), methods=["POST"]),
        Route(session + "/await-events", sessions.endpoint(sessions.waits, path), methods=["GET"]),
        Route(session + "/cancel", sessions.endpoint(sessions.cancel, path), methods=["POST"]),
        Route(session + "/revoke", sessions.endpoint(sessions.revoke, path), methods=["POST"]),
        Route(session + "/retire", sessions.endpoint(sessions.retire, path), methods=["POST"]),
        Route("/v1/scopes", routes.list_scopes, methods=["GET"]),
        Route("/v1/effects", routes.list_effects, methods=["GET"]),
        Route("/v1/turns", console.list_turns, methods=["GET"]),
        Route("/v1/turns", console.start_turn, methods=["POST"]),
        Route("/v1/turn", console.get_turn, methods=["GET"]),
        Route("/v1/turns/result", console.turn_result, methods=["GET"]),
        Route("/v1/turns/cancel", console.cancel_turn, methods=["POST"]),
        Route("/v1/turns/resume", console.resume_turn, methods=["POST"]),
        Route("/v1/turns/fork", console.fork_turn, methods=["POST"]),
        Route("/v1/waits", console.list_waits, methods=["GET"]),
        Route("/v1/changes", console.changes, methods=["GET"]),
    ]


def create_app(
    host_url: str,
    *,
    admin_token: str | None,
    resolve_token: str | None = None,
    tokens: Mapping[str, tuple[str, str]] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    metrics: bool = True,
) -> Starlette:
    """An ASGI app that opens the host at startup and closes it at shutdown.

    ``admin_token=None`` (and no ``tokens``) disables every operator route (403
    ``admin_disabled``); ``resolve_token`` additionally guards resolve and peek. ``tokens`` names
    more operators: ``{name: (role, secret)}`` with role ``viewer``, ``resolver`` or ``admin``
    (see access.py). Bodies above ``max_body_bytes`` get 413; a body that has
    not fully arrived ``body_timeout_s`` seconds after the request head gets 408. ``metrics``:
    serve ``GET /metrics`` (admin) when the Prometheus exporter is installed.
    """
    for name, token in (("admin_token", admin_token), ("resolve_token", resolve_token)):
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise EffectHostError(ErrorCode.HOST_OPTION_INVALID, f"{name} must be a non-empty string")
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
        raise EffectHostError(ErrorCode.HOST_OPTION_INVALID, "max_body_bytes must be a positive int")

    if (
        isinstance(body_timeout_s, bool)
        or not isinstance(body_timeout_s, int | float)
        or not 0 < body_timeout_s < math.inf
    ):
        raise EffectHostError(
            ErrorCode.HOST_OPTION_INVALID, "body_timeout_s must be a positive finite number"
        )

    meters = metrics_or_none() if metrics else None
    access = Access(admin_token, resolve_token, tokens)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if engine_of_url(host_url) is not None:  # an engine's deployment side: turns run in the engine
            app.state.host = await open_engine_host(host_url)
        else:
            interceptors = []
            if meters is not None:
                from ..contrib.otel import OTelInterceptor

                interceptors.append(OTelInterceptor(meter_provider=meters.provider))
            app.state.host = await open_host(host_url, interceptors=interceptors)
        try:
            yield
        finally:
            host, app.state.host = app.state.host, None
            await host.aclose()

    page = [
        Route("/metrics", _metrics, methods=["GET"]),
        Route("/", _index, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = EffectHostApp(
        routes=[*api_routes(), *page],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
    app.body_timeout_s = float(body_timeout_s)
    app.metrics = meters
    app.state.metrics = meters
    app.state.host = None
    app.state.host_url = host_url
    app.state.access = access
    app.state.max_body_bytes = max_body_bytes
    return app
