"""Every module that registers tasks, imported in one place (as `models.py` does for tables), so the web app,
the `worker` command and the in-process runner all know the same tasks."""

from platform_server.billing import tasks as billing_tasks
from platform_server.email import tasks as email_tasks
from platform_server.integrations import token_tasks
from platform_server.integrations.push import tasks as push_tasks
from platform_server.integrations.remote_mcp import federation as remote_mcp_federation
from platform_server.integrations.sync import jobs as sync_jobs
from platform_server.integrations.sync import schedule as sync_schedule
from platform_server.integrations.sync import triggers as sync_triggers
from platform_server.jobs import maintenance

__all__ = [
    "billing_tasks",
    "email_tasks",
    "maintenance",
    "push_tasks",
    "remote_mcp_federation",
    "sync_jobs",
    "sync_schedule",
    "sync_triggers",
    "token_tasks",
]
