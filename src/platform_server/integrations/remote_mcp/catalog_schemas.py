"""Wire shapes of the remote MCP server catalog and of the MCP Registry browser (camelCase)."""

from pydantic import Field

from platform_server.integrations.remote_mcp.catalog import AuthKind, CatalogCategory
from platform_server.integrations.remote_mcp.upstream import Transport
from platform_server.schemas import Schema


class CatalogServer(Schema):
    id: str = Field(examples=["linear"], description="Stable slug of the catalog entry")
    name: str = Field(examples=["Linear"])
    url: str = Field(examples=["https://mcp.linear.app/mcp"], description="The vendor's published MCP endpoint")
    category: CatalogCategory = Field(examples=["Project Management"])
    auth_kind: AuthKind = Field(
        examples=["oauth"],
        description="`oauth`: authorization per the MCP spec; `bearer`: a static token the admin pastes; `none`",
    )
    transport: Transport = Field(examples=["streamable_http"])
    docs_url: str = Field(examples=["https://linear.app/docs/mcp"])
    description: str = Field(examples=["Find, create and update Linear issues, projects and comments."])


class RegistryHeaderRead(Schema):
    name: str = Field(examples=["Authorization"])
    description: str | None = Field(examples=["Bearer token from your account settings"])
    is_required: bool = Field(examples=[True])
    is_secret: bool = Field(examples=[True])


class RegistryRemoteRead(Schema):
    transport: Transport = Field(examples=["streamable_http"])
    url: str = Field(examples=["https://mcp.example.com/mcp"])
    headers: list[RegistryHeaderRead] = Field(description="Headers the server expects from its clients")
    variables: list[str] = Field(
        examples=[[]], description="Variables of a templated URL (`{tenant}`); such a remote is not connectable as is"
    )
    connectable: bool = Field(examples=[True])


class RegistryPackageRead(Schema):
    registry_type: str = Field(examples=["npm"])
    identifier: str = Field(examples=["@modelcontextprotocol/server-everything"])
    version: str | None = Field(examples=["2026.8.31"])


class RegistryServerRead(Schema):
    name: str = Field(examples=["com.example/weather"], description="The registry's reverse-DNS server name")
    title: str | None = Field(examples=["Weather"])
    description: str = Field(examples=["Forecasts and current conditions"])
    version: str = Field(examples=["1.2.0"])
    website_url: str | None = Field(examples=["https://example.com/weather"])
    repository_url: str | None = Field(examples=["https://github.com/example/weather-mcp"])
    status: str | None = Field(examples=["active"], description="The registry's lifecycle status")
    updated_at: str | None = Field(examples=["2026-11-30T12:00:00Z"], description="As the registry states it")
    connectable: bool = Field(
        examples=[True],
        description="True when a remote has a concrete URL the gateway can connect to; servers with packages only "
        "run locally and are listed for reference",
    )
    remotes: list[RegistryRemoteRead]
    packages: list[RegistryPackageRead]


class RegistryServerPage(Schema):
    data: list[RegistryServerRead]
    next_cursor: str | None = Field(
        examples=["com.example/weather:1.2.0"],
        description="Pass as `cursor` for the next page; null on the last page",
    )
