"""Commands: server run|init|enroll-code, server devices list|revoke (DESIGN §8)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fieldkit.cli.groups import devices_app, server_app
from fieldkit.errors import UsageError
from fieldkit.text import inert

if TYPE_CHECKING:
    from sync.admin import AdminClient

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
# As for `fieldkit enroll`: the admin token never crosses a network in clear unless asked to.
_INSECURE = typer.Option(
    False,
    "--insecure-http",
    help="Allow plain http to a server that is not on this machine (trusted LAN only).",
)
_CA = typer.Option(
    None,
    "--ca-bundle",
    help="Trust this CA certificate file (PEM) for the server: a private CA on an office LAN.",
)


def _admin(
    server: str, admin_token: str, *, insecure_http: bool, ca_bundle: Path | None
) -> AdminClient:
    """The admin client; a plain-http address elsewhere is refused here, before any byte."""
    from sync.admin import AdminClient

    if ca_bundle is not None and not ca_bundle.is_file():
        raise UsageError(f"no CA certificate file {ca_bundle}")
    return AdminClient(
        server,
        admin_token,
        insecure_http=insecure_http,
        ca_bundle=str(ca_bundle) if ca_bundle else None,
    )


@server_app.command(
    "enroll-code", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def enroll_code() -> None:
    """Retired: a code the server makes cannot prove the project to the enrolling laptop, so
    it no longer enrols devices into a project. Use `fieldkit project enroll-code` on a
    coordinator's laptop."""
    from fieldkit.errors import UsageError

    raise UsageError(
        "`fieldkit server enroll-code` is retired: enrolment codes are made on a coordinator's "
        "laptop with `fieldkit project enroll-code --role field|coordinator`"
    )


@devices_app.command("list")
def devices_list(
    server: str = _SERVER,
    admin_token: str = _TOKEN,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
    insecure_http: bool = _INSECURE,
    ca_bundle: Path | None = _CA,
) -> None:
    """List enrolled devices with their role, project and whether they are revoked."""
    with _admin(server, admin_token, insecure_http=insecure_http, ca_bundle=ca_bundle) as admin:
        devices = admin.devices()
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in devices]))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # The device id and its name are what an admin looks for and types: never cut or wrapped.
    table = Table(box=None, header_style="bold")
    table.add_column("device", no_wrap=True)
    table.add_column("name", no_wrap=True)
    for title in ("role", "project", "enrolled", "revoked"):
        table.add_column(title, overflow="fold")
    for d in devices:
        table.add_row(
            d.device_id,
            Text(inert(d.name or "(no name)")),  # the server's text: no markup, no escape codes
            d.role,
            d.project_id,
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
    insecure_http: bool = _INSECURE,
    ca_bundle: Path | None = _CA,
) -> None:
    """Revoke a lost or retired device: its token stops working on its next call."""
    with _admin(server, admin_token, insecure_http=insecure_http, ca_bundle=ca_bundle) as admin:
        revoked = admin.revoke(device)
    if as_json:
        typer.echo(json.dumps(revoked.model_dump(mode="json")))
        return
    typer.echo(f"Revoked {revoked.device_id}.")
