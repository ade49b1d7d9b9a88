"""Integration lifecycle: start OAuth, finish it at the callback, list, delete (revoking the grant), and
enable integrations per workspace."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.errors import BadRequest, Conflict, ResourceNotFound, ValidationFailed
from platform_server.ids import new_id
from platform_server.integrations.catalog import tool_names
from platform_server.integrations.models import (
    Integration,
    IntegrationStatus,
    SyncLog,
    WorkspaceIntegration,
)
from platform_server.integrations.oauth import OAuthFailure, authorization_url, exchange_code, new_code_verifier
from platform_server.integrations.providers.base import (
    InvalidProject,
    Provider,
    ProviderResponseError,
    missing_credential_settings,
)
from platform_server.integrations.providers.client import ProviderHttp
from platform_server.integrations.push.registration import push_registration
from platform_server.integrations.registry import PROVIDER_CLASSES, get_provider
from platform_server.integrations.remote_mcp.models import REMOTE_PROVIDER
from platform_server.integrations.remote_mcp.service import remote_mcp_service
from platform_server.integrations.repository import (
    IntegrationRepository,
    OAuthStateRepository,
    SyncLogRepository,
    WorkspaceIntegrationRepository,
)
from platform_server.integrations.schemas import (
    IntegrationCreate,
    WorkspaceIntegrationEnable,
    WorkspaceIntegrationUpdate,
)
from platform_server.integrations.states import add_state, new_state, open_verifier
from platform_server.integrations.sync.schedule import apply_interval
from platform_server.integrations.tokens import TokenManager, clear_tokens, seal_tokens, tokens_to_revoke
from platform_server.log import get_logger
from platform_server.pagination import PageParams
from platform_server.security import DecryptionError, Encryptor, hash_token
from platform_server.workspaces.repository import WorkspaceRepository

SYNC_LOGS_SHOWN = 50
CALLBACK_PATH = "/api/integrations/oauth/callback"
# Where the callback hands over: under the settings page's cookie path, so the browser's sign-in comes along.
SETTINGS_CALLBACK_PATH = "/settings/oauth/callback"
SETTINGS_PATH = "/settings/integrations"
# A provider's error code is echoed into our redirect only when it looks like one.
_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,64}$")

logger = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class IntegrationDeps:
    """What the lifecycle needs from the running app."""

    settings: Settings
    encryptor: Encryptor
    provider_http: ProviderHttp
    token_manager: TokenManager


class IntegrationService:
    async def list(
        self,
        session: AsyncSession,
        principal: Principal,
        params: PageParams,
        status: str | None,
        provider: str | None,
    ) -> tuple[Sequence[Integration], int]:
        return await IntegrationRepository(session, principal.team_id).list_page(params, status, provider)

    async def get(self, session: AsyncSession, principal: Principal, integration_id: str) -> Integration:
        integration = await IntegrationRepository(session, principal.team_id).get(integration_id)
        if integration is None:
            raise ResourceNotFound("Integration", integration_id)
        return integration

    async def sync_logs(self, session: AsyncSession, principal: Principal, integration_id: str) -> Sequence[SyncLog]:
        return await SyncLogRepository(session, principal.team_id).latest(integration_id, SYNC_LOGS_SHOWN)

    async def create(
        self, session: AsyncSession, principal: Principal, deps: IntegrationDeps, data: IntegrationCreate
    ) -> tuple[Integration, str]:
        provider = get_provider(deps.settings, data.provider.value)
        credentials = provider.credentials()
        if credentials is None:
            missing = missing_credential_settings(deps.settings, provider.name)
            raise BadRequest(
                f"{provider.display_name} is not configured on this server: set {' and '.join(missing)} "
                "(or run the server with --sandbox)",
                details={"provider": provider.name, "missingSettings": missing},
            )
        repository = IntegrationRepository(session, principal.team_id)
        name = data.name if data.name is not None else await self._default_name(repository, provider)
        if await repository.name_taken(name):
            raise Conflict(f"An integration named {name!r} already exists in this team", details={"name": name})
        scopes = list(data.scopes) if data.scopes is not None else list(provider.oauth.default_scopes)
        integration = repository.add(
            Integration(
                id=new_id(),
                team_id=principal.team_id,
                provider=provider.name,
                name=name,
                status=IntegrationStatus.pending,
                scopes=scopes,
                account_metadata={},
                created_by=principal.user_id,
            )
        )
        state = new_state()
        verifier = new_code_verifier() if provider.oauth.pkce else None
        redirect_uri = deps.settings.PUBLIC_BASE_URL + CALLBACK_PATH
        await add_state(
            session,
            deps.encryptor,
            principal,
            integration_id=integration.id,
            state=state,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
        )
        try:
            await session.flush()
        except IntegrityError as exc:
            # Another request took the name between the check and the insert.
            raise Conflict(
                f"An integration named {name!r} already exists in this team", details={"name": name}
            ) from exc
        oauth_url = authorization_url(
            provider, credentials, redirect_uri=redirect_uri, state=state, scopes=scopes, code_verifier=verifier
        )
        logger.info("integration_created", integration_id=integration.id, provider=provider.name)
        return integration, oauth_url

    def settings_callback_url(
        self, settings: Settings, *, code: str | None, state: str | None, error: str | None
    ) -> str:
        """Where the provider's redirect goes on: the settings page, whose cookie says who is signed in. Nothing
        is checked or used here, so a browser that has to sign in first still holds a usable state."""
        passed = {"code": code, "state": state, "error": error}
        return _redirect(
            settings.PUBLIC_BASE_URL + SETTINGS_CALLBACK_PATH,
            **{name: value for name, value in passed.items() if value is not None},
        )

    async def complete_oauth(
        self,
        session: AsyncSession,
        deps: IntegrationDeps,
        principal: Principal,
        *,
        code: str | None,
        state: str | None,
        error: str | None,
    ) -> str:
        """Finishes an authorization in the browser of `principal`, who must be the user who started it;
        always answers a URL under PUBLIC_BASE_URL to redirect the browser to.

        The state is checked against the signed-in user before it is used, so a link sent to someone else
        (approved with their provider account) can neither connect nor burn it. An authorization that ends
        without a connection removes the integration it was for: nothing was connected, and the page says so.
        """
        base = deps.settings.PUBLIC_BASE_URL + SETTINGS_PATH
        if not state or len(state) > 200:
            return _redirect(base, error="invalid_state")
        states = OAuthStateRepository(session)
        pending = await states.get_by_hash(hash_token(state))
        now = utcnow()
        if pending is None or pending.used_at is not None or pending.expires_at <= now:
            logger.warning("oauth_state_rejected", reason="unknown, used or expired")
            return _redirect(base, error="invalid_state")
        if (pending.team_id, pending.user_id) != (principal.team_id, principal.user_id):
            logger.warning(
                "oauth_state_rejected",
                reason="signed in as another user",
                integration_id=pending.integration_id,
                user_id=principal.user_id,
            )
            return _redirect(base, error="wrong_account")
        if not principal.can_manage:
            return _redirect(base, error="forbidden")
        if not await states.claim(pending.id, now):
            return _redirect(base, error="invalid_state")
        repository = IntegrationRepository(session, pending.team_id)
        integration = await repository.get(pending.integration_id)
        if integration is None:
            return _redirect(base, error="invalid_state")
        remote = integration.provider == REMOTE_PROVIDER

        async def abandon(code_name: str) -> str:
            # A remote server's reconnection keeps its integration (tools, approvals, enablements).
            if integration.status == IntegrationStatus.pending:
                await repository.delete(integration)
                await session.flush()
            return _redirect(base, error=code_name)

        if error is not None:
            code_name = error if _ERROR_CODE.match(error) else "oauth_error"
            logger.info("oauth_authorization_refused", integration_id=integration.id, error=code_name)
            return await abandon(code_name)
        provider = None if remote else get_provider(deps.settings, integration.provider)
        credentials = None if provider is None else provider.credentials()
        if not code or len(code) > 2000 or (provider is not None and credentials is None):
            logger.warning("oauth_code_missing", integration_id=integration.id)
            return await abandon("invalid_request")

        try:
            verifier = open_verifier(deps.encryptor, pending)
        except DecryptionError:
            return _redirect(base, error="invalid_state")
        if provider is None or credentials is None:
            failure = await remote_mcp_service.complete_authorization(
                session,
                deps.settings,
                deps.encryptor,
                integration,
                code=code,
                code_verifier=verifier,
                redirect_uri=pending.redirect_uri,
            )
            if failure is not None:
                return await abandon(failure)
            await session.flush()
            return _redirect(base, success=REMOTE_PROVIDER)
        http = deps.provider_http.http(provider.name)
        try:
            tokens = await exchange_code(
                provider, credentials, http, code=code, redirect_uri=pending.redirect_uri, code_verifier=verifier
            )
        except OAuthFailure as failure:
            code_name = failure.error if _ERROR_CODE.match(failure.error) else "token_exchange_failed"
            logger.warning("oauth_code_exchange_failed", integration_id=integration.id, error=code_name)
            return await abandon(code_name)
        try:
            account = await provider.whoami(http, tokens.access_token)
        except (ProviderResponseError, httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            logger.warning("oauth_whoami_failed", integration_id=integration.id, error=type(exc).__name__)
            return await abandon("account_lookup_failed")

        target = await repository.find_account(provider.name, account.id, exclude_id=integration.id)
        if target is not None:
            # The same account again: keep the existing integration (its id, name, enablements, work items).
            await repository.delete(integration)
            await session.flush()
        else:
            target = integration
        target.provider_account_id = account.id
        target.provider_account_name = account.name
        target.account_metadata = {**tokens.metadata, **account.metadata}
        target.scopes = tokens.scopes or integration.scopes
        seal_tokens(deps.encryptor, target, tokens)
        target.connected_at = utcnow()
        _set_status(target, IntegrationStatus.connected, None)
        await session.flush()
        logger.info(
            "integration_connected",
            integration_id=target.id,
            provider=provider.name,
            reconnected=target is not integration,
        )
        return _redirect(base, success=provider.name)

    async def delete(
        self, session: AsyncSession, principal: Principal, deps: IntegrationDeps, integration_id: str
    ) -> None:
        integration = await self.get(session, principal, integration_id)
        # A remote MCP server's static secret has nothing to revoke; deleting it cascades to its tools.
        if integration.provider != REMOTE_PROVIDER:
            await push_registration.remove_all(session, deps.provider_http, deps.encryptor, integration)
            await self._revoke(deps, get_provider(deps.settings, integration.provider), integration)
        await IntegrationRepository(session, principal.team_id).delete(integration)
        await session.flush()
        logger.info("integration_deleted", integration_id=integration_id, provider=integration.provider)

    async def _revoke(self, deps: IntegrationDeps, provider: Provider, integration: Integration) -> None:
        """Best effort: a grant the provider no longer knows, or a provider that is down, does not block deletion."""
        credentials = provider.credentials()
        if not provider.revocable or credentials is None:
            return
        http = deps.provider_http.http(provider.name)
        try:
            tokens = await tokens_to_revoke(deps.encryptor, provider, credentials, http, integration)
        except DecryptionError:
            return
        for token in tokens:
            try:
                await provider.revoke(http, token, credentials)
            except (ProviderResponseError, httpx.HTTPError) as exc:
                logger.warning("integration_revoke_failed", integration_id=integration.id, error=type(exc).__name__)
        clear_tokens(integration)

    async def _default_name(self, repository: IntegrationRepository, provider: Provider) -> str:
        taken = await repository.names_starting_with(provider.display_name)
        if provider.display_name not in taken:
            return provider.display_name
        number = 2
        while f"{provider.display_name} {number}" in taken:
            number += 1
        return f"{provider.display_name} {number}"

    # Workspace enablement

    async def workspace_integrations(
        self, session: AsyncSession, principal: Principal, workspace_id: str, params: PageParams
    ) -> tuple[Sequence[tuple[WorkspaceIntegration, Integration]], int]:
        await self._workspace(session, principal, workspace_id)
        return await WorkspaceIntegrationRepository(session, principal.team_id).list_page(workspace_id, params)

    async def enable(
        self, session: AsyncSession, principal: Principal, workspace_id: str, data: WorkspaceIntegrationEnable
    ) -> tuple[WorkspaceIntegration, bool]:
        """Enables (or re-enables and updates) an integration for a workspace; true when newly created."""
        await self._workspace(session, principal, workspace_id)
        integration = await self.get(session, principal, data.integration_id)
        if integration.status != IntegrationStatus.connected:
            raise Conflict(
                f"Integration {integration.id} is {integration.status}; only a connected integration can be enabled",
                details={"integrationId": integration.id, "status": integration.status},
            )
        provider, tools = await _enablement(session, principal, integration, data.enabled_tools)
        project = _checked_project(integration.provider, data.default_project)
        repository = WorkspaceIntegrationRepository(session, principal.team_id)
        access = await repository.get_for(workspace_id, integration.id)
        if access is not None:
            access.enabled = True
            access.enabled_tools = tools
            if "default_project" in data.model_fields_set:
                access.default_project = project
            if "sync_interval_minutes" in data.model_fields_set:
                apply_interval(access, data.sync_interval_minutes)
            await session.flush()
            return access, False
        other = await repository.get_by_provider(workspace_id, provider)
        if other is not None:
            raise Conflict(
                f"This workspace already has a {integration.provider} integration enabled "
                f"({other.integration_id}); disable it first",
                details={"integrationId": other.integration_id, "provider": integration.provider},
            )
        access = repository.add(
            WorkspaceIntegration(
                id=new_id(),
                team_id=principal.team_id,
                workspace_id=workspace_id,
                integration_id=integration.id,
                provider=provider,
                enabled=True,
                enabled_tools=tools,
                default_project=project,
            )
        )
        apply_interval(access, data.sync_interval_minutes)
        try:
            await session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"This workspace already has a {integration.provider} integration enabled",
                details={"provider": integration.provider},
            ) from exc
        return access, True

    async def update_access(
        self,
        session: AsyncSession,
        principal: Principal,
        workspace_id: str,
        integration_id: str,
        data: WorkspaceIntegrationUpdate,
    ) -> tuple[WorkspaceIntegration, Integration]:
        access, integration = await self._access(session, principal, workspace_id, integration_id)
        changes = data.changes()
        if "enabled_tools" in changes:
            _, changes["enabled_tools"] = await _enablement(session, principal, integration, changes["enabled_tools"])
        if "default_project" in changes:
            changes["default_project"] = _checked_project(integration.provider, changes["default_project"])
        if "sync_interval_minutes" in changes:
            apply_interval(access, changes.pop("sync_interval_minutes"))
        for field, value in changes.items():
            setattr(access, field, value)
        await session.flush()
        return access, integration

    async def disable(
        self, session: AsyncSession, principal: Principal, workspace_id: str, integration_id: str
    ) -> None:
        access, _ = await self._access(session, principal, workspace_id, integration_id)
        await WorkspaceIntegrationRepository(session, principal.team_id).delete(access)
        await session.flush()

    async def _access(
        self, session: AsyncSession, principal: Principal, workspace_id: str, integration_id: str
    ) -> tuple[WorkspaceIntegration, Integration]:
        await self._workspace(session, principal, workspace_id)
        integration = await self.get(session, principal, integration_id)
        access = await WorkspaceIntegrationRepository(session, principal.team_id).get_for(workspace_id, integration_id)
        if access is None:
            raise ResourceNotFound("Workspace integration", integration_id)
        return access, integration

    async def _workspace(self, session: AsyncSession, principal: Principal, workspace_id: str) -> None:
        if await WorkspaceRepository(session, principal.team_id).get(workspace_id) is None:
            raise ResourceNotFound("Workspace", workspace_id)


async def _enablement(
    session: AsyncSession, principal: Principal, integration: Integration, requested: list[str] | None
) -> tuple[str, list[str]]:
    """The enablement's provider key (one enablement per key and workspace) and its checked tools."""
    if integration.provider == REMOTE_PROVIDER:
        return await remote_mcp_service.enablement(session, principal.team_id, integration, requested)
    return integration.provider, _checked_tools(integration.provider, requested)


