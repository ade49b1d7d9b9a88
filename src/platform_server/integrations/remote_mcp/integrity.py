"""What an upstream tool may be: its definition in canonical form (what an admin approves, by hash), and the
rules that refuse it outright (a name MCP does not allow, an oversized definition, one that poses as ours).

Upstream descriptions and schemas are untrusted text that reaches models: they are served exactly as an admin
approved them, and a change withholds the tool until it is approved again.
"""

import hashlib
import re
from collections.abc import Mapping
from typing import Any

import mcp_types
import orjson

from platform_server.integrations.registry import PROVIDER_CLASSES, PROVIDER_NAMES
from platform_server.text_guard import unstorable_location

# MCP's tool names: 1 to 128 of letters, digits, `_`, `-` and `.`; the exposed `<slug>__<name>` must fit too.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
MAX_EXPOSED_NAME = 128
MAX_DESCRIPTION_CHARS = 8_000
MAX_DEFINITION_BYTES = 64 * 1024
MAX_TOOLS_PER_SERVER = 500
SEPARATOR = "__"

DEFINITION_FIELDS = ("name", "title", "description", "inputSchema", "outputSchema", "annotations")
_NATIVE_TOOLS = frozenset(name for cls in PROVIDER_CLASSES.values() for name in (spec.name for spec in cls.tools))
# Separators an impostor might swap in: `github-list-issues` and `GitHub.List.Issues` read as `github_list_issues`.
_FOLD = re.compile(r"[\s.\-]+")


def definition_of(tool: mcp_types.Tool) -> dict[str, Any]:
    """The parts of a tool a model sees, in wire form (camelCase); absent parts are null."""
    dumped = tool.model_dump(by_alias=True, mode="json", exclude_none=True)
    return {name: dumped.get(name) for name in DEFINITION_FIELDS}


def canonical_hash(definition: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(dict(definition), option=orjson.OPT_SORT_KEYS)).hexdigest()


def exposed_name(slug: str, tool_name: str) -> str:
    return f"{slug}{SEPARATOR}{tool_name}"


def _folded(text: str) -> str:
    return _FOLD.sub("_", text.strip()).casefold()


def refusal(slug: str, definition: Mapping[str, Any]) -> str | None:
    """Why the tool can never be served as defined; None when it can (it still needs approval)."""
    name = definition.get("name")
    if not isinstance(name, str) or not TOOL_NAME.fullmatch(name):
        return "The tool name breaks MCP's rule: 1 to 128 letters, digits, '_', '-' or '.'"
    if len(exposed_name(slug, name)) > MAX_EXPOSED_NAME:
        return f"The exposed name {exposed_name(slug, name)!r} is longer than {MAX_EXPOSED_NAME} characters"
    if unstorable_location(dict(definition)) is not None:
        return "The definition holds NUL bytes or unpaired UTF-16 surrogates"
    description = definition.get("description")
    if isinstance(description, str) and len(description) > MAX_DESCRIPTION_CHARS:
        return f"The description is longer than {MAX_DESCRIPTION_CHARS} characters"
    size = len(orjson.dumps(dict(definition)))
    if size > MAX_DEFINITION_BYTES:
        return f"The definition is {size} bytes, more than the {MAX_DEFINITION_BYTES} allowed"
    return impersonation(name, definition.get("title"))


def impersonation(name: str, title: object) -> str | None:
    """A name or title that reads as one of our own tools, so a model could mistake the tool for it."""
    folded = _folded(name)
    for native in _NATIVE_TOOLS:
        if native in folded:
            return f"The tool name {name!r} imitates the native tool {native}"
    if isinstance(title, str):
        folded_title = _folded(title)
        if any(native in folded_title for native in _NATIVE_TOOLS):
            return f"The tool title {title!r} imitates a native tool's name"
    return None


def slug_refusal(slug: str) -> str | None:
    """Slugs that would make exposed names read as a native provider's tools (`github__…`, `github_x__…`)."""
    for provider in PROVIDER_NAMES:
        if slug == provider or slug.startswith(f"{provider}_") or slug.startswith(f"{provider}-"):
            return f"The slug {slug!r} is reserved: it reads as the native {provider} integration's tools"
    return None
