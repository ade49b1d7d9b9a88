"""`platform-server sync`: the same plan, claim and run as the API, driven from a terminal.

The CLI is an operator's tool with direct database access and no API key, so the integration's own team is
the tenant; everything after that (checks, 409 for a running sync, page commits, logs) is the API's code.
In sandbox mode the provider calls go to the running server's /sandbox (PUBLIC_BASE_URL): the simulated
providers' grants live in that process.

A shell without the server's settings would otherwise fail late and misleadingly (a fresh empty database, a
new development secret that cannot open the stored tokens, or real provider hosts for a sandbox grant), so
`SetupError` names the missing setting before anything is written.
"""

from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.config import Settings
from platform_server.db import create_engine, create_sessionmaker
from platform_server.errors import NotFound
from platform_server.ids import is_valid_id
from platform_server.integrations.models import Integration
from platform_server.integrations.providers.base import missing_credential_settings
from platform_server.integrations.providers.client import ProviderHttp
from platform_server.integrations.registry import PROVIDER_APIS
from platform_server.integrations.sync.engine import Outcome, Progress, record_failure
from platform_server.integrations.sync.jobs import default_entities
from platform_server.integrations.sync.repository import SyncRepository
from platform_server.integrations.sync.schemas import SyncRequest, SyncType
from platform_server.integrations.sync.service import sync_service
from platform_server.integrations.tokens import TokenManager, open_token
from platform_server.redis_store import connect_redis
from platform_server.security import DecryptionError, Encryptor

SANDBOX_PROBE_TIMEOUT_SECONDS = 3.0


class SetupError(Exception):
    """This shell lacks a setting the server has; the message names it."""


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
    provider_http = ProviderHttp(settings, PROVIDER_APIS)
    encryptor = Encryptor(settings.secret_keys())
    redis = connect_redis(settings)
    try:
        if settings.PLATFORM_SANDBOX:
            await _check_sandbox_server(settings)
        async with sessionmaker() as session:
            found = await session.get(Integration, integration_id) if is_valid_id(integration_id) else None
            if found is None:
                raise NotFound(
                    f"Integration {integration_id} was not found in DATABASE_URL="
                    f"{_display_url(settings.DATABASE_URL)}: check the id, or set DATABASE_URL as the server has it"
                )
            _check_credentials(settings, encryptor, found)
            team_id, provider = found.team_id, found.provider
            source, target = default_entities(provider, sync_type, source_entity, target_entity)
            body = SyncRequest(
                sync_type=sync_type, workspace_id=workspace_id, source_entity=source, target_entity=target
            )
            plan, integration = await sync_service.plan(session, team_id, integration_id, body)
        log = await sync_service.claim(sessionmaker, plan)
        tokens = TokenManager(settings, sessionmaker, encryptor, provider_http, redis)
        try:
            outcome = await sync_service.run(sessionmaker, plan, log, tokens.client_for(integration), progress)
        except BaseException:
            # Interrupted (Ctrl-C): no job will resume this run; end it so the next sync can start at once.
            await record_failure(_interrupted(sessionmaker, log.id))
            raise
        return CommandResult(outcome, provider, source, target)
    finally:
        await provider_http.aclose()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()


async def _interrupted(sessionmaker: async_sessionmaker[AsyncSession], log_id: str) -> None:
    async with sessionmaker() as session, session.begin():
        await SyncRepository(session).fail_running(
            "Interrupted before it finished; the next sync resumes from the last committed page", log_id=log_id
        )


def check_local_settings(settings: Settings) -> None:
    """Before the database is opened: a file-based default that is missing here means another directory."""
    if settings.is_sqlite:
        database = make_url(settings.DATABASE_URL).database
        if database and database != ":memory:" and not Path(database).exists():
            raise SetupError(
                f"No database at {database} (DATABASE_URL={_display_url(settings.DATABASE_URL)}): run this where "
                "the server runs, or set DATABASE_URL as the server has it"
            )
    no_key = settings.SECRET_KEY is None or not settings.SECRET_KEY.get_secret_value().strip()
    if no_key and not settings.SECRET_KEY_FILE.exists():
        raise SetupError(
            f"SECRET_KEY is not set and {settings.SECRET_KEY_FILE} (SECRET_KEY_FILE) is not here: run this where "
            "the server runs, or set SECRET_KEY as the server has it"
        )


async def _check_sandbox_server(settings: Settings) -> None:
    url = f"{settings.PUBLIC_BASE_URL}/sandbox/_control"
    try:
        async with httpx.AsyncClient(timeout=SANDBOX_PROBE_TIMEOUT_SECONDS) as http:
            answered = (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        answered = False
    if not answered:
        raise SetupError(
            f"No sandbox server answers at {settings.PUBLIC_BASE_URL} (PUBLIC_BASE_URL): start "
            "`platform-server serve --sandbox` first, and set PUBLIC_BASE_URL to its address if it is not "
            "http://127.0.0.1:8000 (e.g. http://127.0.0.1:8765 for --port 8765)"
        )


def _check_credentials(settings: Settings, encryptor: Encryptor, integration: Integration) -> None:
    missing = missing_credential_settings(settings, integration.provider)
    if missing:
        raise SetupError(
            f"{' and '.join(missing)} not set: pass --sandbox if the server runs with --sandbox, "
            "or set them as the server has them"
        )
    try:
        open_token(encryptor, integration, "access_token")
    except DecryptionError:
        raise SetupError(
            "The integration's tokens cannot be decrypted with this SECRET_KEY: set SECRET_KEY (or run where "
            "the server's SECRET_KEY_FILE is) as the server has it"
        ) from None


def _display_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
