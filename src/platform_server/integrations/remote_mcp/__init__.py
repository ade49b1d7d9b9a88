"""Remote MCP servers a team connects as integrations of kind "mcp": their tools are federated into the gateway."""
