"""GitHub and Figma: every request we send and every answer the sandbox gives, checked against the provider's
own OpenAPI description (`@octokit/openapi`, `@figma/rest-api-spec`; versions in package-lock.json), and the
response fields our code reads checked against what the description promises.
"""

import ast
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

import pytest

from platform_server.integrations.registry import PROVIDER_CLASSES
from tests.contracts.openapi import OpenApi, Operation
from tests.contracts.recorder import Exchange, Recorder

SOURCE = Path(__file__).resolve().parents[2] / "src" / "platform_server" / "integrations"

# Every operation our code calls, by the definition's path template: a call to anything else fails
# `test_every_call_is_an_operation_listed_here`, so a new endpoint cannot go unchecked.
OPERATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "github": (
        ("GET", "/user"),
        ("GET", "/user/repos"),
        ("GET", "/orgs/{org}/repos"),
        ("GET", "/repos/{owner}/{repo}/issues"),
        ("POST", "/repos/{owner}/{repo}/issues"),
        ("GET", "/repos/{owner}/{repo}/pulls"),
        ("POST", "/repos/{owner}/{repo}/hooks"),
        ("DELETE", "/repos/{owner}/{repo}/hooks/{hook_id}"),
        ("DELETE", "/applications/{client_id}/grant"),
    ),
    "figma": (
        ("GET", "/v1/me"),
        ("GET", "/v1/teams/{team_id}/projects"),
        ("GET", "/v1/projects/{project_id}/files"),
        ("GET", "/v1/files/{file_key}"),
        ("GET", "/v1/images/{file_key}"),
    ),
}

# OAuth's token endpoints are not part of either REST description; they are not checked here.
OUTSIDE_DEFINITION = {("github", "POST", "/login/oauth/access_token"), ("figma", "POST", "/v1/oauth/token")}

# The response fields our code reads, per operation (`[]` steps into array items); each must be promised by
# the definition. `test_fields_read_are_listed` keeps this list honest against the source.
FIELDS_READ: dict[str, dict[tuple[str, str], tuple[str, ...]]] = {
    "github": {
        ("GET", "/user"): ("id", "login"),
        ("GET", "/user/repos"): (
            "[].full_name",
            "[].private",
            "[].description",
            "[].default_branch",
            "[].open_issues_count",
            "[].html_url",
            "[].updated_at",
        ),
        ("GET", "/orgs/{org}/repos"): (
            "[].full_name",
            "[].private",
            "[].description",
            "[].default_branch",
            "[].open_issues_count",
            "[].html_url",
            "[].updated_at",
        ),
        ("GET", "/repos/{owner}/{repo}/issues"): (
            "[].id",
            "[].number",
            "[].title",
            "[].state",
            "[].draft",
            "[].body",
            "[].labels[].name",
            "[].assignee.login",
            "[].user.login",
            "[].comments",
            "[].html_url",
            "[].created_at",
            "[].updated_at",
            "[].pull_request",
            "[].pull_request.merged_at",
        ),
        ("POST", "/repos/{owner}/{repo}/issues"): (
            "id",
            "number",
            "title",
            "state",
            "labels[].name",
            "assignees[].login",
            "html_url",
            "created_at",
            "updated_at",
        ),
        ("GET", "/repos/{owner}/{repo}/pulls"): (
            "[].number",
            "[].title",
            "[].state",
            "[].draft",
            "[].user.login",
            "[].head.ref",
            "[].base.ref",
            "[].html_url",
            "[].created_at",
            "[].updated_at",
            "[].merged_at",
        ),
        ("POST", "/repos/{owner}/{repo}/hooks"): ("id",),
    },
    "figma": {
        ("GET", "/v1/me"): ("id", "handle", "email"),
        ("GET", "/v1/teams/{team_id}/projects"): ("projects[].id", "projects[].name"),
        ("GET", "/v1/projects/{project_id}/files"): (
            "name",
            "files[].key",
            "files[].name",
            "files[].last_modified",
            "files[].thumbnail_url",
        ),
        ("GET", "/v1/files/{file_key}"): (
            "name",
            "lastModified",
            "version",
            "document.children[].id",
            "document.children[].name",
            "document.children[].children[].id",
            "document.children[].children[].name",
            "document.children[].children[].type",
        ),
        ("GET", "/v1/images/{file_key}"): ("images",),
    },
}

