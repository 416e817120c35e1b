"""Commands: export and report (the coordinator's side, DESIGN §7)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer

from fieldkit.cli.app import app
from fieldkit.errors import UsageError

# Below this many records or rows an export is quick: plain output, no bar.
_PROGRESS_FROM = 5_000


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{option} must be a date like 2026-01-31") from None


def _names(values: list[str]) -> list[str]:
    """Repeated options, each may also hold a comma-separated list."""
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


class _Bar:
    """A rich progress bar shown only for large exports on a terminal."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._off = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        if total < _PROGRESS_FROM or self._off:
            return
        if self._progress is None:
            from rich.console import Console
            from rich.progress import Progress

            console = Console(stderr=True)
            if not console.is_terminal:
                self._off = True  # piped or scripted: plain output only
                return
            self._progress = Progress(console=console, transient=True)
            self._progress.start()
        if phase not in self._tasks:
            label = "Building tables" if phase == "records" else "Writing"
            self._tasks[phase] = self._progress.add_task(label, total=total)
        self._progress.update(self._tasks[phase], completed=done)

    def close(self) -> None:
        """Remove the bar from the terminal (it is transient)."""
        if self._progress is not None:
            self._progress.stop()


@app.command("export")
def export_command(
    ctx: typer.Context,
    form: str = typer.Option(..., "--form", help="Form id to export."),
    fmt: str = typer.Option(..., "--format", help="csv, xlsx or parquet."),
    out: Path = typer.Option(..., "--out", help="Folder to write the files into."),
    lang: str | None = typer.Option(None, "--lang", help="Language of labels (name or code)."),
    headers: str = typer.Option("names", "--headers", help="Column headers: names or labels."),
    values: str = typer.Option(
        "names", "--values", help="Choice answers as names or labels (in --lang)."
    ),
    select_multiple: str = typer.Option(
        "both", "--select-multiple", help="both, summary (one column) or details (0/1 columns)."
    ),
    include_sensitive: list[str] = typer.Option(
        [], "--include-sensitive", help="Sensitive field to include (repeat, or comma-separate)."
    ),
    include_media: bool = typer.Option(
        False,
        "--include-media",
        help="Photos, recordings and files too, written under OUT/media/FORM/ (plaintext).",
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only records finalized on or after this day (YYYY-MM-DD)."
    ),
    history: bool = typer.Option(
        False,
        "--history",
        help="Include every version of edited records (_latest marks the current).",
    ),
    duplicate_key: list[str] = typer.Option(
        [],
        "--duplicate-key",
        help="Fields that mark likely duplicate persons (default: client_pseudonym).",
    ),
    codes: str = typer.Option(
        "none", "--codes", help="ctdc: fields with a ctdc column as CTDC codes (-99 missing)."
    ),
    hxl: bool = typer.Option(
        False, "--hxl", help="A HXL hashtag row under the headers (tables without personal data)."
    ),
    neutralise: bool = typer.Option(
        True,
        "--neutralise/--no-neutralise",
        help="CSV: prefix text that a spreadsheet would run as a formula with an apostrophe.",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace this form's files from an earlier export."
    ),
) -> None:
    """Export a form's records as linked tables, with a codebook and a manifest."""
    from fieldkit.analysis.export import export_form
    from fieldkit.analysis.options import ExportOptions
    from fieldkit.cli._common import open_workspace_for

    if fmt not in ("csv", "xlsx", "parquet"):
        raise UsageError("--format must be csv, xlsx or parquet")
    options = ExportOptions(
        select_multiple=select_multiple,  # type: ignore[arg-type]
        headers=headers,  # type: ignore[arg-type]
        values=values,  # type: ignore[arg-type]
        lang=lang,
        include_sensitive=tuple(_names(include_sensitive)),
        include_media=include_media,
        history=history,
        since=_day(since, "--since"),
        duplicate_keys=tuple(_names(duplicate_key)) or None,
        codes=codes,  # type: ignore[arg-type]
        hxl=hxl,
        neutralise_csv=neutralise,
        overwrite=overwrite,
    )
    bar = _Bar()
    try:
        with open_workspace_for(ctx) as ws:
            result = export_form(
                ws,
                form,
                fmt=fmt,  # type: ignore[arg-type]
                out_dir=out,
                options=options,
                progress=bar,
            )
    finally:
        bar.close()
    total = sum(result.rows.values())
    typer.echo(f"Exported {len(result.rows)} table(s), {total} row(s), to {out}:")
    for path in result.files:
        typer.echo(f"  {path.name}")


@app.command("report")
def report_command(
    ctx: typer.Context,
    out: Path | None = typer.Option(
        None, "--out", help="File to write (HTML; JSON with --json). --json alone prints JSON."
    ),
    date_from: str | None = typer.Option(None, "--from", help="First day (YYYY-MM-DD)."),
    date_to: str | None = typer.Option(None, "--to", help="Last day (YYYY-MM-DD)."),
    min_cell: int = typer.Option(11, "--min-cell", help="Cells with fewer people show as <k."),
    resolution: int = typer.Option(5, "--resolution", help="Round counts down to a multiple."),
    as_json: bool = typer.Option(False, "--json", help="The same figures as JSON."),
    lang: str = typer.Option("en", "--lang", help="Language of labels and page: en or fr."),
    programme: str | None = typer.Option(
        None, "--programme", help="Programme name for the title (default: the project's)."
    ),
    organisation: str | None = typer.Option(
        None, "--organisation", help="Organisation named under the title."
    ),
) -> None:
    """The programme's indicator report, small cells suppressed: HTML with plots, or JSON."""
    from fieldkit.analysis.report import build_report, render_json, write_report
    from fieldkit.cli._common import open_workspace_for

    if out is None and not as_json:
        raise UsageError("--out is required (or use --json to print the figures)")
    start, end = _day(date_from, "--from"), _day(date_to, "--to")
    with open_workspace_for(ctx) as ws:
        result = build_report(
            ws,
            date_from=start,
            date_to=end,
            min_cell=min_cell,
            resolution=resolution,
            lang=lang,
            programme=programme,
            organisation=organisation,
        )
    if out is None:
        typer.echo(render_json(result))
        return
    write_report(result, out, as_json=as_json)
    available = sum(1 for i in result.indicators if i.available)
    typer.echo(f"Report written to {out} ({available} of {len(result.indicators)} indicators).")
