"""Remote MCP servers: integrations of kind `mcp` whose tools the gateway federates."""
