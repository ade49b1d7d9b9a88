"""Checks recorded exchanges against a provider's published OpenAPI description (3.0 or 3.1).

The description is loaded once per session. OpenAPI 3.0's `nullable` is rewritten to JSON Schema's `null` type
so that one JSON Schema 2020-12 validator serves both versions; `$ref`s are resolved by `referencing` against
the whole document, registered under its own URI.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.contracts.recorder import Exchange

_MAX_ERRORS = 5


def _with_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0 schema marked `nullable: true` as plain JSON Schema that also accepts null."""
    schema = {key: value for key, value in schema.items() if key != "nullable"}
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    if isinstance(schema.get("type"), str):
        schema["type"] = [schema["type"], "null"]
        return schema
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            schema[combinator] = [*schema[combinator], {"type": "null"}]
            return schema
    if "allOf" in schema or "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    return schema


def _json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _json_schema(value) for key, value in node.items()}
    return _with_null(converted) if converted.get("nullable") is True else converted


def _lenient(node: Any) -> Any:
    if isinstance(node, list):
        return [_lenient(item) for item in node]
    if not isinstance(node, dict):
        return node
    """Without `required`, and `oneOf` read as `anyOf` (without `required` several branches may match)."""
    lenient = {}
    for key, value in node.items():
        if key == "required" and isinstance(value, list):
            continue
        lenient["anyOf" if key == "oneOf" and isinstance(value, list) else key] = _lenient(value)
    return lenient


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    definition: dict[str, Any]


def _coerce(value: str, schema: dict[str, Any]) -> Any:
    """A query or path value (always text on the wire) as the type its schema declares."""
    types = schema.get("type")
    kinds = set(types) if isinstance(types, list) else {types}
    if kinds & {"integer", "number"} and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value) if "." in value else int(value)
    if "boolean" in kinds and value in ("true", "false"):
        return value == "true"
    return value


