"""The provider registry: the one list of provider packages. Names, titles, the API's provider enum, the
catalog, the HTTP clients and the sync lookups all derive from it; adding a provider means adding its package
(see README, "Adding a provider") and naming it here."""

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import cast

from platform_server.config import Settings
from platform_server.integrations.providers import figma, github, jira, linear, notion, slack
from platform_server.integrations.providers.base import Provider
from platform_server.integrations.providers.client import ApiPolicy

ProviderClass = type[Provider]

PROVIDERS: tuple[ProviderClass, ...] = (
    github.PROVIDER,
    jira.PROVIDER,
    linear.PROVIDER,
    notion.PROVIDER,
    slack.PROVIDER,
    figma.PROVIDER,
)


def by_name(providers: Iterable[ProviderClass]) -> dict[str, ProviderClass]:
    return {provider.name: provider for provider in providers}


def api_policies(providers: Iterable[ProviderClass]) -> tuple[ApiPolicy, ...]:
    """What the shared HTTP client needs (`ProviderHttp`): each provider's API policy."""
    return tuple(provider.api for provider in providers)


def name_enum(providers: Iterable[ProviderClass]) -> type[StrEnum]:
    """The API's provider enum (`ProviderName` in the OpenAPI document)."""
    # The functional Enum API builds a class; the type checker reads the call as making a member.
    return cast("type[StrEnum]", StrEnum("ProviderName", [(provider.name, provider.name) for provider in providers]))


PROVIDER_CLASSES: Mapping[str, ProviderClass] = by_name(PROVIDERS)
PROVIDER_NAMES: tuple[str, ...] = tuple(PROVIDER_CLASSES)
PROVIDER_APIS = api_policies(PROVIDERS)


def get_provider(settings: Settings, name: str) -> Provider:
    return PROVIDER_CLASSES[name](settings)


__all__ = ["PROVIDERS", "PROVIDER_APIS", "PROVIDER_CLASSES", "PROVIDER_NAMES", "Provider", "get_provider"]
