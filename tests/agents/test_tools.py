"""Tools from typed functions: the JSON schema comes from the signature and the docstring (pydantic),
arguments are validated into typed values, and bad definitions are coded errors."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from effecthost import EffectHostError
from effecthost._private.agents.tools import InvalidArguments
from effecthost.agents import Tool, agent_tool


class Address(BaseModel):
    street: str
    city: str


@dataclasses.dataclass
class Window:
    start: str
    end: str


@agent_tool(needs_approval=True)
def ship(
    order: str,
    to: Address,
    speed: Literal["standard", "express"] = "standard",
    window: Window | None = None,
    notes: Annotated[list[str], Field(max_length=3)] = [],  # noqa: B006
) -> dict[str, Any]:
    """Ship an order somewhere.

    More words that are not the summary's.

    Args:
        order: the order's id
        to: where to
        speed: how fast; express
            costs more
    """
    return {"order": order, "to": to, "speed": speed, "window": window, "notes": notes}


def test_the_schema_comes_from_the_signature_and_the_docstring() -> None:
    assert ship.name == "ship" and ship.needs_approval
    assert ship.description == "Ship an order somewhere. More words that are not the summary's."
    schema = ship.parameters
    assert schema["type"] == "object" and schema["required"] == ["order", "to"]
    props = schema["properties"]
    assert props["order"] == {"type": "string", "description": "the order's id"}
    assert props["speed"]["enum"] == ["standard", "express"] and props["speed"]["default"] == "standard"
    assert props["speed"]["description"] == "how fast; express costs more"
    assert props["notes"]["maxItems"] == 3
    assert "Address" in schema["$defs"] and "Window" in schema["$defs"]


def test_sphinx_docstrings_and_explicit_names() -> None:
    def find(query: str, limit: int = 5) -> list[str]:
        """Find things.

        :param query: what to find
        :param limit: at most this many
        """
        return [query] * limit

    tool = Tool.from_function(find, name="find-things", description="Finds.")
    assert tool.name == "find-things" and tool.description == "Finds."
    assert tool.parameters["properties"]["query"]["description"] == "what to find"
    assert tool.parameters["properties"]["limit"] == {"type": "integer", "default": 5, "description": "at most this many"}


def test_arguments_are_validated_into_typed_values() -> None:
    kwargs = ship.validate({"order": "A1", "to": {"street": "1 Main St", "city": "Lyon"}, "window": {"start": "9", "end": "12"}})
    assert isinstance(kwargs["to"], Address) and isinstance(kwargs["window"], Window)
    assert kwargs["speed"] == "standard" and kwargs["notes"] == []
    value = ship.to_jsonable(ship.fn(**kwargs))
    assert value["to"] == {"street": "1 Main St", "city": "Lyon"} and value["window"] == {"start": "9", "end": "12"}
    with pytest.raises(InvalidArguments) as raised:
        ship.validate({"order": 1, "to": {"street": "x"}, "speed": "warp"})
    message = str(raised.value)
    assert "order: Input should be a valid string" in message
    assert "to.city: Field required" in message
    assert "speed: Input should be 'standard' or 'express'" in message
    with pytest.raises(InvalidArguments, match="not a JSON object"):
        ship.validate("{oops")


def test_bad_tool_definitions_are_coded_errors() -> None:
    def spread(*items: str) -> None: ...

    def positional(a: int, /) -> None: ...

    for fn, text in ((spread, "*items has no schema"), (positional, "positional-only")):
        with pytest.raises(EffectHostError) as raised:
            Tool.from_function(fn)
        assert raised.value.code == "invalid_argument" and text in raised.value.message
    with pytest.raises(EffectHostError) as raised:
        Tool.from_function(lambda: None)
    assert "a tool name is 1-64" in raised.value.message
