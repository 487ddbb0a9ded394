"""Durable agents: a tool-calling agent loop on durable turns (docs/agents.md).

An :class:`Agent` (name, model, instructions, tools, limits) runs inside a durable turn: each model
request is one ``llm_call`` effect, each tool call one ``tool_call`` effect keyed by the model's
call id, each approval one await event. A crash, a redeploy or a week-long wait for an approval
loses nothing, and a re-drive never pays for the same model request twice.

Tools need the ``agents`` extra (pydantic); :class:`OpenAIModel` the ``openai`` extra and
:class:`AnthropicModel` the ``anthropic`` extra. Each is imported when first used.
"""

from .._private.agents.anthropic_client import AnthropicModel
from .._private.agents.approvals import approve, edit, reject
from .._private.agents.loop import Agent, AgentLimits, AgentResult, Spend, StopReason
from .._private.agents.messages import ModelRequest, ModelResponse, ToolCallPart, ToolSpec, Usage
from .._private.agents.openai_client import OpenAIModel
from .._private.agents.protocol import DeltaStream, ModelClient, StreamDelta, StreamSink
from .._private.agents.scripted import ScriptedModel, call, calls, reply
from .._private.agents.tools import Tool, ToolError, agent_tool
from .._private.core.exports import claim_exports

__all__ = [
    "Agent",
    "AgentLimits",
    "AgentResult",
    "AnthropicModel",
    "DeltaStream",
    "ModelClient",
    "ModelRequest",
    "ModelResponse",
    "OpenAIModel",
    "ScriptedModel",
    "Spend",
    "StopReason",
    "StreamDelta",
    "StreamSink",
    "Tool",
    "ToolCallPart",
    "ToolError",
    "ToolSpec",
    "Usage",
    "agent_tool",
    "approve",
    "call",
    "calls",
    "edit",
    "reject",
    "reply",
]

claim_exports(globals())
