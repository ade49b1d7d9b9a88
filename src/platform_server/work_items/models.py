from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from platform_server.db import Base, IdColumn, IdMixin, TimestampMixin


class Priority(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"
    urgent = "urgent"


class WorkItemStatus(StrEnum):
    todo = "todo"
    in_progress = "in_progress"
    in_review = "in_review"
    done = "done"
    canceled = "canceled"


class SourcedItemMixin(IdMixin, TimestampMixin):
    """Columns shared by items that a sync may import: who owns them and where they came from."""

    __tablename__: str

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"))
    workspace_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("workspaces.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(20), default=Priority.none)
    url: Mapped[str | None] = mapped_column(String(2000))
    # No foreign key: imported items outlive the integration they came from.
    integration_id: Mapped[str | None] = mapped_column(IdColumn)
    source_provider: Mapped[str | None] = mapped_column(String(20))
    source_entity: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(255))
    source_created_at: Mapped[datetime | None]
    source_updated_at: Mapped[datetime | None]

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[Any, ...]:
        return (
            UniqueConstraint(
                "workspace_id", "integration_id", "source_entity", "external_id", name=f"uq_{cls.__tablename__}_source"
            ),
            Index(f"ix_{cls.__tablename__}_team_id_workspace_id_id", "team_id", "workspace_id", "id"),
        )


class WorkItem(SourcedItemMixin, Base):
    __tablename__ = "work_items"

    status: Mapped[str] = mapped_column(String(20), default=WorkItemStatus.todo)
    key: Mapped[str | None] = mapped_column(String(255))
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    assignee: Mapped[str | None] = mapped_column(String(255))
