"""Types of the Platform API's bodies, generated from its OpenAPI document by sdk/generate.py.

Do not edit: run `python3 sdk/generate.py`. Responses are plain dicts with the wire's field names.
"""

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "AiConversationRead",
    "AiMessageCreate",
    "AiMessageRead",
    "AiMessageRole",
    "AiMessagesUsageRead",
    "AiReplyRead",
    "AiUsageRead",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyRead",
    "AssistantToolCallRead",
    "AuthKind",
    "AuthType",
    "BillingRead",
    "CatalogCategory",
    "CatalogServer",
    "DefinitionChange",
    "ErrorBody",
    "ErrorResponse",
    "FeatureCreate",
    "FeatureRead",
    "FeatureStatus",
    "FeatureUpdate",
    "Health",
    "IntegrationCreate",
    "IntegrationCreated",
    "IntegrationDetail",
    "IntegrationList",
    "IntegrationRead",
    "IntegrationStatus",
    "ManualPushSetup",
    "MeRead",
    "Message",
    "PaginatedAiConversationRead",
    "PaginatedAiMessageRead",
    "PaginatedApiKeyRead",
    "PaginatedCatalogServer",
    "PaginatedFeatureRead",
    "PaginatedToolCallRead",
    "PaginatedUserRead",
    "PaginatedWorkItemRead",
    "PaginatedWorkspaceRead",
    "Pagination",
    "PendingIntegration",
    "Plan",
    "PlanRead",
    "Priority",
    "ProtectedResourceMetadata",
    "ProviderCatalog",
    "ProviderInfo",
    "ProviderName",
    "PushWebhookList",
    "PushWebhookRead",
    "RateLimitUsageRead",
    "Readiness",
    "RegistryHeaderRead",
    "RegistryPackageRead",
    "RegistryRemoteRead",
    "RegistryServerPage",
    "RegistryServerRead",
    "RemoteAuth",
    "RemoteIntegrationDetail",
    "RemoteIntegrationRead",
    "RemoteMcpIntegrationCreate",
    "RemotePendingIntegration",
    "RemoteServerRead",
    "RemoteToolList",
    "RemoteToolRead",
    "ServerInfo",
    "SyncLogRead",
    "SyncLogState",
    "SyncRequest",
    "SyncResult",
    "SyncStarted",
    "SyncType",
    "TeamRead",
    "ToolCallChannel",
    "ToolCallOutcome",
    "ToolCallRead",
    "ToolCallResult",
    "ToolInfo",
    "ToolStatus",
    "Transport",
    "UsageRead",
    "UserCreate",
    "UserCreated",
    "UserRead",
    "WebhookReceived",
    "WorkItemCreate",
    "WorkItemRead",
    "WorkItemStatus",
    "WorkItemUpdate",
    "WorkspaceCreate",
    "WorkspaceIntegrationEnable",
    "WorkspaceIntegrationEnabled",
    "WorkspaceIntegrationList",
    "WorkspaceIntegrationRead",
    "WorkspaceIntegrationUpdate",
    "WorkspaceRead",
    "WorkspaceUpdate",
]


class AiConversationRead(TypedDict):
    id: str
    workspaceId: str
    title: str
    createdAt: str
    updatedAt: str


class AiMessageCreate(TypedDict):
    message: str
    conversationId: NotRequired[str | None]


AiMessageRole = Literal["user", "assistant"]

ToolCallOutcome = Literal["success", "rejected", "error"]

class AssistantToolCallRead(TypedDict):
    name: str
    arguments: dict[str, Any]
    outcome: ToolCallOutcome
    durationMs: int
    errorCode: NotRequired[str | None]
    toolCallId: NotRequired[str | None]


class AiMessageRead(TypedDict):
    id: str
    conversationId: str
    role: AiMessageRole
    content: str
    toolCalls: list[AssistantToolCallRead]
    createdAt: str