# Fields the provider's error policy reads from an error answer, whichever call it came from: each must be
# promised by an error response (4XX or 5XX) the definition declares for one of the operations we call.
ERROR_FIELDS_READ: dict[str, tuple[str, ...]] = {
    "github": ("message", "errors[].message", "errors[].field", "errors[].code"),
    # `err` is Figma's usual error form; `error` and `message` its older one (`{"error": true, …}`).
    "figma": ("err", "error", "message"),
}

# Response headers the provider's rate-limit policy reads. GitHub's description declares its rate-limit headers
# on no operation we call (they are documented in prose), so these are read, listed, and not checked.
HEADERS_READ = {
    "github": {"retry-after", "x-ratelimit-remaining", "x-ratelimit-reset"},
    "figma": set(),
}

# Keys the provider's modules read from dictionaries of our own making (tool arguments, rows we built), not
# from an answer: the only names `test_fields_read_are_listed` lets through without a FIELDS_READ entry.
OWN_KEYS = {
    "github": {"repo", "title", "org", "page", "since", "url"},
    "figma": {"id", "name", "teamId", "projectId", "fileKey", "nodeIds", "depth", "format", "scale"},
}

# Findings: where the sandbox (or our request) and the definition disagree. Strict, so a fix shows up as a
# failure that asks for its line here to go.
FINDINGS: dict[tuple[str, str, str, str], str] = {}


def _check_id(provider: str, operation: tuple[str, str]) -> str:
    return f"{provider}:{operation[0]} {operation[1]}"


def _cases(check: str) -> list[object]:
    cases: list[object] = []
    for provider, operations in OPERATIONS.items():
        for method, template in operations:
            reason = FINDINGS.get((provider, method, template, check))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(
                pytest.param(provider, (method, template), id=_check_id(provider, (method, template)), marks=marks)
            )
    return cases


def _definition(request: pytest.FixtureRequest, provider: str) -> OpenApi:
    definition: OpenApi = request.getfixturevalue(f"{provider}_openapi")
    return definition


def _exchanges(
    recording: Recorder, definition: OpenApi, provider: str, operation: tuple[str, str]
) -> list[tuple[Exchange, Operation]]:
    found = []
    for exchange in recording.of(provider):
        matched = definition.operation(exchange.method, exchange.path)
        if matched is not None and (matched.method, matched.template) == operation:
            found.append((exchange, matched))
    assert found, f"{operation[0]} {operation[1]} was never called: the contract pass must exercise it"
    return found


def _problems(
    recording: Recorder,
    definition: OpenApi,
    provider: str,
    operation: tuple[str, str],
    check: Callable[[Exchange, Operation], Iterable[str]],
) -> set[str]:
    """What `check` finds wrong in each recorded exchange of one operation, labelled by exchange."""
    return {
        f"{exchange.label}: {problem}"
        for exchange, matched in _exchanges(recording, definition, provider, operation)
        for problem in check(exchange, matched)
    }


@pytest.mark.parametrize("provider", list(OPERATIONS))
def test_every_call_is_an_operation_listed_here(
    request: pytest.FixtureRequest, recording: Recorder, provider: str
) -> None:
    definition = _definition(request, provider)
    unlisted = set()
    for exchange in recording.of(provider):
        if (provider, exchange.method, exchange.path) in OUTSIDE_DEFINITION:
            continue
        operation = definition.operation(exchange.method, exchange.path)
        if operation is None:
            title = PROVIDER_CLASSES[provider].display_name
            unlisted.add(f"{exchange.method} {exchange.path} (not in {title}'s definition)")
        elif (operation.method, operation.template) not in OPERATIONS[provider]:
            unlisted.add(f"{operation.method} {operation.template}")
    assert not unlisted, sorted(unlisted)


