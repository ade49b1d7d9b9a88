"""Without a model the assistant answers 503 naming the settings; an unreachable model is a refunded 502."""

from typing import Any

import httpx
import pytest

from tests.assistant.conftest import ai_used, ask, stored_rows
from tests.conftest import Member
from tests.helpers import assert_error


@pytest.fixture(
    params=[
        {},
        {"AI_BASE_URL": "https://api.openai.com/v1"},
        {"AI_MODEL": "gpt-4o-mini", "AI_API_KEY": "sk-test"},
    ],
    ids=["nothing", "no-model", "no-base-url"],
)
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    overrides: dict[str, Any] = request.param
    return overrides


async def test_not_configured_names_the_settings(app: Any, client: httpx.AsyncClient, owner: Member) -> None:
    error = assert_error(await ask(client, owner, "Hello"), 503, "AI_NOT_CONFIGURED")

    assert error["details"] == {"settings": ["AI_BASE_URL", "AI_MODEL", "AI_API_KEY"]}
    assert "AI_BASE_URL" in error["message"]
    assert "AI_MODEL" in error["message"]
    assert await ai_used(client, owner) == 0
    assert await stored_rows(app) == (0, 0)


class TestUnreachableModel:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        # Port 9 (discard) on loopback: nothing listens, so the connection is refused at once.
        return {"AI_BASE_URL": "http://127.0.0.1:9/v1", "AI_MODEL": "any-model"}

    async def test_is_a_refunded_model_error(self, app: Any, client: httpx.AsyncClient, owner: Member) -> None:
        error = assert_error(await ask(client, owner, "Hello"), 502, "AI_MODEL_ERROR")

        assert "could not be reached" in error["message"]
        assert await ai_used(client, owner) == 0
        assert await stored_rows(app) == (0, 0)
