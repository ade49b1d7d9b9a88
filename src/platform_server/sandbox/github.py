"""Simulated GitHub: github.com OAuth and the api.github.com REST endpoints the tools and importers call."""

import base64
from bisect import bisect_left
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from platform_server.sandbox.common import (
    Problem,
    answers_problems,
    bearer_token,
    client_id_for,
    client_secret_for,
    json_response,
    parse_iso,
)
from platform_server.sandbox.gate import ProviderGate, provider_app
from platform_server.sandbox.oauth import oauth_routes
from platform_server.sandbox.store import AccessToken, SandboxStore
from platform_server.sandbox.worlds import GitHubRepo, GitHubWorld
from platform_server.security import constant_time_equals

DOCS = "https://docs.github.com/rest"


def error(status: int, message: str, errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return json_response(body, status)


def _invalid(field: str, resource: str = "Issue", code: str = "invalid") -> Response:
    return error(422, "Validation Failed", [{"resource": resource, "field": field, "code": code}])


def create_github_app(store: SandboxStore) -> ProviderGate:
    def world() -> GitHubWorld:
        result: GitHubWorld = store.world("github")
        return result

    def auth(request: Request) -> AccessToken:
        record, problem = store.authenticate("github", bearer_token(request))
        if record is None:
            message = "Requires authentication" if problem == "missing" else "Bad credentials"
            raise Problem(error(401, message))
        return record

    def repo_of(request: Request) -> GitHubRepo:
        repo = world().repos.get(f"{request.path_params['owner']}/{request.path_params['repo']}".lower())
        if repo is None:
            raise Problem(error(404, "Not Found"))
        return repo

    @answers_problems
    async def get_user(request: Request) -> Response:
        record = auth(request)
        account = record.grant.account
        user = world().user(account.login)
        return json_response(
            {
                **user,
                "id": account.id,
                "name": account.display_name,
                "company": "Acme",
                "email": account.email,
                "public_repos": 1,
                "created_at": "2020-01-01T00:00:00Z",
                "updated_at": "2025-01-01T00:00:00Z",
            },
            headers={"X-OAuth-Scopes": ", ".join(record.grant.scopes), "X-Accepted-OAuth-Scopes": ""},
        )

    @answers_problems
    async def list_user_repos(request: Request) -> Response:
        auth(request)
        params = request.query_params
        visibility = params.get("visibility", "all")
        if visibility not in ("all", "public", "private"):
            raise Problem(_invalid("visibility", "Repository"))
        sort = params.get("sort", "full_name")
        if sort not in ("created", "updated", "pushed", "full_name"):
            raise Problem(_invalid("sort", "Repository"))
        repos = [
            repo for repo in world().repos.values() if visibility == "all" or (visibility == "private") == repo.private
        ]
        return _repo_page(request, repos, sort, params.get("direction"))

    @answers_problems
    async def list_org_repos(request: Request) -> Response:
        auth(request)
        if request.path_params["org"].lower() != "acme":
            raise Problem(error(404, "Not Found"))
        params = request.query_params
        kind = params.get("type", "all")
        if kind not in ("all", "public", "private", "forks", "sources", "member"):
            raise Problem(_invalid("type", "Repository"))
        repos = [
            repo
            for repo in world().repos.values()
            if kind in ("all", "sources", "member") or ((kind == "private") == repo.private and kind != "forks")
        ]
        return _repo_page(request, repos, params.get("sort", "created"), params.get("direction"))

    def _repo_page(request: Request, repos: list[GitHubRepo], sort: str, direction: str | None) -> Response:
        descending = (direction or ("asc" if sort == "full_name" else "desc")) == "desc"
        if sort == "full_name":
            repos.sort(key=lambda repo: repo.full_name, reverse=descending)
        else:
            repos.sort(key=lambda repo: repo.seq.updated(repo.seq.last) if repo.seq.last else 0, reverse=descending)
        page, per_page = _paging(request)
        items = repos[(page - 1) * per_page : page * per_page]
        return json_response(
            [world().repo_json(repo) for repo in items], headers=_links(request, page, per_page, len(repos))
        )

    @answers_problems
    async def get_repo(request: Request) -> Response:
        record = auth(request)
        return json_response(world().repo_json(repo_of(request), record.grant.account.login))

    @answers_problems
    async def list_issues(request: Request) -> Response:
        auth(request)
        repo = repo_of(request)
        params = request.query_params
        state = params.get("state", "open")
        sort = params.get("sort", "created")
        direction = params.get("direction", "desc")
        if state not in ("open", "closed", "all"):
            raise Problem(_invalid("state"))
        if sort not in ("created", "updated", "comments"):
            raise Problem(_invalid("sort"))
        if direction not in ("asc", "desc"):
            raise Problem(_invalid("direction"))
        since = _since(params.get("since"))
        labels = tuple(sorted(label.strip() for label in params.get("labels", "").split(",") if label.strip()))
        assignee = params.get("assignee")
        numbers = repo.seq.cached(
            ("issues", state, sort, direction, since, labels, assignee),
            lambda: _select(
                world(),
                repo,
                pulls_only=False,
                state=state,
                sort=sort,
                direction=direction,
                since=since,
                labels=labels,
                assignee=assignee,
            ),
        )
        page, per_page = _paging(request)
        items = numbers[(page - 1) * per_page : page * per_page]
        gh = world()
        return json_response(
            [gh.issue(repo, number) for number in items],
            headers=_links(request, page, per_page, len(numbers)),
        )

    @answers_problems
    async def get_issue(request: Request) -> Response:
        auth(request)
        repo = repo_of(request)
        number = _int(request.path_params["number"])
        if number is None or not repo.exists(number):
            raise Problem(error(404, "Not Found"))
        return json_response(world().issue(repo, number))

    @answers_problems
    async def create_issue(request: Request) -> Response:
        record = auth(request)
        repo = repo_of(request)
        if "repo" not in record.grant.scopes and not (not repo.private and "public_repo" in record.grant.scopes):
            raise Problem(error(404, "Not Found"))
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise Problem(error(400, "Problems parsing JSON")) from None
        if not isinstance(body, dict):
            raise Problem(error(400, "Problems parsing JSON"))
        title = body.get("title")
        if title is None:
            raise Problem(_invalid("title", code="missing_field"))
        if not isinstance(title, str | int) or not str(title).strip():
            raise Problem(_invalid("title"))
        fields: dict[str, Any] = {"title": str(title)}
        if body.get("body") is not None:
            if not isinstance(body["body"], str):
                raise Problem(_invalid("body"))
            fields["body"] = body["body"]
        labels = body.get("labels")
        if labels is not None:
            if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
                raise Problem(_invalid("labels"))
            fields["labels"] = labels
        assignees = body.get("assignees")
        if assignees is not None:
            if not isinstance(assignees, list) or not all(isinstance(name, str) for name in assignees):
                raise Problem(_invalid("assignees"))
            unknown = [name for name in assignees if name not in world().users]
            if unknown:
                raise Problem(_invalid("assignees", code="invalid"))
            fields["assignee"] = assignees[0] if assignees else None
        else:
            fields["assignee"] = None
        if not repo.can_push(record.grant.account.login):
            # GitHub answers 201 all the same: labels and assignees of a user without push access vanish.
            fields.update(labels=[], assignee=None)
        number = world().create_issue(repo, fields, record.grant.account.login)
        issue = world().issue(repo, number)
        return json_response(issue, 201, headers={"Location": issue["url"]})

    @answers_problems
    async def list_pulls(request: Request) -> Response:
        auth(request)
        repo = repo_of(request)
        params = request.query_params
        state = params.get("state", "open")
        sort = params.get("sort", "created")
        direction = params.get("direction", "asc" if sort == "created" and "direction" not in params else "desc")
        if state not in ("open", "closed", "all"):
            raise Problem(_invalid("state", "PullRequest"))
        if sort not in ("created", "updated", "popularity", "long-running"):
            raise Problem(_invalid("sort", "PullRequest"))
        if direction not in ("asc", "desc"):
            raise Problem(_invalid("direction", "PullRequest"))
        base = params.get("base")
        numbers = repo.seq.cached(
            ("pulls", state, sort, direction),
            lambda: _select(
                world(),
                repo,
                pulls_only=True,
                state=state,
                sort=sort,
                direction=direction,
                since=None,
                labels=(),
                assignee=None,
            ),
        )
        if base is not None and base != "main":
            numbers = []
        page, per_page = _paging(request)
        items = numbers[(page - 1) * per_page : page * per_page]
        gh = world()
        return json_response(
            [gh.pull(repo, number) for number in items], headers=_links(request, page, per_page, len(numbers))
        )

    async def revoke(request: Request) -> Response:
        # Basic auth with the app's client id and secret; the body names the token whose grant goes.
        client_id = request.path_params["client_id"]
        header = request.headers.get("authorization", "")
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            user, password = "", ""
        if (
            not header.lower().startswith("basic ")
            or client_id != client_id_for("github")
            or user != client_id
            or not constant_time_equals(password, client_secret_for("github"))
        ):
            return error(401, "Requires authentication")
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return error(400, "Problems parsing JSON")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            return _invalid("access_token", "Authorization", "missing_field")
        record = store.access_tokens.get(token)
        if record is None or record.grant.provider != "github":
            return error(404, "Not Found")
        if request.path_params["what"] == "grant":
            store.revoke_grant(record.grant)
        else:
            record.revoked = True
        return Response(status_code=204)

    routes = [
        *oauth_routes(store, "github"),
        Route("/user", get_user, methods=["GET"]),
        Route("/user/repos", list_user_repos, methods=["GET"]),
        Route("/orgs/{org}/repos", list_org_repos, methods=["GET"]),
        Route("/repos/{owner}/{repo}", get_repo, methods=["GET"]),
        Route("/repos/{owner}/{repo}/issues", list_issues, methods=["GET"]),
        Route("/repos/{owner}/{repo}/issues", create_issue, methods=["POST"]),
        Route("/repos/{owner}/{repo}/issues/{number}", get_issue, methods=["GET"]),
        Route("/repos/{owner}/{repo}/pulls", list_pulls, methods=["GET"]),
        Route("/applications/{client_id}/{what:str}", revoke, methods=["DELETE"]),
    ]
    return provider_app(store, "github", routes, error, {"/login/oauth/authorize"})


def _select(
    world: GitHubWorld,
    repo: GitHubRepo,
    *,
    pulls_only: bool,
    state: str,
    sort: str,
    direction: str,
    since: float | None,
    labels: tuple[str, ...],
    assignee: str | None,
) -> list[int]:
    seq = repo.seq
    if sort == "updated" or since is not None:
        ordered = seq.by_updated()
        if since is not None:
            # Update times are ascending in this ordering, so the cut is a binary search.
            times = seq.cached(("updated_times",), lambda: [seq.updated(n) for n in ordered])
            ordered = ordered[bisect_left(times, since) :]
        if sort != "updated":
            ordered = sorted(ordered)
    else:
        ordered = list(range(1, seq.last + 1))
    selected = [number for number in ordered if not pulls_only or repo.is_pull(number)]
    if state != "all":
        selected = [number for number in selected if repo.state(number) == state]
    if labels or assignee is not None or sort == "comments":
        selected = _filter_slow(world, repo, selected, labels, assignee, sort)
    if direction == "desc":
        selected.reverse()
    return selected


def _filter_slow(
    world: GitHubWorld,
    repo: GitHubRepo,
    numbers: list[int],
    labels: tuple[str, ...],
    assignee: str | None,
    sort: str,
) -> list[int]:
    result = []
    comments: dict[int, int] = {}
    for number in numbers:
        issue = world.issue(repo, number)
        names = {label["name"] for label in issue["labels"]}
        if labels and not set(labels) <= names:
            continue
        login = issue["assignee"]["login"] if issue["assignee"] else None
        if assignee == "none" and login is not None:
            continue
        if assignee not in (None, "*", "none") and login != assignee:
            continue
        if assignee == "*" and login is None:
            continue
        comments[number] = issue["comments"]
        result.append(number)
    if sort == "comments":
        result.sort(key=lambda number: (comments[number], number))
    return result


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _since(value: str | None) -> float | None:
    if value is None:
        return None
    parsed = parse_iso(value)
    if parsed is None:
        raise Problem(_invalid("since"))
    return parsed


def _paging(request: Request) -> tuple[int, int]:
    page = _int(request.query_params.get("page", "1"))
    per_page = _int(request.query_params.get("per_page", "30"))
    if page is None or per_page is None:
        raise Problem(error(400, "Invalid page or per_page: must be integers"))
    # GitHub clamps rather than refuses out-of-range paging values.
    return max(page, 1), min(max(per_page, 1), 100)


def _links(request: Request, page: int, per_page: int, total: int) -> dict[str, str]:
    last = max(1, -(-total // per_page))
    rels = []
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    if page > 1:
        rels = [("prev", page - 1), ("first", 1), *rels]
    if not rels:
        return {}
    links = ", ".join(
        f'<{request.url.include_query_params(page=target, per_page=per_page)}>; rel="{rel}"' for rel, target in rels
    )
    return {"Link": links}
