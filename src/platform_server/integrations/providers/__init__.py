"""The provider registry: adding a provider means one module here, the catalog entry and its sandbox."""

from platform_server.config import Settings
from platform_server.integrations.providers.base import Provider
from platform_server.integrations.providers.figma.provider import Figma
from platform_server.integrations.providers.github.provider import GitHub
from platform_server.integrations.providers.jira.provider import Jira
from platform_server.integrations.providers.linear.provider import Linear
from platform_server.integrations.providers.notion.provider import Notion
from platform_server.integrations.providers.slack.provider import Slack

PROVIDER_CLASSES: dict[str, type[Provider]] = {cls.name: cls for cls in (GitHub, Jira, Linear, Notion, Slack, Figma)}


def get_provider(settings: Settings, name: str) -> Provider:
    return PROVIDER_CLASSES[name](settings)


__all__ = ["PROVIDER_CLASSES", "Provider", "get_provider"]
