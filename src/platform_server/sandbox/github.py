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
    iso,
    json_response,
    parse_iso,
    stable_int,
)
from platform_server.sandbox.gate import ProviderGate, provider_app
from platform_server.sandbox.oauth import oauth_routes
from platform_server.sandbox.store import AccessToken, SandboxStore
from platform_server.sandbox.webhooks import SandboxHook
from platform_server.sandbox.worlds import BASE_TIME, GitHubRepo, GitHubWorld
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
        user = user_json(world(), account.login)
        private_repos = sum(1 for repo in world().repos.values() if repo.private)
        # The signed-in user sees its own account's private view (GitHub's `private-user`).
        return json_response(
            {
                **user,
                "id": account.id,
                "user_view_type": "private",
                "name": account.display_name,
                "company": "Acme",
                "blog": "",
                "location": None,
                "email": account.email,
                "hireable": None,
                "bio": None,
                "twitter_username": None,
                "public_repos": len(world().repos) - private_repos,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": "2020-01-01T00:00:00Z",
                "updated_at": "2025-01-01T00:00:00Z",
                "private_gists": 0,
                "total_private_repos": private_repos,
                "owned_private_repos": 0,
                "disk_usage": 0,
                "collaborators": 0,
                "two_factor_authentication": True,
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
            [repo_json(world(), repo) for repo in items], headers=_links(request, page, per_page, len(repos))
        )

    @answers_problems
    async def get_repo(request: Request) -> Response:
        record = auth(request)
        return json_response(repo_json(world(), repo_of(request), record.grant.account.login))

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
            [issue_json(gh, repo, number) for number in items],
            headers=_links(request, page, per_page, len(numbers)),
        )

    @answers_problems
    async def get_issue(request: Request) -> Response:
        auth(request)
        repo = repo_of(request)
        number = _int(request.path_params["number"])
        if number is None or not repo.exists(number):
            raise Problem(error(404, "Not Found"))
        return json_response(issue_json(world(), repo, number))

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
        issue = issue_json(world(), repo, number)
        announce_issue(repo, number, "opened", record.grant.account.login)
        return json_response(issue, 201, headers={"Location": issue["url"]})

    def announce_issue(repo: GitHubRepo, number: int, action: str, login: str) -> None:
        """An `issues` (or `pull_request`) event to every hook of the repository that listens to it."""
        event = "pull_request" if repo.is_pull(number) else "issues"
        key = "pull_request" if event == "pull_request" else "issue"
        item = pull_json(world(), repo, number) if event == "pull_request" else issue_json(world(), repo, number)
        payload = {
            "action": action,
            key: item,
            "repository": repo_json(world(), repo),
            "sender": user_json(world(), login),
        }
        store.webhooks.emit("github", {repo.full_name.lower()}, event, lambda _hook: payload)

    def change_issue(item: str, changes: dict[str, Any]) -> None:
        """`owner/repo#number`: changed as a user would (`touch`), then announced as `edited`."""
        full_name, _, number_text = item.partition("#")
        repo = world().repos.get(full_name.lower())
        number = _int(number_text)
        if repo is None or number is None or not repo.exists(number):
            raise KeyError(item)
        world().touch(repo.full_name, number, **changes)
        announce_issue(repo, number, "edited", "acme-corp")

    store.webhooks.changers["github"] = change_issue

    def hook_of(request: Request, repo: GitHubRepo) -> SandboxHook:
        hook_id = _int(request.path_params["hook_id"])
        hook = store.webhooks.hooks.get(hook_id) if hook_id is not None else None
        if hook is None or hook.provider != "github" or hook.target != repo.full_name.lower():
            raise Problem(error(404, "Not Found"))
        return hook

    def hook_admin(request: Request) -> GitHubRepo:
        """Repository webhooks need admin rights on the repository and the repo or *:repo_hook scope; GitHub
        hides the repository (404) from anyone else."""
        record = auth(request)
        repo = repo_of(request)
        scopes = set(record.grant.scopes)
        if not scopes & {"repo", "admin:repo_hook", "write:repo_hook", "read:repo_hook"} or not repo.can_push(
            record.grant.account.login
        ):
            raise Problem(error(404, "Not Found"))
        return repo

    @answers_problems
    async def create_hook(request: Request) -> Response:
        repo = hook_admin(request)
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise Problem(error(400, "Problems parsing JSON")) from None
        config = body.get("config") if isinstance(body, dict) else None
        if not isinstance(config, dict) or not isinstance(config.get("url"), str) or not config["url"]:
            raise Problem(_invalid("url", resource="Hook", code="missing_field"))
        events = body.get("events", ["push"])
        if not isinstance(events, list) or not all(isinstance(name, str) for name in events):
            raise Problem(_invalid("events", resource="Hook"))
        secret = config.get("secret")
        hook = store.webhooks.add("github", repo.full_name.lower(), config["url"], secret or None, events)
        hook.content_type = str(config.get("content_type") or "form")
        answer = hook_json(world(), repo, hook)
        store.webhooks.send(
            hook,
            "ping",
            {
                "zen": "Design for failure.",
                "hook_id": hook.id,
                "hook": answer,
                "repository": repo_json(world(), repo),
                "sender": user_json(world(), auth(request).grant.account.login),
            },
        )
        return json_response(answer, 201, headers={"Location": answer["url"]})

    @answers_problems
    async def list_hooks(request: Request) -> Response:
        repo = hook_admin(request)
        hooks = [
            hook_json(world(), repo, hook)
            for hook in store.webhooks.hooks.values()
            if hook.provider == "github" and hook.target == repo.full_name.lower()
        ]
        return json_response(hooks)

    @answers_problems
    async def get_hook(request: Request) -> Response:
        repo = hook_admin(request)
        return json_response(hook_json(world(), repo, hook_of(request, repo)))

    @answers_problems
    async def delete_hook(request: Request) -> Response:
        repo = hook_admin(request)
        store.webhooks.remove("github", hook_of(request, repo).id)
        return Response(status_code=204)

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
            [pull_json(gh, repo, number) for number in items], headers=_links(request, page, per_page, len(numbers))
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
        Route("/repos/{owner}/{repo}/hooks", list_hooks, methods=["GET"]),
        Route("/repos/{owner}/{repo}/hooks", create_hook, methods=["POST"]),
        Route("/repos/{owner}/{repo}/hooks/{hook_id}", get_hook, methods=["GET"]),
        Route("/repos/{owner}/{repo}/hooks/{hook_id}", delete_hook, methods=["DELETE"]),
        Route("/applications/{client_id}/{what:str}", revoke, methods=["DELETE"]),
    ]
    return provider_app(store, "github", routes, error, {"/login/oauth/authorize"})


