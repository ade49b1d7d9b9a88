"""A client for the official MCP Registry's read API: `GET /v0.1/servers`, paged by its opaque cursor.

`/v0.1` is the registry's stable version of `/v0` (same shape, backward-compatible changes only). Every page is
asked with `version=latest`, so each server appears once. The answer is
`{"servers": [{"server": <server.json>, "_meta": {...}}], "metadata": {"nextCursor", "count"}}`; each server maps
to a `RegistryServer`: its `remotes` (`streamable-http` or `sse`, a URL, the headers it expects) are what the
gateway can connect to; a server with `packages` only runs locally and is marked not remotely connectable.

The registry is an outside service with no uptime guarantee and a permissive moderation policy, so everything
it answers is untrusted: one request, 10 seconds in all, at most 2 MiB, no redirects; an unreachable or failing
registry is a readable 503, an answer that is not the API's shape a 502, a refused cursor or query a 400. An
entry that does not validate is left out of the page rather than failing it.
"""

import asyncio
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from structlog import get_logger

from platform_server.errors import BadRequest, PlatformError, ServiceUnavailable
from platform_server.integrations.remote_mcp.upstream import Transport

LIST_PATH = "/v0.1/servers"
TIMEOUT_SECONDS = 10.0
# A page of 100 servers with long descriptions, remotes and packages stays far below this.
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
MAX_PAGE_SIZE = 100
OFFICIAL_META = "io.modelcontextprotocol.registry/official"
# Remote URLs may be templates (`https://{tenant}.example.com/mcp`) filled from the remote's `variables`.
_TEMPLATE_VARIABLE = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_REMOTE_TRANSPORTS = {"streamable-http": Transport.streamable_http, "sse": Transport.sse}

logger = get_logger(__name__)


class RegistryUnavailable(ServiceUnavailable):
    code = "MCP_REGISTRY_UNAVAILABLE"


class RegistryBadResponse(PlatformError):
    status_code: ClassVar[int] = 502
    code: ClassVar[str] = "MCP_REGISTRY_BAD_RESPONSE"


# -- the registry's wire shapes (unknown fields ignored: the API grows by adding them) ----------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _KeyValueInput(_Wire):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    is_required: bool = Field(False, alias="isRequired")
    is_secret: bool = Field(False, alias="isSecret")


class _Remote(_Wire):
    type: str
    url: str = Field(min_length=1, max_length=2000)
    headers: list[_KeyValueInput] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)


class _Package(_Wire):
    registry_type: str = Field(alias="registryType", max_length=100)
    identifier: str = Field(max_length=1000)
    version: str | None = Field(None, max_length=255)


class _Repository(_Wire):
    url: str | None = None


class _ServerDetail(_Wire):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    title: str | None = Field(None, max_length=200)
    version: str = Field(max_length=255)
    website_url: str | None = Field(None, alias="websiteUrl", max_length=2000)
    repository: _Repository | None = None
    remotes: list[_Remote] = Field(default_factory=list)
    packages: list[_Package] = Field(default_factory=list)


class _OfficialMeta(_Wire):
    status: str | None = None
    updated_at: str | None = Field(None, alias="updatedAt")


class _ServerResponse(_Wire):
    server: _ServerDetail
    meta: dict[str, Any] = Field(default_factory=dict, alias="_meta")


class _Metadata(_Wire):
    next_cursor: str | None = Field(None, alias="nextCursor")


class _ServerList(_Wire):
    servers: list[Any]
    metadata: _Metadata = Field(default_factory=_Metadata)


# -- what the client answers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryHeader:
    """A header the server expects from its clients (often an API key: `is_secret`)."""

    name: str
    description: str | None
    is_required: bool
    is_secret: bool


@dataclass(frozen=True, slots=True)
class RegistryRemote:
    transport: Transport
    url: str
    headers: tuple[RegistryHeader, ...]
    # Names of the URL template's variables; a remote with any is not connectable as listed.
    variables: tuple[str, ...]

    @property
    def connectable(self) -> bool:
        return not self.variables and self.url.startswith(("https://", "http://"))


@dataclass(frozen=True, slots=True)
class RegistryPackage:
    registry_type: str
    identifier: str
    version: str | None


@dataclass(frozen=True, slots=True)
class RegistryServer:
    name: str
    title: str | None
    description: str
    version: str
    website_url: str | None
    repository_url: str | None
    status: str | None
    updated_at: str | None
    remotes: tuple[RegistryRemote, ...]
    packages: tuple[RegistryPackage, ...]

    @property
    def connectable(self) -> bool:
        """The gateway can connect to it: at least one remote with a concrete URL."""
        return any(remote.connectable for remote in self.remotes)