class OpenApi:
    def __init__(self, path: Path, uri: str) -> None:
        text = path.read_text()
        raw = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=yaml.CSafeLoader)
        self.version: str = raw["openapi"]
        self.document: dict[str, Any] = _json_schema(raw) if self.version.startswith("3.0") else raw
        self.uri = uri
        # The same document without `required`: checks what is answered, whether or not all of it is.
        self.lenient_uri = uri + ":lenient"
        self.registry: Registry[Any] = Registry().with_resources(
            (document_uri, Resource.from_contents(document, default_specification=DRAFT202012))
            for document_uri, document in ((uri, self.document), (self.lenient_uri, _lenient(self.document)))
        )
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}

    @cached_property
    def _templates(self) -> list[tuple[re.Pattern[str], str]]:
        patterns = []
        for template in self.document["paths"]:
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            patterns.append((re.compile(pattern + "$"), template))
        # Literal segments win over parameters (`/user/repos` before `/users/{username}`).
        return sorted(patterns, key=lambda item: item[1].count("{"))

    def operation(self, method: str, path: str) -> Operation | None:
        for pattern, template in self._templates:
            if pattern.match(path):
                definition = self.document["paths"][template].get(method.lower())
                if definition is not None:
                    return Operation(method, template, definition)
        return None

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """A `$ref`'d parameter, response or request body as its definition."""
        while "$ref" in node:
            resolved: dict[str, Any] = self.registry.resolver(self.uri).lookup(node["$ref"]).contents
            node = resolved
        return node

    def _errors(self, pointer: str, instance: Any, *, complete: bool = True) -> list[str]:
        uri = self.uri if complete else self.lenient_uri
        validator = self._validators.get((uri, pointer))
        if validator is None:
            validator = Draft202012Validator({"$ref": f"{uri}#{pointer}"}, registry=self.registry)
            self._validators[(uri, pointer)] = validator
        # best_match descends into a oneOf/anyOf to the branch that came closest, which says what is wrong.
        errors = sorted(
            (best_match([error]) for error in validator.iter_errors(instance)),
            key=lambda error: list(error.absolute_path),
        )
        return [
            f"{'/'.join(str(part) for part in error.absolute_path) or '(body)'}: {error.message[:300]}"
            for error in errors[:_MAX_ERRORS]
        ]

    def _parameters(self, operation: Operation) -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
        """(location, name) → (parameter, JSON pointer of its schema)."""
        found: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        path_item = self.document["paths"][operation.template]
        for owner, entries in (
            (("paths", operation.template), path_item.get("parameters") or []),
            (("paths", operation.template, operation.method.lower()), operation.definition.get("parameters") or []),
        ):
            for index, entry in enumerate(entries):
                pointer = entry["$ref"][1:] if "$ref" in entry else _pointer(*owner, "parameters", str(index))
                parameter = self.resolve(entry)
                found[(parameter["in"], parameter["name"])] = (parameter, pointer + "/schema")
        return found

    def request_problems(self, exchange: Exchange, operation: Operation) -> Iterator[str]:
        parameters = self._parameters(operation)
        names = re.findall(r"\{([^}]+)\}", operation.template)
        values = re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(operation.template)), exchange.path)
        assert values is not None
        for name, value in zip(names, values.groups(), strict=True):
            parameter, pointer = parameters[("path", name)]
            for error in self._errors(pointer, _coerce(value, parameter.get("schema", {}))):
                yield f"path parameter {name}={value!r}: {error}"
        sent = dict(exchange.query)
        for name, value in exchange.query:
            if ("query", name) not in parameters:
                yield f"query parameter {name!r} is not defined for {operation.method} {operation.template}"
                continue
            parameter, pointer = parameters[("query", name)]
            for error in self._errors(pointer, _coerce(value, parameter.get("schema", {}))):
                yield f"query parameter {name}={value!r}: {error}"
        for (location, name), (parameter, _) in parameters.items():
            if location == "query" and parameter.get("required") and name not in sent:
                yield f"required query parameter {name!r} is missing"
        yield from self._body_problems(exchange, operation)

    def _body_problems(self, exchange: Exchange, operation: Operation) -> Iterator[str]:
        body_pointer = _pointer("paths", operation.template, operation.method.lower(), "requestBody")
        request_body = operation.definition.get("requestBody")
        if request_body is None:
            if exchange.request_body is not None:
                yield f"a body is sent, but {operation.method} {operation.template} defines none"
            return
        if "$ref" in request_body:
            body_pointer = request_body["$ref"][1:]
            request_body = self.resolve(request_body)
        if exchange.request_body is None:
            if request_body.get("required"):
                yield "the required request body is missing"
            return
        media = exchange.request_content_type.split(";")[0].strip() or "application/json"
        if media not in request_body["content"]:
            yield f"request body sent as {media}; the definition accepts {sorted(request_body['content'])}"
            return
        if "schema" in request_body["content"][media]:
            for error in self._errors(body_pointer + _pointer("content", media, "schema"), exchange.request_body):
                yield f"request body: {error}"

    def response_pointer(self, operation: Operation, status: int) -> tuple[dict[str, Any], str] | None:
        """The response the definition declares for a status (exact, then `4XX`-style, then `default`)."""
        responses = operation.definition.get("responses") or {}
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                response = responses[key]
                pointer = (
                    response["$ref"][1:]
                    if "$ref" in response
                    else _pointer("paths", operation.template, operation.method.lower(), "responses", key)
                )
                return self.resolve(response), pointer
        return None

    def response_problems(self, exchange: Exchange, operation: Operation, *, complete: bool) -> Iterator[str]:
        """What in the answer disagrees with the definition; `complete` also asks for every required field."""
        declared = self.response_pointer(operation, exchange.status)
        if declared is None:
            statuses = sorted(operation.definition.get("responses") or {})
            yield f"status {exchange.status} is not a declared response (declared: {statuses})"
            return
        response, pointer = declared
        content = response.get("content") or {}
        media = exchange.response_content_type.split(";")[0].strip()
        if exchange.response_body is None:
            return
        if not content:
            yield f"a body is answered, but the {exchange.status} response defines none"
            return
        if media not in content:
            yield f"answered {media}; the {exchange.status} response defines {sorted(content)}"
            return
        if "schema" in content[media]:
            schema_pointer = pointer + _pointer("content", media, "schema")
            for error in self._errors(schema_pointer, exchange.response_body, complete=complete):
                yield f"response body: {error}"
            if not complete:
                schema = content[media]["schema"]
                for field in sorted(set(self.undeclared_fields(schema, exchange.response_body))):
                    yield f"response body: field {field} is not in the definition"

    def has_field(self, schema: dict[str, Any], path: list[str]) -> bool:
        """Whether a dotted field path (`[]` steps into array items) is promised by a schema."""
        schema = self.resolve(schema)
        if not path:
            return True
        step, rest = path[0], path[1:]
        for combinator in ("allOf", "anyOf", "oneOf"):
            if any(self.has_field(branch, path) for branch in schema.get(combinator, [])):
                return True
        if step == "[]":
            items = schema.get("items")
            return isinstance(items, dict) and self.has_field(items, rest)
        properties = schema.get("properties") or {}
        if step in properties:
            return self.has_field(properties[step], rest)
        extra = schema.get("additionalProperties")
        return isinstance(extra, dict) and self.has_field(extra, rest)

    def _properties(self, schema: dict[str, Any]) -> tuple[set[str], bool]:
        """The property names a schema (and its combinators) declares, and whether it allows any others."""
        schema = self.resolve(schema)
        names = set(schema.get("properties") or {})
        extra = schema.get("additionalProperties", False) is not False or "patternProperties" in schema
        if (
            not names
            and not extra
            and schema.get("type") in (None, "object")
            and not any(combinator in schema for combinator in ("allOf", "anyOf", "oneOf"))
        ):
            extra = True  # a bare `object` promises nothing, and forbids nothing
        for combinator in ("allOf", "anyOf", "oneOf"):
            for branch in schema.get(combinator, []):
                branch_names, branch_extra = self._properties(branch)
                names |= branch_names
                extra = extra or branch_extra
        return names, extra

    def _children(self, schema: dict[str, Any], key: str) -> list[dict[str, Any]]:
        schema = self.resolve(schema)
        found = []
        if key in (schema.get("properties") or {}):
            found.append(schema["properties"][key])
        if key == "[]" and isinstance(schema.get("items"), dict):
            found.append(schema["items"])
        for combinator in ("allOf", "anyOf", "oneOf"):
            for branch in schema.get(combinator, []):
                found += self._children(branch, key)
        return found

    def undeclared_fields(self, schema: dict[str, Any], instance: Any, at: str = "") -> Iterator[str]:
        """Dotted paths of the answered fields no schema branch declares (`[]` for array items)."""
        if isinstance(instance, list):
            for item in instance:
                for child in self._children(schema, "[]"):
                    yield from self.undeclared_fields(child, item, f"{at}[]")
        elif isinstance(instance, dict):
            names, extra = self._properties(schema)
            for key, value in instance.items():
                if key not in names:
                    if not extra:
                        yield f"{at}.{key}".lstrip(".")
                    continue
                for child in self._children(schema, key):
                    yield from self.undeclared_fields(child, value, f"{at}.{key}")

    def error_schemas(self, operation: Operation) -> list[dict[str, Any]]:
        """The JSON schemas of the error answers (4XX and 5XX) an operation declares."""
        schemas = []
        for key, response in (operation.definition.get("responses") or {}).items():
            if key[0] in "45":
                content = self.resolve(response).get("content") or {}
                schema = (content.get("application/json") or {}).get("schema")
                if schema is not None:
                    schemas.append(schema)
        return schemas

    def response_schema(self, operation: Operation, status: int) -> dict[str, Any]:
        declared = self.response_pointer(operation, status)
        assert declared is not None, f"{operation.method} {operation.template} declares no {status} response"
        content = declared[0]["content"]
        schema: dict[str, Any] = content["application/json"]["schema"]
        return schema
