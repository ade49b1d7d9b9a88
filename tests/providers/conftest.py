from tests.sandbox.conftest import (
    http,
    provider_http,
    sandbox_app,
    sandbox_database,
    sandbox_settings_overrides,
    store,
)

__all__ = ["http", "provider_http", "sandbox_app", "sandbox_database", "sandbox_settings_overrides", "store"]
