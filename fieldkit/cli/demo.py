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
    import shlex

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
    program, activate = how_to_run()
    pf = shlex.quote(str(result.root / PASSPHRASE_FILE))
    report = shlex.quote(str(result.root / "r.html"))
    for who, command in (("field", "records list"), ("coordinator", f"report --out {report}")):
        home = shlex.quote(str(result.root / who))
        console.print(f"  {program} --home {home} --passphrase-file {pf} {command}")
    if activate:
        console.print(f"(or `{activate}` first: then plain `fieldkit` works in this shell)")


def how_to_run() -> tuple[str, str | None]:
    """The command that runs this fieldkit from where the user stands, and the line that
    activates its virtual environment when plain ``fieldkit`` is not on PATH (else None).

    Right after the README's command the program is ``.venv/bin/fieldkit``, not on PATH: a
    hint that starts with ``fieldkit`` would answer "command not found".
    """
    import os
    import shutil
    import sys

    name = "fieldkit.exe" if os.name == "nt" else "fieldkit"
    script = Path(sys.argv[0])
    if script.name != name or not script.is_file():
        # Not the console script (a test runner, python -c): the one beside this interpreter.
        script = Path(sys.executable).parent / name
    on_path = shutil.which("fieldkit")
    if not script.is_file() or (on_path and os.path.samefile(on_path, script)):
        return "fieldkit", None
    shown = _from_here(script)
    activate = script.parent / "activate"
    hint = f"source {_from_here(activate)}" if activate.is_file() and os.name != "nt" else None
    return shown, hint


def _from_here(path: Path) -> str:
    """``path`` as typed from the current folder: relative below it, else absolute."""
    import os
    import shlex

    absolute = path.absolute()
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # another drive (Windows)
        return str(absolute)
    if relative.startswith(".."):
        return shlex.quote(str(absolute))
    return shlex.quote(relative if os.sep in relative else os.path.join(".", relative))
