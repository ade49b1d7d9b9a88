from collections.abc import AsyncIterator

import httpx
import pytest

from platform_server.sandbox.resend import ResendSandboxStore, create_resend_sandbox

KEY = "re_sandbox_key"
EMAIL = {"from": "Platform <noreply@platform.local>", "to": "ada@example.com", "subject": "Hi", "text": "Hello"}


@pytest.fixture
def sandbox_app() -> httpx.ASGITransport:
    return httpx.ASGITransport(app=create_resend_sandbox({KEY}))


@pytest.fixture
async def resend(sandbox_app: httpx.ASGITransport) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {KEY}", "User-Agent": "tests"}
    async with httpx.AsyncClient(transport=sandbox_app, base_url="http://resend", headers=headers) as client:
        yield client


def store_of(transport: httpx.ASGITransport) -> ResendSandboxStore:
    store: ResendSandboxStore = transport.app.state.store  # type: ignore[attr-defined]
    return store


async def test_sends_and_records(resend: httpx.AsyncClient, sandbox_app: httpx.ASGITransport) -> None:
    response = await resend.post("/emails", json=EMAIL)
    assert response.status_code == 200
    [sent] = store_of(sandbox_app).emails
    assert response.json() == {"id": sent.id}
    assert sent.to == ["ada@example.com"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": ""}, 401),
        ({"Authorization": "Bearer re_unknown"}, 403),
        ({"User-Agent": ""}, 403),
    ],
)
async def test_refuses_bad_credentials(
    resend: httpx.AsyncClient, sandbox_app: httpx.ASGITransport, headers: dict[str, str], status: int
) -> None:
    response = await resend.post("/emails", json=EMAIL, headers=headers)
    assert response.status_code == status
    assert response.json()["statusCode"] == status
    assert store_of(sandbox_app).emails == []


@pytest.mark.parametrize(
    "body",
    [
        {**EMAIL, "to": "not-an-address"},
        {**EMAIL, "to": []},
        {**EMAIL, "from": "nobody"},
        {key: value for key, value in EMAIL.items() if key != "subject"},
        {key: value for key, value in EMAIL.items() if key != "text"},
        ["not", "an", "object"],
    ],
)
async def test_refuses_invalid_emails(
    resend: httpx.AsyncClient, sandbox_app: httpx.ASGITransport, body: object
) -> None:
    response = await resend.post("/emails", json=body)
    assert response.status_code == 422
    assert response.json()["name"] == "validation_error"
    assert store_of(sandbox_app).emails == []


async def test_refuses_malformed_json(resend: httpx.AsyncClient) -> None:
    response = await resend.post("/emails", content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 422


async def test_idempotency_key_returns_the_first_email(
    resend: httpx.AsyncClient, sandbox_app: httpx.ASGITransport
) -> None:
    first = await resend.post("/emails", json=EMAIL, headers={"Idempotency-Key": "k"})
    again = await resend.post("/emails", json=EMAIL, headers={"Idempotency-Key": "k"})
    other = await resend.post("/emails", json={**EMAIL, "subject": "Other"}, headers={"Idempotency-Key": "k"})
    assert first.json() == again.json()
    assert other.status_code == 409
    assert len(store_of(sandbox_app).emails) == 1


async def test_injected_failures(resend: httpx.AsyncClient, sandbox_app: httpx.ASGITransport) -> None:
    store_of(sandbox_app).fail_next.extend([429, 500])
    assert (await resend.post("/emails", json=EMAIL)).status_code == 429
    assert (await resend.post("/emails", json=EMAIL)).status_code == 500
    assert (await resend.post("/emails", json=EMAIL)).status_code == 200


async def test_only_post_emails_exists(resend: httpx.AsyncClient) -> None:
    assert (await resend.get("/emails")).status_code == 405
    assert (await resend.post("/domains", json={})).status_code == 404
