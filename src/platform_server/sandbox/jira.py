"""Simulated Jira Cloud: Atlassian 3LO OAuth, accessible-resources and the REST v3 endpoints we call."""

import base64
import hashlib
import re
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from platform_server.sandbox.common import Problem, answers_problems, bearer_token, json_response
from platform_server.sandbox.gate import ProviderGate, provider_app
from platform_server.sandbox.oauth import oauth_routes
from platform_server.sandbox.store import AccessToken, SandboxStore
from platform_server.sandbox.webhooks import SandboxHook
from platform_server.sandbox.worlds import (
    JIRA_PRIORITIES,
    JIRA_STATUSES,
    JIRA_TRANSITIONS,
    PEOPLE,
    JiraProject,
    JiraWorld,
    jira_time,
)

API = "/ex/jira/{cloud_id}/rest/api/3"
# Dynamic webhooks: the events an OAuth 2.0 app may register, the JQL this sandbox understands, and their life.
WEBHOOK_EVENTS = frozenset(
    {
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "comment_created",
        "comment_updated",
        "comment_deleted",
        "issue_property_set",
        "issue_property_deleted",
    }
)
_PROJECT_JQL = re.compile(r"^\s*project\s*=\s*\"?([A-Za-z][A-Za-z0-9_]*)\"?\s*$")
WEBHOOK_LIFETIME_SECONDS = 30 * 24 * 3600


def error(status: int, message: str) -> Response:
    return json_response({"errorMessages": [message], "errors": {}}, status)


def field_errors(errors: dict[str, str]) -> Response:
    return json_response({"errorMessages": [], "errors": errors}, 400)


