"""Python client for the Platform API: `PlatformClient` and `AsyncPlatformClient`, with one surface."""

from platform_api._async_client import AsyncPlatformClient
from platform_api._core import PlatformError, RateLimit, ResponseInfo
from platform_api._sync_client import PlatformClient

__all__ = ["AsyncPlatformClient", "PlatformClient", "PlatformError", "RateLimit", "ResponseInfo"]
__version__ = "0.1.0"