class AiMessagesUsageRead(TypedDict):
    used: int
    limit: int
    remaining: int
    scope: Literal["team", "user"]
    periodStart: str
    periodEnd: str


class AiUsageRead(TypedDict):
    used: int
    limit: int
    scope: Literal["team", "user"]
    resetsAt: str


class AiReplyRead(TypedDict):
    conversationId: str
    messageId: str
    reply: str
    toolCalls: list[AssistantToolCallRead]
    usage: AiUsageRead
    model: str
    steps: int
    stepLimitReached: bool


class ApiKeyCreate(TypedDict):
    name: str


class ApiKeyRead(TypedDict):
    id: str
    name: str
    prefix: str
    userId: str
    createdAt: str
    lastUsedAt: NotRequired[str | None]
    revokedAt: NotRequired[str | None]


class ApiKeyCreated(TypedDict):
    apiKey: ApiKeyRead
    key: str


AuthKind = Literal["oauth", "bearer", "none"]
"""How the server authorizes its callers: OAuth per the MCP authorization spec, a static bearer token (an API key or personal access token the admin pastes), or nothing."""

AuthType = Literal["none", "oauth", "bearer", "header"]

class BillingRead(TypedDict):
    plan: Literal["free", "pro"]
    status: str | None
    currentPeriodEnd: str | None
    cancelAtPeriodEnd: bool


CatalogCategory = Literal["Development", "Project Management", "Documentation", "Design", "Monitoring", "Payments", "CRM", "Databases", "Cloud", "Files", "AI"]

Transport = Literal["streamable_http", "sse"]

class CatalogServer(TypedDict):
    id: str
    name: str
    url: str
    category: CatalogCategory
    authKind: AuthKind
    transport: Transport
    docsUrl: str
    description: str


class DefinitionChange(TypedDict):
    field: str
    approved: Any
    current: Any


class ErrorBody(TypedDict):
    code: str
    message: str
    details: NotRequired[dict[str, Any]]


class ErrorResponse(TypedDict):
    error: ErrorBody


FeatureStatus = Literal["backlog", "planned", "in_progress", "done", "canceled"]

Priority = Literal["none", "low", "medium", "high", "urgent"]

class FeatureCreate(TypedDict):
    workspaceId: str
    title: str
    description: NotRequired[str | None]
    status: NotRequired[FeatureStatus]
    priority: NotRequired[Priority]
    url: NotRequired[str | None]


class FeatureRead(TypedDict):
    integrationId: NotRequired[str | None]
    sourceProvider: NotRequired[str | None]
    sourceEntity: NotRequired[str | None]
    externalId: NotRequired[str | None]
    sourceCreatedAt: NotRequired[str | None]
    sourceUpdatedAt: NotRequired[str | None]
    id: str
    workspaceId: str
    title: str
    description: NotRequired[str | None]
    status: FeatureStatus
    priority: Priority
    url: NotRequired[str | None]
    createdAt: str
    updatedAt: str


class FeatureUpdate(TypedDict):
    title: NotRequired[str | None]
    description: NotRequired[str | None]
    status: NotRequired[FeatureStatus | None]
    priority: NotRequired[Priority | None]
    url: NotRequired[str | None]


class Health(TypedDict):
    status: NotRequired[Literal["ok"]]


ProviderName = Literal["github", "jira", "linear", "notion", "slack", "figma"]

class IntegrationCreate(TypedDict):
    provider: ProviderName
    name: NotRequired[str | None]
    scopes: NotRequired[list[str] | None]


IntegrationStatus = Literal["pending", "connected", "expired", "error"]

class PendingIntegration(TypedDict):
    id: str
    provider: str
    name: str
    status: IntegrationStatus
    scopes: list[str]
    createdAt: str


class ServerInfo(TypedDict):
    name: str | None
    version: str | None
    protocolVersion: str | None


