"""The role matrix of every write route (README "Roles"): each refused cell answers 403 in the error format and
changes nothing; each allowed cell works."""

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from platform_server.db import Base
from platform_server.jobs.models import Job
from platform_server.teams.models import Role
from tests.conftest import Member
from tests.helpers import assert_error, create
from tests.integrations.helpers import connect, start

ALL = frozenset(Role)
MANAGERS = frozenset({Role.owner, Role.admin})
OWNERS = frozenset({Role.owner})


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"PLATFORM_SANDBOX": True}


class World:
    """One team with a caller of each role and the resources the routes act on, created by the owner on demand."""

    def __init__(self, client: httpx.AsyncClient, owner: Member, add_member: Any) -> None:
        self.client = client
        self.owner = owner
        self.add_member = add_member
        self.callers: dict[Role, Member] = {Role.owner: owner}
        self._made: dict[str, str] = {}
        self._round = 0
        self._github: str | None = None

    async def setup(self) -> None:
        self.callers[Role.admin] = await self.add_member(self.owner, Role.admin)
        self.callers[Role.member] = await self.add_member(self.owner, Role.member)

    def forget(self) -> None:
        self._made.clear()
        self._round += 1

    async def value(self, name: str, caller: Member) -> str:
        if name == "own_key":
            # A spare key of the caller's own, so revoking it leaves the caller (and the team's owners) a key.
            return str((await create(self.client, caller, "/api/api-keys", {"name": "spare"}))["apiKey"]["id"])
        if name not in self._made:
            self._made[name] = await self._make(name)
        return self._made[name]

    async def _make(self, name: str) -> str:
        owner, client = self.owner, self.client
        if name == "unique":
            return str(self._round)
        if name == "workspace":
            return str((await create(client, owner, "/api/workspaces", {"name": f"Main {self._round}"}))["id"])
        if name == "feature":
            body = {"workspaceId": owner.workspace_id, "title": "Single sign-on"}
            return str((await create(client, owner, "/api/features", body))["id"])
        if name == "work_item":
            body = {"workspaceId": owner.workspace_id, "title": "Checkout fails"}
            return str((await create(client, owner, "/api/work-items", body))["id"])
        if name in {"member_key", "admin_key", "owner_key"}:
            # Another user of that role, so the caller's own key is never the target.
            holder = await self.add_member(owner, Role(name.removesuffix("_key")))
            keys = (await client.get("/api/api-keys", headers=owner.headers)).json()["data"]
            return str(next(key["id"] for key in keys if key["userId"] == holder.user_id))
        if name == "pending_integration":
            return (await start(client, owner, "slack", name=f"Slack {self._round}")).id
        if name == "enabled_integration":
            # Connected once: connecting the same account again folds into the same integration.
            if self._github is None:
                self._github = (await connect(client, owner, "github")).id
            workspace_id = await self.value("workspace", owner)
            body = {"integrationId": self._github, "defaultProject": "acme/product"}
            response = await client.post(
                f"/api/workspaces/{workspace_id}/integrations", json=body, headers=owner.headers
            )
            assert response.status_code == 201, response.text
            return self._github
        if name == "second_workspace":
            return str((await create(client, owner, "/api/workspaces", {"name": "Second"}))["id"])
        raise AssertionError(name)


@dataclass(frozen=True)
class Write:
    """One write route: its path and body may name World resources in braces."""

    method: str
    path: str
    allowed: frozenset[Role]
    body: dict[str, Any] | None = None
    # Resources that must exist although neither path nor body names them.
    needs: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


