"""Deterministic demo data for each simulated provider, generated lazily from item numbers.

The big collections (GitHub acme/product, Jira PROJ, Linear ENG, Notion's roadmap database) hold `volume`
items that exist only as numbers until asked for: item n is a pure function of n, with created/updated
times increasing with n. Changes (tests' `touch`, API writes) live in small override maps, and bump a
version that invalidates the cached orderings.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from platform_server.sandbox.common import iso, stable_int, stable_uuid

BASE_TIME = 1_672_531_200.0  # 2023-01-01T00:00:00Z
STEP_SECONDS = 600.0

_VERBS = (
    "Fix",
    "Add",
    "Improve",
    "Refactor",
    "Remove",
    "Document",
    "Investigate",
    "Speed up",
    "Support",
    "Update",
)
_NOUNS = (
    "login flow",
    "billing page",
    "search index",
    "CSV export",
    "webhook retries",
    "dark mode",
    "onboarding checklist",
    "API rate limits",
    "audit log",
    "notification settings",
    "dashboard charts",
    "SSO with Okta",
    "team invitations",
    "file uploads",
    "email digests",
    "mobile navigation",
)
_CONTEXTS = ("on Safari", "for large teams", "in the mobile app", "after upgrade", "for admins", "", "", "")
PEOPLE = ("alice", "bob", "carol", "dave")


def title_for(seed: str, number: int) -> str:
    value = stable_int(seed, number)
    verb = _VERBS[value % len(_VERBS)]
    noun = _NOUNS[(value // 10) % len(_NOUNS)]
    context = _CONTEXTS[(value // 160) % len(_CONTEXTS)]
    return f"{verb} {noun} {context}".strip()


class Sequence:
    """Numbers 1..total of generated items plus created ones, with overrides and cached orderings."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.overrides: dict[int, dict[str, Any]] = {}
        self.created = 0
        self.version = 0
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()

    @property
    def last(self) -> int:
        return self.total + self.created

    def changed(self) -> None:
        self.version += 1
        self._cache.clear()

    def cached(self, key: Hashable, build: Callable[[], Any]) -> Any:
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = build()
        self._cache[key] = value
        if len(self._cache) > 64:
            self._cache.popitem(last=False)
        return value

    def base_created(self, number: int) -> float:
        return BASE_TIME + number * STEP_SECONDS

    def base_updated(self, number: int) -> float:
        return BASE_TIME + number * STEP_SECONDS + STEP_SECONDS / 2

    def updated(self, number: int) -> float:
        override = self.overrides.get(number)
        if override is not None and "_updated" in override:
            value: float = override["_updated"]
            return value
        return self.base_updated(number)

    def by_updated(self) -> list[int]:
        """All numbers by update time ascending (generated ones already are; overrides are merged in)."""

        def build() -> list[int]:
            if not self.overrides:
                return list(range(1, self.last + 1))
            moved = set(self.overrides)
            base = [n for n in range(1, self.last + 1) if n not in moved]
            return sorted(base + list(moved), key=lambda n: (self.updated(n), n))

        result: list[int] = self.cached(("by_updated",), build)
        return result


def _issue_count_to_numbers(volume: int, pr_every: int) -> int:
    """How many numbers hold `volume` issues when every `pr_every`-th number is a pull request."""
    return volume + max(0, volume - 1) // (pr_every - 1) if volume else 0


# -- GitHub -----------------------------------------------------------------------------------------------


GITHUB_READER = "acme-reader"


@dataclass
class GitHubRepo:
    owner: str
    name: str
    description: str
    private: bool
    seq: Sequence
    pr_every: int = 5
    # Logins with read access only: they may open issues, but GitHub drops their labels and assignees.
    readers: frozenset[str] = frozenset()

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def can_push(self, login: str) -> bool:
        return login not in self.readers

    @property
    def id(self) -> int:
        return 100_000 + stable_int("gh-repo", self.full_name, modulo=900_000)

    def exists(self, number: int) -> bool:
        return 1 <= number <= self.seq.last

    def is_pull(self, number: int) -> bool:
        override = self.seq.overrides.get(number)
        if override is not None and "_pull" in override:
            return bool(override["_pull"])
        return number <= self.seq.total and number % self.pr_every == 0

    def state(self, number: int) -> str:
        override = self.seq.overrides.get(number, {})
        if "state" in override:
            return str(override["state"])
        if self.is_pull(number):
            return "closed" if number % 4 == 0 else "open"
        return "closed" if number % 3 == 0 else "open"


