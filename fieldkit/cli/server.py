"""Commands: server run|init|enroll-code, server devices list|revoke (DESIGN §8)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fieldkit.cli.groups import devices_app, server_app

_DATA_DIR_HELP = "Folder of the server's data (default: the workspace home's 'server' folder)."
_DB_HELP = "postgresql://user@host/db to use PostgreSQL instead of the SQLite file."


def _data_dir(ctx: typer.Context, data_dir: Path | None) -> Path:
    if data_dir is not None:
        return data_dir.expanduser()
    state = ctx.find_object(dict) or {}
    home = state["settings"].home if "settings" in state else Path.cwd()
    return Path(home) / "server"


@server_app.command("run")
def run(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", help="Port to listen on."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    database_url: str | None = typer.Option(
        None, "--database-url", envvar="FIELDKIT_DATABASE_URL", help=_DB_HELP
    ),
    verify_processes: int | None = typer.Option(
        None,
        "--verify-processes",
        min=0,
        max=256,  # a typo like 10000 would fork that many workers on the first large push
        help="Worker processes checking signatures (default: one per core; 0: none).",
    ),
    trusted_proxy: list[str] = typer.Option(
        [],
        "--trusted-proxy",
        help="Address of your reverse proxy (repeatable): not capped per address.",
    ),
    bench_endpoints: bool = typer.Option(False, "--bench-endpoints", hidden=True),
) -> None:
    """Run the sync server in the foreground (migrations are applied first)."""
    from sync.server import ServerSettings, serve
    from sync.server.verify import default_processes

    settings = ServerSettings(
        data_dir=_data_dir(ctx, data_dir),
        database_url=database_url,
        bench_endpoints=bench_endpoints,
        verify_processes=default_processes() if verify_processes is None else verify_processes,
        trusted_proxies=tuple(trusted_proxy),
    )
    serve(settings, host=host, port=port)


@server_app.command("init")
def init(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    database_url: str | None = typer.Option(
        None, "--database-url", envvar="FIELDKIT_DATABASE_URL", help=_DB_HELP
    ),
    new_admin_token: bool = typer.Option(
        False, "--new-admin-token", help="Replace the admin token of an initialised server."
    ),
    as_json: bool = typer.Option(False, "--json", help='Print {"admin_token": …} only.'),
) -> None:
    """Prepare the server's storage and print the admin token once (only its hash is kept)."""
    from sync.server import ServerSettings, init_server

    settings = ServerSettings(data_dir=_data_dir(ctx, data_dir), database_url=database_url)
    token = init_server(settings, rotate=new_admin_token)
    if as_json:
        typer.echo(json.dumps({"admin_token": token}))
        return
    from rich.console import Console

    console = Console()
    console.print("Server storage is ready. Admin token (shown once, keep it safe):")
    console.print(token, style="bold", highlight=False, soft_wrap=True)


@server_app.command("copy")
def copy(
    ctx: typer.Context,
    to_database_url: str = typer.Option(..., "--to", help="Target, e.g. postgresql://…"),
    data_dir: Path | None = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Source database (default: the SQLite file in --data-dir)."
    ),
) -> None:
    """Copy all server data to another database (stop the server first), e.g. to PostgreSQL."""
    from sync.server import ServerSettings, copy_storage

    directory = _data_dir(ctx, data_dir)
    copied = copy_storage(
        ServerSettings(data_dir=directory, database_url=database_url),
        ServerSettings(data_dir=directory, database_url=to_database_url),
    )
    summary = ", ".join(f"{n} {name}" for name, n in copied.items() if n)
    typer.echo(f"Copied {summary or 'nothing'}. Now run the server with --database-url.")


_SERVER = typer.Option(..., "--server", envvar="FIELDKIT_SERVER", help="Server base URL.")
_TOKEN = typer.Option(
    ...,
    "--admin-token",
    envvar="FIELDKIT_ADMIN_TOKEN",
    help="Admin token.",
)


@server_app.command("enroll-code")
def enroll_code(
    server: str = _SERVER,
    admin_token: str = _TOKEN,
    role: str = typer.Option(..., "--role", help="field or coordinator."),
    project: str | None = typer.Option(None, "--project", help="Project id (if several)."),
    expires: str = typer.Option("24h", "--expires", help="Validity, e.g. 30m, 24h, 7d."),
    as_json: bool = typer.Option(False, "--json", help='Print {"code": …} only.'),
) -> None:
    """Issue a one-time enrolment code for a device (give it to the person in person)."""
    from sync.admin import AdminClient, parse_duration

    result = AdminClient(server, admin_token).enroll_code(
        role=role, project_id=project, expires_in_seconds=parse_duration(expires)
    )
    if as_json:
        typer.echo(json.dumps({"code": result.code, "expires_at": result.expires_at.isoformat()}))
        return
    typer.echo(
        f"Enrolment code: {result.code}  (one use, expires {result.expires_at:%Y-%m-%d %H:%M} UTC)"
    )


@devices_app.command("list")
def devices_list(
    server: str = _SERVER,
    admin_token: str = _TOKEN,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """List enrolled devices with their role, project and whether they are revoked."""
    from sync.admin import AdminClient

    devices = AdminClient(server, admin_token).devices()
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in devices]))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("device", no_wrap=True)
    table.add_column("role")
    table.add_column("project", no_wrap=True)
    for title in ("name", "enrolled", "revoked"):
        table.add_column(title)
    for d in devices:
        table.add_row(
            d.device_id,
            d.role,
            d.project_id,
            d.name or "",
            f"{d.enrolled_at:%Y-%m-%d}",
            f"{d.revoked_at:%Y-%m-%d %H:%M}" if d.revoked_at else "",
        )
    Console().print(table)


@devices_app.command("revoke")
def devices_revoke(
    device: str = typer.Argument(..., help="Device id (see `server devices list`)."),
    server: str = _SERVER,
    admin_token: str = _TOKEN,
    as_json: bool = typer.Option(False, "--json", help="Print the device as JSON."),
) -> None:
    """Revoke a lost or retired device: its token stops working on its next call."""
    from sync.admin import AdminClient

    revoked = AdminClient(server, admin_token).revoke(device)
    if as_json:
        typer.echo(json.dumps(revoked.model_dump(mode="json")))
        return
    typer.echo(f"Revoked {revoked.device_id}.")
