"""Canonical JSON and the stable hash: every golden vector of spec 3.1, and the refusals."""

from __future__ import annotations

import hashlib
import math

import pytest

from effecthost import (
    DurableStep,
    EffectHostError,
)
from effecthost._private.core import canonical
from effecthost.testing.conformance.seed import (
    durable_step_conformance_envelope,
    replay_conformance_exec_envelope,
)


@pytest.mark.parametrize(
    ("value", "digest"),
    [
        (None, "74234e98afe7498fb5daf1f36ac2d78acc339464f950703b8c019892f982b90b"),
        ("lash", "d6d1bbf708dae2c3693b41240c61b33160eaa7946e4797ba88b4d03f9638233d"),
        ([1, 2, 3], "a615eeaee21de5179de080de8c3052c8da901138406ba71c38c032845f7d54f4"),
        ({"a": 1, "b": [True, None]}, "1cc69c7fa23616ca2ec3ee70d24390a6225c8832db8a4c814c7e0e7f942f8668"),
        ({"b": 1, "a": 2}, "d3626ac30a87e6f7a6428233b3c68299976865fa5508e4267c5415c76af7a772"),
    ],
)
def test_stable_hash_golden_vectors(value: object, digest: str) -> None:
    assert canonical.stable_hash(canonical.normalize(value)) == digest


def test_free_form_keys_are_sorted_recursively() -> None:
    assert canonical.dumps(canonical.normalize({"b": 1, "a": {"z": 1, "y": [{"d": 1, "c": 2}]}})) == (
        '{"a":{"y":[{"c":2,"d":1}],"z":1},"b":1}'
    )


def test_empty_input_digest() -> None:
    assert canonical.stable_hash_text("") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


# The kit's own fixture builders: the seed's fixtures must hash exactly as the seed system does.
_durable = durable_step_conformance_envelope
_exec = replay_conformance_exec_envelope


def test_seed_durable_step_fixture_serialises_and_hashes_as_the_seed_system() -> None:
    envelope = _durable("create", {"x": 1})
    assert envelope.canonical_json() == (
        '{"invocation":{"scope":{"session_id":"durable-step-session","turn_id":"durable-step-turn",'
        '"turn_index":7,"protocol_iteration":0},"subject":{"type":"effect","effect_id":'
        '"durable-step:create","kind":"durable_step"},"replay":{"key":"durable-step-replay:create"}},'
        '"command":{"type":"durable_step","step_id":"create","input":{"x":1}}}'
    )
    assert envelope.stable_hash() == "bf4898548f34388e75f112f85d2a5347421ccc7b2ed55ff66fc7f056fd392def"
    assert _durable("create", {"x": 2}).stable_hash() == (
        "a0be79a317aec90a340b1d6fa57228e3d1d590130e4a7f7bd0730f3e57d467e3"
    )


def test_seed_exec_fixtures_hash_as_the_seed_system() -> None:
    slow = _exec("effect-slow")
    assert slow.canonical_json() == (
        '{"invocation":{"scope":{"session_id":"effect-conformance-session","turn_id":'
        '"effect-conformance-turn","turn_index":7,"protocol_iteration":0},"subject":{"type":"effect",'
        '"effect_id":"effect-slow","kind":"exec_code"},"replay":{"key":'
        '"effect-conformance:effect-conformance-turn:effect-slow"}},"command":{"type":"exec_code",'
        '"code":"emit effect-slow"}}'
    )
    assert slow.stable_hash() == "e56cb199b8965f45770475c8e1b8013bf1f9d33069cba67b65579c14cd767539"
    assert _exec("effect-fast").stable_hash() == (
        "3809b489c4c17b596cae6fc7ce626a20486903a0f46747867b7bf7e385ffb4b1"
    )


def test_hash_is_sha256_of_canonical_text() -> None:
    envelope = _durable("h", {"k": "v"})
    assert envelope.stable_hash() == hashlib.sha256(envelope.canonical_json().encode()).hexdigest()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (1e16, "1e16"),
        (1e15, "1000000000000000.0"),
        (0.1, "0.1"),
        (1e-5, "0.00001"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1.234e33, "1.234e33"),
        (-2.5, "-2.5"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (123456.789, "123456.789"),
    ],
)
def test_floats_are_written_as_rust_ryu_does(value: float, text: str) -> None:
    assert canonical.dumps(canonical.normalize({"f": value})) == '{"f":' + text + "}"


def test_text_escapes_match_serde_json() -> None:
    text = 'é "q" \\ \n\t\x01\x7f ☃'
    assert canonical.dumps(text) == '"é \\"q\\" \\\\ \\n\\t\\u0001\x7f ☃"'


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (math.nan, "canonical_json_non_finite"),
        (math.inf, "canonical_json_non_finite"),
        (b"bytes", "canonical_json_unsupported_type"),
        ({1, 2}, "canonical_json_unsupported_type"),
        (object(), "canonical_json_unsupported_type"),
        ({1: "x"}, "canonical_json_key_type"),
        ("\ud800", "canonical_json_invalid_string"),
        ({"\udfff": 1}, "canonical_json_invalid_string"),
        (2**64, "canonical_json_integer_range"),
        (-(2**63) - 1, "canonical_json_integer_range"),
    ],
)
def test_non_json_values_get_coded_errors(value: object, code: str) -> None:
    with pytest.raises(EffectHostError) as info:
        DurableStep("s", {"v": value})
    assert info.value.code == code


def test_too_deep_values_are_refused_not_recursion_errors() -> None:
    deep: object = 1
    for _ in range(canonical.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(EffectHostError) as info:
        canonical.normalize(deep)
    assert info.value.code == "canonical_json_too_deep"


def test_integer_bounds_are_inclusive() -> None:
    assert canonical.dumps(canonical.normalize([2**64 - 1, -(2**63)])) == f"[{2**64 - 1},{-(2**63)}]"


def test_tuples_become_arrays_and_bools_stay_bools() -> None:
    assert canonical.dumps(canonical.normalize((True, False, 1))) == "[true,false,1]"


def test_loads_refuses_nan_literals() -> None:
    with pytest.raises(ValueError):
        canonical.loads('{"a": NaN}')
