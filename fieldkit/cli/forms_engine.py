"""Commands: ``forms validate``, ``forms show`` and ``forms eval`` (the forms engine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from fieldkit.cli.groups import forms_app

if TYPE_CHECKING:
    from fieldkit.forms import Form, Node


@forms_app.command("validate")
def validate(
    files: list[Path] = typer.Argument(..., help="XLSForm files (.xlsx, .xls, .csv, .md)."),
) -> None:
    """Check XLSForms: OK, or every error and warning with sheet/row/column; exit 1 on errors."""
    from fieldkit.cli.forms_store import missing_bundled
    from fieldkit.forms import check_form

    failed = False
    for path in files:
        missing = missing_bundled(path)
        if missing:
            failed = True
            typer.echo(f"ERROR {missing}")
            continue
        report = check_form(path)
        if report.ok and report.form is not None:
            typer.echo(f"OK {path.name} ({report.form.id} version {report.form.version})")
        else:
            failed = True
            for error in report.errors:
                typer.echo(f"ERROR {path.name}: {_without_name(str(error), path.name)}")
        for warning in report.warnings:
            typer.echo(f"WARNING {path.name}: {_without_name(str(warning), path.name)}")
    if failed:
        raise typer.Exit(1)


def _without_name(message: str, name: str) -> str:
    """A message without the file name it starts with (the line names the file already)."""
    prefix = f"{name}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _load(ctx: typer.Context, source: str) -> Form:
    from fieldkit.forms import Form, load_form

    path = Path(source)
    if path.exists():
        return load_form(path)
    if path.suffix.lower() in {".xlsx", ".xlsm", ".xls", ".csv", ".md"}:
        from fieldkit.cli.forms_store import missing_file

        missing_file(path)
    from fieldkit.cli._common import open_workspace_for

    with open_workspace_for(ctx) as ws:
        version = ws.forms.get(source)
        return Form.from_definition(version.definition)


@forms_app.command("show")
def show(
    ctx: typer.Context,
    source: str = typer.Argument(..., metavar="FILE|FORM_ID", help="A form file or a form id."),
    lang: str | None = typer.Option(None, "--lang", help="Language of labels."),
) -> None:
    """Show a form's question tree: types, logic and languages."""
    from rich.console import Console
    from rich.text import Text
    from rich.tree import Tree

    form = _load(ctx, source)
    console = Console()
    # The header is printed as lines that wrap, never cropped: languages and the version
    # are what a person needs from it.
    console.print(Text(form.title, style="bold"))
    version = form.version or "(none)"
    if form.version_from_content:
        version += " (from its content: the settings sheet gives none)"
    # The id is what a person types: one unbroken line (the terminal may wrap it).
    console.print(Text(f"id {form.id}"), soft_wrap=True)
    console.print(Text(f"version {version}"))
    if form.languages:
        console.print(Text(f"languages: {', '.join(form.languages)}"))
    if form.requires_consent:
        console.print(Text("needs consent first"))
    tree = Tree(Text(form.root, style="dim"))

    def add(branch: Tree, node: Node) -> None:
        line = f"[cyan]{node.name}[/] [dim]{node.type}[/]"
        label = node.label(lang)
        if label:
            line += f"  {_escape(label)}"
        flags = []
        if node.sensitive:
            flags.append("[red]sensitive[/]")
        for attr, word in (
            ("relevant", "relevant"),
            ("required", "required"),
            ("constraint", "constraint"),
            ("calculation", "calculation"),
            ("choice_filter", "choice_filter"),
            ("repeat_count", "repeat_count"),
            ("readonly", "read_only"),
            ("default", "default"),
        ):
            value = getattr(node, attr)
            if value:
                flags.append(f"{word}: {_escape(_flag_text(str(value)))}")
        if node.choices:
            names = " ".join(c.name for c in node.choices[:8])
            more = " …" if len(node.choices) > 8 else ""
            flags.append(f"choices: {_escape(names)}{more}")
        if flags:
            line += "\n" + "\n".join(f"[dim]  {f}[/]" for f in flags)
        child = branch.add(line)
        for sub in node.children:
            add(child, sub)

    for node in form.top.children:
        add(tree, node)
    console.print(tree)


def _flag_text(expression: str) -> str:
    """``true()``/``false()`` (a plain ``yes``/``no`` cell, as pyxform writes it) as words."""
    return {"true()": "yes", "false()": "no"}.get(expression.strip(), expression)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@forms_app.command("eval")
def evaluate(
    file: Path = typer.Argument(..., help="The XLSForm file."),
    steps: Path = typer.Option(
        ...,
        "--steps",
        help=(
            'JSON list of steps: {"set": NAME, "value": TEXT}, '
            '{"add_repeat": NAME, "count": N}, {"set_language": LANG}.'
        ),
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
    now: str | None = typer.Option(None, "--now", help="Pin the clock (ISO 8601)."),
) -> None:
    """Apply answer steps to a new record and print every question's state."""
    from fieldkit.errors import UsageError
    from fieldkit.forms import load_form
    from fieldkit.forms.steps import evaluate_steps, parse_now

    try:
        with steps.open("rb") as handle:
            raw = handle.read(64 << 20)  # bounded: a steps file is small; /dev/zero is not
        loaded: Any = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        # RecursionError: json gives up on arrays nested thousands deep; still bad input.
        raise UsageError(f"{steps.name}: not a readable JSON file") from None
    if not isinstance(loaded, list):
        raise UsageError(f"{steps.name}: the steps must be a JSON list")
    form = load_form(file)
    result = evaluate_steps(form, loaded, now=parse_now(now) if now else None)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("path", "value", "relevant", "required", "valid", "message")
    for node in result["nodes"]:
        table.add_row(
            node["path"],
            _escape(node["value"]),
            "yes" if node["relevant"] else "no",
            "yes" if node["required"] else "",
            "yes" if node["valid"] else "[red]no[/]",
            _escape(node["constraint_message"]) if not node["constraint_valid"] else "",
        )
    console = Console()
    console.print(table)
    for error in result["errors"]:
        console.print(f"[red]step {error['step']}[/]: {_escape(error['message'])}")