class RemoteServerRead(TypedDict):
    url: str
    transport: Transport
    authType: AuthType
    slug: str
    toolCount: int
    serverInfo: ServerInfo
    toolsRefreshedAt: str | None


class RemotePendingIntegration(TypedDict):
    id: str
    provider: str
    name: str
    status: IntegrationStatus
    scopes: list[str]
    createdAt: str
    kind: NotRequired[Literal["mcp"]]
    remoteServer: RemoteServerRead


class IntegrationCreated(TypedDict):
    integration: RemotePendingIntegration | PendingIntegration
    oauthUrl: str | None


class SyncLogRead(TypedDict):
    """snake_case, as the spec shows it."""
    id: str
    sync_type: str
    status: str
    items_synced: int
    duration_ms: int | None


class IntegrationDetail(TypedDict):
    id: str
    provider: str
    name: str
    status: IntegrationStatus
    scopes: list[str]
    lastSyncAt: str | None
    syncLogs: list[SyncLogRead]


class IntegrationRead(TypedDict):
    id: str
    provider: str
    name: str
    status: IntegrationStatus
    providerAccountName: str | None
    scopes: list[str]
    lastSyncAt: str | None
    createdAt: str


class Pagination(TypedDict):
    page: int
    limit: int
    total: int
    total_pages: int


class RemoteIntegrationRead(TypedDict):
    id: str
    provider: str
    name: str
    status: IntegrationStatus
    providerAccountName: str | None
    scopes: list[str]
    lastSyncAt: str | None
    createdAt: str
    kind: NotRequired[Literal["mcp"]]
    remoteServer: RemoteServerRead


class IntegrationList(TypedDict):
    integrations: list[RemoteIntegrationRead | IntegrationRead]
    count: int
    pagination: Pagination


class ManualPushSetup(TypedDict):
    id: str
    provider: str
    target: str
    status: Literal["active", "unavailable", "manual"]
    statusReason: NotRequired[str | None]
    url: str
    manualSetup: bool
    secret: str
    contentType: str
    events: list[str]


class PlanRead(TypedDict):
    name: Literal["free", "pro"]
    requestsPerMinute: int
    aiMessagesPerMonth: int
    aiMessagesScope: Literal["team", "user"]


class TeamRead(TypedDict):
    id: str
    name: str
    plan: Literal["free", "pro"]
    createdAt: str


class UserRead(TypedDict):
    id: str
    email: str
    name: str
    role: Literal["owner", "admin", "member"]
    createdAt: str


class MeRead(TypedDict):
    user: UserRead
    team: TeamRead
    plan: PlanRead


class Message(TypedDict):
    message: str


class PaginatedAiConversationRead(TypedDict):
    data: list[AiConversationRead]
    pagination: Pagination


class PaginatedAiMessageRead(TypedDict):
    data: list[AiMessageRead]
    pagination: Pagination


class PaginatedApiKeyRead(TypedDict):
    data: list[ApiKeyRead]
    pagination: Pagination


class PaginatedCatalogServer(TypedDict):
    data: list[CatalogServer]
    pagination: Pagination


class PaginatedFeatureRead(TypedDict):
    data: list[FeatureRead]
    pagination: Pagination


ToolCallChannel = Literal["mcp", "rest", "assistant"]

class ToolCallRead(TypedDict):
    id: str
    workspaceId: str
    integrationId: str | None
    userId: str | None
    apiKeyId: str | None
    oauthClientId: NotRequired[str | None]
    tool: str
    provider: str | None
    channel: ToolCallChannel
    outcome: ToolCallOutcome
    errorCode: str | None
    argumentNames: list[str]
    durationMs: int
    createdAt: str


class PaginatedToolCallRead(TypedDict):
    data: list[ToolCallRead]
    pagination: Pagination


class PaginatedUserRead(TypedDict):
    data: list[UserRead]
    pagination: Pagination


WorkItemStatus = Literal["todo", "in_progress", "in_review", "done", "canceled"]

