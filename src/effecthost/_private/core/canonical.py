"""Canonical JSON and the stable hash, byte-compatible with the seed system.

The seed serialises envelopes with serde_json: compact separators, UTF-8 emitted raw, struct fields
in declaration order (our model builds dicts in that order), and free-form JSON values with their
object keys sorted (serde_json without ``preserve_order``). :func:`normalize` turns a user value into
that free-form shape; :func:`dumps` writes any tree of dicts/lists/scalars exactly as serde would.

Decisions for values serde could not have produced (documented in docs/canonical-json.md):

* floats are written the way Rust's ``ryu`` writes them (``1e16``, ``1.5e-7``, ``100.0``);
* NaN and infinities, non-string object keys, lone surrogates, integers outside
  ``[-2**63, 2**64 - 1]``, nesting deeper than :data:`MAX_DEPTH` and any non-JSON type (bytes, sets,
  dates, objects) are refused with a coded :class:`EffectHostError` instead of hashing something the
  seed system could never reproduce.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from decimal import Decimal
from typing import Any

from .errors import EffectHostError, ErrorCode

#: serde_json refuses to parse deeper documents; we refuse to write them.
MAX_DEPTH = 128
_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1

JSONValue = Any


def normalize(value: Any, *, what: str = "value") -> JSONValue:
    """Validate a free-form JSON value and return it with every object's keys sorted."""
    try:
        return _fast(value, 0)
    except (_Refused, UnicodeEncodeError, TypeError):
        # Something is wrong: the careful walk finds it again and names its JSON path. (The fast
        # walk builds no paths: formatting one per value was most of the cost of a valid value.)
        return _normalize(value, what, 0)


class _Refused(Exception):
    """The fast walk met a value it does not accept (the careful walk says why, and where)."""


def _fast(value: Any, depth: int) -> JSONValue:
    """``_normalize`` without the paths its errors need: the same values accepted, the same result."""
    if depth > MAX_DEPTH:
        raise _Refused
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        if not value.isascii():
            value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError
        return value
    if isinstance(value, int):
        if not _I64_MIN <= value <= _U64_MAX:
            raise _Refused
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Refused
        return float(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in sorted(value):  # mixed key types raise TypeError; other non-str keys below
            if not isinstance(key, str):
                raise _Refused
            if not key.isascii():
                key.encode("utf-8")
            out[key] = _fast(value[key], depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_fast(item, depth + 1) for item in value]
    raise _Refused


def _normalize(value: Any, path: str, depth: int) -> JSONValue:
    if depth > MAX_DEPTH:
        raise EffectHostError(
            ErrorCode.CANONICAL_JSON_TOO_DEEP, f"{path} nests deeper than {MAX_DEPTH} levels"
        )
    if value is None or value is True or value is False:
        return value
    if isinstance(value, str):
        _check_text(value, path)
        return value
    if isinstance(value, int):
        if not _I64_MIN <= value <= _U64_MAX:
            raise EffectHostError(
                ErrorCode.CANONICAL_JSON_INTEGER_RANGE,
                f"{path} holds an integer outside the 64-bit range JSON peers can read",
            )
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EffectHostError(
                ErrorCode.CANONICAL_JSON_NON_FINITE, f"{path} holds {value!r}, which JSON cannot carry"
            )
        return float(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key in sorted(value, key=_key_order(path)):
            _check_text(key, f"{path} key")
            out[key] = _normalize(value[key], f"{path}.{key}", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_normalize(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise EffectHostError(
        ErrorCode.CANONICAL_JSON_UNSUPPORTED_TYPE,
        f"{path} holds a {type(value).__name__}, which is not a JSON value",
    )


def _key_order(path: str) -> Any:
    def order(key: object) -> str:
        if not isinstance(key, str):
            raise EffectHostError(
                ErrorCode.CANONICAL_JSON_KEY_TYPE,
                f"{path} has a {type(key).__name__} object key; JSON keys are strings",
            )
        return key

    return order


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise EffectHostError(
            ErrorCode.CANONICAL_JSON_INVALID_STRING, f"{path} is not valid Unicode (lone surrogate)"
        ) from None


def dumps(tree: Any) -> str:
    """Serialise an already-shaped tree (dict order kept) exactly as serde_json would."""
    text = "".join(_C_ENCODE(tree, 0)) if _C_ENCODE is not None else _ENCODER.encode(tree)
    # Python and Rust write floats with the same shortest digits; they differ only where Python
    # picks exponent form (``1e+16``, ``1e-05``). Only then take the slow, exact writer. A match
    # inside a string is a harmless false positive. (The substring tests are a cheap pre-check:
    # without "e+" or "e-" there is no exponent, and most texts have neither.)
    if ("e+" not in text and "e-" not in text) or _PY_EXPONENT.search(text) is None:
        return text
    parts: list[str] = []
    _write(tree, parts)
    return "".join(parts)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# The C encoder _ENCODER.encode builds on every call, built once (it is most of the cost of encoding
# a small outcome). No circular-reference markers: every tree written here is built by our model or
# by normalize(), whose depth limit already refuses cycles.
_C_ENCODE = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else None
)
_PY_EXPONENT = re.compile(r"\de[-+]\d")


def stable_hash_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_hash(tree: Any) -> str:
    """Lowercase hex SHA-256 of :func:`dumps`."""
    return stable_hash_text(dumps(tree))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# One decoder for every call: json.loads with keyword arguments builds a new decoder each time.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def loads(text: str | bytes) -> Any:
    """Parse JSON strictly: no NaN/Infinity literals."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    return _DECODER.decode(text)


_encode_str = json.encoder.py_encode_basestring  # ensure_ascii=False escaping, as serde does


def _write(tree: Any, out: list[str]) -> None:
    if tree is None:
        out.append("null")
    elif tree is True:
        out.append("true")
    elif tree is False:
        out.append("false")
    elif isinstance(tree, str):
        out.append(_encode_str(tree))
    elif isinstance(tree, int):
        out.append(str(int(tree)))
    elif isinstance(tree, float):
        out.append(rust_float(tree))
    elif isinstance(tree, dict):
        out.append("{")
        for i, (key, item) in enumerate(tree.items()):
            if i:
                out.append(",")
            out.append(_encode_str(key))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(tree, list):
        out.append("[")
        for i, item in enumerate(tree):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:  # pragma: no cover - trees come from normalize() and the model
        raise EffectHostError(
            ErrorCode.CANONICAL_JSON_UNSUPPORTED_TYPE, f"cannot serialise {type(tree).__name__}"
        )


def rust_float(value: float) -> str:
    """Format a finite float as Rust's ``ryu`` (used by serde_json) does."""
    if not math.isfinite(value):
        raise EffectHostError(ErrorCode.CANONICAL_JSON_NON_FINITE, f"{value!r} is not finite")
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    # repr() gives the shortest round-tripping digits, the same digits ryu finds.
    decimal_digits = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(str(d) for d in decimal_digits.digits).rstrip("0") or "0"
    exponent = int(decimal_digits.exponent) + (len(decimal_digits.digits) - len(digits))
    length = len(digits)
    kk = length + exponent  # position of the decimal point relative to the digits
    if exponent >= 0 and kk <= 16:
        text = digits + "0" * exponent + ".0"
    elif 0 < kk <= 16:
        text = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        text = "0." + "0" * (-kk) + digits
    elif length == 1:
        text = f"{digits}e{kk - 1}"
    else:
        text = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return sign + text
