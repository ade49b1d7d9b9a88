"""Simulated providers (ARCHITECTURE §6), served by the app itself when PLATFORM_SANDBOX is on.

Each provider is an ASGI app mounted at `/sandbox/<provider>`. Real providers split OAuth and API over
several hosts; here every host of a provider maps to the same prefix, and the paths stay the real ones
(provider: real hosts → /sandbox/<provider> + these paths):

- github (github.com, api.github.com): /login/oauth/authorize, /login/oauth/access_token; /user,
  /user/repos, /orgs/{org}/repos, /repos/{o}/{r}, /repos/{o}/{r}/issues (GET, POST),
  /repos/{o}/{r}/issues/{n}, /repos/{o}/{r}/pulls, /repos/{o}/{r}/hooks (GET, POST),
  /repos/{o}/{r}/hooks/{id} (GET, DELETE); DELETE /applications/{client_id}/grant and …/token.
- jira (auth.atlassian.com, api.atlassian.com): /authorize, /oauth/token; /oauth/token/accessible-resources;
  /ex/jira/{cloudId}/rest/api/3/ + myself, project/search, search/jql (GET, POST), issue (POST),
  issue/{key}, issue/{key}/transitions (GET, POST).
- linear (linear.app, api.linear.app): /oauth/authorize, /oauth/token, /oauth/revoke; POST /graphql (viewer,
  organization, teams, team, issues, issue, projects, cycles, workflowStates; mutation issueCreate).
- notion (api.notion.com): /v1/oauth/authorize, /v1/oauth/token, /v1/oauth/revoke, /v1/oauth/introspect;
  /v1/users/me, /v1/search, /v1/pages (POST), /v1/pages/{id}, /v1/databases/{id}, /v1/databases/{id}/query,
  /v1/data_sources/{id}, /v1/data_sources/{id}/query, /v1/blocks/{id}/children.
- slack (slack.com): /oauth/v2/authorize; /api/oauth.v2.access, /api/auth.test, /api/auth.revoke,
  /api/conversations.list, /api/chat.postMessage, /api/search.messages.
- figma (www.figma.com, api.figma.com): /oauth, /v1/oauth/token, /v1/oauth/refresh; /v1/me,
  /v1/teams/{id}/projects, /v1/projects/{id}/files, /v1/files/{key}, /v1/images/{key}.
- resend (api.resend.com): POST /emails — set RESEND_API_BASE_URL to {PUBLIC_BASE_URL}/sandbox/resend.
- openai (an OpenAI-compatible model): POST /v1/chat/completions — the AI assistant's scripted sandbox
  model (sandbox/model.py); AI_BASE_URL defaults to {PUBLIC_BASE_URL}/sandbox/openai/v1 in sandbox mode.

`integrations.providers.client.provider_host(settings, api_policy, "web" | "api")` returns the right base
for either mode, so building a URL is `provider_host(...) + "<real path>"`.

OAuth apps: client id `sandbox-<provider>`, secret `sandbox-secret-<provider>`; the registered redirect URI
is `{PUBLIC_BASE_URL}/api/integrations/oauth/callback` (tests may add more to `store.redirect_uris`). Each
token endpoint keeps its provider's rules: GitHub form or JSON with body credentials and errors as HTTP 200
(`bad_verification_code`, `bad_refresh_token`, `incorrect_client_credentials`), JSON unless
`Accept: application/json` is missing; Jira JSON or form, body credentials, refresh tokens only with
`offline_access`, `invalid_grant` as 403; Linear form, body or Basic; Notion JSON with Basic; Slack form,
`{"ok": false, "error": …}` on HTTP 200 (`invalid_code`, `invalid_grant`), user token under `authed_user`;
Figma form with Basic, refresh on `/v1/oauth/refresh` without rotation. Codes are single use (a replay
revokes the grant) and live 10 minutes; PKCE S256 is verified whenever the authorize request carried a
challenge. Refresh tokens rotate (all but Figma); reusing a rotated one answers `invalid_grant` and revokes
the grant (leeway 0). Access tokens expire after the provider's lifetime (Jira 1h, Linear 24h, Figma 90d;
GitHub, Notion and Slack never) unless the `tokenLifetimeSeconds` knob overrides it — which also makes
GitHub (expiring user tokens) and Slack (token rotation) issue refresh tokens. Every API endpoint answers
401 for a missing, unknown, expired or revoked token, in the provider's own error shape (Slack: HTTP 200
with `not_authed`/`invalid_auth`/`token_expired`/`token_revoked`). A revoke ends no more than the provider's
would: Slack's `auth.revoke` ends the one token it is called with (bot or user, with its refresh tokens), and
an expired access token revokes nothing (Linear's `/oauth/revoke` answers 400, Slack `token_expired`).

State is one `SandboxStore` on `app.state.sandbox`: `mint_token(provider)`, `count(provider, method, path)`,
`faults` (latency, 429 every N, 5xx every N or by rate, Retry-After, token lifetime, volume), `reset()`, and
each provider's data via `world(provider)` (`touch(...)` changes an item as a user would). The same knobs
are at `GET/POST /sandbox/_control` (camelCase JSON) and `POST /sandbox/_control/reset`.

Webhooks (sandbox/webhooks.py): hooks registered through the providers' real APIs receive signed deliveries
when an issue is created through the API or changed with `POST /sandbox/_control/changes`
(`{"provider", "item", "changes"}`); `store.webhooks.deliveries` records each attempt.
"""

from fastapi import FastAPI

from platform_server.assistant.client import SANDBOX_MODEL_PATH
from platform_server.config import Settings
from platform_server.integrations.providers.client import InProcessTransport
from platform_server.sandbox.control import control_routes
from platform_server.sandbox.figma import create_figma_app
from platform_server.sandbox.github import create_github_app
from platform_server.sandbox.jira import create_jira_app
from platform_server.sandbox.linear import create_linear_app
from platform_server.sandbox.model import create_model_sandbox
from platform_server.sandbox.notion import create_notion_app
from platform_server.sandbox.resend import create_resend_sandbox
from platform_server.sandbox.slack import create_slack_app
from platform_server.sandbox.store import SandboxStore

__all__ = ["SandboxStore", "install_sandbox"]


def install_sandbox(app: FastAPI, settings: Settings) -> SandboxStore:
    """Mount every simulated provider and the control endpoint; the store goes on app.state.sandbox."""
    store = SandboxStore(settings.PUBLIC_BASE_URL)
    if settings.SANDBOX_IN_PROCESS:
        # Webhooks to PUBLIC_BASE_URL are served by this app itself, like the provider calls.
        store.webhooks.transport_factory = lambda: InProcessTransport(app, settings.PUBLIC_BASE_URL)
    for route in control_routes(store):
        app.router.routes.append(route)
    for provider, factory in (
        ("github", create_github_app),
        ("jira", create_jira_app),
        ("linear", create_linear_app),
        ("notion", create_notion_app),
        ("slack", create_slack_app),
        ("figma", create_figma_app),
    ):
        app.mount(f"/sandbox/{provider}", factory(store), name=f"sandbox-{provider}")
    # Resend is not an integration; its simulation takes any `re_…` key and records what it was sent.
    app.mount("/sandbox/resend", create_resend_sandbox(), name="sandbox-resend")
    # The AI assistant's scripted model (OpenAI Chat Completions); AI_BASE_URL defaults to it in sandbox mode.
    model = create_model_sandbox()
    app.mount(SANDBOX_MODEL_PATH, model, name="sandbox-openai")
    app.state.sandbox_model = model.state.store
    app.state.sandbox = store
    return store
