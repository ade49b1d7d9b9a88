from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdColumn, IdMixin, TimestampMixin, utcnow


class IntegrationStatus(StrEnum):
    pending = "pending"
    connected = "connected"
    expired = "expired"
    error = "error"


class Integration(IdMixin, TimestampMixin, Base):
    """A team's OAuth connection to one provider account. Tokens are only ever stored encrypted."""

    __tablename__ = "integrations"
    __table_args__ = (
        UniqueConstraint("team_id", "name"),
        # Pending rows have no account id yet; NULLs never collide, so this only binds connected accounts.
        UniqueConstraint("team_id", "provider", "provider_account_id", name="uq_integrations_account"),
    )

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=IntegrationStatus.pending)
    status_reason: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    provider_account_id: Mapped[str | None] = mapped_column(String(255))
    provider_account_name: Mapped[str | None] = mapped_column(String(255))
    # Non-secret facts from the connect step that API calls need, e.g. Jira's cloudId or Slack's team id.
    account_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    access_token_encrypted: Mapped[str | None] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    # Slack's user token (search needs it); other providers have none. With token rotation it expires and
    # refreshes on its own refresh token.
    user_token_encrypted: Mapped[str | None] = mapped_column(Text)
    user_refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    user_token_expires_at: Mapped[datetime | None]
    token_key_id: Mapped[str | None] = mapped_column(String(40))
    token_expires_at: Mapped[datetime | None]
    token_refreshed_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    last_sync_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(IdColumn)


class OAuthState(IdMixin, Base):
    """One pending authorization: the state travels only as a hash, the PKCE verifier only encrypted.

    It belongs to the user who started it: only that user, signed in to the settings page, can finish it.
    """

    __tablename__ = "oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("users.id", ondelete="CASCADE"))
    integration_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("integrations.id", ondelete="CASCADE"), index=True)
    code_verifier_encrypted: Mapped[str | None] = mapped_column(Text)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class SyncLog(IdMixin, Base):
    __tablename__ = "sync_logs"
    __table_args__ = (Index("ix_sync_logs_integration_started", "integration_id", "started_at"),)

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    integration_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("integrations.id", ondelete="CASCADE"))
    workspace_id: Mapped[str | None] = mapped_column(
        IdColumn, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    sync_type: Mapped[str] = mapped_column(String(20))
    source_entity: Mapped[str | None] = mapped_column(String(40))
    target_entity: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    items_synced: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    cursor: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # The job that runs it (procrastinate's bigint id as text on PostgreSQL): a cancel also cancels the job.
    job_id: Mapped[str | None] = mapped_column(String(40))


class WorkspaceIntegration(IdMixin, TimestampMixin, Base):
    """An integration enabled for a workspace; its id is the spec's `accessId`."""

    __tablename__ = "workspace_integrations"
    __table_args__ = (
        UniqueConstraint("workspace_id", "integration_id"),
        # One integration per provider per workspace; the provider is copied here so the database enforces it.
        # A remote MCP server counts as a provider of its own, `mcp:<slug>`, so a workspace can enable several.
        UniqueConstraint("workspace_id", "provider", name="uq_workspace_integrations_provider"),
    )

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("workspaces.id", ondelete="CASCADE"))
    integration_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("integrations.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(50))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled_tools: Mapped[list[str]] = mapped_column(JSON, default=list)
    default_project: Mapped[str | None] = mapped_column(String(500))
    # Scheduled imports: None is off. `next_sync_at` is when the next run is due (indexed: the scheduler asks
    # for every row whose time has come); `schedule_skips` counts runs skipped in a row, for the back-off.
    sync_interval_minutes: Mapped[int | None] = mapped_column(Integer)
    next_sync_at: Mapped[datetime | None] = mapped_column(index=True)
    schedule_skips: Mapped[int] = mapped_column(Integer, default=0)
    schedule_skip_reason: Mapped[str | None] = mapped_column(Text)


class PushWebhookStatus(StrEnum):
    active = "active"
    unavailable = "unavailable"
    # Added at the provider by an admin with the secret we generated (the provider refused our registration).
    manual = "manual"


class PushWebhook(IdMixin, TimestampMixin, Base):
    """A webhook the provider sends us for one integration and one target (a GitHub repository, Linear's
    public teams, a Jira project). Its signing secret is ours, generated at registration and only stored
    encrypted; Jira signs with the OAuth app's client secret instead, so its rows hold none."""

    __tablename__ = "push_webhooks"
    __table_args__ = (
        UniqueConstraint("integration_id", "target"),
        Index("ix_push_webhooks_provider_external", "provider", "external_id"),
    )

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    integration_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("integrations.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    # `owner/repo` (GitHub, lowercased), `all-public-teams` (Linear), a project key (Jira).
    target: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str | None] = mapped_column(Text)
    # The provider's id of the webhook, once it exists upstream.
    external_id: Mapped[str | None] = mapped_column(String(255))
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # Jira's dynamic webhooks lapse after 30 days unless refreshed.
    expires_at: Mapped[datetime | None]
