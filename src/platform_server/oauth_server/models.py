"""The MCP gateway's own OAuth authorization server: clients, consents, codes and tokens (only hashes stored)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdColumn, IdMixin, utcnow


class ClientRegistration(StrEnum):
    # RFC 7591: the client posted its metadata to the registration endpoint.
    dynamic = "dynamic"
    # Client ID Metadata Document: the client id is an https URL serving the metadata.
    metadata_document = "metadata_document"


class TokenKind(StrEnum):
    access = "access"
    refresh = "refresh"


class OAuthClient(IdMixin, Base):
    """A public client (PKCE, no secret). Dynamic registrations expire when unused; metadata documents are
    fetched again once `fetched_at` is older than the cache lifetime."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(2000), unique=True)
    registration: Mapped[str] = mapped_column(String(20))
    client_name: Mapped[str] = mapped_column(String(200))
    client_uri: Mapped[str | None] = mapped_column(String(2000))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    # The address a dynamic registration came from, for its rate limit.
    registered_from: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    fetched_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


class OAuthConsent(IdMixin, Base):
    """A person's approval of a client for one workspace: remembered, listed as a connected app, revocable."""

    __tablename__ = "oauth_consents"
    __table_args__ = (UniqueConstraint("client_row_id", "user_id", "workspace_id"),)

    client_row_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("oauth_clients.id", ondelete="CASCADE"))
    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]


class OAuthAuthorizationCode(IdMixin, Base):
    """One-time code; kept after use (`used_at`) so that a replay revokes what it was exchanged for."""

    __tablename__ = "oauth_authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    consent_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("oauth_consents.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    resource: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(200))
    code_challenge: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class OAuthToken(IdMixin, Base):
    """An access or refresh token. `family_id` groups every token descended from one authorization code:
    a refresh token used twice revokes the whole family."""

    __tablename__ = "oauth_tokens"
    __table_args__ = (Index("ix_oauth_tokens_family_id", "family_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    consent_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("oauth_consents.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(IdColumn)
    scope: Mapped[str] = mapped_column(String(200))
    resource: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # A refresh token is used once: it is rotated, and a second use is a replay.
    rotated_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
