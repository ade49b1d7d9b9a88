"""What a provider tool is: its name, schemas and hints for models, and the coroutine that runs it.

Every provider module exports `TOOLS: tuple[ToolSpec, ...]` (providers/<provider>_tools.py). The gateway
lists them (MCP `tools/list`), validates arguments against `input_schema`, fills the argument named by
`default_project_argument` from the workspace's `defaultProject` when it is omitted, and calls `execute`
with a `ProviderClient` bound to the integration. `execute` returns a compact dict matching
`output_schema` (MCP `structuredContent`) or raises a `ProviderError` whose message the model can act on.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from jsonschema import Draft202012Validator, ValidationError  # type: ignore[import-untyped]

from platform_server.integrations.providers.client import ProviderBadRequest, ProviderClient, quote_value
from platform_server.integrations.providers.schema_check import Check, compile_check

ToolFunction = Callable[[ProviderClient, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ToolSpec:
    provider: str
    name: str
    title: str
    description: str
    input_schema: Mapping[str, Any]
    output_schema: Mapping[str, Any]
    run: ToolFunction = field(repr=False)
    read_only: bool = True
    destructive: bool = False
    idempotent: bool = True
    open_world: bool = True
    # The argument a workspace's `defaultProject` fills when the caller omits it ("repo", "projectKey", …).
    default_project_argument: str | None = None
    # Provider scopes the tool needs, for the catalog and for error hints.
    scopes: tuple[str, ...] = ()

    @property
    def annotations(self) -> dict[str, Any]:
        """MCP tool annotations."""
        return {
            "title": self.title,
            "readOnlyHint": self.read_only,
            "destructiveHint": self.destructive,
            "idempotentHint": self.idempotent,
            "openWorldHint": self.open_world,
        }

    async def execute(self, client: ProviderClient, arguments: dict[str, Any]) -> dict[str, Any]:
        return await self.run(client, arguments)

    def validation_errors(self, arguments: Mapping[str, Any]) -> list[str]:
        """Messages for every way the arguments break the input schema (empty when they are valid)."""
        candidate = dict(arguments)
        # The usual case answers fastest: the compiled check costs a fraction of jsonschema's, and collecting
        # errors several times a plain check.
        if self._arguments_valid(candidate):
            return []
        validator = self._validator
        if validator.is_valid(candidate):
            return []
        return [
            f"{'/'.join(str(part) for part in error.absolute_path) or 'arguments'}: {_describe(error)}"
            for error in sorted(validator.iter_errors(candidate), key=lambda error: list(error.absolute_path))
        ]

    # Built on first use, once per tool: every call of the tool validates against them.
    @cached_property
    def _arguments_valid(self) -> Check:
        return compile_check(self.input_schema)

    @cached_property
    def _validator(self) -> Any:
        return Draft202012Validator(dict(self.input_schema))


# What a failed keyword means, for the keywords whose failure is "the value passes a bound".
_BOUNDS = {
    "minimum": "is less than the minimum {}",
    "maximum": "is greater than the maximum {}",
    "minLength": "is shorter than {} characters",
    "maxLength": "is longer than {} characters",
    "minItems": "has fewer than {} items",
    "maxItems": "has more than {} items",
    "pattern": "does not match the pattern {}",
    "format": "is not a valid {}",
}


def _describe(error: ValidationError) -> str:
    """A schema violation in JSON terms: jsonschema's own messages quote Python reprs (`None`, `'x'`, `True`)."""
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword == "required":
        return f"missing required {_quote_all([name for name in expected if name not in value])}"
    if keyword == "additionalProperties":
        known = error.schema.get("properties", {})
        return f"unexpected {_quote_all(sorted(name for name in value if name not in known))}"
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"{quote_value(value)} is not of type {' or '.join(kinds)}"
    if keyword == "enum":
        return f"{quote_value(value)} is not one of {_quote_all(expected)}"
    if keyword == "uniqueItems":
        return "has repeated items"
    if keyword in ("anyOf", "oneOf"):
        return f"{quote_value(value)} matches none of the allowed forms"
    if keyword in _BOUNDS:
        shown = quote_value(expected) if keyword == "pattern" else expected
        return f"{quote_value(value)} {_BOUNDS[keyword].format(shown)}"
    return f"{quote_value(value)} does not satisfy {keyword} {quote_value(expected)}"


def _quote_all(values: list[Any]) -> str:
    return ", ".join(quote_value(value) for value in values)


# -- schema helpers ----------------------------------------------------------------------------------------


def obj(properties: Mapping[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """A closed JSON object schema (unknown arguments are an error a model can correct)."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(required),
        "additionalProperties": False,
        **extra,
    }


def string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def integer(description: str, minimum: int, maximum: int, default: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "integer",
        "description": description,
        "minimum": minimum,
        "maximum": maximum,
    }
    if default is not None:
        schema["default"] = default
    return schema


def enum(description: str, values: tuple[str, ...], default: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": description, "enum": list(values)}
    if default is not None:
        schema["default"] = default
    return schema


def nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    kind = schema.get("type")
    return {**schema, "type": [kind, "null"]} if isinstance(kind, str) else {"anyOf": [dict(schema), {"type": "null"}]}


def array(items: Mapping[str, Any], description: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": dict(items), **extra}
    if description:
        schema["description"] = description
    return schema


def arg(arguments: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """An argument, or the default the input schema documents for it."""
    value = arguments.get(name)
    return default if value is None else value


def require(arguments: Mapping[str, Any], name: str, provider: str, hint: str) -> Any:
    value = arguments.get(name)
    if value is None or value == "":
        raise ProviderBadRequest(provider, f"`{name}` is required: {hint}")
    return value


def clip(text: str | None, limit: int = 500) -> str | None:
    """Long bodies cut to what a model needs to decide whether to fetch more."""
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"
