"""Wire shapes of the INTEGRATIONS API: exactly the spec's fields (camelCase here, snake_case in syncLogs)."""

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, StringConstraints

from platform_server.integrations.models import IntegrationStatus
from platform_server.integrations.registry import PROVIDERS, name_enum
from platform_server.integrations.remote_mcp.schemas import RemoteMcpIntegrationCreate, RemoteServerRead
from platform_server.pagination import Pagination
from platform_server.schemas import VARIANT_TAG_PREFIX, InputSchema, ObjectId, PatchSchema, Schema, UtcDatetime, variant

# The provider registry's names; the type checker sees a StrEnum.
if TYPE_CHECKING:
    ProviderName = StrEnum
else:
    ProviderName = name_enum(PROVIDERS)

# No separators or whitespace inside a scope: providers join them with spaces or commas.
Scope = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\s,]+$")]
ToolName = Annotated[str, StringConstraints(min_length=1, max_length=100)]
DefaultProject = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
INTEGRATION_ID_EXAMPLE = "1701234567890"
# Scheduled imports: every 5 minutes at most often, once a week at least; strict, so "60" or 60.5 is refused.
SYNC_INTERVAL_MIN_MINUTES = 5
SYNC_INTERVAL_MAX_MINUTES = 10080
SyncIntervalMinutes = Annotated[
    int, Field(strict=True, ge=SYNC_INTERVAL_MIN_MINUTES, le=SYNC_INTERVAL_MAX_MINUTES, examples=[60])
]
SYNC_INTERVAL_DESCRIPTION = (
    "Import from the provider every this many minutes (5 to 10080), spread over the interval; null turns "
    "scheduled syncs off"
)


def _kind_field() -> Any:
    return Field(
        default="mcp", examples=["mcp"], description="A remote MCP server; provider integrations have no `kind`"
    )


def _remote_server_field() -> Any:
    return Field(description="The server and how it is reached (never its secret)")


class IntegrationRead(Schema):
    id: str = Field(examples=[INTEGRATION_ID_EXAMPLE])
    provider: str = Field(examples=["github"])
    name: str = Field(examples=["GitHub"])
    status: IntegrationStatus = Field(examples=["connected"])
    provider_account_name: str | None = Field(examples=["acme-corp"])
    scopes: list[str] = Field(examples=[["repo", "read:user"]])
    last_sync_at: UtcDatetime | None = Field(examples=["2025-12-03T10:00:00Z"])
    created_at: UtcDatetime


class RemoteIntegrationRead(IntegrationRead):
    kind: Literal["mcp"] = _kind_field()
    remote_server: RemoteServerRead = _remote_server_field()


class IntegrationList(BaseModel):
    # The remote form first: a provider's integration is not one, and serializes as the plain read.
    integrations: list[RemoteIntegrationRead | IntegrationRead]
    count: int = Field(examples=[1], description="Total matching integrations (across all pages)")
    pagination: Pagination


class IntegrationCreate(InputSchema):
    provider: ProviderName = Field(examples=["github"])
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        examples=["GitHub Integration"],
        description="Unique in the team; defaults to the provider's name",
    )
    scopes: list[Scope] | None = Field(
        default=None,
        max_length=50,
        examples=[["repo", "read:user"]],
        description="Defaults to the provider's default scopes",
    )


class PendingIntegration(Schema):
    id: str = Field(examples=[INTEGRATION_ID_EXAMPLE])
    provider: str = Field(examples=["github"])
    name: str = Field(examples=["GitHub Integration"])
    status: IntegrationStatus = Field(examples=["pending"])
    scopes: list[str] = Field(examples=[["repo", "read:user"]])
    created_at: UtcDatetime


class RemotePendingIntegration(PendingIntegration):
    kind: Literal["mcp"] = _kind_field()
    remote_server: RemoteServerRead = _remote_server_field()


class IntegrationCreated(Schema):
    integration: RemotePendingIntegration | PendingIntegration
    oauth_url: str | None = Field(
        examples=["https://github.com/login/oauth/authorize?response_type=code&client_id=…&state=…"],
        description="Send the user's browser here; the provider (or the remote MCP server's authorization "
        "server) redirects back to the OAuth callback. Null for a remote MCP server that connected at once",
    )


def _create_form(value: Any) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return VARIANT_TAG_PREFIX + ("mcp" if kind == "mcp" else "provider")


