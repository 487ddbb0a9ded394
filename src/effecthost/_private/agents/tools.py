"""Agent tools: typed Python functions (sync or async) whose JSON schema comes from their
signature and docstring, through pydantic (the ``agents`` extra).

The schema is pydantic's for a model built from the parameters (``create_model``, then a
``TypeAdapter`` for its schema and for validation), so every type pydantic knows works: ``int``,
``Literal[...]``, ``list[str]``, dataclasses, models, ``Annotated[..., Field(...)]``. Parameter
descriptions come from the docstring's ``Args:`` section (Google style) or ``:param x:`` lines.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints, overload

from ..core.errors import EffectHostError, ErrorCode
from ..turns.retry import RetryPolicy
from .extras import require
from .messages import ToolSpec


class ToolError(Exception):
    """Raise it in a tool to tell the model something went wrong (bad input, nothing found): the
    message becomes the tool's result, marked as an error, and the agent goes on. Any other
    exception (after the tool's retry policy) stops the agent with ``agent_tool_failed``."""


class InvalidArguments(Exception):
    """The model's arguments do not fit the tool's schema (the message says where)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Tool:
    """A tool an agent may call. Build one with :func:`agent_tool` or :meth:`from_function`."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]
    #: The loop waits for a human's approval (``turn.wait``) before every call.
    needs_approval: bool = False
    #: The turn API's retry policy for each call (None: one attempt).
    retry: RetryPolicy | None = None
    _adapter: Any = dataclasses.field(default=None, repr=False)
    _fields: tuple[str, ...] = dataclasses.field(default=(), repr=False)

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        needs_approval: bool = False,
        retry: RetryPolicy | None = None,
    ) -> Tool:
        if not callable(fn):
            raise EffectHostError(ErrorCode.INVALID_ARGUMENT, f"a tool is a function, not {fn!r}")
        pydantic = require("pydantic", "agents", "an agent tool")
        tool_name = str(name or getattr(fn, "__name__", ""))
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", tool_name):
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT,
                f"a tool name is 1-64 letters, digits, '_' or '-' (as model APIs want), not {tool_name!r}",
            )
        summary, documented = _parse_docstring(inspect.getdoc(fn) or "")
        try:
            hints = get_type_hints(fn, include_extras=True)
        except Exception as exc:
            raise EffectHostError(
                ErrorCode.INVALID_ARGUMENT, f"tool {tool_name!r}: its annotations do not resolve: {exc}"
            ) from None
        fields: dict[str, Any] = {}
        for param in inspect.signature(fn).parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise EffectHostError(
                    ErrorCode.INVALID_ARGUMENT,
                    f"tool {tool_name!r}: *{param.name} has no schema; name every parameter",
                )
            if param.kind is param.POSITIONAL_ONLY:
                raise EffectHostError(
                    ErrorCode.INVALID_ARGUMENT,
                    f"tool {tool_name!r}: {param.name} is positional-only; tools are called by keyword",
                )
            annotation = hints.get(param.name, Any)
            default = ... if param.default is param.empty else param.default
            fields[param.name] = (
                annotation,
                pydantic.Field(default, description=documented.get(param.name)),
            )
        model = pydantic.create_model(f"{tool_name}_arguments", **fields)
        adapter = pydantic.TypeAdapter(model)
        schema = adapter.json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            if isinstance(prop, dict):
                prop.pop("title", None)
        return cls(
            name=tool_name,
            description=description if description is not None else summary,
            parameters=schema,
            fn=fn,
            needs_approval=needs_approval,
            retry=retry,
            _adapter=adapter,
            _fields=tuple(fields),
        )

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    def validate(self, arguments: Mapping[str, Any] | str) -> dict[str, Any]:
        """The model's arguments as the function's keyword arguments (typed values), or
        :class:`InvalidArguments` saying what is wrong, for the model to fix."""
        if not isinstance(arguments, Mapping):
            raise InvalidArguments(f"the arguments are not a JSON object: {str(arguments)[:200]!r}")
        pydantic = require("pydantic", "agents", "an agent tool")
        try:
            model = self._adapter.validate_python(dict(arguments))
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or '(arguments)'}: {error['msg']}"
                for error in exc.errors(include_url=False)
            )
            raise InvalidArguments(problems) from None
        return {name: getattr(model, name) for name in self._fields}

    def to_jsonable(self, value: Any) -> Any:
        """A tool's return value as JSON (models, dataclasses, dates: pydantic's JSON mode)."""
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        core = require("pydantic_core", "agents", "an agent tool")
        return core.to_jsonable_python(value)


@overload
def agent_tool(fn: Callable[..., Any], /) -> Tool: ...
@overload
def agent_tool(
    *,
    name: str | None = None,
    description: str | None = None,
    needs_approval: bool = False,
    retry: RetryPolicy | None = None,
) -> Callable[[Callable[..., Any]], Tool]: ...
def agent_tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    needs_approval: bool = False,
    retry: RetryPolicy | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """``@agent_tool`` or ``@agent_tool(needs_approval=True, ...)``: a :class:`Tool` from a function.

    The function stays callable as ``tool.fn``; an agent calls it through a durable turn."""

    def build(function: Callable[..., Any]) -> Tool:
        return Tool.from_function(
            function, name=name, description=description, needs_approval=needs_approval, retry=retry
        )

    return build(fn) if fn is not None else build


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns|Raises|Yields|Examples?|Notes?):\s*$")
_GOOGLE_ARG = re.compile(r"^\s+(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX_ARG = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The summary (the text before any section) and each parameter's description."""
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        if match := _SECTION.match(stripped):
            section, current = match.group(1), None
            continue
        if match := _SPHINX_ARG.match(stripped):
            current = match.group(1)
            params[current] = match.group(2).strip()
            section = "sphinx"
            continue
        if section is None:
            summary.append(stripped)
        elif section in ("Args", "Arguments", "Parameters"):
            if match := _GOOGLE_ARG.match(line):
                current = match.group(1).lstrip("*")
                params[current] = match.group(2).strip()
            elif current is not None and stripped:
                params[current] = f"{params[current]} {stripped}".strip()
        elif section == "sphinx" and current is not None and stripped and not stripped.startswith(":"):
            params[current] = f"{params[current]} {stripped}".strip()
    return " ".join(" ".join(summary).split()), params
