"""What the settings page shows and does, composed from the services that own each part.

Nothing here reimplements the integrations, sync or audit logic: it reads through their services and
shapes the result for the templates.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from platform_server.auth.principal import Principal
from platform_server.errors import ValidationFailed
from platform_server.gateway.audit import audit_service
from platform_server.gateway.models import ToolCall
from platform_server.integrations.catalog import provider_catalog
from platform_server.integrations.models import Integration, PushWebhook, SyncLog, WorkspaceIntegration
from platform_server.integrations.providers.client import ProviderClient
from platform_server.integrations.push.registration import PUSH_PROVIDERS
from platform_server.integrations.push.repository import PushWebhookRepository
from platform_server.integrations.remote_mcp.models import REMOTE_PROVIDER, ToolStatus
from platform_server.integrations.remote_mcp.schemas import (
    RemoteMcpIntegrationCreate,
    RemoteServerRead,
    RemoteToolRead,
)
from platform_server.integrations.remote_mcp.service import remote_mcp_service
from platform_server.integrations.schemas import IntegrationCreate, ProviderInfo, ProviderName
from platform_server.integrations.service import IntegrationDeps, integration_service
from platform_server.integrations.sync import jobs as sync_jobs
from platform_server.integrations.sync.pairs import IMPORTERS
from platform_server.integrations.sync.schemas import SyncRequest, SyncType
from platform_server.integrations.sync.service import SyncPlan, sync_service
from platform_server.pagination import PageParams
from platform_server.workspaces.models import Workspace
from platform_server.workspaces.service import workspace_service

# A settings page, not an export: enough to recognise what happened recently.
RECENT_SYNC_LOGS = 10
RECENT_TOOL_CALLS = 10
_EVERYTHING = PageParams(page=1, limit=100)


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    workspace: Workspace
    access: WorkspaceIntegration | None
    # Another integration of the same provider already enabled there (one per provider per workspace).
    taken_by: Integration | None = None


@dataclass(frozen=True, slots=True)
class SyncSource:
    source_entity: str
    target_entity: str

    @property
    def label(self) -> str:
        return f"{self.source_entity} → {self.target_entity}".replace("_", " ")


def sync_sources(provider: str) -> list[SyncSource]:
    return [
        SyncSource(source, importer.target_entity) for (name, source), importer in IMPORTERS.items() if name == provider
    ]


def project_hint(provider: str) -> str | None:
    """The form of a default project, e.g. `owner/repo`, as the provider's first importer states it."""
    return next((importer.project_hint for (name, _), importer in IMPORTERS.items() if name == provider), None)


@dataclass(frozen=True, slots=True)
class IntegrationCard:
    integration: Integration
    provider: ProviderInfo
    workspaces: list[WorkspaceAccess]
    sync_logs: Sequence[SyncLog]
    tool_calls: Sequence[ToolCall]
    sync_sources: list[SyncSource]
    project_hint: str | None
    # Provider webhooks of this integration (pushed syncs); only GitHub, Linear and Jira have them.
    push_webhooks: Sequence[PushWebhook] = ()
    push_supported: bool = False

    @property
    def needs_reconnect(self) -> bool:
        return self.integration.status != "connected"


@dataclass(frozen=True, slots=True)
class RemoteServerCard:
    """A remote MCP server: how it is reached, its tools with their approval status, and its workspaces."""

    integration: Integration
    server: RemoteServerRead
    tools: list[RemoteToolRead]
    workspaces: list[WorkspaceAccess]

    @property
    def approved_tools(self) -> list[RemoteToolRead]:
        return [tool for tool in self.tools if tool.status is ToolStatus.approved]


@dataclass(frozen=True, slots=True)
class IntegrationsPage:
    providers: list[ProviderInfo]
    cards: list[IntegrationCard]
    workspaces: Sequence[Workspace]
    workspace_names: dict[str, str] = field(default_factory=dict)
    remote_cards: list[RemoteServerCard] = field(default_factory=list)

    def sync_log(self, sync_log_id: str) -> tuple[IntegrationCard, SyncLog] | None:
        for card in self.cards:
            for log in card.sync_logs:
                if log.id == sync_log_id:
                    return card, log
        return None