# -- GitHub's objects, as its REST API answers them -----------------------------------------------------------
# Every object carries hypermedia: API URLs derived from its identity, some of them RFC 6570 templates
# (`{/number}`). Each table below lists them as suffixes of the object's own API URL, the way GitHub forms them.
WEB = "https://github.com"
_USER_LINKS = {
    "followers_url": "/followers",
    "following_url": "/following{/other_user}",
    "gists_url": "/gists{/gist_id}",
    "starred_url": "/starred{/owner}{/repo}",
    "subscriptions_url": "/subscriptions",
    "organizations_url": "/orgs",
    "repos_url": "/repos",
    "events_url": "/events{/privacy}",
    "received_events_url": "/received_events",
}
_REPO_LINKS = {
    "forks_url": "/forks",
    "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}",
    "teams_url": "/teams",
    "hooks_url": "/hooks",
    "issue_events_url": "/issues/events{/number}",
    "events_url": "/events",
    "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}",
    "tags_url": "/tags",
    "blobs_url": "/git/blobs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages",
    "stargazers_url": "/stargazers",
    "contributors_url": "/contributors",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}",
    "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}",
    "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}",
    "downloads_url": "/downloads",
    "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}",
    "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}
_ISSUE_LINKS = {
    "labels_url": "/labels{/name}",
    "comments_url": "/comments",
    "events_url": "/events",
    "timeline_url": "/timeline",
}
# GitHub's default labels, with its descriptions of them.
_LABEL_DESCRIPTIONS = {
    "bug": "Something isn't working",
    "enhancement": "New feature or request",
    "documentation": "Improvements or additions to documentation",
}