def create_jira_app(store: SandboxStore) -> ProviderGate:
    def world() -> JiraWorld:
        result: JiraWorld = store.world("jira")
        return result

    def auth(request: Request, scope: str | None = None) -> AccessToken:
        record, _ = store.authenticate("jira", bearer_token(request))
        if record is None:
            raise Problem(json_response({"code": 401, "message": "Unauthorized"}, 401))
        if scope and scope not in record.grant.scopes:
            raise Problem(json_response({"code": 401, "message": "Unauthorized; scope does not match"}, 401))
        if "cloud_id" in request.path_params and request.path_params["cloud_id"] != world().cloud_id:
            raise Problem(error(404, "Site not found or not accessible with this token"))
        return record

    @answers_problems
    async def accessible_resources(request: Request) -> Response:
        record = auth(request)
        jira = world()
        return json_response(
            [
                {
                    "id": jira.cloud_id,
                    "url": jira.site_url,
                    "name": "acme",
                    "scopes": [scope for scope in record.grant.scopes if scope != "offline_access"],
                    "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png",
                }
            ]
        )

    @answers_problems
    async def myself(request: Request) -> Response:
        record = auth(request, "read:jira-user")
        account = record.grant.account
        return json_response(
            {
                "self": world().api(f"/user?accountId=acct-{account.id}"),
                "accountId": f"acct-{account.id}",
                "accountType": "atlassian",
                "emailAddress": account.email,
                "avatarUrls": {},
                "displayName": account.display_name,
                "active": True,
                "timeZone": world().time_zone,
                "locale": "en_US",
            }
        )

    @answers_problems
    async def project_search(request: Request) -> Response:
        auth(request, "read:jira-work")
        params = request.query_params
        start = _int(params.get("startAt", "0"), "startAt")
        size = min(_int(params.get("maxResults", "50"), "maxResults"), 50)
        query = params.get("query", "").lower()
        keys = {key.strip().upper() for key in params.get("keys", "").split(",") if key.strip()}
        projects = [
            project
            for project in world().projects.values()
            if (not query or query in project.key.lower() or query in project.name.lower())
            and (not keys or project.key in keys)
        ]
        order = params.get("orderBy", "key").lstrip("+")
        reverse = order.startswith("-")
        attribute = order.lstrip("-")
        if attribute not in (
            "key",
            "name",
            "category",
            "owner",
            "issueCount",
            "lastIssueUpdatedDate",
            "archivedDate",
        ):
            raise Problem(error(400, f"Invalid orderBy value: {order}"))
        projects.sort(key=lambda project: project.name if attribute == "name" else project.key, reverse=reverse)
        page = projects[start : start + size]
        body: dict[str, Any] = {
            "self": str(request.url),
            "maxResults": size,
            "startAt": start,
            "total": len(projects),
            "isLast": start + size >= len(projects),
            "values": [world().project_json(project) for project in page],
        }
        if not body["isLast"]:
            body["nextPage"] = str(request.url.include_query_params(startAt=start + size, maxResults=size))
        return json_response(body)

    async def _search(request: Request, jql: str, token: str | None, size_raw: Any, fields: list[str]) -> Response:
        try:
            size = int(size_raw) if size_raw is not None else 50
        except (TypeError, ValueError):
            raise Problem(error(400, "maxResults must be an integer")) from None
        if size < 0:
            raise Problem(error(400, "maxResults must be 0 or more"))
        size = min(size or 50, 5000 if fields in ([], ["id"]) else 100)
        jira = world()
        query = parse_jql(jql, jira)
        numbers = _matching(jira, query)
        digest = hashlib.sha256(jql.encode()).hexdigest()[:16]
        start = 0
        if token:
            try:
                decoded = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
                if decoded["q"] != digest:
                    raise ValueError("token of another query")
                start = int(decoded["at"])
            except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
                raise Problem(error(400, "The provided next page token is invalid or expired.")) from None
        page = numbers[start : start + size]
        body: dict[str, Any] = {"issues": [_issue_json(jira, project, number, fields) for project, number in page]}
        if start + size < len(numbers):
            next_token = orjson.dumps({"q": digest, "at": start + size})
            body["nextPageToken"] = base64.urlsafe_b64encode(next_token).decode().rstrip("=")
        # `isLast` is optional in Jira's own definition of this response; leaving it out keeps clients honest.
        return json_response(body)

    @answers_problems
    async def search_get(request: Request) -> Response:
        auth(request, "read:jira-work")
        params = request.query_params
        fields = [name.strip() for name in params.get("fields", "").split(",") if name.strip()]
        return await _search(
            request, params.get("jql", ""), params.get("nextPageToken"), params.get("maxResults"), fields
        )

    @answers_problems
    async def search_post(request: Request) -> Response:
        auth(request, "read:jira-work")
        body = await _json(request)
        known = {
            "jql",
            "nextPageToken",
            "maxResults",
            "fields",
            "expand",
            "properties",
            "fieldsByKeys",
            "failFast",
            "reconcileIssues",
        }
        unknown = sorted(set(body) - known)
        if unknown:
            raise Problem(error(400, f'Unrecognized field "{unknown[0]}"'))
        fields = body.get("fields") or []
        if not isinstance(fields, list):
            raise Problem(error(400, "fields must be an array of strings"))
        jql = body.get("jql")
        if not isinstance(jql, str):
            jql = ""
        return await _search(request, jql, body.get("nextPageToken"), body.get("maxResults"), [str(f) for f in fields])

    @answers_problems
    async def get_issue(request: Request) -> Response:
        auth(request, "read:jira-work")
        project, number = _find(request)
        fields = [name for name in request.query_params.get("fields", "*all").split(",") if name]
        return json_response(_issue_json(world(), project, number, fields))

    @answers_problems
    async def create_issue(request: Request) -> Response:
        auth(request, "write:jira-work")
        body = await _json(request)
        fields = body.get("fields")
        if not isinstance(fields, dict):
            raise Problem(error(400, "No fields were provided for the issue"))
        jira = world()
        errors: dict[str, str] = {}
        project_ref: dict[str, Any] = fields["project"] if isinstance(fields.get("project"), dict) else {}
        project = jira.projects.get(str(project_ref.get("key", "")).upper()) or next(
            (p for p in jira.projects.values() if p.id == str(project_ref.get("id"))), None
        )
        if project is None:
            errors["project"] = "Specify a valid project ID or key"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        type_ref = fields.get("issuetype") if isinstance(fields.get("issuetype"), dict) else None
        issue_type = _pick(project.issue_types, type_ref) if project is not None else None
        if type_ref is None:
            errors["issuetype"] = "Specify an issue type"
        elif issue_type is None and project is not None:
            errors["issuetype"] = "The issue type selected is invalid."
        description = fields.get("description")
        if description is not None and not (isinstance(description, dict) and description.get("type") == "doc"):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        priority = None
        if fields.get("priority") is not None:
            priority = _pick(JIRA_PRIORITIES, fields["priority"] if isinstance(fields["priority"], dict) else None)
            if priority is None:
                errors["priority"] = "Specify the Priority (id or name) in the string format"
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(label, str) and " " not in label for label in labels):
            errors["labels"] = "Labels must be a list of strings without spaces"
        if errors or project is None:
            raise Problem(field_errors(errors))
        project.seq.created += 1
        number = project.seq.last
        now = time.time()
        override: dict[str, Any] = {
            "summary": summary,
            "issuetype": issue_type,
            "labels": labels,
            "_status": 0,
            "_created": now,
            "_updated": now,
            "_assignee": None,
        }
        if description is not None:
            override["description"] = description
        if priority is not None:
            override["priority"] = priority
        project.seq.overrides[number] = override
        project.seq.changed()
        announce_issue(project, number, "jira:issue_created")
        issue_id = jira.issue_id(project, number)
        return json_response(
            {"id": issue_id, "key": f"{project.key}-{number}", "self": jira.api(f"/issue/{issue_id}")}, 201
        )

    def announce_issue(project: JiraProject, number: int, event: str) -> None:
        """A dynamic-webhook delivery: one per registration whose JQL matches, naming every matched id."""
        hooks = store.webhooks.matching("jira", {project.key}, event)
        if not hooks:
            return
        issue = _issue_json(world(), project, number, ["*all"])
        payload = {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": event,
            "issue_event_type_name": event.removeprefix("jira:"),
            "user": world().user(PEOPLE[0]),
            "issue": issue,
            "matchedWebhookIds": [hook.id for hook in hooks],
        }
        # Jira sends one request per app and URL, whatever the number of matching registrations.
        store.webhooks.send(hooks[0], event, payload)

    def change_issue(item: str, changes: dict[str, Any]) -> None:
        """An issue key such as `PROJ-3`: changed as a user would (`touch`), then announced as updated."""
        found = world().parse_key(item)
        if found is None:
            raise KeyError(item)
        world().touch(item, **changes)
        announce_issue(*found, "jira:issue_updated")

    store.webhooks.changers["jira"] = change_issue

    def webhook_json(hook: SandboxHook) -> dict[str, Any]:
        return {
            "id": hook.id,
            "jqlFilter": f"project = {hook.target}",
            "events": hook.events,
            "expirationDate": jira_time(hook.expires or hook.created + WEBHOOK_LIFETIME_SECONDS),
        }

    @answers_problems
    async def register_webhooks(request: Request) -> Response:
        auth(request, "manage:jira-webhook")
        body = await _json(request)
        url, specs = body.get("url"), body.get("webhooks")
        if not isinstance(url, str) or not url or not isinstance(specs, list):
            raise Problem(error(400, "The request must name a url and a list of webhooks"))
        results: list[dict[str, Any]] = []
        for spec in specs:
            events = spec.get("events") if isinstance(spec, dict) else None
            match = _PROJECT_JQL.match(str(spec.get("jqlFilter", ""))) if isinstance(spec, dict) else None
            if not isinstance(events, list) or not events or not all(e in WEBHOOK_EVENTS for e in events):
                results.append({"errors": ["Webhook events are missing or not supported"]})
            elif match is None or match.group(1).upper() not in world().projects:
                results.append({"errors": ["The JQL filter is invalid or not supported"]})
            else:
                hook = store.webhooks.add("jira", match.group(1).upper(), url, None, list(events))
                hook.expires = time.time() + WEBHOOK_LIFETIME_SECONDS
                results.append({"createdWebhookId": hook.id})
        return json_response({"webhookRegistrationResult": results})

    @answers_problems
    async def list_webhooks(request: Request) -> Response:
        auth(request, "manage:jira-webhook")
        hooks = [webhook_json(hook) for hook in store.webhooks.hooks.values() if hook.provider == "jira"]
        return json_response({"isLast": True, "maxResults": 100, "startAt": 0, "total": len(hooks), "values": hooks})

    def _webhook_ids(body: dict[str, Any]) -> list[int]:
        ids = body.get("webhookIds")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, int) for i in ids):
            raise Problem(error(400, "webhookIds must be a non-empty list of webhook ids"))
        return ids

    @answers_problems
    async def delete_webhooks(request: Request) -> Response:
        auth(request, "manage:jira-webhook")
        for hook_id in _webhook_ids(await _json(request)):
            store.webhooks.remove("jira", hook_id)
        return Response(status_code=202)

    @answers_problems
    async def refresh_webhooks(request: Request) -> Response:
        auth(request, "manage:jira-webhook")
        expires = time.time() + WEBHOOK_LIFETIME_SECONDS
        for hook_id in _webhook_ids(await _json(request)):
            hook = store.webhooks.hooks.get(hook_id)
            if hook is not None and hook.provider == "jira":
                hook.expires = expires
        return json_response({"expirationDate": jira_time(expires)})

    @answers_problems
    async def create_meta_issue_types(request: Request) -> Response:
        auth(request, "write:jira-work")
        ref = request.path_params["project"]
        jira = world()
        project = jira.projects.get(ref.upper()) or next((p for p in jira.projects.values() if p.id == ref), None)
        if project is None:
            raise Problem(error(404, "No project could be found with key or id '" + ref + "'."))
        params = request.query_params
        start = _int(params.get("startAt", "0"), "startAt")
        size = min(_int(params.get("maxResults", "50"), "maxResults") or 50, 200)
        kinds = project.issue_types
        return json_response(
            {
                "issueTypes": [
                    {**kind, "self": jira.api(f"/issuetype/{kind['id']}"), "description": "", "iconUrl": ""}
                    for kind in kinds[start : start + size]
                ],
                "maxResults": size,
                "startAt": start,
                "total": len(kinds),
            }
        )

    @answers_problems
    async def list_transitions(request: Request) -> Response:
        auth(request, "read:jira-work")
        project, number = _find(request)
        jira = world()
        current = jira.status_index(project, number)
        return json_response(
            {
                "expand": "transitions",
                "transitions": [
                    {
                        "id": transition_id,
                        "name": name,
                        "to": _status_json(jira, target),
                        "hasScreen": False,
                        "isGlobal": True,
                        "isInitial": False,
                        "isAvailable": True,
                        "isConditional": False,
                        "looped": False,
                    }
                    for transition_id, name, target in JIRA_TRANSITIONS
                    if target != current
                ],
            }
        )

    @answers_problems
    async def do_transition(request: Request) -> Response:
        auth(request, "write:jira-work")
        project, number = _find(request)
        body = await _json(request)
        transition = body.get("transition")
        transition_id = str(transition.get("id", "")) if isinstance(transition, dict) else ""
        if not transition_id:
            raise Problem(error(400, "Missing 'transition' identifier"))
        jira = world()
        current = jira.status_index(project, number)
        target = next((t for t_id, _, t in JIRA_TRANSITIONS if t_id == transition_id and t != current), None)
        if target is None:
            raise Problem(error(400, f"Transition id '{transition_id}' is not valid for this issue."))
        jira.touch(f"{project.key}-{number}", _status=target)
        return Response(status_code=204)

    def _find(request: Request) -> tuple[JiraProject, int]:
        found = world().find(request.path_params["key"])
        if found is None:
            raise Problem(error(404, "Issue does not exist or you do not have permission to see it."))
        return found

    routes = [
        *oauth_routes(store, "jira"),
        Route("/oauth/token/accessible-resources", accessible_resources, methods=["GET"]),
        Route(f"{API}/myself", myself, methods=["GET"]),
        Route(f"{API}/project/search", project_search, methods=["GET"]),
        Route(f"{API}/search/jql", search_get, methods=["GET"]),
        Route(f"{API}/search/jql", search_post, methods=["POST"]),
        Route(f"{API}/issue", create_issue, methods=["POST"]),
        Route(f"{API}/webhook", list_webhooks, methods=["GET"]),
        Route(f"{API}/webhook", register_webhooks, methods=["POST"]),
        Route(f"{API}/webhook", delete_webhooks, methods=["DELETE"]),
        Route(f"{API}/webhook/refresh", refresh_webhooks, methods=["PUT"]),
        Route(f"{API}/issue/createmeta/{{project}}/issuetypes", create_meta_issue_types, methods=["GET"]),
        Route(f"{API}/issue/{{key}}", get_issue, methods=["GET"]),
        Route(f"{API}/issue/{{key}}/transitions", list_transitions, methods=["GET"]),
        Route(f"{API}/issue/{{key}}/transitions", do_transition, methods=["POST"]),
    ]
    return provider_app(store, "jira", routes, error, {"/authorize"})


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise Problem(error(400, "Unexpected character: the request body is not valid JSON")) from None
    if not isinstance(body, dict):
        raise Problem(error(400, "The request body must be a JSON object"))
    return body


