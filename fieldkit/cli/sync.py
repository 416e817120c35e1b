"""Commands: enroll, sync, pull, project …, forms publish (DESIGN §3, §6–§8)."""

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
from fieldkit.text import inert

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

    labels = {"push": "Sending records", "pull": "Receiving changes", "files": "Files (bytes)"}
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
        ...,
        help="The one-time code from your coordinator ('-' asks for it, kept off history).",
    ),
    name: str | None = typer.Option(
        None,
        "--name",
        help="A name for this laptop that the coordinator sees, e.g. 'coast-laptop-3' "
        "(never a person's name). Asked for when omitted at a terminal.",
    ),
    insecure_http: bool = typer.Option(False, "--insecure-http", help=_INSECURE_HELP),
    ca_bundle: Path | None = typer.Option(None, "--ca-bundle", help=_CA_HELP),
) -> None:
    """Enrol this laptop with a coordinator's one-time code; refuses a server whose project is
    not the one the code was made for."""
    from fieldkit.exchange import EnrolmentCode
    from fieldkit.exchange import enroll as enroll_workspace

    if code == "-":
        code = ask_secret(
            "Enrolment code",
            missing=UsageError("no enrolment code: type it at a terminal, or give it instead of -"),
        )
    from sync.client import check_server_url

    check_server_url(url, insecure_http=insecure_http)
    EnrolmentCode.parse(code)  # a mistyped code is caught before the passphrase is asked
    with open_workspace_for(ctx) as ws:
        result = enroll_workspace(
            ws,
            url,
            code,
            insecure_http=insecure_http,
            name=name or _ask_device_name(),
            ca_bundle=_ca(ca_bundle),
        )
    typer.echo(result.line())
    typer.echo(
        "Compare the fingerprint with your coordinator's `fieldkit project show`; your laptop "
        "is certified on their next sync."
        if result.role == "field"
        else "The project keys reach this laptop once a coordinator certifies it (their next "
        "sync); then `fieldkit pull`."
    )


def _ask_device_name() -> str | None:
    """A device name typed at a terminal (none when not at one: names are optional). The
    computer's own name is offered only with the user's yes: it can identify its owner."""
    import socket
    import sys

    from fieldkit.cli._common import ask_line, confirm

    if not sys.stdin.isatty():
        return None
    text = ask_line(
        "A name for this laptop, as your coordinator will see it (e.g. coast-laptop-3; "
        "never a person's name; Enter to skip)"
    ).strip()
    if text:
        return text
    host = socket.gethostname().split(".")[0][:100]
    if host and confirm(
        f"Use this computer's name '{inert(host)}'? (a computer's name can identify its owner)"
    ):
        return host
    return None


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
    for record_id, reason in summary.pulled.refused:
        typer.echo(f"Refused: record {record_id}: {reason}", err=True)
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
    device_name: str | None = typer.Option(
        None, "--name", help="A name for this laptop (never a person's name)."
    ),
    insecure_http: bool = typer.Option(False, "--insecure-http", help=_INSECURE_HELP),
    ca_bundle: Path | None = typer.Option(None, "--ca-bundle", help=_CA_HELP),
) -> None:
    """Create a project: its signing and encryption keys are made here; only their public
    halves go to the server. Prints the project's fingerprint."""
    from fieldkit.exchange import create_project

    with open_workspace_for(ctx) as ws:
        result = create_project(
            ws,
            name,
            server=server,
            admin_token=admin_token,
            insecure_http=insecure_http,
            device_name=device_name,
            ca_bundle=_ca(ca_bundle),
        )
    typer.echo(f"Created project {result.project_name} ({result.project_id}).")
    typer.echo(f"Fingerprint: {result.fingerprint}  (`fieldkit project show` prints it again)")


@project_app.command("show")
def project_show(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
    qr: bool = typer.Option(True, "--qr/--no-qr", help="Print the fingerprint as a QR code."),
) -> None:
    """Show the project, its fingerprint (text and QR code) and this laptop's standing."""
    import json

    from fieldkit.exchange import project_info

    with open_workspace_for(ctx) as ws:
        info = project_info(ws)
    if as_json:
        typer.echo(json.dumps(info.as_json()))
        return
    from fieldkit.text import inert

    typer.echo(f"Project:     {inert(info.name)} ({info.project_id})")
    typer.echo(
        f"Fingerprint: {info.fingerprint or 'none yet (run `fieldkit project upgrade-trust`)'}"
    )
    standing = {True: "certified", False: "waiting for a coordinator's certificate", None: "-"}
    typer.echo(f"This laptop: {info.role} device {info.device_id}, {standing[info.certified]}")
    typer.echo(f"Its key:     {info.device_fingerprint}")
    if info.key_generation is not None:
        typer.echo(f"Project key: generation {info.key_generation}")
    if qr and info.fingerprint:
        from fieldkit.cli._qr import terminal_qr

        typer.echo(terminal_qr(info.fingerprint))


@project_app.command("enroll-code")
def project_enroll_code(
    ctx: typer.Context,
    role: str = typer.Option(..., "--role", help="field or coordinator."),
    expires: str = typer.Option(
        "7d", "--expires", help="Validity, e.g. 30m, 24h, 7d (at most 30d)."
    ),
    as_json: bool = typer.Option(False, "--json", help='Print {"code": …, "expires_at": …} only.'),
) -> None:
    """Coordinator: a one-time enrolment code carrying the project's fingerprint; the server
    learns only a hash. Give it to the person in person."""
    import json

    from fieldkit.exchange import make_code
    from sync.admin import parse_duration

    seconds = parse_duration(expires)
    with open_workspace_for(ctx) as ws:
        issued = make_code(ws, role=role, expires_seconds=seconds)
    if as_json:
        typer.echo(json.dumps({"code": str(issued.code), "expires_at": issued.expires_at}))
        return
    typer.echo(
        f"Enrolment code: {issued.code}  ({issued.role}, one use, expires {issued.expires_at})"
    )
    typer.echo("The laptop is certified on your next `fieldkit sync` after it enrols.")


