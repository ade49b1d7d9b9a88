"""The sandbox's whole state: OAuth grants and tokens, fault knobs, request counters, provider data.

One `SandboxStore` lives on `app.state.sandbox`; tests inspect it, mint tokens with it and reset it.
"""

import random
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from platform_server.sandbox.common import OAUTH_RULES, client_id_for, stable_int
from platform_server.sandbox.webhooks import WebhookOutbox
from platform_server.sandbox.worlds import build_world

CODE_LIFETIME_SECONDS = 600
DEFAULT_VOLUME = 120


@dataclass
class Faults:
    """Knobs tests and `POST /sandbox/_control` turn. Faults never touch the browser consent pages."""

    latency_ms: int = 0
    # Every Nth fault-eligible request of a provider answers the provider's rate-limit response.
    rate_limit_every: int = 0
    # Every Nth request (deterministic) and/or this fraction (seeded random) answers a 5xx.
    error_every: int = 0
    error_rate: float = 0.0
    retry_after_seconds: int = 1
    # GitHub only: answer rate limits as a secondary limit with this status (403 or 429): a message, requests
    # still left in the primary window and no Retry-After, as GitHub may send them.
    secondary_rate_limit_status: int | None = None
    # Overrides every provider's access-token lifetime; set, it also makes non-expiring providers issue
    # refresh tokens (GitHub's expiring user tokens, Slack's token rotation).
    token_lifetime_seconds: int | None = None
    # Items in the big collections: GitHub acme/product issues, Jira PROJ, Linear ENG, Notion roadmap pages.
    volume: int = DEFAULT_VOLUME
    # Limit the faults to these providers (None: all of them).
    providers: list[str] | None = None

    def applies_to(self, provider: str) -> bool:
        return self.providers is None or provider in self.providers


@dataclass
class Account:
    provider: str
    login: str

    @property
    def id(self) -> int:
        return 1000 + stable_int(self.provider, self.login, modulo=9_000_000)

    @property
    def display_name(self) -> str:
        return " ".join(part.capitalize() for part in self.login.replace("_", "-").split("-"))

    @property
    def email(self) -> str:
        return f"{self.login}@example.com"


@dataclass
class Grant:
    """One user's consent to one client; every token issued under it dies with it."""

    id: str
    provider: str
    client_id: str
    account: Account
    scopes: list[str]
    user_scopes: list[str] = field(default_factory=list)
    revoked: bool = False
    # Token kinds revoked one by one (Slack's auth.revoke ends the bot or the user token, not the install).
    revoked_kinds: set[str] = field(default_factory=set)

    def ended_for(self, kind: str) -> bool:
        return self.revoked or kind in self.revoked_kinds


@dataclass
class AccessToken:
    token: str
    grant: Grant
    expires_at: float | None
    kind: str = "access"  # "bot"/"user" for Slack
    revoked: bool = False

    def problem(self, now: float) -> str | None:
        """Why the token is refused, or None when it is good."""
        if self.revoked or self.grant.ended_for(self.kind):
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return None


@dataclass
class RefreshToken:
    token: str
    grant: Grant
    kind: str = "access"
    used: bool = False


@dataclass
class AuthCode:
    code: str
    grant: Grant
    redirect_uri: str
    code_challenge: str | None
    expires_at: float
    used: bool = False


@dataclass
class IssuedTokens:
    access_token: str
    refresh_token: str | None
    expires_in: int | None
    grant: Grant
    user_access_token: str | None = None
    user_refresh_token: str | None = None


_TOKEN_PREFIXES = {
    "github": ("gho_", "ghr_"),
    "jira": ("eyJhbGciOiJSUzI1NiJ9.", "eyJraWQiOiJyZWZyZXNoIn0."),
    "linear": ("lin_oauth_", "lin_refresh_"),
    "notion": ("ntn_", "nrt_"),
    "slack": ("xoxb-", "xoxe-1-"),
    "figma": ("figu_", "figur_"),
}
# Access-token lifetimes when no knob overrides them: None never expires (GitHub OAuth apps, Notion, Slack
# without rotation).
DEFAULT_LIFETIMES: dict[str, int | None] = {
    "github": None,
    "jira": 3600,
    "linear": 86399,
    "notion": None,
    "slack": None,
    "figma": 7_776_000,
}
# Figma's refresh returns no new refresh token; the others rotate, and reuse revokes the whole grant.
ROTATING = frozenset({"github", "jira", "linear", "notion", "slack"})