class GitHubWorld:
    def __init__(self, volume: int, base_url: str) -> None:
        self.volume = volume
        self.base_url = base_url
        self.users = {name: 5000 + stable_int("gh-user", name, modulo=90_000) for name in ("acme-corp", *PEOPLE)}
        self.repos: dict[str, GitHubRepo] = {}
        for name, description, private, issues in (
            ("product", "The Acme product: web app and API", True, volume),
            ("website", "acme.example marketing site", False, 25),
            ("mobile", "iOS and Android apps", True, 8),
        ):
            repo = GitHubRepo("acme", name, description, private, Sequence(_issue_count_to_numbers(issues, 5)))
            self.repos[repo.full_name] = repo
        self.repos["acme/product"].readers = frozenset({GITHUB_READER})

    def api(self, path: str) -> str:
        return f"{self.base_url}/sandbox/github{path}"

    def user_id(self, login: str) -> int:
        return self.users.get(login) or 5000 + stable_int("gh-user", login, modulo=90_000)

    def open_issue_count(self, repo: GitHubRepo) -> int:
        if repo.seq.last < 500:
            return sum(1 for n in range(1, repo.seq.last + 1) if repo.state(n) == "open")
        return repo.seq.last * 2 // 3

    def issue_facts(self, repo: GitHubRepo, number: int) -> dict[str, Any]:
        """What an issue (or pull request) is, apart from how GitHub's API shows it: title, body, author, labels,
        assignee, comment count and times, generated from its number unless changed since."""
        override = repo.seq.overrides.get(number, {})
        value = stable_int(repo.full_name, number)
        labels = override.get("labels")
        if labels is None:
            labels = [name for index, name in enumerate(("bug", "enhancement", "documentation")) if value >> index & 1]
            labels = labels[:2]
        return {
            "title": override.get("title", title_for(repo.full_name, number)),
            "body": override.get(
                "body",
                f"Steps to reproduce and context for #{number}.\n\n- observed in {repo.name}\n- priority {value % 4}",
            ),
            "author": override.get("_author", PEOPLE[(value >> 3) % len(PEOPLE)]),
            "labels": labels,
            "assignee": override.get("assignee", PEOPLE[value % len(PEOPLE)] if value % 5 else None),
            "comments": value % 7,
            "created": override.get("_created", repo.seq.base_created(number)),
            "updated": repo.seq.updated(number),
        }

    def touch(self, full_name: str, number: int, **changes: Any) -> None:
        """Change an issue as a user would at GitHub (bumps updated_at to now)."""
        repo = self.repos[full_name]
        repo.seq.overrides[number] = {
            **repo.seq.overrides.get(number, {}),
            **changes,
            "_updated": time.time(),
        }
        repo.seq.changed()

    def create_issue(self, repo: GitHubRepo, fields: dict[str, Any], author: str) -> int:
        repo.seq.created += 1
        number = repo.seq.last
        now = time.time()
        repo.seq.overrides[number] = {
            **fields,
            "state": "open",
            "_pull": False,
            "_created": now,
            "_updated": now,
            "_author": author,
        }
        repo.seq.changed()
        return number


# -- Jira -------------------------------------------------------------------------------------------------

JIRA_STATUSES = (
    {"id": "10000", "name": "To Do", "category": ("2", "new", "To Do", "blue-gray")},
    {"id": "3", "name": "In Progress", "category": ("4", "indeterminate", "In Progress", "yellow")},
    {"id": "10001", "name": "Done", "category": ("3", "done", "Done", "green")},
)
JIRA_TRANSITIONS = (("11", "To Do", 0), ("21", "In Progress", 1), ("31", "Done", 2))
# hierarchyLevel: 0 standard, 1 epic, -1 subtask (Jira's issue type hierarchy).
JIRA_TYPES: tuple[dict[str, Any], ...] = (
    {"id": "10001", "name": "Task", "subtask": False, "hierarchyLevel": 0},
    {"id": "10002", "name": "Bug", "subtask": False, "hierarchyLevel": 0},
    {"id": "10003", "name": "Story", "subtask": False, "hierarchyLevel": 0},
)
JIRA_SUBTASK = {"id": "10004", "name": "Sub-task", "subtask": True, "hierarchyLevel": -1}
JIRA_EPIC = {"id": "10005", "name": "Epic", "subtask": False, "hierarchyLevel": 1}
# A team-managed style scheme without "Task": what an export must cope with.
JIRA_TYPES_WITHOUT_TASK = (JIRA_SUBTASK, JIRA_EPIC, JIRA_TYPES[2], JIRA_TYPES[1])
JIRA_PRIORITIES = ({"id": "2", "name": "High"}, {"id": "3", "name": "Medium"}, {"id": "4", "name": "Low"})