def _int(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise Problem(error(400, f"{name} must be an integer")) from None
    if number < 0:
        raise Problem(error(400, f"{name} must be 0 or more"))
    return number


def _pick(options: tuple[dict[str, Any], ...], ref: dict[str, Any] | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    for option in options:
        if str(ref.get("id", "")) == option["id"] or str(ref.get("name", "")).lower() == option["name"].lower():
            return option
    return None


def _status_json(jira: JiraWorld, index: int) -> dict[str, Any]:
    status = JIRA_STATUSES[index]
    cat_id, cat_key, cat_name, color = status["category"]
    return {
        "self": jira.api(f"/status/{status['id']}"),
        "id": status["id"],
        "name": status["name"],
        "statusCategory": {"id": int(cat_id), "key": cat_key, "colorName": color, "name": cat_name},
    }


def _issue_json(jira: JiraWorld, project: JiraProject, number: int, fields: list[str]) -> dict[str, Any]:
    issue_id = jira.issue_id(project, number)
    if not fields or fields == ["id"]:
        return {"id": issue_id}
    data: dict[str, Any] = {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": issue_id,
        "self": jira.api(f"/issue/{issue_id}"),
        "key": f"{project.key}-{number}",
    }
    all_fields = jira.issue_fields(project, number)
    if "*all" in fields or "*navigable" in fields:
        data["fields"] = all_fields
    else:
        data["fields"] = {name: all_fields[name] for name in fields if name in all_fields}
    return data


# -- JQL ---------------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<op>>=|<=|!=|!~|=|>|<|~)|(?P<punct>[(),])|(?P<word>[^\s(),=<>!~"\']+))'
)
_FIELDS = {
    "project",
    "key",
    "issuekey",
    "id",
    "updated",
    "created",
    "status",
    "statuscategory",
    "assignee",
    "labels",
    "issuetype",
    "type",
    "priority",
    "summary",
    "text",
}
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


class JqlQuery:
    def __init__(self) -> None:
        self.groups: list[list[tuple[str, str, Any]]] = [[]]  # OR of ANDs
        self.order: list[tuple[str, bool]] = []


def _jql_error(message: str) -> Problem:
    return Problem(error(400, message))


def parse_jql(jql: str, jira: JiraWorld) -> JqlQuery:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = jql.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _jql_error(f"Error in the JQL Query: the character '{text[position]}' is a reserved JQL character.")
        kind = match.lastgroup or "word"
        value = match.group(kind)
        if kind == "str":
            value = value[1:-1]
        tokens.append((kind, value))
        position = match.end()
    query = JqlQuery()
    index = 0

    def peek(offset: int = 0) -> tuple[str, str] | None:
        return tokens[index + offset] if index + offset < len(tokens) else None

    while index < len(tokens):
        kind, value = tokens[index]
        lowered = value.lower() if kind == "word" else ""
        if lowered == "order" and peek(1) and peek(1)[1].lower() == "by":  # type: ignore[index]
            index += 2
            while index < len(tokens):
                field = tokens[index][1].lower()
                if field not in _FIELDS:
                    raise _jql_error(
                        f"Field '{tokens[index][1]}' does not exist or you do not have permission to view it."
                    )
                index += 1
                descending = False
                if index < len(tokens) and tokens[index][1].lower() in ("asc", "desc"):
                    descending = tokens[index][1].lower() == "desc"
                    index += 1
                query.order.append((field, descending))
                if index < len(tokens) and tokens[index][1] == ",":
                    index += 1
                    continue
                break
            if index < len(tokens):
                raise _jql_error(f"Error in the JQL Query: Expecting end of query but got '{tokens[index][1]}'.")
            break
        if lowered == "and":
            index += 1
            continue
        if lowered == "or":
            query.groups.append([])
            index += 1
            continue
        if kind not in ("word", "str"):
            raise _jql_error(f"Error in the JQL Query: Expecting a field name but got '{value}'.")
        field = value.lower()
        if field not in _FIELDS:
            raise _jql_error(f"Field '{value}' does not exist or you do not have permission to view it.")
        index += 1
        operator_token = peek()
        if operator_token is None:
            raise _jql_error(f"Error in the JQL Query: Expecting operator after '{value}'.")
        operator = operator_token[1].lower()
        index += 1
        if operator == "not" and peek() and peek()[1].lower() == "in":  # type: ignore[index]
            operator = "not in"
            index += 1
        if operator in ("in", "not in"):
            if peek() is None or peek()[1] != "(":  # type: ignore[index]
                raise _jql_error("Error in the JQL Query: Expecting '(' after IN.")
            index += 1
            values: list[str] = []
            while index < len(tokens) and tokens[index][1] != ")":
                if tokens[index][1] != ",":
                    values.append(tokens[index][1])
                index += 1
            if index >= len(tokens):
                raise _jql_error("Error in the JQL Query: Expecting ')' to close the list.")
            index += 1
            operand: Any = values
        elif operator in ("=", "!=", ">", ">=", "<", "<=", "~", "!~", "is"):
            operand_token = peek()
            if operand_token is None:
                raise _jql_error(f"Error in the JQL Query: Expecting a value after '{operator}'.")
            operand = operand_token[1]
            index += 1
            if operator == "is" and operand.lower() == "not":
                operator = "is not"
                operand = tokens[index][1] if index < len(tokens) else ""
                index += 1
            if operand.lower() == "currentuser" and peek() and peek()[1] == "(":  # type: ignore[index]
                index += 2
                operand = "currentUser()"
        else:
            raise _jql_error(f"Error in the JQL Query: Expecting operator but got '{operator_token[1]}'.")
        query.groups[-1].append((field, operator, _operand(field, operator, operand, jira)))
    if not any(query.groups):
        raise _jql_error("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
    return query


def _operand(field: str, operator: str, operand: Any, jira: JiraWorld) -> Any:
    if field == "project":
        keys = operand if isinstance(operand, list) else [operand]
        resolved = []
        for key in keys:
            project = jira.projects.get(str(key).upper()) or next(
                (p for p in jira.projects.values() if p.id == str(key) or p.name.lower() == str(key).lower()),
                None,
            )
            if project is None:
                raise _jql_error(f"The value '{key}' does not exist for the field 'project'.")
            resolved.append(project.key)
        return resolved
    if field in ("updated", "created"):
        return _jql_date(field, str(operand), ZoneInfo(jira.time_zone))
    if isinstance(operand, list):
        return [str(value).lower() for value in operand]
    return str(operand).lower()


def _jql_date(field: str, value: str, zone: ZoneInfo) -> float:
    relative = re.fullmatch(r"([-+]?)(\d+)([mhdw])", value.strip())
    if relative:
        sign = -1 if relative.group(1) == "-" else 1
        unit = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}[relative.group(3)]
        return time.time() + sign * int(relative.group(2)) * unit
    for pattern in _DATE_FORMATS:
        try:
            # Like Jira, a JQL date is wall-clock time in the searching user's zone.
            return datetime.strptime(value.strip(), pattern).replace(tzinfo=zone).timestamp()
        except ValueError:
            continue
    raise _jql_error(
        f"Date value '{value}' for field '{field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
        "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
    )


def _matching(jira: JiraWorld, query: JqlQuery) -> list[tuple[JiraProject, int]]:
    projects = list(jira.projects.values())
    key = (repr(query.groups), repr(query.order), tuple(p.seq.version for p in projects))
    cache = projects[0].seq
    result: list[tuple[JiraProject, int]] = cache.cached(("jql", key), lambda: _evaluate(jira, query, projects))
    return result


def _evaluate(jira: JiraWorld, query: JqlQuery, projects: list[JiraProject]) -> list[tuple[JiraProject, int]]:
    wanted: set[str] | None = set()
    for group in query.groups:
        keys = [value for field, operator, value in group if field == "project" and operator in ("=", "in")]
        if not keys:
            wanted = None
            break
        assert wanted is not None
        wanted.update(keys[0])
    matched = [
        (project, number)
        for project in projects
        if wanted is None or project.key in wanted
        for number in range(1, project.seq.last + 1)
        if any(all(_test(jira, project, number, clause) for clause in group) for group in query.groups if group)
    ]
    order = query.order or [("created", True)]
    for field, descending in reversed(order):
        matched.sort(key=lambda item: _sort_value(jira, item[0], item[1], field), reverse=descending)
    return matched


def _sort_value(jira: JiraWorld, project: JiraProject, number: int, field: str) -> Any:
    if field == "updated":
        return project.seq.updated(number)
    if field in ("key", "issuekey", "id"):
        return (project.index, number)
    if field == "status":
        return jira.status_index(project, number)
    if field == "created":
        override = project.seq.overrides.get(number, {})
        return override.get("_created", project.seq.base_created(number))
    return str(jira.issue_fields(project, number).get(field, ""))


def _test(jira: JiraWorld, project: JiraProject, number: int, clause: tuple[str, str, Any]) -> bool:
    field, operator, operand = clause
    if field == "project":
        return (project.key in operand) == (operator in ("=", "in"))
    if field in ("updated", "created"):
        value = _sort_value(jira, project, number, field)
        return bool(
            {
                "=": value == operand,
                "!=": value != operand,
                ">": value > operand,
                ">=": value >= operand,
                "<": value < operand,
                "<=": value <= operand,
            }.get(operator, False)
        )
    if field in ("key", "issuekey", "id"):
        actual = [f"{project.key}-{number}".lower(), jira.issue_id(project, number)]
        values = operand if isinstance(operand, list) else [operand]
        hit = any(value in actual for value in values)
        return hit if operator in ("=", "in") else not hit
    fields = jira.issue_fields(project, number)
    actual_values = _field_values(fields, field)
    if operator in ("~", "!~"):
        hit = any(str(operand).strip("*") in value for value in actual_values)
        return hit if operator == "~" else not hit
    if operator in ("is", "is not"):
        empty = not actual_values
        return empty if operator == "is" else not empty
    values = operand if isinstance(operand, list) else [operand]
    hit = any(value in actual_values for value in values)
    return hit if operator in ("=", "in") else not hit


def _field_values(fields: dict[str, Any], field: str) -> list[str]:
    if field == "status":
        return [fields["status"]["name"].lower(), fields["status"]["id"]]
    if field == "statuscategory":
        category = fields["status"]["statusCategory"]
        return [category["name"].lower(), category["key"].lower(), str(category["id"])]
    if field == "assignee":
        assignee = fields["assignee"]
        return [assignee["accountId"].lower(), assignee["displayName"].lower()] if assignee else []
    if field == "labels":
        return [label.lower() for label in fields["labels"]]
    if field in ("issuetype", "type"):
        return [fields["issuetype"]["name"].lower(), fields["issuetype"]["id"]]
    if field == "priority":
        return [fields["priority"]["name"].lower(), fields["priority"]["id"]]
    if field in ("summary", "text"):
        return [fields["summary"].lower()]
    return []
