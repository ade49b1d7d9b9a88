"""Connect a provider through the sandbox's OAuth flow, enable it for a workspace, and run syncs."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from platform_server.integrations.models import SyncLog
from tests.conftest import Member
from tests.integrations.helpers import connect

WAIT_SECONDS = 120.0
PROJECTS = {"github": "acme/product", "jira": "PROJ", "linear": "ENG"}


def notion_database(app: Any) -> str:
    return str(app.state.sandbox.world("notion").database_id)


async def connect_and_enable(
    app: Any, client: httpx.AsyncClient, member: Member, provider: str, project: str | None = None
) -> str:
    authorization = await connect(client, member, provider)
    body: dict[str, Any] = {"integrationId": authorization.id}
    project = project if project is not None else PROJECTS.get(provider) or notion_database(app)
    if project:
        body["defaultProject"] = project
    response = await client.post(
        f"/api/workspaces/{member.workspace_id}/integrations", json=body, headers=member.headers
    )
    assert response.status_code == 201, response.text
    return authorization.id


async def sync(
    client: httpx.AsyncClient,
    member: Member,
    integration_id: str,
    source: str = "issues",
    target: str = "work_items",
    *,
    sync_type: str = "import",
    expect: int = 200,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "syncType": sync_type,
        "workspaceId": member.workspace_id,
        "sourceEntity": source,
        "targetEntity": target,
        **extra,
    }
    response = await client.post(f"/api/integrations/{integration_id}/sync", json=body, headers=member.headers)
    assert response.status_code == expect, response.text
    data: dict[str, Any] = response.json()
    return data


async def items(client: httpx.AsyncClient, member: Member, path: str = "/api/work-items") -> list[dict[str, Any]]:
    """Every item of the member's workspace, through the API."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await client.get(
            path, params={"workspace_id": member.workspace_id, "page": page, "limit": 100}, headers=member.headers
        )
        assert response.status_code == 200, response.text
        data = response.json()
        found += data["data"]
        if page >= data["pagination"]["total_pages"]:
            return found
        page += 1


async def wait_for_sync(app: Any, sync_log_id: str) -> SyncLog:
    """Until the run's job has ended it (any status but `running`); the job runs on the app's runner or worker."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            async with app.state.sessionmaker() as session:
                log = await session.get(SyncLog, sync_log_id)
            assert log is not None
            if log.status != "running":
                return log
            await asyncio.sleep(0.05)


async def pushed_syncs_settled(app: Any) -> None:
    """Issues the sandbox creates or changes come back as its webhooks and queue pushed imports: waits until
    every delivery is answered and no sync of any workspace is running."""
    await app.state.sandbox.webhooks.drain()
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            async with app.state.sessionmaker() as session:
                running = await session.scalar(
                    select(func.count()).select_from(SyncLog).where(SyncLog.status == "running")
                )
            if not running:
                return
            await asyncio.sleep(0.05)
