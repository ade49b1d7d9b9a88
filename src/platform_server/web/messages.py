"""Human messages for the codes that reach the settings page in its query string.

Only codes are ever taken from the URL, never text: a crafted link cannot put words on the page. An unknown
code gets a generic message that quotes it (escaped, shortened) so support can still trace it.
"""

from dataclasses import dataclass
from enum import StrEnum

from platform_server.integrations.registry import PROVIDER_CLASSES
from platform_server.integrations.remote_mcp.models import REMOTE_PROVIDER

MAX_QUOTED_CODE = 64


class Tone(StrEnum):
    success = "success"
    error = "error"
    info = "info"


@dataclass(frozen=True, slots=True)
class Banner:
    tone: Tone
    message: str
    # Shown under the message, e.g. the unknown code a provider answered.
    detail: str | None = None


OAUTH_ERRORS = {
    "access_denied": ("You cancelled the authorization, so nothing was connected. Connect again when you are ready."),
    "invalid_state": (
        "That authorization link was expired, already used or altered, so nothing was changed. "
        "Start again with Connect."
    ),
    "wrong_account": (
        "Nothing was connected: that authorization was started by another user. Only the user who started it can "
        "finish it, signed in here with their own API key."
    ),
    "forbidden": "Nothing was connected: connecting an integration needs the admin or owner role.",
    "invalid_request": "The provider sent back an incomplete answer, so nothing was connected. Try connecting again.",
    "invalid_grant": (
        "The provider refused the authorization code (it may have expired), so nothing was connected. Connect again."
    ),
    "invalid_client": (
        "The provider did not accept this server's OAuth app credentials. Check the client id and secret."
    ),
    "unauthorized_client": "This server's OAuth app is not allowed to request this authorization.",
    "invalid_scope": "The provider refused the requested permissions (scopes).",
    "token_exchange_failed": (
        "Exchanging the authorization code for a token failed, so nothing was connected. Try connecting again."
    ),
    "account_lookup_failed": (
        "The provider granted access, but looking up the connected account failed, so nothing was connected. "
        "Try connecting again."
    ),
    "upstream_unavailable": (
        "The remote MCP server's authorization succeeded, but the server could not be asked for its tools with it, "
        "so nothing was connected. Try connecting again."
    ),
    "server_error": "The provider had an internal error. Try again in a few minutes.",
    "temporarily_unavailable": "The provider is temporarily unavailable. Try again in a few minutes.",
    "oauth_error": "The provider reported an error during authorization. Try connecting again.",
}

NOTICES = {
    "signed_out": Banner(Tone.info, "You have signed out."),
    "session_expired": Banner(Tone.info, "Your session has ended. Sign in again to continue."),
    "sign_in_to_connect": Banner(
        Tone.info,
        "Sign in to finish connecting the integration, with an API key of the user who started the connection.",
    ),
    "sign_in_to_authorize": Banner(
        Tone.info, "Sign in to authorize the app that sent you here, with your own API key of the workspace's team."
    ),
    "app_revoked": Banner(Tone.success, "The app was disconnected: its tokens no longer work."),
    "disconnected": Banner(Tone.success, "The integration was disconnected. The work items it imported are kept."),
    "remote_connected": Banner(
        Tone.success, "The remote MCP server is connected. Enable its tools for a workspace below."
    ),
    "tools_refreshed": Banner(Tone.success, "The server's tools were read again. Review any that changed."),
    "tool_approved": Banner(Tone.success, "Approved: workspaces that enabled the tool get its current definition."),
    "enabled": Banner(Tone.success, "Saved: the integration is enabled for the workspace with the tools you chose."),
    "disabled": Banner(
        Tone.success, "The integration was removed from the workspace; its tools are no longer offered there."
    ),
}


def success_banner(provider: str) -> Banner:
    if provider == REMOTE_PROVIDER:
        return NOTICES["remote_connected"]
    provider_class = PROVIDER_CLASSES.get(provider)
    if provider_class is None:
        return Banner(Tone.success, "The integration is connected.")
    return Banner(
        Tone.success,
        f"{provider_class.display_name} is connected. Enable it for a workspace below to choose the tools "
        "agents may use.",
    )


def error_banner(code: str) -> Banner:
    message = OAUTH_ERRORS.get(code)
    if message is not None:
        return Banner(Tone.error, message)
    quoted = code if len(code) <= MAX_QUOTED_CODE else code[:MAX_QUOTED_CODE] + "…"
    return Banner(Tone.error, "Connecting the integration failed.", detail=f"Error code: {quoted}")


def query_banners(success: str | None, error: str | None, notice: str | None) -> list[Banner]:
    banners = []
    if success:
        banners.append(success_banner(success))
    if error:
        banners.append(error_banner(error))
    if notice and notice in NOTICES:
        banners.append(NOTICES[notice])
    return banners
