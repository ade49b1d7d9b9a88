from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdColumn, IdMixin, TimestampMixin, utcnow


class AiMessageRole(StrEnum):
    user = "user"
    assistant = "assistant"


class AiConversation(IdMixin, TimestampMixin, Base):
    """One user's conversation with the assistant of one workspace; private to that user."""

    __tablename__ = "ai_conversations"
    __table_args__ = (Index("ix_ai_conversations_ws_user_updated", "workspace_id", "user_id", "updated_at"),)

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    workspace_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))


class AiMessage(IdMixin, Base):
    """A stored turn half: the user's message, or the assistant's reply with the tools it called.

    Only completed turns are stored (both halves in the same transaction), so a failed turn leaves nothing.
    """

    __tablename__ = "ai_messages"
    __table_args__ = (Index("ix_ai_messages_conversation_id_id", "conversation_id", "id"),)

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("ai_conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    # The assistant's tool calls of this turn: name, arguments, outcome, duration, error code, audit id.
    tool_calls: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
