"""Which clients may ask, and where their answers go: redirect URI rules, registration metadata, and Client ID
Metadata Documents fetched from the client's own https URL with SSRF protection."""

import asyncio
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7591.errors import InvalidClientMetadataError, InvalidRedirectURIError

from platform_server.integrations.remote_mcp.net import AddressRefused, HostUnresolvable, resolve_public_address

MAX_REDIRECT_URIS = 10
MAX_URI_LENGTH = 2000
MAX_CLIENT_NAME = 200
METADATA_DOCUMENT_MAX_BYTES = 64 * 1024
METADATA_DOCUMENT_TIMEOUT_SECONDS = 5.0
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
_AUTHORITY = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_SUPPORTED_GRANTS = frozenset({"authorization_code", "refresh_token"})


@dataclass(frozen=True, slots=True)
class ClientMetadata:
    client_name: str
    client_uri: str | None
    redirect_uris: list[str]


def _is_loopback_http(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and (parts.hostname or "") in {"127.0.0.1", "::1", "localhost"}


def redirect_uri_matches(registered: list[str], requested: str) -> bool:
    """Exact match, except that a loopback redirect's port may differ (RFC 8252 §7.3: native apps listen on
    whatever port is free)."""
    if requested in registered:
        return True
    if not _is_loopback_http(requested) or not _PRINTABLE_ASCII.fullmatch(requested):
        return False
    wanted = urlsplit(requested)
    if not _AUTHORITY.fullmatch(wanted.netloc):
        return False
    for uri in registered:
        if not _is_loopback_http(uri):
            continue
        candidate = urlsplit(uri)
        if (candidate.hostname, candidate.path, candidate.query) == (wanted.hostname, wanted.path, wanted.query):
            return True
    return False


def _check_redirect_uri(uri: object) -> str:
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        raise InvalidRedirectURIError("Each redirect URI must be a non-empty string of at most 2000 characters")
    if not _PRINTABLE_ASCII.fullmatch(uri):
        raise InvalidRedirectURIError("Redirect URIs must be printable ASCII without spaces")
    parts = urlsplit(uri)
    # The origin goes into the consent page's Content-Security-Policy: a plain host and port, no user info.
    if parts.netloc and not _AUTHORITY.fullmatch(parts.netloc):
        raise InvalidRedirectURIError("A redirect URI's authority must be a plain host and optional port")
    if not parts.scheme or parts.fragment:
        raise InvalidRedirectURIError("Redirect URIs must be absolute and carry no fragment")
    if parts.scheme == "http" and not _is_loopback_http(uri):
        raise InvalidRedirectURIError("An http redirect URI must point at a loopback address; use https")
    if parts.scheme in {"https", "http"} and not parts.hostname:
        raise InvalidRedirectURIError("A web redirect URI needs a host")
    if parts.scheme in {"javascript", "data", "file", "vbscript"}:
        raise InvalidRedirectURIError("This redirect URI scheme is not allowed")
    return uri


def _text(metadata: dict[str, Any], name: str, limit: int) -> str | None:
    value = metadata.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidClientMetadataError(f"{name} must be a string of at most {limit} characters")
    return value.strip() or None


def parse_client_metadata(metadata: object) -> ClientMetadata:
    """Validates registration metadata (RFC 7591 §2) for a public client of the authorization code flow."""
    if not isinstance(metadata, dict):
        raise InvalidClientMetadataError("The client metadata must be a JSON object")
    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not uris or len(uris) > MAX_REDIRECT_URIS:
        raise InvalidRedirectURIError("redirect_uris must list 1 to 10 redirect URIs")
    redirect_uris = [_check_redirect_uri(uri) for uri in uris]
    grant_types = metadata.get("grant_types", ["authorization_code"])
    if not isinstance(grant_types, list) or not set(grant_types) <= _SUPPORTED_GRANTS:
        raise InvalidClientMetadataError("grant_types may only hold authorization_code and refresh_token")
    response_types = metadata.get("response_types", ["code"])
    if response_types != ["code"]:
        raise InvalidClientMetadataError("response_types must be [code]")
    auth_method = metadata.get("token_endpoint_auth_method", "none")
    if auth_method != "none":
        raise InvalidClientMetadataError(
            "Only public clients are supported: token_endpoint_auth_method must be none (PKCE protects the code)"
        )
    client_uri = _text(metadata, "client_uri", MAX_URI_LENGTH)
    if client_uri is not None and urlsplit(client_uri).scheme != "https":
        raise InvalidClientMetadataError("client_uri must be an https URL")
    name = _text(metadata, "client_name", MAX_CLIENT_NAME)
    return ClientMetadata(client_name=name or "Unnamed MCP client", client_uri=client_uri, redirect_uris=redirect_uris)


def is_metadata_document_url(client_id: str) -> bool:
    """A client id that names its own metadata document: an https URL with a path (CIMD)."""
    parts = urlsplit(client_id)
    return parts.scheme == "https" and bool(parts.hostname) and parts.path not in {"", "/"}


def _certificate_refusal(exc: BaseException) -> str | None:
    """Why TLS refused the host's certificate, when that is what ended the fetch (httpx wraps the ssl error)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or "certificate verify failed"
        cause = cause.__cause__ or cause.__context__
    return None


class MetadataDocumentFetcher:
    """Fetches a Client ID Metadata Document: https only, every resolved address public (no loopback,
    private, link-local or other reserved range), the connection pinned to the checked address so DNS cannot
    change in between, no redirects, at most 64 KiB, 5 seconds in all. `allow_private` (tests, sandbox)
    lifts the address and scheme rules, never the others. `ca_file` adds trust anchors (a private CA) to the
    public ones the certificate is verified against; it relaxes nothing else."""

    def __init__(self, *, allow_private: bool, ca_file: Path | None = None) -> None:
        self.allow_private = allow_private
        self.ca_file = ca_file

    async def fetch(self, client_id: str) -> ClientMetadata:
        if not (is_metadata_document_url(client_id) or (self.allow_private and client_id.startswith("http://"))):
            raise InvalidClientError(description="The client_id is neither registered nor an https metadata URL")
        try:
            async with asyncio.timeout(METADATA_DOCUMENT_TIMEOUT_SECONDS):
                document = await self._download(client_id)
        except TimeoutError:
            raise InvalidClientError(description="The client metadata document took too long to fetch") from None
        except httpx.HTTPError as exc:
            refusal = _certificate_refusal(exc)
            if refusal is not None:
                raise InvalidClientError(
                    description=f"The certificate of the client metadata host is not trusted ({refusal})"
                ) from None
            raise InvalidClientError(description="The client metadata document could not be fetched") from None
        try:
            metadata = orjson.loads(document)
        except orjson.JSONDecodeError:
            raise InvalidClientError(description="The client metadata document is not JSON") from None
        if not isinstance(metadata, dict) or metadata.get("client_id") != client_id:
            raise InvalidClientError(description="The client metadata document must name its own URL as client_id")
        try:
            return parse_client_metadata(metadata)
        except (InvalidClientMetadataError, InvalidRedirectURIError) as exc:
            raise InvalidClientError(description=f"Invalid client metadata document: {exc.description}") from None

    async def _download(self, url: str) -> bytes:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = url
        extensions: dict[str, Any] = {}
        if not self.allow_private:
            address = await self._public_address(host, port)
            # Connect to the address that was checked; TLS still verifies the certificate for the host name.
            literal = f"[{address}]" if ":" in address else address
            target = parts._replace(netloc=f"{literal}:{port}").geturl()
            extensions["sni_hostname"] = host
        headers = {"Host": parts.netloc, "Accept": "application/json"}
        async with (
            httpx.AsyncClient(follow_redirects=False, trust_env=False, verify=self._tls()) as http,
            http.stream("GET", target, headers=headers, extensions=extensions) as response,
        ):
            if response.status_code != 200:
                raise InvalidClientError(
                    description=f"The client metadata document answered HTTP {response.status_code}"
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > METADATA_DOCUMENT_MAX_BYTES:
                    raise InvalidClientError(description="The client metadata document is larger than 64 KiB")
            return bytes(body)

    def _tls(self) -> ssl.SSLContext:
        context = httpx.create_ssl_context(trust_env=False)
        if self.ca_file is not None:
            context.load_verify_locations(cafile=self.ca_file)
        return context

    async def _public_address(self, host: str, port: int) -> str:
        try:
            return await resolve_public_address(host, port)
        except HostUnresolvable:
            raise InvalidClientError(description="The client metadata host does not resolve") from None
        except AddressRefused:
            raise InvalidClientError(
                description="The client metadata document is on a private, loopback or reserved address"
            ) from None
