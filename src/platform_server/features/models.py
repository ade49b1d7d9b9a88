from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from platform_server.db import Base
from platform_server.work_items.models import SourcedItemMixin


class FeatureStatus(StrEnum):
    backlog = "backlog"
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    canceled = "canceled"


class Feature(SourcedItemMixin, Base):
    __tablename__ = "features"

    status: Mapped[str] = mapped_column(String(20), default=FeatureStatus.backlog)
