"""mcpspec test-bed server built on the official MCP Python SDK (2.x).

A small but representative server: read-only tools (one of them slow, reporting
progress), a tool that always fails,
a static resource, a resource template, a prompt with a required argument and
argument completion for that prompt.

Usage:
    server.py                                   # stdio (default)
    server.py --transport streamable-http --port 8931   # http://127.0.0.1:8931/mcp
    server.py --transport sse --port 8931               # http://127.0.0.1:8931/sse

HTTP transports always bind 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
    ToolAnnotations,
)

LOOPBACK = "127.0.0.1"

# Items served through the resource template and offered as completions.
ITEMS = {
    "1": "first item",
    "2": "second item",
    "42": "the answer",
}

# Values offered when completing the `topic` argument of the `summarize` prompt.
TOPICS = ["mcp", "json-rpc", "jsonschema", "stdio", "streamable-http"]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

mcp = MCPServer(
    name="mcpspec-testbed-python",
    version="0.1.0",
    instructions="mcpspec test-bed server (Python SDK). Tools: echo, add, slow, fail.",
)


@mcp.tool(description="Echo the given text back unchanged.", annotations=READ_ONLY)
def echo(text: str) -> str:
    return text


@mcp.tool(description="Add two integers.", annotations=READ_ONLY)
def add(a: int, b: int) -> int:
    return a + b


@mcp.tool(
    description="Wait `ms` milliseconds (at most 10000), reporting progress four times, then say so.",
    annotations=READ_ONLY,
)
async def slow(ms: int, ctx: Context) -> str:
    ms = max(0, min(ms, 10_000))
    for step in range(1, 5):
        await asyncio.sleep(ms / 4000)
        await ctx.report_progress(step, 4)
    return f"waited {ms} ms"


@mcp.tool(
    description=(
        "Always fails, to show how tool errors are reported. mode='crash' (default) raises "
        "RuntimeError (an unexpected exception); mode='expected' raises ToolError."
    )
)
def fail(mode: str = "crash", reason: str = "requested failure") -> str:
    if mode == "expected":
        raise ToolError(f"fail tool: {reason}")
    raise RuntimeError(f"fail tool crashed: {reason}")


@mcp.resource(
    "testbed://static/hello",
    name="hello",
    description="A static text resource.",
    mime_type="text/plain",
)
def hello() -> str:
    return "Hello from the mcpspec Python test-bed server."


@mcp.resource(
    "testbed://items/{id}",
    name="item",
    description="One item by id (known ids: 1, 2, 42).",
    mime_type="text/plain",
)
def item(id: str) -> str:
    if id not in ITEMS:
        raise ResourceNotFoundError(f"no item with id {id!r}")
    return f"item {id}: {ITEMS[id]}"


@mcp.prompt(description="Ask for a short summary of a topic.")
def summarize(topic: str) -> str:
    return f"Please write a three-sentence summary of {topic}."


@mcp.completion()
async def complete(
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
) -> Completion | None:
    if isinstance(ref, PromptReference) and ref.name == "summarize" and argument.name == "topic":
        values = [t for t in TOPICS if t.startswith(argument.value)]
    elif isinstance(ref, ResourceTemplateReference) and ref.uri == "testbed://items/{id}" and argument.name == "id":
        values = [i for i in ITEMS if i.startswith(argument.value)]
    else:
        return None
    return Completion(values=values, total=len(values), has_more=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transport", choices=["stdio", "streamable-http", "sse"], default="stdio")
    parser.add_argument("--port", type=int, default=8000, help="TCP port for HTTP transports (127.0.0.1 only)")
    args = parser.parse_args()
    if args.transport == "stdio":
        mcp.run("stdio")
    elif args.transport == "streamable-http":
        mcp.run("streamable-http", host=LOOPBACK, port=args.port)
    else:
        mcp.run("sse", host=LOOPBACK, port=args.port)


if __name__ == "__main__":
    main()
