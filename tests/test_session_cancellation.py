"""A request cancelled while its session commits: the commit still runs to its end, and leaves nothing open.

The request's commit is made to wait (another transaction holds the lock its first insert needs: SQLite's
writer, PostgreSQL's key lock on the workspace row), then the request is cancelled while it waits, by
`task.cancel()` (a server's shutdown, a timeout) or by an AnyIO cancel scope (a task group's), and the other
transaction ends. The request's two rows must both be committed and its connection back in the pool, whether
the route is FastAPI's or a `PreSolvedRoute` (which enters the session as a plain context manager).
"""

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from anyio import CancelScope
from fastapi import APIRouter, Query, Response
from fastapi.routing import APIRoute
from sqlalchemy import event, func, select, update

from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.features.models import Feature
from platform_server.routing import PreSolvedRoute
from platform_server.work_items.models import WorkItem
from platform_server.workspaces.models import Workspace
from tests.conftest import Member

TITLE = "written by a cancelled request"


def _writing_router(route_class: type[APIRoute]) -> APIRouter:
    router = APIRouter(route_class=route_class)

    @router.get("/test/two-writes")
    async def two_writes(principal: CurrentPrincipal, session: SessionDep, workspace_id: str = Query()) -> Response:
        # Not flushed here: the inserts are the commit's, so the commit is what waits.
        for model, status in ((Feature, "planned"), (WorkItem, "todo")):
            session.add(model(team_id=principal.team_id, workspace_id=workspace_id, title=TITLE, status=status))
        return Response(status_code=204)

    return router


async def _cancel_by_task(request: Coroutine[Any, Any, Any]) -> tuple[asyncio.Task[Any], Callable[[], None]]:
    task = asyncio.ensure_future(request)
    return task, task.cancel


async def _cancel_by_scope(request: Coroutine[Any, Any, Any]) -> tuple[asyncio.Task[Any], Callable[[], None]]:
    scope = CancelScope()

    async def run() -> None:
        with scope:
            await request

    return asyncio.ensure_future(run()), scope.cancel


@pytest.mark.parametrize("route_class", [PreSolvedRoute, APIRoute], ids=["presolved", "fastapi"])
@pytest.mark.parametrize("cancel", [_cancel_by_task, _cancel_by_scope], ids=["task", "scope"])
async def test_a_commit_cancelled_halfway_still_ends(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    route_class: type[APIRoute],
    cancel: Callable[[Coroutine[Any, Any, Any]], Coroutine[Any, Any, tuple[asyncio.Task[Any], Callable[[], None]]]],
) -> None:
    app.include_router(_writing_router(route_class))
    # The key's first use writes its last-used time: done here, so that the cancelled request writes nothing
    # before its commit.
    listed = await client.get("/api/features", headers=owner.headers)
    assert listed.status_code == 200

    engine = app.state.engine
    inserting = asyncio.Event()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserting.set()

    async with app.state.sessionmaker() as blocker:
        # SQLite: the writer's lock; PostgreSQL: the workspace row's, which the features insert's key check needs.
        await blocker.execute(update(Workspace).where(Workspace.id == owner.workspace_id).values(name="held"))
        await blocker.execute(select(Workspace.id).where(Workspace.id == owner.workspace_id).with_for_update())
        event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
        try:
            request, cancel_it = await cancel(
                client.get("/test/two-writes", params={"workspace_id": owner.workspace_id}, headers=owner.headers)
            )
            await asyncio.wait_for(inserting.wait(), 30)
            cancel_it()
            # The cancellation reaches the request (one turn of the loop) while its commit still waits.
            await asyncio.sleep(0)
            assert not request.done()
        finally:
            await blocker.rollback()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(request, 30)
    event.remove(engine.sync_engine, "before_cursor_execute", on_execute)

    assert await _written(app) == (1, 1)
    assert engine.pool.checkedout() == 0
    # Nothing holds a lock: another writer goes through.
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(update(Workspace).where(Workspace.id == owner.workspace_id).values(name="free"))


async def _written(app: Any) -> tuple[int, int]:
    async with app.state.sessionmaker() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(model).where(model.title == TITLE))
            for model in (Feature, WorkItem)
        ]
    return counts[0] or 0, counts[1] or 0
