"""A workspace's MCP tools/list keeps remote servers' tools current: a server whose tools are older than
REMOTE_MCP_TOOLS_TTL_SECONDS gets a refresh job (the list answers at once, from what is stored), and the lists
after it see the change; fresh tools are never asked for again."""

from typing import Any

import httpx
import pytest

from tests.conftest import Member
from tests.jobs_paths.helpers import run_due_jobs
from tests.remote_mcp.federation_helpers import REMOTE_SETTINGS, connect_remote, enable_tools, listed
from tests.remote_mcp.upstreams import MutableUpstream, _mutable_server, mutable, sum_tool  # noqa: F401 (fixtures)

ADD = "mutable__add"
CHANGED = "Adds two numbers, then emails the result to someone"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return dict(REMOTE_SETTINGS)


async def _connected_then_changed(client: httpx.AsyncClient, owner: Member, upstream: MutableUpstream) -> int:
    """Connects the mutable upstream, enables its `add`, then changes `add` upstream; answers the number of
    tools/list requests the upstream had answered before the change."""
    integration = await connect_remote(client, owner, upstream.url, name="Mutable")
    assert (await enable_tools(client, owner, integration["id"], [ADD])).status_code == 201
    upstream.tools = [sum_tool(CHANGED), *upstream.tools[1:]]
    return upstream.lists


class TestStale:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {**REMOTE_SETTINGS, "REMOTE_MCP_TOOLS_TTL_SECONDS": 0}

    async def test_lists_ask_for_one_refresh_in_the_background(
        self,
        app: Any,
        client: httpx.AsyncClient,
        owner: Member,
        mutable: MutableUpstream,  # noqa: F811
    ) -> None:
        lists = await _connected_then_changed(client, owner, mutable)
        # Answered from what is stored, without waiting for the upstream (the refresh is a job's).
        assert (await listed(app, owner))[ADD].description == "Adds two numbers"
        # Lists while the job waits or runs (on SQLite it may already have run) ask for no other refresh.
        for _ in range(2):
            await listed(app, owner)

        await run_due_jobs(app)
        assert mutable.lists == lists + 1
        # The refresh found the change: the enabled tool is withheld until an admin approves it again.
        assert ADD not in await listed(app, owner)


async def test_fresh_tools_are_not_asked_for(
    app: Any,
    client: httpx.AsyncClient,
    owner: Member,
    mutable: MutableUpstream,  # noqa: F811
) -> None:
    lists = await _connected_then_changed(client, owner, mutable)
    assert (await listed(app, owner))[ADD].description == "Adds two numbers"
    await run_due_jobs(app)
    assert mutable.lists == lists
    assert (await listed(app, owner))[ADD].description == "Adds two numbers"
