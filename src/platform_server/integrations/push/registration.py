"""Creating and deleting the provider webhooks that push changes to us.

The webhooks an integration should have follow from its workspace integrations: GitHub one per repository
named as a defaultProject (repository webhooks; the `repo` scope covers them), Jira one per project key
(dynamic webhooks with a JQL filter; the `manage:jira-webhook` scope), Linear one for all public teams
(`webhookCreate`; only the `admin` scope may). `reconcile` brings the registrations in line after each change
of enablements or defaultProject, and `remove_all` deletes them upstream before the integration goes.

A failure never fails the request that caused it: the registration is kept with status `unavailable` and the
reason, shown on the integration's page, and retried at the next reconcile.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.integrations.models import Integration, PushWebhook, PushWebhookStatus
from platform_server.integrations.providers.client import ProviderClient, ProviderError, ProviderHttp, StaticTokenSource
from platform_server.integrations.providers.github.tools import repo_path
from platform_server.integrations.providers.jira.tools import rest_api
from platform_server.integrations.push.repository import PushWebhookRepository
from platform_server.integrations.push.service import secret_associated_data
from platform_server.integrations.tokens import TokenManager, open_token
from platform_server.log import get_logger
from platform_server.security import DecryptionError, Encryptor, random_token

logger = get_logger(__name__)

WEBHOOK_PATH = "/api/webhooks/{provider}"
PUSH_PROVIDERS = ("github", "linear", "jira")
LINEAR_ALL_PUBLIC_TEAMS = "all-public-teams"
REQUIRED_SCOPE = {"linear": "admin", "jira": "manage:jira-webhook"}
GITHUB_EVENTS = ["issues", "pull_request"]
JIRA_EVENTS = ["jira:issue_created", "jira:issue_updated", "jira:issue_deleted"]
# Jira drops a dynamic webhook 30 days after its registration or last refresh.
JIRA_WEBHOOK_LIFETIME = timedelta(days=30)

_LINEAR_CREATE = """
mutation PushWebhookCreate($input: WebhookCreateInput!) {
  webhookCreate(input: $input) { success webhook { id enabled } }
}
"""
_LINEAR_DELETE = "mutation PushWebhookDelete($id: String!) { webhookDelete(id: $id) { success } }"


class RegistrationRefused(Exception):
    """The provider cannot (or will not) send this integration's events; the message says why."""


def webhook_url(settings: Settings, provider: str) -> str:
    return settings.PUBLIC_BASE_URL + WEBHOOK_PATH.format(provider=provider)


def desired_targets(provider: str, default_projects: Sequence[str], enabled_anywhere: bool) -> set[str]:
    if provider == "github":
        return {project.lower() for project in default_projects}
    if provider == "jira":
        return {project.upper() for project in default_projects}
    if provider == "linear":
        return {LINEAR_ALL_PUBLIC_TEAMS} if enabled_anywhere else set()
    return set()


def stored_token_client(provider_http: ProviderHttp, encryptor: Encryptor, integration: Integration) -> ProviderClient:
    """A client on the stored access token, for calls made while the integration is being deleted (no refresh:
    the grant is about to be revoked)."""
    try:
        token = open_token(encryptor, integration, "access_token") or ""
    except DecryptionError:
        token = ""
    return provider_http.client(
        integration.provider,
        StaticTokenSource(integration.provider, token),
        context=dict(integration.account_metadata or {}),
    )


