"""`platform-server sync`: the same plan, claim and run as the API, driven from a terminal.

The CLI is an operator's tool with direct database access and no API key, so the integration's own team is
the tenant; everything after that (checks, 409 for a running sync, page commits, logs) is the API's code.
In sandbox mode the provider calls go to the running server's /sandbox (PUBLIC_BASE_URL).
"""

from dataclasses import dataclass

from sqlalchemy import select

from platform_server.config import Settings
from platform_server.db import create_engine, create_sessionmaker
from platform_server.errors import ResourceNotFound, ValidationFailed
from platform_server.integrations.models import Integration
from platform_server.integrations.providers.client import ProviderHttp
from platform_server.integrations.sync.base import IMPORTERS
from platform_server.integrations.sync.engine import Outcome, Progress
from platform_server.integrations.sync.schemas import SyncRequest, SyncType
from platform_server.integrations.sync.service import sync_service
from platform_server.integrations.tokens import TokenManager
from platform_server.redis_store import connect_redis
from platform_server.security import Encryptor


@dataclass(frozen=True, slots=True)
class CommandResult:
    outcome: Outcome
    provider: str
    source_entity: str
    target_entity: str


async def run_sync_command(
    settings: Settings,
    integration_id: str,
    workspace_id: str,
    *,
    sync_type: SyncType = SyncType.import_,
    source_entity: str | None = None,
    target_entity: str | None = None,
    progress: Progress | None = None,
) -> CommandResult:
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    provider_http = ProviderHttp(settings)
    redis = connect_redis(settings)
    try:
        async with sessionmaker() as session:
            found = (
                await session.execute(
                    select(Integration.team_id, Integration.provider).where(Integration.id == integration_id)
                )
            ).first()
            if found is None:
                raise ResourceNotFound("Integration", integration_id)
            team_id, provider = found
            source, target = _entities(provider, sync_type, source_entity, target_entity)
            body = SyncRequest(
                sync_type=sync_type, workspace_id=workspace_id, source_entity=source, target_entity=target
            )
            plan, integration = await sync_service.plan(session, team_id, integration_id, body)
        tokens = TokenManager(settings, sessionmaker, Encryptor(settings.secret_keys()), provider_http, redis)
        log = await sync_service.claim(sessionmaker, plan)
        outcome = await sync_service.run(sessionmaker, plan, log, tokens.client_for(integration), progress)
        return CommandResult(outcome, provider, source, target)
    finally:
        await provider_http.aclose()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


def _entities(provider: str, sync_type: SyncType, source: str | None, target: str | None) -> tuple[str, str]:
    """Defaults: the provider's first import pair, or work_items → issues for an export."""
    if sync_type is SyncType.export:
        return source or "work_items", target or "issues"
    if source is None:
        first = next((entity for (name, entity) in IMPORTERS if name == provider), None)
        if first is None:
            raise ValidationFailed(f"{provider} has nothing to import")
        source = first
    importer = IMPORTERS.get((provider, source))
    # An unknown pair is passed on as it is, so the refusal names the supported ones.
    return source, target or (importer.target_entity if importer is not None else "work_items")
