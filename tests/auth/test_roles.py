"""The role matrix of every write route (README "Roles"): each refused cell answers 403 in the error format and
changes nothing; each allowed cell works; and every write route of the app is in the matrix or excused."""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select
from starlette.routing import Mount

from platform_server.db import Base
from platform_server.integrations.models import SyncLog
from platform_server.jobs.models import Job
from platform_server.teams.models import Role
from tests.conftest import Member
from tests.helpers import assert_error, create
from tests.integrations.helpers import browser_of, connect, start
from tests.remote_mcp.federation_helpers import REMOTE_SETTINGS, connect_remote, refresh
from tests.remote_mcp.upstreams import (  # noqa: F401 (fixtures)
    MutableUpstream,
    ProtectedServer,
    _mutable_server,
    mutable,
    oauth_protected_server,
    plain_tool,
)
from tests.web.helpers import csrf_token

ALL = frozenset(Role)
MANAGERS = frozenset({Role.owner, Role.admin})
OWNERS = frozenset({Role.owner})


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Sandbox providers, and remote MCP servers on loopback.
    return dict(REMOTE_SETTINGS)


@pytest.fixture(scope="module")
def protected() -> Iterator[ProtectedServer]:
    # The app is served in-process, so the authorization server cannot fetch our client metadata document.
    with oauth_protected_server(metadata_documents=False) as server:
        yield server


class World:
    """One team with a caller of each role and the resources the routes act on, created by the owner on demand."""

    def __init__(
        self,
        app: Any,
        client: httpx.AsyncClient,
        owner: Member,
        add_member: Any,
        upstream: MutableUpstream,
        protected: ProtectedServer,
    ) -> None:
        self.app = app
        self.client = client
        self.owner = owner
        self.add_member = add_member
        self.mutable = upstream
        self.protected = protected
        self.callers: dict[Role, Member] = {Role.owner: owner}
        self._made: dict[str, str] = {}
        self._round = 0
        # Connected once per account: connecting the same account again folds into the same integration.
        self._github: dict[str | None, str] = {}

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
            return await self._enabled_github(None, await self.value("workspace", owner))
        if name == "second_workspace":
            return str((await create(client, owner, "/api/workspaces", {"name": f"Second {self._round}"}))["id"])
        if name == "running_sync":
            # A run in flight (as a synchronous sync holds it), so a cancel has something to cancel.
            integration_id = await self.value("enabled_integration", owner)
            log = SyncLog(
                team_id=owner.team_id,
                integration_id=integration_id,
                workspace_id=await self.value("workspace", owner),
                sync_type="import",
                source_entity="issues",
                target_entity="work_items",
                status="running",
            )
            async with self.app.state.sessionmaker() as session, session.begin():
                session.add(log)
            return log.id
        if name == "reader_integration":
            # GitHub with a login that may not register webhooks: its push webhook waits for a manual setup.
            return await self._enabled_github("acme-reader", await self.value("second_workspace", owner))
        if name == "manual_push_webhook":
            integration_id = await self.value("reader_integration", owner)
            response = await client.get(f"/api/integrations/{integration_id}/push-webhooks", headers=owner.headers)
            (webhook,) = response.json()["pushWebhooks"]
            assert webhook["manualSetup"] is True, webhook
            return str(webhook["id"])
        if name == "mutable_url":
            return self.mutable.url
        if name == "remote_integration":
            return str((await connect_remote(client, owner, self.mutable.url, name=f"Mutable {self._round}"))["id"])
        if name == "new_tool":
            # A tool that appeared upstream after the server was connected: it waits for an admin's approval.
            integration_id = await self.value("remote_integration", owner)
            tool = f"fresh_{self._round}"
            self.mutable.tools = [*self.mutable.tools, plain_tool(tool, "Appeared later")]
            assert (await refresh(client, owner, integration_id))[tool]["status"] == "new"
            return tool
        if name == "oauth_integration":
            body = {
                "kind": "mcp",
                "name": f"Protected {self._round}",
                "url": self.protected.url,
                "auth": {"type": "oauth"},
            }
            return str((await create(client, owner, "/api/integrations", body))["integration"]["id"])
        raise AssertionError(name)

    async def _enabled_github(self, login: str | None, workspace_id: str) -> str:
        """GitHub connected as `login` (the sandbox's default account for None), enabled for the workspace."""
        if login not in self._github:
            self._github[login] = (await connect(self.client, self.owner, "github", login=login)).id
        body = {"integrationId": self._github[login], "defaultProject": "acme/product"}
        response = await self.client.post(
            f"/api/workspaces/{workspace_id}/integrations", json=body, headers=self.owner.headers
        )
        assert response.status_code == 201, response.text
        return self._github[login]


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
    def form(self) -> bool:
        """A form of the settings page: posted by a signed-in browser with its CSRF token."""
        return self.path.startswith("/settings/")

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
    Write(
        "PATCH",
        "/api/workspaces/{workspace}/integrations/{enabled_integration}",
        MANAGERS,
        {"syncIntervalMinutes": 60},
    ),
    Write("DELETE", "/api/workspaces/{workspace}/integrations/{enabled_integration}", MANAGERS),
    Write(
        "POST",
        "/api/integrations/{enabled_integration}/sync",
        ALL,
        {"syncType": "import", "workspaceId": "{workspace}", "sourceEntity": "issues", "targetEntity": "work_items"},
    ),
    Write("POST", "/api/integrations/{enabled_integration}/sync/{running_sync}/cancel", MANAGERS),
    Write("POST", "/api/integrations/{reader_integration}/push-webhooks/{manual_push_webhook}/manual-setup", MANAGERS),
    Write("POST", "/api/integrations", MANAGERS, {"kind": "mcp", "name": "Remote {unique}", "url": "{mutable_url}"}),
    Write("POST", "/api/integrations/{remote_integration}/tools/refresh", MANAGERS),
    Write("POST", "/api/integrations/{remote_integration}/tools/{new_tool}/approve", MANAGERS),
    Write("POST", "/api/integrations/{oauth_integration}/reconnect", MANAGERS),
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
async def world(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    add_member: Any,
    mutable: MutableUpstream,  # noqa: F811
    protected: ProtectedServer,
) -> World:
    made = World(app, client, owner, add_member, mutable, protected)
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


