"""The served OpenAPI 3.0 document, written by hand; tests check it against the app's routes."""

from __future__ import annotations

from typing import Any

from .inputs import MAX_LIMIT, MAX_MS, MAX_OFFSET

_ERR = {"$ref": "#/components/schemas/Error"}
_ADMIN: list[dict[str, list[str]]] = [{"adminBearer": []}]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    out: dict[str, Any] = {"200": {"description": "OK", "content": _json(ok)}}
    for status in errors:
        out[str(status)] = {"description": "error", "content": _json(_ERR)}
    return out


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1},
    }


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


_TOKEN = _path_param("token", "an await-event token (`ehk1.` + base64url)")
_SESSION = _path_param(
    "session_id",
    "a session id, `/` allowed; clients remove `.` and `..` segments (also `%2e`) before sending, "
    "so ids with such a segment need the query/body routes (docs/http-api.md)",
)
_SESSION_QUERY = {
    **_query("session_id", {"type": "string", "minLength": 1}, required=True),
    "description": "any session id, percent-encoded as a query value",
}


def _paging() -> list[dict[str, Any]]:
    """``limit``, ``after`` (keyset) and ``offset`` (older) of a listing (``/v1/sessions``,
    ``/v1/effects``)."""
    return [
        _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
        {
            **_query("after", {"type": "string"}),
            "description": "keyset paging: a previous page's `next` (not with offset)",
        },
        {
            **_query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}),
            "description": "the older paging by position (not with after); prefer after",
        },
    ]


def _session_op(summary: str, ok: str) -> dict[str, Any]:
    """The path form of a session action (``/v1/sessions/{session_id}/...``)."""
    return {
        "post": {
            "summary": summary + " (path form)",
            "security": _ADMIN,
            "parameters": [_SESSION],
            "responses": _responses(_ref(ok), 400, 401, 403, 503),
        }
    }


def _session_body_op(summary: str, ok: str) -> dict[str, Any]:
    """The body form: ``{"session_id": ...}`` carries any id, which a path cannot."""
    return {
        "post": {
            "summary": summary,
            "security": _ADMIN,
            "requestBody": {"required": True, "content": _json(_ref("SessionRef"))},
            "responses": _responses(_ref(ok), 400, 401, 403, 408, 413, 503),
        }
    }


