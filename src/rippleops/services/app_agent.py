"""The agent loop of an ``agent`` step: the model answers with JSON, either
``{"tool": NAME, "args": {...}}`` to call one of the step's tools or ``{"answer": "..."}``;
each tool's result (or its error) is fed back as the next user turn, for at most
``max_steps`` model calls. A local model decodes under a JSON schema of exactly those two
shapes (a llama.cpp grammar), so its reply always parses; another model is told the format
in the system turn, and a reply that does not parse is told so and costs a step.

A tool that fails does not end the loop: the agent sees ``error: ...`` as the result and
may try something else (the tool's span records the error). When ``max_steps`` calls pass
without an answer, the loop stops with a message saying so and ``finish_reason="length"``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rippleops.domain.records import GenerationRecord
from rippleops.services.app_tools import Tool, result_text

SYSTEM = (
    "Answer the user's question. You may call these tools:\n{tools}\n"
    'Reply with JSON only: {{"tool": "<name>", "args": {{...}}}} to call a tool, or {{"answer": "<text>"}} '
    "once you know the answer."
)


def agent_schema(tool_names: Sequence[str]) -> dict[str, Any]:
    """The JSON schema of one agent reply: a tool call or an answer."""
    return {
        "anyOf": [
            {
                "type": "object",
                "properties": {"tool": {"enum": list(tool_names)}, "args": {"type": "object"}},
                "required": ["tool", "args"],
            },
            {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
        ]
    }


def system_turn(tools: Sequence[Tool]) -> dict[str, str]:
    lines = "\n".join(f"- {t.name}: {t.spec.description or 'no description'}" for t in tools)
    return {"role": "system", "content": SYSTEM.format(tools=lines)}


@dataclass
class AgentIO:
    """What the loop needs from the app call: its first messages, a model call and a tool call
    (each traced by the caller as a child of the agent's span)."""

    messages: list[dict[str, str]]
    tools: Mapping[str, Tool]
    max_steps: int
    generate: Callable[[list[dict[str, str]], int], GenerationRecord]
    call_tool: Callable[[Tool, dict[str, Any]], tuple[Any, str | None]]  # (result, error message)


def run_agent(io: AgentIO) -> tuple[str, str, int]:
    """(answer, finish reason, model calls made)."""
    messages = list(io.messages)
    for step in range(1, io.max_steps + 1):
        out = io.generate(messages, step)
        reply, problem = parse_reply(out.text, io.tools)
        if reply is not None and "answer" in reply:
            return str(reply["answer"]), "stop", step
        messages.append({"role": "assistant", "content": out.text})
        if reply is None:
            messages.append({"role": "user", "content": f"That reply is not valid: {problem}. {_FORMAT}"})
            continue
        tool = io.tools[reply["tool"]]
        result, error = io.call_tool(tool, reply["args"])
        told = f"error: {error}" if error is not None else result_text(result)
        messages.append({"role": "user", "content": f"Result of {tool.name}: {told}"})
    return (
        f"The agent stopped after {io.max_steps} steps without an answer (its step limit, max_steps); "
        "raise max_steps or simplify the question.",
        "length",
        io.max_steps,
    )


_FORMAT = 'Reply with JSON only: {"tool": "<name>", "args": {...}} or {"answer": "<text>"}.'


def parse_reply(text: str, tools: Mapping[str, Tool]) -> tuple[dict[str, Any] | None, str]:
    """The reply as ``{"answer": ...}`` or ``{"tool": ..., "args": {...}}``, or why it is neither."""
    try:
        data = json.loads(text)
    except ValueError:
        return None, "it is not JSON"
    if not isinstance(data, dict):
        return None, "it is not a JSON object"
    if isinstance(data.get("answer"), str):
        return {"answer": data["answer"]}, ""
    name, args = data.get("tool"), data.get("args", {})
    if name not in tools:
        return None, f"{name!r} is not a tool; tools: {', '.join(tools)}"
    if not isinstance(args, dict):
        return None, "args must be a JSON object"
    return {"tool": name, "args": args}, ""