@dataclass(frozen=True, slots=True)
class RegistryPage:
    servers: tuple[RegistryServer, ...]
    next_cursor: str | None


def _remote(remote: _Remote) -> RegistryRemote | None:
    transport = _REMOTE_TRANSPORTS.get(remote.type)
    if transport is None:
        return None
    variables = tuple(dict.fromkeys(match[1:-1] for match in _TEMPLATE_VARIABLE.findall(remote.url)))
    headers = tuple(RegistryHeader(h.name, h.description, h.is_required, h.is_secret) for h in remote.headers)
    return RegistryRemote(transport, remote.url, headers, variables)


def _server(entry: _ServerResponse) -> RegistryServer:
    detail = entry.server
    official = _OfficialMeta.model_validate(entry.meta.get(OFFICIAL_META) or {})
    remotes = tuple(remote for remote in map(_remote, detail.remotes) if remote is not None)
    return RegistryServer(
        name=detail.name,
        title=detail.title,
        description=detail.description,
        version=detail.version,
        website_url=detail.website_url,
        repository_url=detail.repository.url if detail.repository else None,
        status=official.status,
        updated_at=official.updated_at,
        remotes=remotes,
        packages=tuple(RegistryPackage(p.registry_type, p.identifier, p.version) for p in detail.packages),
    )


def parse_page(body: bytes) -> RegistryPage:
    """A `GET /servers` answer as a page; `RegistryBadResponse` when it is not the API's shape."""
    try:
        page = _ServerList.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError):
        raise RegistryBadResponse("The MCP Registry answered something that is not a list of servers") from None
    servers = []
    for raw in page.servers:
        try:
            servers.append(_server(_ServerResponse.model_validate(raw)))
        except ValidationError:
            # One publisher's malformed entry must not hide the rest of the page.
            logger.warning("mcp_registry_entry_skipped")
    return RegistryPage(tuple(servers), page.metadata.next_cursor or None)


class RegistryClient:
    """Reads the registry at `base_url` (the `MCP_REGISTRY_URL` setting)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float = TIMEOUT_SECONDS,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.max_response_bytes = max_response_bytes

    async def list_servers(
        self, *, search: str | None = None, cursor: str | None = None, limit: int = 30
    ) -> RegistryPage:
        params: dict[str, str | int] = {"version": "latest", "limit": limit}
        if search:
            params["search"] = search
        if cursor:
            params["cursor"] = cursor
        try:
            async with asyncio.timeout(self.timeout_seconds):
                status, body = await self._get(LIST_PATH, params)
        except TimeoutError:
            raise self._unavailable(f"did not answer within {self.timeout_seconds:g} seconds") from None
        except httpx.HTTPError as exc:
            raise self._unavailable(f"could not be reached ({type(exc).__name__})") from None
        if status == 400 or status == 422:
            raise BadRequest(
                f"The MCP Registry refused the request: {_registry_message(body)}", details={"status": status}
            )
        if status == 429 or status >= 500:
            raise self._unavailable(f"answered HTTP {status}")
        if status != 200:
            raise RegistryBadResponse(f"The MCP Registry answered HTTP {status}", details={"status": status})
        return parse_page(body)

    async def _get(self, path: str, params: dict[str, str | int]) -> tuple[int, bytes]:
        # No redirects: the registry answers where it is configured, or not at all.
        async with (
            httpx.AsyncClient(base_url=self.base_url, follow_redirects=False) as http,
            http.stream("GET", path, params=params, headers={"Accept": "application/json"}) as response,
        ):
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > self.max_response_bytes:
                    raise RegistryBadResponse(
                        f"The MCP Registry's answer is larger than {self.max_response_bytes // 1024} KiB"
                    )
            return response.status_code, bytes(body)

    def _unavailable(self, reason: str) -> RegistryUnavailable:
        return RegistryUnavailable(
            f"The MCP Registry at {self.base_url} {reason}; set MCP_REGISTRY_URL to a registry this server can "
            "reach, or pick a server from the curated catalog (GET /api/integrations/mcp/catalog)",
            details={"registryUrl": self.base_url},
        )


def _registry_message(body: bytes) -> str:
    """The registry's own error text (`{"error": "..."}`, or huma's `{"detail": "..."}`), cut short."""
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "no reason given"
    if isinstance(answer, dict):
        for key in ("error", "detail", "title"):
            if isinstance(answer.get(key), str):
                return str(answer[key])[:200]
    return "no reason given"
