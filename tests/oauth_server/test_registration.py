"""Client registration both ways: RFC 7591 dynamic registration (validated, rate limited, expiring) and Client ID
Metadata Documents (fetched from a real local HTTP server where the test allows it, refused on private
addresses where it does not)."""

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import update

from platform_server.db import utcnow
from platform_server.oauth_server.models import OAuthClient
from tests.conftest import Member, make_settings, row_count
from tests.oauth_server.documents import DocumentHost, document_host, make_certificates
from tests.oauth_server.helpers import REDIRECT_URI, Authorization, approve, consent_page, register, tokens
from tests.web.helpers import sign_in


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"OAUTH_REGISTRATIONS_PER_HOUR": 3}


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"client_name": "x"}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://attacker.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example/cb#fragment"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example;script-src/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://user@app.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example/c b"]}, "invalid_redirect_uri"),
        (
            {"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "client_secret_basic"},
            "invalid_client_metadata",
        ),
        ({"redirect_uris": [REDIRECT_URI], "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT_URI], "client_name": 5}, "invalid_client_metadata"),
        ([REDIRECT_URI], "invalid_client_metadata"),
    ],
)
async def test_invalid_registrations_are_refused(
    app: Any, client: httpx.AsyncClient, metadata: object, error: str
) -> None:
    response = await client.post("/oauth/register", json=metadata)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert await row_count(app, OAuthClient) == 0


async def test_registration_answers_a_public_client(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/oauth/register",
        json={"client_name": "Claude", "redirect_uris": [REDIRECT_URI, "cursor://anysphere.cursor-mcp/oauth/callback"]},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["client_id"].startswith("mcp_")
    assert body["token_endpoint_auth_method"] == "none"
    assert "client_secret" not in body
    assert body["redirect_uris"][1] == "cursor://anysphere.cursor-mcp/oauth/callback"


async def test_registration_is_rate_limited_per_address(app: Any, client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await register(client)
    response = await client.post("/oauth/register", json={"redirect_uris": [REDIRECT_URI]})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert await row_count(app, OAuthClient) == 3


async def test_unused_registrations_expire(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    client_id = await register(client)
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(update(OAuthClient).values(expires_at=utcnow() - timedelta(seconds=1)))
    await sign_in(client, owner)
    response = await consent_page(client, Authorization(client_id, owner.workspace_id))
    assert response.status_code == 400
    await register(client)
    # The next registration clears the expired one away.
    assert await row_count(app, OAuthClient) == 1


@pytest.mark.parametrize(
    "client_id",
    [
        "https://127.0.0.1/client.json",
        "https://localhost/client.json",
        "https://10.0.0.7/client.json",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/client.json",
        "https://[::ffff:192.168.0.1]/client.json",
        "http://app.example/client.json",
        "https://app.example/",
    ],
)
async def test_metadata_documents_on_private_addresses_are_never_fetched(
    app: Any, client: httpx.AsyncClient, owner: Member, client_id: str
) -> None:
    await sign_in(client, owner)
    response = await consent_page(client, Authorization(client_id, owner.workspace_id))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert await row_count(app, OAuthClient) == 0


@pytest.fixture(params=["http", "https"])
def document_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentHost]:
    """A document host on loopback; over https its certificate comes from a CA of the test's own."""
    with document_host(tmp_path if request.param == "https" else None) as host:
        yield host


class TestMetadataDocuments:
    @pytest.fixture
    def settings_overrides(self, document_server: DocumentHost) -> dict[str, Any]:
        return {
            "OAUTH_CLIENT_METADATA_ALLOW_PRIVATE": True,
            "OAUTH_CLIENT_METADATA_CA_FILE": document_server.ca_file,
        }

    async def test_client_id_url_is_fetched_validated_and_cached(
        self, client: httpx.AsyncClient, owner: Member, document_server: DocumentHost
    ) -> None:
        client_id = document_server.publish_client("/oauth/client.json", "Docs Agent", [REDIRECT_URI])
        await sign_in(client, owner)
        authorization = Authorization(client_id, owner.workspace_id)
        page = await consent_page(client, authorization)
        assert page.status_code == 200
        assert "Docs Agent" in page.text
        code = await approve(client, authorization)
        assert (await tokens(client, authorization.token_form(code))).status_code == 200
        # Fetched once, then served from the cache.
        assert document_server.fetched == ["/oauth/client.json"]

    @pytest.mark.parametrize(
        "document",
        [
            b"not json",
            b'{"client_id": "https://someone-else.example/client.json", "redirect_uris": ["http://127.0.0.1/cb"]}',
            json.dumps({"client_id": "SELF", "redirect_uris": ["http://attacker.example/cb"]}).encode(),
            json.dumps({"client_id": "SELF", "redirect_uris": ["http://127.0.0.1/cb"], "pad": "x" * 70_000}).encode(),
        ],
        ids=["not-json", "other-client-id", "bad-redirect", "too-large"],
    )
    async def test_invalid_documents_are_refused(
        self, app: Any, client: httpx.AsyncClient, owner: Member, document_server: DocumentHost, document: bytes
    ) -> None:
        client_id = f"{document_server.base_url}/client.json"
        document_server.publish("/client.json", document.replace(b"SELF", client_id.encode()))
        await sign_in(client, owner)
        response = await consent_page(client, Authorization(client_id, owner.workspace_id))
        assert response.status_code == 400
        assert await row_count(app, OAuthClient) == 0


@pytest.fixture
def https_documents(tmp_path: Path) -> Iterator[DocumentHost]:
    with document_host(tmp_path) as host:
        yield host


class TestUntrustedCertificates:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"OAUTH_CLIENT_METADATA_ALLOW_PRIVATE": True}

    async def test_a_certificate_from_a_ca_nobody_configured_is_refused(
        self, app: Any, client: httpx.AsyncClient, owner: Member, https_documents: DocumentHost
    ) -> None:
        client_id = https_documents.publish_client("/client.json", "Docs Agent", [REDIRECT_URI])
        await sign_in(client, owner)
        response = await consent_page(client, Authorization(client_id, owner.workspace_id))
        assert response.status_code == 400
        assert "The certificate of the client metadata host is not trusted" in response.text
        assert "unable to get local issuer certificate" in response.text
        assert await row_count(app, OAuthClient) == 0


class TestTrustedCaKeepsTheAddressRules:
    @pytest.fixture
    def settings_overrides(self, https_documents: DocumentHost) -> dict[str, Any]:
        return {"OAUTH_CLIENT_METADATA_CA_FILE": https_documents.ca_file}

    async def test_a_trusted_host_on_a_loopback_address_is_still_never_fetched(
        self, app: Any, client: httpx.AsyncClient, owner: Member, https_documents: DocumentHost
    ) -> None:
        client_id = https_documents.publish_client("/client.json", "Docs Agent", [REDIRECT_URI])
        await sign_in(client, owner)
        response = await consent_page(client, Authorization(client_id, owner.workspace_id))
        assert response.status_code == 400
        assert "private, loopback or reserved address" in response.text
        assert https_documents.fetched == []
        assert await row_count(app, OAuthClient) == 0


def test_the_ca_file_setting_must_hold_certificates(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(ValidationError, match=r"OAUTH_CLIENT_METADATA_CA_FILE .*missing\.pem: no PEM certificate"):
        make_settings("sqlite+aiosqlite://", OAUTH_CLIENT_METADATA_CA_FILE=missing)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(ValidationError, match="no PEM certificate could be read"):
        make_settings("sqlite+aiosqlite://", OAUTH_CLIENT_METADATA_CA_FILE=garbage)


def test_a_private_ca_may_be_trusted_in_production(tmp_path: Path) -> None:
    """Unlike OAUTH_CLIENT_METADATA_ALLOW_PRIVATE: an extra trust anchor lifts none of the address rules."""
    ca_file, _, _ = make_certificates(tmp_path)
    production = make_settings(
        "sqlite+aiosqlite://", PLATFORM_ENV="production", OAUTH_CLIENT_METADATA_CA_FILE=str(ca_file)
    )
    assert production.OAUTH_CLIENT_METADATA_CA_FILE is not None
    assert production.OAUTH_CLIENT_METADATA_CA_FILE.samefile(ca_file)
    with pytest.raises(ValidationError, match="OAUTH_CLIENT_METADATA_ALLOW_PRIVATE cannot be enabled"):
        make_settings("sqlite+aiosqlite://", PLATFORM_ENV="production", OAUTH_CLIENT_METADATA_ALLOW_PRIVATE=True)
