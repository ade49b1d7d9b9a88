"""The `platform-server` command."""

import asyncio
import json
import os
from typing import Annotated

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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="Do not apply pending migrations first")] = False,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Serve simulated providers and configure every provider against them")
    ] = False,
) -> None:
    """Apply pending migrations, then serve the API."""
    if sandbox:
        os.environ["PLATFORM_SANDBOX"] = "1"
        get_settings.cache_clear()
    settings = _settings()
    if not no_migrate:
        typer.echo("Applying migrations…", err=True)
        migrations.upgrade(settings.DATABASE_URL)
    typer.echo(f"Platform API on http://{host}:{port} (docs at /docs)", err=True)
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


@app.command()
def sync(
    integration: Annotated[str, typer.Argument(help="The integration's id")],
    workspace: Annotated[str, typer.Option("--workspace", help="The workspace to sync into (or export from)")],
    source_entity: Annotated[
        str | None, typer.Option("--source-entity", help="e.g. issues, pull_requests, pages (default: the first)")
    ] = None,
    target_entity: Annotated[str | None, typer.Option("--target-entity", help="e.g. work_items, features")] = None,
    export: Annotated[bool, typer.Option("--export", help="Export unlinked work items as provider issues")] = False,
) -> None:
    """Run a sync now, with a progress bar; prints the result as one JSON object."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from platform_server.errors import PlatformError
    from platform_server.integrations.sync.command import run_sync_command
    from platform_server.integrations.sync.schemas import SyncType

    settings = _settings()
    migrations.upgrade(settings.DATABASE_URL)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.fields[pages]} pages"))
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("0 items synced", total=None, pages=0)

        def progress(items: int, pages: int) -> None:
            bar.update(task, description=f"{items} items synced", pages=pages)

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
