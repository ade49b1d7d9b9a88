"""The Provider interface: one class per provider package holds everything about that provider: its API policy
(hosts, headers, errors, rate limits: `api`), OAuth rules, account lookup and revoke, tools, importers and
exporters. The registry (`providers/__init__.py`) lists the packages; everything else derives from it.

Sandbox mode changes only where requests go: `resolve_url` maps every real provider URL (authorize, token,
API) to `{PUBLIC_BASE_URL}/sandbox/<provider>/<same path>`, dropping the host. So
`https://auth.atlassian.com/oauth/token` becomes `/sandbox/jira/oauth/token` and
`https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3/myself` becomes
`/sandbox/jira/ex/jira/{cloudId}/rest/api/3/myself`. Everything else runs the same code as production.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx

from platform_server.config import Settings
from platform_server.integrations.providers.client import ApiPolicy, sandbox_host

if TYPE_CHECKING:
    from platform_server.integrations.providers.toolspec import ToolSpec
    from platform_server.integrations.sync.base import Exporter, Importer


class Category(StrEnum):
    development = "Development"
    project_management = "Project Management"
    documentation = "Documentation"
    communication = "Communication"
    design = "Design"


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    authorize_url: str
    token_url: str
    default_scopes: tuple[str, ...]
    # Where refresh_token grants go when it is not the token URL (Figma).
    refresh_url: str | None = None
    scope_separator: str = " "
    pkce: bool = False
    # Authlib's names: HTTP Basic ("client_secret_basic") or credentials in the body ("client_secret_post").
    client_auth: Literal["client_secret_basic", "client_secret_post"] = "client_secret_post"
    body_format: Literal["form", "json"] = "form"
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    # Scopes requested for a user token rather than the app token (Slack's `user_scope`).
    user_scope_param: str | None = None
    user_scope_names: frozenset[str] = frozenset()
    # Whether the provider issues refresh tokens that replace the old one on every refresh.
    rotating_refresh: bool = False

    @property
    def refresh_endpoint(self) -> str:
        return self.refresh_url or self.token_url


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class Account:
    """Who the token belongs to: a stable id (reconnects match on it), a human label, and call metadata."""

    id: str
    name: str
    metadata: dict[str, Any] = field(default_factory=dict)


class ProviderResponseError(Exception):
    """The provider answered a whoami or revoke call with something other than success."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class InvalidProject(ValueError):
    """A workspace's defaultProject that is not in its provider's form; the message says what the form is."""


def resolve_url(settings: Settings, provider: str, url: str) -> str:
    """Where a real provider URL goes: itself, or the same path under the provider client's sandbox host."""
    if not settings.PLATFORM_SANDBOX:
        return url
    parts = urlsplit(url)
    target = sandbox_host(settings, provider) + parts.path
    return f"{target}?{parts.query}" if parts.query else target


def client_credentials(settings: Settings, provider: str) -> ClientCredentials | None:
    """The OAuth app credentials; the sandbox accepts exactly `sandbox-<provider>` / `sandbox-secret-<provider>`."""
    if settings.PLATFORM_SANDBOX:
        return ClientCredentials(f"sandbox-{provider}", f"sandbox-secret-{provider}")
    client_id = settings.provider_client_id(provider)
    client_secret = settings.provider_client_secret(provider)
    if not client_id or not client_secret:
        return None
    return ClientCredentials(client_id, client_secret)


def missing_credential_settings(settings: Settings, provider: str) -> list[str]:
    if settings.PLATFORM_SANDBOX:
        return []
    missing = []
    if not settings.provider_client_id(provider):
        missing.append(f"{provider.upper()}_CLIENT_ID")
    if not settings.provider_client_secret(provider):
        missing.append(f"{provider.upper()}_CLIENT_SECRET")
    return missing


def ensure_success(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise ProviderResponseError(f"{what} answered HTTP {response.status_code}", status_code=response.status_code)
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderResponseError(f"{what} answered a body that is not JSON") from exc


class Provider:
    """Subclasses fill in the class attributes and the identity check; nothing else varies per provider."""

    # The API policy the shared client follows; the name, title and API base come from it.
    api: ClassVar[ApiPolicy]
    name: ClassVar[str]
    display_name: ClassVar[str]
    api_base_url: ClassVar[str]
    category: ClassVar[Category]
    oauth: ClassVar[OAuthConfig]
    # Extra headers for token requests (GitHub answers form-encoded unless asked for JSON).
    token_headers: ClassVar[Mapping[str, str]] = {}
    tools: ClassVar[Sequence["ToolSpec"]] = ()
    importers: ClassVar[Sequence["Importer"]] = ()
    exporters: ClassVar[Sequence["Exporter"]] = ()
    revocable: ClassVar[bool] = False
    # The form of a workspace's defaultProject, for messages, e.g. "owner/repo".
    project_hint: ClassVar[str]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.name = cls.api.name
        cls.display_name = cls.api.title
        cls.api_base_url = cls.api.hosts["api"]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout = settings.PROVIDER_TIMEOUT_SECONDS

    @staticmethod
    def parse_project(project: str) -> str:
        """A workspace's defaultProject in the form the tools and importers use, or InvalidProject.

        Checked when it is set, so a value a tool would refuse (or one that could steer a URL) is never stored.
        """
        raise NotImplementedError

    def url(self, real_url: str) -> str:
        return resolve_url(self.settings, self.name, real_url)

    def api_url(self, path: str) -> str:
        return self.url(self.api_base_url + path)

    def credentials(self) -> ClientCredentials | None:
        return client_credentials(self.settings, self.name)

    def bearer_headers(self, token: str) -> dict[str, str]:
        return {**self.api.default_headers, "Authorization": f"Bearer {token}"}

    def token_metadata(self, token_response: Mapping[str, Any]) -> dict[str, Any]:
        """Non-secret facts from the token response worth keeping (e.g. Slack's team id)."""
        return {}

    def user_grant(self, token_response: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """A second, user-scoped token some providers return beside the app token (Slack's `authed_user`), as a
        token response of its own (`access_token`, and with rotation `refresh_token` and `expires_in`)."""
        return None

    def token_error(self, status_code: int, body: Mapping[str, Any]) -> str | None:
        """The OAuth error code (RFC 6749) a token endpoint's refusal in the provider's own form means; None when
        the body is in the standard form (or is no refusal)."""
        return None

    async def whoami(self, http: httpx.AsyncClient, token: str) -> Account:
        raise NotImplementedError

    async def revoke(self, http: httpx.AsyncClient, token: str, credentials: ClientCredentials) -> None:
        """Revoke the grant at the provider; only called when `revocable` is true."""
        raise NotImplementedError
