"""Jira, Linear, Notion and Slack: recorded exchanges type-checked with `tsc` against the official SDKs' types.

Each checked exchange becomes a typed constant in one generated TypeScript file (the request's body or query
as the SDK's parameter type, a GraphQL document's selection and root-field arguments as the schema's types, the
answer as the response type); one `tsc --noEmit` run checks them all, and each error is traced back to its
exchange by line. Object literals get TypeScript's excess-property check, so a field the definition does not
have is an error, as is a wrong type. Linear's deprecations, which tsc does not report, are read from the SDK's
declarations (`linear_schema`).
"""

import json
import re
import subprocess
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, SelectionSetNode, parse
from graphql.utilities import value_from_ast_untyped

from tests.contracts.recorder import Exchange, Recorder

# `Wire`: an answer on the wire (dates are strings, enums any string, every field may be absent or null).
# `WireInput`: arguments we send, required fields still required. `Selection`: a document's selected fields.
_PRELUDE = """\
import type { LinearDocument as L } from "@linear/sdk";
import type * as N from "@notionhq/client";
import type * as S from "@slack/web-api";
import type { Version3 } from "jira.js";
type Wire<T> = T extends Date ? string
  : T extends string ? string
  : T extends (infer U)[] ? Wire<U>[]
  : T extends object ? { [K in keyof T]?: Wire<T[K]> | null }
  : T;
type WireInput<T> = T extends Date ? string
  : T extends string ? string
  : T extends (infer U)[] ? WireInput<U>[]
  : T extends object ? { [K in keyof T]: WireInput<T[K]> }
  : T;
type Selection<T> = { [K in keyof T]?: Selected<NonNullable<T[K]>> };
type Selected<V> = V extends Date | string | number | boolean ? true
  : V extends (infer U)[] ? Selected<NonNullable<U>>
  : V extends object ? Selection<V>
  : true;
type GraphQLAnswer<Root> = { data?: Wire<Root> | null; errors?: { message: string }[] };
// Notion answers carry a `request_id`: its SDK declares it on the OAuth answers and its client logs it from
// every answer, but the other response types leave it out.
type NotionAnswer<T> = T & { request_id?: string };
"""


# Jira's (community) models and Slack's (generated from sample answers) mark fields required, or not null,
# that the APIs leave out or answer null, so their answers are checked as `Wire<…>`: every field optional and
# nullable, but still no field the type lacks and no wrong type. Notion's and Linear's types are exact.
@dataclass(frozen=True)
class Typed:
    """Which SDK type a REST operation's request and answer must have (None: not checked)."""

    method: str
    pattern: str
    operation: str
    request: str | None
    response: str | None
    # Where the request's parameters travel: the JSON body, the query string or a form.
    request_from: str = "body"


