"""Every task module, imported once so that their tasks are in `registry.TASKS`: the web app (which defers)
and the job runners (which run) both import this module."""

from platform_server.billing import tasks as billing_tasks
from platform_server.email import tasks as email_tasks
from platform_server.integrations import token_tasks
from platform_server.jobs import maintenance

TASK_MODULES = (billing_tasks, email_tasks, token_tasks, maintenance)