@dataclass
class JiraProject:
    key: str
    name: str
    index: int
    seq: Sequence
    issue_types: tuple[dict[str, Any], ...] = JIRA_TYPES

    @property
    def id(self) -> str:
        return str(10_000 + self.index)

    @property
    def standard_types(self) -> tuple[dict[str, Any], ...]:
        return tuple(kind for kind in self.issue_types if kind["hierarchyLevel"] == 0)


class JiraWorld:
    site_url = "https://acme.atlassian.net"
    # Every sandbox user's Jira profile zone; JQL dates are read in it, as Jira reads them in the user's.
    time_zone = "America/Los_Angeles"

    def __init__(self, volume: int, base_url: str) -> None:
        self.volume = volume
        self.cloud_id = stable_uuid("jira-cloud", "acme")
        self.base_url = base_url
        sizes = {"PROJ": ("Product", volume), "OPS": ("Operations", 15), "DES": ("Design", 6)}
        extra = ("MKT", "SEC", "DATA", "INFRA", "QA", "WEB", "APP")
        self.projects: dict[str, JiraProject] = {}
        for index, key in enumerate([*sizes, *extra]):
            name, count = sizes.get(key, (f"{key.capitalize()} team", 3))
            self.projects[key] = JiraProject(key, name, index, Sequence(count))
        self.projects["DES"].issue_types = JIRA_TYPES_WITHOUT_TASK

    def api(self, path: str) -> str:
        return f"{self.base_url}/sandbox/jira/ex/jira/{self.cloud_id}/rest/api/3{path}"

    def project_json(self, project: JiraProject) -> dict[str, Any]:
        return {
            "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
            "self": self.api(f"/project/{project.id}"),
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "avatarUrls": {"48x48": f"{self.site_url}/rest/api/3/universal_avatar/view/type/project/avatar/10400"},
            "projectTypeKey": "software",
            "simplified": False,
            "style": "classic",
            "isPrivate": False,
            "properties": {},
        }

    def user(self, name: str) -> dict[str, Any]:
        account_id = f"5b10a2844c20165700ede{stable_int('jira-user', name, modulo=1000):03d}"
        return {
            "self": self.api(f"/user?accountId={account_id}"),
            "accountId": account_id,
            "displayName": name.capitalize(),
            "active": True,
            "timeZone": self.time_zone,
            "accountType": "atlassian",
        }

    def parse_key(self, key: str) -> tuple[JiraProject, int] | None:
        project_key, _, number = key.upper().partition("-")
        project = self.projects.get(project_key)
        if project is None or not number.isdigit() or not 1 <= int(number) <= project.seq.last:
            return None
        return project, int(number)

    def find(self, id_or_key: str) -> tuple[JiraProject, int] | None:
        if id_or_key.isdigit():
            value = int(id_or_key)
            index, number = divmod(value - 100_000, 100_000)
            for project in self.projects.values():
                if project.index == index and 1 <= number <= project.seq.last:
                    return project, number
            return None
        return self.parse_key(id_or_key)

    def status_index(self, project: JiraProject, number: int) -> int:
        override = project.seq.overrides.get(number, {})
        if "_status" in override:
            value: int = override["_status"]
            return value
        return stable_int(project.key, number, "status") % 3

    def issue_fields(self, project: JiraProject, number: int) -> dict[str, Any]:
        seq = project.seq
        override = seq.overrides.get(number, {})
        value = stable_int(project.key, number)
        status = JIRA_STATUSES[self.status_index(project, number)]
        cat_id, cat_key, cat_name, color = status["category"]
        assignee = override.get("_assignee", PEOPLE[value % len(PEOPLE)] if value % 4 else None)
        summary = override.get("summary", title_for(project.key, number))
        return {
            "summary": summary,
            "status": {
                "self": self.api(f"/status/{status['id']}"),
                "id": status["id"],
                "name": status["name"],
                "statusCategory": {"id": int(cat_id), "key": cat_key, "colorName": color, "name": cat_name},
            },
            "issuetype": override.get("issuetype", project.standard_types[value % len(project.standard_types)]),
            "priority": override.get("priority", JIRA_PRIORITIES[(value >> 2) % 3]),
            "assignee": self.user(assignee) if assignee else None,
            "reporter": self.user(PEOPLE[(value >> 4) % len(PEOPLE)]),
            "project": {
                "id": project.id,
                "key": project.key,
                "name": project.name,
                "self": self.api(f"/project/{project.id}"),
            },
            "labels": override.get("labels", ["backend"] if value & 1 else []),
            "created": jira_time(override.get("_created", seq.base_created(number))),
            "updated": jira_time(seq.updated(number)),
            "description": override.get("description", adf_doc(f"Details for {project.key}-{number}: {summary}.")),
        }

    def issue_id(self, project: JiraProject, number: int) -> str:
        return str(100_000 + project.index * 100_000 + number)

    def touch(self, key: str, **changes: Any) -> None:
        found = self.parse_key(key)
        assert found is not None, key
        project, number = found
        project.seq.overrides[number] = {
            **project.seq.overrides.get(number, {}),
            **changes,
            "_updated": time.time(),
        }
        project.seq.changed()


