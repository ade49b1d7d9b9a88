# Generated from _async_client.py by sdk/generate.py: do not edit, edit the async twin.
"""PlatformClient and its resources; sdk/generate.py writes the sync twin from this file."""

from __future__ import annotations

import time
from collections.abc import Iterator, Callable
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


class SyncTransport:
    """One HTTP connection pool, the auth header, retries and the response hooks."""

    def __init__(self, options: ClientOptions, http_client: httpx.Client | None) -> None:
        self.options = options
        self.last_response: ResponseInfo | None = None
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=options.timeout)

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        url = self.options.base_url + path
        attempt = 0
        while True:
            try:
                response = self._http.request(
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
            time.sleep(delay)

    def pages(self, path: str, params: dict[str, Any], key: str) -> Iterator[Any]:
        """Every item of a paginated list, page after page, until the last page."""
        page = 1
        while True:
            body = self.request("GET", path, params={**params, "page": page})
            items: list[Any] = body[key]
            for item in items:
                yield item
            if not items or page >= int(body["pagination"]["total_pages"]):
                return
            page += 1

    def close(self) -> None:
        if self._owns_http:
            self._http.close()


def _path(template: str, *ids: str) -> str:
    return template.format(*(quote(str(value), safe="") for value in ids))


class _Resource:
    def __init__(self, api: SyncTransport) -> None:
        self._api = api


class Features(_Resource):
    def list(
        self,
        *,
        workspace_id: str | None = None,
        status: FeatureStatus | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> PaginatedFeatureRead:
        params = query({"workspace_id": workspace_id, "status": status, "page": page, "limit": limit})
        return cast(PaginatedFeatureRead, self._api.request("GET", "/api/features", params=params))

    def iterate(
        self, *, workspace_id: str | None = None, status: FeatureStatus | None = None, limit: int = PAGE_SIZE
    ) -> Iterator[FeatureRead]:
        params = query({"workspace_id": workspace_id, "status": status, "limit": limit})
        return self._api.pages("/api/features", params, "data")

    def create(self, **body: Unpack[FeatureCreate]) -> FeatureRead:
        return cast(FeatureRead, self._api.request("POST", "/api/features", json=body))

    def get(self, feature_id: str) -> FeatureRead:
        return cast(FeatureRead, self._api.request("GET", _path("/api/features/{}", feature_id)))

    def update(self, feature_id: str, **body: Unpack[FeatureUpdate]) -> FeatureRead:
        path = _path("/api/features/{}", feature_id)
        return cast(FeatureRead, self._api.request("PATCH", path, json=body))

    def delete(self, feature_id: str) -> Message:
        return cast(Message, self._api.request("DELETE", _path("/api/features/{}", feature_id)))


class WorkItems(_Resource):
    def list(
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
        return cast(PaginatedWorkItemRead, self._api.request("GET", "/api/work-items", params=params))

    def iterate(
        self,
        *,
        workspace_id: str | None = None,
        status: WorkItemStatus | None = None,
        source_provider: str | None = None,
        limit: int = PAGE_SIZE,
    ) -> Iterator[WorkItemRead]:
        params = {"workspace_id": workspace_id, "status": status, "source_provider": source_provider}
        return self._api.pages("/api/work-items", query({**params, "limit": limit}), "data")

    def create(self, **body: Unpack[WorkItemCreate]) -> WorkItemRead:
        return cast(WorkItemRead, self._api.request("POST", "/api/work-items", json=body))

    def get(self, work_item_id: str) -> WorkItemRead:
        path = _path("/api/work-items/{}", work_item_id)
        return cast(WorkItemRead, self._api.request("GET", path))

    def update(self, work_item_id: str, **body: Unpack[WorkItemUpdate]) -> WorkItemRead:
        path = _path("/api/work-items/{}", work_item_id)
        return cast(WorkItemRead, self._api.request("PATCH", path, json=body))

    def delete(self, work_item_id: str) -> Message:
        path = _path("/api/work-items/{}", work_item_id)
        return cast(Message, self._api.request("DELETE", path))


class Workspaces(_Resource):
    def list(self, *, page: int | None = None, limit: int | None = None) -> PaginatedWorkspaceRead:
        params = query({"page": page, "limit": limit})
        return cast(PaginatedWorkspaceRead, self._api.request("GET", "/api/workspaces", params=params))

    def iterate(self, *, limit: int = PAGE_SIZE) -> Iterator[WorkspaceRead]:
        return self._api.pages("/api/workspaces", {"limit": limit}, "data")

    def create(self, **body: Unpack[WorkspaceCreate]) -> WorkspaceRead:
        return cast(WorkspaceRead, self._api.request("POST", "/api/workspaces", json=body))

    def get(self, workspace_id: str) -> WorkspaceRead:
        path = _path("/api/workspaces/{}", workspace_id)
        return cast(WorkspaceRead, self._api.request("GET", path))

    def update(self, workspace_id: str, **body: Unpack[WorkspaceUpdate]) -> WorkspaceRead:
        path = _path("/api/workspaces/{}", workspace_id)
        return cast(WorkspaceRead, self._api.request("PATCH", path, json=body))

    def delete(self, workspace_id: str) -> Message:
        return cast(Message, self._api.request("DELETE", _path("/api/workspaces/{}", workspace_id)))


class ApiKeys(_Resource):
    def list(self, *, page: int | None = None, limit: int | None = None) -> PaginatedApiKeyRead:
        params = query({"page": page, "limit": limit})
        return cast(PaginatedApiKeyRead, self._api.request("GET", "/api/api-keys", params=params))

    def iterate(self, *, limit: int = PAGE_SIZE) -> Iterator[ApiKeyRead]:
        return self._api.pages("/api/api-keys", {"limit": limit}, "data")

    def create(self, **body: Unpack[ApiKeyCreate]) -> ApiKeyCreated:
        """The answer holds the new key in `key`, the only time it is shown."""
        return cast(ApiKeyCreated, self._api.request("POST", "/api/api-keys", json=body))

    def revoke(self, api_key_id: str) -> ApiKeyRead:
        path = _path("/api/api-keys/{}", api_key_id)
        return cast(ApiKeyRead, self._api.request("DELETE", path))


class Users(_Resource):
    def list(self, *, page: int | None = None, limit: int | None = None) -> PaginatedUserRead:
        params = query({"page": page, "limit": limit})
        return cast(PaginatedUserRead, self._api.request("GET", "/api/users", params=params))

    def iterate(self, *, limit: int = PAGE_SIZE) -> Iterator[UserRead]:
        return self._api.pages("/api/users", {"limit": limit}, "data")

    def create(self, **body: Unpack[UserCreate]) -> UserCreated:
        return cast(UserCreated, self._api.request("POST", "/api/users", json=body))


class Me(_Resource):
    def get(self) -> MeRead:
        return cast(MeRead, self._api.request("GET", "/api/me"))


class Usage(_Resource):
    def get(self) -> UsageRead:
        return cast(UsageRead, self._api.request("GET", "/api/usage"))


class Billing(_Resource):
    def get(self) -> BillingRead:
        return cast(BillingRead, self._api.request("GET", "/api/billing"))


class Integrations(_Resource):
    def list(
        self,
        *,
        status: IntegrationStatus | None = None,
        provider: ProviderName | None = None,
        page: int | None = None,
        limit: int | None = None,
    ) -> IntegrationList:
        params = query({"status": status, "provider": provider, "page": page, "limit": limit})
        return cast(IntegrationList, self._api.request("GET", "/api/integrations", params=params))

    def iterate(
        self,
        *,
        status: IntegrationStatus | None = None,
        provider: ProviderName | None = None,
        limit: int = PAGE_SIZE,
    ) -> Iterator[IntegrationRead]:
        params = query({"status": status, "provider": provider, "limit": limit})
        return self._api.pages("/api/integrations", params, "integrations")

    def create(self, **body: Unpack[IntegrationCreate]) -> IntegrationCreated:
        """Starts the OAuth flow: the integration stays `pending` until the user approves at `oauthUrl`."""
        return cast(IntegrationCreated, self._api.request("POST", "/api/integrations", json=body))

    def get(self, integration_id: str) -> IntegrationDetail:
        path = _path("/api/integrations/{}", integration_id)
        return cast(IntegrationDetail, self._api.request("GET", path))

    def delete(self, integration_id: str) -> Message:
        path = _path("/api/integrations/{}", integration_id)
        return cast(Message, self._api.request("DELETE", path))

    def sync(self, integration_id: str, **body: Unpack[SyncRequest]) -> SyncResult | SyncStarted:
        """Imports now (SyncResult), or in the background with `**{"async": True}` (SyncStarted)."""
        path = _path("/api/integrations/{}/sync", integration_id)
        return cast(SyncResult | SyncStarted, self._api.request("POST", path, json=body))

    def providers(self) -> ProviderCatalog:
        return cast(ProviderCatalog, self._api.request("GET", "/api/integrations/providers"))


class WorkspaceIntegrations(_Resource):
    def list(
        self, workspace_id: str, *, page: int | None = None, limit: int | None = None
    ) -> WorkspaceIntegrationList:
        path = _path("/api/workspaces/{}/integrations", workspace_id)
        params = query({"page": page, "limit": limit})
        return cast(WorkspaceIntegrationList, self._api.request("GET", path, params=params))

    def iterate(
        self, workspace_id: str, *, limit: int = PAGE_SIZE
    ) -> Iterator[WorkspaceIntegrationRead]:
        path = _path("/api/workspaces/{}/integrations", workspace_id)
        return self._api.pages(path, {"limit": limit}, "integrations")

    def enable(
        self, workspace_id: str, **body: Unpack[WorkspaceIntegrationEnable]
    ) -> WorkspaceIntegrationEnabled:
        path = _path("/api/workspaces/{}/integrations", workspace_id)
        return cast(WorkspaceIntegrationEnabled, self._api.request("POST", path, json=body))

    def update(
        self, workspace_id: str, integration_id: str, **body: Unpack[WorkspaceIntegrationUpdate]
    ) -> WorkspaceIntegrationRead:
        path = _path("/api/workspaces/{}/integrations/{}", workspace_id, integration_id)
        return cast(WorkspaceIntegrationRead, self._api.request("PATCH", path, json=body))

    def disable(self, workspace_id: str, integration_id: str) -> Message:
        path = _path("/api/workspaces/{}/integrations/{}", workspace_id, integration_id)
        return cast(Message, self._api.request("DELETE", path))


class Tools(_Resource):
    """The REST form of the MCP gateway: call a workspace's tools and read their audit trail."""

    def call(
        self, workspace_id: str, tool_name: str, arguments: dict[str, Any] | None = None
    ) -> ToolCallResult:
        path = _path("/api/workspaces/{}/tools/{}", workspace_id, tool_name)
        return cast(ToolCallResult, self._api.request("POST", path, json=arguments or {}))

    def list_calls(
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
        return cast(PaginatedToolCallRead, self._api.request("GET", path, params=params))

    def iterate_calls(
        self,
        workspace_id: str,
        *,
        tool: str | None = None,
        outcome: ToolCallOutcome | None = None,
        limit: int = PAGE_SIZE,
    ) -> Iterator[ToolCallRead]:
        path = _path("/api/workspaces/{}/tool-calls", workspace_id)
        return self._api.pages(path, query({"tool": tool, "outcome": outcome, "limit": limit}), "data")


class Assistant(_Resource):
    """A workspace's AI assistant: each message counts against the plan's monthly AI messages."""

    def send(self, workspace_id: str, **body: Unpack[AiMessageCreate]) -> AiReplyRead:
        path = _path("/api/workspaces/{}/ai/messages", workspace_id)
        return cast(AiReplyRead, self._api.request("POST", path, json=body))

    def list_conversations(
        self, workspace_id: str, *, page: int | None = None, limit: int | None = None
    ) -> PaginatedAiConversationRead:
        path = _path("/api/workspaces/{}/ai/conversations", workspace_id)
        params = query({"page": page, "limit": limit})
        return cast(PaginatedAiConversationRead, self._api.request("GET", path, params=params))

    def iterate_conversations(
        self, workspace_id: str, *, limit: int = PAGE_SIZE
    ) -> Iterator[AiConversationRead]:
        path = _path("/api/workspaces/{}/ai/conversations", workspace_id)
        return self._api.pages(path, {"limit": limit}, "data")

    def list_messages(
        self, workspace_id: str, conversation_id: str, *, page: int | None = None, limit: int | None = None
    ) -> PaginatedAiMessageRead:
        path = _path("/api/workspaces/{}/ai/conversations/{}/messages", workspace_id, conversation_id)
        params = query({"page": page, "limit": limit})
        return cast(PaginatedAiMessageRead, self._api.request("GET", path, params=params))

    def iterate_messages(
        self, workspace_id: str, conversation_id: str, *, limit: int = PAGE_SIZE
    ) -> Iterator[AiMessageRead]:
        path = _path("/api/workspaces/{}/ai/conversations/{}/messages", workspace_id, conversation_id)
        return self._api.pages(path, {"limit": limit}, "data")


class PlatformClient:
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
        http_client: httpx.Client | None = None,
    ) -> None:
        options = ClientOptions.resolve(api_key, base_url, timeout, max_retries, max_retry_delay, on_response)
        self._api = SyncTransport(options, http_client)
        self.features = Features(self._api)
        self.work_items = WorkItems(self._api)
        self.workspaces = Workspaces(self._api)
        self.api_keys = ApiKeys(self._api)
        self.users = Users(self._api)
        self.me = Me(self._api)
        self.usage = Usage(self._api)
        self.billing = Billing(self._api)
        self.integrations = Integrations(self._api)
        self.workspace_integrations = WorkspaceIntegrations(self._api)
        self.tools = Tools(self._api)
        self.assistant = Assistant(self._api)

    @property
    def base_url(self) -> str:
        return self._api.options.base_url

    @property
    def last_response(self) -> ResponseInfo | None:
        return self._api.last_response

    def request(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Any route, with the same auth, retries and errors as the typed methods."""
        return self._api.request(method, path, params=params, json=json)

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
