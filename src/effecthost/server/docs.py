"""``GET /v1/docs``: the OpenAPI document rendered as one plain HTML page, by the server itself.

Swagger UI or Redoc would need their scripts from a CDN (or vendored megabytes); this page needs
nothing but the document and the site's stylesheet, works without JavaScript, and fits the
Content-Security-Policy (no inline script or style).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from .openapi import openapi_document


def _schema_text(schema: Any) -> str:
    if isinstance(schema, dict) and "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    return f"<code>{escape(json.dumps(schema, separators=(', ', ': ')))}</code>"


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    anchor = f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "")
    parts = [
        f'<section class="op" id="{escape(anchor)}"><h3><span class="method">{method.upper()}</span> '
        f"<code>{escape(path)}</code></h3><p>{escape(op.get('summary', ''))}</p>"
    ]
    security = [next(iter(s), "none") for s in op.get("security", [{}])]
    parts.append(f"<p>auth: {escape(', '.join(str(s) for s in security))}</p>")
    params = op.get("parameters", [])
    if params:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td><td>{_schema_text(p.get('schema', {}))}"
            f" {escape(p.get('description', ''))}</td></tr>"
            for p in params
        )
        parts.append(
            "<table><thead><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )
    body = op.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
        parts.append(f"<p>body (JSON): {_schema_text(schema)}</p>")
    answers = []
    for status, response in op.get("responses", {}).items():
        content = response.get("content", {})
        schema = content.get("application/json", {}).get("schema")
        answers.append(f"<li><b>{escape(status)}</b> {'' if schema is None else _schema_text(schema)}</li>")
    parts.append(f"<ul>{''.join(answers)}</ul></section>")
    return "".join(parts)


def render(document: dict[str, Any]) -> str:
    info = document["info"]
    ops = [
        _operation(path, method, op)
        for path, methods in document["paths"].items()
        for method, op in methods.items()
    ]
    schemas = "".join(
        f'<section id="schema-{escape(name)}"><h3>{escape(name)}</h3>'
        f"<pre>{escape(json.dumps(schema, indent=2))}</pre></section>"
        for name, schema in document["components"]["schemas"].items()
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(info['title'])} API {escape(info['version'])}</title>"
        '<link rel="stylesheet" href="/static/style.css"></head><body class="docs">'
        f"<header><h1>{escape(info['title'])} HTTP API <small>{escape(info['version'])}</small></h1>"
        '<p>The machine-readable document: <a href="/v1/openapi.json">/v1/openapi.json</a>. '
        'Errors are <code>{"code", "message"}</code>. Operator routes take '
        "<code>Authorization: Bearer &lt;token&gt;</code>.</p></header>"
        f"<main><h2>Operations</h2>{''.join(ops)}<h2>Schemas</h2>{schemas}</main></body></html>"
    )


async def page(_: Request) -> HTMLResponse:
    return HTMLResponse(render(openapi_document()), headers={"Cache-Control": "no-store"})
