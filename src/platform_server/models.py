"""Every ORM model, imported in one place so metadata (and Alembic) sees the whole schema."""

from platform_server.assistant.models import AiConversation, AiMessage
from platform_server.auth.models import ApiKey
from platform_server.billing.models import StripePendingEvent, StripeSubscription
from platform_server.email.models import Email, EmailSuppression
from platform_server.features.models import Feature
from platform_server.gateway.models import ToolCall
from platform_server.integrations.models import (
    Integration,
    OAuthState,
    PushWebhook,
    SyncLog,
    WorkspaceIntegration,
)
from platform_server.integrations.remote_mcp.models import RemoteMcpServer, RemoteMcpTool
from platform_server.integrations.sync.repository import RUNNING_GUARD
from platform_server.jobs.models import LOCK_GUARD, QUEUEING_LOCK_GUARD, Job
from platform_server.limits.models import AiUsage
from platform_server.oauth_server.models import OAuthAuthorizationCode, OAuthClient, OAuthConsent, OAuthToken
from platform_server.teams.models import Team, User
from platform_server.web.models import WebSession
from platform_server.webhook_events.models import WebhookEvent
from platform_server.work_items.models import WorkItem
from platform_server.workspaces.models import Workspace

__all__ = [
    "LOCK_GUARD",
    "QUEUEING_LOCK_GUARD",
    "RUNNING_GUARD",
    "AiConversation",
    "AiMessage",
    "AiUsage",
    "ApiKey",
    "Email",
    "EmailSuppression",
    "Feature",
    "Integration",
    "Job",
    "OAuthAuthorizationCode",
    "OAuthClient",
    "OAuthConsent",
    "OAuthState",
    "OAuthToken",
    "PushWebhook",
    "RemoteMcpServer",
    "RemoteMcpTool",
    "StripePendingEvent",
    "StripeSubscription",
    "SyncLog",
    "Team",
    "ToolCall",
    "User",
    "WebSession",
    "WebhookEvent",
    "WorkItem",
    "Workspace",
    "WorkspaceIntegration",
]
