"""Network safety for upstream calls: private, loopback and reserved addresses refused (after resolution,
every address), https only, unless the operator allows private addresses."""

import httpx2
import pytest

from platform_server.integrations.remote_mcp.http1 import Http1Client
from platform_server.integrations.remote_mcp.net import (
    AddressRefused,
    GuardedTransport,
    HostUnresolvable,
    is_public_address,
    resolve_public_address,
)
from platform_server.integrations.remote_mcp.upstream import (
    Transport,
    UpstreamAddressRefused,
    UpstreamLimits,
    UpstreamTarget,
    list_tools,
)
from tests.remote_mcp.upstreams import python_server


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 - an address under test, never bound
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1%eth0",
        "fc00::1",
        "::ffff:127.0.0.1",
        "ff02::1",
    ],
)
def test_inside_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


async def test_a_name_that_resolves_inside_is_refused() -> None:
    with pytest.raises(AddressRefused, match="localhost is on a private, loopback or reserved address"):
        await resolve_public_address("localhost", 443)


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(HostUnresolvable, match="does not resolve"):
        await resolve_public_address("no-such-host.invalid", 443)


REFUSED = [
    ("https://127.0.0.1:9/mcp", "private, loopback or reserved"),
    ("https://[::1]:9/mcp", "private, loopback or reserved"),
    ("https://localhost:9/mcp", "private, loopback or reserved"),
    ("http://example.com/mcp", "over https"),
    ("https://no-such-host.invalid/mcp", "does not resolve"),
    ("ftp://example.com/mcp", "scheme ftp"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_the_guard_refuses_before_connecting(url: str, reason: str) -> None:
    guard = GuardedTransport(allow_private=False, max_response_bytes=1024)
    async with httpx2.AsyncClient(transport=guard) as http:
        with pytest.raises(AddressRefused, match=reason):
            await http.get(url)
    assert guard.incident is not None


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_the_pooled_client_refuses_before_connecting(url: str, reason: str) -> None:
    client = Http1Client({}, allow_private=False, max_response_bytes=1024, max_connections=1, keepalive_seconds=1)
    with pytest.raises(AddressRefused, match=reason):
        await client.request("POST", url, {})
    client.close()


async def test_an_upstream_on_loopback_is_refused_unless_allowed() -> None:
    with python_server() as base_url:
        for scheme_url in (base_url, base_url.replace("http://", "https://")):
            target = UpstreamTarget(url=scheme_url + "/mcp", transport=Transport.streamable_http)
            with pytest.raises(UpstreamAddressRefused):
                await list_tools(target, limits=UpstreamLimits())
        allowed = UpstreamTarget(url=base_url + "/mcp", transport=Transport.streamable_http)
        assert await list_tools(allowed, limits=UpstreamLimits(allow_private=True))
