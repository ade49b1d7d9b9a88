"""Notion: everything about the provider hangs on `PROVIDER` (see providers/base.py)."""

from platform_server.integrations.providers.notion.provider import Notion

PROVIDER = Notion

__all__ = ["PROVIDER"]