_JIRA = "Version3.Version3"
REST: dict[str, tuple[Typed, ...]] = {
    "jira": (
        Typed(
            "POST",
            r"/rest/api/3/search/jql",
            "POST /rest/api/3/search/jql",
            f"{_JIRA}Parameters.SearchForIssuesUsingJqlEnhancedSearchPost",
            f"Wire<{_JIRA}Models.SearchAndReconcileResults>",
        ),
        Typed(
            "GET",
            r"/rest/api/3/project/search",
            "GET /rest/api/3/project/search",
            f"{_JIRA}Parameters.SearchProjects",
            f"Wire<{_JIRA}Models.PageProject>",
            "query",
        ),
        Typed(
            "POST",
            r"/rest/api/3/issue",
            "POST /rest/api/3/issue",
            f"{_JIRA}Models.IssueUpdateDetails",
            f"Wire<{_JIRA}Models.CreatedIssue>",
        ),
        Typed(
            "GET",
            r"/rest/api/3/issue/[^/]+/transitions",
            "GET /rest/api/3/issue/{issueIdOrKey}/transitions",
            None,
            f"Wire<{_JIRA}Models.Transitions>",
        ),
        Typed(
            "POST",
            r"/rest/api/3/issue/[^/]+/transitions",
            "POST /rest/api/3/issue/{issueIdOrKey}/transitions",
            f"{_JIRA}Models.IssueUpdateDetails",
            None,
        ),
        Typed(
            "GET",
            r"/rest/api/3/issue/createmeta/[^/]+/issuetypes",
            "GET /rest/api/3/issue/createmeta/{projectIdOrKey}/issuetypes",
            f'Omit<{_JIRA}Parameters.GetCreateIssueMetaIssueTypes, "projectIdOrKey">',
            f"Wire<{_JIRA}Models.PageOfCreateMetaIssueTypes>",
            "query",
        ),
        Typed("GET", r"/rest/api/3/myself", "GET /rest/api/3/myself", None, f"Wire<{_JIRA}Models.User>"),
    ),
    "notion": (
        Typed("POST", r"/v1/search", "POST /v1/search", "N.SearchParameters", "NotionAnswer<N.SearchResponse>"),
        Typed("GET", r"/v1/pages/[^/]+", "GET /v1/pages/{page_id}", None, "NotionAnswer<N.GetPageResponse>"),
        Typed("POST", r"/v1/pages", "POST /v1/pages", "N.CreatePageParameters", "NotionAnswer<N.CreatePageResponse>"),
        Typed(
            "GET",
            r"/v1/blocks/[^/]+/children",
            "GET /v1/blocks/{block_id}/children",
            'Omit<N.ListBlockChildrenParameters, "block_id">',
            "NotionAnswer<N.ListBlockChildrenResponse>",
            "query",
        ),
        Typed(
            "GET",
            r"/v1/databases/[^/]+",
            "GET /v1/databases/{database_id}",
            None,
            "NotionAnswer<N.GetDatabaseResponse>",
        ),
        Typed(
            "GET",
            r"/v1/data_sources/[^/]+",
            "GET /v1/data_sources/{data_source_id}",
            None,
            "NotionAnswer<N.GetDataSourceResponse>",
        ),
        Typed(
            "POST",
            r"/v1/data_sources/[^/]+/query",
            "POST /v1/data_sources/{data_source_id}/query",
            'Omit<N.QueryDataSourceParameters, "data_source_id">',
            "NotionAnswer<N.QueryDataSourceResponse>",
        ),
        Typed("GET", r"/v1/users/me", "GET /v1/users/me", None, "NotionAnswer<N.GetSelfResponse>"),
        Typed("POST", r"/v1/oauth/token", "POST /v1/oauth/token", "N.OauthTokenParameters", "N.OauthTokenResponse"),
        Typed("POST", r"/v1/oauth/revoke", "POST /v1/oauth/revoke", "N.OauthRevokeParameters", "N.OauthRevokeResponse"),
    ),
    "slack": (
        Typed(
            "GET",
            r"/api/conversations\.list",
            "conversations.list",
            "S.ConversationsListArguments",
            "Wire<S.ConversationsListResponse>",
            "query",
        ),
        Typed(
            "POST",
            r"/api/chat\.postMessage",
            "chat.postMessage",
            "S.ChatPostMessageArguments",
            "Wire<S.ChatPostMessageResponse>",
        ),
        Typed(
            "GET",
            r"/api/search\.messages",
            "search.messages",
            "S.SearchMessagesArguments",
            "Wire<S.SearchMessagesResponse>",
            "query",
        ),
        Typed("POST", r"/api/auth\.test", "auth.test", None, "Wire<S.AuthTestResponse>"),
        Typed("POST", r"/api/auth\.revoke", "auth.revoke", "S.AuthRevokeArguments", "Wire<S.AuthRevokeResponse>"),
        Typed(
            "POST",
            r"/api/oauth\.v2\.access",
            "oauth.v2.access",
            "S.OAuthV2AccessArguments",
            "Wire<S.OauthV2AccessResponse>",
            "form",
        ),
    ),
}

# Calls outside what the SDKs describe: Atlassian's OAuth host and site lookup, Linear's OAuth endpoints.
UNTYPED = {
    ("jira", "POST", "/oauth/token"),
    ("jira", "GET", "/oauth/token/accessible-resources"),
    ("linear", "POST", "/oauth/token"),
    ("linear", "POST", "/oauth/revoke"),
}

# Enough answers of each operation to see every shape the sandbox gives, without a file so large tsc crawls.
_ANSWERS_PER_OPERATION = 8