class SettingsPageService:
    async def integrations_page(
        self, session: AsyncSession, principal: Principal, deps: IntegrationDeps
    ) -> IntegrationsPage:
        providers = provider_catalog(deps.settings)
        by_provider = {info.provider: info for info in providers}
        integrations, _ = await integration_service.list(session, principal, _EVERYTHING, None, None)
        workspaces, _ = await workspace_service.list(session, principal, _EVERYTHING)
        by_id = {integration.id: integration for integration in integrations}

        accesses: dict[tuple[str, str], WorkspaceIntegration] = {}
        holders: dict[tuple[str, str], Integration] = {}
        calls: dict[str, list[ToolCall]] = defaultdict(list)
        for workspace in workspaces:
            rows, _ = await integration_service.workspace_integrations(session, principal, workspace.id, _EVERYTHING)
            for access, integration in rows:
                accesses[(workspace.id, integration.id)] = access
                holders[(workspace.id, integration.provider)] = integration
            # The audit is kept per workspace; each integration shows its own latest calls across them.
            recent, _ = await audit_service.list(session, principal, workspace.id, None, None, _EVERYTHING)
            for call in recent:
                if call.integration_id in by_id and len(calls[call.integration_id]) < RECENT_TOOL_CALLS:
                    calls[call.integration_id].append(call)

        cards = []
        # Remote MCP servers have a section of their own.
        for integration in (integration for integration in integrations if integration.provider in by_provider):
            logs = await integration_service.sync_logs(session, principal, integration.id)
            workspace_rows = []
            for workspace in workspaces:
                enabled = accesses.get((workspace.id, integration.id))
                holder = holders.get((workspace.id, integration.provider))
                taken_by = holder if enabled is None and holder is not None else None
                workspace_rows.append(WorkspaceAccess(workspace, enabled, taken_by))
            cards.append(
                IntegrationCard(
                    integration=integration,
                    provider=by_provider[integration.provider],
                    workspaces=workspace_rows,
                    sync_logs=logs[:RECENT_SYNC_LOGS],
                    tool_calls=sorted(calls[integration.id], key=lambda call: call.id, reverse=True),
                    sync_sources=sync_sources(integration.provider),
                    project_hint=project_hint(integration.provider),
                    push_webhooks=await PushWebhookRepository(session).of_integration(
                        principal.team_id, integration.id
                    ),
                    push_supported=integration.provider in PUSH_PROVIDERS,
                )
            )
        remote = await remote_mcp_service.reads(session, principal.team_id, integrations)
        remote_cards = [
            RemoteServerCard(
                integration=by_id[integration_id],
                server=server,
                tools=(await remote_mcp_service.stored_tools(session, principal, integration_id)).tools,
                workspaces=[
                    WorkspaceAccess(workspace, accesses.get((workspace.id, integration_id))) for workspace in workspaces
                ],
            )
            for integration_id, server in remote.items()
        ]
        return IntegrationsPage(
            providers=providers,
            cards=cards,
            workspaces=workspaces,
            workspace_names={workspace.id: workspace.name for workspace in workspaces},
            remote_cards=sorted(remote_cards, key=lambda card: card.integration.id, reverse=True),
        )

    async def connect_remote(
        self, session: AsyncSession, principal: Principal, deps: IntegrationDeps, form: dict[str, str]
    ) -> tuple[Integration, str | None]:
        """The settings page's connect form: empty fields are left out, so the API's defaults and checks apply.
        With OAuth, also the URL to send the browser to."""
        auth = {
            "type": form["auth_type"] or "none",
            "token": form["token"],
            "header_name": form["header_name"],
            "client_id": form["client_id"],
            "client_secret": form["client_secret"],
        }
        data = RemoteMcpIntegrationCreate.model_validate(
            {
                "kind": "mcp",
                "name": form["name"],
                "url": form["url"],
                "transport": form["transport"] or "streamable_http",
                "auth": {name: value for name, value in auth.items() if value},
                **({"slug": form["slug"]} if form["slug"] else {}),
            }
        )
        return await remote_mcp_service.create(session, principal, deps.settings, deps.encryptor, data)

    async def connect(
        self, session: AsyncSession, principal: Principal, deps: IntegrationDeps, provider: ProviderName
    ) -> str:
        data = IntegrationCreate(provider=provider)
        _, oauth_url = await integration_service.create(session, principal, deps, data)
        return oauth_url

    async def reconnect(
        self, session: AsyncSession, principal: Principal, deps: IntegrationDeps, integration_id: str
    ) -> str:
        """A fresh authorization for the same provider; the callback folds it into the existing integration
        when the same account approves (same id, enablements and work items kept). A remote MCP server
        connected with OAuth is authorized again in place."""
        integration = await integration_service.get(session, principal, integration_id)
        if integration.provider == REMOTE_PROVIDER:
            _, oauth_url = await remote_mcp_service.reauthorize(
                session, principal, deps.settings, deps.encryptor, integration_id
            )
            return oauth_url
        provider = ProviderName(integration.provider)
        name = None
        if integration.provider_account_id is None:
            # Never connected (pending or refused): no tokens, account or enablements worth keeping, so it is
            # replaced under its own name rather than left behind beside the new attempt.
            name = integration.name
            await integration_service.delete(session, principal, deps, integration.id)
        try:
            data = IntegrationCreate(provider=provider, name=name, scopes=integration.scopes or None)
        except ValidationError:
            # Scopes as the provider reported them back may not be requestable as-is; its defaults are.
            data = IntegrationCreate(provider=provider, name=name)
        _, oauth_url = await integration_service.create(session, principal, deps, data)
        return oauth_url

    async def plan_sync(
        self,
        session: AsyncSession,
        principal: Principal,
        integration_id: str,
        workspace_id: str,
        source_entity: str,
    ) -> tuple[SyncPlan, Integration]:
        """The checks of POST /api/integrations/{id}/sync for an import chosen on the page."""
        integration = await integration_service.get(session, principal, integration_id)
        importer = IMPORTERS.get((integration.provider, source_entity))
        if importer is None:
            raise ValidationFailed(
                f"{integration.name} cannot import {source_entity[:40]!r}",
                details={"supported": [source.source_entity for source in sync_sources(integration.provider)]},
            )
        request = SyncRequest(
            sync_type=SyncType.import_,
            workspace_id=workspace_id,
            source_entity=source_entity,
            target_entity=importer.target_entity,
        )
        return await sync_service.plan(session, principal.team_id, integration.id, request)

    async def run_sync(self, state: State, plan: SyncPlan, log: SyncLog, integration: Integration) -> str:
        """Runs the import whose log has committed, on sessions of its own (it commits page by page); answers
        its sync log id, whose status and error tell how it ended."""
        client: ProviderClient = state.token_manager.client_for(integration)
        outcome = await sync_service.run(state.sessionmaker, plan, log, client)
        return outcome.log_id

    async def cancel_sync(self, session: AsyncSession, principal: Principal, integration_id: str, log_id: str) -> None:
        await sync_jobs.cancel_sync(session, principal.team_id, integration_id, log_id)


settings_page_service = SettingsPageService()