WRITES = [
    Write("POST", "/api/workspaces", MANAGERS, {"name": "New"}),
    Write("PATCH", "/api/workspaces/{workspace}", MANAGERS, {"name": "Renamed"}),
    Write("DELETE", "/api/workspaces/{workspace}", MANAGERS),
    Write("POST", "/api/features", ALL, {"workspaceId": "{workspace}", "title": "New"}),
    Write("PATCH", "/api/features/{feature}", ALL, {"status": "done"}),
    Write("DELETE", "/api/features/{feature}", ALL),
    Write("POST", "/api/work-items", ALL, {"workspaceId": "{workspace}", "title": "New"}),
    Write("PATCH", "/api/work-items/{work_item}", ALL, {"status": "done"}),
    Write("DELETE", "/api/work-items/{work_item}", ALL),
    Write("POST", "/api/users", MANAGERS, {"email": "m{unique}@example.com", "name": "M", "role": "member"}),
    Write("POST", "/api/users", MANAGERS, {"email": "a{unique}@example.com", "name": "A", "role": "admin"}),
    Write("POST", "/api/users", OWNERS, {"email": "o{unique}@example.com", "name": "O", "role": "owner"}),
    Write("POST", "/api/api-keys", ALL, {"name": "CI"}),
    Write("DELETE", "/api/api-keys/{own_key}", ALL),
    Write("DELETE", "/api/api-keys/{member_key}", MANAGERS),
    Write("DELETE", "/api/api-keys/{admin_key}", MANAGERS),
    Write("DELETE", "/api/api-keys/{owner_key}", OWNERS),
    Write("POST", "/api/integrations", MANAGERS, {"provider": "github", "name": "GitHub {unique}"}),
    Write("DELETE", "/api/integrations/{pending_integration}", MANAGERS),
    Write(
        "POST",
        "/api/workspaces/{second_workspace}/integrations",
        MANAGERS,
        {"integrationId": "{enabled_integration}", "defaultProject": "acme/product"},
    ),
    Write("PATCH", "/api/workspaces/{workspace}/integrations/{enabled_integration}", MANAGERS, {"enabled": False}),
    Write("DELETE", "/api/workspaces/{workspace}/integrations/{enabled_integration}", MANAGERS),
    Write(
        "POST",
        "/api/integrations/{enabled_integration}/sync",
        ALL,
        {"syncType": "import", "workspaceId": "{workspace}", "sourceEntity": "issues", "targetEntity": "work_items"},
    ),
    Write("POST", "/api/workspaces/{workspace}/tools/github_list_repos", ALL, {}, needs=("enabled_integration",)),
    Write("POST", "/api/workspaces/{workspace}/ai/messages", ALL, {"message": "Hello"}),
]

REFUSED = [
    pytest.param(write, role, id=f"{role}: {write.id} {write.body or ''}")
    for write in WRITES
    for role in Role
    if role not in write.allowed
]


def _names(text: str) -> list[str]:
    return [part.split("}", 1)[0] for part in text.split("{")[1:]]


async def _fill(world: World, write: Write, caller: Member) -> tuple[str, dict[str, Any] | None]:
    """The route's path and body with every named resource made and put in."""
    values: dict[str, str] = {}
    names = [*write.needs, *_names(write.path), *(name for v in (write.body or {}).values() for name in _names(str(v)))]
    for name in names:
        if name not in values:
            values[name] = await world.value(name, caller)
    path = write.path.format(**values)
    if write.body is None:
        return path, None
    return path, {key: value.format(**values) if isinstance(value, str) else value for key, value in write.body.items()}


async def _snapshot(app: Any) -> dict[str, list[str]]:
    """Every row of every table, as text: a refused request must leave all of it as it was. Periodic jobs are
    the clock's, not the request's: one may fall due between the two snapshots."""
    async with app.state.sessionmaker() as session:
        return {
            table.name: sorted(
                repr(tuple(row))
                for row in (await session.execute(select(table))).all()
                if table.name != Job.__tablename__ or row.periodic_key is None
            )
            for table in Base.metadata.sorted_tables
        }


@pytest.fixture
async def world(client: httpx.AsyncClient, owner: Member, add_member: Any) -> World:
    made = World(client, owner, add_member)
    await made.setup()
    return made


async def _settled(app: Any) -> None:
    # Tool calls are audited off the request's path: wait for the rows already queued. Enabling an integration
    # registers its provider webhook, whose deliveries queue syncs: let those land before comparing.
    await app.state.audit_writer.flush()
    sandbox = getattr(app.state, "sandbox", None)
    if sandbox is not None:
        await sandbox.webhooks.drain()
    if app.state.job_runner is not None:
        await app.state.job_runner.drain()


@pytest.mark.parametrize(("write", "role"), REFUSED)
async def test_refused_cells_answer_403_and_change_nothing(
    app: Any, client: httpx.AsyncClient, world: World, write: Write, role: Role
) -> None:
    caller = world.callers[role]
    path, body = await _fill(world, write, caller)
    # Writes the caller's last-used time now, so the snapshot compares only what the refused request did.
    assert (await client.get("/api/me", headers=caller.headers)).status_code == 200
    await _settled(app)
    before = await _snapshot(app)
    response = await client.request(write.method, path, json=body, headers=caller.headers)
    error = assert_error(response, 403, "FORBIDDEN")
    assert error["details"]["role"] == role.value
    await _settled(app)
    assert await _snapshot(app) == before


@pytest.mark.parametrize("write", [pytest.param(write, id=f"{write.id} {write.body or ''}") for write in WRITES])
async def test_allowed_cells_work(client: httpx.AsyncClient, world: World, write: Write) -> None:
    for role in sorted(write.allowed):
        caller = world.callers[role]
        path, body = await _fill(world, write, caller)
        response = await client.request(write.method, path, json=body, headers=caller.headers)
        assert 200 <= response.status_code < 300, (role, response.text)
        # The next role acts on resources of its own (this one may have deleted them, or taken an email).
        world.forget()
