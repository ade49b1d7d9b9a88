"""The one tool executor: MCP `tools/call`, the REST form and the AI assistant all run tools through it.

A call is checked (the tool exists, is enabled for the workspace, its integration is connected), its arguments
are completed (`defaultProject`) and validated against the tool's JSON Schema, the tool runs against the
provider with the team's stored credentials (refreshed by the token manager as needed), and the outcome is
audited. Every failure a model can do something about comes back as a `ToolReport` with an actionable message,
never as an exception.

Call it with no write transaction open: the token refresh and the audit row commit in sessions of their own
(they must survive a rollback of the caller's work; the audit row is written by `AuditWriter`, off the call's
path), and on SQLite an open write would block them.
"""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

import mcp_types as mcp
import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from platform_server.auth.principal import Principal
from platform_server.errors import ResourceNotFound
from platform_server.gateway.audit import AuditEntry, argument_names
from platform_server.gateway.models import ToolCallChannel, ToolCallOutcome
from platform_server.gateway.repository import Enablement, WorkspaceTools, WorkspaceToolsRepository
from platform_server.integrations.models import Integration, IntegrationStatus
from platform_server.integrations.providers.client import (
    IntegrationExpired,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from platform_server.integrations.providers.toolspec import ToolSpec
from platform_server.integrations.registry import PROVIDER_CLASSES
from platform_server.integrations.remote_mcp.federation import RemoteTool, call_remote, expire_server
from platform_server.integrations.remote_mcp.models import REMOTE_PROVIDER, AuthType, ToolStatus
from platform_server.integrations.remote_mcp.upstream import (
    UpstreamError,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnauthorized,
)
from platform_server.limits.limiter import request_limiter
from platform_server.log import get_logger
from platform_server.metrics.registry import record_tool_call
from platform_server.security import DecryptionError

logger = get_logger(__name__)

_MAX_REPORTED_ERRORS = 10
# Where an MCP error result carries its code for programs: `structuredContent` must match the tool's output
# schema, which describes success only, so an error leaves it out (validating clients would reject it).
ERROR_META_KEY = "platform/error"


class ToolErrorCode(StrEnum):
    unknown_tool = "UNKNOWN_TOOL"
    tool_not_enabled = "TOOL_NOT_ENABLED"
    integration_not_connected = "INTEGRATION_NOT_CONNECTED"
    integration_expired = "INTEGRATION_EXPIRED"
    invalid_arguments = "INVALID_ARGUMENTS"
    rate_limited = "RATE_LIMITED"
    provider_not_found = "PROVIDER_NOT_FOUND"
    provider_forbidden = "PROVIDER_FORBIDDEN"
    provider_rate_limited = "PROVIDER_RATE_LIMITED"
    provider_bad_request = "PROVIDER_BAD_REQUEST"
    provider_unavailable = "PROVIDER_UNAVAILABLE"
    # Remote MCP servers' tools.
    tool_changed_upstream = "TOOL_CHANGED_UPSTREAM"
    upstream_tool_error = "UPSTREAM_TOOL_ERROR"
    upstream_timeout = "UPSTREAM_TIMEOUT"
    upstream_too_large = "UPSTREAM_TOO_LARGE"
    upstream_unavailable = "UPSTREAM_UNAVAILABLE"
    internal_error = "INTERNAL_ERROR"


_PROVIDER_ERROR_CODES = {
    "not_found": ToolErrorCode.provider_not_found,
    "forbidden": ToolErrorCode.provider_forbidden,
    "rate_limited": ToolErrorCode.provider_rate_limited,
    "bad_request": ToolErrorCode.provider_bad_request,
    "unavailable": ToolErrorCode.provider_unavailable,
    "integration_expired": ToolErrorCode.integration_expired,
}


_MAX_PROJECT_FORMS = 1_000


@dataclass(frozen=True)
class GatewayTool:
    """A provider's ToolSpec, with what serving it needs computed once: its MCP form and its validator."""

    spec: ToolSpec
    # The tool as seen with each default project, built on first use: every tools/list serves them.
    _project_forms: dict[str, mcp.Tool] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def provider(self) -> str:
        return self.spec.provider

    @cached_property
    def mcp_tool(self) -> mcp.Tool:
        return self._to_mcp(dict(self.spec.input_schema))

    def for_workspace(self, default_project: str | None) -> mcp.Tool:
        """The tool as a workspace sees it: an argument its `defaultProject` fills is no longer required."""
        argument = self.spec.default_project_argument
        if default_project is None or argument is None:
            return self.mcp_tool
        tool = self._project_forms.get(default_project)
        if tool is None:
            if len(self._project_forms) >= _MAX_PROJECT_FORMS:
                self._project_forms.clear()
            tool = self._project_forms[default_project] = self._with_default(argument, default_project)
        return tool

    def _with_default(self, argument: str, default_project: str) -> mcp.Tool:
        schema = json.loads(json.dumps(self.spec.input_schema))
        schema["required"] = [name for name in schema.get("required", []) if name != argument]
        prop = schema.get("properties", {}).get(argument)
        if isinstance(prop, dict):
            project = orjson.dumps(default_project).decode()
            prop["description"] = (
                f"{prop.get('description', '')} Defaults to this workspace's project {project}."
            ).strip()
        return self._to_mcp(schema)

    def _to_mcp(self, input_schema: dict[str, Any]) -> mcp.Tool:
        spec = self.spec
        return mcp.Tool(
            name=spec.name,
            title=spec.title,
            description=spec.description,
            input_schema=input_schema,
            output_schema=dict(spec.output_schema),
            annotations=mcp.ToolAnnotations.model_validate(spec.annotations),
        )


def _build_catalog() -> dict[str, GatewayTool]:
    tools = (GatewayTool(spec) for cls in PROVIDER_CLASSES.values() for spec in cls.tools)
    return {tool.name: tool for tool in sorted(tools, key=lambda tool: tool.name)}


CATALOG: dict[str, GatewayTool] = _build_catalog()


def input_schema(tool_name: str) -> Mapping[str, Any] | None:
    tool = CATALOG.get(tool_name)
    return tool.spec.input_schema if tool is not None else None


@dataclass(frozen=True)
class ToolReport:
    """What a call came to; `message` is written for the model (or person) that made the call."""

    tool: str
    tool_call_id: str
    outcome: ToolCallOutcome
    result: dict[str, Any] | None = None
    error_code: ToolErrorCode | None = None
    message: str = ""
    retry_after_seconds: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # A remote MCP server's result, passed on unchanged (content, structuredContent, isError).
    passthrough: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is ToolCallOutcome.success

    def error_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error_code, "message": self.message, **self.details}
        if self.retry_after_seconds is not None:
            body["retryAfterSeconds"] = self.retry_after_seconds
        return body

    def error_meta(self) -> dict[str, Any]:
        """The error for programs (its code, `retryAfterSeconds`, details); the message is in `content`."""
        body = self.error_body()
        del body["message"]
        return {ERROR_META_KEY: body}

    def to_wire(self) -> dict[str, Any]:
        """The MCP `CallToolResult` in its wire form (camelCase), as the SDK would serialize it."""
        if self.passthrough is not None:
            return dict(self.passthrough)
        if self.ok:
            result = self.result or {}
            text = orjson.dumps(result, default=str).decode()
            return {"content": [{"type": "text", "text": text}], "structuredContent": result, "isError": False}
        # The model reads `content`; the message in it says what to do.
        return {"content": [{"type": "text", "text": self.message}], "isError": True, "_meta": self.error_meta()}

    def to_mcp(self) -> mcp.CallToolResult:
        return mcp.CallToolResult.model_validate(self.to_wire())


