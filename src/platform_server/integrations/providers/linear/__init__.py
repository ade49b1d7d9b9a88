"""Linear: everything about the provider hangs on `PROVIDER` (see providers/base.py)."""

from platform_server.integrations.providers.linear.provider import Linear

PROVIDER = Linear

__all__ = ["PROVIDER"]
