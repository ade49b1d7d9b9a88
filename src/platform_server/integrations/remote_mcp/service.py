"""Remote MCP servers' lifecycle: connect (probe, discover the tools), refresh the tools, approve changed ones,
and what enabling one in a workspace offers."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import mcp_types
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from platform_server.auth.principal import Principal
from platform_server.config import Settings
from platform_server.db import utcnow
from platform_server.errors import BadGateway, BadRequest, Conflict, ResourceNotFound, ValidationFailed
from platform_server.ids import new_id
from platform_server.integrations.models import Integration, IntegrationStatus
from platform_server.integrations.providers.client import IntegrationExpired, ProviderUnavailable
from platform_server.integrations.remote_mcp import integrity
from platform_server.integrations.remote_mcp.auth import (
    CALLBACK_PATH,
    CLIENT_METADATA_PATH,
    AuthDiscovery,
    ClientCredentials,
    authorization_request,
    discover,
    exchange_code,
    register_client,
)
from platform_server.integrations.remote_mcp.grants import as_token_set, open_client, seal_client, upstream_limits
from platform_server.integrations.remote_mcp.models import (
    REMOTE_PROVIDER,
    AuthType,
    RemoteMcpServer,
    RemoteMcpTool,
    ToolStatus,
)
from platform_server.integrations.remote_mcp.repository import RemoteMcpServerRepository, RemoteMcpToolRepository
from platform_server.integrations.remote_mcp.schemas import (
    DefinitionChange,
    RemoteMcpIntegrationCreate,
    RemoteServerRead,
    RemoteToolList,
    RemoteToolRead,
    ServerInfo,
)
from platform_server.integrations.remote_mcp.upstream import (
    ServerProbe,
    Transport,
    UpstreamAddressRefused,
    UpstreamError,
    UpstreamTarget,
    UpstreamUnauthorized,
    list_tools,
    probe,
)
from platform_server.integrations.repository import IntegrationRepository
from platform_server.integrations.states import add_state, new_state
from platform_server.integrations.tokens import TokenManager, seal_tokens
from platform_server.log import get_logger
from platform_server.security import DecryptionError, Encryptor

_SLUG_LENGTH = 40
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")

logger = get_logger(__name__)


def enablement_provider(slug: str) -> str:
    return f"{REMOTE_PROVIDER}:{slug}"


def tools_stale(server: RemoteMcpServer, settings: Settings) -> bool:
    """True when the server's tools were last asked for longer ago than REMOTE_MCP_TOOLS_TTL_SECONDS."""
    refreshed = server.tools_refreshed_at
    return refreshed is None or refreshed + timedelta(seconds=settings.REMOTE_MCP_TOOLS_TTL_SECONDS) <= utcnow()


def _secret_associated_data(integration_id: str) -> str:
    return f"remote_mcp_servers:{integration_id}:secret"


def upstream_target(
    encryptor: Encryptor,
    *,
    integration_id: str,
    url: str,
    transport: str,
    auth_type: str,
    header_name: str | None,
    secret_encrypted: str | None,
    access_token: str | None = None,
) -> UpstreamTarget:
    """Where and how to reach a server; the secret is decrypted only into the request's headers. An OAuth
    server's `access_token` comes from the token manager."""
    headers: dict[str, str] = {}
    if access_token is not None:
        headers["Authorization"] = f"Bearer {access_token}"
    elif secret_encrypted is not None:
        secret = encryptor.decrypt(secret_encrypted, _secret_associated_data(integration_id))
        if auth_type == AuthType.header and header_name is not None:
            headers[header_name] = secret
        else:
            headers["Authorization"] = f"Bearer {secret}"
    return UpstreamTarget(url=url, transport=Transport(transport), headers=headers)


def server_target(encryptor: Encryptor, server: RemoteMcpServer, access_token: str | None = None) -> UpstreamTarget:
    return upstream_target(
        encryptor,
        integration_id=server.integration_id,
        url=server.url,
        transport=server.transport,
        auth_type=server.auth_type,
        header_name=server.header_name,
        secret_encrypted=server.secret_encrypted,
        access_token=access_token,
    )


