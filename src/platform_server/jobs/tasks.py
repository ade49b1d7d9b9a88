"""Every module that registers tasks, imported in one place (as `models.py` does for tables), so the web app,
the `worker` command and the in-process runner all know the same tasks."""

from platform_server.integrations.sync import jobs as sync_jobs

__all__ = ["sync_jobs"]