class PushRegistration:
    async def reconcile(
        self,
        session: AsyncSession,
        settings: Settings,
        encryptor: Encryptor,
        client: ProviderClient,
        integration: Integration,
    ) -> None:
        if integration.provider not in PUSH_PROVIDERS:
            return
        repository = PushWebhookRepository(session)
        projects = await repository.default_projects(integration.team_id, integration.id)
        enabled_anywhere = bool(await repository.syncable_accesses(integration.team_id, integration.id))
        desired = desired_targets(integration.provider, projects, enabled_anywhere)
        existing = {
            webhook.target: webhook for webhook in await repository.of_integration(integration.team_id, integration.id)
        }
        for target, stale in existing.items():
            if target not in desired:
                await self._delete_upstream(client, stale)
                await repository.delete(stale)
        for target in sorted(desired):
            webhook = existing.get(target)
            if webhook is not None and webhook.status in (PushWebhookStatus.active, PushWebhookStatus.manual):
                continue
            if webhook is None:
                webhook = repository.add(
                    PushWebhook(
                        team_id=integration.team_id,
                        integration_id=integration.id,
                        provider=integration.provider,
                        target=target,
                        status=PushWebhookStatus.unavailable,
                    )
                )
                await session.flush()
            await self._register(settings, encryptor, client, integration, webhook)
        await session.flush()

    async def remove_all(
        self, session: AsyncSession, provider_http: ProviderHttp, encryptor: Encryptor, integration: Integration
    ) -> None:
        """Best effort: an upstream webhook that cannot be deleted stops when the grant is revoked."""
        repository = PushWebhookRepository(session)
        webhooks = await repository.of_integration(integration.team_id, integration.id)
        if not webhooks:
            return
        client = stored_token_client(provider_http, encryptor, integration)
        for webhook in webhooks:
            await self._delete_upstream(client, webhook)
            await repository.delete(webhook)
        # Before the integration's own delete, whose cascade would otherwise remove these rows first.
        await session.flush()

    async def refresh_jira(
        self, session: AsyncSession, client: ProviderClient, webhooks: Sequence[PushWebhook]
    ) -> None:
        """Extends Jira's dynamic webhooks by another 30 days (`PUT /rest/api/3/webhook/refresh`)."""
        ids = [int(webhook.external_id) for webhook in webhooks if webhook.external_id]
        if not ids:
            return
        cloud = str(client.context.get("cloudId") or "")
        response = await client.request("PUT", rest_api(client, cloud, "webhook", "refresh"), json={"webhookIds": ids})
        expires = _jira_time((response.data or {}).get("expirationDate")) if isinstance(response.data, dict) else None
        for webhook in webhooks:
            webhook.expires_at = expires or utcnow() + JIRA_WEBHOOK_LIFETIME
        await session.flush()

    async def _register(
        self,
        settings: Settings,
        encryptor: Encryptor,
        client: ProviderClient,
        integration: Integration,
        webhook: PushWebhook,
    ) -> None:
        try:
            scope = REQUIRED_SCOPE.get(integration.provider)
            if scope is not None and scope not in (integration.scopes or []):
                raise RegistrationRefused(
                    f"needs the {scope} scope: reconnect with it, or add the webhook by hand (see the README)"
                )
            secret = random_token(32) if integration.provider != "jira" else None
            url = webhook_url(settings, integration.provider)
            if integration.provider == "github":
                assert secret is not None
                webhook.external_id = await _github_create(client, webhook.target, url, secret)
            elif integration.provider == "linear":
                assert secret is not None
                webhook.external_id = await _linear_create(client, url, secret)
            else:
                webhook.external_id, webhook.expires_at = await _jira_create(client, webhook.target, url)
        except (RegistrationRefused, ProviderError, httpx.HTTPError) as exc:
            webhook.status = PushWebhookStatus.unavailable
            webhook.status_reason = _reason(exc)
            logger.warning(
                "push_webhook_unavailable",
                integration_id=integration.id,
                provider=integration.provider,
                reason=webhook.status_reason,
            )
            return
        webhook.secret_encrypted = (
            encryptor.encrypt(secret, secret_associated_data(webhook.id)) if secret is not None else None
        )
        webhook.status = PushWebhookStatus.active
        webhook.status_reason = None
        logger.info("push_webhook_registered", integration_id=integration.id, provider=integration.provider)

    async def _delete_upstream(self, client: ProviderClient, webhook: PushWebhook) -> None:
        if webhook.external_id is None:
            return
        try:
            if webhook.provider == "github":
                await client.request("DELETE", repo_path(client, webhook.target, "hooks", webhook.external_id))
            elif webhook.provider == "linear":
                await client.graphql(_LINEAR_DELETE, {"id": webhook.external_id}, mutation=True)
            else:
                cloud = str(client.context.get("cloudId") or "")
                await client.request(
                    "DELETE", rest_api(client, cloud, "webhook"), json={"webhookIds": [int(webhook.external_id)]}
                )
        except (ProviderError, httpx.HTTPError, ValueError) as exc:
            logger.warning("push_webhook_delete_failed", push_webhook_id=webhook.id, reason=_reason(exc))


async def _github_create(client: ProviderClient, repository: str, url: str, secret: str) -> str:
    body = {
        "name": "web",
        "active": True,
        "events": GITHUB_EVENTS,
        "config": {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"},
    }
    response = await client.post(repo_path(client, repository, "hooks"), json=body)
    return str(_field(response.data, "id"))


async def _linear_create(client: ProviderClient, url: str, secret: str) -> str:
    data = await client.graphql(
        _LINEAR_CREATE,
        {
            "input": {
                "url": url,
                "secret": secret,
                "allPublicTeams": True,
                "resourceTypes": ["Issue"],
                "label": "Platform sync",
            }
        },
        mutation=True,
    )
    created = _field(data, "webhookCreate")
    return str(_field(_field(created, "webhook"), "id"))


async def _jira_create(client: ProviderClient, project_key: str, url: str) -> tuple[str, datetime]:
    cloud = str(client.context.get("cloudId") or "")
    if not cloud:
        raise RegistrationRefused("the Jira integration has no site (cloudId); reconnect Jira")
    body = {"url": url, "webhooks": [{"events": JIRA_EVENTS, "jqlFilter": f"project = {project_key}"}]}
    response = await client.post(rest_api(client, cloud, "webhook"), json=body)
    results = _field(response.data, "webhookRegistrationResult")
    first = results[0] if isinstance(results, list) and results else {}
    if not isinstance(first, dict) or "createdWebhookId" not in first:
        errors = first.get("errors") if isinstance(first, dict) else None
        raise RegistrationRefused(f"Jira refused the webhook: {errors or 'no id returned'}")
    return str(first["createdWebhookId"]), utcnow() + JIRA_WEBHOOK_LIFETIME


def _field(data: Any, name: str) -> Any:
    if not isinstance(data, dict) or data.get(name) is None:
        raise RegistrationRefused(f"the provider's answer has no {name}")
    return data[name]


def _jira_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ProviderError):
        return f"{exc} (HTTP {exc.status_code})" if exc.status_code else str(exc)
    if isinstance(exc, httpx.HTTPError):
        return f"the provider could not be reached ({type(exc).__name__})"
    return str(exc)


push_registration = PushRegistration()


async def follow_enablements(
    session: AsyncSession, settings: Settings, encryptor: Encryptor, tokens: TokenManager, integration: Integration
) -> None:
    """After a workspace enablement or its defaultProject changed (API or settings page)."""
    if integration.provider not in PUSH_PROVIDERS:
        return
    await push_registration.reconcile(session, settings, encryptor, tokens.client_for(integration), integration)
