"""A real MCP server (stdio) for the MCP toolset test: ``python mcp_server.py LOG``. Its tool
appends ``stock {sku}`` to LOG each time it really runs."""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("inventory")


@server.tool()
def stock(sku: str) -> str:
    with open(sys.argv[1], "a") as log:
        log.write(f"stock {sku}\n")
    return f"{sku}: 3 left"


if __name__ == "__main__":
    server.run()
