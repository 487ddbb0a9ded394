"""Identity, envelopes, outcomes, errors and the public surface (spec 2, CONTRACT.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import effecthost
from effecthost import (
    AwaitEventOutcome,
    DurableStep,
    DurableStepOutcome,
    EffectEnvelope,
    EffectHostError,
    EffectKind,
    ErrorCode,
    ExecCode,
    ExecCodeOutcome,
    ExecResponse,
    ExecutionScope,
    LlmCall,
    LlmCallOutcome,
    Resolution,
    ResolveOutcome,
    RuntimeInvocation,
    RuntimeScope,
    Sleep,
    SleepOutcome,
    ToolCall,
    ToolCallOutcome,
)
from effecthost._private.core.identity import session_journal_key_ranges
from effecthost._private.core.outcomes import outcome_from_json

CONTRACT_NAMES = [
    "ExecutionScope", "RuntimeScope", "RuntimeInvocation", "EffectKind", "Sleep", "DurableStep",
    "ExecCode", "AwaitEvent", "LlmCall", "ToolCall", "EffectEnvelope", "SleepOutcome",
    "DurableStepOutcome", "ExecCodeOutcome", "AwaitEventOutcome", "ExecResponse", "EffectHostError",
    "ErrorCode", "CancelToken", "LocalExecutor", "EffectController", "EffectHost", "InlineEffectHost",
    "RecordingEffectHost", "open_host", "WaitIdentity", "AwaitEventKey", "Resolution", "ResolveOutcome",
]  # fmt: skip


def test_public_names_of_the_contract_import_from_the_package() -> None:
    for name in CONTRACT_NAMES:
        assert hasattr(effecthost, name), name
    assert effecthost.__all__ == sorted(effecthost.__all__)
    assert set(CONTRACT_NAMES) <= set(effecthost.__all__)


@pytest.mark.parametrize(
    ("scope", "key"),
    [
        (ExecutionScope.turn("session", "turn"), '{"version":2,"kind":"turn","session_id":"session","execution_id":"turn"}'),
        (ExecutionScope.queue_drain("session", "drain"), '{"version":2,"kind":"drain","session_id":"session","execution_id":"drain"}'),
        (ExecutionScope.session_delete("session"), '{"version":2,"kind":"delete","session_id":"session"}'),
        (ExecutionScope.process("process"), '{"version":2,"kind":"process","execution_id":"process"}'),
        (ExecutionScope.runtime_operation("operation"), '{"version":2,"kind":"op","execution_id":"operation"}'),
    ],
)  # fmt: skip
def test_journal_key_golden_fixtures_and_inverse(scope: ExecutionScope, key: str) -> None:
    assert scope.journal_key() == key
    assert ExecutionScope.from_journal_key(key) == scope


@pytest.mark.parametrize(
    "key",
    ['{"version":1,"kind":"turn"}', "not json", '{"version":2,"kind":"turn","session_id":" ","execution_id":"t"}',
     '{"version":2,"kind":"nope","execution_id":"t"}', '{"version":2, "kind":"process","execution_id":"p"}'],
)  # fmt: skip
def test_from_journal_key_refuses_other_versions_kinds_and_blank_ids(key: str) -> None:
    with pytest.raises(EffectHostError) as info:
        ExecutionScope.from_journal_key(key)
    assert info.value.code == "missing_execution_scope_id"


def test_scope_accessors() -> None:
    turn = ExecutionScope.turn("s", "t")
    assert (turn.scope_id, turn.session_id, turn.turn_id) == ("t", "s", "t")
    drain = ExecutionScope.queue_drain("s", "d")
    assert (drain.scope_id, drain.session_id, drain.turn_id) == ("d", "s", None)
    assert ExecutionScope.session_delete("s").scope_id == "s"
    assert ExecutionScope.process("p").session_id is None
    assert ExecutionScope.from_json(turn.to_json()) == turn


SESSIONS = ["s", "s1", "s-1", 's"', "s\\", "ü-ß", "s,", "s}", "a b"]


@pytest.mark.parametrize("session", SESSIONS)
def test_session_key_ranges_hold_exactly_the_keys_naming_the_session(session: str) -> None:
    ranges = session_journal_key_ranges(session)

    def inside(key: str) -> bool:
        return any(low <= key < high for low, high in ranges)

    def keys_of(name: str) -> list[str]:
        keys = [ExecutionScope.session_delete(name).journal_key()]
        for scope_id in ["t", "t2", "~", "\U0010ffff", "{", "z" * 40]:
            keys.append(ExecutionScope.turn(name, scope_id).journal_key())
            keys.append(ExecutionScope.queue_drain(name, scope_id).journal_key())
        return keys

    assert all(inside(key) for key in keys_of(session))
    for other in [*SESSIONS, session + "x", session[:-1] or "q", "process-only"]:
        if other != session:
            assert not any(inside(key) for key in keys_of(other)), other
    for scope in (ExecutionScope.process(session), ExecutionScope.runtime_operation(session)):
        assert not inside(scope.journal_key())


def test_blank_after_strip_is_missing() -> None:
    with pytest.raises(EffectHostError) as info:
        ExecutionScope.turn("s", " \t").validate()
    assert str(info.value) == "missing_execution_scope_id: execution scopes require non-empty stable ids"


def _invocation(kind: EffectKind | str, effect_id: str = "e", replay: str | None = "r") -> RuntimeInvocation:
    inv = RuntimeInvocation.effect(RuntimeScope("s"), effect_id, kind, replay or "")
    return inv if replay is not None else RuntimeInvocation(inv.scope, inv.subject, None)


@pytest.mark.parametrize(
    ("invocation", "command", "code"),
    [
        (RuntimeInvocation(RuntimeScope("s"), {"type": "process", "process_id": "p"}, "r"), Sleep(1),
         "runtime_effect_invocation_subject"),
        (_invocation(EffectKind.SLEEP, effect_id="  "), Sleep(1), "runtime_effect_invocation_subject"),
        (_invocation(EffectKind.SLEEP), ExecCode("x"), "runtime_effect_invocation_kind"),
        (_invocation(EffectKind.SLEEP, replay=None), Sleep(1), "runtime_effect_replay_required"),
        (_invocation(EffectKind.SLEEP, replay=""), Sleep(1), "runtime_effect_replay_required"),
        (_invocation(EffectKind.DURABLE_STEP), DurableStep(" ", 1), "runtime_effect_durable_step_id"),
    ],
)  # fmt: skip
def test_envelope_validation_codes(invocation: RuntimeInvocation, command: Any, code: str) -> None:
    with pytest.raises(EffectHostError) as info:
        EffectEnvelope(invocation, command)
    assert info.value.code == code


def test_validation_order_subject_before_kind_before_replay() -> None:
    bad = RuntimeInvocation(RuntimeScope("s"), {"type": "effect", "effect_id": "", "kind": "sleep"}, None)
    with pytest.raises(EffectHostError) as info:
        EffectEnvelope(bad, ExecCode("x"))
    assert info.value.code == "runtime_effect_invocation_subject"
    wrong_kind_no_replay = _invocation(EffectKind.SLEEP, replay=None)
    with pytest.raises(EffectHostError) as info:
        EffectEnvelope(wrong_kind_no_replay, ExecCode("x"))
    assert info.value.code == "runtime_effect_invocation_kind"


def test_replay_key_is_not_trimmed() -> None:
    envelope = EffectEnvelope(_invocation(EffectKind.SLEEP, replay=" "), Sleep(0))
    assert envelope.replay_key == " "


@pytest.mark.parametrize(
    "build",
    [lambda: Sleep(-1), lambda: Sleep(2**64), lambda: Sleep(True), lambda: ExecCode(5),
     lambda: DurableStep(None, 1), lambda: ToolCall("c", 3), lambda: LlmCall(model=None)],
)  # fmt: skip
def test_bad_command_fields_are_coded(build: Any) -> None:
    with pytest.raises(EffectHostError) as info:
        build()
    assert info.value.code == "runtime_effect_command"


def test_envelope_rejects_non_model_arguments() -> None:
    with pytest.raises(EffectHostError):
        EffectEnvelope("inv", Sleep(1))  # type: ignore[arg-type]
    with pytest.raises(EffectHostError):
        EffectEnvelope(_invocation(EffectKind.SLEEP), {"type": "sleep"})  # type: ignore[arg-type]


def test_hash_covers_lineage_and_effect_id() -> None:
    base = EffectEnvelope(
        RuntimeInvocation.effect(RuntimeScope.for_turn("s", "t", 1, 0), "e", "sleep", "r"), Sleep(1)
    )
    for other in [
        EffectEnvelope(
            RuntimeInvocation.effect(RuntimeScope.for_turn("s", "t", 2, 0), "e", "sleep", "r"), Sleep(1)
        ),
        EffectEnvelope(
            RuntimeInvocation.effect(RuntimeScope.for_turn("s", "t", 1, 0), "e2", "sleep", "r"), Sleep(1)
        ),
        EffectEnvelope(
            RuntimeInvocation.effect(RuntimeScope.for_turn("s", "t", 1, 0), "e", "sleep", "r").with_caused_by(
                {"type": "turn", "session_id": "s", "turn_id": "t"}
            ),
            Sleep(1),
        ),
    ]:
        assert other.stable_hash() != base.stable_hash()


def test_tool_and_llm_commands_serialise_in_declared_order() -> None:
    tool = ToolCall("call-1", "search", {"q": "x", "a": 1})
    assert json.dumps(tool.to_json(), separators=(",", ":")) == (
        '{"type":"tool_call","call":{"call_id":"call-1","tool_name":"search","args":{"a":1,"q":"x"}}}'
    )
    llm = LlmCall(model="m", messages=[{"role": "user", "content": "hi"}])
    assert list(llm.to_json()["request"]) == [
        "model", "messages", "attachments", "tools", "tool_choice", "model_variant", "generation",
        "session_id", "output_spec",
    ]  # fmt: skip


def test_seed_exec_outcome_fixture_json() -> None:
    outcome = ExecCodeOutcome(ExecResponse(terminal_finish="effect-slow"))
    assert json.dumps(outcome.to_json(), separators=(",", ":")) == (
        '{"type":"exec_code","result":{"Ok":{"observations":[],"observation_truncation":[],"tool_calls":[],'
        '"images":[],"printed_images":[],"error":null,"duration_ms":0,"terminal_finish":"effect-slow"}}}'
    )


@pytest.mark.parametrize(
    "outcome",
    [
        SleepOutcome(),
        DurableStepOutcome({"b": [1, 2.5]}),
        ExecCodeOutcome(ExecResponse(observations=["o"], duration_ms=3, terminal_finish={"x": 1})),
        ExecCodeOutcome("boom"),
        AwaitEventOutcome(Resolution.err("c", "m")),
        AwaitEventOutcome(Resolution.TIMEOUT),
        LlmCallOutcome({"text": "hi"}, text_streamed=True),
        LlmCallOutcome(error={"kind": "rate_limit"}),
        ToolCallOutcome({"status": "done", "result": 1}, [{"t": 1}]),
    ],
)
def test_outcomes_round_trip_through_json(outcome: Any) -> None:
    assert outcome_from_json(json.loads(json.dumps(outcome.to_json()))) == outcome


def test_typed_extractors_refuse_the_wrong_variant() -> None:
    with pytest.raises(EffectHostError) as info:
        SleepOutcome().into_durable_step()
    assert str(info.value) == "runtime_effect_wrong_outcome: expected durable_step outcome, got sleep"
    assert DurableStepOutcome(3).into_durable_step() == 3
    with pytest.raises(EffectHostError) as info:
        ToolCallOutcome({"status": "pending", "key": {}}).into_tool_call()
    assert info.value.code == "runtime_effect_tool_call_pending"


@pytest.mark.parametrize(
    "value", [{"type": "nope"}, [], {"type": "exec_code", "result": {}}, {"type": "await_event"}]
)
def test_undecodable_outcomes_are_coded(value: Any) -> None:
    with pytest.raises(EffectHostError) as info:
        outcome_from_json(value)
    assert info.value.code == "runtime_effect_outcome_decode"


def test_resolution_and_resolve_outcome_shapes() -> None:
    assert Resolution.ok(1).to_json() == {"status": "ok", "payload": 1}
    assert Resolution.err("c", "m").to_json() == {"status": "err", "payload": {"code": "c", "message": "m"}}
    assert Resolution.TIMEOUT.to_json() == {"status": "timeout"}
    assert Resolution.CANCELLED.to_json() == {"status": "cancelled"}
    assert ResolveOutcome.already_resolved(Resolution.ok(1)).to_json() == {
        "status": "already_resolved",
        "terminal": {"status": "ok", "payload": 1},
    }
    assert ResolveOutcome.ACCEPTED.to_json() == {"status": "accepted"}
    for res in (Resolution.ok({"a": [1]}), Resolution.err("c", "m", raw={"x": 1}), Resolution.CANCELLED):
        assert Resolution.from_json(res.to_json()) == res


@pytest.mark.parametrize(
    "bad",
    [None, {}, {"status": "ok"}, {"status": "err", "payload": {"code": 1, "message": "m"}},
     {"status": "timeout", "payload": 1}, {"status": "weird"}, {"status": "ok", "payload": 1, "x": 2}],
)  # fmt: skip
def test_bad_resolution_json_is_coded(bad: Any) -> None:
    with pytest.raises(EffectHostError) as info:
        Resolution.from_json(bad)
    assert info.value.code == "await_event_resolution_invalid"


def test_errors_keep_unknown_codes_and_format() -> None:
    err = EffectHostError("some_future_code", "msg")
    assert str(err) == "some_future_code: msg"
    assert EffectHostError.from_json(err.to_json()) == err
    assert EffectHostError(ErrorCode.MISSING_EXECUTION_SCOPE_ID, "m").code == "missing_execution_scope_id"
    assert isinstance(EffectHostError(ErrorCode.HOST_CLOSED, "m").code, str)


def test_error_codes_are_unique_snake_case() -> None:
    values = [c.value for c in ErrorCode]
    assert len(values) == len(set(values))
    assert all(v == v.lower() and " " not in v for v in values)


def test_every_error_code_is_documented_and_the_page_is_current() -> None:
    from pathlib import Path

    from effecthost._private.core import error_docs

    missing = [c.value for c in ErrorCode if c.value not in error_docs.DESCRIPTIONS]
    assert missing == [], f"describe these codes in effecthost._private.core.error_docs: {missing}"
    page = Path(__file__).resolve().parents[1] / "docs" / "error-codes.md"
    assert page.read_text() == error_docs.render(), (
        "regenerate: python -m effecthost._private.core.error_docs > docs/error-codes.md"
    )