def _hypermedia(api_url: str, suffixes: dict[str, str]) -> dict[str, str]:
    return {field: api_url + suffix for field, suffix in suffixes.items()}


def hook_json(world: GitHubWorld, repo: GitHubRepo, hook: SandboxHook) -> dict[str, Any]:
    """A repository webhook; GitHub never shows its secret, only that one is set."""
    url = world.api(f"/repos/{repo.full_name}/hooks/{hook.id}")
    config: dict[str, Any] = {"url": hook.url, "content_type": hook.content_type, "insecure_ssl": "0"}
    if hook.secret:
        config["secret"] = "********"
    return {
        "type": "Repository",
        "id": hook.id,
        "name": "web",
        "active": True,
        "events": hook.events,
        "config": config,
        "updated_at": iso(hook.created),
        "created_at": iso(hook.created),
        "url": url,
        "test_url": url + "/test",
        "ping_url": url + "/pings",
        "deliveries_url": url + "/deliveries",
        "last_response": {"code": None, "status": "unused", "message": None},
    }


def user_json(world: GitHubWorld, login: str) -> dict[str, Any]:
    """A user as GitHub shows one inside other objects (its `simple-user`)."""
    user_id = world.user_id(login)
    url = world.api(f"/users/{login}")
    return {
        "login": login,
        "id": user_id,
        "node_id": f"MDQ6VXNlcj{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{WEB}/{login}",
        **_hypermedia(url, _USER_LINKS),
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def repo_json(world: GitHubWorld, repo: GitHubRepo, login: str | None = None) -> dict[str, Any]:
    """A repository; `permissions` are those of `login` (all of them when None)."""
    url = world.api(f"/repos/{repo.full_name}")
    pushed = iso(repo.seq.updated(repo.seq.last) if repo.seq.last else BASE_TIME)
    open_count = world.open_issue_count(repo)
    return {
        "id": repo.id,
        "node_id": f"R_kgDO{repo.id}",
        "name": repo.name,
        "full_name": repo.full_name,
        "private": repo.private,
        "owner": {**user_json(world, repo.owner), "type": "Organization"},
        "html_url": f"{WEB}/{repo.full_name}",
        "description": repo.description,
        "fork": False,
        "url": url,
        **_hypermedia(url, _REPO_LINKS),
        "git_url": f"git://github.com/{repo.full_name}.git",
        "ssh_url": f"git@github.com:{repo.full_name}.git",
        "clone_url": f"{WEB}/{repo.full_name}.git",
        "svn_url": f"{WEB}/{repo.full_name}",
        "homepage": None,
        "mirror_url": None,
        "created_at": iso(BASE_TIME),
        "updated_at": pushed,
        "pushed_at": pushed,
        "size": 1024 + repo.id % 4096,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "forks_count": 0,
        "forks": 0,
        "language": "Python",
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "license": None,
        "topics": [],
        "visibility": "private" if repo.private else "public",
        "default_branch": "main",
        "open_issues_count": open_count,
        "open_issues": open_count,
        "permissions": {key: login is None or repo.can_push(login) for key in ("admin", "maintain", "push", "triage")}
        | {"pull": True},
    }


def _label(world: GitHubWorld, repo: GitHubRepo, name: str) -> dict[str, Any]:
    label_id = 700 + stable_int(name, modulo=10_000)
    return {
        "id": label_id,
        "node_id": f"LA_kwDO{repo.id}{label_id}",
        "url": world.api(f"/repos/{repo.full_name}/labels/{name}"),
        "name": name,
        "description": _LABEL_DESCRIPTIONS.get(name, ""),
        "color": "d73a4a",
        "default": name in _LABEL_DESCRIPTIONS,
    }


def issue_json(world: GitHubWorld, repo: GitHubRepo, number: int) -> dict[str, Any]:
    """An issue, or a pull request as the issues endpoints show one (with `pull_request`)."""
    facts = world.issue_facts(repo, number)
    state = repo.state(number)
    repo_url = world.api(f"/repos/{repo.full_name}")
    url = f"{repo_url}/issues/{number}"
    kind = "pull" if repo.is_pull(number) else "issues"
    assignee = facts["assignee"]
    data: dict[str, Any] = {
        "url": url,
        "repository_url": repo_url,
        **_hypermedia(url, _ISSUE_LINKS),
        "html_url": f"{WEB}/{repo.full_name}/{kind}/{number}",
        "id": repo.id * 100_000 + number,
        "node_id": f"I_kwDO{repo.id}{number}",
        "number": number,
        "title": facts["title"],
        "user": user_json(world, facts["author"]),
        "labels": [_label(world, repo, name) for name in facts["labels"]],
        "state": state,
        "state_reason": ("completed" if state == "closed" else None),
        "locked": False,
        "active_lock_reason": None,
        "assignee": user_json(world, assignee) if assignee else None,
        "assignees": [user_json(world, assignee)] if assignee else [],
        "milestone": None,
        "comments": facts["comments"],
        "created_at": iso(facts["created"]),
        "updated_at": iso(facts["updated"]),
        "closed_at": iso(facts["updated"]) if state == "closed" else None,
        "author_association": "MEMBER",
        "body": facts["body"],
    }
    if kind == "pull":
        merged = state == "closed" and number % 8 == 0
        data["pull_request"] = {
            "url": f"{repo_url}/pulls/{number}",
            "html_url": f"{WEB}/{repo.full_name}/pull/{number}",
            "diff_url": f"{WEB}/{repo.full_name}/pull/{number}.diff",
            "patch_url": f"{WEB}/{repo.full_name}/pull/{number}.patch",
            "merged_at": iso(facts["updated"]) if merged else None,
        }
    return data


def pull_json(world: GitHubWorld, repo: GitHubRepo, number: int) -> dict[str, Any]:
    """A pull request as the pulls list shows one (GitHub's `pull-request-simple`)."""
    issue = issue_json(world, repo, number)
    links = issue["pull_request"]
    repo_url = issue["repository_url"]
    head_sha = f"{number:040x}"
    merged_at = links["merged_at"]
    hrefs = {
        "self": links["url"],
        "html": links["html_url"],
        "issue": issue["url"],
        "comments": issue["comments_url"],
        "review_comments": f"{links['url']}/comments",
        "review_comment": f"{repo_url}/pulls/comments{{/number}}",
        "commits": f"{links['url']}/commits",
        "statuses": f"{repo_url}/statuses/{head_sha}",
    }
    owner = {**user_json(world, repo.owner), "type": "Organization"}
    repository = repo_json(world, repo)
    return {
        "url": links["url"],
        "id": issue["id"],
        "node_id": f"PR_kwDO{repo.id}{number}",
        "html_url": links["html_url"],
        "diff_url": links["diff_url"],
        "patch_url": links["patch_url"],
        "issue_url": issue["url"],
        "commits_url": hrefs["commits"],
        "review_comments_url": hrefs["review_comments"],
        "review_comment_url": hrefs["review_comment"],
        "comments_url": issue["comments_url"],
        "statuses_url": hrefs["statuses"],
        "number": number,
        "state": issue["state"],
        "locked": False,
        "active_lock_reason": None,
        "title": issue["title"],
        "user": issue["user"],
        "body": issue["body"],
        "labels": issue["labels"],
        "milestone": None,
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue["closed_at"],
        "merged_at": merged_at,
        "merge_commit_sha": f"{number * 7919:040x}" if merged_at else None,
        "assignee": issue["assignee"],
        "assignees": issue["assignees"],
        "requested_reviewers": [],
        "requested_teams": [],
        "draft": number % 7 == 0,
        "head": {
            "label": f"{repo.owner}:feature-{number}",
            "ref": f"feature-{number}",
            "sha": head_sha,
            "user": owner,
            "repo": repository,
        },
        "base": {
            "label": f"{repo.owner}:main",
            "ref": "main",
            "sha": f"{repo.id:040x}",
            "user": owner,
            "repo": repository,
        },
        "_links": {rel: {"href": href} for rel, href in hrefs.items()},
        "author_association": "MEMBER",
        "auto_merge": None,
    }


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
        issue = issue_json(world, repo, number)
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
