"""The checkers themselves: each kind of disagreement with a definition is reported, and put on its exchange."""

from pathlib import Path
from typing import Any

import pytest

from tests.contracts.openapi import OpenApi
from tests.contracts.recorder import Exchange, Recorder
from tests.contracts.typed import type_check
from tests.providers.test_tools import ALL_TOOLS


def exchange(provider: str, method: str, path: str, **overrides: Any) -> Exchange:
    values: dict[str, Any] = {
        "provider": provider,
        "method": method,
        "path": path,
        "query": (),
        "request_content_type": "",
        "request_body": None,
        "status": 200,
        "response_content_type": "application/json",
        "response_body": None,
        **overrides,
    }
    return Exchange(**values)


def problems(definition: OpenApi, sent: Exchange, *, complete: bool = False) -> list[str]:
    operation = definition.operation(sent.method, sent.path)
    assert operation is not None
    return [
        *definition.request_problems(sent, operation),
        *definition.response_problems(sent, operation, complete=complete),
    ]


ISSUE = {"id": 1, "node_id": "I_1", "number": 1, "title": "A", "state": "open", "html_url": "https://github.com/a/b/1"}


def test_the_pass_runs_every_tool(recording: Recorder) -> None:
    assert recording.tools_called == set(ALL_TOOLS)


def test_github_requests_out_of_the_definition_are_reported(github_openapi: OpenApi) -> None:
    listed = exchange("github", "GET", "/repos/acme/product/issues", query=(("per_page", "many"), ("colour", "red")))
    found = problems(github_openapi, listed)
    assert any("per_page='many'" in problem for problem in found)
    assert any("'colour' is not defined" in problem for problem in found)

    created = exchange(
        "github",
        "POST",
        "/repos/acme/product/issues",
        request_content_type="application/json",
        request_body={"body": "no title"},
        status=201,
    )
    assert any("'title' is a required property" in problem for problem in problems(github_openapi, created))


def test_github_answers_out_of_the_definition_are_reported(github_openapi: OpenApi) -> None:
    wrong_type = exchange("github", "GET", "/repos/acme/product/issues", response_body=[{**ISSUE, "number": "one"}])
    assert any("0/number" in problem for problem in problems(github_openapi, wrong_type))
    invented = exchange("github", "GET", "/repos/acme/product/issues", response_body=[{**ISSUE, "priority": 1}])
    assert "response body: field [].priority is not in the definition" in problems(github_openapi, invented)
    assert any("events_url" in problem for problem in problems(github_openapi, invented, complete=True))


def test_undeclared_statuses_are_reported(figma_openapi: OpenApi) -> None:
    rejected = exchange(
        "figma", "GET", "/v1/files/abc", status=401, response_body={"status": 401, "err": "Invalid token"}
    )
    assert any("status 401 is not a declared response" in problem for problem in problems(figma_openapi, rejected))


def test_fields_not_in_a_schema_are_found(github_openapi: OpenApi) -> None:
    operation = github_openapi.operation("GET", "/repos/acme/product/pulls")
    assert operation is not None
    schema = github_openapi.response_schema(operation, 200)
    assert github_openapi.has_field(schema, ["[]", "head", "ref"])
    assert not github_openapi.has_field(schema, ["[]", "head", "branch_name"])


def test_error_answers_are_found_with_their_fields(github_openapi: OpenApi, figma_openapi: OpenApi) -> None:
    created = github_openapi.operation("POST", "/repos/acme/product/issues")
    assert created is not None
    schemas = github_openapi.error_schemas(created)
    assert any(github_openapi.has_field(schema, ["errors", "[]", "field"]) for schema in schemas)
    assert not any(github_openapi.has_field(schema, ["errors", "[]", "hint"]) for schema in schemas)
    me = figma_openapi.operation("GET", "/v1/me")
    assert me is not None
    assert any(figma_openapi.has_field(schema, ["err"]) for schema in figma_openapi.error_schemas(me))
    assert not any(figma_openapi.has_field(schema, ["error"]) for schema in figma_openapi.error_schemas(me))


@pytest.mark.parametrize("kind", ["request", "response"])
def test_tsc_errors_land_on_their_exchange(tmp_path: Path, kind: str) -> None:
    recording = Recorder()
    recording.exchanges = [
        exchange("slack", "POST", "/api/auth.test", response_body={"ok": True}),
        exchange(
            "slack",
            "POST",
            "/api/chat.postMessage",
            request_content_type="application/json",
            request_body={"channel": "C1", "text": "hi"},
            response_body={"ok": True, "surprise": 1},
        ),
    ]
    marker = '"surprise"' if kind == "response" else '"channel": "C1"'

    def tsc(config: Path) -> str:
        """Reports an error on the line of the chat.postMessage check of this kind, as tsc would."""
        source = (config.parent / "contracts.ts").read_text().splitlines()
        line = next(number for number, text in enumerate(source, 1) if marker in text)
        return f"contracts.ts({line},20): error TS2353: Object literal may only specify known properties\n  detail\n"

    result = type_check(recording, tmp_path, tmp_path, tsc)
    assert result.checked[("slack", "chat.postMessage", kind)] == 1
    assert list(result.errors) == [("slack", "chat.postMessage", kind)]
    assert result.errors[("slack", "chat.postMessage", kind)][0].startswith("POST /api/chat.postMessage → 200: TS2353")


def test_a_tsc_failure_outside_the_checks_is_not_a_pass(tmp_path: Path) -> None:
    recording = Recorder()
    recording.exchanges = [exchange("slack", "POST", "/api/auth.test", response_body={"ok": True})]

    def tsc(config: Path) -> str:
        return "error TS5058: The specified path does not exist: 'tsconfig.json'.\n"

    with pytest.raises(AssertionError, match="TS5058"):
        type_check(recording, tmp_path, tmp_path, tsc)
