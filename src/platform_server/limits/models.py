from datetime import date

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdColumn, IdMixin, TimestampMixin


class AiUsage(IdMixin, TimestampMixin, Base):
    """AI messages used by one subject in one calendar month (UTC): the team on Free, each user on Pro."""

    __tablename__ = "ai_usage"
    # The conflict target of the atomic consume; one counter per subject and month.
    __table_args__ = (UniqueConstraint("subject_id", "period_start"),)

    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(IdColumn, ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(10))
    # The team's id for team-scoped allowances, the user's id for user-scoped ones (ids never collide).
    subject_id: Mapped[str] = mapped_column(IdColumn)
    period_start: Mapped[date]
    used: Mapped[int] = mapped_column(default=0)
