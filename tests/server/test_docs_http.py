"""docs/http-api.md carries a generated reference of every route; this test keeps it in step.

Regenerate with ``EFFECTHOST_UPDATE_DOCS=1 .venv/bin/pytest tests/server/test_docs_http.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from effecthost.server.openapi import openapi_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "http-api.md"
SERVER = Path(__file__).resolve().parents[2] / "src" / "effecthost" / "server"
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


def test_every_status_and_code_the_server_answers_is_in_the_error_table() -> None:
    """Each `<status>, "<code>"` pair written in the server's source has its row in the table."""
    pairs = {
        (int(status), code)
        for source in SERVER.glob("*.py")
        for status, code in re.findall(r'\b([1-5]\d\d),\s+"([a-z_]+)"', source.read_text())
    }
    assert (408, "request_body_timeout") in pairs  # the pattern spans line breaks
    table = {
        int(row[0]): row[1]
        for row in re.findall(r"^\| (\d{3}) \| (.*) \|$", DOC.read_text(), flags=re.MULTILINE)
    }
    missing = sorted((s, c) for s, c in pairs if f"`{c}`" not in table.get(s, ""))
    assert missing == []
