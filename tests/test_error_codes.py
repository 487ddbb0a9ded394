"""`ErrorCode` holds exactly the codes the library raises, each documented and carrying its traits.

The source of ``src/effecthost`` is scanned with ``ast`` for every way a code reaches an
``EffectHostError``:

- ``ErrorCode.X`` references (a constant such as ``_STORE = ErrorCode.X`` handed down to a helper
  counts where it is written; in ``core/errors.py`` only raise sites count, not the traits table);
- families, ``{backend}_{tail}``: ``backend_code(backend, "suffix")`` (tail
  ``effect_replay_suffix``), a wrapper that passes its parameter on as the suffix
  (``self._code("missing")``), and f-strings ``f"{...}_effect_replay_suffix"`` or
  ``f"{...}_<a FAMILIES tail>"``; each tail counts for every first-party backend (a ``backend``
  property returning a literal), since such code serves any substrate;
- bare string literals in a code position: the first argument (or ``code=``) of
  ``EffectHostError`` anywhere, and, in the library (not the faces ``server/`` and ``cli/``, whose
  own HTTP and exit codes are not library errors), an argument for a parameter named ``code`` /
  ``*_code`` of a library function.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from effecthost import ErrorCode
from effecthost._private.core import error_docs
from effecthost._private.core.errors import FAMILIES, TRAITS, CodeTraits, family_of, traits_of
from effecthost.server.errors import status_for

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "effecthost"
ERRORS_MODULE = SRC / "_private" / "core" / "errors.py"
DOCS_MODULE = SRC / "_private" / "core" / "error_docs.py"

#: Codes the conformance vectors' own local executors raise, as a user's executor would: they are
#: journaled and replayed verbatim, and are not effecthost's codes.
EXECUTOR_CODES = {
    "conformance_replay_local_executor_called",
    "durable_step_conformance_error",
    "durable_step_replay_error",
    "durable_step_replay_local_executor_called",
    "lease_fencing_executor_called",
}
EXECUTOR_CODES_LIVE_UNDER = SRC / "testing"

#: Bare codes that never reach a caller, with where they are written (none today; an entry needs
#: a reason).
SUPPRESSED_CODES: dict[str, str] = {}

#: The faces: their helpers take the service's and the CLI's own codes, not library codes.
FACES = (SRC / "server", SRC / "cli")

#: Names of parameters (and dataclass fields) that take a code.
CODE_PARAM = re.compile(r"^(code|[a-z_]+_code)$")
#: Callables whose ``code`` parameter is not an error code.
NOT_CODE_TAKERS = {"ExecCode"}  # its ``code`` is the Python source to run


@dataclass
class Scan:
    members: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    literals: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    tails: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    backends: set[str] = field(default_factory=set)
    wrappers: set[str] = field(default_factory=set)
    takers: set[str] = field(default_factory=set)

    def raised(self) -> dict[str, list[str]]:
        """Every code raised, with where: members, literals, and each family for each backend."""
        out: dict[str, list[str]] = defaultdict(list)
        for name, where in self.members.items():
            value = ErrorCode[name].value if name in ErrorCode.__members__ else f"ErrorCode.{name}"
            out[value] += where
        for code, where in self.literals.items():
            out[code] += where
        for tail, where in self.tails.items():
            for backend in self.backends:
                out[f"{backend}_{tail}"] += where
        return out


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_member_ref(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "ErrorCode"
        and node.attr.isupper()
    ):
        return node.attr
    return None


def _family_tail(node: ast.AST) -> str | None:
    """``f"{backend}_effect_replay_store"`` → ``effect_replay_store``."""
    if isinstance(node, ast.JoinedStr) and len(node.values) >= 2:
        head, rest = node.values[-2], node.values[-1]
        if (
            isinstance(head, ast.FormattedValue)
            and isinstance(rest, ast.Constant)
            and isinstance(rest.value, str)
            and (rest.value.startswith("_effect_replay_") or rest.value[1:] in FAMILIES)
        ):
            return rest.value[1:]
    return None


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[list[str], list[str]]:
    """(positional parameters without self/cls, keyword-only parameters)."""
    positional = [a.arg for a in [*fn.args.posonlyargs, *fn.args.args]]
    if positional and positional[0] in ("self", "cls"):
        positional = positional[1:]
    return positional, [a.arg for a in fn.args.kwonlyargs]


def _dataclass_fields(node: ast.ClassDef) -> list[str] | None:
    """The fields of a ``@dataclass`` class in order (its constructor's positional parameters)."""
    if not any("dataclass" in ast.unparse(d) for d in node.decorator_list):
        return None
    return [
        s.target.id
        for s in node.body
        if isinstance(s, ast.AnnAssign)
        and isinstance(s.target, ast.Name)
        and "ClassVar" not in ast.unparse(s)
    ]


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(SRC.rglob("*.py"))]


def _is_face(path: Path) -> bool:
    return any(path.is_relative_to(face) for face in FACES)


