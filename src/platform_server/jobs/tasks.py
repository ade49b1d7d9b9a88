"""Every module that registers tasks, imported in one place (as `models.py` does for tables), so the web app,
the `worker` command and the in-process runner all know the same tasks."""

from platform_server.billing import tasks as billing_tasks
from platform_server.email import tasks as email_tasks
from platform_server.integrations import token_tasks
from platform_server.integrations.sync import jobs as sync_jobs
from platform_server.jobs import maintenance

__all__ = ["billing_tasks", "email_tasks", "maintenance", "sync_jobs", "token_tasks"]
