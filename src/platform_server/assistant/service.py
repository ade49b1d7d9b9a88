"""The workspace assistant: one user message → a model loop over the workspace's enabled tools → one reply.

A turn: check the model is configured, the workspace and conversation exist; take one AI message from the
quota; end the request's transaction (so no lock and no connection is held during the slow model calls, and
the executor, which writes its audit in sessions of its own, is not blocked on SQLite); call the model with the
enabled tools offered as functions, run each call it asks for through the gateway's executor (same enabled
check, validation and audit as MCP), feed the results back, up to AI_MAX_STEPS model calls; then store the
user's message and the reply together. If anything fails the unit is refunded and nothing of the turn is
stored (tool calls that did run stay in the audit, as they happened).
"""

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import anyio
import mcp_types as mcp
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from platform_server.assistant.client import ChatClient, ModelToolCall, not_configured
from platform_server.assistant.models import AiConversation, AiMessage, AiMessageRole
from platform_server.assistant.repository import ConversationRepository, MessageRepository
from platform_server.auth.principal import Principal
from platform_server.db import utcnow
from platform_server.errors import ResourceNotFound
from platform_server.gateway.executor import ToolErrorCode, tool_executor
from platform_server.gateway.models import ToolCallChannel, ToolCallOutcome
from platform_server.gateway.repository import WorkspaceTools
from platform_server.ids import new_id
from platform_server.limits.quota import AiQuotaTicket, consume_ai_message, refund_ai_message
from platform_server.pagination import PageParams
from platform_server.workspaces.service import workspace_service

# Earlier messages sent along with a new one: enough for follow-up questions, bounded so a long conversation
# does not grow every request (and its cost) without limit. Earlier tool results are not resent.
HISTORY_MESSAGES = 20
# A tool result longer than this is cut before it goes back to the model (a page of issues is far smaller).
MAX_TOOL_RESULT_CHARS = 20_000
TITLE_LENGTH = 80
_MAX_TOOL_NAME = 128

SYSTEM_PROMPT = (
    "You are the assistant of a Platform workspace. Platform connects the team's tools (GitHub, Jira, Linear, "
    "Notion, Slack, Figma); the functions you are given are the tools enabled for this workspace. Use them to "
    "look things up or act, and answer from their results; never invent data. When a tool is refused or "
    "fails, say which and why, and what the user can do about it. Answer concisely."
)


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    name: str
    arguments: dict[str, Any]
    outcome: ToolCallOutcome
    duration_ms: int
    error_code: str | None = None
    tool_call_id: str | None = None


@dataclass(slots=True)
class ModelRun:
    reply: str
    steps: int
    step_limit_reached: bool
    tool_calls: list[ToolCallRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Turn:
    conversation: AiConversation
    reply: AiMessage
    run: ModelRun
    ticket: AiQuotaTicket
    model: str


def openai_function(tool: mcp.Tool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description or "", "parameters": tool.input_schema},
    }


def _parse_arguments(text: str) -> dict[str, Any] | None:
    try:
        arguments = json.loads(text) if text.strip() else {}
    except ValueError:
        return None
    return arguments if isinstance(arguments, dict) else None


def _for_model(content: str) -> str:
    if len(content) <= MAX_TOOL_RESULT_CHARS:
        return content
    return content[:MAX_TOOL_RESULT_CHARS] + " … (cut: the result was too long; ask for fewer items)"