@cache
def scan() -> Scan:
    trees = _trees()
    result = Scan()
    # pass 1: which functions take a code (by parameter name), and which wrap backend_code
    code_positions: dict[str, set[int]] = defaultdict(set)
    for path, tree in trees:
        for fn in ast.walk(tree):
            if isinstance(fn, ast.ClassDef) and (fields := _dataclass_fields(fn)) is not None:
                for index, name in enumerate(fields):
                    if CODE_PARAM.match(name) and not _is_face(path) and fn.name not in NOT_CODE_TAKERS:
                        code_positions[fn.name].add(index)
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            positional, _ = _params(fn)
            for index, name in enumerate(positional):
                if CODE_PARAM.match(name) and not _is_face(path):
                    code_positions[fn.name].add(index)
            if fn.name == "backend" and len(fn.body) == 1:
                ret = fn.body[0]
                if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Constant):
                    result.backends.add(ret.value.value)
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Call)
                    and _call_name(node) == "backend_code"
                    and len(node.args) == 2
                    and isinstance(node.args[1], ast.Name)
                    and node.args[1].id in positional
                    and fn.name != "backend_code"
                ):
                    result.wrappers.add(fn.name)
    result.takers = set(code_positions)
    # pass 2: references, families and literals in code positions
    for path, tree in trees:
        where = str(path.relative_to(ROOT))
        in_errors_module = path == ERRORS_MODULE
        for node in ast.walk(tree):
            member = _is_member_ref(node)
            if member is not None and not in_errors_module:
                result.members[member].append(f"{where}:{node.lineno}")
            tail = _family_tail(node)
            if tail is not None and path not in (ERRORS_MODULE, DOCS_MODULE):
                result.tails[tail].append(f"{where}:{node.lineno}")
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            code_args: list[ast.expr] = []
            if name == "EffectHostError":
                code_args += node.args[:1]
                code_args += [kw.value for kw in node.keywords if kw.arg == "code"]
            elif not _is_face(path):
                if name in code_positions:
                    code_args += [node.args[i] for i in code_positions[name] if i < len(node.args)]
                code_args += [kw.value for kw in node.keywords if kw.arg and CODE_PARAM.match(kw.arg)]
            for arg in code_args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    result.literals[arg.value].append(f"{where}:{arg.lineno}")
                elif in_errors_module and (ref := _is_member_ref(arg)) is not None:
                    result.members[ref].append(f"{where}:{arg.lineno}")
            if (name == "backend_code" and len(node.args) == 2) or (name in result.wrappers and node.args):
                arg = node.args[-1] if name == "backend_code" else node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    result.tails[f"effect_replay_{arg.value}"].append(f"{where}:{node.lineno}")
    return result


