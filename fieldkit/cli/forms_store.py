"""Commands: ``forms add FILE|NAME`` and ``forms list [--json]`` (the workspace's forms)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import typer

from fieldkit.cli.groups import forms_app
from fieldkit.errors import FormNotFound


def _form_file(source: str) -> Path:
    """A path as given, or the bundled form of that name (``fieldkit forms add consent``)."""
    from fieldkit.bundled import bundled_form

    path = Path(source)
    if path.exists():
        return path
    if path.suffix or "/" in source or "\\" in source:
        missing_file(path)
    return bundled_form(source)


def missing_file(path: Path) -> NoReturn:
    """Refuse a form file that is not there, naming the bundled form it looks like: the
    guides' ``forms/consent.md`` is a path from the repository's root only."""
    from fieldkit.bundled import FORM_NAMES

    raise FormNotFound(
        missing_bundled(path)
        or f"{path.name}: no such file; a bundled form is named without a path: "
        f"{', '.join(FORM_NAMES)}"
    )


def missing_bundled(path: Path) -> str | None:
    """"consent.md: no such file here; the bundled form is `consent`" for a file that is not
    there but is named as a bundled form is; None otherwise."""
    from fieldkit.bundled import FORM_NAMES

    stem = path.name.split(".", 1)[0]
    if path.exists() or stem not in FORM_NAMES:
        return None
    return f"{path.name}: no such file here; the bundled form is `{stem}`"


def _version_text(version: str, *, from_content: bool) -> str:
    """A form version as the user reads it (saying where a derived one comes from)."""
    if from_content:
        return f"{version} (from its content: the settings sheet gives no version)"
    return version or "(none)"


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
    from fieldkit.media import store_form_media

    path = _form_file(source)
    form = load_form(path)
    with open_workspace_for(ctx) as ws:
        version = ws.forms.add(form.definition)
        stored, missing = store_form_media(ws, form, path)
    shown = _version_text(version.version, from_content=form.version_from_content)
    typer.echo(f"Added form {version.form_id} version {shown}")
    if stored:
        typer.echo(f"Stored {stored} media file{'' if stored == 1 else 's'} of its labels.")
    if missing:
        typer.echo(
            f"Not found beside the form (or in {path.stem}-media/): {', '.join(missing[:10])}",
            err=True,
        )


@forms_app.command("media")
def media(
    ctx: typer.Context,
    form_id: str = typer.Argument(..., help="The form's id."),
    name: str = typer.Argument(..., help="The media file's name, as the form's label names it."),
    out: Path = typer.Option(..., "--out", help="Where to write it (a file or a folder)."),
) -> None:
    """Write a picture or sound that a form shows in a label, to open it outside the terminal."""
    from fieldkit.cli._common import open_workspace_for
    from fieldkit.media import form_media_file, write_copy

    with open_workspace_for(ctx) as ws:
        attachment = form_media_file(ws, form_id, name)
        target = write_copy(ws, attachment, out / name if out.is_dir() else out, overwrite=True)
    typer.echo(f"Wrote {target} ({attachment.content_type}).")


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
    console = Console(highlight=False)
    keys = ("form_id", "version", "title", "added_at")
    texts = [[str(row[k] or "") for k in keys] for row in rows]
    # The form id and version are what a person types (`capture ID`, `export --form ID`):
    # they are never cut. Where a table with both in full does not fit, one block per form.
    widest = [max(len(t[i]) for t in texts) for i in range(2)]
    if sum(widest) + 7 + 20 > console.width:
        for form_id, version, title, added in texts:
            console.print(Text(form_id, style="bold"), soft_wrap=True)
            console.print(Text(f"  version {version}" + (f" · {title}" if title else "")))
            console.print(Text(f"  added {added}"))
        return
    table = Table()
    table.add_column("form", no_wrap=True, min_width=widest[0])
    table.add_column("version", no_wrap=True, min_width=widest[1])
    table.add_column("title", overflow="fold")
    table.add_column("added", overflow="fold")
    for text in texts:
        # Text, not markup: a form title may hold "[" and must print as written.
        table.add_row(*(Text(t) for t in text))
    console.print(table)
