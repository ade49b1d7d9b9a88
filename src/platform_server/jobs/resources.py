"""The objects a process builds once and shares between requests and jobs: the web app's lifespan and the
`worker` command both open them here, so a task sees exactly what a route sees."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from platform_server.config import Settings
from platform_server.db import create_engine, create_sessionmaker
from platform_server.email.sender import EmailSender, build_email_sender
from platform_server.integrations.providers.client import ProviderHttp
from platform_server.integrations.registry import PROVIDER_APIS
from platform_server.integrations.tokens import TokenManager
from platform_server.redis_store import connect_redis
from platform_server.security import Encryptor


@dataclass(slots=True)
class Resources:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    encryptor: Encryptor
    provider_http: ProviderHttp
    token_manager: TokenManager
    email_sender: EmailSender
    redis: Redis | None


@asynccontextmanager
async def open_resources(
    settings: Settings, encryptor: Encryptor | None = None, *, sandbox_app: ASGIApp | None = None
) -> AsyncIterator[Resources]:
    """`sandbox_app`: the web app itself, which answers provider calls to PUBLIC_BASE_URL in-process in sandbox
    mode; a worker has none and reaches the sandbox of the `serve` at PUBLIC_BASE_URL over HTTP."""
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    encryptor = encryptor or Encryptor(settings.secret_keys())
    provider_http = ProviderHttp(settings, PROVIDER_APIS, app=sandbox_app)
    redis = connect_redis(settings)
    email_sender = build_email_sender(settings)
    try:
        yield Resources(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            encryptor=encryptor,
            provider_http=provider_http,
            token_manager=TokenManager(settings, sessionmaker, encryptor, provider_http, redis),
            email_sender=email_sender,
            redis=redis,
        )
    finally:
        await provider_http.aclose()
        await email_sender.aclose()
        if redis is not None:
            await redis.aclose()
        await engine.dispose()