class SandboxStore:
    def __init__(self, public_base_url: str) -> None:
        self.public_base_url = public_base_url
        # Outlives reset(): install_sandbox sets how deliveries reach PUBLIC_BASE_URL.
        self.webhooks = WebhookOutbox()
        self.reset()

    def reset(self) -> None:
        """Back to a fresh sandbox: no tokens, no counts, default knobs, seeded data."""
        self.faults = Faults()
        self.counters: Counter[str] = Counter()
        self._fault_counters: Counter[str] = Counter()
        self.random = random.Random(7)
        self.codes: dict[str, AuthCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.redirect_uris: set[str] = {f"{self.public_base_url}/api/integrations/oauth/callback"}
        self.worlds: dict[str, Any] = {}
        self.webhooks.reset()

    # -- counters and faults -------------------------------------------------------------------------

    def count(self, provider: str, method: str | None = None, path: str | None = None) -> int:
        """Requests that reached a provider, optionally one endpoint ("GET", "/repos/{owner}/{repo}/issues")."""
        if method is None:
            return sum(value for key, value in self.counters.items() if key.startswith(f"{provider} "))
        return self.counters[f"{provider} {method.upper()} {path}"]

    def next_fault_number(self, provider: str) -> int:
        self._fault_counters[provider] += 1
        return self._fault_counters[provider]

    # -- OAuth ------------------------------------------------------------------------------------------

    def new_grant(self, provider: str, login: str, scopes: list[str], user_scopes: list[str] | None = None) -> Grant:
        return Grant(
            id=secrets.token_hex(8),
            provider=provider,
            client_id=client_id_for(provider),
            account=Account(provider, login),
            scopes=scopes,
            user_scopes=user_scopes or [],
        )

    def new_code(self, grant: Grant, redirect_uri: str, code_challenge: str | None) -> str:
        code = secrets.token_urlsafe(20)
        self.codes[code] = AuthCode(code, grant, redirect_uri, code_challenge, time.time() + CODE_LIFETIME_SECONDS)
        return code

    def lifetime(self, provider: str) -> int | None:
        if self.faults.token_lifetime_seconds is not None:
            return self.faults.token_lifetime_seconds
        return DEFAULT_LIFETIMES[provider]

    def issue(self, grant: Grant, *, with_refresh: bool = True, kind: str = "access") -> IssuedTokens:
        """Access (and refresh) tokens for a grant; Slack grants with user scopes also get a user token."""
        provider = grant.provider
        if provider == "slack" and kind == "access":
            # Slack's primary token is the bot token; an install with only user scopes gets a user token.
            kind = "bot" if grant.scopes else "user"
        lifetime = self.lifetime(provider)
        access_prefix, refresh_prefix = _TOKEN_PREFIXES[provider]
        if kind == "user":
            access_prefix = "xoxp-"
        access = access_prefix + secrets.token_urlsafe(30)
        expires_at = time.time() + lifetime if lifetime is not None else None
        self.access_tokens[access] = AccessToken(access, grant, expires_at, kind)
        refresh: str | None = None
        if with_refresh and self._issues_refresh_tokens(grant):
            refresh = refresh_prefix + secrets.token_urlsafe(40)
            self.refresh_tokens[refresh] = RefreshToken(refresh, grant, kind)
        issued = IssuedTokens(access, refresh, lifetime, grant)
        if kind == "bot" and grant.user_scopes:
            user = self.issue(grant, with_refresh=with_refresh, kind="user")
            issued.user_access_token, issued.user_refresh_token = user.access_token, user.refresh_token
        return issued

    def _issues_refresh_tokens(self, grant: Grant) -> bool:
        # GitHub and Slack hand out refresh tokens only when tokens expire (expiring user tokens, rotation);
        # Atlassian only to apps that asked for offline_access.
        if grant.provider in ("github", "slack"):
            return self.lifetime(grant.provider) is not None
        if grant.provider == "jira":
            return "offline_access" in grant.scopes
        return True

    def mint_token(
        self,
        provider: str,
        *,
        login: str | None = None,
        scopes: list[str] | None = None,
        user_scopes: list[str] | None = None,
    ) -> IssuedTokens:
        """Tokens as if a user had approved the consent page: for tests that need no OAuth round trip."""
        rules = OAUTH_RULES[provider]
        grant = self.new_grant(
            provider,
            login or rules.default_login,
            list(rules.default_scopes if scopes is None else scopes),
            list(rules.default_user_scopes if user_scopes is None else user_scopes),
        )
        return self.issue(grant)

    def expire_token(self, token: str) -> None:
        self.access_tokens[token].expires_at = time.time() - 1

    def revoke_grant(self, grant: Grant) -> None:
        grant.revoked = True

    def authenticate(self, provider: str, token: str | None) -> tuple[AccessToken | None, str | None]:
        """The token's record, or why it is refused: "missing", "unknown", "expired" or "revoked"."""
        if not token:
            return None, "missing"
        record = self.access_tokens.get(token)
        if record is None or record.grant.provider != provider:
            return None, "unknown"
        problem = record.problem(time.time())
        return (None, problem) if problem else (record, None)

    # -- data -------------------------------------------------------------------------------------------

    def world(self, provider: str) -> Any:
        """The provider's demo data, built on first use (and rebuilt after a volume change or reset)."""
        world = self.worlds.get(provider)
        if world is None or getattr(world, "volume", self.faults.volume) != self.faults.volume:
            world = build_world(provider, self.faults.volume, self.public_base_url)
            self.worlds[provider] = world
        return world