class WorkItemRead(TypedDict):
    integrationId: NotRequired[str | None]
    sourceProvider: NotRequired[str | None]
    sourceEntity: NotRequired[str | None]
    externalId: NotRequired[str | None]
    sourceCreatedAt: NotRequired[str | None]
    sourceUpdatedAt: NotRequired[str | None]
    id: str
    workspaceId: str
    title: str
    description: NotRequired[str | None]
    status: WorkItemStatus
    priority: Priority
    key: NotRequired[str | None]
    url: NotRequired[str | None]
    labels: NotRequired[list[str]]
    assignee: NotRequired[str | None]
    createdAt: str
    updatedAt: str


class PaginatedWorkItemRead(TypedDict):
    data: list[WorkItemRead]
    pagination: Pagination


class WorkspaceRead(TypedDict):
    id: str
    name: str
    description: NotRequired[str | None]
    createdAt: str
    updatedAt: str


class PaginatedWorkspaceRead(TypedDict):
    data: list[WorkspaceRead]
    pagination: Pagination


Plan = Literal["free", "pro"]

class ProtectedResourceMetadata(TypedDict):
    """RFC 9728 protected-resource metadata; its field names are the RFC's (snake_case)."""
    resource: str
    authorization_servers: list[str]
    bearer_methods_supported: list[str]
    scopes_supported: list[str]
    resource_name: str
    resource_documentation: str


class ToolInfo(TypedDict):
    name: str
    title: NotRequired[str | None]
    description: str
    inputSchema: dict[str, Any]
    outputSchema: NotRequired[dict[str, Any] | None]
    annotations: NotRequired[dict[str, Any]]


class ProviderInfo(TypedDict):
    provider: str
    name: str
    category: str
    defaultScopes: list[str]
    configured: bool
    missingSettings: list[str]
    tools: list[ToolInfo]


class ProviderCatalog(TypedDict):
    providers: list[ProviderInfo]
    count: int


class PushWebhookRead(TypedDict):
    id: str
    provider: str
    target: str
    status: Literal["active", "unavailable", "manual"]
    statusReason: NotRequired[str | None]
    url: str
    manualSetup: bool


class PushWebhookList(TypedDict):
    pushWebhooks: list[PushWebhookRead]
    count: int


class RateLimitUsageRead(TypedDict):
    enabled: bool
    limit: int
    remaining: int | None
    reset: int | None


class Readiness(TypedDict):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


class RegistryHeaderRead(TypedDict):
    name: str
    description: str | None
    isRequired: bool
    isSecret: bool


class RegistryPackageRead(TypedDict):
    registryType: str
    identifier: str
    version: str | None


class RegistryRemoteRead(TypedDict):
    transport: Transport
    url: str
    headers: list[RegistryHeaderRead]
    variables: list[str]
    connectable: bool


class RegistryServerRead(TypedDict):
    name: str
    title: str | None
    description: str
    version: str
    websiteUrl: str | None
    repositoryUrl: str | None
    status: str | None
    updatedAt: str | None
    connectable: bool
    remotes: list[RegistryRemoteRead]
    packages: list[RegistryPackageRead]


class RegistryServerPage(TypedDict):
    data: list[RegistryServerRead]
    nextCursor: str | None


class RemoteAuth(TypedDict):
    type: NotRequired[AuthType]
    token: NotRequired[str | None]
    headerName: NotRequired[str | None]
    clientId: NotRequired[str | None]
    clientSecret: NotRequired[str | None]
    scopes: NotRequired[list[str] | None]


class RemoteIntegrationDetail(TypedDict):
    id: str
    provider: str
    name: str
    status: IntegrationStatus
    scopes: list[str]
    lastSyncAt: str | None
    syncLogs: list[SyncLogRead]
    kind: NotRequired[Literal["mcp"]]
    remoteServer: RemoteServerRead


