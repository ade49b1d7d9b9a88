"""API keys never reach the logs, whatever part of a request carries them."""

import json
import logging

import httpx
import pytest

from platform_server.app import create_app
from platform_server.config import Settings
from platform_server.log import configure_logging, get_logger
from tests.conftest import Member, make_settings


@pytest.fixture
def json_logs_settings(settings: Settings) -> Settings:
    return make_settings(settings.DATABASE_URL, LOG_LEVEL="INFO", LOG_JSON=True)


async def test_requests_with_keys_leave_no_key_in_the_logs(
    json_logs_settings: Settings, owner: Member, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(json_logs_settings)  # configures logging to the captured stderr

    @app.get("/test-only/boom")
    async def boom() -> dict[str, str]:
        raise RuntimeError(f"failed while holding {owner.api_key}")

    unknown = "plat_neverIssuedButStillASecret0123456789abcdefghij"
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        assert (await http.get("/api/me", headers=owner.headers)).status_code == 200
        assert (await http.get("/api/me", headers={"Authorization": f"Bearer {unknown}"})).status_code == 401
        assert (await http.get(f"/api/workspaces/{owner.api_key}", headers=owner.headers)).status_code == 404
        await http.get("/api/workspaces", params={"api_key": owner.api_key}, headers=owner.headers)
        await http.post("/api/workspaces", json={"name": owner.api_key * 10}, headers=owner.headers)
        assert (await http.get("/test-only/boom", headers=owner.headers)).status_code == 500
    get_logger("test").info("explicit", authorization=f"Bearer {owner.api_key}", note=f"key={unknown}")
    logging.getLogger("thirdparty").warning("stdlib says %s", owner.api_key)

    captured = capsys.readouterr()
    output = captured.err + captured.out
    lines = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    assert any(line.get("event") == "request" and line.get("status") == 200 for line in lines)
    assert any(line.get("event") == "unhandled_error" for line in lines)
    assert any(line.get("event") == "explicit" for line in lines)
    assert "stdlib says" in output
    assert owner.api_key not in output
    assert unknown not in output
    assert owner.api_key[5:] not in output


def test_log_levels_follow_the_latest_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    logger = get_logger("platform_server.test")
    configure_logging("WARNING", json_output=True)
    logger.info("hidden")
    configure_logging("INFO", json_output=True)
    logger.info("shown")
    err = capsys.readouterr().err
    assert "shown" in err
    assert "hidden" not in err


def test_console_output_redacts_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_output=False)
    get_logger("x").info("event", token="abc", text="Bearer plat_secretsecretsecret")
    err = capsys.readouterr().err
    assert "token=abc" not in err
    assert "plat_secretsecretsecret" not in err