@project_app.command("approve")
def project_approve(
    ctx: typer.Context,
    device: str = typer.Argument(..., help="The device id of a certified coordinator."),
) -> None:
    """Send the project keys again to a certified coordinator (certification sends them once)."""
    from fieldkit.exchange import approve_coordinator

    with open_workspace_for(ctx) as ws:
        approve_coordinator(ws, device)
    typer.echo(f"Sent the project keys to {device}, sealed to its certified key.")


@project_app.command("revoke")
def project_revoke(
    ctx: typer.Context,
    device: str = typer.Argument(..., help="The device id (see `fieldkit project devices`)."),
) -> None:
    """Coordinator: revoke a lost or retired laptop (signed; its token stops at once). A revoked
    coordinator is followed by a new project key."""
    from fieldkit.exchange import revoke_device

    with open_workspace_for(ctx) as ws:
        result = revoke_device(ws, device)
    typer.echo(f"Revoked {result.device_id}.")
    if result.rotated_to is not None:
        typer.echo(
            f"It was a coordinator: the project key was rotated (generation {result.rotated_to})."
        )


@project_app.command("devices")
def project_devices(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list."),
) -> None:
    """The devices the project certified: role, name, key fingerprint, revoked or not."""
    import json

    from fieldkit.exchange import certified_devices

    with open_workspace_for(ctx) as ws:
        devices = certified_devices(ws)
    if as_json:
        typer.echo(json.dumps(devices))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from fieldkit.text import inert

    # The device id (what `project revoke` takes), its name and key are never cut or wrapped.
    table = Table(box=None, header_style="bold")
    for title in ("device", "name", "role", "key", "revoked"):
        table.add_column(title, no_wrap=title in ("device", "name", "key"), overflow="fold")
    for d in devices:
        table.add_row(
            d["device_id"],
            Text(inert(d["name"] or "(no name)")),
            d["role"],
            d["key"],
            d["revoked_at"] or "",
        )
    Console().print(table)


@project_app.command("rotate-key")
def project_rotate_key(ctx: typer.Context) -> None:
    """Coordinator: a new project encryption key, announced signed; devices seal to it from
    their next record, old records stay readable by coordinators."""
    from fieldkit.exchange import rotate_key

    with open_workspace_for(ctx) as ws:
        generation = rotate_key(ws)
    typer.echo(
        f"New project key: generation {generation}. Devices seal to it after their next sync."
    )


@project_app.command("contacts")
def project_contacts(
    ctx: typer.Context,
    path: Path = typer.Argument(
        ..., metavar="FILE.json", help='A JSON list of {"label": …, "contact": …}.'
    ),
) -> None:
    """Coordinator: set the programme's emergency contacts (signed); every laptop shows them
    beside an urgent flag."""
    import json

    from fieldkit.exchange import set_emergency_contacts

    try:
        contacts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise UsageError(f"{path.name}: not a readable JSON file") from None
    if not isinstance(contacts, list):
        raise UsageError(f"{path.name}: the contacts must be a JSON list")
    with open_workspace_for(ctx) as ws:
        count = set_emergency_contacts(ws, contacts)
    typer.echo(f"Set {count} emergency contact(s); laptops show them after their next sync.")


@project_app.command("upgrade-trust")
def project_upgrade_trust(
    ctx: typer.Context,
    yes: bool = typer.Option(
        False, "--yes", help="Certify every enrolled device without asking (scripts)."
    ),
) -> None:
    """Coordinator of a project made before signed statements: make its signing identity, sign
    its keys and forms, and certify each enrolled laptop you confirm by its key fingerprint."""
    from fieldkit.cli._common import confirm
    from fieldkit.exchange import upgrade_trust
    from fieldkit.text import inert

    def ask(device_id: str, role: str, name: str | None, fingerprint: str) -> bool:
        if yes:
            return True
        label = f" ({inert(name)})" if name else ""
        return confirm(
            f"Certify {role} device {device_id}{label} with key {fingerprint}? Compare it with "
            "`fieldkit project show` on that laptop"
        )

    with open_workspace_for(ctx) as ws:
        result = upgrade_trust(ws, confirm=ask)
    typer.echo(f"The project's fingerprint: {result.fingerprint}")
    typer.echo(
        f"Signed {result.forms} form version(s); certified {len(result.certified)} device(s)"
        + (f", skipped {len(result.skipped)}." if result.skipped else ".")
    )
    typer.echo("Give the fingerprint to each field laptop: `fieldkit project trust FINGERPRINT`.")


@project_app.command("trust")
def project_trust(
    ctx: typer.Context,
    fingerprint: str = typer.Argument(..., help="The fingerprint your coordinator gave you."),
) -> None:
    """A laptop enrolled before signed statements: pin the project's identity by its
    fingerprint; from then on only what the project signed is taken."""
    from fieldkit.exchange import trust_project

    with open_workspace_for(ctx) as ws:
        root = trust_project(ws, fingerprint)
    typer.echo(f"This laptop now trusts project {root.project_id} ({root.fingerprint}).")


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

    path = _form_file(source)  # a missing file is refused before the passphrase is asked
    with open_workspace_for(ctx) as ws:
        result = publish_form(ws, path)
    typer.echo(
        f"Published form {result['form_id']} version {result['version']} ({result['status']})."
    )
