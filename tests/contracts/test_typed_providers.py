"""Jira, Linear, Notion and Slack: our requests and the sandbox's answers type-checked against the official
SDKs' published types (`@notionhq/client`, `@slack/web-api`, `@linear/sdk`; for Jira, which publishes no
definition in a registry, the community `jira.js` models generated from Atlassian's OpenAPI). Versions in
package-lock.json.
"""

import pytest

from tests.contracts.recorder import Recorder
from tests.contracts.typed import (
    REST,
    UNTYPED,
    SchemaField,
    TypeCheck,
    deprecated_selections,
    graphql_operation,
    rest_operation,
)

# Linear's GraphQL operations we send (type and root fields). Their "request" check is the fields the document
# selects and its root fields' arguments.
LINEAR_OPERATIONS = (
    "query organization viewer",
    "query issues",
    "query teams",
    "mutation issueCreate",
    "query projects",
    "query cycles",
)

FINDINGS: dict[tuple[str, str, str], str] = {
    ("slack", "auth.revoke", "response"): (
        "the sandbox answers `revoked` (as Slack's documentation shows), which @slack/web-api's "
        "AuthRevokeResponse does not declare"
    ),
}


def _operations(kind: str) -> list[tuple[str, str]]:
    found = []
    for provider, operations in REST.items():
        for operation in operations:
            if (operation.request if kind == "request" else operation.response) is not None:
                found.append((provider, operation.operation))
    found += [("linear", name) for name in LINEAR_OPERATIONS]
    return found


def _cases(kind: str) -> list[object]:
    return [
        pytest.param(
            provider,
            operation,
            id=f"{provider}:{operation}",
            marks=[pytest.mark.xfail(strict=True, reason=FINDINGS[(provider, operation, kind)])]
            if (provider, operation, kind) in FINDINGS
            else [],
        )
        for provider, operation in _operations(kind)
    ]


@pytest.mark.parametrize("provider", ["jira", "linear", "notion", "slack"])
def test_every_call_is_typed_here(recording: Recorder, provider: str) -> None:
    unlisted = set()
    for exchange in recording.of(provider):
        if (provider, exchange.method, exchange.path) in UNTYPED:
            continue
        if provider == "linear":
            operation = graphql_operation(exchange)[0]
            if operation not in LINEAR_OPERATIONS:
                unlisted.add(operation)
        elif rest_operation(provider, exchange) is None:
            unlisted.add(f"{exchange.method} {exchange.path}")
    assert not unlisted, sorted(unlisted)


def _assert_type_checks(type_check: TypeCheck, provider: str, operation: str, kind: str) -> None:
    key = (provider, operation, kind)
    assert type_check.checked.get(key), f"{operation} was never called: the contract pass must exercise it"
    assert not type_check.errors.get(key), type_check.errors[key][:5]


@pytest.mark.parametrize(("provider", "operation"), _cases("request"))
def test_requests_have_the_sdk_parameter_types(type_check: TypeCheck, provider: str, operation: str) -> None:
    _assert_type_checks(type_check, provider, operation, "request")


@pytest.mark.parametrize(("provider", "operation"), _cases("response"))
def test_sandbox_answers_have_the_sdk_response_types(type_check: TypeCheck, provider: str, operation: str) -> None:
    _assert_type_checks(type_check, provider, operation, "response")


@pytest.mark.parametrize("operation", LINEAR_OPERATIONS)
def test_linear_documents_select_no_deprecated_field(
    recording: Recorder, linear_types: dict[str, dict[str, SchemaField]], operation: str
) -> None:
    sent = [exchange for exchange in recording.of("linear") if exchange.path == "/graphql"]
    documents = [exchange for exchange in sent if graphql_operation(exchange)[0] == operation]
    assert documents, f"{operation} was never sent"
    assert not {note for exchange in documents for note in deprecated_selections(exchange, linear_types)}
