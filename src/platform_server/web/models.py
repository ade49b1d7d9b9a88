from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base, IdColumn, IdMixin, utcnow


class WebSession(IdMixin, Base):
    """A settings-page sign-in. The cookie carries a random token; only its hash is stored.

    The session stands on the API key that opened it: revoking the key (or deleting the user) ends it.
    """

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    team_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    api_key_id: Mapped[str] = mapped_column(IdColumn, ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
