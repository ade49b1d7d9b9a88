"""Remote MCP servers: federating any MCP server a team connects, as integrations of kind `mcp`."""