def jira_time(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def adf_doc(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in text.split("\n") if line
        ],
    }


# -- Linear -----------------------------------------------------------------------------------------------

LINEAR_STATES = (
    ("Backlog", "backlog", "#bec2c8"),
    ("Todo", "unstarted", "#e2e2e2"),
    ("In Progress", "started", "#f2c94c"),
    ("Done", "completed", "#5e6ad2"),
    ("Canceled", "canceled", "#95a2b3"),
)
PRIORITY_LABELS = ("No priority", "Urgent", "High", "Medium", "Low")
# A workspace names its project statuses; each has one of six fixed types (the names are Linear's defaults).
LINEAR_PROJECT_STATUSES = {
    kind: {
        "id": stable_uuid("linear-project-status", kind),
        "name": name,
        "type": kind,
        "color": color,
        "position": float(index),
    }
    for index, (name, kind, color) in enumerate(
        (
            ("Backlog", "backlog", "#bec2c8"),
            ("Planned", "planned", "#e2e2e2"),
            ("In Progress", "started", "#f2c94c"),
            ("Paused", "paused", "#0f783c"),
            ("Completed", "completed", "#5e6ad2"),
            ("Canceled", "canceled", "#95a2b3"),
        )
    )
}


@dataclass
class LinearTeam:
    key: str
    name: str
    seq: Sequence

    @property
    def id(self) -> str:
        return stable_uuid("linear-team", self.key)

    def state_id(self, index: int) -> str:
        return stable_uuid("linear-state", self.key, index)


