"""The provider catalog: what can be connected, whether it is configured, and the tools it brings."""

from collections.abc import Iterable

from platform_server.config import Settings
from platform_server.integrations.providers.base import missing_credential_settings
from platform_server.integrations.providers.toolspec import ToolSpec
from platform_server.integrations.registry import PROVIDER_CLASSES, PROVIDERS, ProviderClass
from platform_server.integrations.schemas import ProviderInfo, ToolInfo


def tool_names(provider: str) -> list[str]:
    return [tool.name for tool in PROVIDER_CLASSES[provider].tools]


def _tool_info(tool: ToolSpec) -> ToolInfo:
    return ToolInfo(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=dict(tool.input_schema),
        output_schema=dict(tool.output_schema),
        annotations=tool.annotations,
    )


def provider_catalog(settings: Settings, providers: Iterable[ProviderClass] = PROVIDERS) -> list[ProviderInfo]:
    entries = []
    for provider in providers:
        missing = missing_credential_settings(settings, provider.name)
        entries.append(
            ProviderInfo(
                provider=provider.name,
                name=provider.display_name,
                category=provider.category.value,
                default_scopes=list(provider.oauth.default_scopes),
                configured=not missing,
                missing_settings=missing,
                tools=[_tool_info(tool) for tool in provider.tools],
            )
        )
    return entries