def _upstream_failure(exc: UpstreamError, url: str) -> BadRequest | BadGateway:
    if isinstance(exc, UpstreamAddressRefused):
        return BadRequest(
            f"{exc.message}. Connect servers on public https addresses (the operator may allow private ones with "
            "REMOTE_MCP_ALLOW_PRIVATE)",
            details={"url": url},
        )
    if isinstance(exc, UpstreamUnauthorized):
        return BadRequest(
            "The server requires authorization: connect it with auth type oauth, or bearer or header and its "
            "secret; a server connected with oauth must be reconnected",
            details={"url": url, "upstreamStatus": 401},
        )
    return BadGateway(f"The remote MCP server failed: {exc.message}", details={"url": url})


@dataclass(frozen=True, slots=True)
class _Connection:
    identity: ServerProbe
    tools: Sequence[mcp_types.Tool]


def _check_tool_count(tools: Sequence[mcp_types.Tool], url: str) -> None:
    if len(tools) > integrity.MAX_TOOLS_PER_SERVER:
        raise BadGateway(
            f"The server offers {len(tools)} tools, more than the {integrity.MAX_TOOLS_PER_SERVER} allowed",
            details={"url": url},
        )


def default_slug(name: str) -> str:
    slug = _SLUG_JUNK.sub("-", name.lower()).strip("-")[:_SLUG_LENGTH].strip("-")
    return slug or "mcp"


def _changes(tool: RemoteMcpTool) -> list[DefinitionChange]:
    approved = tool.approved_definition
    if approved is None or tool.approved_hash == tool.definition_hash:
        return []
    return [
        DefinitionChange(field=field, approved=approved.get(field), current=tool.definition.get(field))
        for field in integrity.DEFINITION_FIELDS
        if approved.get(field) != tool.definition.get(field)
    ]


