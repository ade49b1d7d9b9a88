"""Simulated Linear: OAuth on linear.app/api.linear.app and the GraphQL API (a subset of the real schema)."""

import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import orjson
from graphql import GraphQLError, build_schema, graphql_sync
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from platform_server.sandbox.common import (
    bearer_token,
    client_id_for,
    client_secret_for,
    iso,
    json_response,
    parse_iso,
    stable_uuid,
)
from platform_server.sandbox.gate import ProviderGate, provider_app
from platform_server.sandbox.oauth import oauth_routes
from platform_server.sandbox.store import AccessToken, SandboxStore
from platform_server.sandbox.webhooks import SandboxHook, WebhookOutbox
from platform_server.sandbox.worlds import LINEAR_STATES, PEOPLE, LinearTeam, LinearWorld
from platform_server.security import constant_time_equals

SCHEMA = build_schema(
    """
    scalar DateTime
    scalar TimelessDate

    enum PaginationOrderBy { createdAt updatedAt }

    type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
    type Organization { id: ID! name: String! urlKey: String! }
    type User {
      id: ID! name: String! displayName: String! email: String! active: Boolean! admin: Boolean! isMe: Boolean!
      url: String!
    }
    type WorkflowState { id: ID! name: String! type: String! color: String! position: Float! team: Team! }
    type WorkflowStateConnection { nodes: [WorkflowState!]! pageInfo: PageInfo! }
    type Team {
      id: ID! key: String! name: String!
      states(first: Int, after: String, filter: WorkflowStateFilter): WorkflowStateConnection!
      cycles(first: Int, after: String, filter: CycleFilter): CycleConnection!
      projects(first: Int, after: String, filter: ProjectFilter): ProjectConnection!
    }
    type TeamConnection { nodes: [Team!]! pageInfo: PageInfo! }
    type IssueLabel { id: ID! name: String! color: String! }
    type IssueLabelConnection { nodes: [IssueLabel!]! pageInfo: PageInfo! }
    type ProjectStatus { id: ID! name: String! type: String! color: String! position: Float! }
    type Project {
      id: ID! name: String! description: String!
      state: String! @deprecated(reason: "Use project.status instead")
      status: ProjectStatus! progress: Float! startDate: TimelessDate
      targetDate: TimelessDate url: String! createdAt: DateTime! updatedAt: DateTime!
      teams(first: Int, after: String): TeamConnection!
    }
    type ProjectConnection { nodes: [Project!]! pageInfo: PageInfo! }
    type Cycle {
      id: ID! number: Float! name: String startsAt: DateTime! endsAt: DateTime! completedAt: DateTime
      progress: Float! isActive: Boolean! isFuture: Boolean! isPast: Boolean! team: Team!
    }
    type CycleConnection { nodes: [Cycle!]! pageInfo: PageInfo! }
    type Issue {
      id: ID! identifier: String! number: Float! title: String! description: String priority: Float!
      priorityLabel: String! estimate: Float url: String! createdAt: DateTime! updatedAt: DateTime!
      archivedAt: DateTime completedAt: DateTime dueDate: TimelessDate state: WorkflowState! team: Team!
      assignee: User project: Project labels(first: Int): IssueLabelConnection!
    }
    type IssueEdge { node: Issue! cursor: String! }
    type IssueConnection { nodes: [Issue!]! edges: [IssueEdge!]! pageInfo: PageInfo! }
    type IssuePayload { success: Boolean! issue: Issue lastSyncId: Float! }

    input StringComparator {
      eq: String eqIgnoreCase: String neq: String in: [String!] nin: [String!] contains: String
      containsIgnoreCase: String
      startsWith: String
    }
    input IDComparator { eq: ID neq: ID in: [ID!] nin: [ID!] }
    input NumberComparator { eq: Float neq: Float gt: Float gte: Float lt: Float lte: Float in: [Float!] }
    input DateComparator { eq: DateTime neq: DateTime gt: DateTime gte: DateTime lt: DateTime lte: DateTime }
    input BooleanComparator { eq: Boolean neq: Boolean }
    input TeamFilter {
      id: IDComparator key: StringComparator name: StringComparator and: [TeamFilter!] or: [TeamFilter!]
    }
    input TeamCollectionFilter { some: TeamFilter every: TeamFilter }
    input WorkflowStateFilter { id: IDComparator name: StringComparator type: StringComparator }
    input NullableUserFilter {
      id: IDComparator email: StringComparator name: StringComparator isMe: BooleanComparator null: Boolean
    }
    input NullableProjectFilter { id: IDComparator name: StringComparator null: Boolean }
    input IssueFilter {
      id: IDComparator number: NumberComparator title: StringComparator priority: NumberComparator
      createdAt: DateComparator updatedAt: DateComparator team: TeamFilter state: WorkflowStateFilter
      assignee: NullableUserFilter project: NullableProjectFilter and: [IssueFilter!] or: [IssueFilter!]
    }
    input ProjectStatusFilter { id: IDComparator name: StringComparator type: StringComparator }
    input ProjectFilter {
      id: IDComparator name: StringComparator state: StringComparator status: ProjectStatusFilter
      accessibleTeams: TeamCollectionFilter and: [ProjectFilter!] or: [ProjectFilter!]
    }
    input CycleFilter {
      id: IDComparator number: NumberComparator isActive: BooleanComparator isFuture: BooleanComparator
      isPast: BooleanComparator team: TeamFilter and: [CycleFilter!] or: [CycleFilter!]
    }
    input IssueCreateInput {
      teamId: String! title: String description: String priority: Int assigneeId: String stateId: String
      labelIds: [String!] projectId: String estimate: Int dueDate: TimelessDate
    }

    type Query {
      viewer: User!
      organization: Organization!
      teams(first: Int, after: String, filter: TeamFilter, includeArchived: Boolean): TeamConnection!
      team(id: String!): Team!
      issues(
        first: Int, after: String, filter: IssueFilter, includeArchived: Boolean, orderBy: PaginationOrderBy
      ): IssueConnection!
      issue(id: String!): Issue!
      projects(
        first: Int, after: String, filter: ProjectFilter, includeArchived: Boolean, orderBy: PaginationOrderBy
      ): ProjectConnection!
      cycles(first: Int, after: String, filter: CycleFilter, includeArchived: Boolean): CycleConnection!
      workflowStates(first: Int, after: String, filter: WorkflowStateFilter): WorkflowStateConnection!
    }
    input WebhookCreateInput {
      url: String! label: String secret: String teamId: String allPublicTeams: Boolean resourceTypes: [String!]!
      enabled: Boolean
    }
    type Webhook {
      id: ID! url: String label: String enabled: Boolean! allPublicTeams: Boolean! resourceTypes: [String!]!
      createdAt: DateTime! updatedAt: DateTime!
    }
    type WebhookPayload { success: Boolean! webhook: Webhook! lastSyncId: Float! }
    type DeletePayload { success: Boolean! entityId: String! lastSyncId: Float! }
    type Mutation {
      issueCreate(input: IssueCreateInput!): IssuePayload!
      webhookCreate(input: WebhookCreateInput!): WebhookPayload!
      webhookDelete(id: String!): DeletePayload!
    }
    """
)

