"""RestateConfig and the keys it derives: coded errors for bad options, stable Restate keys."""

from __future__ import annotations

import hashlib

import pytest

from effecthost import EffectHostError, ExecutionScope, WaitIdentity
from effecthost.engine import mint_await_event_key
from effecthost.engines.restate import RestateConfig
from effecthost.engines.restate.config import index_key, turn_key, wait_key


@pytest.mark.parametrize(
    "options",
    [
        {"secret": b"short"},
        {"secret": "not-bytes" * 4},
        {"secret": b"k" * 32, "journal_budget_bytes": 10},
        {"secret": b"k" * 32, "max_payload_bytes": True},
    ],
)
def test_bad_options_are_coded(options: dict[str, object]) -> None:
    with pytest.raises(EffectHostError) as caught:
        RestateConfig(**options)  # type: ignore[arg-type]
    assert caught.value.code == "host_option_invalid"


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EFFECTHOST_RESTATE_SECRET", "zz")
    with pytest.raises(EffectHostError) as caught:
        RestateConfig.from_env()
    assert caught.value.code == "host_option_invalid"
    secret = RestateConfig.new_secret()
    monkeypatch.setenv("EFFECTHOST_RESTATE_SECRET", secret)
    assert RestateConfig.from_env(journal_budget_bytes=4096).secret == bytes.fromhex(secret)


def test_restate_keys_never_carry_the_token() -> None:
    key = mint_await_event_key(b"k" * 32, ExecutionScope.turn("s/1", "t"), WaitIdentity.custom("w"))
    assert wait_key(key) == hashlib.sha256(key.key_id.encode()).hexdigest()
    assert key.signature not in wait_key(key) and key.signature not in index_key(key)
    assert index_key(key) == "session:s/1"
    process = mint_await_event_key(b"k" * 32, ExecutionScope.process("p"), WaitIdentity.custom("w"))
    assert index_key(process) == f"unscoped:{wait_key(process)}"
    # session and turn ids cannot be confused by a separator inside them
    assert turn_key("a/b", "c") != turn_key("a", "b/c")