class RemoteMcpIntegrationCreate(TypedDict):
    kind: Literal["mcp"]
    name: str
    url: str
    transport: NotRequired[Transport]
    auth: NotRequired[RemoteAuth]
    slug: NotRequired[str | None]


ToolStatus = Literal["approved", "changed", "new", "refused"]
"""`approved` tools can be enabled and called; the others are withheld from every workspace."""

class RemoteToolRead(TypedDict):
    name: str
    exposedName: str
    status: ToolStatus
    refusal: str | None
    definition: dict[str, Any]
    approvedDefinition: dict[str, Any] | None
    changes: list[DefinitionChange]


class RemoteToolList(TypedDict):
    tools: list[RemoteToolRead]
    count: int
    refreshedAt: str | None
    refreshError: str | None


class SyncLogState(TypedDict):
    id: str
    syncType: str
    sourceEntity: str | None
    targetEntity: str | None
    status: str
    itemsSynced: int
    durationMs: int | None
    error: str | None
    startedAt: str
    finishedAt: str | None


SyncType = Literal["import", "export"]

SyncRequest = TypedDict("SyncRequest", {
    "syncType": SyncType,
    "workspaceId": str,
    "sourceEntity": str,
    "targetEntity": str,
    "async": NotRequired[bool],
})


class SyncResult(TypedDict):
    syncLogId: str
    status: Literal["completed", "failed"]
    itemsSynced: int
    duration: int


class SyncStarted(TypedDict):
    syncLogId: str
    status: Literal["running"]


class ToolCallResult(TypedDict):
    """The REST form of a successful tool call; failures answer in the error format instead."""
    tool: str
    toolCallId: str
    result: dict[str, Any]


class UsageRead(TypedDict):
    plan: Plan
    rateLimit: RateLimitUsageRead
    aiMessages: AiMessagesUsageRead


class UserCreate(TypedDict):
    email: str
    name: str
    role: NotRequired[Literal["owner", "admin", "member"]]


class UserCreated(TypedDict):
    user: UserRead
    apiKey: ApiKeyRead
    key: str


class WebhookReceived(TypedDict):
    received: NotRequired[bool]


class WorkItemCreate(TypedDict):
    workspaceId: str
    title: str
    description: NotRequired[str | None]
    status: NotRequired[WorkItemStatus]
    priority: NotRequired[Priority]
    labels: NotRequired[list[str]]
    assignee: NotRequired[str | None]
    url: NotRequired[str | None]


class WorkItemUpdate(TypedDict):
    title: NotRequired[str | None]
    description: NotRequired[str | None]
    status: NotRequired[WorkItemStatus | None]
    priority: NotRequired[Priority | None]
    labels: NotRequired[list[str] | None]
    assignee: NotRequired[str | None]
    url: NotRequired[str | None]


class WorkspaceCreate(TypedDict):
    name: str
    description: NotRequired[str | None]


class WorkspaceIntegrationEnable(TypedDict):
    integrationId: str
    enabledTools: NotRequired[list[str] | None]
    defaultProject: NotRequired[str | None]
    syncIntervalMinutes: NotRequired[int | None]


class WorkspaceIntegrationEnabled(TypedDict):
    message: str
    accessId: str


class WorkspaceIntegrationRead(TypedDict):
    id: str
    provider: str
    name: str
    status: IntegrationStatus
    enabled: bool
    enabledTools: list[str]
    defaultProject: str | None
    syncIntervalMinutes: int | None
    nextSyncAt: str | None


class WorkspaceIntegrationList(TypedDict):
    integrations: list[WorkspaceIntegrationRead]
    count: int
    pagination: Pagination


class WorkspaceIntegrationUpdate(TypedDict):
    enabled: NotRequired[bool | None]
    enabledTools: NotRequired[list[str] | None]
    defaultProject: NotRequired[str | None]
    syncIntervalMinutes: NotRequired[int | None]


class WorkspaceUpdate(TypedDict):
    name: NotRequired[str | None]
    description: NotRequired[str | None]
