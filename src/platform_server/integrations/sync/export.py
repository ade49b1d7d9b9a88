"""Export: the workspace's work items that are linked to nothing become issues at GitHub, Jira or Linear.

Creating an issue is not idempotent at any of the three, so a create is never retried blindly (the provider
client retries writes only on a rate-limit answer, which guarantees nothing was done). Each created issue is
linked to its work item and committed at once: a run that stops loses at most the one in flight, and the next
export skips every item already linked, so a second export creates nothing.
"""

import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from platform_server.integrations.providers.client import ProviderClient, ProviderError, ProviderNotFound
from platform_server.integrations.providers.github.tools import (
    dropped_on_create,
    dropped_warning,
    parse_repository,
    repo_path,
)
from platform_server.integrations.providers.jira.importer import cloud_id
from platform_server.integrations.providers.jira.tools import parse_project_key, rest_api
from platform_server.integrations.providers.linear.tools import parse_team_key
from platform_server.integrations.sync.base import Exporter, ImportScope, clip, parse_time, register_exporter
from platform_server.integrations.sync.engine import Outcome, Progress, SyncAborted, record_failure
from platform_server.integrations.sync.repository import COMPLETED, FAILED, ExportRepository, SyncRepository
from platform_server.log import get_logger
from platform_server.work_items.models import WorkItem

logger = get_logger(__name__)
BATCH = 100
MAX_WARNINGS = 50


class GitHubIssueExporter:
    provider: ClassVar[str] = "github"
    target_entity: ClassVar[str] = "issues"

    def parse_project(self, project: str) -> str:
        return parse_repository(project)

    async def create(self, client: ProviderClient, scope: ImportScope, item: WorkItem) -> dict[str, Any]:
        body: dict[str, Any] = {"title": item.title, "body": item.description or ""}
        if item.labels:
            body["labels"] = list(item.labels)
        response = await client.post(repo_path(client, str(scope.project), "issues"), json=body)
        issue: Mapping[str, Any] = response.data or {}
        return {
            "warning": dropped_warning(f"{scope.project}#{issue.get('number')}", dropped_on_create(body, issue)),
            "external_id": str(issue["id"]),
            "key": f"{scope.project}#{issue.get('number')}",
            "url": clip(issue.get("html_url"), 2000),
            "source_created_at": parse_time(issue.get("created_at")),
            "source_updated_at": parse_time(issue.get("updated_at")),
        }


def _adf(text: str | None) -> dict[str, Any]:
    paragraphs = [part for part in (text or "").split("\n\n") if part.strip()]
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": part}]} for part in paragraphs],
    }


class JiraIssueExporter:
    provider: ClassVar[str] = "jira"
    target_entity: ClassVar[str] = "issues"

    def __init__(self) -> None:
        # The issue type per project, for the run's client only: a project's types may change between runs.
        self._issue_types: weakref.WeakKeyDictionary[ProviderClient, dict[str, dict[str, str]]] = (
            weakref.WeakKeyDictionary()
        )

    def parse_project(self, project: str) -> str:
        return parse_project_key(project)

    async def _issue_type(self, client: ProviderClient, scope: ImportScope) -> dict[str, str]:
        """Task when the project has it, else its first standard (not epic, not subtask) type."""
        per_project = self._issue_types.setdefault(client, {})
        project = str(scope.project)
        if project not in per_project:
            path = rest_api(client, cloud_id(scope), "issue", "createmeta", project, "issuetypes")
            response = await client.get(path, params={"maxResults": 200})
            kinds = [kind for kind in (response.data or {}).get("issueTypes") or [] if not kind.get("subtask")]
            standard = [kind for kind in kinds if kind.get("hierarchyLevel", 0) == 0]
            chosen = next((kind for kind in standard if kind.get("name") == "Task"), None) or next(
                iter(standard or kinds), None
            )
            if chosen is None:
                raise ProviderError("jira", f"The Jira project {project} has no issue type this user can create")
            per_project[project] = {"id": str(chosen["id"])}
        return per_project[project]

    async def create(self, client: ProviderClient, scope: ImportScope, item: WorkItem) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "project": {"key": scope.project},
            "summary": item.title[:255],
            "issuetype": await self._issue_type(client, scope),
            "description": _adf(item.description),
        }
        if item.labels:
            # Jira labels cannot contain spaces.
            fields["labels"] = [label.replace(" ", "_") for label in item.labels]
        response = await client.post(rest_api(client, cloud_id(scope), "issue"), json={"fields": fields})
        issue: Mapping[str, Any] = response.data or {}
        key = str(issue.get("key") or "")
        site = str(scope.account.get("siteUrl") or "").rstrip("/")
        return {
            "external_id": str(issue["id"]),
            "key": key or None,
            "url": f"{site}/browse/{key}" if site and key else None,
        }


_TEAM_QUERY = "query SyncTeam($key: String!) { teams(filter: {key: {eq: $key}}) { nodes { id key } } }"
_CREATE_MUTATION = """
mutation SyncCreateIssue($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url createdAt updatedAt } }
}
"""