def _object(props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": sorted(props), "properties": props}


_INT = {"type": "integer"}
_STR = {"type": "string"}
_NULLABLE_STR = {"type": "string", "nullable": True}
_ANY: dict[str, Any] = {}

SCHEMAS: dict[str, Any] = {
    "Error": _object({"code": _STR, "message": _STR}),
    "Resolution": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "err", "timeout", "cancelled"]},
            "payload": _ANY,
        },
        "description": 'spec 2.12: {"status":"ok","payload":any} | {"status":"err","payload":'
        '{"code","message"}} | {"status":"timeout"} | {"status":"cancelled"}',
    },
    "ResolveOutcome": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {
                "type": "string",
                "enum": ["accepted", "already_resolved", "unknown_or_revoked"],
            },
            "terminal": _ref("Resolution"),
        },
    },
    "Peek": _object(
        {
            "status": {"type": "string", "enum": ["pending", "resolved"]},
            "resolution": {"allOf": [_ref("Resolution")], "nullable": True},
        }
    ),
    "AwaitKey": _object({"token": _STR, "key_id": _STR, "scope": _ANY, "scope_key": _STR, "wait": _ANY}),
    "AwaitKeys": _object({"session_id": _STR, "await_events": {"type": "array", "items": _ref("AwaitKey")}}),
    "SessionRef": {
        "type": "object",
        "required": ["session_id"],
        "properties": {
            "session_id": {"type": "string", "minLength": 1},
            "force": {"type": "boolean", "description": "override the revoke/retire safeguards"},
        },
        "additionalProperties": False,
    },
    "SessionAction": {**_object({"session_id": _STR, "status": _STR}), "additionalProperties": True},
    "Retired": _object({"session_id": _STR, "retired_rows": _INT}),
    "Session": _object(
        {
            "session_id": _STR,
            "scopes": _INT,
            "effects": _INT,
            "in_progress": _INT,
            "failed": _INT,
            "first_at_ms": _INT,
            "last_at_ms": _INT,
        }
    ),
    "Sessions": _object(
        {
            "sessions": {"type": "array", "items": _ref("Session")},
            "next": {**_NULLABLE_STR, "description": "the cursor of the next page (after=), or null"},
            "limit": _INT,
            "offset": _INT,
        }
    ),
    "Scope": _object(
        {
            "scope_key": _STR,
            "scope": {"type": "object", "nullable": True},
            "session_id": _NULLABLE_STR,
            "effects": _INT,
            "in_progress": _INT,
            "failed": _INT,
            "first_at_ms": _INT,
            "last_at_ms": _INT,
        }
    ),
    "Scopes": _object({"session_id": _NULLABLE_STR, "scopes": {"type": "array", "items": _ref("Scope")}}),
    "Effect": _object(
        {
            "scope_key": _STR,
            "replay_key": _STR,
            "effect_id": _STR,
            "kind": _STR,
            "status": {"type": "string", "description": "in_progress | completed | failed"},
            "envelope_hash": _STR,
            "envelope": _ANY,
            "outcome": _ANY,
            "error": {"allOf": [_ref("Error")], "nullable": True},
            "created_at_ms": _INT,
            "updated_at_ms": _INT,
            "lease_expires_at_ms": _INT,
            "due_at_ms": {"type": "integer", "nullable": True},
            "await_token": _NULLABLE_STR,
            "seq": {"type": "integer", "description": "run order in the scope: 1, 2, ..."},
        }
    ),
    "Effects": _object(
        {
            "scope_key": _STR,
            "effects": {"type": "array", "items": _ref("Effect")},
            "next": {**_NULLABLE_STR, "description": "the cursor of the next page (after=), or null"},
            "limit": _INT,
            "offset": _INT,
        }
    ),
    "Turn": {
        **_object(
            {
                "session_id": _STR,
                "turn_id": _STR,
                "name": _STR,
                "status": {
                    "type": "string",
                    "enum": ["pending", "running", "waiting", "sleeping", "completed", "failed", "cancelled"],
                },
                "created_at_ms": _INT,
                "updated_at_ms": _INT,
                "duration_ms": _INT,
                "scope_key": _STR,
            }
        ),
        "additionalProperties": True,
    },
    "Turns": _object({"turns": {"type": "array", "items": _ref("Turn")}, "next": _NULLABLE_STR}),
    "TurnOnly": _object({"turn": _ref("Turn")}),
    "TurnResult": _object({"done": {"type": "boolean"}, "turn": _ref("Turn")}),
    "TurnStarted": _object({"turn": _ref("Turn"), "created": {"type": "boolean"}}),
    "TimelineEffect": {
        "allOf": [
            _ref("Effect"),
            _object(
                {
                    "resolved_by": _NULLABLE_STR,
                    "resolved_at_ms": {"type": "integer", "nullable": True},
                    "executed_in_drive": {
                        "type": "integer",
                        "nullable": True,
                        "description": "the drive during which its row was claimed (null: a fork's "
                        "kept prefix, or before the oldest drive the turn keeps)",
                    },
                    "replayed_in_drives": {
                        "type": "array",
                        "items": _INT,
                        "description": "every later drive (each replays what earlier ones recorded)",
                    },
                }
            ),
        ]
    },
    "Drive": _object(
        {
            "drive": {"type": "integer", "description": "the drive's number: the turn's attempt"},
            "started_at_ms": _INT,
            "executed": {"type": "array", "items": _INT, "description": "seq of the effects it ran"},
            "replayed": {"type": "array", "items": _INT, "description": "seq of the effects it replayed"},
        }
    ),
    "TurnDetail": _object(
        {
            "turn": _ref("Turn"),
            "effects": {"type": "array", "items": _ref("TimelineEffect")},
            "drives": {"type": "array", "items": _ref("Drive")},
        }
    ),
    "TurnStart": {
        "type": "object",
        "required": ["name", "session_id"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "session_id": {"type": "string", "minLength": 1},
            "turn_id": {"type": "string", "minLength": 1, "description": "the idempotency key"},
            "input": {"type": "object"},
        },
        "additionalProperties": False,
    },
    "TurnRef": {
        **_object(
            {"session_id": {"type": "string", "minLength": 1}, "turn_id": {"type": "string", "minLength": 1}}
        ),
        "additionalProperties": False,
    },
    "TurnFork": {
        **_object(
            {
                "session_id": {"type": "string", "minLength": 1},
                "turn_id": {"type": "string", "minLength": 1},
                "new_turn_id": {"type": "string", "minLength": 1},
                "keep": {"type": "integer", "minimum": 0},
            }
        ),
        "additionalProperties": False,
    },
    "Wait": {
        **_object(
            {
                "token": _STR,
                "key_id": _STR,
                "session_id": _NULLABLE_STR,
                "created_at_ms": _INT,
                "question": _ANY,
                "turn": {"type": "object", "nullable": True},
            }
        ),
        "additionalProperties": True,
    },
    "Waits": _object({"waits": {"type": "array", "items": _ref("Wait")}, "next": _NULLABLE_STR}),
    "Changes": _object({"token": _STR, "live_turns": _INT, "pending_waits": _INT}),
    "Health": _object({"status": _STR}),
    "Ready": _object({"status": _STR, "backend": _STR}),
}

