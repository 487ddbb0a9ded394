"""v3 key derivation, HMAC-SHA256 signing and constant-time verification (spec 5.1).

The framing is byte-for-byte the seed system's "stable identity" encoding; golden vectors in
tests/test_await_keys.py.
"""

from __future__ import annotations

import hashlib
import hmac
import struct

from ..core.await_values import AwaitEventKey, WaitIdentity
from ..core.errors import EffectHostError
from ..core.identity import ExecutionScope

KEY_ID_PREFIX = "await-event:v3:sha256:"
_HEADER = b"lash-stable-identity"
_GLOBAL_SALT = 1
_VERSION = 3
_PROMISE_DOMAIN = b"lash.await-event"
_AUTH_DOMAIN = b"lash.await-event-auth"
_SCOPE_TAGS = {"turn": 1, "process": 2, "queue_drain": 3, "session_delete": 4, "runtime_operation": 5}
_WAIT_TAGS = {
    "tool_completion": 1,
    "process_signal": 2,
    "turn_cancel_gate": 3,
    "turn_terminal": 4,
    "custom": 5,
}


def _frame(data: bytes) -> bytes:
    return struct.pack(">Q", len(data)) + data


def _text(value: str) -> bytes:
    return _frame(value.encode("utf-8"))


def _header(domain: bytes) -> bytes:
    return _HEADER + bytes([_GLOBAL_SALT, _VERSION]) + _frame(domain)


def promise_preimage(scope: ExecutionScope, wait: WaitIdentity) -> bytes:
    """The framed bytes that name a promise; validates scope first, then wait (spec 9.6)."""
    scope.validate()
    wait.validate()
    out = bytearray(_header(_PROMISE_DOMAIN))
    out.append(_SCOPE_TAGS[scope.variant])
    for value in scope.ids:
        out += _text(value)
    out.append(_WAIT_TAGS[wait.variant])
    for value in wait.fields:
        out += struct.pack(">Q", value) if isinstance(value, int) else _text(value)
    return bytes(out)


def derive_key_id(scope: ExecutionScope, wait: WaitIdentity) -> str:
    return KEY_ID_PREFIX + hashlib.sha256(promise_preimage(scope, wait)).hexdigest()


def sign_material(scope: ExecutionScope, wait: WaitIdentity, key_id: str) -> bytes:
    return _header(_AUTH_DOMAIN) + _frame(promise_preimage(scope, wait)) + _text(key_id)


def sign(secret: bytes, scope: ExecutionScope, wait: WaitIdentity, key_id: str) -> str:
    return hmac.new(secret, sign_material(scope, wait, key_id), hashlib.sha256).hexdigest()


def mint(secret: bytes, scope: ExecutionScope, wait: WaitIdentity) -> AwaitEventKey:
    key_id = derive_key_id(scope, wait)
    return AwaitEventKey(scope, wait, key_id, sign(secret, scope, wait, key_id))


def authenticate(secret: bytes, key: object) -> bool:
    """True iff ``key`` is an AwaitEventKey this secret minted. Constant time in the secret parts.

    Never raises: a malformed key is simply not authentic (no oracle for what was wrong).
    """
    if not isinstance(key, AwaitEventKey):
        return False
    if not isinstance(key.key_id, str) or not isinstance(key.signature, str):
        return False
    try:
        expected_id = derive_key_id(key.scope, key.wait)
        expected_sig = sign(secret, key.scope, key.wait, expected_id)
    except (EffectHostError, TypeError, ValueError, KeyError, struct.error, UnicodeEncodeError):
        return False
    id_ok = hmac.compare_digest(expected_id.encode(), key.key_id.encode("utf-8", "surrogatepass"))
    sig_ok = hmac.compare_digest(expected_sig.encode(), key.signature.encode("utf-8", "surrogatepass"))
    return id_ok & sig_ok
