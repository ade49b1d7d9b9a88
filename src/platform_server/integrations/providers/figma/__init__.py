"""Figma: everything about the provider hangs on `PROVIDER` (see providers/base.py)."""

from platform_server.integrations.providers.figma.provider import Figma

PROVIDER = Figma

__all__ = ["PROVIDER"]