PATHS: dict[str, Any] = {
    "/healthz": {"get": {"summary": "liveness", "responses": _responses(_ref("Health"))}},
    "/readyz": {
        "get": {
            "summary": "readiness (substrate answers)",
            "responses": _responses(_ref("Ready"), 503),
        }
    },
    "/v1/openapi.json": {"get": {"summary": "this document", "responses": _responses({"type": "object"})}},
    "/v1/await-events": {
        "get": {
            "summary": "outstanding (parked) await events of a session",
            "security": _ADMIN,
            "parameters": [_SESSION_QUERY],
            "responses": _responses(_ref("AwaitKeys"), 400, 401, 403, 503),
        }
    },
    "/v1/await-events/{token}": {
        "get": {
            "summary": "peek an await event (never registers a waiter)",
            "security": [{}, {"resolveBearer": []}],
            "parameters": [_TOKEN],
            "responses": _responses(_ref("Peek"), 401, 403, 404, 503),
        }
    },
    "/v1/await-events/{token}/resolve": {
        "post": {
            "summary": "resolve an await event (recorded as resolved by the token's name, or "
            "webhook); malformed, forged, unknown and revoked keys all answer 404 with one body",
            "security": [{}, {"resolveBearer": []}, {"adminBearer": []}],
            "parameters": [_TOKEN],
            "requestBody": {"required": True, "content": _json(_ref("Resolution"))},
            "responses": _responses(_ref("ResolveOutcome"), 400, 401, 403, 404, 408, 413, 422, 503),
        }
    },
    "/v1/sessions": {
        "get": {
            "summary": "journal sessions, most recent first",
            "security": _ADMIN,
            "parameters": _paging(),
            "responses": _responses(_ref("Sessions"), 400, 401, 403, 503),
        }
    },
    "/v1/sessions/cancel": _session_body_op(
        "cancel-sweep: pending waits of the session resolve cancelled", "SessionAction"
    ),
    "/v1/sessions/revoke": _session_body_op("revoke the session's await events permanently", "SessionAction"),
    "/v1/sessions/retire": _session_body_op("delete the session's journal rows", "Retired"),
    "/v1/sessions/{session_id}/await-events": {
        "get": {
            "summary": "outstanding (parked) await events of a session (path form)",
            "security": _ADMIN,
            "parameters": [_SESSION],
            "responses": _responses(_ref("AwaitKeys"), 400, 401, 403, 503),
        }
    },
    "/v1/sessions/{session_id}/cancel": _session_op(
        "cancel-sweep: pending waits of the session resolve cancelled", "SessionAction"
    ),
    "/v1/sessions/{session_id}/revoke": _session_op(
        "revoke the session's await events permanently", "SessionAction"
    ),
    "/v1/sessions/{session_id}/retire": _session_op("delete the session's journal rows", "Retired"),
    "/v1/scopes": {
        "get": {
            "summary": "scopes of a session (or the session-free scopes without session_id)",
            "security": _ADMIN,
            "parameters": [_query("session_id", {"type": "string"})],
            "responses": _responses(_ref("Scopes"), 400, 401, 403, 503),
        }
    },
    "/v1/effects": {
        "get": {
            "summary": "journal rows of one scope, by scope key, in run order (seq)",
            "security": _ADMIN,
            "parameters": [
                _query("scope_key", {"type": "string", "minLength": 1}, required=True),
                *_paging(),
            ],
            "responses": _responses(_ref("Effects"), 400, 401, 403, 503),
        }
    },
}


