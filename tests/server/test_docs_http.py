"""docs/http-api.md carries a generated reference of every route; this test keeps it in step.

Regenerate with ``EFFECTHOST_UPDATE_DOCS=1 .venv/bin/pytest tests/server/test_docs_http.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from effecthost.server.openapi import openapi_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "http-api.md"
BEGIN, END = "<!-- BEGIN GENERATED ROUTES -->", "<!-- END GENERATED ROUTES -->"


def render() -> str:
    lines = []
    for path, ops in openapi_document()["paths"].items():
        for method, op in ops.items():
            security = op.get("security")
            if security is None:
                auth = "none"
            elif {"adminBearer": []} in security:
                auth = "admin bearer token"
            else:
                auth = "the key token in the path (+ resolve bearer token when configured)"
            statuses = ", ".join(sorted(op["responses"]))
            lines += [f"### `{method.upper()} {path}`", "", op["summary"], ""]
            lines += [f"- auth: {auth}", f"- statuses: {statuses}"]
            params = [p["name"] + f" ({p['in']})" for p in op.get("parameters", [])]
            if params:
                lines.append("- parameters: " + ", ".join(params))
            if "requestBody" in op:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                lines.append(f"- body: a {ref.rsplit('/', 1)[1]} (JSON)")
            lines.append("")
    return "\n".join(lines)


def test_http_api_doc_lists_every_route() -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    fresh = f"{head}{BEGIN}\n{render()}{END}{tail}"
    if os.environ.get("EFFECTHOST_UPDATE_DOCS"):
        DOC.write_text(fresh)
        return
    assert text == fresh, "docs/http-api.md is stale: rerun with EFFECTHOST_UPDATE_DOCS=1"