class LinearIssueExporter:
    provider: ClassVar[str] = "linear"
    target_entity: ClassVar[str] = "issues"

    def __init__(self) -> None:
        # Team keys → ids, per process; a team's id never changes.
        self._team_ids: dict[tuple[str, str], str] = {}

    def parse_project(self, project: str) -> str:
        return parse_team_key(project)

    async def _team_id(self, client: ProviderClient, scope: ImportScope) -> str:
        cache_key = (str(scope.account.get("organizationId") or ""), str(scope.project))
        if cache_key not in self._team_ids:
            data = await client.graphql(_TEAM_QUERY, {"key": scope.project})
            nodes = ((data or {}).get("teams") or {}).get("nodes") or []
            if not nodes:
                raise ProviderNotFound("linear", f"Linear has no team with the key {scope.project}")
            self._team_ids[cache_key] = str(nodes[0]["id"])
        return self._team_ids[cache_key]

    async def create(self, client: ProviderClient, scope: ImportScope, item: WorkItem) -> dict[str, Any]:
        team_id = await self._team_id(client, scope)
        data = await client.graphql(
            _CREATE_MUTATION,
            {"input": {"teamId": team_id, "title": item.title, "description": item.description or ""}},
            mutation=True,
        )
        payload = (data or {}).get("issueCreate") or {}
        issue = payload.get("issue") or {}
        if not payload.get("success") or not issue.get("id"):
            raise ProviderError("linear", "Linear did not create the issue")
        return {
            "external_id": str(issue["id"]),
            "key": clip(issue.get("identifier"), 255),
            "url": clip(issue.get("url"), 2000),
            "source_created_at": parse_time(issue.get("createdAt")),
            "source_updated_at": parse_time(issue.get("updatedAt")),
        }


register_exporter(GitHubIssueExporter())
register_exporter(JiraIssueExporter())
register_exporter(LinearIssueExporter())


@dataclass(frozen=True, slots=True)
class ExportJob:
    log_id: str
    team_id: str
    workspace_id: str
    integration_id: str
    provider: str
    exporter: Exporter
    scope: ImportScope


class ExportEngine:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def run(self, job: ExportJob, client: ProviderClient, progress: Progress | None = None) -> Outcome:
        started = time.perf_counter()
        created = 0
        warnings: list[str] = []
        try:
            created = await self._export(job, client, started, progress, warnings)
        except SyncAborted:
            return Outcome(job.log_id, FAILED, created, _elapsed_ms(started))
        except ProviderError as exc:
            logger.warning("export_failed", log_id=job.log_id, provider=exc.provider, error=exc.code)
            # A write that failed without a clear answer may still have created the issue: say so.
            await self._finish(job, FAILED, started, exc.message)
            return Outcome(job.log_id, FAILED, created, _elapsed_ms(started), exc)
        except BaseException:
            await record_failure(self._finish(job, FAILED, started, "Interrupted before it finished"))
            raise
        # A completed run keeps what the provider silently left out in its log's `error`, as a warning.
        await self._finish(job, COMPLETED, started, "\n".join(warnings[:MAX_WARNINGS]) or None)
        return Outcome(job.log_id, COMPLETED, created, _elapsed_ms(started))

    async def _export(
        self, job: ExportJob, client: ProviderClient, started: float, progress: Progress | None, warnings: list[str]
    ) -> int:
        created = batches = 0
        after: str | None = None
        total: int | None = None
        if progress is not None:
            async with self.sessionmaker() as session:
                waiting = await ExportRepository(session, job.team_id).count_unlinked(job.workspace_id)
            total = -(-waiting // BATCH)
        while True:
            async with self.sessionmaker() as session:
                items = await ExportRepository(session, job.team_id).unlinked(job.workspace_id, after, BATCH)
            if not items:
                return created
            for item in items:
                link = await job.exporter.create(client, job.scope, item)
                warning = link.pop("warning", None)
                if warning:
                    logger.warning("export_warning", log_id=job.log_id, provider=job.provider, warning=warning)
                    warnings.append(str(warning))
                async with self.sessionmaker() as session, session.begin():
                    linked = await ExportRepository(session, job.team_id).link(
                        item.id,
                        {
                            **link,
                            "integration_id": job.integration_id,
                            "source_provider": job.provider,
                            "source_entity": "issues",
                        },
                    )
                    if not await SyncRepository(session).advance(job.log_id, int(linked), None, _elapsed_ms(started)):
                        raise SyncAborted(job.log_id)
                created += int(linked)
            after = items[-1].id
            batches += 1
            if progress is not None:
                progress(created, batches, total)

    async def _finish(self, job: ExportJob, status: str, started: float, error: str | None) -> None:
        async with self.sessionmaker() as session, session.begin():
            repository = SyncRepository(session)
            if await repository.finish(job.log_id, status, _elapsed_ms(started), error) and status == COMPLETED:
                await repository.touch_integration(job.integration_id)


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