_VIEWER: list[dict[str, list[str]]] = [{"adminBearer": []}, {"operatorBearer": []}]
_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT})
_AFTER = {**_query("after", {"type": "string"}), "description": "the previous page's next cursor"}


def _turn_action(summary: str, body: str, ok: str, created: bool = False) -> dict[str, Any]:
    responses = _responses(_ref(ok), 400, 401, 403, 404, 408, 413, 503)
    if created:
        responses["201"] = responses.pop("200")
    return {
        "post": {
            "summary": summary + " (role admin)",
            "security": _VIEWER,
            "requestBody": {"required": True, "content": _json(_ref(body))},
            "responses": responses,
        }
    }


PATHS.update(
    {
        "/v1/docs": {
            "get": {
                "summary": "this document, rendered as a page",
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
            }
        },
        "/v1/turns": {
            "get": {
                "summary": "turns, newest first (order=oldest: oldest first), filtered, paged by "
                "keyset (role viewer)",
                "security": _VIEWER,
                "parameters": [
                    _query("status", {"type": "string"}),
                    _query("name", {"type": "string"}),
                    _query("session_id", {"type": "string"}),
                    _query("q", {"type": "string"}),
                    _query("since_ms", {"type": "integer", "minimum": 0, "maximum": MAX_MS}),
                    _query("until_ms", {"type": "integer", "minimum": 0, "maximum": MAX_MS}),
                    _query("order", {"type": "string", "enum": ["newest", "oldest"]}),
                    _LIMIT,
                    _AFTER,
                ],
                "responses": _responses(_ref("Turns"), 400, 401, 403, 503),
            },
            **_turn_action(
                "start a turn by name; turn_id (or Idempotency-Key) makes a retry start it once: "
                "201 when created, 200 when it existed",
                "TurnStart",
                "TurnStarted",
                created=True,
            ),
        },
        "/v1/turn": {
            "get": {
                "summary": "a turn and its timeline: effects in run order, who resolved each wait, "
                "which drive executed and which replayed each effect (role viewer)",
                "security": _VIEWER,
                "parameters": [
                    _SESSION_QUERY,
                    _query("turn_id", {"type": "string", "minLength": 1}, required=True),
                ],
                "responses": _responses(_ref("TurnDetail"), 400, 401, 403, 404, 503),
            }
        },
        "/v1/turns/result": {
            "get": {
                "summary": "await a turn's end: waits up to timeout_s seconds, then answers the turn "
                "(its result or coded error) and whether it had ended (role viewer)",
                "security": _VIEWER,
                "parameters": [
                    _SESSION_QUERY,
                    _query("turn_id", {"type": "string", "minLength": 1}, required=True),
                    _query("timeout_s", {"type": "number", "minimum": 0, "maximum": 60}),
                ],
                "responses": _responses(_ref("TurnResult"), 400, 401, 403, 404, 503),
            }
        },
        "/v1/turns/cancel": _turn_action("cancel a turn", "TurnRef", "TurnOnly"),
        "/v1/turns/resume": _turn_action("resume a failed turn", "TurnRef", "TurnOnly"),
        "/v1/turns/fork": _turn_action(
            "fork a turn: keep its first `keep` effects, run the rest", "TurnFork", "TurnOnly", True
        ),
        "/v1/changes": {
            "get": {
                "summary": "the change feed: a token that moves when a turn starts, changes state "
                "or ends, or a wait comes or goes; poll it, re-read only on a change (role viewer)",
                "security": _VIEWER,
                "responses": _responses(_ref("Changes"), 401, 403, 503),
            }
        },
        "/v1/waits": {
            "get": {
                "summary": "the inbox: unanswered waits across sessions, oldest first, with their "
                "question and turn (role viewer)",
                "security": _VIEWER,
                "parameters": [_query("session_id", {"type": "string"}), _LIMIT, _AFTER],
                "responses": _responses(_ref("Waits"), 400, 401, 403, 503),
            }
        },
    }
)


def openapi_document() -> dict[str, Any]:
    from .. import __version__

    return {
        "openapi": "3.0.3",
        "info": {"title": "effecthost", "version": __version__},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "adminBearer": {"type": "http", "scheme": "bearer"},
                "resolveBearer": {"type": "http", "scheme": "bearer"},
                "operatorBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a named token with a role: viewer, resolver or admin",
                },
            },
        },
    }