class AssistantService:
    async def send(
        self,
        state: State,
        session: AsyncSession,
        principal: Principal,
        workspace_id: str,
        message: str,
        conversation_id: str | None,
    ) -> Turn:
        client: ChatClient | None = state.ai_client
        if client is None:
            raise not_configured()
        workspace = await tool_executor.load_workspace(session, principal, workspace_id)
        conversation = None
        history: list[AiMessage] = []
        if conversation_id is not None:
            conversation = await ConversationRepository(session, principal.team_id).get_own(
                workspace_id, principal.user_id, conversation_id
            )
            if conversation is None:
                raise ResourceNotFound("Conversation", conversation_id)
            history = await MessageRepository(session, principal.team_id).latest(conversation.id, HISTORY_MESSAGES)
        ticket = await consume_ai_message(state, principal, session)
        try:
            # The one transaction boundary inside a service: the quota unit is committed (on SQLite it was
            # taken in this session) before the model turn, which may take AI_TIMEOUT_SECONDS per step.
            await session.commit()
            run = await self._run(state, client, principal, workspace, history, message)
            conversation, reply = await self._store(session, principal, workspace_id, conversation, message, run)
        except BaseException:
            with anyio.CancelScope(shield=True):
                # Roll back first: on SQLite a half-done write here would block the refund's own session.
                await session.rollback()
                await refund_ai_message(state, ticket)
            raise
        return Turn(conversation, reply, run, ticket, client.endpoint.model)

    async def _run(
        self,
        state: State,
        client: ChatClient,
        principal: Principal,
        workspace: WorkspaceTools,
        history: Sequence[AiMessage],
        message: str,
    ) -> ModelRun:
        tools = [openai_function(tool) for tool in tool_executor.enabled_tools(workspace)]
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            *({"role": item.role, "content": item.content} for item in history),
            {"role": "user", "content": message},
        ]
        max_steps = max(1, state.settings.AI_MAX_STEPS)
        run = ModelRun(reply="", steps=0, step_limit_reached=False)
        for step in range(1, max_steps + 1):
            last = step == max_steps
            completion = await client.complete(messages, tools, allow_tools=not last)
            run.steps = step
            # On the last step the model was told not to call tools; any it asks for anyway are not run.
            run.step_limit_reached = last and bool(tools)
            if not completion.tool_calls or last:
                run.reply = completion.content or (
                    f"I could not finish within {max_steps} steps (AI_MAX_STEPS); ask again with a narrower question."
                    if completion.tool_calls
                    else ""
                )
                return run
            messages.append(completion.message)
            for call in completion.tool_calls:
                record, content = await self._call_tool(state, principal, workspace, call)
                run.tool_calls.append(record)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": _for_model(content)})
        raise AssertionError("the loop returns on its last step")

    async def _call_tool(
        self, state: State, principal: Principal, workspace: WorkspaceTools, call: ModelToolCall
    ) -> tuple[ToolCallRecord, str]:
        name = call.name[:_MAX_TOOL_NAME]
        arguments = _parse_arguments(call.arguments)
        if arguments is None:
            # Never reaches the executor (there is nothing to validate); the model is told and may retry.
            message = f"The arguments for {name} are not a JSON object; call it again with a JSON object."
            body = {"error": ToolErrorCode.invalid_arguments, "message": message}
            record = ToolCallRecord(name, {}, ToolCallOutcome.rejected, 0, ToolErrorCode.invalid_arguments)
            return record, json.dumps(body)
        started = time.perf_counter()
        report = await tool_executor.call(state, principal, workspace, name, arguments, ToolCallChannel.assistant)
        duration_ms = round((time.perf_counter() - started) * 1000)
        # A remote MCP server's result is passed on as it answered it (content blocks, isError).
        content = report.passthrough or (report.result if report.ok else report.error_body())
        record = ToolCallRecord(
            name,
            arguments,
            report.outcome,
            duration_ms,
            report.error_code.value if report.error_code is not None else None,
            report.tool_call_id,
        )
        return record, json.dumps(content, separators=(",", ":"), ensure_ascii=False, default=str)

    async def _store(
        self,
        session: AsyncSession,
        principal: Principal,
        workspace_id: str,
        conversation: AiConversation | None,
        message: str,
        run: ModelRun,
    ) -> tuple[AiConversation, AiMessage]:
        now = utcnow()
        if conversation is None:
            title = " ".join(message.split())[:TITLE_LENGTH] or "Conversation"
            conversation = AiConversation(
                id=new_id(),
                team_id=principal.team_id,
                workspace_id=workspace_id,
                user_id=principal.user_id,
                title=title,
                created_at=now,
                updated_at=now,
            )
            session.add(conversation)
        else:
            # Still attached to the session: the commit before the model turn does not expire or detach it.
            conversation.updated_at = now
        messages = MessageRepository(session, principal.team_id)
        # Ids minted in order: the question sorts before its reply.
        messages.add(
            AiMessage(
                id=new_id(),
                team_id=principal.team_id,
                conversation_id=conversation.id,
                role=AiMessageRole.user,
                content=message,
                tool_calls=[],
                created_at=now,
            )
        )
        reply = messages.add(
            AiMessage(
                id=new_id(),
                team_id=principal.team_id,
                conversation_id=conversation.id,
                role=AiMessageRole.assistant,
                content=run.reply,
                tool_calls=[asdict(record) for record in run.tool_calls],
                created_at=now,
            )
        )
        await session.flush()
        return conversation, reply

    async def list_conversations(
        self, session: AsyncSession, principal: Principal, workspace_id: str, params: PageParams
    ) -> tuple[Sequence[AiConversation], int]:
        await workspace_service.get(session, principal, workspace_id)
        return await ConversationRepository(session, principal.team_id).list_page(
            workspace_id, principal.user_id, params
        )

    async def list_messages(
        self,
        session: AsyncSession,
        principal: Principal,
        workspace_id: str,
        conversation_id: str,
        params: PageParams,
    ) -> tuple[Sequence[AiMessage], int]:
        await workspace_service.get(session, principal, workspace_id)
        conversation = await ConversationRepository(session, principal.team_id).get_own(
            workspace_id, principal.user_id, conversation_id
        )
        if conversation is None:
            raise ResourceNotFound("Conversation", conversation_id)
        return await MessageRepository(session, principal.team_id).list_page(conversation.id, params)


assistant_service = AssistantService()
