"""Commands: enroll, sync, pull, project create | approve, forms publish (DESIGN §6–§8)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fieldkit.cli._common import ask_secret, open_workspace_for
from fieldkit.cli.app import app
from fieldkit.cli.groups import forms_app, project_app
from fieldkit.errors import UsageError

if TYPE_CHECKING:
    from fieldkit.exchange import Progress

_INSECURE_HELP = "Allow plain http to a server that is not on this machine (trusted LAN only)."
_CA_HELP = "Trust this CA certificate file (PEM) for the server: a private CA on an office LAN."
_SERVER_HELP = "Use this server address instead of the enrolled one (a moved server, a proxy)."


def _ca(path: Path | None) -> str | None:
    """An absolute CA file path to remember, checked now rather than at the next sync."""
    if path is None:
        return None
    if not path.is_file():
        raise UsageError(f"no CA certificate file {path}")
    return str(path.resolve())


@contextmanager
def _progress_bar() -> Iterator[Progress]:
    """A rich progress bar on stderr, fed by the library's progress(phase, done, total)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    labels = {"push": "Sending records", "pull": "Receiving changes"}
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(phase: str, done: int, total: int | None) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(labels.get(phase, phase), total=total)
        bar.update(tasks[phase], completed=done, total=total)

    with bar:
        yield update


@app.command()
def enroll(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="The sync server, e.g. https://sync.example.org"),
    code: str = typer.Argument(
        ..., help="The one-time enrolment code from the admin; '-' asks for it (kept off history)."
    ),
    name: str | None = typer.Option(
        None, "--name", help="A name for this device (no person's name)."
    ),
    insecure_http: bool = typer.Option(False, "--insecure-http", help=_INSECURE_HELP),
    ca_bundle: Path | None = typer.Option(None, "--ca-bundle", help=_CA_HELP),
) -> None:
    """Enrol this workspace with a project's server using a one-time code."""
    from fieldkit.exchange import enroll as enroll_workspace

    if code == "-":
        code = ask_secret(
            "Enrolment code",
            missing=UsageError("no enrolment code: type it at a terminal, or give it instead of -"),
        )
    with open_workspace_for(ctx) as ws:
        result = enroll_workspace(
            ws, url, code, insecure_http=insecure_http, name=name, ca_bundle=_ca(ca_bundle)
        )
    typer.echo(result.line())


@app.command()
def sync(
    ctx: typer.Context,
    server: str | None = typer.Option(None, "--server", help=_SERVER_HELP),
    insecure_http: bool = typer.Option(False, "--insecure-http", help=_INSECURE_HELP),
) -> None:
    """Send finalized records; receive new forms and keys (a coordinator: records too)."""
    from fieldkit.exchange import sync as sync_workspace

    with open_workspace_for(ctx) as ws, _progress_bar() as progress:
        summary = sync_workspace(ws, server=server, insecure_http=insecure_http, progress=progress)
    for record_id in summary.conflicts:
        typer.echo(
            f"Conflict: the server holds other content for record {record_id}; "
            "it was not overwritten.",
            err=True,
        )
    for record_id, reason in summary.rejected:
        typer.echo(f"Rejected: record {record_id}: {reason}", err=True)
    typer.echo(summary.line())
    if summary.conflicts or summary.rejected:
        raise typer.Exit(1)


@app.command()
def pull(
    ctx: typer.Context,
    server: str | None = typer.Option(None, "--server", help=_SERVER_HELP),
    insecure_http: bool = typer.Option(False, "--insecure-http", help=_INSECURE_HELP),
) -> None:
    """Coordinator: fetch, verify and decrypt every record the project key opens."""
    from fieldkit.exchange import pull as pull_records

    with open_workspace_for(ctx) as ws, _progress_bar() as progress:
        summary = pull_records(ws, server=server, insecure_http=insecure_http, progress=progress)
    for record_id, reason in summary.refused:
        typer.echo(f"Refused: record {record_id}: {reason}", err=True)
    typer.echo(summary.line())


@project_app.command("create")
def project_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The project's name."),
    server: str = typer.Option(..., "--server", help="The sync server."),
    admin_token: str = typer.Option(
        ..., "--admin-token", envvar="FIELDKIT_ADMIN_TOKEN", help="The server's admin token."
    ),
    insecure_http: bool = typer.Option(False, "--insecure-http", help=_INSECURE_HELP),
    ca_bundle: Path | None = typer.Option(None, "--ca-bundle", help=_CA_HELP),
) -> None:
    """Create a project: its key pair is made here, only the public half goes to the server."""
    from fieldkit.exchange import create_project

    with open_workspace_for(ctx) as ws:
        result = create_project(
            ws,
            name,
            server=server,
            admin_token=admin_token,
            insecure_http=insecure_http,
            ca_bundle=_ca(ca_bundle),
        )
    typer.echo(f"Created project {result.project_name} ({result.project_id}); {result.line()}")


@project_app.command("approve")
def project_approve(
    ctx: typer.Context,
    device: str = typer.Argument(..., help="The device id of the coordinator to approve."),
) -> None:
    """Hand the project key to another coordinator's device, sealed to that device."""
    from fieldkit.exchange import approve_coordinator

    with open_workspace_for(ctx) as ws:
        granted = approve_coordinator(ws, device)
    typer.echo(
        f"Approved {device}: {granted} project key(s) sealed to it; it receives them on sync."
    )


@forms_app.command("publish")
def publish(
    ctx: typer.Context,
    source: str = typer.Argument(
        ..., metavar="FILE", help="An XLSForm (xlsx, xls, csv, md), or a bundled form's name."
    ),
) -> None:
    """Coordinator: send a form (or a new version) to the project; devices get it on sync."""
    from fieldkit.cli.forms_store import _form_file
    from fieldkit.exchange import publish_form

    with open_workspace_for(ctx) as ws:
        result = publish_form(ws, _form_file(source))
    typer.echo(
        f"Published form {result['form_id']} version {result['version']} ({result['status']})."
    )