@dataclass(frozen=True)
class _Refusal:
    outcome: ToolCallOutcome
    code: ToolErrorCode
    message: str
    retry_after_seconds: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


class ToolExecutor:
    async def load_workspace(self, session: AsyncSession, principal: Principal, workspace_id: str) -> WorkspaceTools:
        workspace = await WorkspaceToolsRepository(session, principal.team_id).get(workspace_id)
        if workspace is None:
            raise ResourceNotFound("Workspace", workspace_id)
        return workspace

    def enabled_tools(self, workspace: WorkspaceTools) -> list[mcp.Tool]:
        """The workspace's enabled tools of connected integrations, native ones in name order, then the remote
        servers' approved ones; a remote tool changed upstream is withheld until approved again."""
        tools = []
        for tool in CATALOG.values():
            enablement = workspace.by_provider.get(tool.provider)
            if (
                enablement is not None
                and enablement.allows(tool.name)
                and enablement.integration.status == IntegrationStatus.connected
            ):
                tools.append(tool.for_workspace(enablement.access.default_project))
        for name in sorted(workspace.remote):
            remote = workspace.remote[name]
            enablement = workspace.by_provider.get(remote.provider)
            if (
                remote.mcp_tool is not None
                and enablement is not None
                and enablement.allows(name)
                and enablement.integration.status == IntegrationStatus.connected
            ):
                tools.append(remote.mcp_tool)
        return tools

    async def call(
        self,
        state: State,
        principal: Principal,
        workspace: WorkspaceTools,
        tool_name: str,
        arguments: Mapping[str, Any] | None,
        channel: ToolCallChannel,
    ) -> ToolReport:
        started = time.perf_counter()
        arguments = dict(arguments or {})
        tool = CATALOG.get(tool_name)
        remote = workspace.remote.get(tool_name) if tool is None else None
        if remote is not None:
            return await self._call_remote(state, principal, workspace, remote, arguments, channel, started)
        enablement = workspace.by_provider.get(tool.provider) if tool is not None else None
        result: dict[str, Any] | None = None
        refusal = self._check(tool_name, tool, enablement)
        if refusal is None and tool is not None and enablement is not None:
            refusal = self._complete_and_validate(tool, enablement, arguments)
            if refusal is None and channel is ToolCallChannel.assistant:
                refusal = await self._count_against_request_limit(state, principal, tool.name)
            if refusal is None:
                result, refusal = await self._execute(state, tool, enablement, arguments)
        audit = _Audit(
            tool_name,
            tool.provider if tool is not None else None,
            enablement.integration.id if enablement is not None else None,
            channel,
            arguments,
            started,
        )
        return await self._finish(state, principal, workspace, audit, refusal, result=result)

    async def _call_remote(
        self,
        state: State,
        principal: Principal,
        workspace: WorkspaceTools,
        tool: RemoteTool,
        arguments: dict[str, Any],
        channel: ToolCallChannel,
        started: float,
    ) -> "ToolReport":
        """A remote server's tool: checked like a native one (enabled, approved, connected), then its arguments
        go upstream as they came (the upstream validates them) and its result comes back unchanged."""
        enablement = workspace.by_provider.get(tool.provider)
        refusal = self._check_remote(tool, enablement)
        if refusal is None and channel is ToolCallChannel.assistant:
            refusal = await self._count_against_request_limit(state, principal, tool.exposed_name)
        passthrough = None
        if refusal is None and enablement is not None:
            passthrough, refusal = await self._execute_remote(state, tool, enablement.integration, arguments)
        audit = _Audit(tool.exposed_name, REMOTE_PROVIDER, tool.server.integration_id, channel, arguments, started)
        return await self._finish(state, principal, workspace, audit, refusal, passthrough=passthrough)

    async def _finish(
        self,
        state: State,
        principal: Principal,
        workspace: WorkspaceTools,
        audit: "_Audit",
        refusal: "_Refusal | None",
        *,
        result: dict[str, Any] | None = None,
        passthrough: dict[str, Any] | None = None,
    ) -> "ToolReport":
        """Audits the call and answers its report."""
        elapsed = time.perf_counter() - audit.started
        duration_ms = round(elapsed * 1000)
        outcome = ToolCallOutcome.success if refusal is None else refusal.outcome
        record_tool_call(audit.tool if audit.provider is not None else None, outcome, audit.channel, elapsed)
        tool_call_id = await state.audit_writer.record(
            AuditEntry(
                principal=principal,
                workspace_id=workspace.workspace_id,
                tool=audit.tool,
                provider=audit.provider,
                integration_id=audit.integration_id,
                channel=audit.channel,
                outcome=outcome,
                error_code=refusal.code if refusal is not None else None,
                argument_names=argument_names(audit.arguments),
                duration_ms=duration_ms,
            ),
        )
        if refusal is None:
            return ToolReport(audit.tool, tool_call_id, outcome, result=result, passthrough=passthrough)
        return ToolReport(
            audit.tool,
            tool_call_id,
            outcome,
            error_code=refusal.code,
            message=refusal.message,
            retry_after_seconds=refusal.retry_after_seconds,
            details=refusal.details,
            passthrough=passthrough,
        )

    async def _count_against_request_limit(self, state: State, principal: Principal, tool_name: str) -> _Refusal | None:
        """An MCP or REST call is a request and was counted as one; the assistant's calls are counted here."""
        wait = await request_limiter(state).seconds_until_allowed(principal)
        if wait is None:
            return None
        return _Refusal(
            ToolCallOutcome.rejected,
            ToolErrorCode.rate_limited,
            f"Your per-minute request limit is used up. Wait {wait} seconds before calling {tool_name} again.",
            retry_after_seconds=wait,
        )

    def _check(self, tool_name: str, tool: GatewayTool | None, enablement: Enablement | None) -> _Refusal | None:
        rejected = ToolCallOutcome.rejected
        if tool is None:
            return _Refusal(rejected, ToolErrorCode.unknown_tool, f"Unknown tool: {tool_name}")
        title = PROVIDER_CLASSES[tool.provider].display_name
        if enablement is None or not enablement.allows(tool.name):
            return _Refusal(
                rejected,
                ToolErrorCode.tool_not_enabled,
                f"The tool {tool.name} is not enabled for this workspace. Use one of the tools listed for it, or "
                f"ask a team admin to enable {tool.name} on the workspace's {title} integration.",
            )
        return _status_refusal(title, tool.name, enablement.integration)

    def _check_remote(self, tool: RemoteTool, enablement: Enablement | None) -> _Refusal | None:
        rejected = ToolCallOutcome.rejected
        title = enablement.integration.name if enablement is not None else tool.server.slug
        if enablement is None or not enablement.allows(tool.exposed_name):
            return _Refusal(
                rejected,
                ToolErrorCode.tool_not_enabled,
                f"The tool {tool.exposed_name} is not enabled for this workspace. Use one of the tools listed for "
                f"it, or ask a team admin to enable {tool.exposed_name} on the workspace's {title} integration.",
            )
        if tool.status is not ToolStatus.approved:
            why = f" ({tool.refusal})" if tool.refusal else ""
            return _Refusal(
                rejected,
                ToolErrorCode.tool_changed_upstream,
                f"The tool {tool.exposed_name} changed on the remote server {title} since a team admin approved "
                f"it{why}, so it is withheld. Ask a team admin to review and approve the change in Settings → "
                f"Integrations.",
                details={"status": tool.status.value},
            )
        return _status_refusal(title, tool.exposed_name, enablement.integration)

    def _complete_and_validate(
        self, tool: GatewayTool, enablement: Enablement, arguments: dict[str, Any]
    ) -> _Refusal | None:
        argument = tool.spec.default_project_argument
        default_project = enablement.access.default_project
        if argument is not None and default_project and arguments.get(argument) in (None, ""):
            arguments[argument] = default_project
        errors = tool.spec.validation_errors(arguments)
        if not errors:
            return None
        shown = errors[:_MAX_REPORTED_ERRORS]
        return _Refusal(
            ToolCallOutcome.rejected,
            ToolErrorCode.invalid_arguments,
            f"Invalid arguments for {tool.name}: {'; '.join(shown)}. Correct them to match the tool's input "
            f"schema and call it again.",
            details={"errors": shown},
        )

    async def _execute_remote(
        self, state: State, tool: RemoteTool, integration: Integration, arguments: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, _Refusal | None]:
        error = ToolCallOutcome.error
        name = tool.exposed_name
        try:
            wire = await self._call_upstream(state, tool, integration, arguments)
        except IntegrationExpired as exc:
            return None, _Refusal(error, ToolErrorCode.integration_expired, f"{exc.message}. {name} cannot run now.")
        except ProviderUnavailable as exc:
            return None, _Refusal(error, ToolErrorCode.upstream_unavailable, f"{name} failed: {exc.message}")
        except UpstreamTimeout as exc:
            return None, _Refusal(
                error,
                ToolErrorCode.upstream_timeout,
                f"{name} failed: {exc.message}. Try again later, or ask for less.",
            )
        except UpstreamTooLarge as exc:
            return None, _Refusal(
                error, ToolErrorCode.upstream_too_large, f"{name} failed: {exc.message}. Ask for a smaller result."
            )
        except (UpstreamUnauthorized, DecryptionError):
            reason = "the remote server refused the stored credentials"
            await expire_server(state.sessionmaker, integration, reason)
            return None, _Refusal(
                error,
                ToolErrorCode.integration_expired,
                f"The remote server {integration.name} refused the stored credentials. A team admin must reconnect "
                f"it in Settings → Integrations before {name} can run.",
            )
        except UpstreamError as exc:
            return None, _Refusal(
                error, ToolErrorCode.upstream_unavailable, f"{name} failed: {exc.message}. Try again later."
            )
        except Exception:
            logger.exception("remote_tool_failed", tool=name, integration_id=integration.id)
            return None, _Refusal(
                error,
                ToolErrorCode.internal_error,
                f"{name} failed unexpectedly on our side; the error was logged. Try again later.",
            )
        if wire.get("isError") is True:
            return wire, _Refusal(error, ToolErrorCode.upstream_tool_error, _first_text(wire) or f"{name} failed")
        return wire, None

    async def _call_upstream(
        self, state: State, tool: RemoteTool, integration: Integration, arguments: dict[str, Any]
    ) -> dict[str, Any]:
        """A server connected with OAuth gets the integration's access token, from the token manager that
        refreshes native providers' (before expiry, single flight); a token the server refuses is refreshed
        and the call made once more."""
        if tool.server.auth_type != AuthType.oauth:
            return await call_remote(state.settings, state.encryptor, tool, arguments)
        tokens = state.token_manager.source(integration.id, loaded=integration)
        try:
            return await call_remote(state.settings, state.encryptor, tool, arguments, await tokens.access_token())
        except UpstreamUnauthorized:
            access_token = await tokens.refresh_after_unauthorized()
        return await call_remote(state.settings, state.encryptor, tool, arguments, access_token)

    async def _execute(
        self, state: State, tool: GatewayTool, enablement: Enablement, arguments: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, _Refusal | None]:
        # The client's own credential never leaves this process: the provider sees only the team's stored token.
        client = state.token_manager.client_for(enablement.integration)
        try:
            return await tool.spec.execute(client, arguments), None
        except ProviderRateLimited as exc:
            return None, _Refusal(
                ToolCallOutcome.error,
                ToolErrorCode.provider_rate_limited,
                f"{exc.message}. Wait {exc.retry_after_seconds} seconds before calling {tool.name} again.",
                retry_after_seconds=exc.retry_after_seconds,
            )
        except IntegrationExpired as exc:
            return None, _Refusal(ToolCallOutcome.error, ToolErrorCode.integration_expired, exc.message)
        except ProviderError as exc:
            code = _PROVIDER_ERROR_CODES.get(exc.code, ToolErrorCode.provider_bad_request)
            return None, _Refusal(ToolCallOutcome.error, code, exc.message)
        except Exception:
            logger.exception("tool_execution_failed", tool=tool.name, integration_id=enablement.integration.id)
            return None, _Refusal(
                ToolCallOutcome.error,
                ToolErrorCode.internal_error,
                f"{tool.name} failed unexpectedly on our side; the error was logged. Try again later.",
            )


@dataclass(frozen=True, slots=True)
class _Audit:
    """What the audit row of a call records besides its outcome."""

    tool: str
    provider: str | None
    integration_id: str | None
    channel: ToolCallChannel
    arguments: Mapping[str, Any]
    started: float


def _status_refusal(title: str, tool_name: str, integration: Integration) -> _Refusal | None:
    rejected = ToolCallOutcome.rejected
    status = integration.status
    if status == IntegrationStatus.expired:
        return _Refusal(
            rejected,
            ToolErrorCode.integration_expired,
            f"The {title} connection has expired or was revoked. A team admin must reconnect {title} in "
            f"Settings → Integrations before {tool_name} can run.",
        )
    if status != IntegrationStatus.connected:
        reason = integration.status_reason
        return _Refusal(
            rejected,
            ToolErrorCode.integration_not_connected,
            f"The {title} integration is {status}{f' ({reason})' if reason else ''}, so {tool_name} cannot "
            f"run now. Try again later, or ask a team admin to reconnect {title}.",
        )
    return None


def _first_text(wire: Mapping[str, Any]) -> str | None:
    for block in wire.get("content") or ():
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            return str(block["text"])[:2000]
    return None


tool_executor = ToolExecutor()
