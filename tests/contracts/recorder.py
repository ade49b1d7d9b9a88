"""Records every request our provider clients send to the sandbox, and the sandbox's answer, as plain data.

Installed as httpx event hooks on the app's pooled provider clients (the ones `ProviderClient`, whoami, revoke
and the OAuth token exchange all use), so the product code runs unchanged.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson

from platform_server.integrations.providers.client import ProviderHttp
from platform_server.integrations.registry import PROVIDER_NAMES


@dataclass(frozen=True)
class Exchange:
    provider: str
    method: str
    # The path as the real provider would see it: the sandbox prefix removed (and, for Jira, the
    # `/ex/jira/{cloudId}` gateway prefix, which the platform API's own definition does not include).
    path: str
    query: tuple[tuple[str, str], ...]
    request_content_type: str
    request_body: Any
    status: int
    response_content_type: str
    response_body: Any

    @property
    def label(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


def _decode(content: bytes, content_type: str) -> Any:
    if not content:
        return None
    if "json" in content_type:
        return orjson.loads(content)
    if "x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(content.decode()))
    return content.decode(errors="replace")


class Recorder:
    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self.tools_called: set[str] = set()

    def install(self, provider_http: ProviderHttp) -> None:
        for provider in PROVIDER_NAMES:
            client = provider_http.http(provider)
            client.event_hooks = {"request": [], "response": [self._hook(provider, client.base_url)]}

    def _hook(self, provider: str, base: httpx.URL) -> Any:
        prefix = base.path.rstrip("/")

        async def record(response: httpx.Response) -> None:
            await response.aread()
            request = response.request
            path = request.url.path.removeprefix(prefix) or "/"
            if provider == "jira" and path.startswith("/ex/jira/"):
                path = "/" + path.split("/", 4)[4]
            request_type = request.headers.get("content-type", "")
            response_type = response.headers.get("content-type", "")
            self.exchanges.append(
                Exchange(
                    provider=provider,
                    method=request.method,
                    path=path,
                    query=tuple(parse_qsl(request.url.query.decode(), keep_blank_values=True)),
                    request_content_type=request_type,
                    request_body=_decode(request.content, request_type),
                    status=response.status_code,
                    response_content_type=response_type,
                    response_body=_decode(response.content, response_type),
                )
            )

        return record

    def of(self, provider: str) -> list[Exchange]:
        return [exchange for exchange in self.exchanges if exchange.provider == provider]
