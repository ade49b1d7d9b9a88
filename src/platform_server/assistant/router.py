from typing import Any

from fastapi import Request

from platform_server.assistant.schemas import (
    AiConversationRead,
    AiMessageCreate,
    AiMessageRead,
    AiReplyRead,
    AiUsageRead,
    AssistantToolCallRead,
)
from platform_server.assistant.service import assistant_service
from platform_server.auth.dependencies import CurrentPrincipal
from platform_server.db import SessionDep
from platform_server.errors import ErrorResponse, error_responses
from platform_server.pagination import PageDep, Paginated, Pagination
from platform_server.routing import PrefixedRouter

router = PrefixedRouter(
    prefix="/api/workspaces/{workspace_id}/ai", tags=["assistant"], responses=error_responses(401, 404, 422)
)

_MODEL_FAILURES: dict[int | str, dict[str, Any]] = {
    502: {"model": ErrorResponse, "description": "The AI model failed (`AI_MODEL_ERROR`); nothing was used"},
    504: {"model": ErrorResponse, "description": "The AI model timed out (`AI_MODEL_TIMEOUT`); nothing was used"},
}


@router.post(
    "/messages",
    operation_id="sendAiMessage",
    summary="Ask the workspace's AI assistant",
    responses={**error_responses(400, 429, 503), **_MODEL_FAILURES},
)
async def send_ai_message(
    request: Request, principal: CurrentPrincipal, session: SessionDep, workspace_id: str, body: AiMessageCreate
) -> AiReplyRead:
    """The assistant answers using the tools enabled for this workspace (the same tools, checks and audit as
    the MCP gateway; calls are listed by `GET .../tool-calls` with channel `assistant`). Each message uses one
    AI message of the plan's monthly allowance (Free: per team, Pro: per user): 429 `AI_QUOTA_EXCEEDED` when
    it is spent. 503 `AI_NOT_CONFIGURED` names the settings to set; 502 `AI_MODEL_ERROR` and 504
    `AI_MODEL_TIMEOUT` give the message back and store nothing of it."""
    turn = await assistant_service.send(
        request.app.state, session, principal, workspace_id, body.message, body.conversation_id
    )
    ticket = turn.ticket
    return AiReplyRead(
        conversation_id=turn.conversation.id,
        message_id=turn.reply.id,
        reply=turn.run.reply,
        tool_calls=[AssistantToolCallRead.model_validate(call) for call in turn.run.tool_calls],
        usage=AiUsageRead(used=ticket.used, limit=ticket.limit, scope=ticket.scope, resets_at=ticket.period.end),
        model=turn.model,
        steps=turn.run.steps,
        step_limit_reached=turn.run.step_limit_reached,
    )


@router.get("/conversations", operation_id="listAiConversations", summary="List your assistant conversations")
async def list_ai_conversations(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep, workspace_id: str
) -> Paginated[AiConversationRead]:
    """Your own conversations in this workspace, most recently active first."""
    conversations, total = await assistant_service.list_conversations(session, principal, workspace_id, page)
    return Paginated[AiConversationRead](
        data=[AiConversationRead.model_validate(item) for item in conversations],
        pagination=Pagination.of(page, total),
    )


@router.get(
    "/conversations/{conversation_id}/messages",
    operation_id="listAiMessages",
    summary="List the messages of one of your assistant conversations",
)
async def list_ai_messages(
    principal: CurrentPrincipal, session: SessionDep, page: PageDep, workspace_id: str, conversation_id: str
) -> Paginated[AiMessageRead]:
    """Oldest first: each of your messages followed by the assistant's reply and the tools it called. Someone
    else's conversation answers 404."""
    messages, total = await assistant_service.list_messages(session, principal, workspace_id, conversation_id, page)
    return Paginated[AiMessageRead](
        data=[AiMessageRead.model_validate(item) for item in messages], pagination=Pagination.of(page, total)
    )