class RemoteMcpService:
    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        encryptor: Encryptor,
        data: RemoteMcpIntegrationCreate,
    ) -> tuple[Integration, str | None]:
        """Connects at once when the server answers with the given credentials; its tools as they are now are
        approved (the admin chose this server), and none is enabled anywhere until an admin enables it. With
        OAuth, answers the pending integration and the URL to authorize it at; the callback connects it."""
        integrations = IntegrationRepository(session, principal.team_id)
        servers = RemoteMcpServerRepository(session, principal.team_id)
        if await integrations.name_taken(data.name):
            raise Conflict(
                f"An integration named {data.name!r} already exists in this team", details={"name": data.name}
            )
        slug = data.slug if data.slug is not None else await self._free_slug(servers, data.name)
        refused = integrity.slug_refusal(slug)
        if refused is not None:
            raise ValidationFailed(
                refused, details={"fields": [{"field": "body.slug", "message": refused, "type": "value_error"}]}
            )
        if data.slug is not None and slug in await servers.slugs_starting_with(slug):
            raise Conflict(f"Another remote MCP server of this team has the slug {slug!r}", details={"slug": slug})
        if data.auth.type is AuthType.oauth:
            return await self._start_authorization(session, principal, settings, encryptor, data, slug)

        integration_id = new_id()
        secret = (
            encryptor.encrypt(data.auth.token, _secret_associated_data(integration_id))
            if data.auth.token is not None
            else None
        )
        header_name = data.auth.header_name
        target = upstream_target(
            encryptor,
            integration_id=integration_id,
            url=data.url,
            transport=data.transport,
            auth_type=data.auth.type,
            header_name=header_name,
            secret_encrypted=secret,
        )
        connection = await self._connection(target, settings, data.url)
        integration, server = await self._add(
            session,
            principal,
            integration_id,
            data,
            slug,
            scopes=[],
            header_name=header_name,
            secret_encrypted=secret,
        )
        if secret is not None:
            integration.token_key_id = encryptor.current_key_id
        await self._connect(session, integration, server, connection)
        return integration, None

    async def _add(
        self,
        session: AsyncSession,
        principal: Principal,
        integration_id: str,
        data: RemoteMcpIntegrationCreate,
        slug: str,
        *,
        scopes: list[str],
        **server_columns: Any,
    ) -> tuple[Integration, RemoteMcpServer]:
        """The pending integration and its server row, flushed (a name or slug taken meanwhile is a 409)."""
        integration = IntegrationRepository(session, principal.team_id).add(
            Integration(
                id=integration_id,
                team_id=principal.team_id,
                provider=REMOTE_PROVIDER,
                name=data.name,
                status=IntegrationStatus.pending,
                scopes=scopes,
                account_metadata={},
                created_by=principal.user_id,
            )
        )
        server = RemoteMcpServerRepository(session, principal.team_id).add(
            RemoteMcpServer(
                integration_id=integration_id,
                team_id=principal.team_id,
                slug=slug,
                url=data.url,
                transport=data.transport,
                auth_type=data.auth.type,
                **server_columns,
            )
        )
        try:
            await session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "Another integration of this team took this name or slug meanwhile",
                details={"name": data.name, "slug": slug},
            ) from exc
        return integration, server

    async def _connection(self, target: UpstreamTarget, settings: Settings, url: str) -> _Connection:
        """Who the server is and its tools; a server that cannot be asked is a 400 or 502 for the caller."""
        limits = upstream_limits(settings)
        try:
            identity = await probe(target, limits=limits)
            tools = await list_tools(target, limits=limits)
        except UpstreamError as exc:
            raise _upstream_failure(exc, url) from None
        _check_tool_count(tools, url)
        return _Connection(identity, tools)

    async def _connect(
        self, session: AsyncSession, integration: Integration, server: RemoteMcpServer, connection: "_Connection"
    ) -> None:
        """Records who answered and its tools, and marks the integration connected. Tools are approved as they
        are at the first connection only: a reconnection keeps the approvals (a changed tool stays withheld)."""
        first = integration.connected_at is None
        info = connection.identity.server_info
        server_name = info.name if info is not None else ""
        server.server_name = server_name[:200] or None
        server.server_version = (info.version if info is not None else "")[:100] or None
        server.protocol_version = connection.identity.protocol_version[:40] or None
        integration.provider_account_name = server_name[:255] or None
        integration.status = IntegrationStatus.connected
        integration.status_reason = None
        integration.connected_at = utcnow()
        await self._store_tools(session, server, connection.tools, approve_new=first)
        logger.info(
            "remote_mcp_connected",
            integration_id=integration.id,
            slug=server.slug,
            tools=len(connection.tools),
            reconnected=not first,
        )

    async def _start_authorization(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        encryptor: Encryptor,
        data: RemoteMcpIntegrationCreate,
        slug: str,
    ) -> tuple[Integration, str]:
        """Discovery from the server's 401 challenge, then our client identity at its authorization server:
        the admin's pre-registered client when given, else our Client ID Metadata Document where the
        authorization server accepts one, else dynamic registration."""
        limits = upstream_limits(settings)
        redirect_uri = settings.PUBLIC_BASE_URL + CALLBACK_PATH
        try:
            await probe(UpstreamTarget(url=data.url, transport=data.transport), limits=limits)
        except UpstreamUnauthorized as exc:
            challenge = exc.www_authenticate
        except UpstreamError as exc:
            raise _upstream_failure(exc, data.url) from None
        else:
            raise BadRequest(
                "The server answers without authorization: connect it with auth type none",
                details={"url": data.url, "authType": data.auth.type},
            )
        preregistered = (
            ClientCredentials(client_id=data.auth.client_id, client_secret=data.auth.client_secret)
            if data.auth.client_id is not None
            else None
        )
        try:
            discovery = await discover(data.url, www_authenticate=challenge, limits=limits)
            client = await register_client(
                discovery,
                redirect_uri=redirect_uri,
                metadata_document_url=settings.PUBLIC_BASE_URL + CLIENT_METADATA_PATH,
                preregistered=preregistered,
                limits=limits,
            )
        except UpstreamError as exc:
            raise BadGateway(
                f"Authorization to the remote MCP server cannot start: {exc.message}", details={"url": data.url}
            ) from None
        integration_id = new_id()
        integration, server = await self._add(
            session,
            principal,
            integration_id,
            data,
            slug,
            scopes=list(data.auth.scopes if data.auth.scopes is not None else discovery.scopes or []),
            oauth_discovery=discovery.to_dict(),
            oauth_client_encrypted=seal_client(encryptor, integration_id, client),
        )
        oauth_url = await self._authorization_url(session, principal, settings, encryptor, integration, server)
        logger.info("remote_mcp_authorization_started", integration_id=integration_id, registration=client.how.value)
        return integration, oauth_url

    async def _authorization_url(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        encryptor: Encryptor,
        integration: Integration,
        server: RemoteMcpServer,
    ) -> str:
        if server.oauth_discovery is None:
            raise Conflict(
                f"{integration.name} is not authorized with OAuth; there is nothing to reconnect",
                details={"authType": server.auth_type},
            )
        try:
            client = open_client(encryptor, server)
        except DecryptionError:
            raise Conflict(
                f"The OAuth client of {integration.name} cannot be decrypted; delete the integration and connect "
                "the server again",
                details={"integrationId": integration.id},
            ) from None
        redirect_uri = settings.PUBLIC_BASE_URL + CALLBACK_PATH
        state = new_state()
        oauth_url, verifier = authorization_request(
            AuthDiscovery.from_dict(server.oauth_discovery),
            client,
            redirect_uri=redirect_uri,
            state=state,
            scopes=integration.scopes or None,
        )
        await add_state(
            session,
            encryptor,
            principal,
            integration_id=integration.id,
            state=state,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
        )
        await session.flush()
        return oauth_url

    async def reauthorize(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        encryptor: Encryptor,
        integration_id: str,
    ) -> tuple[Integration, str]:
        """A new authorization for a server connected with OAuth (its grant expired or was revoked): the
        integration keeps its id, tools, approvals and enablements, and is connected again by the callback."""
        server = await self.server(session, principal, integration_id)
        integration = await IntegrationRepository(session, principal.team_id).get(integration_id)
        if integration is None:
            raise ResourceNotFound("Remote MCP server", integration_id)
        oauth_url = await self._authorization_url(session, principal, settings, encryptor, integration, server)
        logger.info("remote_mcp_authorization_started", integration_id=integration_id, reconnect=True)
        return integration, oauth_url

    async def complete_authorization(
        self,
        session: AsyncSession,
        settings: Settings,
        encryptor: Encryptor,
        integration: Integration,
        *,
        code: str,
        code_verifier: str | None,
        redirect_uri: str,
    ) -> str | None:
        """The callback's second half for a remote server: the code exchanged for tokens (with the PKCE
        verifier and the `resource`), stored encrypted on the integration, then the server asked who it is
        and for its tools with them. Answers None when connected, else the error code the page shows."""
        server = await RemoteMcpServerRepository(session, integration.team_id).get(integration.id)
        if server is None or server.oauth_discovery is None or code_verifier is None:
            return "invalid_request"
        limits = upstream_limits(settings)
        try:
            tokens = await exchange_code(
                AuthDiscovery.from_dict(server.oauth_discovery),
                open_client(encryptor, server),
                code=code,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
                limits=limits,
            )
        except (UpstreamError, DecryptionError) as exc:
            logger.warning("remote_mcp_code_exchange_failed", integration_id=integration.id, error=type(exc).__name__)
            return "token_exchange_failed"
        try:
            target = server_target(encryptor, server, tokens.access_token)
            connection = await self._connection(target, settings, server.url)
        except (BadRequest, BadGateway) as exc:
            logger.warning("remote_mcp_connect_failed", integration_id=integration.id, error=exc.message)
            return "upstream_unavailable"
        grant = as_token_set(tokens)
        seal_tokens(encryptor, integration, grant)
        integration.scopes = grant.scopes or integration.scopes
        await self._connect(session, integration, server, connection)
        return None

    async def _free_slug(self, servers: RemoteMcpServerRepository, name: str) -> str:
        base = default_slug(name)
        if integrity.slug_refusal(base) is not None:
            base = f"remote-{base}"[:_SLUG_LENGTH]
        taken = await servers.slugs_starting_with(base)
        candidate, number = base, 2
        while candidate in taken:
            suffix = f"-{number}"
            candidate = base[: _SLUG_LENGTH - len(suffix)] + suffix
            number += 1
        return candidate

    async def _store_tools(
        self, session: AsyncSession, server: RemoteMcpServer, tools: Sequence[mcp_types.Tool], *, approve_new: bool
    ) -> None:
        """Records the current definitions. An approval stays with its hash, so a changed definition is withheld
        by the mismatch; a tool that left the server is forgotten (if it comes back, it is new again)."""
        repository = RemoteMcpToolRepository(session, server.team_id)
        stored = {tool.name: tool for tool in await repository.of_servers([server.integration_id])}
        seen: set[str] = set()
        for upstream in tools:
            definition = integrity.definition_of(upstream)
            if upstream.name in seen:
                continue
            seen.add(upstream.name)
            digest = integrity.canonical_hash(definition)
            refusal = integrity.refusal(server.slug, definition)
            row = stored.get(upstream.name)
            if row is None:
                approved = approve_new and refusal is None
                repository.add(
                    RemoteMcpTool(
                        team_id=server.team_id,
                        integration_id=server.integration_id,
                        name=upstream.name,
                        definition=definition,
                        definition_hash=digest,
                        approved_definition=definition if approved else None,
                        approved_hash=digest if approved else None,
                        refusal=refusal,
                    )
                )
            elif row.definition_hash != digest or row.refusal != refusal:
                row.definition = definition
                row.definition_hash = digest
                row.refusal = refusal
                if row.approved_hash is not None and row.approved_hash != digest:
                    logger.warning("remote_mcp_tool_changed", integration_id=server.integration_id, tool=upstream.name)
        for name, row in stored.items():
            if name not in seen:
                await repository.delete(row)
        server.tools_refreshed_at = utcnow()
        await session.flush()

    async def server(self, session: AsyncSession, principal: Principal, integration_id: str) -> RemoteMcpServer:
        server = await RemoteMcpServerRepository(session, principal.team_id).get(integration_id)
        if server is None:
            raise ResourceNotFound("Remote MCP server", integration_id)
        return server

    async def refresh(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        encryptor: Encryptor,
        token_manager: TokenManager,
        integration_id: str,
    ) -> RemoteToolList:
        server = await self.server(session, principal, integration_id)
        await self.refresh_server(session, settings, encryptor, token_manager, server)
        return await self._listing(session, server, None)

    async def refresh_server(
        self,
        session: AsyncSession,
        settings: Settings,
        encryptor: Encryptor,
        token_manager: TokenManager,
        server: RemoteMcpServer,
    ) -> None:
        """Asks the server for its tools and records them (a changed approved one is withheld from then on)."""
        access_token = None
        try:
            if server.auth_type == AuthType.oauth:
                access_token = await token_manager.access_token(server.integration_id)
            tools = await list_tools(server_target(encryptor, server, access_token), limits=upstream_limits(settings))
        except IntegrationExpired as exc:
            raise BadRequest(exc.message, details={"url": server.url}) from None
        except ProviderUnavailable as exc:
            raise BadGateway(exc.message, details={"url": server.url}) from None
        except UpstreamError as exc:
            raise _upstream_failure(exc, server.url) from None
        _check_tool_count(tools, server.url)
        await self._store_tools(session, server, tools, approve_new=False)

    async def tools(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        encryptor: Encryptor,
        token_manager: TokenManager,
        integration_id: str,
    ) -> RemoteToolList:
        """The stored tools, refreshed first when older than REMOTE_MCP_TOOLS_TTL_SECONDS; a server that cannot
        be asked now leaves them as they were, and says why."""
        server = await self.server(session, principal, integration_id)
        if not tools_stale(server, settings):
            return await self._listing(session, server, None)
        try:
            return await self.refresh(session, principal, settings, encryptor, token_manager, integration_id)
        except (BadGateway, BadRequest) as exc:
            return await self._listing(session, server, exc.message)

    async def stored_tools(self, session: AsyncSession, principal: Principal, integration_id: str) -> RemoteToolList:
        """The tools as last discovered, without asking the server."""
        return await self._listing(session, await self.server(session, principal, integration_id), None)

    async def approve(
        self, session: AsyncSession, principal: Principal, integration_id: str, name: str
    ) -> RemoteToolRead:
        server = await self.server(session, principal, integration_id)
        tool = await RemoteMcpToolRepository(session, principal.team_id).named(server.integration_id, name)
        if tool is None:
            raise ResourceNotFound("Remote MCP tool", name)
        if tool.refusal is not None:
            raise Conflict(f"The tool {name!r} cannot be approved: {tool.refusal}", details={"refusal": tool.refusal})
        tool.approved_definition = tool.definition
        tool.approved_hash = tool.definition_hash
        await session.flush()
        logger.info("remote_mcp_tool_approved", integration_id=server.integration_id, tool=name)
        return self._read_tool(server, tool)

    async def _listing(self, session: AsyncSession, server: RemoteMcpServer, error: str | None) -> RemoteToolList:
        tools = await RemoteMcpToolRepository(session, server.team_id).of_servers([server.integration_id])
        return RemoteToolList(
            tools=[self._read_tool(server, tool) for tool in tools],
            count=len(tools),
            refreshed_at=server.tools_refreshed_at,
            refresh_error=error,
        )

    def _read_tool(self, server: RemoteMcpServer, tool: RemoteMcpTool) -> RemoteToolRead:
        return RemoteToolRead(
            name=tool.name,
            exposed_name=integrity.exposed_name(server.slug, tool.name),
            status=tool.status,
            refusal=tool.refusal,
            definition=tool.definition,
            approved_definition=tool.approved_definition,
            changes=_changes(tool),
        )

    async def reads(
        self, session: AsyncSession, team_id: str, integrations: Sequence[Integration]
    ) -> Mapping[str, RemoteServerRead]:
        """What list and detail responses show of each remote server among `integrations` (never its secret)."""
        ids = [integration.id for integration in integrations if integration.provider == REMOTE_PROVIDER]
        repository = RemoteMcpServerRepository(session, team_id)
        servers = await repository.by_integration(ids)
        counts = await repository.tool_counts(ids)
        return {
            integration_id: RemoteServerRead(
                url=server.url,
                transport=Transport(server.transport),
                auth_type=AuthType(server.auth_type),
                slug=server.slug,
                tool_count=counts.get(integration_id, 0),
                server_info=ServerInfo(
                    name=server.server_name, version=server.server_version, protocol_version=server.protocol_version
                ),
                tools_refreshed_at=server.tools_refreshed_at,
            )
            for integration_id, server in servers.items()
        }

    async def enablement(
        self, session: AsyncSession, team_id: str, integration: Integration, requested: list[str] | None
    ) -> tuple[str, list[str]]:
        """The enablement's provider key (`mcp:<slug>`) and its tools: exposed names of approved tools only."""
        server = await RemoteMcpServerRepository(session, team_id).get(integration.id)
        if server is None:
            raise ResourceNotFound("Remote MCP server", integration.id)
        tools = await RemoteMcpToolRepository(session, team_id).of_servers([integration.id])
        statuses = {integrity.exposed_name(server.slug, tool.name): tool for tool in tools}
        approved = [name for name, tool in statuses.items() if tool.status is ToolStatus.approved]
        if requested is None:
            return enablement_provider(server.slug), approved
        withheld = {
            name: statuses[name].status.value for name in requested if name in statuses and name not in approved
        }
        unknown = [name for name in requested if name not in statuses]
        if unknown or withheld:
            problems = [f"unknown tools: {', '.join(unknown)}"] if unknown else []
            problems += [f"{name} is {status}, not approved" for name, status in withheld.items()]
            raise ValidationFailed(
                f"Cannot enable: {'; '.join(problems)}",
                details={
                    "fields": [{"field": "body.enabledTools", "message": "; ".join(problems), "type": "value_error"}],
                    "unknownTools": unknown,
                    "withheldTools": withheld,
                    "availableTools": approved,
                },
            )
        return enablement_provider(server.slug), [name for name in approved if name in set(requested)]


remote_mcp_service = RemoteMcpService()
