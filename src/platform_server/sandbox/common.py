"""What every simulated provider shares: OAuth rules per provider, JSON responses, bearer parsing, ids."""

import base64
import hashlib
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

SANDBOX_CLIENT_ID = "sandbox-{provider}"
SANDBOX_CLIENT_SECRET = "sandbox-secret-{provider}"


def client_id_for(provider: str) -> str:
    return SANDBOX_CLIENT_ID.format(provider=provider)


def client_secret_for(provider: str) -> str:
    return SANDBOX_CLIENT_SECRET.format(provider=provider)


def stable_int(*parts: object, modulo: int = 2**31) -> int:
    """A deterministic number from its inputs (Python's hash() is salted per process)."""
    return zlib.crc32("|".join(str(part) for part in parts).encode()) % modulo


def stable_uuid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox:" + "|".join(str(part) for part in parts)))


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def iso(timestamp: float, *, millis: bool = False) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> float | None:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def json_response(data: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status_code, headers=headers, media_type="application/json")


class Problem(Exception):
    """Raised anywhere in a simulated endpoint: its response (in the provider's error shape) is the answer."""

    def __init__(self, response: Response) -> None:
        self.response = response


def answers_problems(function: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Wraps an endpoint so that a Problem it raises becomes its response."""

    async def endpoint(request: Request) -> Response:
        try:
            return await function(request)
        except Problem as problem:
            return problem.response

    return endpoint


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def json_body(request: Request) -> Any:
    """The request's JSON body; raises ValueError when it is not JSON."""
    body = await request.body()
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(str(exc)) from exc


@dataclass(frozen=True)
class OAuthRules:
    """How one provider's OAuth endpoints behave (providers.md §3)."""

    provider: str
    title: str
    authorize_path: str
    token_path: str
    # Figma refreshes on its own path; the others on the token path with grant_type=refresh_token.
    refresh_path: str | None
    client_auth: frozenset[str]  # "basic" (Authorization header) and/or "body" (client_id/client_secret)
    body_formats: frozenset[str]  # "form" and/or "json"
    requires_response_type: bool
    requires_grant_type: bool
    requires_redirect_uri_at_token: bool
    scope_separator: str | None  # None: the provider has no scopes (Notion)
    default_scopes: tuple[str, ...]
    default_user_scopes: tuple[str, ...]
    default_login: str
    # Parameters the authorize URL must carry with exactly this value.
    required_authorize_params: tuple[tuple[str, str], ...] = ()


OAUTH_RULES: dict[str, OAuthRules] = {
    "github": OAuthRules(
        provider="github",
        title="GitHub",
        authorize_path="/login/oauth/authorize",
        token_path="/login/oauth/access_token",
        refresh_path=None,
        client_auth=frozenset({"body", "basic"}),
        body_formats=frozenset({"form", "json"}),
        requires_response_type=False,
        requires_grant_type=False,
        requires_redirect_uri_at_token=False,
        scope_separator=" ",
        default_scopes=("repo", "read:user"),
        default_user_scopes=(),
        default_login="acme-corp",
    ),
    "jira": OAuthRules(
        provider="jira",
        title="Jira",
        authorize_path="/authorize",
        token_path="/oauth/token",
        refresh_path=None,
        client_auth=frozenset({"body"}),
        body_formats=frozenset({"json", "form"}),
        requires_response_type=True,
        requires_grant_type=True,
        requires_redirect_uri_at_token=True,
        scope_separator=" ",
        default_scopes=("read:jira-work", "write:jira-work", "read:jira-user", "offline_access"),
        default_user_scopes=(),
        default_login="acme-admin",
        required_authorize_params=(("audience", "api.atlassian.com"),),
    ),
    "linear": OAuthRules(
        provider="linear",
        title="Linear",
        authorize_path="/oauth/authorize",
        token_path="/oauth/token",
        refresh_path=None,
        client_auth=frozenset({"body", "basic"}),
        body_formats=frozenset({"form"}),
        requires_response_type=True,
        requires_grant_type=True,
        requires_redirect_uri_at_token=True,
        scope_separator=",",
        default_scopes=("read", "write"),
        default_user_scopes=(),
        default_login="acme-dev",
    ),
    "notion": OAuthRules(
        provider="notion",
        title="Notion",
        authorize_path="/v1/oauth/authorize",
        token_path="/v1/oauth/token",
        refresh_path=None,
        client_auth=frozenset({"basic"}),
        body_formats=frozenset({"json"}),
        requires_response_type=True,
        requires_grant_type=True,
        requires_redirect_uri_at_token=True,
        scope_separator=None,
        default_scopes=(),
        default_user_scopes=(),
        default_login="acme",
        required_authorize_params=(("owner", "user"),),
    ),
    "slack": OAuthRules(
        provider="slack",
        title="Slack",
        authorize_path="/oauth/v2/authorize",
        token_path="/api/oauth.v2.access",
        refresh_path=None,
        client_auth=frozenset({"body", "basic"}),
        body_formats=frozenset({"form"}),
        requires_response_type=False,
        requires_grant_type=False,
        requires_redirect_uri_at_token=False,
        scope_separator=",",
        default_scopes=("channels:read", "chat:write"),
        default_user_scopes=("search:read",),
        default_login="acme-admin",
    ),
    "figma": OAuthRules(
        provider="figma",
        title="Figma",
        authorize_path="/oauth",
        token_path="/v1/oauth/token",
        refresh_path="/v1/oauth/refresh",
        client_auth=frozenset({"basic"}),
        body_formats=frozenset({"form"}),
        requires_response_type=True,
        requires_grant_type=True,
        requires_redirect_uri_at_token=True,
        scope_separator=",",
        # What a public app may request: projects:read is for private (organisation) apps only.
        default_scopes=("current_user:read", "file_content:read", "file_metadata:read"),
        default_user_scopes=(),
        default_login="acme-designer",
    ),
}


def split_scopes(value: str | None, separator: str | None) -> list[str]:
    if not value or separator is None:
        return []
    # Real providers are lenient about the separator; accept spaces and commas alike.
    return [part for part in value.replace(",", " ").split() if part]