MAX_PAGE = 250
# The target of a hook that listens to every public team.
ALL_PUBLIC_TEAMS = "*"


def linear_webhook_id(hook: SandboxHook) -> str:
    return stable_uuid("linear-webhook", hook.id)


def _invalid_input(message: str, presentable: str | None = None) -> GraphQLError:
    return GraphQLError(
        message,
        extensions={
            "type": "invalid input",
            "code": "INPUT_ERROR",
            "statusCode": 400,
            "userPresentableMessage": presentable or message,
        },
    )


def _graphql_errors(errors: list[dict[str, Any]], status: int) -> Response:
    return json_response({"errors": errors}, status)


def error(status: int, message: str) -> Response:
    return _graphql_errors(
        [{"message": message, "extensions": {"type": "invalid request", "statusCode": status}}], status
    )


def create_linear_app(store: SandboxStore) -> ProviderGate:
    def world() -> LinearWorld:
        result: LinearWorld = store.world("linear")
        return result

    async def graphql_endpoint(request: Request) -> Response:
        record, _ = store.authenticate("linear", bearer_token(request))
        if record is None:
            message = "Authentication required, not authenticated"
            return _graphql_errors(
                [
                    {
                        "message": message,
                        "extensions": {
                            "type": "authentication error",
                            "code": "AUTHENTICATION_ERROR",
                            "statusCode": 401,
                            "userPresentableMessage": "You need to authenticate to access this operation.",
                        },
                    }
                ],
                401,
            )
        if "json" not in request.headers.get("content-type", ""):
            return error(400, "Must provide query string.")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return error(400, "Body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return error(400, "Must provide query string.")
        variables = body.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return error(400, "Variables must be an object")
        resolvers = _Resolvers(world(), record, store.webhooks, announce_issue)
        result = graphql_sync(
            SCHEMA,
            body["query"],
            root_value=resolvers.root(),
            variable_values=variables,
            operation_name=body.get("operationName"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [_format(error) for error in result.errors]
            status = 400 if result.data is None else 200
            return json_response(payload, status)
        return json_response(payload)

    async def revoke(request: Request) -> Response:
        # Either the token itself as a bearer, or RFC 7009 with the app's credentials and `token`.
        token = bearer_token(request)
        if token is None:
            form = dict(parse_qsl((await request.body()).decode("latin-1")))
            if form.get("client_id") != client_id_for("linear") or not constant_time_equals(
                form.get("client_secret", ""), client_secret_for("linear")
            ):
                return json_response({"error": "invalid_client"}, 401)
            token = form.get("token")
        access = store.access_tokens.get(token or "")
        refresh = store.refresh_tokens.get(token or "")
        grant = access.grant if access else refresh.grant if refresh else None
        # An expired (or already revoked) access token proves nothing: it cannot end the grant.
        stale = access is not None and access.problem(time.time()) is not None
        if grant is None or grant.provider != "linear" or stale or (refresh is not None and refresh.used):
            return json_response({"error": "invalid_token"}, 400)
        store.revoke_grant(grant)
        return Response(status_code=200)

    def announce_issue(team: LinearTeam, number: int, action: str) -> None:
        """An `Issue` data-change event to every hook of all public teams or of this team."""
        issue = world().issue(team, number)
        data = {name: value for name, value in issue.items() if not name.startswith("_")}
        data.update(
            teamId=team.id,
            team={"id": team.id, "key": team.key, "name": team.name},
            stateId=issue["_state"]["id"],
            state=issue["_state"],
        )

        def payload(hook: SandboxHook) -> dict[str, Any]:
            now = time.time()
            return {
                "action": action,
                "type": "Issue",
                "createdAt": iso(now, millis=True),
                "data": data,
                "url": issue["url"],
                "organizationId": stable_uuid("linear-org"),
                "webhookTimestamp": int(now * 1000),
                "webhookId": linear_webhook_id(hook),
            }

        store.webhooks.emit("linear", {ALL_PUBLIC_TEAMS, team.id}, "Issue", payload)

    def change_issue(item: str, changes: dict[str, Any]) -> None:
        """An identifier such as `ENG-12`: changed as a user would (`touch`), then announced as `update`."""
        key, _, number_text = item.partition("-")
        team = world().teams.get(key)
        if team is None or not number_text.isdigit() or not 1 <= int(number_text) <= team.seq.last:
            raise KeyError(item)
        world().touch(item, **changes)
        announce_issue(team, int(number_text), "update")

    store.webhooks.changers["linear"] = change_issue

    routes = [
        *oauth_routes(store, "linear"),
        Route("/oauth/revoke", revoke, methods=["POST"]),
        Route("/graphql", graphql_endpoint, methods=["POST"]),
    ]
    return provider_app(store, "linear", routes, error, {"/oauth/authorize"})


def _format(error: GraphQLError) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    extensions = formatted.setdefault("extensions", {})
    if not extensions:
        extensions.update(
            type="graphql error",
            code="GRAPHQL_VALIDATION_FAILED",
            statusCode=400,
            userPresentableMessage=error.message,
        )
    return formatted


class _Resolvers:
    """Turns world data into GraphQL-shaped dicts; callables are resolved lazily by graphql-core."""

    def __init__(
        self,
        world: LinearWorld,
        token: AccessToken,
        hooks: WebhookOutbox,
        announce: Callable[[LinearTeam, int, str], None],
    ) -> None:
        self.world = world
        self.token = token
        self.viewer = token.grant.account
        self.now = time.time()
        self.hooks = hooks
        self.announce = announce

    def root(self) -> dict[str, Any]:
        return {
            "viewer": lambda _info: self.user(self.viewer.login),
            "organization": lambda _info: {"id": stable_uuid("linear-org"), "name": "Acme", "urlKey": "acme"},
            "teams": lambda _info, **args: self.connection(
                [self.team(team) for team in self.world.teams.values() if _match_team(team, args.get("filter"))],
                args,
            ),
            "team": lambda _info, id: self.team(self._team(id)),
            "issues": lambda _info, **args: self.issues(args),
            "issue": lambda _info, id: self.issue(id),
            "projects": lambda _info, **args: self.projects(None, args),
            "cycles": lambda _info, **args: self.cycles(None, args),
            "workflowStates": lambda _info, **args: self.connection(
                [
                    s
                    for team in self.world.teams.values()
                    for s in self.states(team)
                    if _match_state(s, args.get("filter"))
                ],
                args,
            ),
            "issueCreate": lambda _info, input: self.issue_create(input),
            "webhookCreate": lambda _info, input: self.webhook_create(input),
            "webhookDelete": lambda _info, id: self.webhook_delete(id),
        }

    # -- objects --------------------------------------------------------------------------------------------

    def user(self, login: str) -> dict[str, Any]:
        return {
            "id": stable_uuid("linear-user", login),
            "name": login.replace("-", " ").title(),
            "displayName": login,
            "email": f"{login}@example.com",
            "active": True,
            "admin": login == self.viewer.login,
            "isMe": login == self.viewer.login,
            "url": f"https://linear.app/acme/profiles/{login}",
        }

    def team(self, team: LinearTeam) -> dict[str, Any]:
        return {
            "id": team.id,
            "key": team.key,
            "name": team.name,
            "states": lambda _info, **args: self.connection(
                [state for state in self.states(team) if _match_state(state, args.get("filter"))], args
            ),
            "cycles": lambda _info, **args: self.cycles(team, args),
            "projects": lambda _info, **args: self.projects(team, args),
        }

    def states(self, team: LinearTeam) -> list[dict[str, Any]]:
        return [
            {
                "id": team.state_id(index),
                "name": name,
                "type": kind,
                "color": color,
                "position": float(index),
                "team": partial(lambda t, _info: self.team(t), team),
            }
            for index, (name, kind, color) in enumerate(LINEAR_STATES)
        ]

    def project(self, project: dict[str, Any]) -> dict[str, Any]:
        teams = [self.world.teams[key] for key in project["_teams"]]
        return {
            **{key: value for key, value in project.items() if not key.startswith("_")},
            "teams": lambda _info, **args: self.connection([self.team(team) for team in teams], args),
        }

    def issue_object(self, raw: dict[str, Any]) -> dict[str, Any]:
        data = {key: value for key, value in raw.items() if not key.startswith("_")}
        team: LinearTeam = raw["_team"]
        data["state"] = {**raw["_state"], "position": 0.0, "team": lambda _info: self.team(team)}
        data["team"] = lambda _info: self.team(team)
        data["assignee"] = self.user(raw["_assignee"]) if raw["_assignee"] else None
        data["project"] = self.project(raw["_project"]) if raw["_project"] else None
        data["labels"] = lambda _info, **args: self.connection(
            [{"id": stable_uuid("label", name), "name": name, "color": "#eb5757"} for name in raw["_labels"]],
            args,
        )
        return data

    # -- queries --------------------------------------------------------------------------------------------

    def _team(self, ref: str) -> LinearTeam:
        for team in self.world.teams.values():
            if ref in (team.id, team.key):
                return team
        raise _invalid_input("Entity not found: Team", "Could not find referenced Team.")

    def issue(self, ref: str) -> dict[str, Any]:
        for team in self.world.teams.values():
            if ref.upper().startswith(f"{team.key}-") and ref.split("-", 1)[1].isdigit():
                number = int(ref.split("-", 1)[1])
                if 1 <= number <= team.seq.last:
                    return self.issue_object(self.world.issue(team, number))
            else:
                for number in range(1, team.seq.last + 1):
                    if stable_uuid("linear-issue", team.key, number) == ref:
                        return self.issue_object(self.world.issue(team, number))
        raise _invalid_input("Entity not found: Issue", "Could not find referenced Issue.")

    def issues(self, args: dict[str, Any]) -> dict[str, Any]:
        filter_ = args.get("filter") or {}
        order = args.get("orderBy") or "createdAt"
        teams = [team for team in self.world.teams.values() if _match_team(team, filter_.get("team"))]
        key = (
            "issues",
            repr(filter_),
            order,
            self.viewer.login,
            tuple(t.seq.version for t in self.world.teams.values()),
        )
        cache = next(iter(self.world.teams.values())).seq
        ordered: list[tuple[LinearTeam, int]] = cache.cached(key, lambda: self._select_issues(teams, filter_, order))
        positions: dict[str, int] = cache.cached(
            (*key, "positions"),
            lambda: {self._issue_id(team, number): i for i, (team, number) in enumerate(ordered)},
        )
        first, start = self._window(args, positions)
        page = ordered[start : start + first]
        nodes = [self.issue_object(self.world.issue(team, number)) for team, number in page]
        return {
            "nodes": nodes,
            "edges": [{"node": node, "cursor": node["id"]} for node in nodes],
            "pageInfo": _page_info(nodes, start, first, len(ordered)),
        }

    def _issue_id(self, team: LinearTeam, number: int) -> str:
        return stable_uuid("linear-issue", team.key, number)

    def _select_issues(
        self, teams: list[LinearTeam], filter_: dict[str, Any], order: str
    ) -> list[tuple[LinearTeam, int]]:
        selected = []
        for team in teams:
            for number in range(1, team.seq.last + 1):
                raw = self.world.issue(team, number)
                if _match_issue(raw, filter_, self):
                    selected.append((team, number, raw["_updated"] if order == "updatedAt" else raw["_created"]))
        # Newest first, as Linear orders its connections.
        selected.sort(key=lambda item: (item[2], item[0].key, item[1]), reverse=True)
        return [(team, number) for team, number, _ in selected]

    def projects(self, team: LinearTeam | None, args: dict[str, Any]) -> dict[str, Any]:
        items = [
            self.project(project)
            for project in self.world.projects
            if (team is None or team.key in project["_teams"])
            and _match_project(project, args.get("filter"), self.world)
        ]
        return self.connection(items, args)

    def cycles(self, team: LinearTeam | None, args: dict[str, Any]) -> dict[str, Any]:
        items = []
        for candidate in self.world.teams.values():
            if team is not None and candidate is not team:
                continue
            for cycle in self.world.cycles(candidate, self.now):
                if _match_cycle(cycle, candidate, args.get("filter")):
                    items.append(
                        {
                            **{k: v for k, v in cycle.items() if not k.startswith("_")},
                            "team": partial(lambda t, _info: self.team(t), candidate),
                        }
                    )
        return self.connection(items, args)

    def connection(self, items: list[dict[str, Any]], args: dict[str, Any]) -> dict[str, Any]:
        first, start = self._window(args, {item["id"]: i for i, item in enumerate(items)})
        nodes = items[start : start + first]
        return {"nodes": nodes, "pageInfo": _page_info(nodes, start, first, len(items))}

    def _window(self, args: dict[str, Any], positions: dict[str, int]) -> tuple[int, int]:
        first = args.get("first")
        first = 50 if first is None else first
        if not 0 <= first <= MAX_PAGE:
            raise _invalid_input(f"first must be between 0 and {MAX_PAGE}")
        start = 0
        after = args.get("after")
        if after:
            if after not in positions:
                raise _invalid_input("Invalid cursor", "The pagination cursor is not valid.")
            start = positions[after] + 1
        return first, start

    # -- mutations ------------------------------------------------------------------------------------------

    def issue_create(self, data: dict[str, Any]) -> dict[str, Any]:
        team = self._team(data["teamId"])
        title = (data.get("title") or "").strip()
        if not title:
            raise _invalid_input("Argument Validation Error: title should not be empty", "Title is required.")
        priority = data.get("priority", 0) or 0
        if not 0 <= priority <= 4:
            raise _invalid_input("Argument Validation Error: priority must be between 0 and 4")
        state_index = 1
        if data.get("stateId"):
            ids = [team.state_id(index) for index in range(len(LINEAR_STATES))]
            if data["stateId"] not in ids:
                raise _invalid_input("Entity not found: WorkflowState", "Could not find referenced workflow state.")
            state_index = ids.index(data["stateId"])
        assignee = None
        if data.get("assigneeId"):
            logins = {stable_uuid("linear-user", login): login for login in (*PEOPLE, self.viewer.login)}
            assignee = logins.get(data["assigneeId"])
            if assignee is None:
                raise _invalid_input("Entity not found: User", "Could not find referenced user.")
        team.seq.created += 1
        number = team.seq.last
        now = time.time()
        team.seq.overrides[number] = {
            "title": title,
            "description": data.get("description"),
            "priority": priority,
            "_state": state_index,
            "_assignee": assignee,
            "_created": now,
            "_updated": now,
        }
        team.seq.changed()
        self.announce(team, number, "create")
        return {
            "success": True,
            "issue": self.issue_object(self.world.issue(team, number)),
            "lastSyncId": float(int(now)),
        }

    def _require_admin(self) -> None:
        # "Only workspace admins, or OAuth applications with the admin scope, can create or read webhooks."
        if "admin" not in self.token.grant.scopes:
            raise GraphQLError(
                "Invalid scope: `admin` required",
                extensions={
                    "type": "forbidden",
                    "code": "FORBIDDEN",
                    "statusCode": 403,
                    "userPresentableMessage": "You don't have permission to manage webhooks.",
                },
            )

    def webhook_create(self, data: dict[str, Any]) -> dict[str, Any]:
        self._require_admin()
        if data.get("teamId"):
            target = self._team(data["teamId"]).id
        elif data.get("allPublicTeams"):
            target = ALL_PUBLIC_TEAMS
        else:
            raise _invalid_input("Argument Validation Error: teamId or allPublicTeams is required")
        hook = self.hooks.add("linear", target, data["url"], data.get("secret"), list(data["resourceTypes"]))
        return {"success": True, "webhook": self._webhook(hook, data), "lastSyncId": float(int(self.now))}

    def webhook_delete(self, webhook_id: str) -> dict[str, Any]:
        self._require_admin()
        hook = next(
            (
                hook
                for hook in self.hooks.hooks.values()
                if hook.provider == "linear" and linear_webhook_id(hook) == webhook_id
            ),
            None,
        )
        if hook is None:
            raise _invalid_input("Entity not found: Webhook", "Could not find referenced webhook.")
        self.hooks.remove("linear", hook.id)
        return {"success": True, "entityId": webhook_id, "lastSyncId": float(int(self.now))}

    def _webhook(self, hook: SandboxHook, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": linear_webhook_id(hook),
            "url": hook.url,
            "label": data.get("label"),
            "enabled": data.get("enabled", True) is not False,
            "allPublicTeams": hook.target == ALL_PUBLIC_TEAMS,
            "resourceTypes": hook.events,
            "createdAt": iso(hook.created, millis=True),
            "updatedAt": iso(hook.created, millis=True),
        }


def _page_info(nodes: list[dict[str, Any]], start: int, first: int, total: int) -> dict[str, Any]:
    return {
        "hasNextPage": start + first < total,
        "hasPreviousPage": start > 0,
        "startCursor": nodes[0]["id"] if nodes else None,
        "endCursor": nodes[-1]["id"] if nodes else None,
    }


def _compare(value: Any, comparator: dict[str, Any] | None, convert: Callable[[Any], Any] = lambda v: v) -> bool:
    if not comparator:
        return True
    for operator, operand in comparator.items():
        if operator == "null":
            if (value is None) != operand:
                return False
            continue
        if value is None:
            return False
        if operator in ("in", "nin"):
            hit = value in [convert(item) for item in operand]
            if hit != (operator == "in"):
                return False
            continue
        if operator == "eqIgnoreCase":
            if str(value).lower() != str(operand).lower():
                return False
            continue
        if operator in ("contains", "containsIgnoreCase", "startsWith"):
            text, needle = str(value), str(operand)
            if operator == "containsIgnoreCase":
                text, needle = text.lower(), needle.lower()
            if not (text.startswith(needle) if operator == "startsWith" else needle in text):
                return False
            continue
        target = convert(operand)
        checks = {"eq": value == target, "neq": value != target}
        if operator in ("gt", "gte", "lt", "lte"):
            checks = {
                "gt": value > target,
                "gte": value >= target,
                "lt": value < target,
                "lte": value <= target,
            }
        if not checks.get(operator, True):
            return False
    return True


def _date(value: Any) -> float:
    parsed = parse_iso(str(value))
    if parsed is None:
        raise _invalid_input(f"Invalid date: {value}", "Dates must be ISO 8601.")
    return parsed


def _combine(filter_: dict[str, Any] | None, check: Callable[[dict[str, Any]], bool]) -> bool:
    if not filter_:
        return True
    if not check(filter_):
        return False
    if filter_.get("and") and not all(_combine(part, check) for part in filter_["and"]):
        return False
    return not filter_.get("or") or any(_combine(part, check) for part in filter_["or"])


def _match_team(team: LinearTeam, filter_: dict[str, Any] | None) -> bool:
    return _combine(
        filter_,
        lambda f: (
            _compare(team.id, f.get("id")) and _compare(team.key, f.get("key")) and _compare(team.name, f.get("name"))
        ),
    )


def _match_state(state: dict[str, Any], filter_: dict[str, Any] | None) -> bool:
    return _combine(
        filter_,
        lambda f: (
            _compare(state["id"], f.get("id"))
            and _compare(state["name"], f.get("name"))
            and _compare(state["type"], f.get("type"))
        ),
    )


def _match_issue(raw: dict[str, Any], filter_: dict[str, Any], resolvers: _Resolvers) -> bool:
    def check(f: dict[str, Any]) -> bool:
        state = raw["_state"]
        assignee = raw["_assignee"]
        assignee_filter = f.get("assignee")
        if assignee_filter:
            if assignee_filter.get("null") is not None and (assignee is None) != assignee_filter["null"]:
                return False
            user = resolvers.user(assignee) if assignee else None
            rest = {key: value for key, value in assignee_filter.items() if key != "null"}
            if rest and (
                user is None
                or not _compare(user["id"], rest.get("id"))
                or not _compare(user["email"], rest.get("email"))
                or not _compare(user["name"], rest.get("name"))
                or not _compare(user["isMe"], rest.get("isMe"))
            ):
                return False
        project_filter = f.get("project")
        if project_filter:
            project = raw["_project"]
            if project_filter.get("null") is not None and (project is None) != project_filter["null"]:
                return False
            rest = {key: value for key, value in project_filter.items() if key != "null"}
            if rest and (
                project is None
                or not _compare(project["id"], rest.get("id"))
                or not _compare(project["name"], rest.get("name"))
            ):
                return False
        return (
            _compare(raw["id"], f.get("id"))
            and _compare(float(raw["number"]), f.get("number"), float)
            and _compare(raw["title"], f.get("title"))
            and _compare(float(raw["priority"]), f.get("priority"), float)
            and _compare(raw["_created"], f.get("createdAt"), _date)
            and _compare(raw["_updated"], f.get("updatedAt"), _date)
            and _match_team(raw["_team"], f.get("team"))
            and _match_state(state, f.get("state"))
        )

    return _combine(filter_, check)


def _match_project(project: dict[str, Any], filter_: dict[str, Any] | None, world: LinearWorld) -> bool:
    def check(f: dict[str, Any]) -> bool:
        teams = f.get("accessibleTeams") or {}
        if teams.get("some") and not any(_match_team(world.teams[key], teams["some"]) for key in project["_teams"]):
            return False
        if teams.get("every") and not all(_match_team(world.teams[key], teams["every"]) for key in project["_teams"]):
            return False
        status = f.get("status") or {}
        return (
            _compare(project["id"], f.get("id"))
            and _compare(project["name"], f.get("name"))
            and _compare(project["state"], f.get("state"))
            and _compare(project["status"]["id"], status.get("id"))
            and _compare(project["status"]["name"], status.get("name"))
            and _compare(project["status"]["type"], status.get("type"))
        )

    return _combine(filter_, check)


def _match_cycle(cycle: dict[str, Any], team: LinearTeam, filter_: dict[str, Any] | None) -> bool:
    return _combine(
        filter_,
        lambda f: (
            _compare(cycle["id"], f.get("id"))
            and _compare(float(cycle["number"]), f.get("number"), float)
            and _compare(cycle["isActive"], f.get("isActive"))
            and _compare(cycle["isFuture"], f.get("isFuture"))
            and _compare(cycle["isPast"], f.get("isPast"))
            and _match_team(team, f.get("team"))
        ),
    )
