"""GitHub: everything about the provider hangs on `PROVIDER` (see providers/base.py)."""

from platform_server.integrations.providers.github.provider import GitHub

PROVIDER = GitHub

__all__ = ["PROVIDER"]
