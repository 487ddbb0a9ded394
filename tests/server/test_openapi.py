"""The served OpenAPI document describes exactly the app's routes, and fuzzing it finds no 5xx."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from server_support import ADMIN, ThreadedServer, make_app
from starlette.routing import Route

from effecthost.server.app import api_routes
from effecthost.server.openapi import openapi_document

SCHEMA = schemathesis.openapi.from_dict(openapi_document())


def _route_operations() -> set[tuple[str, str]]:
    out = set()
    for route in api_routes():
        assert isinstance(route, Route)
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)  # {session_id:path} → {session_id}
        out |= {(path, m.lower()) for m in route.methods or () if m != "HEAD"}
    return out


def test_openapi_document_lists_exactly_the_api_routes() -> None:
    documented = {
        (path, method) for path, ops in openapi_document()["paths"].items() for method in ops
    }
    assert documented == _route_operations()


async def test_the_document_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/openapi.json")
    assert response.json() == openapi_document()


@pytest.fixture(scope="module")
def live_url() -> Iterator[str]:
    with ThreadedServer(make_app(f"memory://fuzz-{uuid.uuid4().hex}", max_body_bytes=4096)) as srv:
        yield srv.url


@pytest.mark.timeout(300)
@SCHEMA.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_generated_requests_never_get_a_5xx(case: schemathesis.Case, live_url: str) -> None:
    """Schema-driven and schema-violating inputs, with and without the admin token."""
    if case.path == "/v1/turns/result" and isinstance(case.query, dict) and "timeout_s" in case.query:
        # a fuzzed turn has no worker: awaiting it would only wait out the whole (valid) timeout
        with contextlib.suppress(TypeError, ValueError):
            if float(case.query["timeout_s"]) > 0.1:
                case.query["timeout_s"] = "0.1"
    for headers in ({"Authorization": f"Bearer {ADMIN}"}, {}):
        response = case.call(base_url=live_url, headers=headers)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        if case.formatted_path == "/v1/docs" and response.status_code == 200:
            assert response.headers["content-type"][0].startswith("text/html")  # the rendered page
            continue
        assert response.headers["content-type"][0].startswith("application/json")
        body = response.json()
        if response.status_code >= 400:
            assert set(body) == {"code", "message"}


async def test_the_docs_page_renders_every_operation_without_scripts(client: httpx.AsyncClient) -> None:
    page = await client.get("/v1/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "<script" not in text
    links = re.findall(r'(?:href|src)="([^"]*)"', text)
    assert links and all(link.startswith(("/", "#")) for link in links)  # nothing off this server
    for path, ops in openapi_document()["paths"].items():
        for method in ops:
            assert f'<span class="method">{method.upper()}</span> <code>{path}</code>' in text
    assert 'id="schema-Turn"' in text