# The settings page's forms: each runs an API route's service behind the same role check (web/router.py `_act`),
# posts form fields with the session's CSRF token and answers a page or a redirect, not the error format.
FORMS = [
    Write("POST", "/settings/integrations/connect", MANAGERS, {"provider": "github"}),
    Write("POST", "/settings/integrations/mcp/connect", MANAGERS, {"name": "Form {unique}", "url": "{mutable_url}"}),
    Write("POST", "/settings/integrations/{remote_integration}/tools/refresh", MANAGERS),
    Write("POST", "/settings/integrations/{remote_integration}/tools/approve", MANAGERS, {"tool": "{new_tool}"}),
    Write("POST", "/settings/integrations/{oauth_integration}/reconnect", MANAGERS),
    Write("POST", "/settings/integrations/{pending_integration}/disconnect", MANAGERS),
    Write("POST", "/settings/workspaces/{second_workspace}/integrations/{enabled_integration}", MANAGERS, {}),
    Write(
        "POST",
        "/settings/workspaces/{workspace}/integrations/{enabled_integration}",
        MANAGERS,
        {"action": "disable"},
    ),
    Write(
        "POST",
        "/settings/integrations/{enabled_integration}/sync",
        ALL,
        {"workspace_id": "{workspace}", "source_entity": "issues"},
    ),
    Write(
        "POST",
        "/settings/integrations/{reader_integration}/push-webhooks/{manual_push_webhook}/manual-setup",
        MANAGERS,
    ),
    Write("POST", "/settings/integrations/{enabled_integration}/sync/{running_sync}/cancel", MANAGERS),
]


async def _post_form(
    client: httpx.AsyncClient, caller: Member, path: str, body: dict[str, Any] | None
) -> httpx.Response:
    """Posts the form as the caller's signed-in browser; the client's cookies are back afterwards."""
    async with browser_of(client, caller):
        token = csrf_token((await client.get("/settings/integrations")).text)
        return await client.post(path, data={"csrf_token": token, **(body or {})})


@pytest.mark.parametrize(
    ("write", "role"),
    [
        pytest.param(write, role, id=f"{role}: {write.id} {write.body or ''}")
        for write in FORMS
        for role in Role
        if role not in write.allowed
    ],
)
async def test_refused_forms_answer_403_and_change_nothing(
    app: Any, client: httpx.AsyncClient, world: World, write: Write, role: Role
) -> None:
    caller = world.callers[role]
    path, body = await _fill(world, write, caller)
    async with browser_of(client, caller):
        token = csrf_token((await client.get("/settings/integrations")).text)
        await _settled(app)
        before = await _snapshot(app)
        response = await client.post(path, data={"csrf_token": token, **(body or {})})
    assert response.status_code == 403, response.text
    assert "needs the admin or owner role" in response.text
    await _settled(app)
    assert await _snapshot(app) == before


