"""Command: ``fieldkit demo`` — the whole job on embedded defaults."""

from __future__ import annotations

from pathlib import Path

import typer

from fieldkit.cli.app import app


@app.command()
def demo(
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the demo (default: a new temporary folder)."
    ),
    needs: int = typer.Option(200, "--needs", min=0, help="Needs assessments to invent."),
    screenings: int = typer.Option(
        50, "--screenings", min=0, help="People to invent consent, screening and referral for."
    ),
    seed: int = typer.Option(2026, "--seed", help="Seed of the invented interviews."),
) -> None:
    """Run the whole job end to end on invented data, in a folder it names.

    A local server, a project, a coordinator's and a field worker's workspaces, enrolment,
    interviews, sync, pull, CSV export and the indicator report.
    """
    from rich.console import Console

    from fieldkit.demo import PASSPHRASE_FILE, run_demo

    console = Console(highlight=False, soft_wrap=True)
    if out is not None and out.exists() and any(out.iterdir()):
        from fieldkit.errors import UsageError

        raise UsageError(f"{out} is not empty; the demo needs an empty or new folder")
    with console.status("starting…") as status:

        def step(text: str) -> None:
            console.print(f"  {text}")
            status.update(text)

        result = run_demo(root=out, needs=needs, screenings=screenings, seed=seed, step=step)
    captured = ", ".join(
        f"{n} {form}"
        for form, n in sorted(result.captured.items())
        if not form.endswith("_not_sent")
    )
    console.print()
    console.print(f"Done in {result.seconds:.1f} s. Everything is in {result.root}")
    console.print(f"  captured on the field laptop: {captured}")
    if result.refused_consent:
        console.print(f"  consent refused or unsafe, stopped there: {result.refused_consent}")
    if result.not_saved:
        refused = ", ".join(f"{n} {form}" for form, n in sorted(result.not_saved.items()))
        console.print(f"  refused by the form's own rules, not saved: {refused}")
    console.print(f"  sent to the server, sealed: {result.pushed}")
    console.print(f"  pulled and decrypted by the coordinator: {result.pulled}")
    console.print(f"  CSV exports: {result.export_dir}")
    console.print(f"  report ({result.indicators} indicators): {result.report}")
    console.print()
    console.print("Look around (the demo passphrase is in the folder):")
    pf = result.root / PASSPHRASE_FILE
    for who, command in (("field", "records list"), ("coordinator", "report --out r.html")):
        console.print(f"  fieldkit --home {result.root / who} --passphrase-file {pf} {command}")
