"""Commands: ``forms add FILE|NAME`` and ``forms list [--json]`` (the workspace's forms)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fieldkit.cli.groups import forms_app
from fieldkit.errors import FormNotFound


def _form_file(source: str) -> Path:
    """A path as given, or the bundled form of that name (``fieldkit forms add consent``)."""
    path = Path(source)
    if path.exists() or path.suffix or "/" in source or "\\" in source:
        return path
    try:
        from fieldkit.bundled import bundled_form
    except ImportError:
        raise FormNotFound(f"no file {source} and no bundled forms in this install") from None
    return bundled_form(source)


@forms_app.command("add")
def add(
    ctx: typer.Context,
    source: str = typer.Argument(
        ..., metavar="FILE", help="An XLSForm (xlsx, xls, csv, md), or a bundled form's name."
    ),
) -> None:
    """Check an XLSForm and add it (or a new version of it) to the workspace."""
    from fieldkit.cli._common import open_workspace_for
    from fieldkit.forms import load_form

    form = load_form(_form_file(source))
    with open_workspace_for(ctx) as ws:
        version = ws.forms.add(form.definition)
    typer.echo(f"Added form {version.form_id} version {version.version or '(none)'}")


@forms_app.command("list")
def list_forms(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """List the forms (every version) held in the workspace."""
    from fieldkit.cli._common import open_workspace_for

    with open_workspace_for(ctx) as ws:
        versions = list(ws.forms.list())
    rows = [
        {
            "form_id": v.form_id,
            "version": v.version,
            "title": v.title,
            "added_at": getattr(v, "added_at", None),
        }
        for v in versions
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    if not rows:
        typer.echo("No forms yet: add one with `fieldkit forms add FILE` (e.g. consent).")
        return
    table = Table("form", "version", "title", "added")
    for row in rows:
        # Text, not markup: a form title may hold "[" and must print as written.
        table.add_row(
            *(Text(str(row[k] or "")) for k in ("form_id", "version", "title", "added_at"))
        )
    Console(highlight=False).print(table)
