from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdColumn, IdMixin, utcnow


class ToolCallOutcome(StrEnum):
    success = "success"
    # Refused before reaching the provider: unknown or disabled tool, invalid arguments, integration not usable.
    rejected = "rejected"
    # The provider (or our call to it) failed.
    error = "error"


class ToolCallChannel(StrEnum):
    mcp = "mcp"
    rest = "rest"
    assistant = "assistant"


class ToolCall(IdMixin, Base):
    """One audited tool call. Argument names are kept, values never: they may hold customer data."""

    __tablename__ = "tool_calls"
    __table_args__ = (Index("ix_tool_calls_workspace_id_id", "workspace_id", "id"),)

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("workspaces.id", ondelete="CASCADE"))
    # No foreign keys below: the audit outlives deleted integrations, users and keys.
    integration_id: Mapped[str | None] = mapped_column(IdColumn)
    user_id: Mapped[str | None] = mapped_column(IdColumn)
    api_key_id: Mapped[str | None] = mapped_column(IdColumn)
    # The OAuth client (oauth_clients.id) whose token made the call; None for API keys.
    oauth_client_id: Mapped[str | None] = mapped_column(IdColumn)
    tool: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str | None] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(40))
    argument_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