# The provider form as it always was, or a remote MCP server's (`"kind": "mcp"`).
AnyIntegrationCreate = Annotated[
    Annotated[IntegrationCreate, variant("provider")] | Annotated[RemoteMcpIntegrationCreate, variant("mcp")],
    Discriminator(_create_form),
]


class SyncLogRead(BaseModel):
    """snake_case, as the spec shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["1701234567891"])
    sync_type: str = Field(examples=["import"])
    status: str = Field(examples=["completed"])
    items_synced: int = Field(examples=[15])
    duration_ms: int | None = Field(examples=[1234])


class IntegrationDetail(Schema):
    id: str = Field(examples=[INTEGRATION_ID_EXAMPLE])
    provider: str = Field(examples=["github"])
    name: str = Field(examples=["GitHub"])
    status: IntegrationStatus = Field(examples=["connected"])
    scopes: list[str] = Field(examples=[["repo", "read:user"]])
    last_sync_at: UtcDatetime | None = Field(examples=["2025-12-03T10:00:00Z"])
    sync_logs: list[SyncLogRead] = Field(description="Newest first")


class RemoteIntegrationDetail(IntegrationDetail):
    kind: Literal["mcp"] = _kind_field()
    remote_server: RemoteServerRead = _remote_server_field()


class ToolInfo(Schema):
    name: str = Field(examples=["github_list_repos"])
    title: str | None = Field(default=None, examples=["List repositories"])
    description: str = Field(examples=["List the repositories the connected account can access."])
    input_schema: dict[str, Any] = Field(examples=[{"type": "object", "properties": {}}])
    output_schema: dict[str, Any] | None = Field(
        default=None, examples=[{"type": "object", "properties": {"repositories": {"type": "array"}}}]
    )
    annotations: dict[str, Any] = Field(default_factory=dict, examples=[{"readOnlyHint": True}])


class ProviderInfo(Schema):
    provider: str = Field(examples=["github"])
    name: str = Field(examples=["GitHub"])
    category: str = Field(examples=["Development"])
    default_scopes: list[str] = Field(examples=[["repo", "read:user"]])
    configured: bool = Field(
        examples=[True], description="Whether client credentials are set (always true in sandbox mode)"
    )
    missing_settings: list[str] = Field(examples=[[]], description="Settings to set before it can be connected")
    tools: list[ToolInfo]


class ProviderCatalog(BaseModel):
    providers: list[ProviderInfo]
    count: int = Field(examples=[6])


class WorkspaceIntegrationRead(Schema):
    id: str = Field(examples=[INTEGRATION_ID_EXAMPLE], description="The integration's id")
    provider: str = Field(examples=["github"])
    name: str = Field(examples=["GitHub"])
    status: IntegrationStatus = Field(examples=["connected"])
    enabled: bool = Field(examples=[True])
    enabled_tools: list[str] = Field(examples=[["github_list_repos", "github_list_issues"]])
    default_project: str | None = Field(examples=["acme/product"])
    sync_interval_minutes: int | None = Field(examples=[60], description=SYNC_INTERVAL_DESCRIPTION)
    next_sync_at: UtcDatetime | None = Field(description="When the next scheduled import is due")


class WorkspaceIntegrationList(BaseModel):
    integrations: list[WorkspaceIntegrationRead]
    count: int = Field(examples=[1])
    pagination: Pagination


class WorkspaceIntegrationEnable(InputSchema):
    integration_id: ObjectId
    enabled_tools: list[ToolName] | None = Field(
        default=None,
        max_length=200,
        examples=[["github_list_repos", "github_list_issues"]],
        description="Tool names of the integration's provider; omitted means all of them",
    )
    default_project: DefaultProject | None = Field(default=None, examples=["acme/product"])
    sync_interval_minutes: SyncIntervalMinutes | None = Field(default=None, description=SYNC_INTERVAL_DESCRIPTION)


class WorkspaceIntegrationEnabled(Schema):
    message: str = Field(examples=["Integration enabled for workspace"])
    access_id: str = Field(examples=["1701234567893"])


class WorkspaceIntegrationUpdate(PatchSchema):
    not_nullable = ("enabled", "enabled_tools")

    enabled: bool | None = Field(default=None, examples=[False])
    enabled_tools: list[ToolName] | None = Field(default=None, max_length=200, examples=[["github_list_repos"]])
    default_project: DefaultProject | None = Field(default=None, examples=["acme/website"])
    sync_interval_minutes: SyncIntervalMinutes | None = Field(default=None, description=SYNC_INTERVAL_DESCRIPTION)
