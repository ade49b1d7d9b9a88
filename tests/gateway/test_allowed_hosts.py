"""MCP_ALLOWED_HOSTS: the names an operator adds beside PUBLIC_BASE_URL's pass the DNS-rebinding check."""

from typing import Any

import httpx
import pytest

from platform_server.config import Settings
from tests.conftest import Member
from tests.gateway.test_transport import modern_headers, modern_request, url
from tests.helpers import assert_error


def _headers(owner: Member, host: str, origin: str | None = None) -> dict[str, str]:
    headers = {**modern_headers(owner, "tools/list"), "Host": host}
    if origin is not None:
        headers["Origin"] = origin
    return headers


async def test_another_name_for_this_server_is_421_unless_allowed(client: httpx.AsyncClient, owner: Member) -> None:
    response = await client.post(
        url(owner.workspace_id), json=modern_request("tools/list"), headers=_headers(owner, "localhost:8000")
    )
    error = assert_error(response, 421, "MISDIRECTED_REQUEST")
    assert "MCP_ALLOWED_HOSTS" in error["message"]
    assert error["details"]["allowedHosts"] == ["testserver"]


@pytest.mark.parametrize("settings_overrides", [{"PLATFORM_SANDBOX": True, "MCP_ALLOWED_HOSTS": "localhost:8000"}])
async def test_listed_hosts_and_their_origins_are_served(
    client: httpx.AsyncClient, owner: Member, settings_overrides: dict[str, Any]
) -> None:
    for host, origin in (("localhost:8000", None), ("localhost:8000", "http://localhost:8000"), ("testserver", None)):
        response = await client.post(
            url(owner.workspace_id), json=modern_request("tools/list"), headers=_headers(owner, host, origin)
        )
        assert response.status_code == 200, (host, origin, response.text)
        assert "tools" in response.json()["result"]
    refused = await client.post(
        url(owner.workspace_id), json=modern_request("tools/list"), headers=_headers(owner, "localhost:9000")
    )
    assert_error(refused, 421, "MISDIRECTED_REQUEST")
    foreign_origin = await client.post(
        url(owner.workspace_id),
        json=modern_request("tools/list"),
        headers=_headers(owner, "localhost:8000", "http://evil.example"),
    )
    assert_error(foreign_origin, 403, "FORBIDDEN")


def test_the_setting_is_comma_separated() -> None:
    settings = Settings(_env_file=None, MCP_ALLOWED_HOSTS=" localhost:8000, 127.0.0.1:8000 ,")  # type: ignore[call-arg]
    assert settings.MCP_ALLOWED_HOSTS == ["localhost:8000", "127.0.0.1:8000"]
