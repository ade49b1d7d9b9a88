"""Jira: everything about the provider hangs on `PROVIDER` (see providers/base.py)."""

from platform_server.integrations.providers.jira.provider import Jira

PROVIDER = Jira

__all__ = ["PROVIDER"]
