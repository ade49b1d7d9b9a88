"""AsyncPlatformClient and its resources; sdk/generate.py writes the sync twin from this file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Unpack, cast
from urllib.parse import quote

import httpx

from platform_api._core import ClientOptions, PlatformError, ResponseInfo, query, retry_delay
from platform_api.models import (
    AiConversationRead,
    AiMessageCreate,
    AiMessageRead,
    AiReplyRead,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    BillingRead,
    FeatureCreate,
    FeatureRead,
    FeatureStatus,
    FeatureUpdate,
    IntegrationCreate,
    IntegrationCreated,
    IntegrationDetail,
    IntegrationList,
    IntegrationRead,
    IntegrationStatus,
    MeRead,
    Message,
    PaginatedAiConversationRead,
    PaginatedAiMessageRead,
    PaginatedApiKeyRead,
    PaginatedFeatureRead,
    PaginatedToolCallRead,
    PaginatedUserRead,
    PaginatedWorkItemRead,
    PaginatedWorkspaceRead,
    ProviderCatalog,
    ProviderName,
    SyncRequest,
    SyncResult,
    SyncStarted,
    ToolCallOutcome,
    ToolCallRead,
    ToolCallResult,
    UsageRead,
    UserCreate,
    UserCreated,
    UserRead,
    WorkItemCreate,
    WorkItemRead,
    WorkItemStatus,
    WorkItemUpdate,
    WorkspaceCreate,
    WorkspaceIntegrationEnable,
    WorkspaceIntegrationEnabled,
    WorkspaceIntegrationList,
    WorkspaceIntegrationRead,
    WorkspaceIntegrationUpdate,
    WorkspaceRead,
    WorkspaceUpdate,
)

PAGE_SIZE = 100


class AsyncTransport:
    """One HTTP connection pool, the auth header, retries and the response hooks."""

    def __init__(self, options: ClientOptions, http_client: httpx.AsyncClient | None) -> None:
        self.options = options
        self.last_response: ResponseInfo | None = None
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=options.timeout)

    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        url = self.options.base_url + path
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, url, params=params, json=json, headers=self.options.headers
                )
            except httpx.TransportError as exc:
                delay = retry_delay(self.options, method, None, {}, attempt)
                if delay is None:
                    raise PlatformError(0, "CONNECTION_ERROR", f"{method} {url} failed: {exc!r}") from exc
            else:
                info = ResponseInfo.from_response(response)
                self.last_response = info
                if self.options.on_response is not None:
                    self.options.on_response(info)
                if response.is_success:
                    return response.json()
                delay = retry_delay(self.options, method, response.status_code, response.headers, attempt)
                if delay is None:
                    raise PlatformError.from_response(response)
            attempt += 1
            await asyncio.sleep(delay)

    async def pages(self, path: str, params: dict[str, Any], key: str) -> AsyncIterator[Any]:
        """Every item of a paginated list, page after page, until the last page."""
        page = 1
        while True:
            body = await self.request("GET", path, params={**params, "page": page})
            items: list[Any] = body[key]
            for item in items:
                yield item
            if not items or page >= int(body["pagination"]["total_pages"]):
                return
            page += 1

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()


def _path(template: str, *ids: str) -> str:
    return template.format(*(quote(str(value), safe="") for value in ids))


class _AsyncResource:
    def __init__(self, api: AsyncTransport) -> None:
        self._api = api


class AsyncFeatures(_AsyncResource):
    async def list(
        self,
        *,
        workspace_id: str | None = None,
        status: FeatureStatus | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> PaginatedFeatureRead:
        params = query({"workspace_id": workspace_id, "status": status, "page": page, "limit": limit})
        return cast(PaginatedFeatureRead, await self._api.request("GET", "/api/features", params=params))

    def iterate(
        self, *, workspace_id: str | None = None, status: FeatureStatus | None = None, limit: int = PAGE_SIZE
    ) -> AsyncIterator[FeatureRead]:
        params = query({"workspace_id": workspace_id, "status": status, "limit": limit})
        return self._api.pages("/api/features", params, "data")

    async def create(self, **body: Unpack[FeatureCreate]) -> FeatureRead:
        return cast(FeatureRead, await self._api.request("POST", "/api/features", json=body))

    async def get(self, feature_id: str) -> FeatureRead:
        return cast(FeatureRead, await self._api.request("GET", _path("/api/features/{}", feature_id)))

    async def update(self, feature_id: str, **body: Unpack[FeatureUpdate]) -> FeatureRead:
        path = _path("/api/features/{}", feature_id)
        return cast(FeatureRead, await self._api.request("PATCH", path, json=body))

    async def delete(self, feature_id: str) -> Message:
        return cast(Message, await self._api.request("DELETE", _path("/api/features/{}", feature_id)))


class AsyncWorkItems(_AsyncResource):
    async def list(
        self,
        *,
        workspace_id: str | None = None,
        status: WorkItemStatus | None = None,
        source_provider: str | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> PaginatedWorkItemRead:
        params = query(
            {
                "workspace_id": workspace_id,
                "status": status,
                "source_provider": source_provider,
                "page": page,
                "limit": limit,
            }
        )
        return cast(PaginatedWorkItemRead, await self._api.request("GET", "/api/work-items", params=params))

    def iterate(
        self,
        *,
        workspace_id: str | None = None,
        status: WorkItemStatus | None = None,
        source_provider: str | None = None,
        limit: int = PAGE_SIZE,
    ) -> AsyncIterator[WorkItemRead]:
        params = {"workspace_id": workspace_id, "status": status, "source_provider": source_provider}
        return self._api.pages("/api/work-items", query({**params, "limit": limit}), "data")

    async def create(self, **body: Unpack[WorkItemCreate]) -> WorkItemRead:
        return cast(WorkItemRead, await self._api.request("POST", "/api/work-items", json=body))

    async def get(self, work_item_id: str) -> WorkItemRead:
        path = _path("/api/work-items/{}", work_item_id)
        return cast(WorkItemRead, await self._api.request("GET", path))

    async def update(self, work_item_id: str, **body: Unpack[WorkItemUpdate]) -> WorkItemRead:
        path = _path("/api/work-items/{}", work_item_id)
        return cast(WorkItemRead, await self._api.request("PATCH", path, json=body))

    async def delete(self, work_item_id: str) -> Message:
        path = _path("/api/work-items/{}", work_item_id)
        return cast(Message, await self._api.request("DELETE", path))


class AsyncWorkspaces(_AsyncResource):
    async def list(self, *, page: int | None = None, limit: int | None = None) -> PaginatedWorkspaceRead:
        params = query({"page": page, "limit": limit})
        return cast(PaginatedWorkspaceRead, await self._api.request("GET", "/api/workspaces", params=params))

    def iterate(self, *, limit: int = PAGE_SIZE) -> AsyncIterator[WorkspaceRead]:
        return self._api.pages("/api/workspaces", {"limit": limit}, "data")

    async def create(self, **body: Unpack[WorkspaceCreate]) -> WorkspaceRead:
        return cast(WorkspaceRead, await self._api.request("POST", "/api/workspaces", json=body))

    async def get(self, workspace_id: str) -> WorkspaceRead:
        path = _path("/api/workspaces/{}", workspace_id)
        return cast(WorkspaceRead, await self._api.request("GET", path))

    async def update(self, workspace_id: str, **body: Unpack[WorkspaceUpdate]) -> WorkspaceRead:
        path = _path("/api/workspaces/{}", workspace_id)
        return cast(WorkspaceRead, await self._api.request("PATCH", path, json=body))

    async def delete(self, workspace_id: str) -> Message:
        return cast(Message, await self._api.request("DELETE", _path("/api/workspaces/{}", workspace_id)))


class AsyncApiKeys(_AsyncResource):
    async def list(self, *, page: int | None = None, limit: int | None = None) -> PaginatedApiKeyRead:
        params = query({"page": page, "limit": limit})
        return cast(PaginatedApiKeyRead, await self._api.request("GET", "/api/api-keys", params=params))

    def iterate(self, *, limit: int = PAGE_SIZE) -> AsyncIterator[ApiKeyRead]:
        return self._api.pages("/api/api-keys", {"limit": limit}, "data")

    async def create(self, **body: Unpack[ApiKeyCreate]) -> ApiKeyCreated:
        """The answer holds the new key in `key`, the only time it is shown."""
        return cast(ApiKeyCreated, await self._api.request("POST", "/api/api-keys", json=body))

    async def revoke(self, api_key_id: str) -> ApiKeyRead:
        path = _path("/api/api-keys/{}", api_key_id)
        return cast(ApiKeyRead, await self._api.request("DELETE", path))


class AsyncUsers(_AsyncResource):
    async def list(self, *, page: int | None = None, limit: int | None = None) -> PaginatedUserRead:
        params = query({"page": page, "limit": limit})
        return cast(PaginatedUserRead, await self._api.request("GET", "/api/users", params=params))

    def iterate(self, *, limit: int = PAGE_SIZE) -> AsyncIterator[UserRead]:
        return self._api.pages("/api/users", {"limit": limit}, "data")

    async def create(self, **body: Unpack[UserCreate]) -> UserCreated:
        return cast(UserCreated, await self._api.request("POST", "/api/users", json=body))


class AsyncMe(_AsyncResource):
    async def get(self) -> MeRead:
        return cast(MeRead, await self._api.request("GET", "/api/me"))


class AsyncUsage(_AsyncResource):
    async def get(self) -> UsageRead:
        return cast(UsageRead, await self._api.request("GET", "/api/usage"))


class AsyncBilling(_AsyncResource):
    async def get(self) -> BillingRead:
        return cast(BillingRead, await self._api.request("GET", "/api/billing"))


class AsyncIntegrations(_AsyncResource):
    async def list(
        self,
        *,
        status: IntegrationStatus | None = None,
        provider: ProviderName | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> IntegrationList:
        params = query({"status": status, "provider": provider, "page": page, "limit": limit})
        return cast(IntegrationList, await self._api.request("GET", "/api/integrations", params=params))

    def iterate(
        self,
        *,
        status: IntegrationStatus | None = None,
        provider: ProviderName | None = None,
        limit: int = PAGE_SIZE,
    ) -> AsyncIterator[IntegrationRead]:
        params = query({"status": status, "provider": provider, "limit": limit})
        return self._api.pages("/api/integrations", params, "integrations")

    async def create(self, **body: Unpack[IntegrationCreate]) -> IntegrationCreated:
        """Starts the OAuth flow: the integration stays `pending` until the user approves at `oauthUrl`."""
        return cast(IntegrationCreated, await self._api.request("POST", "/api/integrations", json=body))

    async def get(self, integration_id: str) -> IntegrationDetail:
        path = _path("/api/integrations/{}", integration_id)
        return cast(IntegrationDetail, await self._api.request("GET", path))

    async def delete(self, integration_id: str) -> Message:
        path = _path("/api/integrations/{}", integration_id)
        return cast(Message, await self._api.request("DELETE", path))

    async def sync(self, integration_id: str, **body: Unpack[SyncRequest]) -> SyncResult | SyncStarted:
        """Imports now (SyncResult), or in the background with `**{"async": True}` (SyncStarted)."""
        path = _path("/api/integrations/{}/sync", integration_id)
        return cast(SyncResult | SyncStarted, await self._api.request("POST", path, json=body))

    async def providers(self) -> ProviderCatalog:
        return cast(ProviderCatalog, await self._api.request("GET", "/api/integrations/providers"))


class AsyncWorkspaceIntegrations(_AsyncResource):
    async def list(
        self, workspace_id: str, *, page: int | None = None, limit: int | None = None
    ) -> WorkspaceIntegrationList:
        path = _path("/api/workspaces/{}/integrations", workspace_id)
        params = query({"page": page, "limit": limit})
        return cast(WorkspaceIntegrationList, await self._api.request("GET", path, params=params))

    def iterate(
        self, workspace_id: str, *, limit: int = PAGE_SIZE
    ) -> AsyncIterator[WorkspaceIntegrationRead]:
        path = _path("/api/workspaces/{}/integrations", workspace_id)
        return self._api.pages(path, {"limit": limit}, "integrations")

    async def enable(
        self, workspace_id: str, **body: Unpack[WorkspaceIntegrationEnable]
    ) -> WorkspaceIntegrationEnabled:
        path = _path("/api/workspaces/{}/integrations", workspace_id)
        return cast(WorkspaceIntegrationEnabled, await self._api.request("POST", path, json=body))

    async def update(
        self, workspace_id: str, integration_id: str, **body: Unpack[WorkspaceIntegrationUpdate]
    ) -> WorkspaceIntegrationRead:
        path = _path("/api/workspaces/{}/integrations/{}", workspace_id, integration_id)
        return cast(WorkspaceIntegrationRead, await self._api.request("PATCH", path, json=body))

    async def disable(self, workspace_id: str, integration_id: str) -> Message:
        path = _path("/api/workspaces/{}/integrations/{}", workspace_id, integration_id)
        return cast(Message, await self._api.request("DELETE", path))


class AsyncTools(_AsyncResource):
    """The REST form of the MCP gateway: call a workspace's tools and read their audit trail."""

    async def call(
        self, workspace_id: str, tool_name: str, arguments: dict[str, Any] | None = None
    ) -> ToolCallResult:
        path = _path("/api/workspaces/{}/tools/{}", workspace_id, tool_name)
        return cast(ToolCallResult, await self._api.request("POST", path, json=arguments or {}))

    async def list_calls(
        self,
        workspace_id: str,
        *,
        tool: str | None = None,
        outcome: ToolCallOutcome | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> PaginatedToolCallRead:
        path = _path("/api/workspaces/{}/tool-calls", workspace_id)
        params = query({"tool": tool, "outcome": outcome, "page": page, "limit": limit})
        return cast(PaginatedToolCallRead, await self._api.request("GET", path, params=params))

    def iterate_calls(
        self,
        workspace_id: str,
        *,
        tool: str | None = None,
        outcome: ToolCallOutcome | None = None,
        limit: int = PAGE_SIZE,
    ) -> AsyncIterator[ToolCallRead]:
        path = _path("/api/workspaces/{}/tool-calls", workspace_id)
        return self._api.pages(path, query({"tool": tool, "outcome": outcome, "limit": limit}), "data")


class AsyncAssistant(_AsyncResource):
    """A workspace's AI assistant: each message counts against the plan's monthly AI messages."""

    async def send(self, workspace_id: str, **body: Unpack[AiMessageCreate]) -> AiReplyRead:
        path = _path("/api/workspaces/{}/ai/messages", workspace_id)
        return cast(AiReplyRead, await self._api.request("POST", path, json=body))

    async def list_conversations(
        self, workspace_id: str, *, page: int | None = None, limit: int | None = None
    ) -> PaginatedAiConversationRead:
        path = _path("/api/workspaces/{}/ai/conversations", workspace_id)
        params = query({"page": page, "limit": limit})
        return cast(PaginatedAiConversationRead, await self._api.request("GET", path, params=params))

    def iterate_conversations(
        self, workspace_id: str, *, limit: int = PAGE_SIZE
    ) -> AsyncIterator[AiConversationRead]:
        path = _path("/api/workspaces/{}/ai/conversations", workspace_id)
        return self._api.pages(path, {"limit": limit}, "data")

    async def list_messages(
        self, workspace_id: str, conversation_id: str, *, page: int | None = None, limit: int | None = None
    ) -> PaginatedAiMessageRead:
        path = _path("/api/workspaces/{}/ai/conversations/{}/messages", workspace_id, conversation_id)
        params = query({"page": page, "limit": limit})
        return cast(PaginatedAiMessageRead, await self._api.request("GET", path, params=params))

    def iterate_messages(
        self, workspace_id: str, conversation_id: str, *, limit: int = PAGE_SIZE
    ) -> AsyncIterator[AiMessageRead]:
        path = _path("/api/workspaces/{}/ai/conversations/{}/messages", workspace_id, conversation_id)
        return self._api.pages(path, {"limit": limit}, "data")


class AsyncPlatformClient:
    """The Platform API. Every method answers the response body (a dict typed by platform_api.models).

    Configuration falls back to the environment: PLATFORM_API_KEY, PLATFORM_BASE_URL (default
    http://127.0.0.1:8000). `last_response` and the `on_response` hook expose each response's status, request
    id and rate limit; prefer the hook when calls run concurrently.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_retry_delay: float | None = None,
        on_response: Callable[[ResponseInfo], None] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        options = ClientOptions.resolve(api_key, base_url, timeout, max_retries, max_retry_delay, on_response)
        self._api = AsyncTransport(options, http_client)
        self.features = AsyncFeatures(self._api)
        self.work_items = AsyncWorkItems(self._api)
        self.workspaces = AsyncWorkspaces(self._api)
        self.api_keys = AsyncApiKeys(self._api)
        self.users = AsyncUsers(self._api)
        self.me = AsyncMe(self._api)
        self.usage = AsyncUsage(self._api)
        self.billing = AsyncBilling(self._api)
        self.integrations = AsyncIntegrations(self._api)
        self.workspace_integrations = AsyncWorkspaceIntegrations(self._api)
        self.tools = AsyncTools(self._api)
        self.assistant = AsyncAssistant(self._api)

    @property
    def base_url(self) -> str:
        return self._api.options.base_url

    @property
    def last_response(self) -> ResponseInfo | None:
        return self._api.last_response

    async def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Any route, with the same auth, retries and errors as the typed methods."""
        return await self._api.request(method, path, params=params, json=json)

    async def aclose(self) -> None:
        await self._api.aclose()

    async def __aenter__(self) -> AsyncPlatformClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()
