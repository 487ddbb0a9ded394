"""TemporalConfig and the ids it derives: coded errors for bad options, ids without tokens."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from effecthost import EffectHostError, ExecutionScope, WaitIdentity
from effecthost.engine import mint_await_event_key
from effecthost.engines.temporal import TemporalConfig
from effecthost.engines.temporal.config import session_workflow_id, turn_workflow_id, wait_id


@pytest.mark.parametrize(
    "options",
    [
        {"secret": b"short"},
        {"secret": "not-bytes" * 4},
        {"secret": b"k" * 32, "history_budget_bytes": 10},
        {"secret": b"k" * 32, "max_payload_bytes": True},
        {"secret": b"k" * 32, "task_queue": " "},
        {"secret": b"k" * 32, "namespace": 3},
        {"secret": b"k" * 32, "effect_timeout": timedelta(0)},
        {"secret": b"k" * 32, "task_timeout": 10},
    ],
)
def test_bad_options_are_coded(options: dict[str, object]) -> None:
    with pytest.raises(EffectHostError) as caught:
        TemporalConfig(**options)  # type: ignore[arg-type]
    assert caught.value.code == "host_option_invalid"


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EFFECTHOST_TEMPORAL_SECRET", "zz")
    with pytest.raises(EffectHostError) as caught:
        TemporalConfig.from_env()
    assert caught.value.code == "host_option_invalid"
    secret = TemporalConfig.new_secret()
    monkeypatch.setenv("EFFECTHOST_TEMPORAL_SECRET", secret)
    config = TemporalConfig.from_env(task_queue="q")
    assert config.secret == bytes.fromhex(secret) and config.task_queue == "q"


def test_workflow_ids_never_carry_the_token() -> None:
    key = mint_await_event_key(b"k" * 32, ExecutionScope.turn("s/1", "t"), WaitIdentity.custom("w"))
    assert wait_id(key) == hashlib.sha256(key.key_id.encode()).hexdigest()
    assert key.signature not in wait_id(key) and key.signature not in session_workflow_id(key)
    assert session_workflow_id(key) == "effecthost-session/s/1"
    process = mint_await_event_key(b"k" * 32, ExecutionScope.process("p"), WaitIdentity.custom("w"))
    assert session_workflow_id(process) == f"effecthost-wait/{wait_id(process)}"
    # session and turn ids cannot be confused by a separator inside them
    assert turn_workflow_id("a/b", "c") != turn_workflow_id("a", "b/c")