@dataclass
class LinearWorld:
    volume: int
    base_url: str
    teams: dict[str, LinearTeam] = field(default_factory=dict)
    projects: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for key, name, count in (
            ("ENG", "Engineering", self.volume),
            ("DES", "Design", 10),
            ("OPS", "Operations", 5),
        ):
            self.teams[key] = LinearTeam(key, name, Sequence(count))
        for index, (name, state, teams) in enumerate(
            (
                ("Q3 platform launch", "started", ("ENG",)),
                ("Billing revamp", "planned", ("ENG", "DES")),
                ("Design system v2", "started", ("DES",)),
                ("Incident tooling", "completed", ("OPS", "ENG")),
                ("Mobile parity", "backlog", ("ENG",)),
                ("Docs overhaul", "planned", ("DES", "OPS")),
            )
        ):
            project_id = stable_uuid("linear-project", index)
            self.projects.append(
                {
                    "id": project_id,
                    "name": name,
                    "description": f"{name} for Acme.",
                    # `state` is deprecated in Linear's schema and still served for old clients.
                    "state": state,
                    "status": LINEAR_PROJECT_STATUSES[state],
                    "progress": round((index * 0.17) % 1, 2),
                    "startDate": "2025-01-06",
                    "targetDate": f"2025-{index + 3:02d}-28",
                    "url": f"https://linear.app/acme/project/{name.lower().replace(' ', '-')}-{project_id[:8]}",
                    "createdAt": iso(BASE_TIME + index * 86_400, millis=True),
                    "updatedAt": iso(BASE_TIME + index * 86_400 * 2, millis=True),
                    "_teams": teams,
                }
            )

    def cycles(self, team: LinearTeam, now: float) -> list[dict[str, Any]]:
        week = 7 * 86_400
        current = int((now - BASE_TIME) // (2 * week))
        cycles = []
        for offset in range(-5, 3):
            number = current + offset
            starts = BASE_TIME + number * 2 * week
            ends = starts + 2 * week
            cycles.append(
                {
                    "id": stable_uuid("linear-cycle", team.key, number),
                    "number": number,
                    "name": f"Cycle {number}",
                    "startsAt": iso(starts, millis=True),
                    "endsAt": iso(ends, millis=True),
                    "completedAt": iso(ends, millis=True) if ends < now else None,
                    "progress": 1.0
                    if ends < now
                    else (0.0 if starts > now else round((now - starts) / (ends - starts), 2)),
                    "isActive": starts <= now < ends,
                    "isFuture": starts > now,
                    "isPast": ends <= now,
                    "_team": team.key,
                }
            )
        return cycles

    def issue(self, team: LinearTeam, number: int) -> dict[str, Any]:
        seq = team.seq
        override = seq.overrides.get(number, {})
        value = stable_int(team.key, number)
        state_index = override.get("_state", value % len(LINEAR_STATES))
        state_name, state_type, color = LINEAR_STATES[state_index]
        priority = override.get("priority", value % 5)
        assignee = override.get("_assignee", PEOPLE[value % len(PEOPLE)] if value % 3 else None)
        project = self.projects[value % len(self.projects)] if value % 2 else None
        title = override.get("title", title_for(team.key, number))
        identifier = f"{team.key}-{number}"
        return {
            "id": stable_uuid("linear-issue", team.key, number),
            "identifier": identifier,
            "number": number,
            "title": title,
            "description": override.get("description", f"Context for {identifier}.\n\n* {title}"),
            "priority": priority,
            "priorityLabel": PRIORITY_LABELS[priority],
            "estimate": (value % 5) or None,
            "url": f"https://linear.app/acme/issue/{identifier}/{title.lower().replace(' ', '-')[:40]}",
            "createdAt": iso(override.get("_created", seq.base_created(number)), millis=True),
            "updatedAt": iso(seq.updated(number), millis=True),
            "archivedAt": None,
            "completedAt": iso(seq.updated(number), millis=True) if state_type == "completed" else None,
            "dueDate": None,
            "_state": {
                "id": team.state_id(state_index),
                "name": state_name,
                "type": state_type,
                "color": color,
            },
            "_team": team,
            "_assignee": assignee,
            "_project": project,
            "_labels": ["Bug"] if value & 4 else ["Feature"],
            "_updated": seq.updated(number),
            "_created": override.get("_created", seq.base_created(number)),
        }

    def touch(self, identifier: str, **changes: Any) -> None:
        key, _, number = identifier.partition("-")
        team = self.teams[key]
        team.seq.overrides[int(number)] = {
            **team.seq.overrides.get(int(number), {}),
            **changes,
            "_updated": time.time(),
        }
        team.seq.changed()


# -- Notion -----------------------------------------------------------------------------------------------

NOTION_STATUSES = ("Not started", "In progress", "Done")
_TOP_PAGES = ("Engineering Handbook", "Meeting Notes", "Design Principles", "Onboarding", "Security Policy")
_IDEAS = ("Offline mode", "Slack digest of roadmap changes", "Public changelog page")


def _notion_block(kind: str, text: str, *children: tuple[Any, ...]) -> tuple[Any, ...]:
    """A block as the sandbox stores it: (type, text, child blocks)."""
    return (kind, text, children)


class NotionWorld:
    def __init__(self, volume: int, base_url: str) -> None:
        self.volume = volume
        self.base_url = base_url
        self.database_id = stable_uuid("notion-db", "roadmap")
        # The roadmap database holds two data sources (a multi-source database, Notion API 2025-09-03): the
        # generated roadmap and a small table of ideas with a schema of its own.
        self.roadmap_source_id = stable_uuid("notion-ds", "roadmap")
        self.ideas_source_id = stable_uuid("notion-ds", "ideas")
        self.data_sources = {self.roadmap_source_id: "Roadmap", self.ideas_source_id: "Ideas"}
        self.roadmap = Sequence(volume)
        # Search stops after this many results and says its answer is incomplete (None: never); Notion
        # documents search as not exhaustive.
        self.search_limit: int | None = None
        # Search indexes an edit only this many seconds after it (0: at once); until then the page is missing
        # from search results. Notion documents search as not immediately consistent.
        self.search_index_delay = 0.0
        # Pages outside the generated roadmap: top-level pages, ideas, and any the API creates.
        self.pages: dict[str, dict[str, Any]] = {}
        # Nested blocks served so far, by id: (their page, their children); filled as parents are listed.
        self.nested_blocks: dict[str, tuple[dict[str, Any], tuple[Any, ...]]] = {}
        for index, title in enumerate(_TOP_PAGES):
            page_id = stable_uuid("notion-page", title)
            self.pages[page_id] = {
                "title": title,
                "parent": {"type": "workspace", "workspace": True},
                "created": BASE_TIME + index * 3_600,
                "edited": BASE_TIME + index * 7_200,
                "blocks": [
                    _notion_block("heading_2", title),
                    _notion_block("paragraph", f"Welcome to {title}."),
                    _notion_block(
                        "bulleted_list_item",
                        "Ask in #general when in doubt.",
                        _notion_block(
                            "bulleted_list_item",
                            "Or in your team's channel.",
                            _notion_block("paragraph", "Mention the on-call engineer when it is urgent."),
                        ),
                    ),
                    _notion_block(
                        "toggle",
                        "Checklist",
                        _notion_block("numbered_list_item", "Read this page."),
                        _notion_block("numbered_list_item", "Ask your buddy."),
                    ),
                ],
            }
        for index, title in enumerate(_IDEAS):
            self.pages[stable_uuid("notion-idea", title)] = {
                "title": title,
                "parent": self.source_parent(self.ideas_source_id),
                "created": BASE_TIME + index * 5_400,
                "edited": BASE_TIME + index * 5_400,
                "votes": 3 + index * 4,
                "blocks": [_notion_block("paragraph", f"Why {title.lower()}: customers asked for it.")],
            }
        self.database_edited = BASE_TIME

    def source_parent(self, data_source_id: str) -> dict[str, Any]:
        return {"type": "data_source_id", "data_source_id": data_source_id, "database_id": self.database_id}

    def roadmap_id(self, number: int) -> str:
        return stable_uuid("notion-roadmap", number)

    def roadmap_number(self, page_id: str) -> int | None:
        # Generated ids are not reversible; keep a lazily built index (cheap at the volumes used).
        index: dict[str, int] = self.roadmap.cached(
            ("ids", self.roadmap.last),
            lambda: {self.roadmap_id(n): n for n in range(1, self.roadmap.total + 1)},
        )
        return index.get(page_id)

    def roadmap_page(self, number: int) -> dict[str, Any]:
        seq = self.roadmap
        override = seq.overrides.get(number, {})
        value = stable_int("roadmap", number)
        title = override.get("title", title_for("roadmap", number))
        return {
            "title": title,
            "parent": self.source_parent(self.roadmap_source_id),
            "created": seq.base_created(number),
            "edited": seq.updated(number),
            "status": override.get("status", NOTION_STATUSES[value % 3]),
            "priority": ("High", "Medium", "Low")[(value >> 2) % 3],
            "blocks": [
                _notion_block("paragraph", f"{title}: the problem and the plan."),
                _notion_block("to_do", "Write the spec", _notion_block("to_do", "List the open questions")),
                _notion_block("to_do", "Review with design"),
            ],
        }

    def edit_page(self, page_id: str, edited: float | None = None, **changes: Any) -> None:
        """Changes one of the pages outside the roadmap, edited now or at `edited`."""
        self.pages[page_id].update(changes, edited=time.time() if edited is None else edited)
        self.roadmap.changed()

    def touch(self, number: int, **changes: Any) -> None:
        self.roadmap.overrides[number] = {
            **self.roadmap.overrides.get(number, {}),
            **changes,
            "_updated": time.time(),
        }
        self.roadmap.changed()


# -- Slack ------------------------------------------------------------------------------------------------

_CHANNELS = (
    ("general", False, True, False, "Company-wide announcements and work-based matters"),
    ("random", False, False, False, "Non-work banter and water cooler conversation"),
    ("engineering", False, True, False, "Engineering discussions"),
    ("design", False, True, False, "Design reviews and critiques"),
    ("product", False, True, False, "Roadmap and product questions"),
    ("support", False, True, False, "Customer support escalations"),
    ("releases", False, True, False, "Release notes and deploys"),
    ("incidents", True, True, False, "Incident response (private)"),
    ("leadership", True, False, False, "Leadership team (private)"),
    ("old-project", False, True, True, "Archived project channel"),
    ("sales", False, False, False, "Deals and pipeline"),
    ("marketing", False, False, False, "Campaigns"),
)


class SlackWorld:
    def __init__(self, volume: int, base_url: str) -> None:
        self.base_url = base_url
        self.team_id = "T0SANDBOX"
        self.channels: list[dict[str, Any]] = []
        for index, (name, private, bot_member, archived, purpose) in enumerate(_CHANNELS):
            self.channels.append(
                {
                    "id": f"C{index + 1:010d}",
                    "name": name,
                    "is_channel": not private,
                    "is_group": private,
                    "is_im": False,
                    "is_private": private,
                    "is_archived": archived,
                    "is_general": name == "general",
                    "is_member": bot_member,
                    "created": int(BASE_TIME) + index * 86_400,
                    "creator": "U0000000001",
                    "num_members": 4 + stable_int("members", name, modulo=40),
                    "topic": {"value": "", "creator": "", "last_set": 0},
                    "purpose": {"value": purpose, "creator": "U0000000001", "last_set": int(BASE_TIME)},
                }
            )
        self.messages: list[dict[str, Any]] = []
        for channel in self.channels:
            for number in range(1, 16):
                ts = BASE_TIME + stable_int(channel["name"], number, modulo=10**7) + number
                user = PEOPLE[number % len(PEOPLE)]
                self.messages.append(
                    {
                        "channel": channel["id"],
                        "user": self.user_id(user),
                        "username": user,
                        "text": f"{title_for(channel['name'], number)} — {user} in #{channel['name']}",
                        "ts": f"{ts:.6f}",
                    }
                )

    def user_id(self, name: str) -> str:
        return f"U{stable_int('slack-user', name, modulo=10**8):08d}"

    def channel(self, ref: str) -> dict[str, Any] | None:
        name = ref.lstrip("#")
        for channel in self.channels:
            if channel["id"] == ref or channel["name"] == name:
                return channel
        return None


# -- Figma ------------------------------------------------------------------------------------------------


_FILE_NAMES = ("Home", "Checkout", "Settings", "Components", "Icons")


class FigmaWorld:
    team_id = "1160000000000000001"

    def __init__(self, volume: int, base_url: str) -> None:
        self.base_url = base_url
        self.projects = [
            {"id": str(2001 + index), "name": name}
            for index, name in enumerate(("Website", "Mobile App", "Design System"))
        ]
        self.files: dict[str, dict[str, Any]] = {}
        for project in self.projects:
            for number in range(1, 4 + int(project["id"]) % 3):
                key = "".join(
                    "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"[
                        stable_int(project["id"], number, i) % 56
                    ]
                    for i in range(22)
                )
                self.files[key] = {
                    "key": key,
                    "name": f"{project['name']} — {_FILE_NAMES[number - 1]}",
                    "project_id": project["id"],
                    "last_modified": iso(BASE_TIME + stable_int(key, modulo=10**7)),
                    "pages": [
                        (
                            f"{page}:0",
                            page_name,
                            [(f"{page}:{frame}", f"Frame {frame}") for frame in range(1, 4)],
                        )
                        for page, page_name in ((1, "Cover"), (2, "Designs"), (3, "Archive"))
                    ],
                }

    def node_ids(self, file: dict[str, Any]) -> set[str]:
        ids = {"0:0"}
        for page_id, _, frames in file["pages"]:
            ids.add(page_id)
            ids.update(frame_id for frame_id, _ in frames)
        return ids


def build_world(provider: str, volume: int, base_url: str) -> Any:
    worlds: dict[str, Callable[[int, str], Any]] = {
        "github": GitHubWorld,
        "jira": JiraWorld,
        "linear": LinearWorld,
        "notion": NotionWorld,
        "slack": SlackWorld,
        "figma": FigmaWorld,
    }
    return worlds[provider](volume, base_url)
