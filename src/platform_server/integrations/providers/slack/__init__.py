"""Slack: everything about the provider hangs on `PROVIDER` (see providers/base.py)."""

from platform_server.integrations.providers.slack.provider import Slack

PROVIDER = Slack

__all__ = ["PROVIDER"]