def documented_codes() -> set[str]:
    """The codes in the page's main table (the family table below it lists suffixes)."""
    page = (ROOT / "docs" / "error-codes.md").read_text().split("## Code families", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9_]+)` \| \d{3} \| (?:yes|no) \|", page, flags=re.MULTILINE))


# ---- the scan sees what it must ------------------------------------------------------------------


def test_the_scan_finds_the_shapes_it_looks_for() -> None:
    """If a refactor hid a shape from the scan (a renamed wrapper, backend), this fails first."""
    found = scan()
    assert found.backends == {"memory", "sqlite", "postgres"}
    assert "_code" in found.wrappers  # JournalController._code(suffix)
    journal = {"missing", "hash_conflict", "corrupt_row", "decode", "encode", "lease_lost"}
    assert {f"effect_replay_{suffix}" for suffix in journal} <= set(found.tails)
    assert "HOST_CLOSED" in found.members
    assert {"StopTurnControl", "store_error", "mismatch_error"} <= found.takers  # a field, parameters
    assert set(found.literals) >= EXECUTOR_CODES


# ---- ErrorCode == what is raised -------------------------------------------------------------------


def test_every_raised_code_is_an_error_code() -> None:
    values = {code.value for code in ErrorCode}
    missing = {
        code: where[:3]
        for code, where in scan().raised().items()
        if code not in values and code not in EXECUTOR_CODES and code not in SUPPRESSED_CODES
    }
    assert missing == {}, "add these codes to ErrorCode (with traits and a description)"


def test_every_error_code_is_raised() -> None:
    raised = scan().raised()
    never = sorted(code.value for code in ErrorCode if code.value not in raised)
    assert never == [], "remove these ErrorCode members (and their doc rows): nothing raises them"


def test_every_raised_code_is_in_the_docs_table() -> None:
    documented = documented_codes()
    not_ours = EXECUTOR_CODES | set(SUPPRESSED_CODES)
    undocumented = sorted(c for c in scan().raised() if c not in documented and c not in not_ours)
    assert undocumented == []


def test_raise_sites_name_codes_by_member_not_by_string() -> None:
    values = {code.value for code in ErrorCode}
    bare = {code: where for code, where in scan().literals.items() if code in values}
    assert bare == {}, "write ErrorCode.X instead of the bare string"


def test_bare_codes_are_exactly_the_conformance_kits_executor_codes_and_the_suppressed_ones() -> None:
    literals = scan().literals
    stray = {
        c: w
        for c, w in literals.items()
        if c not in EXECUTOR_CODES and c not in SUPPRESSED_CODES and c not in set(ErrorCode)
    }
    assert stray == {}, "raise these as ErrorCode members"
    for code in EXECUTOR_CODES:
        assert literals.get(code), f"{code} is raised no more: drop it from EXECUTOR_CODES"
        for where in literals[code]:
            assert (ROOT / where.rsplit(":", 1)[0]).is_relative_to(EXECUTOR_CODES_LIVE_UNDER), where
    for code, path in SUPPRESSED_CODES.items():
        assert [w.rsplit(":", 1)[0] for w in literals.get(code, [])] == [path], (
            f"{code} moved or is gone: update SUPPRESSED_CODES"
        )


def test_the_docs_describe_no_code_that_is_gone() -> None:
    values = {code.value for code in ErrorCode}
    assert sorted(set(error_docs.DESCRIPTIONS) - values) == []
    assert documented_codes() == values


# ---- codes carry their traits ----------------------------------------------------------------------


def test_every_member_has_traits_and_family_codes_take_their_familys() -> None:
    assert set(TRAITS) == {code.value for code in ErrorCode}
    for code in ErrorCode:
        traits = TRAITS[code.value]
        assert traits.status in (400, 404, 409, 413, 422, 503), code
        assert traits.retryable or traits.status < 500, f"{code}: a 5xx is always retryable"
        tail = family_of(code)
        if tail is not None:
            assert traits == FAMILIES[tail], code


def test_traits_of_knows_any_backends_journal_codes_and_nothing_else() -> None:
    assert traits_of("acme_effect_replay_store") == CodeTraits(503, True)
    assert traits_of("acme_effect_replay_hash_conflict") == CodeTraits(400, False)
    assert traits_of("acme_effect_replay_weird") is None
    assert traits_of("runtime_effect_replay_required") == CodeTraits(400, False)
    assert traits_of("acme_await_event_store") == CodeTraits(503, True)
    assert traits_of("my_executor_store") is None
    assert traits_of(ErrorCode.HOST_CLOSED) == CodeTraits(503, True)


#: Today's non-400 statuses (the service answered these before codes carried them as data).
NOT_400 = {
    "turn_not_found": 404,
    "turn_start_conflict": 409,
    "turn_not_resumable": 409,
    "turn_cancelled": 409,
    "turn_failed": 422,
    "turn_step_failed": 422,
    "turn_payload_too_large": 413,
    "turn_lease_lost": 503,
    "sqlite_turn_store": 503,
    "postgres_turn_store": 503,
    "await_event_unknown_or_revoked": 404,
    "await_event_resolution_invalid": 422,
    "postgres_payload_too_large": 413,
    "host_closed": 503,
    "canonical_json_unsupported_type": 422,
    "canonical_json_non_finite": 422,
    "canonical_json_integer_range": 422,
    "canonical_json_key_type": 422,
    "canonical_json_invalid_string": 422,
    "canonical_json_too_deep": 422,
    "memory_effect_replay_lease_lost": 503,
    "sqlite_effect_replay_lease_lost": 503,
    "postgres_effect_replay_lease_lost": 503,
    "memory_effect_replay_store": 503,
    "sqlite_effect_replay_store": 503,
    "postgres_effect_replay_store": 503,
    "memory_await_event_store": 503,
    "sqlite_await_event_store": 503,
    "postgres_await_event_store": 503,
    "restate_journal_budget_exceeded": 413,
    "restate_ingress": 503,
    "restate_server_unavailable": 503,
    "agent_limit_reached": 422,
    "agent_tool_failed": 422,
    "agent_tool_error": 422,
    "model_unavailable": 503,
    "model_response_invalid": 422,
    "session_unknown": 404,
    "session_live": 409,
    "server_unreachable": 503,
    "temporal_history_budget_exceeded": 413,
    "temporal_client": 503,
    "temporal_server_unavailable": 503,
    "temporal_blob_missing": 503,
}


@pytest.mark.parametrize("code", list(ErrorCode), ids=str)
def test_the_service_answers_each_code_with_its_status(code: ErrorCode) -> None:
    assert status_for(code.value) == TRAITS[code.value].status == NOT_400.get(code.value, 400)


def test_the_service_answers_codes_that_are_not_ours_400_and_any_backends_store_503() -> None:
    assert status_for("some_executor_error") == 400
    assert status_for("acme_effect_replay_store") == 503
    assert status_for("acme_effect_replay_lease_lost") == 503


def test_the_http_docs_status_table_agrees_with_the_data() -> None:
    """Each library code (or pattern such as `*_store`) in docs/http-api.md's table sits in its row."""
    page = (ROOT / "docs" / "http-api.md").read_text()
    rows = re.findall(r"^\| (\d{3}) \| (.*) \|$", page, flags=re.MULTILINE)
    assert rows
    checked = 0
    for status, text in rows:
        for token in re.findall(r"`([a-z0-9_*]+)`", text):
            matching = [c for c in ErrorCode if fnmatch.fnmatchcase(c.value, token)]
            for code in matching:
                assert TRAITS[code.value].status == int(status), (token, code.value)
                checked += 1
    assert checked >= len(NOT_400)