@pytest.mark.parametrize(
    "write", [pytest.param(write, id=f"{write.id} {write.body or ''}") for write in [*WRITES, *FORMS]]
)
async def test_allowed_cells_work(client: httpx.AsyncClient, world: World, write: Write) -> None:
    for role in sorted(write.allowed):
        caller = world.callers[role]
        path, body = await _fill(world, write, caller)
        if write.form:
            response = await _post_form(client, caller, path, body)
            # A form answers its page (200) or sends the browser back to it (303); a refusal renders it with 4xx.
            assert response.status_code in (200, 303), (role, response.text)
        else:
            response = await client.request(write.method, path, json=body, headers=caller.headers)
            assert 200 <= response.status_code < 300, (role, response.text)
        # The next role acts on resources of its own (this one may have deleted them, or taken an email).
        world.forget()


# Write routes that no team role gates, each with the reason. A new write route fails the test below until it is
# in WRITES, in FORMS or here.
NOT_ROLE_GATED = {
    ("POST", "/api/webhooks/github"): "a provider's delivery: no caller, its signature is the check",
    ("POST", "/api/webhooks/jira"): "a provider's delivery: no caller, its signature is the check",
    ("POST", "/api/webhooks/linear"): "a provider's delivery: no caller, its signature is the check",
    ("POST", "/api/webhooks/stripe"): "Stripe's delivery: no caller, its signature is the check",
    ("POST", "/api/webhooks/resend"): "Resend's delivery: no caller, its signature is the check",
    ("POST", "/api/workspaces/{workspace_id}/mcp"): "JSON-RPC open to every role (README); tests/gateway",
    ("POST", "/oauth/token"): "MCP clients' OAuth token endpoint: codes and client credentials, no team role",
    ("POST", "/oauth/revoke"): "MCP clients' OAuth revocation: the token itself is the credential",
    ("POST", "/oauth/register"): "MCP clients' dynamic registration (RFC 7591): open to any client by design",
    ("POST", "/sandbox/_control"): "the simulated providers' test controls, sandbox mode only",
    ("POST", "/sandbox/_control/reset"): "the simulated providers' test controls, sandbox mode only",
    ("POST", "/sandbox/_control/changes"): "the simulated providers' test controls, sandbox mode only",
    ("POST", "/settings/sign-in"): "signs a browser in with an API key: before any role",
    ("POST", "/settings/sign-out"): "ends the browser's own session",
    ("POST", "/settings/oauth/authorize"): "a user's consent for an MCP client acting as that user: every role",
    ("POST", "/settings/connected-apps/{consent_id}/revoke"): "a user withdraws a consent of their own",
}
# Mounted apps are not routes of ours: their methods are not listed, so each is excused by its path.
MOUNTS = {
    "/sandbox/": "the simulated providers (sandbox mode only): what our provider clients call",
    "/settings/static": "the settings page's static files, read only",
    "/docs/assets": "the API docs' static files, read only",
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _sample(path: str) -> str:
    """A concrete path for a matrix path: every named resource becomes a well-formed id."""
    return re.sub(r"\{[^}]+\}", "1234567890123456789", path)


def test_every_write_route_is_in_the_matrix_or_excused(app: Any) -> None:
    """Walks every route the app serves, included routers' too, with the sandbox on (its routes included)."""
    missing, excused = [], set(NOT_ROLE_GATED)
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            assert any(route.path.startswith(prefix) for prefix in MOUNTS), route.path
            continue
        for method in sorted((route.methods or set()) & WRITE_METHODS):
            covered = any(
                write.method == method and route.path_regex.fullmatch(_sample(write.path))
                for write in [*WRITES, *FORMS]
            )
            if covered:
                assert (method, route.path) not in excused, f"{method} {route.path} is in the matrix: not excused"
            elif (method, route.path) in excused:
                excused.discard((method, route.path))
            else:
                missing.append(f"{method} {route.path}")
    assert missing == [], "write routes missing from the role matrix (WRITES, FORMS, or NOT_ROLE_GATED)"
    assert excused == set(), "excused routes the app no longer serves"


def test_every_matrix_row_is_a_route(app: Any) -> None:
    routes = [(route.methods or set(), route.path_regex) for route in iter_route_contexts(app.routes)]
    for write in [*WRITES, *FORMS]:
        assert any(write.method in methods and regex.fullmatch(_sample(write.path)) for methods, regex in routes), (
            write.id
        )
