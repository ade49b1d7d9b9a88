"""The authorization server's protocol endpoints. They speak OAuth's own formats (form bodies in, `{"error",
"error_description"}` out), not the product API's, so they stay out of the OpenAPI document; the consent page
is part of the settings pages (web/router.py)."""

from typing import Any

import orjson
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from platform_server.config import Settings
from platform_server.db import SessionDep
from platform_server.limits.dependencies import PublicRateLimit
from platform_server.limits.limiter import client_address
from platform_server.oauth_server.service import (
    REGISTER_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    oauth_server_service,
    server_metadata,
)

router = APIRouter(include_in_schema=False, dependencies=[PublicRateLimit])

# Browser-based MCP clients call these endpoints from their own origin; none of them reads a cookie.
_CORS = {"Access-Control-Allow-Origin": "*"}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache", **_CORS}
_MAX_FORM_FIELDS = 20


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def oauth_error(error: OAuth2Error) -> JSONResponse:
    status = error.status_code or 400
    return JSONResponse(dict(error.get_body()), status_code=status, headers=_NO_STORE)


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise InvalidRequestError(description="The body must be application/x-www-form-urlencoded")
    form = await request.form(max_files=0, max_fields=_MAX_FORM_FIELDS)
    values: dict[str, str] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            raise InvalidRequestError(description="Form fields must be text")
        if name in values:
            # RFC 6749 §3.2: parameters must not repeat.
            raise InvalidRequestError(description=f"The {name} parameter is repeated")
        values[name] = value
    return values


@router.get("/.well-known/oauth-authorization-server")
@router.get("/.well-known/openid-configuration")
async def authorization_server_metadata(request: Request) -> JSONResponse:
    return JSONResponse(server_metadata(_settings(request)), headers=_CORS)


@router.options(TOKEN_PATH)
@router.options(REGISTER_PATH)
@router.options(REVOKE_PATH)
async def preflight() -> Response:
    headers = {
        **_CORS,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type, Authorization, MCP-Protocol-Version",
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)


@router.post(TOKEN_PATH)
async def token(request: Request, session: SessionDep) -> JSONResponse:
    """Errors are answered, not raised: a replayed code or refresh token revokes tokens, and that must commit."""
    try:
        body = await oauth_server_service.token(session, _settings(request), await _form(request))
    except OAuth2Error as exc:
        return oauth_error(exc)
    return JSONResponse(body, headers=_NO_STORE)


@router.post(REVOKE_PATH)
async def revoke(request: Request, session: SessionDep) -> Response:
    try:
        await oauth_server_service.revoke(session, await _form(request))
    except OAuth2Error as exc:
        return oauth_error(exc)
    return Response(status_code=200, headers=_NO_STORE)


@router.post(REGISTER_PATH)
async def register(request: Request, session: SessionDep) -> JSONResponse:
    """RFC 7591 dynamic client registration (public clients only)."""
    try:
        metadata: Any = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return oauth_error(InvalidRequestError(description="The body must be a JSON object"))
    try:
        body = await oauth_server_service.register(session, _settings(request), metadata, client_address(request.scope))
    except OAuth2Error as exc:
        return oauth_error(exc)
    return JSONResponse(body, status_code=201, headers=_NO_STORE)
