"""The `platform-server` command."""

import asyncio
import json
import os
from typing import Annotated
from urllib.parse import urlsplit

import typer
import uvicorn

from platform_server import migrate as migrations
from platform_server.config import Settings, get_settings

app = typer.Typer(
    help="Run and administer the Platform API server.", no_args_is_help=True, pretty_exceptions_enable=False
)


def _settings() -> Settings:
    try:
        return get_settings()
    except Exception as exc:
        typer.secho(f"Configuration error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from exc


def _use_sandbox() -> None:
    """`--sandbox`: the same as PLATFORM_SANDBOX=1, for this command and the server it starts."""
    os.environ["PLATFORM_SANDBOX"] = "1"
    get_settings.cache_clear()


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_ALL_INTERFACES = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - compared with --host, never bound


def public_address_warning(public_base_url: str, host: str, port: int) -> str | None:
    """Why PUBLIC_BASE_URL cannot reach a server bound to host:port, and what to set; None when it can.

    OAuth redirect URIs and the MCP endpoint's Host check are built from PUBLIC_BASE_URL. A loopback (or the
    bound host's own) address is a direct one, so its port must be ours; another host is a proxy's business.
    """
    public = urlsplit(public_base_url)
    public_host = public.hostname or ""
    public_port = public.port or (443 if public.scheme == "https" else 80)
    reaches_us = host in _ALL_INTERFACES or host == public_host or (host in _LOOPBACK and public_host in _LOOPBACK)
    direct = public_host in _LOOPBACK or public_host == host
    if direct and public_port == port and reaches_us:
        return None
    if not direct:
        return None
    suggested_host = public_host if reaches_us else host
    suggested = f"{public.scheme}://{'[' + suggested_host + ']' if ':' in suggested_host else suggested_host}:{port}"
    return (
        f"PUBLIC_BASE_URL is {public_base_url}, but this server listens on {host}:{port}: OAuth links would be "
        f"dead and MCP clients would get 421. Set PUBLIC_BASE_URL={suggested} (and MCP_ALLOWED_HOSTS for any "
        "other name clients use, e.g. localhost)."
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (more than 1 needs REDIS_URL)")] = 1,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="Do not apply pending migrations first")] = False,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Serve simulated providers and configure every provider against them")
    ] = False,
    with_worker: Annotated[
        bool,
        typer.Option(
            "--with-worker",
            help="PostgreSQL: also run a job worker in this process (SQLite always runs jobs inside serve)",
        ),
    ] = False,
) -> None:
    """Apply pending migrations, then serve the API."""
    if sandbox:
        _use_sandbox()
    if with_worker:
        os.environ["JOBS_WORKER_IN_SERVE"] = "1"
        get_settings.cache_clear()
    settings = _settings()
    warning = public_address_warning(settings.PUBLIC_BASE_URL, host, port)
    if warning is not None:
        typer.secho(f"Warning: {warning}", fg=typer.colors.YELLOW, err=True)
    if workers > 1 and not settings.REDIS_URL:
        typer.secho(
            f"--workers {workers} needs REDIS_URL: without Redis each worker keeps its own rate-limit counts and "
            f"caches, so every limit would be {workers} times the plan's. Set REDIS_URL (e.g. "
            "redis://127.0.0.1:6379/0) or run one worker.",
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=2)
    if not no_migrate:
        typer.echo("Applying migrations…", err=True)
        migrations.upgrade(settings.DATABASE_URL)
    typer.echo(
        f"Platform API on http://{host}:{port} (public address {settings.PUBLIC_BASE_URL}; "
        f"settings page at /settings, docs at /docs)",
        err=True,
    )
    uvicorn.run(
        "platform_server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Jobs run at a time (default: JOBS_CONCURRENCY)")
    ] = None,
    queues: Annotated[
        str | None, typer.Option(help="Comma-separated queues to take jobs from (default: all), e.g. sync,default")
    ] = None,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="The server runs with --sandbox: call its simulated providers")
    ] = False,
) -> None:
    """Run background jobs (PostgreSQL): any number of workers, on any machines, share the queue.

    Stops gracefully on SIGTERM/SIGINT: running jobs get JOBS_SHUTDOWN_GRACE_SECONDS to finish, then go back
    to the queue."""
    from platform_server.jobs.engine import SQLITE_WORKER_REFUSAL, run_worker_process
    from platform_server.jobs.resources import open_resources
    from platform_server.log import configure_logging

    if sandbox:
        _use_sandbox()
    settings = _settings()
    if settings.is_sqlite:
        typer.secho(SQLITE_WORKER_REFUSAL, fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    configure_logging(settings.LOG_LEVEL, settings.log_json)
    migrations.upgrade(settings.DATABASE_URL)
    selected = [queue.strip() for queue in queues.split(",") if queue.strip()] if queues else None

    async def run() -> None:
        async with open_resources(settings) as resources:
            await run_worker_process(resources, concurrency=concurrency or settings.JOBS_CONCURRENCY, queues=selected)

    typer.echo(
        f"Job worker on {', '.join(selected) if selected else 'every queue'} "
        f"(concurrency {concurrency or settings.JOBS_CONCURRENCY})",
        err=True,
    )
    asyncio.run(run())


@app.command()
def migrate() -> None:
    """Apply every pending database migration."""
    settings = _settings()
    migrations.upgrade(settings.DATABASE_URL)
    typer.echo("Database is up to date.", err=True)


@app.command()
def bootstrap(
    team: Annotated[str, typer.Option(help="Team name")],
    email: Annotated[str, typer.Option(help="The owner's email address")],
    workspace: Annotated[str, typer.Option(help="Name of the first workspace")] = "Default",
) -> None:
    """Create a team, its owner, a workspace and an API key; print them as one JSON object."""
    from platform_server.teams.schemas import normalise_email

    settings = _settings()
    try:
        email = normalise_email(email)
    except ValueError:
        typer.secho(f"Not an email address: {email!r}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    for label, value in (("--team", team), ("--workspace", workspace)):
        if not value.strip() or len(value) > 200:
            typer.secho(f"{label} must be 1 to 200 characters", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=2)
    migrations.upgrade(settings.DATABASE_URL)
    result = asyncio.run(_bootstrap(settings, team, email, workspace))
    typer.echo(json.dumps(result))
    typer.echo("Keep the api_key: it is shown only once.", err=True)


async def _bootstrap(settings: Settings, team_name: str, email: str, workspace_name: str) -> dict[str, str]:
    from platform_server.db import create_engine, create_sessionmaker
    from platform_server.teams.service import team_service

    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            team, user, workspace, _, secret = await team_service.bootstrap(
                session, team_name=team_name, email=email, workspace_name=workspace_name
            )
    finally:
        await engine.dispose()
    return {"team_id": team.id, "user_id": user.id, "workspace_id": workspace.id, "api_key": secret}


@app.command("issue-key")
def issue_key(
    email: Annotated[str, typer.Option(help="The user's email address")],
    name: Annotated[str, typer.Option(help="A name for the key")] = "recovery",
    team: Annotated[str | None, typer.Option(help="The team's id, when users of several teams have the email")] = None,
) -> None:
    """Issue a new API key for an existing user (recovery, e.g. an owner whose keys were all revoked); print
    one JSON object."""
    from platform_server.errors import PlatformError
    from platform_server.teams.schemas import normalise_email

    settings = _settings()
    try:
        email = normalise_email(email)
    except ValueError:
        typer.secho(f"Not an email address: {email!r}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    if not name.strip() or len(name) > 200:
        typer.secho("--name must be 1 to 200 characters", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)
    migrations.upgrade(settings.DATABASE_URL)
    try:
        result = asyncio.run(_issue_key(settings, email, team, name))
    except PlatformError as exc:
        hint = " (pass --team with one of their ids)" if "teamIds" in exc.details else ""
        typer.secho(
            f"{exc.message}{hint}: {json.dumps(exc.details)}" if exc.details else exc.message + hint,
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(code=1) from None
    typer.echo(json.dumps(result))
    typer.echo("Keep the api_key: it is shown only once.", err=True)


async def _issue_key(settings: Settings, email: str, team_id: str | None, name: str) -> dict[str, str]:
    from platform_server.db import create_engine, create_sessionmaker
    from platform_server.teams.service import team_service

    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            user, api_key, secret = await team_service.issue_recovery_key(
                session, email=email, team_id=team_id, name=name
            )
    finally:
        await engine.dispose()
    return {
        "team_id": user.team_id,
        "user_id": user.id,
        "role": user.role,
        "api_key_id": api_key.id,
        "api_key": secret,
    }


@app.command()
def sync(
    integration: Annotated[str, typer.Argument(help="The integration's id")],
    workspace: Annotated[str, typer.Option("--workspace", help="The workspace to sync into (or export from)")],
    source_entity: Annotated[
        str | None, typer.Option("--source-entity", help="e.g. issues, pull_requests, pages (default: the first)")
    ] = None,
    target_entity: Annotated[str | None, typer.Option("--target-entity", help="e.g. work_items, features")] = None,
    export: Annotated[bool, typer.Option("--export", help="Export unlinked work items as provider issues")] = False,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="The server runs with --sandbox: use its simulated providers")
    ] = False,
) -> None:
    """Run a sync now, with a progress bar; prints the result as one JSON object.

    Run it with the server's settings (the same directory, .env and variables); with `--sandbox` the server
    must be running at PUBLIC_BASE_URL."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from platform_server.errors import PlatformError
    from platform_server.integrations.sync.command import SetupError, check_local_settings, run_sync_command
    from platform_server.integrations.sync.schemas import SyncType

    if sandbox:
        _use_sandbox()
    settings = _settings()
    try:
        check_local_settings(settings)
    except SetupError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2) from None
    migrations.upgrade(settings.DATABASE_URL)
    unit = "batches" if export else "pages"
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("0 items synced", total=None)

        def progress(items: int, done: int, total: int | None) -> None:
            bar.update(task, description=f"{items} items synced", completed=done, total=total)

        try:
            result = asyncio.run(
                run_sync_command(
                    settings,
                    integration,
                    workspace,
                    sync_type=SyncType.export if export else SyncType.import_,
                    source_entity=source_entity,
                    target_entity=target_entity,
                    progress=progress,
                )
            )
        except SetupError as exc:
            typer.secho(str(exc), fg=typer.colors.RED, err=True)
            raise typer.Exit(code=2) from None
        except PlatformError as exc:
            typer.secho(f"{exc.message}", fg=typer.colors.RED, err=True)
            raise typer.Exit(code=1) from exc
    outcome = result.outcome
    typer.echo(
        json.dumps(
            {
                "syncLogId": outcome.log_id,
                "status": outcome.status,
                "itemsSynced": outcome.items_synced,
                "duration": outcome.duration_ms,
            }
        )
    )
    if outcome.error is not None:
        typer.secho(outcome.error.message, fg=typer.colors.RED, err=True)
    if outcome.status != "completed":
        raise typer.Exit(code=1)


@app.command()
def openapi() -> None:
    """Print the OpenAPI document."""
    from platform_server.app import create_app

    typer.echo(json.dumps(create_app(_settings()).openapi(), indent=2))
