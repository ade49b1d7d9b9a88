"""Settings, read from the environment (ARCHITECTURE §3)."""

import secrets
import ssl
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class MissingSecretKey(RuntimeError):
    pass


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CommaSeparated = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    PLATFORM_ENV: Environment = Environment.development
    DATABASE_URL: str = "sqlite+aiosqlite:///./platform.db"
    # Pool sizing matters on 2 cores: more connections than cores only adds contention.
    DATABASE_POOL_SIZE: int = 10
    REDIS_URL: str | None = None
    # Namespaces every key we write, so several deployments (or parallel test runs) can share one Redis.
    REDIS_KEY_PREFIX: str = "platform"
    # Comma-separated; the first key encrypts, every key decrypts, so keys can be rotated.
    SECRET_KEY: SecretStr | None = None
    SECRET_KEY_FILE: Path = Path(".platform-secret")
    PUBLIC_BASE_URL: str = "http://127.0.0.1:8000"
    # Host header values the MCP endpoint accepts besides PUBLIC_BASE_URL's (e.g. `localhost:8000` beside
    # `127.0.0.1:8000`): its DNS-rebinding protection refuses every other Host.
    MCP_ALLOWED_HOSTS: CommaSeparated = Field(default_factory=list)
    PLATFORM_SANDBOX: bool = False
    LOG_LEVEL: str = "INFO"
    LOG_JSON: bool | None = None

    MAX_BODY_BYTES: int = 1_048_576
    # Long enough to absorb bursts, short enough that a revoke on another process lands quickly.
    API_KEY_CACHE_TTL_SECONDS: float = 30.0
    API_KEY_LAST_USED_INTERVAL_SECONDS: float = 60.0
    # Settings-page sign-in: an absolute lifetime, so a forgotten browser does not stay signed in for long.
    WEB_SESSION_TTL_SECONDS: int = 8 * 3600

    # The MCP gateway's OAuth authorization server: access tokens are short-lived, refresh tokens rotate.
    OAUTH_ACCESS_TOKEN_TTL_SECONDS: int = 900
    OAUTH_REFRESH_TOKEN_TTL_SECONDS: int = 30 * 86400
    # Dynamically registered clients nobody authorized for this long are deleted.
    OAUTH_UNUSED_CLIENT_TTL_SECONDS: int = 30 * 86400
    OAUTH_REGISTRATIONS_PER_HOUR: int = 20
    # Client ID Metadata Documents are fetched from public https addresses only; tests and the sandbox may
    # allow http and private addresses (never in production).
    OAUTH_CLIENT_METADATA_ALLOW_PRIVATE: bool = False
    # PEM certificates trusted beside the public CAs when fetching those documents (clients whose hosts carry a
    # private CA's certificates). Allowed in production: it adds trust anchors and lifts no address rule.
    OAUTH_CLIENT_METADATA_CA_FILE: Path | None = None

    # Remote MCP servers (and their authorization servers) are reached on public addresses only; an operator
    # whose MCP servers live on an internal network, and tests, may allow private and loopback addresses.
    REMOTE_MCP_ALLOW_PRIVATE: bool = False

    GITHUB_CLIENT_ID: str | None = None
    GITHUB_CLIENT_SECRET: SecretStr | None = None
    JIRA_CLIENT_ID: str | None = None
    JIRA_CLIENT_SECRET: SecretStr | None = None
    LINEAR_CLIENT_ID: str | None = None
    LINEAR_CLIENT_SECRET: SecretStr | None = None
    NOTION_CLIENT_ID: str | None = None
    NOTION_CLIENT_SECRET: SecretStr | None = None
    SLACK_CLIENT_ID: str | None = None
    SLACK_CLIENT_SECRET: SecretStr | None = None
    FIGMA_CLIENT_ID: str | None = None
    FIGMA_CLIENT_SECRET: SecretStr | None = None

    STRIPE_WEBHOOK_SECRET: CommaSeparated = Field(default_factory=list)
    STRIPE_API_KEY: SecretStr | None = None
    STRIPE_PRO_PRICE_IDS: CommaSeparated = Field(default_factory=list)
    RESEND_WEBHOOK_SECRET: SecretStr | None = None
    RESEND_API_KEY: SecretStr | None = None
    RESEND_API_BASE_URL: str = "https://api.resend.com"
    EMAIL_FROM: str = "Platform <noreply@platform.local>"
    # Where the subscription check reads Stripe's API (tests point it at a local server).
    STRIPE_API_BASE_URL: str = "https://api.stripe.com"
    # A Stripe event waiting this long for its customer to be bound to a team is dropped (logged).
    STRIPE_PENDING_EVENT_RETENTION_DAYS: int = Field(default=30, ge=1)

    # Background maintenance: expired rows are deleted in batches, a bounded number per run.
    CLEANUP_BATCH_SIZE: int = Field(default=1000, ge=1)
    CLEANUP_MAX_BATCHES_PER_RUN: int = Field(default=10, ge=1)
    # OAuth server codes and tokens are kept this long past their expiry: a replay inside it is still
    # recognized as one (and revokes the family) instead of looking like an unknown token.
    OAUTH_EXPIRED_GRANT_GRACE_SECONDS: int = Field(default=7 * 86400, ge=0)
    WEBHOOK_EVENT_RETENTION_DAYS: int = Field(default=90, ge=1)
    # Unset keeps the tool-call audit forever.
    TOOL_CALL_RETENTION_DAYS: int | None = Field(default=None, ge=1)
    # Integrations whose access token expires within this window are refreshed ahead of use.
    TOKEN_REFRESH_AHEAD_SECONDS: int = Field(default=600, ge=60)

    RATE_LIMIT_ENABLED: bool = True
    RATE_LIMIT_FREE_PER_MINUTE: int = 100
    RATE_LIMIT_PRO_PER_MINUTE: int = 500
    RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: int = 20
    RATE_LIMIT_PUBLIC_PER_MINUTE: int = 600
    AI_MESSAGES_FREE_PER_TEAM: int = 50
    AI_MESSAGES_PRO_PER_USER: int = 1000

    AI_BASE_URL: str | None = None
    AI_API_KEY: SecretStr | None = None
    AI_MODEL: str | None = None
    AI_MAX_STEPS: int = 5
    AI_TIMEOUT_SECONDS: float = 60.0

    PROVIDER_TIMEOUT_SECONDS: float = 20.0
    # Largest answer taken from a provider, as sent and once decoded (gzip, deflate): a bigger one is refused
    # before it is all in memory. Pages of a provider's largest documents stay well below it.
    PROVIDER_MAX_RESPONSE_BYTES: int = Field(default=32 * 1024 * 1024, gt=0)
    # The MCP Registry that `GET /api/integrations/mcp/registry` browses: the official one, a mirror or a
    # subregistry speaking the same API.
    MCP_REGISTRY_URL: str = "https://registry.modelcontextprotocol.io"

    # Jobs one process runs at a time (a `worker`, or `serve`'s in-process runner).
    JOBS_CONCURRENCY: int = Field(default=10, ge=1, le=1000)
    # PostgreSQL: `serve` also runs a procrastinate worker (what `serve --with-worker` sets); SQLite always does.
    JOBS_WORKER_IN_SERVE: bool = False
    # The first retry of a failed job waits this long, each next one twice as long (at most 5 minutes).
    JOBS_RETRY_BACKOFF_SECONDS: float = Field(default=2.0, ge=0)
    # A worker (or runner) silent for this long is presumed dead: its running jobs are retried elsewhere.
    JOBS_STALLED_SECONDS: float = Field(default=30.0, ge=1)
    # At shutdown (SIGTERM) running jobs get this long to finish before they are interrupted and released.
    JOBS_SHUTDOWN_GRACE_SECONDS: float = Field(default=30.0, ge=0)
    # Finished jobs (succeeded, failed, cancelled) are deleted this long after they ended.
    JOBS_RETENTION_HOURS: int = Field(default=168, ge=1)
    # In sandbox mode, serve provider calls to PUBLIC_BASE_URL/sandbox in-process (ASGI) instead of over the
    # network; turn off to measure the loopback path (benchmarks) or when PUBLIC_BASE_URL is another server.
    SANDBOX_IN_PROCESS: bool = True

    # GET /metrics (Prometheus text format); with a token, scrapes must send `Authorization: Bearer <token>`.
    METRICS_ENABLED: bool = False
    METRICS_TOKEN: SecretStr | None = None
    # The standard OpenTelemetry variables: traces are exported (OTLP over HTTP) only when an endpoint is set.
    OTEL_EXPORTER_OTLP_ENDPOINT: str | None = None
    OTEL_SERVICE_NAME: str = "platform-server"

    # Remote MCP servers a team connects: limits of one upstream call.
    REMOTE_MCP_TIMEOUT_SECONDS: float = 30.0
    REMOTE_MCP_MAX_RESPONSE_BYTES: int = 4 * 1024 * 1024
    # How long a server's discovered tools are trusted before the tools listing asks the server again.
    REMOTE_MCP_TOOLS_TTL_SECONDS: int = 300

    @field_validator("STRIPE_WEBHOOK_SECRET", "STRIPE_PRO_PRICE_IDS", "MCP_ALLOWED_HOSTS", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("PUBLIC_BASE_URL")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("MCP_REGISTRY_URL")
    @classmethod
    def _registry_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                f"MCP_REGISTRY_URL must be an http(s) base URL such as https://registry.example.com: {value!r}"
            )
        return value.rstrip("/")

    @field_validator("OAUTH_CLIENT_METADATA_CA_FILE")
    @classmethod
    def _readable_certificates(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                ssl.create_default_context(cafile=value)
            except OSError as exc:  # a missing file, or ssl.SSLError naming what OpenSSL could not read
                raise ValueError(
                    f"OAUTH_CLIENT_METADATA_CA_FILE {value}: no PEM certificate could be read ({exc})"
                ) from None
        return value

    @model_validator(mode="after")
    def _require_secret_in_production(self) -> "Settings":
        if self.PLATFORM_ENV is Environment.production:
            if self.SECRET_KEY is None or not self.SECRET_KEY.get_secret_value().strip():
                raise MissingSecretKey(
                    "SECRET_KEY must be set when PLATFORM_ENV=production "
                    "(generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            if self.PLATFORM_SANDBOX:
                raise ValueError("PLATFORM_SANDBOX cannot be enabled when PLATFORM_ENV=production")
            if self.OAUTH_CLIENT_METADATA_ALLOW_PRIVATE:
                raise ValueError("OAUTH_CLIENT_METADATA_ALLOW_PRIVATE cannot be enabled when PLATFORM_ENV=production")
            if self.REMOTE_MCP_ALLOW_PRIVATE:
                raise ValueError("REMOTE_MCP_ALLOW_PRIVATE cannot be enabled when PLATFORM_ENV=production")
        return self

    @property
    def is_production(self) -> bool:
        return self.PLATFORM_ENV is Environment.production

    @property
    def is_sqlite(self) -> bool:
        return self.DATABASE_URL.startswith("sqlite")

    @property
    def log_json(self) -> bool:
        return self.is_production if self.LOG_JSON is None else self.LOG_JSON

    def secret_keys(self) -> list[str]:
        """The configured keys, newest first; in development one is generated once and kept on disk."""
        if self.SECRET_KEY is not None and self.SECRET_KEY.get_secret_value().strip():
            raw = self.SECRET_KEY.get_secret_value()
        else:
            raw = _development_secret(self.SECRET_KEY_FILE)
        return [key.strip() for key in raw.split(",") if key.strip()]

    # A provider without its two fields above reads as not configured (the catalog names what is missing).
    def provider_client_id(self, provider: str) -> str | None:
        value: str | None = getattr(self, f"{provider.upper()}_CLIENT_ID", None)
        return value

    def provider_client_secret(self, provider: str) -> str | None:
        value: SecretStr | None = getattr(self, f"{provider.upper()}_CLIENT_SECRET", None)
        return value.get_secret_value() if value is not None else None


def _development_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
