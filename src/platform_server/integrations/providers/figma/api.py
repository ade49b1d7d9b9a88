"""Figma's REST API as the shared client sees it: hosts, its error bodies (`err`), and its 403 for bad tokens."""

from typing import Any

from platform_server.integrations.providers.client import ApiPolicy, ProviderResponse

# Figma answers an invalid or expired token with 403, not 401 (its OpenAPI declares no 401 for the endpoints
# used here); these words tell that 403 from one about permissions on a file or project.
_TOKEN_REFUSALS = ("invalid token", "token expired", "expired token")


class FigmaApi(ApiPolicy):
    name = "figma"
    title = "Figma"
    hosts = {"web": "https://www.figma.com", "api": "https://api.figma.com"}

    def is_unauthorized(self, response: ProviderResponse) -> bool:
        if response.status_code == 403:
            message = (self.error_message(response.data) or "").lower()
            return any(words in message for words in _TOKEN_REFUSALS)
        return super().is_unauthorized(response)

    def error_message(self, data: Any) -> str | None:
        if not isinstance(data, dict):
            return None
        return str(data.get("err") or data.get("message") or "") or None


API = FigmaApi()