@pytest.mark.parametrize(("provider", "operation"), _cases("request"))
def test_requests_match_the_definition(
    request: pytest.FixtureRequest, recording: Recorder, provider: str, operation: tuple[str, str]
) -> None:
    definition = _definition(request, provider)
    problems = _problems(recording, definition, provider, operation, definition.request_problems)
    assert not problems, sorted(problems)


@pytest.mark.parametrize(("provider", "operation"), _cases("response"))
def test_sandbox_answers_match_the_definition(
    request: pytest.FixtureRequest, recording: Recorder, provider: str, operation: tuple[str, str]
) -> None:
    """Every answered field is declared, with the declared type; every status is a declared response."""
    definition = _definition(request, provider)
    problems = _problems(
        recording, definition, provider, operation, partial(definition.response_problems, complete=False)
    )
    assert not problems, sorted(problems)


@pytest.mark.parametrize(("provider", "operation"), _cases("complete"))
def test_sandbox_answers_hold_every_required_field(
    request: pytest.FixtureRequest, recording: Recorder, provider: str, operation: tuple[str, str]
) -> None:
    definition = _definition(request, provider)
    problems = _problems(
        recording, definition, provider, operation, partial(definition.response_problems, complete=True)
    )
    assert not problems, sorted(problems)[:10]


@pytest.mark.parametrize(
    ("provider", "operation"),
    [
        pytest.param(provider, operation, id=_check_id(provider, operation))
        for provider, reads in FIELDS_READ.items()
        for operation in reads
    ],
)
def test_fields_read_are_promised_by_the_definition(
    request: pytest.FixtureRequest, provider: str, operation: tuple[str, str]
) -> None:
    definition = _definition(request, provider)
    matched = definition.operation(*operation)
    assert matched is not None
    assert matched.template == operation[1]
    status = 201 if operation[0] == "POST" else 200
    schema = definition.response_schema(matched, status)
    unpromised = [
        field for field in FIELDS_READ[provider][operation] if not definition.has_field(schema, _steps(field))
    ]
    assert not unpromised, f"{operation[0]} {operation[1]}: read but not in the definition: {unpromised}"


@pytest.mark.parametrize("provider", list(ERROR_FIELDS_READ))
def test_error_fields_read_are_promised_by_the_definition(request: pytest.FixtureRequest, provider: str) -> None:
    definition = _definition(request, provider)
    schemas = []
    for operation in OPERATIONS[provider]:
        matched = definition.operation(*operation)
        assert matched is not None
        schemas += definition.error_schemas(matched)
    unpromised = [
        field
        for field in ERROR_FIELDS_READ[provider]
        if not any(definition.has_field(schema, _steps(field)) for schema in schemas)
    ]
    assert not unpromised, f"read from error answers but in no declared error response: {unpromised}"


def _steps(field: str) -> list[str]:
    """`labels[].name` as the steps `labels`, `[]`, `name`."""
    return field.replace("[]", ".[]").strip(".").replace("..", ".").split(".")


def _keys_read(path: Path) -> set[str]:
    """String keys a module reads with `x["key"]` or `x.get("key")`."""
    keys = set()
    for node in ast.walk(ast.parse(path.read_text())):
        index: ast.expr | None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            index = node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            index = node.args[0] if node.args else None
        else:
            continue
        if isinstance(index, ast.Constant) and isinstance(index.value, str):
            keys.add(index.value)
    return keys


@pytest.mark.parametrize("provider", list(FIELDS_READ))
def test_fields_read_are_listed(provider: str) -> None:
    """Every key the provider's own modules read is a listed field (or a key of our own dictionaries)."""
    package = SOURCE / "providers" / provider
    read = set().union(*(_keys_read(module) for module in package.glob("*.py")))
    fields = [*(field for fields in FIELDS_READ[provider].values() for field in fields), *ERROR_FIELDS_READ[provider]]
    listed = {step for field in fields for step in _steps(field)} | HEADERS_READ[provider]
    paths = {key for key in read if key.startswith("/")}  # `client.get("/user/repos")` reads no field
    assert read - paths - listed - OWN_KEYS[provider] == set()
