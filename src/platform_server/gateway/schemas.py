from typing import Any

from pydantic import BaseModel, Field

from platform_server.gateway.models import ToolCallChannel, ToolCallOutcome
from platform_server.schemas import Schema, UtcDatetime


class ToolCallRead(Schema):
    id: str = Field(examples=["7390123456789012399"])
    workspace_id: str = Field(examples=["7390123456789012345"])
    integration_id: str | None = Field(examples=["1701234567890"])
    user_id: str | None = Field(examples=["7390123456789012340"])
    api_key_id: str | None = Field(examples=["7390123456789012341"])
    oauth_client_id: str | None = Field(
        default=None,
        description="The connected MCP client (OAuth) whose token made the call; null for API keys",
        examples=[None],
    )
    tool: str = Field(examples=["github_list_issues"])
    provider: str | None = Field(examples=["github"])
    channel: ToolCallChannel = Field(description="How the tool was called: MCP, the REST form, or the assistant")
    outcome: ToolCallOutcome
    error_code: str | None = Field(
        description="Why the call failed, e.g. `TOOL_NOT_ENABLED`, `INVALID_ARGUMENTS`, `PROVIDER_NOT_FOUND`",
        examples=[None],
    )
    argument_names: list[str] = Field(
        description="The names of the arguments passed; their values are never stored", examples=[["repo", "state"]]
    )
    duration_ms: int = Field(examples=[84])
    created_at: UtcDatetime


class ToolCallResult(Schema):
    """The REST form of a successful tool call; failures answer in the error format instead."""

    tool: str = Field(examples=["github_list_issues"])
    tool_call_id: str = Field(description="The audit record of this call", examples=["7390123456789012399"])
    result: dict[str, Any] = Field(
        description="The tool's structured result, shaped by the tool's output schema",
        examples=[{"issues": [{"number": 42, "title": "Login fails on Safari", "state": "open"}]}],
    )


class ProtectedResourceMetadata(BaseModel):
    """RFC 9728 protected-resource metadata; its field names are the RFC's (snake_case)."""

    resource: str = Field(examples=["https://platform.example.com/api/workspaces/7390123456789012345/mcp"])
    authorization_servers: list[str] = Field(examples=[["https://platform.example.com"]])
    bearer_methods_supported: list[str] = Field(examples=[["header"]])
    scopes_supported: list[str] = Field(examples=[[]])
    resource_name: str = Field(examples=["Platform MCP gateway"])
    resource_documentation: str = Field(examples=["https://platform.example.com/docs"])
