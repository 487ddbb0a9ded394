"""v3 key derivation and signing (every golden vector of spec 5.1), tokens, tamper rejection."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac

import pytest

from effecthost import AwaitEventKey, EffectHostError, ExecutionScope, WaitIdentity
from effecthost._private.awaits import keys

S = ExecutionScope
W = WaitIdentity


@pytest.mark.parametrize(
    ("scope", "wait", "suffix"),
    [
        (
            S.turn("ab", "c"),
            W.tool_completion("x:y"),
            "0b4e88d662ffcfab2d4dab8cdcbbc4eefce3e03e7b6f1f02a8c2c44f128ef26a",
        ),
        (
            S.turn("a", "bc"),
            W.tool_completion("x:y"),
            "80a7e9660c1eb5120ff4041d5c07c0c1fdbd9d25ee6973730b34851752ed470d",
        ),
        (
            S.process("zero"),
            W.process_signal("zero", "ready", 1),
            "d5f3cca470277324bc667bbc1bde5b1c4956280c098c7cfbbd64561c53fdcce0",
        ),
        (
            S.queue_drain("same", "same"),
            W.turn_cancel_gate(),
            "3c6f999b4ea0442f4bcff923b277e7859b1e1b17a96afc5a1be102cd3f9cc43f",
        ),
        (
            S.session_delete("same"),
            W.turn_terminal(),
            "f81ce5cfee31d7bbedf9eb7668f2e6675a4356cf26b02e4ab8c8249c99ce431f",
        ),
        (
            S.runtime_operation("op:0"),
            W.custom("0"),
            "32eeecf35973d577700d021ab92e5950ad380453f8843b0629e654598db0165c",
        ),
        (
            S.turn("session", "turn"),
            W.tool_completion("call"),
            "72946661623a736ad7dddfeace2182eb51d5e25f18d4aef189f79eac48bbcfeb",
        ),
    ],
)
def test_v3_key_id_golden_vectors(scope: ExecutionScope, wait: WaitIdentity, suffix: str) -> None:
    assert keys.derive_key_id(scope, wait) == "await-event:v3:sha256:" + suffix


def test_first_preimage_bytes_match_the_golden_hex() -> None:
    expected = (
        "6c6173682d737461626c652d6964656e74697479"
        "01"
        "03"
        "0000000000000010"
        "6c6173682e61776169742d6576656e74"
        "01"
        "0000000000000002"
        "6162"
        "0000000000000001"
        "63"
        "01"
        "0000000000000003"
        "783a79"
    )
    assert keys.promise_preimage(S.turn("ab", "c"), W.tool_completion("x:y")).hex() == expected


def test_signature_is_hmac_sha256_over_the_auth_material() -> None:
    secret = bytes(range(32))
    scope, wait = S.turn("session", "turn"), W.tool_completion("call")
    key = keys.mint(secret, scope, wait)
    preimage = keys.promise_preimage(scope, wait)
    material = (
        b"lash-stable-identity\x01\x03"
        + len(b"lash.await-event-auth").to_bytes(8, "big")
        + b"lash.await-event-auth"
        + len(preimage).to_bytes(8, "big")
        + preimage
        + len(key.key_id).to_bytes(8, "big")
        + key.key_id.encode()
    )
    assert key.signature == hmac.new(secret, material, hashlib.sha256).hexdigest()
    assert keys.authenticate(secret, key)
    assert not keys.authenticate(bytes(32), key)


def test_validation_checks_scope_before_wait() -> None:
    with pytest.raises(EffectHostError) as info:
        keys.derive_key_id(S.turn("", "t"), W.tool_completion(""))
    assert info.value.code == "missing_execution_scope_id"
    with pytest.raises(EffectHostError) as info:
        keys.derive_key_id(S.turn("s", "t"), W.tool_completion("  "))
    assert info.value.code == "invalid_await_event_wait_identity"


@pytest.mark.parametrize(
    "wait",
    [
        W.process_signal("p", "s", 0),
        W.process_signal("p", "", 1),
        W.custom(""),
        W("custom", (5,)),
        W("nope", ()),
    ],
)
def test_bad_wait_identities_are_coded(wait: WaitIdentity) -> None:
    with pytest.raises(EffectHostError) as info:
        wait.validate()
    assert info.value.code == "invalid_await_event_wait_identity"


def test_every_tampered_field_fails_authentication() -> None:
    secret = b"s" * 32
    key = keys.mint(secret, S.turn("sess", "turn"), W.tool_completion("c"))
    forged = [
        dataclasses.replace(key, signature=key.signature + "-tampered"),
        dataclasses.replace(key, signature=key.signature.upper()),
        dataclasses.replace(key, key_id=key.key_id[:-1] + "0"),
        dataclasses.replace(key, scope=S.turn("sess", "other")),
        dataclasses.replace(key, scope=S.turn("other", "turn")),
        dataclasses.replace(key, wait=W.tool_completion("d")),
        dataclasses.replace(key, scope=S("turn", ("", "turn"))),
    ]
    assert all(not keys.authenticate(secret, f) for f in forged)
    assert not keys.authenticate(secret, "not a key")


def test_token_round_trips_and_is_url_safe() -> None:
    key = keys.mint(b"k" * 32, S.process("proc/1?x"), W.process_signal("proc/1?x", "ready", 3))
    token = key.to_token()
    assert token.startswith("ehk1.")
    assert all(c.isalnum() or c in "-_." for c in token)
    assert AwaitEventKey.from_token(token) == key


@pytest.mark.parametrize(
    "token",
    [
        "",
        "ehk1.",
        "ehk1.!!!",
        "ehk2.abc",
        "ehk1." + "A" * 9000,
        "ehk1.bnVsbA",  # "null"
        "ehk1.WzEsMiwzXQ",  # [1,2,3]
        "ehk1.W3sidHlwZSI6InR1cm4ifSx7fSwiYSIsImIiXQ",  # bad scope
    ],
)
def test_malformed_tokens_get_a_coded_error(token: str) -> None:
    with pytest.raises(EffectHostError) as info:
        AwaitEventKey.from_token(token)
    assert info.value.code == "await_event_token_malformed"


def test_non_string_token_is_malformed() -> None:
    with pytest.raises(EffectHostError) as info:
        AwaitEventKey.from_token(42)  # type: ignore[arg-type]
    assert info.value.code == "await_event_token_malformed"
