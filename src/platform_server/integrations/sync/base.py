"""The importer and exporter interfaces.

An importer turns one provider entity into rows of one of our tables. The engine (engine.py) owns everything
else: cursors, page commits, the bulk upsert, progress, the sync log. Each provider package lists its importers
and exporters on its provider class (`Provider.importers`, `Provider.exporters`), so the provider stays the one
place that says what it can do; registry.py derives the lookups from the provider registry.
"""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

from platform_server.features.models import Feature
from platform_server.integrations.providers.client import ProviderClient
from platform_server.work_items.models import WorkItem

TARGET_MODELS: dict[str, type[WorkItem] | type[Feature]] = {"work_items": WorkItem, "features": Feature}


@dataclass(frozen=True, slots=True)
class Page:
    """One provider page: mapped rows, the newest provider timestamp seen on it, and where the next begins.

    `high` covers every item the provider returned, including ones the importer skipped (GitHub pull
    requests in the issues list), so the watermark moves past them. `next_token` lets a run that is not
    ordered by update time resume mid-pass.
    """

    rows: list[dict[str, Any]]
    high: datetime | None
    next_token: str | None = None
    # Pages still to come after this one, when the provider says (GitHub's `Link: rel="last"`): progress bars.
    remaining: int | None = None


@dataclass(frozen=True, slots=True)
class ImportScope:
    project: str | None
    # Per-integration facts the calls need, e.g. Jira's cloudId and site URL (Integration.account_metadata).
    account: Mapping[str, Any] = field(default_factory=dict)


# What an issue tracker's importer writes onto a work item (GitHub has no priority and leaves it out).
TRACKER_COLUMNS = (
    "title", "description", "status", "priority", "url", "key", "labels", "assignee",
    "source_created_at", "source_updated_at",
)  # fmt: skip


class Importer:
    """One provider entity → rows of one of our tables. Subclasses set the class attributes and `pages`."""

    provider: ClassVar[str]
    # Plain attributes, as the provider interface's Importer protocol declares them.
    source_entity: str
    target_entity: str
    # True when pages come oldest-update first: a resumed run then restarts from the committed watermark
    # instead of a page token (tokens expire; a watermark does not).
    ascending: ClassVar[bool] = True
    # Re-read this much before the cursor: provider clocks and filters are coarse (Jira: minutes).
    overlap: ClassVar[timedelta] = timedelta(minutes=1)
    project_required: ClassVar[bool] = True
    # The form of defaultProject, for error messages, e.g. "owner/repo".
    project_hint: ClassVar[str]
    # Columns the importer owns: written on insert, overwritten on update. Others keep local edits.
    columns: ClassVar[tuple[str, ...]]
    # Whether `complete` has work to do; the engine then calls it for new and changed rows only.
    needs_completion: ClassVar[bool] = False

    @staticmethod
    def parse_project(project: str) -> str:
        """The normalized scope, or InvalidProject with a message naming the expected form: the provider's."""
        raise NotImplementedError

    def pages(
        self, client: ProviderClient, scope: ImportScope, since: datetime | None, resume: str | None
    ) -> AsyncIterator[Page]:
        """Pages of mapped rows updated at or after `since` (all when None), from `resume` when given."""
        raise NotImplementedError

    async def complete(self, client: ProviderClient, scope: ImportScope, rows: list[dict[str, Any]]) -> None:
        """Fetches what the list call lacks (Notion page content) for the rows about to be written."""


class Exporter(Protocol):
    provider: ClassVar[str]
    target_entity: ClassVar[str]

    def parse_project(self, project: str) -> str: ...

    async def create(self, client: ProviderClient, scope: ImportScope, item: WorkItem) -> dict[str, Any]:
        """Creates the provider issue and returns the columns that link the work item to it, and under
        `warning` (when not None) what the provider silently left out of the issue."""
        ...


def parse_time(value: Any) -> datetime | None:
    """Provider timestamps (ISO 8601 with Z, offsets like +0000, or fractions) → aware UTC datetimes."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def newest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate > current else current


def clip(value: Any, length: int) -> str | None:
    """Fits a provider string into a column; providers allow longer values than we store."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= length else text[: length - 1] + "…"
