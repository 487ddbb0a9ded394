"""Bad input gets one coded error at the call that got it, the same on every backend (issue 11).

Found by attacking the public API from outside: ids that PostgreSQL's libpq path cut at a NUL
(defect 4), lone surrogates, NaN/infinite/absurd options and mistyped arguments that escaped as
``UnicodeEncodeError``/``AttributeError``/``TypeError`` or a store error (defect 6), token strings
that decoded to the same key in 14 spellings (defect 10), and ids that look identical (defect 11).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from effecthost import (
    AwaitEventKey,
    DurableStep,
    EffectEnvelope,
    EffectHostError,
    EffectKind,
    ExecutionScope,
    InlineEffectHost,
    JournalRetirement,
    LocalExecutor,
    RecordingEffectHost,
    Resolution,
    ResolveOutcome,
    RuntimeInvocation,
    RuntimeScope,
    Sleep,
    WaitIdentity,
    open_host,
)

SCOPE = ExecutionScope.turn("s", "t")

#: Each of these must be refused as an id (NUL, lone surrogates, format characters, not NFC).
BAD_IDS = {
    "nul": "k\x00one",
    "nul-first": "\x00",
    "lone-high-surrogate": "a\ud800",
    "lone-low-surrogate": "\udfffb",
    "zero-width-space": "vic\u200btim",
    "zero-width-joiner": "a\u200db",
    "byte-order-mark": "\ufeffvictim",
    "bidi-override": "evil\u202etxt.exe",
    "bidi-isolate": "a\u2066b\u2069",
    "nfd": unicodedata.normalize("NFD", "café"),
}
#: ... and these stay valid: visible once escaped, or plain NFC text.
GOOD_IDS = ["plain", "with\nnewline", "tab\there", "team/alice", "..", "café", "日本語", "emoji🙂", " x "]


@pytest.fixture
async def host(backend_url: str) -> AsyncIterator[Any]:
    opened = await open_host(backend_url)
    try:
        yield opened
    finally:
        await opened.aclose()


def _code(call: Callable[[], Any]) -> str:
    with pytest.raises(EffectHostError) as caught:
        call()
    return caught.value.code


async def _acode(awaitable: Any) -> str:
    with pytest.raises(EffectHostError) as caught:
        await awaitable
    return caught.value.code


def _step(replay_key: str, effect_id: str = "e", session: str = "s") -> EffectEnvelope:
    return EffectEnvelope(
        RuntimeInvocation.effect(RuntimeScope(session), effect_id, EffectKind.DURABLE_STEP, replay_key),
        DurableStep("step", {"x": 1}),
    )


# ---- ids: refused where they are built ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BAD_IDS))
def test_a_bad_id_is_refused_with_invalid_id_wherever_it_is_built(name: str) -> None:
    bad = BAD_IDS[name]
    builders: list[Callable[[], Any]] = [
        lambda: ExecutionScope.turn(bad, "t"),
        lambda: ExecutionScope.turn("s", bad),
        lambda: ExecutionScope.process(bad),
        lambda: ExecutionScope.queue_drain("s", bad),
        lambda: ExecutionScope.session_delete(bad),
        lambda: ExecutionScope.runtime_operation(bad),
        lambda: RuntimeScope(bad),
        lambda: RuntimeScope.for_turn("s", bad, 0, 0),
        lambda: _step(bad),
        lambda: _step("k", effect_id=bad),
        lambda: WaitIdentity.custom(bad),
        lambda: WaitIdentity.tool_completion(bad),
        lambda: WaitIdentity.process_signal(bad, "sig", 1),
        lambda: WaitIdentity.process_signal("p", bad, 1),
        lambda: JournalRetirement.session(bad),
        lambda: ExecutionScope.from_json({"type": "turn", "session_id": bad, "turn_id": "t"}),
    ]
    assert [_code(build) for build in builders] == ["invalid_id"] * len(builders)


@pytest.mark.parametrize("good", GOOD_IDS)
async def test_ids_that_are_not_refused_round_trip_exactly(good: str, host: Any) -> None:
    scope = ExecutionScope.turn(good, good)
    outcome = await host.scoped(scope).controller.execute_effect(
        _step(good, effect_id=good, session=good), LocalExecutor.durable_step(lambda value: value)
    )
    assert outcome.into_durable_step() == {"x": 1}
    replayed = await host.scoped(scope).controller.execute_effect(
        _step(good, effect_id=good, session=good), LocalExecutor.unavailable()
    )
    assert replayed.into_durable_step() == {"x": 1}
    key = await host.await_event_key(scope, WaitIdentity.custom(good))
    assert AwaitEventKey.from_token(key.to_token()) == key
    assert await host.resolve_await_event(key, Resolution.ok(good)) == ResolveOutcome.ACCEPTED
    assert await host.peek_await_event(key) == Resolution.ok(good)
    assert await host.retire_effect_journal(JournalRetirement.session(good)) == 1


@pytest.mark.parametrize("name", ["nul", "lone-high-surrogate", "zero-width-space", "nfd"])
async def test_session_calls_refuse_a_bad_session_id_on_every_backend(name: str, host: Any) -> None:
    bad = BAD_IDS[name]
    assert await _acode(host.revoke_await_events_for_session(bad)) == "invalid_id"
    assert await _acode(host.cancel_await_events_for_session(bad)) == "invalid_id"
    assert await _acode(host.list_outstanding_await_event_keys(bad)) == "invalid_id"


async def test_keys_that_differed_only_after_a_nul_can_no_longer_collide(host: Any) -> None:
    """On PostgreSQL ``k\\0one`` was stored as ``k`` (libpq cuts at NUL) and ``k\\0two`` then
    replayed its answer. Both are refused before any backend sees them; ``k`` is its own key."""
    assert _code(lambda: _step("k\x00one")) == "invalid_id"
    assert _code(lambda: _step("k\x00two")) == "invalid_id"
    controller = host.scoped(SCOPE).controller
    ran: list[str] = []
    outcome = await controller.execute_effect(_step("k"), LocalExecutor.durable_step(lambda v: ran.append("k")))
    assert outcome.into_durable_step() is None
    assert ran == ["k"]


# ---- arguments: coded, at the call that got them --------------------------------------------


@pytest.mark.parametrize("ttl", [math.nan, math.inf, -math.inf, 1e300, 0, -1, True, "5", 86_400.5])
async def test_open_host_refuses_an_impossible_lease_ttl(ttl: Any, backend_url: str) -> None:
    assert await _acode(open_host(backend_url, lease_ttl_s=ttl)) == "host_option_invalid"


async def test_open_host_takes_the_longest_lease_ttl(backend_url: str) -> None:
    async with await open_host(backend_url, lease_ttl_s=86_400) as host:
        outcome = await host.scoped(SCOPE).controller.execute_effect(
            _step("k"), LocalExecutor.durable_step(lambda v: "ok")
        )
        assert outcome.into_durable_step() == "ok"


async def test_a_sleep_the_journal_cannot_schedule_is_refused_and_leaves_no_row(host: Any) -> None:
    def sleep_envelope(duration_ms: int) -> EffectEnvelope:
        return EffectEnvelope(
            RuntimeInvocation.effect(RuntimeScope("s"), "nap", EffectKind.SLEEP, "nap"), Sleep(duration_ms)
        )

    controller = host.scoped(SCOPE).controller
    for duration in (2**64 - 1, 2**63, 2**62 + 1):
        assert await _acode(controller.execute_effect(sleep_envelope(duration), LocalExecutor.sleep())) == (
            "invalid_argument"
        )
    # Nothing was claimed under the key: the same key with a short sleep runs at once.
    await controller.execute_effect(sleep_envelope(1), LocalExecutor.sleep())
    replayed = await controller.execute_effect(sleep_envelope(1), LocalExecutor.unavailable())
    assert replayed.to_json() == {"type": "sleep"}


async def test_scoped_refuses_what_is_not_a_scope_on_every_host(host: Any) -> None:
    for each in (host, InlineEffectHost(), RecordingEffectHost()):
        for bad in ("x", None, 1, {"type": "turn"}):
            assert _code(lambda e=each, b=bad: e.scoped(b)) == "missing_execution_scope_id"
            assert _code(lambda e=each, b=bad: e.scoped_static(b)) == "missing_execution_scope_id"


async def test_execute_effect_refuses_mistyped_arguments_and_journals_nothing(host: Any) -> None:
    controllers = [host.scoped(SCOPE).controller, InlineEffectHost().scoped(SCOPE).controller,
                   RecordingEffectHost().scoped(SCOPE).controller]
    for controller in controllers:
        for executor in (None, "executor", lambda value: value):
            assert await _acode(controller.execute_effect(_step("k"), executor)) == "invalid_argument"
        for envelope in (None, "envelope", _step("k").to_json()):
            assert await _acode(
                controller.execute_effect(envelope, LocalExecutor.durable_step(lambda v: v))
            ) == "invalid_argument"
    # The refused calls claimed nothing: the key still executes on the durable host.
    outcome = await controllers[0].execute_effect(_step("k"), LocalExecutor.durable_step(lambda v: "ran"))
    assert outcome.into_durable_step() == "ran"


def test_local_executors_refuse_mistyped_options() -> None:
    for cancel in ("token", 1, object()):
        assert _code(lambda c=cancel: LocalExecutor.sleep(c)) == "invalid_argument"
        assert _code(lambda c=cancel: LocalExecutor.await_event(c)) == "invalid_argument"
    for deadline in (math.nan, math.inf, -math.inf, "soon", True):
        assert _code(lambda d=deadline: LocalExecutor.await_event(None, d)) == "invalid_argument"
    for fn in (None, "f", 3):
        assert _code(lambda f=fn: LocalExecutor.durable_step(f)) == "invalid_argument"
        assert _code(lambda f=fn: LocalExecutor.testing(f)) == "invalid_argument"


async def test_await_refuses_a_mistyped_cancel_or_deadline_on_every_host(host: Any) -> None:
    for each in (host, InlineEffectHost()):
        key = await each.await_event_key(SCOPE, WaitIdentity.custom("w"))
        for cancel, deadline in [("token", None), (1, None), (None, math.nan), (None, math.inf), (None, "x")]:
            assert await _acode(each.await_await_event(key, cancel, deadline)) == "invalid_argument"
        # A finite deadline in the past still times out (NaN used to mean "never").
        assert await each.await_await_event(key, None, time.monotonic() - 1) == Resolution.TIMEOUT


# ---- tokens: one string per key --------------------------------------------------------------


def _b64(raw: bytes, *, alphabet: str = "url", pad: bool = False) -> str:
    text = (base64.urlsafe_b64encode(raw) if alphabet == "url" else base64.standard_b64encode(raw)).decode()
    return text if pad else text.rstrip("=")


async def test_exactly_one_token_string_is_accepted_per_key() -> None:
    host = InlineEffectHost()
    # A key whose token uses both URL-safe characters and needs padding, so that every spelling
    # below really differs from the canonical one.
    for index in range(1_000):
        key = await host.await_event_key(SCOPE, WaitIdentity.custom(f"wait-{index}-\u00ff\u07ff\uffee\U0010fff0"))
        token = key.to_token()
        body = token[len("ehk1.") :]
        if "-" in body and "_" in body and len(body) % 4:
            break
    else:
        pytest.fail("no key with a token that needs padding and uses '-' and '_'")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    parts = json.loads(raw)
    scope_with_duplicate = '{"type":"turn","type":"turn","session_id":"s","turn_id":"t"}'
    spellings = {
        "padding": "ehk1." + _b64(raw, pad=True),
        "extra padding": "ehk1." + _b64(raw, pad=True) + "=",
        "standard alphabet": "ehk1." + _b64(raw, alphabet="std"),
        "leading space": " " + token,
        "trailing newline": token + "\n",
        "inner whitespace": token[:20] + " " + token[20:],
        "inner newline": token[:20] + "\n" + token[20:],
        "junk character": token[:20] + "!" + token[20:],
        "json spaces": "ehk1." + _b64(json.dumps(parts).encode()),
        "ascii escapes": "ehk1." + _b64(json.dumps(parts, ensure_ascii=True, separators=(",", ":")).encode()),
        "key order": "ehk1." + _b64(json.dumps(
            [dict(reversed(list(parts[0].items()))), *parts[1:]], ensure_ascii=False, separators=(",", ":")
        ).encode()),
        "duplicate key": "ehk1." + _b64(
            ("[" + scope_with_duplicate + raw.decode()[raw.decode().index("},") + 1 :]).encode()
        ),
        "uppercase prefix": "EHK1." + body,
        "trailing junk": token + ".",
    }
    everything = [token, *spellings.values()]
    assert len(set(everything)) == len(everything), [n for n, v in spellings.items() if everything.count(v) > 1]
    for name, spelling in spellings.items():
        with pytest.raises(EffectHostError) as caught:
            AwaitEventKey.from_token(spelling)
        assert caught.value.code == "await_event_token_malformed", name
    assert AwaitEventKey.from_token(token) == key
    assert await host.resolve_await_event(AwaitEventKey.from_token(token), Resolution.ok(1)) == (
        ResolveOutcome.ACCEPTED
    )


def test_a_token_naming_a_bad_id_is_malformed_not_a_crash() -> None:
    body = json.dumps(
        [{"type": "turn", "session_id": "X\ud800", "turn_id": "t"}, {"type": "custom", "key": "w"},
         "await-event:v3:sha256:" + "0" * 64, "0" * 64],
        separators=(",", ":"),
    )
    token = "ehk1." + _b64(body.encode("utf-8", "surrogatepass"))
    assert _code(lambda: AwaitEventKey.from_token(token)) == "await_event_token_malformed"


# ---- refusals cost the same work --------------------------------------------------------------


async def test_a_forged_key_and_a_revoked_key_cost_the_same_store_calls(host: Any) -> None:
    """No timing oracle (defect 5): a refusal reads the key's row exactly once, signature valid or
    not, so a forged key costs what a genuine key of a revoked session does."""
    session = f"oracle-{uuid.uuid4().hex[:6]}"
    scope = ExecutionScope.turn(session, "t")
    revoked = await host.await_event_key(scope, WaitIdentity.custom("w"))
    await host.revoke_await_events_for_session(session)
    forged = dataclasses.replace(revoked, signature="0" * 64)
    store = host.await_coordinator.store
    calls: list[str] = []
    for name in ("inspect", "store_terminal", "ensure_pending", "is_revoked"):
        original = getattr(store, name)

        async def counted(*args: Any, _name: str = name, _original: Any = original) -> Any:
            calls.append(_name)
            return await _original(*args)

        setattr(store, name, counted)

    seen: dict[str, list[str]] = {}
    for label, key in (("forged", forged), ("revoked", revoked)):
        calls.clear()
        assert await host.resolve_await_event(key, Resolution.ok(1)) == ResolveOutcome.UNKNOWN_OR_REVOKED
        assert await _acode(host.peek_await_event(key)) == "await_event_unknown_or_revoked"
        assert await _acode(host.await_await_event(key)) == "await_event_unknown_or_revoked"
        seen[label] = list(calls)
    assert seen["forged"] == seen["revoked"] == ["inspect", "inspect", "inspect"]