def _shape(value: Any) -> Any:
    """The structure of a JSON value, values left out: two answers of one shape check the same."""
    if isinstance(value, dict):
        return tuple(sorted((key, _shape(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(sorted({repr(_shape(item)) for item in value}))
    return value if isinstance(value, str) and len(value) < 20 else type(value).__name__


def _scalar(text: str) -> Any:
    """A query-string or form value as the SDK's argument types expect it (numbers and booleans)."""
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    return text


def _literal(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def rest_operation(provider: str, exchange: Exchange) -> Typed | None:
    for typed in REST.get(provider, ()):
        if typed.method == exchange.method and re.fullmatch(typed.pattern, exchange.path):
            return typed
    return None


def _request_value(typed: Typed, exchange: Exchange) -> Any:
    if typed.request_from == "query":
        return {name: _scalar(value) for name, value in exchange.query}
    if typed.request_from == "form":
        return {name: _scalar(value) for name, value in (exchange.request_body or {}).items()}
    return exchange.request_body if exchange.request_body is not None else {}


def graphql_operation(exchange: Exchange) -> tuple[str, OperationDefinitionNode]:
    """`query issues`, `mutation issueCreate`: the operation type and its root fields, and its AST."""
    document = parse(exchange.request_body["query"])
    (definition,) = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    fields = " ".join(sorted(selection.name.value for selection in definition.selection_set.selections))  # type: ignore[attr-defined]
    return f"{definition.operation.value} {fields}", definition


def _selection(node: SelectionSetNode) -> dict[str, Any]:
    """A document's selected fields as nested objects (`true` for a leaf), to type-check as `Selection<Root>`."""
    return {
        field.name.value: _selection(field.selection_set) if field.selection_set else True
        for field in node.selections
        if isinstance(field, FieldNode)
    }


def _graphql_checks(exchange: Exchange) -> Iterator[tuple[str, str, str, Any]]:
    """(operation, kind, type, value) for a GraphQL exchange: the fields our document selects, its root fields'
    arguments, and the answer."""
    operation, definition = graphql_operation(exchange)
    root = "Query" if definition.operation.value == "query" else "Mutation"
    variables = exchange.request_body.get("variables") or {}
    yield operation, "request", f"Selection<L.{root}>", _selection(definition.selection_set)
    for selection in definition.selection_set.selections:
        if not selection.arguments:  # type: ignore[attr-defined]
            continue
        field = selection.name.value  # type: ignore[attr-defined]
        arguments = {
            argument.name.value: value_from_ast_untyped(argument.value, variables)
            for argument in selection.arguments  # type: ignore[attr-defined]
        }
        args_type = f"L.{root}{field[0].upper()}{field[1:]}Args"
        yield operation, "request", f"WireInput<{args_type}>", arguments
    if exchange.status == 200:
        yield operation, "response", f"GraphQLAnswer<L.{root}>", exchange.response_body


def _checks(recording: Recorder) -> Iterator[tuple[str, str, str, str, Exchange, Any]]:
    """(provider, operation, kind, TypeScript type, exchange, value) for every checked exchange."""
    shapes: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for provider in ("jira", "linear", "notion", "slack"):
        for exchange in recording.of(provider):
            if (provider, exchange.method, exchange.path) in UNTYPED:
                continue
            found: list[tuple[str, str, str, Any]] = []
            if provider == "linear":
                found += _graphql_checks(exchange)
            else:
                typed = rest_operation(provider, exchange)
                if typed is None:
                    found.append((f"{exchange.method} {exchange.path}", "unlisted", "never", None))
                    continue
                if typed.request is not None:
                    found.append((typed.operation, "request", typed.request, _request_value(typed, exchange)))
                if typed.response is not None and exchange.response_body is not None:
                    found.append((typed.operation, "response", typed.response, exchange.response_body))
            for operation, kind, type_name, value in found:
                key = (provider, operation, kind)
                shape = repr(_shape(value))
                if shape not in shapes[key] and (kind == "request" or len(shapes[key]) < _ANSWERS_PER_OPERATION):
                    shapes[key].add(shape)
                    yield provider, operation, kind, type_name, exchange, value


@dataclass
class TypeCheck:
    # (provider, operation, kind) → how many exchanges were checked, and tsc's complaints about them.
    checked: dict[tuple[str, str, str], int]
    errors: dict[tuple[str, str, str], list[str]]


def type_check(recording: Recorder, node_modules: Path, workdir: Path, tsc: Callable[[Path], str]) -> TypeCheck:
    lines = _PRELUDE.splitlines()
    owners: list[tuple[int, tuple[str, str, str], str]] = []
    checked: dict[tuple[str, str, str], int] = defaultdict(int)
    for index, (provider, operation, kind, type_name, exchange, value) in enumerate(_checks(recording)):
        key = (provider, operation, kind)
        checked[key] += 1
        owners.append((len(lines) + 1, key, exchange.label))
        lines.append(f"export const check{index}: {type_name} = {_literal(value)};")
    source = workdir / "contracts.ts"
    source.write_text("\n".join(lines) + "\n")
    config = {
        "compilerOptions": {
            "strict": True,
            "noEmit": True,
            "skipLibCheck": True,
            "target": "ES2022",
            "module": "NodeNext",
            "moduleResolution": "NodeNext",
            "types": [],
            "typeRoots": [str(node_modules / "@types")],
            "baseUrl": str(node_modules),
            "paths": {"*": [f"{node_modules}/*", f"{node_modules}/@types/*"]},
        },
        "files": [str(source)],
    }
    (workdir / "tsconfig.json").write_text(json.dumps(config))
    output = tsc(workdir / "tsconfig.json")
    errors: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    # An error is its first line and the indented lines after it, which say which property is wrong.
    for match in re.finditer(r"^contracts\.ts\((\d+),\d+\): error (TS\d+: .*(?:\n .*)*)", output, re.MULTILINE):
        line = int(match.group(1))
        if line <= len(_PRELUDE.splitlines()):
            raise AssertionError(f"the generated prelude does not type-check: {match.group(2)}")
        owner = max((entry for entry in owners if entry[0] <= line), key=lambda entry: entry[0])
        detail = " / ".join(part.strip()[:300] for part in match.group(2).splitlines()[-3:])
        errors[owner[1]].append(f"{owner[2]}: {detail}")
    # Anything else tsc reports (its configuration, another file) means the check itself did not run.
    elsewhere = [
        line for line in output.splitlines() if re.search(r"error TS\d+", line) and not line.startswith("contracts.ts(")
    ]
    if elsewhere:
        raise AssertionError("tsc failed: " + "\n".join(elsewhere[:5]))
    return TypeCheck(dict(checked), dict(errors))


def run_tsc(node_modules: Path) -> Callable[[Path], str]:
    def tsc(config: Path) -> str:
        result = subprocess.run(
            [str(node_modules / ".bin" / "tsc"), "-p", str(config), "--pretty", "false"],
            cwd=config.parent,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        return result.stdout + result.stderr

    return tsc


_TYPE_START = re.compile(r"^type (\w+) = (?:[\w\s&]*& )?\{$")
_FIELD = re.compile(r"^  (\w+)\??: (.+);$")
_NOT_A_TYPE = {"Maybe", "InputMaybe", "Array", "Scalars", "Exact", "Node"}


@dataclass(frozen=True)
class SchemaField:
    type_name: str | None
    deprecated: str | None


def linear_schema(node_modules: Path) -> dict[str, dict[str, SchemaField]]:
    """Linear's object types, fields and deprecations, read from the SDK's generated schema types (the SDK
    publishes no SDL; `tsc` reports no deprecation, so the `@deprecated` notes are read here)."""
    (declarations,) = [
        path
        for path in (node_modules / "@linear/sdk/dist").glob("index-*.d.mts")
        if "\ntype Query = {" in path.read_text()
    ]
    types: dict[str, dict[str, SchemaField]] = {}
    current: dict[str, SchemaField] | None = None
    note = ""
    for line in declarations.read_text().splitlines():
        if current is None:
            started = _TYPE_START.match(line)
            if started:
                current = types.setdefault(started.group(1), {})
            continue
        if line == "};":
            current = None
        elif line.strip().startswith(("/**", "*")):
            note = note + line if not line.strip().startswith("/**") else line
        elif field := _FIELD.match(line):
            names = [name for name in re.findall(r"\b[A-Z]\w*", field.group(2)) if name not in _NOT_A_TYPE]
            deprecated = re.search(r"@deprecated\s*([^*]*)", note)
            current[field.group(1)] = SchemaField(
                names[0] if names else None, deprecated.group(1).strip() if deprecated else None
            )
            note = ""
    return types


def deprecated_selections(exchange: Exchange, schema: dict[str, dict[str, SchemaField]]) -> Iterator[str]:
    """`Type.field: the deprecation note` for each deprecated field the exchange's document selects."""
    _, definition = graphql_operation(exchange)

    def walk(type_name: str, selections: SelectionSetNode) -> Iterator[str]:
        for selection in selections.selections:
            if not isinstance(selection, FieldNode):
                continue
            found = schema.get(type_name, {}).get(selection.name.value)
            if found is None:
                continue
            if found.deprecated is not None:
                yield f"{type_name}.{selection.name.value}: {found.deprecated}"
            if selection.selection_set and found.type_name:
                yield from walk(found.type_name, selection.selection_set)

    yield from walk("Query" if definition.operation.value == "query" else "Mutation", definition.selection_set)
