"""The OpenAPI document is complete enough to generate SDKs and documentation from."""

from typing import Any

import pytest

from platform_server.app import create_app
from tests.conftest import make_settings

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('openapi')}/unused.db"
    spec: dict[str, Any] = create_app(make_settings(url)).openapi()
    return spec


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _has_example(schema: dict[str, Any]) -> bool:
    if "examples" in schema or "example" in schema or "const" in schema:
        return True
    return any(_has_example(variant) for variant in schema.get("anyOf", []) if variant.get("type") != "null")


def _is_reference(schema: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return True
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return _is_reference(schema["items"])
    variants = schema.get("anyOf") or schema.get("allOf") or []
    return any(_is_reference(variant) for variant in variants)


def test_operation_ids_are_unique_camel_case(document: dict[str, Any]) -> None:
    ids = [operation.get("operationId") for _, _, operation in _operations(document)]
    assert all(ids), [f"{m} {p}" for m, p, o in _operations(document) if not o.get("operationId")]
    assert len(ids) == len(set(ids))
    assert all(value[0].islower() and "_" not in value and "-" not in value for value in ids), ids


def test_every_operation_has_a_summary_and_a_documented_success(document: dict[str, Any]) -> None:
    problems = []
    for method, path, operation in _operations(document):
        if not operation.get("summary"):
            problems.append(f"{method} {path}: no summary")
        successes = {code: r for code, r in operation["responses"].items() if code.startswith(("2", "3"))}
        if not successes:
            problems.append(f"{method} {path}: no 2xx/3xx response")
        for code, response in successes.items():
            content = response.get("content", {})
            json_schema = content.get("application/json", {}).get("schema")
            if code in ("204", "302", "303", "307") or (content and "application/json" not in content):
                continue
            if not json_schema or json_schema == {}:
                problems.append(f"{method} {path}: {code} has no response model")
    assert not problems, "\n".join(problems)


def test_every_operation_documents_its_errors(document: dict[str, Any]) -> None:
    problems = []
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        expected = set()
        if operation.get("security"):
            expected.add("401")
        if operation.get("parameters") or operation.get("requestBody"):
            expected.add("422")
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            expected.add("404")
        if "400" in responses:
            # Routes that check their raw input themselves (signed webhooks) refuse it with 400, not 422.
            expected.discard("422")
        if missing := expected - set(responses):
            problems.append(f"{method} {path}: undocumented {sorted(missing)}")
        for code, response in responses.items():
            if not code.startswith(("4", "5")):
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            if code != "503" and schema.get("$ref") != "#/components/schemas/ErrorResponse":
                problems.append(f"{method} {path}: {code} is not the error format")
    assert not problems, "\n".join(problems)


def test_the_api_is_authenticated_by_bearer_keys(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
    for method, path, operation in _operations(document):
        if path in ("/api/me", "/api/workspaces", "/api/features", "/api/work-items", "/api/api-keys"):
            assert operation.get("security"), f"{method} {path}"


def test_every_schema_property_has_an_example(document: dict[str, Any]) -> None:
    problems = []
    for name, schema in document["components"]["schemas"].items():
        if "examples" in schema or "example" in schema or "properties" not in schema:
            continue
        if name in ("HTTPValidationError", "ValidationError"):
            continue
        for field, prop in schema["properties"].items():
            if _has_example(prop) or _is_reference(prop):
                continue
            problems.append(f"{name}.{field}")
    assert not problems, "properties without examples: " + ", ".join(problems)


def test_no_default_fastapi_validation_error(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        schema = operation["responses"].get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
        assert schema.get("$ref") != "#/components/schemas/HTTPValidationError", f"{method} {path}"
