from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdColumn, IdMixin, TimestampMixin

# The `provider` a remote server's integration row carries; its workspace enablements carry `mcp:<slug>`.
REMOTE_PROVIDER = "mcp"


class AuthType(StrEnum):
    none = "none"
    oauth = "oauth"
    bearer = "bearer"
    header = "header"


class ToolStatus(StrEnum):
    """`approved` tools can be enabled and called; the others are withheld from every workspace."""

    approved = "approved"
    changed = "changed"
    new = "new"
    refused = "refused"


class RemoteMcpServer(TimestampMixin, Base):
    """How to reach the upstream of an integration of kind "mcp"; its secret only ever stored encrypted.

    With OAuth, the tokens live on the integration row like a native provider's; here are what refreshing them
    needs: where the authorization server is (discovery, public) and our client identity there (encrypted, as
    it may hold a client secret)."""

    __tablename__ = "remote_mcp_servers"
    __table_args__ = (UniqueConstraint("team_id", "slug"),)

    integration_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(String(2000))
    transport: Mapped[str] = mapped_column(String(20))
    auth_type: Mapped[str] = mapped_column(String(20))
    header_name: Mapped[str | None] = mapped_column(String(100))
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    oauth_discovery: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    oauth_client_encrypted: Mapped[str | None] = mapped_column(Text)
    server_name: Mapped[str | None] = mapped_column(String(200))
    server_version: Mapped[str | None] = mapped_column(String(100))
    protocol_version: Mapped[str | None] = mapped_column(String(40))
    tools_refreshed_at: Mapped[datetime | None]


class RemoteMcpTool(IdMixin, TimestampMixin, Base):
    """One tool the upstream offers: its current definition and the one an admin approved (by canonical hash).

    A tool is served only while both hashes agree; a definition that changed upstream is withheld until an
    admin approves it again.
    """

    __tablename__ = "remote_mcp_tools"
    __table_args__ = (UniqueConstraint("integration_id", "name"),)

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    integration_id: Mapped[str] = mapped_column(
        IdColumn, ForeignKey("remote_mcp_servers.integration_id", ondelete="CASCADE")
    )
    # As the upstream spells it, checked only after it is stored: a refused name must show in the listing too.
    name: Mapped[str] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    definition_hash: Mapped[str] = mapped_column(String(64))
    approved_definition: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    approved_hash: Mapped[str | None] = mapped_column(String(64))
    # Why the tool can never be served as it is (its name, size or an impersonation); None when it can.
    refusal: Mapped[str | None] = mapped_column(Text)

    @property
    def status(self) -> ToolStatus:
        if self.refusal is not None:
            return ToolStatus.refused
        if self.approved_hash is None:
            return ToolStatus.new
        if self.approved_hash != self.definition_hash:
            return ToolStatus.changed
        return ToolStatus.approved
