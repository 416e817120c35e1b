"""Commands: bundle export | import — the sneakernet for laptops that are never online
(DESIGN §6b)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fieldkit.cli._common import ask_secret, open_workspace_for
from fieldkit.cli.app import sub_app
from fieldkit.errors import UsageError

bundle_app = sub_app(
    "bundle", "Carry records, forms and keys by USB stick: sealed, signed, taken exactly once."
)


def _keep_file_size_errors() -> None:
    """A file-size limit (RLIMIT_FSIZE) must end in our one-line error, not SIGXFSZ's kill."""
    import signal

    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


@bundle_app.command("export")
def export(
    ctx: typer.Context,
    out: Path = typer.Option(
        ..., "--out", help="The bundle file, or a folder (a neutral name is chosen)."
    ),
    device: str | None = typer.Option(
        None, "--for", help="Coordinator: a bundle for this device (what its pull would bring)."
    ),
    role: str | None = typer.Option(
        None, "--role", help="Coordinator: a bundle for every laptop of this role (field)."
    ),
    enrol: bool = typer.Option(
        False,
        "--enrol",
        help="Coordinator: an enrolment bundle and its one-time code, for a laptop that is "
        "never online.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Write a bundle: on a field laptop, every finalized record not yet delivered (drafts
    never leave); on a coordinator's, with --for/--role/--enrol, what a pull would bring."""
    from fieldkit.exchange import bundle

    _keep_file_size_errors()
    code = None
    with open_workspace_for(ctx) as ws:
        if enrol:
            if device or role:
                raise UsageError("--enrol makes a bundle for a new field laptop: drop --for/--role")
            written, issued = bundle.export_enrolment_bundle(ws, out)
            code = str(issued.code)
        elif device or role:
            written = bundle.export_project_bundle(ws, out, device=device, role=role)
        else:
            written = bundle.export_records_bundle(ws, out)
    if as_json:
        data = {
            "path": str(written.path) if written.path else None,
            "records": written.records,
            "statements": written.statements,
            "unsealed": written.unsealed,
        }
        if code:
            data["code"] = code
        typer.echo(json.dumps(data))
        return
    typer.echo(written.line())
    if code:
        typer.echo(f"Enrolment code: {code}")
        typer.echo(
            "Give the code separately from the stick (say it, or on paper); on the new laptop: "
            "`fieldkit bundle import FILE --code -`."
        )


@bundle_app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The bundle file."),
    code: str | None = typer.Option(
        None,
        "--code",
        help="Enrol from a coordinator's enrolment bundle with this code ('-' asks for it).",
    ),
    receipt_dir: Path | None = typer.Option(
        None, "--receipt-dir", help="Coordinator: the receipt's folder (default: beside FILE)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Verify a bundle, then apply it exactly once (again, or after sync: nothing new)."""
    from fieldkit.exchange import bundle

    if code == "-":
        code = ask_secret(
            "Enrolment code",
            missing=UsageError("no enrolment code: type it at a terminal, or give it instead of -"),
        )
    if code is not None:
        from fieldkit.exchange import EnrolmentCode

        EnrolmentCode.parse(code)  # a mistyped code is caught before the passphrase is asked
    if not file.is_file():
        raise UsageError(f"no bundle file {file}")
    with open_workspace_for(ctx) as ws:
        result = bundle.import_bundle(ws, file, code=code, receipt_dir=receipt_dir)
    if as_json:
        p = result.pulled
        typer.echo(
            json.dumps(
                {
                    "nothing_new": result.nothing_new,
                    "records": p.records,
                    "already_here": p.already_had,
                    "forms": p.forms,
                    "statements": result.statements,
                    "refused": len(p.refused) + sum(p.items_refused.values()),
                    "held": p.held,
                    "relayed": result.relayed,
                    "delivered": result.delivered,
                    "certified": result.certified,
                    "receipt": str(result.receipt) if result.receipt else None,
                    "enrolled": result.enrolled,
                }
            )
        )
        return
    typer.echo(result.line())
