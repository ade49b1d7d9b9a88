"""The provider registry: adding a provider means one module here, the catalog entry and its sandbox."""

from platform_server.config import Settings
from platform_server.integrations.providers.base import Provider
from platform_server.integrations.providers.figma import Figma
from platform_server.integrations.providers.github import GitHub
from platform_server.integrations.providers.jira import Jira
from platform_server.integrations.providers.linear import Linear
from platform_server.integrations.providers.notion import Notion
from platform_server.integrations.providers.slack import Slack

PROVIDER_CLASSES: dict[str, type[Provider]] = {cls.name: cls for cls in (GitHub, Jira, Linear, Notion, Slack, Figma)}


def get_provider(settings: Settings, name: str) -> Provider:
    return PROVIDER_CLASSES[name](settings)


__all__ = ["PROVIDER_CLASSES", "Provider", "get_provider"]
