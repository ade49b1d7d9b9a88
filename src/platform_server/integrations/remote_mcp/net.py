"""Network safety for requests to hosts a team names (remote MCP servers, their authorization servers, client
metadata documents): only public addresses unless the operator allows private ones, the connection pinned to
the address that was checked (so DNS cannot answer differently in between), every redirect hop checked the
same way, and response bodies capped while they stream."""

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator
from typing import TypeVar

import httpx2

from platform_server.http1 import ResponseTooLarge

_Incident = TypeVar("_Incident", bound="AddressRefused | ResponseTooLarge")


class AddressRefused(Exception):
    """The host is on an address we do not connect to, or does not resolve."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class HostUnresolvable(AddressRefused):
    pass


def is_public_address(address: str) -> bool:
    """Globally routable unicast: no loopback, private, link-local, shared, multicast or reserved range (an
    IPv4-mapped IPv6 address is judged as the IPv4 address it carries)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve_public_address(host: str, port: int) -> str:
    """The address to connect to for `host`: every address it resolves to must be public, so that no answer
    of a round-robin (or rebinding) name can point inside."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise HostUnresolvable(f"The host {host} does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise HostUnresolvable(f"The host {host} does not resolve")
    if not all(is_public_address(address) for address in addresses):
        raise AddressRefused(f"The host {host} is on a private, loopback or reserved address")
    return addresses[0]


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, guard: "GuardedTransport") -> None:
        self._inner = inner
        self._guard = guard
        self._received = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._received += len(chunk)
            if self._received > self._guard.max_response_bytes:
                raise self._guard.record(ResponseTooLarge(self._guard.max_response_bytes))
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class GuardedTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport that applies the rules above to every request it sends, redirect hops included
    (each hop is a request of its own). Connections are pooled per host name, never shared between two names
    that resolve to the same address, so a TLS session verified for one name never carries another's requests.

    The first refusal is kept in `incident`: libraries that catch transport errors on their own (the MCP SDK
    turns some into JSON-RPC errors) cannot hide why a call failed."""

    def __init__(self, *, allow_private: bool, max_response_bytes: int, limits: httpx2.Limits | None = None) -> None:
        self.allow_private = allow_private
        self.max_response_bytes = max_response_bytes
        self._limits = limits or httpx2.Limits()
        self.incident: AddressRefused | ResponseTooLarge | None = None
        self._pools: dict[str, httpx2.AsyncHTTPTransport] = {}

    def record(self, incident: _Incident) -> _Incident:
        if self.incident is None:
            self.incident = incident
        return incident

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme not in {"http", "https"}:
            raise self.record(AddressRefused(f"The scheme {url.scheme}: is not allowed; use https"))
        if not self.allow_private:
            if url.scheme != "https":
                raise self.record(AddressRefused("Remote servers must be reached over https"))
            try:
                address = await resolve_public_address(url.host, url.port or 443)
            except AddressRefused as refusal:
                raise self.record(refusal) from None
            # The Host header keeps the name; TLS verifies the certificate for the name (SNI), not the address.
            request.extensions = {**request.extensions, "sni_hostname": url.host}
            request.url = url.copy_with(host=address)
        pool = self._pools.get(url.host)
        if pool is None:
            pool = self._pools[url.host] = httpx2.AsyncHTTPTransport(trust_env=False, limits=self._limits)
        response = await pool.handle_async_request(request)
        if not isinstance(response.stream, httpx2.AsyncByteStream):
            raise TypeError("an async transport answered with a synchronous stream")
        response.stream = _CappedStream(response.stream, self)
        return response

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()