def _checked_tools(provider: str, requested: list[str] | None) -> list[str]:
    available = tool_names(provider)
    if requested is None:
        return available
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise ValidationFailed(
            f"Unknown {provider} tools: {', '.join(unknown)}",
            details={
                "fields": [
                    {
                        "field": "body.enabledTools",
                        "message": f"unknown tools: {', '.join(unknown)}",
                        "type": "value_error",
                    }
                ],
                "unknownTools": unknown,
                "availableTools": available,
            },
        )
    # Keep the provider's order and drop repeats, so the stored list is canonical.
    return [name for name in available if name in set(requested)]


def _checked_project(provider: str, project: str | None) -> str | None:
    """The defaultProject in its provider's form. Checked when it is set: tools put it into request paths and
    syncs scope by it, so a value they would refuse is never stored (normalized, e.g. a Jira key uppercased)."""
    if project is None:
        return None
    if provider == REMOTE_PROVIDER:
        message = "A remote MCP server has no default project"
        raise ValidationFailed(
            message, details={"fields": [{"field": "body.defaultProject", "message": message, "type": "value_error"}]}
        )
    try:
        return PROVIDER_CLASSES[provider].parse_project(project)
    except InvalidProject as exc:
        raise ValidationFailed(
            str(exc),
            details={
                "fields": [{"field": "body.defaultProject", "message": str(exc), "type": "value_error"}],
                "expected": PROVIDER_CLASSES[provider].project_hint,
            },
        ) from exc


def _set_status(integration: Integration, status: IntegrationStatus, reason: str | None) -> None:
    integration.status = status
    integration.status_reason = reason


def _redirect(base: str, **params: Any) -> str:
    return f"{base}?{urlencode(params)}"


integration_service = IntegrationService()
