"""The bulk upsert on the source key, on SQLite and PostgreSQL: one statement per page, changed rows counted."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from platform_server.db import utcnow
from platform_server.ids import new_id
from platform_server.integrations.providers.github.importer import GitHubIssues
from platform_server.integrations.sync.repository import SyncRepository
from platform_server.work_items.models import WorkItem
from tests.conftest import Member

COLUMNS = GitHubIssues.columns


def rows(owner: Member, count: int, *, title: str = "Issue", updated_day: int = 1) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "id": new_id(),
            "team_id": owner.team_id,
            "workspace_id": owner.workspace_id,
            "integration_id": "1",
            "source_provider": "github",
            "source_entity": "issues",
            "external_id": str(number),
            "title": f"{title} {number}",
            "description": None,
            "status": "todo",
            "priority": "none",
            "url": None,
            "key": f"acme/product#{number}",
            "labels": ["bug"],
            "assignee": None,
            "source_created_at": datetime(2025, 1, 1, tzinfo=UTC),
            "source_updated_at": datetime(2025, 1, updated_day, tzinfo=UTC),
            "created_at": now,
            "updated_at": now,
        }
        for number in range(1, count + 1)
    ]


async def upsert(app: Any, page: list[dict[str, Any]]) -> int:
    async with app.state.sessionmaker() as session, session.begin():
        return await SyncRepository(session).upsert(WorkItem, COLUMNS, page)


async def test_insert_then_replay_counts_only_changes(app: Any, owner: Member) -> None:
    assert await upsert(app, rows(owner, 150)) == 150
    assert await upsert(app, rows(owner, 150)) == 0

    changed = rows(owner, 150)
    changed[3]["title"] = "Renamed"
    changed[7]["labels"] = ["bug", "p1"]
    changed[9]["status"] = "done"
    assert await upsert(app, changed) == 3

    async with app.state.sessionmaker() as session:
        items = (await session.scalars(select(WorkItem).order_by(WorkItem.key))).all()
    assert len(items) == 150
    by_key = {item.key: item for item in items}
    assert by_key["acme/product#4"].title == "Renamed"
    assert by_key["acme/product#8"].labels == ["bug", "p1"]
    assert by_key["acme/product#10"].status == "done"


async def test_update_keeps_the_row_and_columns_the_importer_does_not_own(app: Any, owner: Member) -> None:
    await upsert(app, rows(owner, 1))
    async with app.state.sessionmaker() as session, session.begin():
        item = (await session.scalars(select(WorkItem))).one()
        original_id = item.id
        item.priority = "high"  # a local edit of a column GitHub does not have

    await upsert(app, rows(owner, 1, title="New title", updated_day=2))
    async with app.state.sessionmaker() as session:
        item = (await session.scalars(select(WorkItem))).one()
    assert (item.id, item.title, item.priority) == (original_id, "New title 1", "high")
    assert item.source_updated_at == datetime(2025, 1, 2, tzinfo=UTC)


async def test_empty_page_writes_nothing(app: Any, owner: Member) -> None:
    assert await upsert(app, []) == 0
