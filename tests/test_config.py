import os
from pathlib import Path

import pytest

from platform_server.config import MissingSecretKey, Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name in Settings.model_fields:
            monkeypatch.delenv(name)


def test_defaults() -> None:
    defaults = settings()
    assert defaults.DATABASE_URL == "sqlite+aiosqlite:///./platform.db"
    assert defaults.PUBLIC_BASE_URL == "http://127.0.0.1:8000"
    assert defaults.MAX_BODY_BYTES == 1_048_576
    assert defaults.is_sqlite
    assert not defaults.is_production
    assert defaults.log_json is False


def test_production_requires_a_secret_key() -> None:
    with pytest.raises(MissingSecretKey, match="SECRET_KEY must be set"):
        settings(PLATFORM_ENV="production")
    with pytest.raises(MissingSecretKey):
        settings(PLATFORM_ENV="production", SECRET_KEY="   ")
    production = settings(PLATFORM_ENV="production", SECRET_KEY="k1, k2")
    assert production.secret_keys() == ["k1", "k2"]
    assert production.log_json is True


def test_production_refuses_the_sandbox() -> None:
    with pytest.raises(ValueError, match="PLATFORM_SANDBOX"):
        settings(PLATFORM_ENV="production", SECRET_KEY="k", PLATFORM_SANDBOX=True)


def test_development_secret_is_generated_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / ".platform-secret"
    first = settings(SECRET_KEY_FILE=path).secret_keys()
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first) == 1
    assert len(first[0]) >= 48
    assert settings(SECRET_KEY_FILE=path).secret_keys() == first


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_a, whsec_b,")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://platform.example.com/")
    monkeypatch.setenv("GITHUB_CLIENT_ID", "gh-id")
    monkeypatch.setenv("GITHUB_CLIENT_SECRET", "gh-secret")
    loaded = settings()
    assert not loaded.is_sqlite
    assert loaded.STRIPE_WEBHOOK_SECRET == ["whsec_a", "whsec_b"]
    assert loaded.PUBLIC_BASE_URL == "https://platform.example.com"
    assert loaded.provider_client_id("github") == "gh-id"
    assert loaded.provider_client_secret("github") == "gh-secret"
    assert loaded.provider_client_secret("jira") is None
    assert "gh-secret" not in repr(loaded)
