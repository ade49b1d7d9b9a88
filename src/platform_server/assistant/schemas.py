from typing import Any, Literal

from pydantic import Field

from platform_server.assistant.models import AiMessageRole
from platform_server.gateway.models import ToolCallOutcome
from platform_server.schemas import InputSchema, ObjectId, Schema, UtcDatetime

MAX_MESSAGE_LENGTH = 8000


class AiMessageCreate(InputSchema):
    message: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_LENGTH,
        description="What to ask the workspace's assistant",
        examples=["Which issues are open in acme/product?"],
    )
    conversation_id: ObjectId | None = Field(
        default=None, description="Continue this conversation of yours; omit to start a new one"
    )


class AssistantToolCallRead(Schema):
    name: str = Field(examples=["github_list_issues"])
    arguments: dict[str, Any] = Field(
        description="The arguments the model passed", examples=[{"repo": "acme/product", "state": "open"}]
    )
    outcome: ToolCallOutcome = Field(
        description="`success`; `rejected` before reaching the provider (not enabled, invalid arguments); "
        "`error` when the provider failed",
        examples=["success"],
    )
    duration_ms: int = Field(examples=[84])
    error_code: str | None = Field(
        default=None, description="Why it did not succeed, e.g. `TOOL_NOT_ENABLED`", examples=[None]
    )
    tool_call_id: str | None = Field(
        default=None,
        description="The call's audit record (`GET .../tool-calls`); null when it never reached the executor",
        examples=["7390123456789012399"],
    )


class AiUsageRead(Schema):
    used: int = Field(description="AI messages used this month, this one included", examples=[12])
    limit: int = Field(examples=[50])
    scope: Literal["team", "user"] = Field(
        description="`team`: one allowance shared by the team (Free); `user`: one per user (Pro)", examples=["team"]
    )
    resets_at: UtcDatetime = Field(examples=["2026-12-01T00:00:00Z"])


class AiReplyRead(Schema):
    conversation_id: str = Field(examples=["7390123456789012500"])
    message_id: str = Field(description="The stored reply", examples=["7390123456789012502"])
    reply: str = Field(examples=["acme/product has 2 open issues: #1 Login fails on Safari; #2 Export to CSV."])
    tool_calls: list[AssistantToolCallRead] = Field(description="The tools the model called, in order")
    usage: AiUsageRead
    model: str = Field(examples=["gpt-4o-mini"])
    steps: int = Field(description="Model calls made for this message (at most AI_MAX_STEPS)", examples=[2])
    step_limit_reached: bool = Field(
        description="True when the model had to answer without further tool calls because of AI_MAX_STEPS",
        examples=[False],
    )


class AiConversationRead(Schema):
    id: str = Field(examples=["7390123456789012500"])
    workspace_id: str = Field(examples=["7390123456789012345"])
    title: str = Field(description="The start of its first message", examples=["Which issues are open?"])
    created_at: UtcDatetime
    updated_at: UtcDatetime


class AiMessageRead(Schema):
    id: str = Field(examples=["7390123456789012501"])
    conversation_id: str = Field(examples=["7390123456789012500"])
    role: AiMessageRole = Field(examples=["user"])
    content: str = Field(examples=["Which issues are open in acme/product?"])
    tool_calls: list[AssistantToolCallRead] = Field(description="The assistant's tool calls of that turn")
    created_at: UtcDatetime
