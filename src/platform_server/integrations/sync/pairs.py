"""The supported (source entity → target entity) pairs, derived from the provider registry."""

from collections.abc import Iterable

from platform_server.integrations.registry import PROVIDERS, ProviderClass
from platform_server.integrations.sync.base import Exporter, Importer


def importers_of(providers: Iterable[ProviderClass]) -> dict[tuple[str, str], Importer]:
    """(provider, source entity) → importer."""
    return {
        (provider.name, importer.source_entity): importer for provider in providers for importer in provider.importers
    }


def exporters_of(providers: Iterable[ProviderClass]) -> dict[tuple[str, str], Exporter]:
    """(provider, target entity) → exporter."""
    return {
        (provider.name, exporter.target_entity): exporter for provider in providers for exporter in provider.exporters
    }


IMPORTERS = importers_of(PROVIDERS)
EXPORTERS = exporters_of(PROVIDERS)


def supported_pairs(provider: str) -> list[dict[str, str]]:
    """What POST …/sync accepts for a provider, in the request's own terms (for error messages)."""
    pairs = [
        {"syncType": "import", "sourceEntity": source, "targetEntity": importer.target_entity}
        for (name, source), importer in IMPORTERS.items()
        if name == provider
    ]
    pairs += [
        {"syncType": "export", "sourceEntity": "work_items", "targetEntity": target}
        for (name, target) in EXPORTERS
        if name == provider
    ]
    return pairs
