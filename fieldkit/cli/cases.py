"""Commands: cases list | show | update | close | reopen | conflicts | resolve (DESIGN §5).

A case is a person followed by case code: their consent, screenings, referrals, services and
follow-ups. Lists show codes, status, dates and flags only, never a name or an answer.
"""

from __future__ import annotations

import json
from typing import Any

import typer

from fieldkit.cli._common import open_workspace_for
from fieldkit.cli.app import cases_app
from fieldkit.text import inert

# The group is made in app.py, where the case orders (withdraw, erase, assign) join it too.


def _flags(flags: list[str]) -> str:
    return " ".join(flags) if flags else "-"


@cases_app.command("list")
def list_cases(
    ctx: typer.Context,
    due: bool = typer.Option(False, "--due", help="Only open cases with something due or overdue."),
    mine: bool = typer.Option(False, "--mine", help="Only cases this laptop worked on or holds."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """List cases by case code: status, next due day, flags (urgent, child, overdue) — no
    names, no answers."""
    from fieldkit.cases import case_list

    with open_workspace_for(ctx) as ws:
        rows = case_list(ws, due=due, mine=mine)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        typer.echo("No cases due." if due else "No cases on this laptop.")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("case", "status", "next due", "flags"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(row["case"], row["status"], row["next_due"] or "-", _flags(row["flags"]))
    Console().print(table)
    typer.echo(f"{len(rows)} case{'' if len(rows) == 1 else 's'}.")


@cases_app.command("show")
def show_case(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="The case code (for example 7K-M4QX-R)."),
    reveal: bool = typer.Option(False, "--reveal", help="Show sensitive answers too (audited)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Show one case as a timeline: consent scopes, screenings, referrals with their status
    history, services, follow-ups done and due; sensitive answers masked unless --reveal."""
    from fieldkit.cases import case_view

    with open_workspace_for(ctx) as ws:
        view = case_view(ws, case, reveal=reveal)
    if as_json:
        typer.echo(json.dumps(view, ensure_ascii=False))
        return
    _render(view)


def _render(view: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    head = f"Case {view['case']}: {view['status']}"
    if view["flags"]:
        head += f"  [{' '.join(view['flags'])}]"
    console.print(Text(head, style="bold"))
    facts = [("identified", view["identified"]), ("first service", view["first_service"]),
             ("next due", view["next_due"])]  # fmt: skip
    console.print(Text("  ".join(f"{k}: {v or '-'}" for k, v in facts)))
    if view["held"]:
        console.print(Text(view["held"], style="yellow"))
    console.print(Text("\nTimeline", style="bold"))
    for item in view["timeline"]:
        console.print(Text(f"  {item['date']}  {inert(item['text'])}"))
    if view["referrals"]:
        console.print(Text("\nReferrals", style="bold"))
        table = Table(box=None, header_style="bold")
        for column in ("id", "services", "agency", "status", "history"):
            table.add_column(column, overflow="fold")
        for r in view["referrals"]:
            status = " | ".join(r["conflict"]) + " (conflict)" if r["conflict"] else r["status"]
            history = ", ".join(f"{s['status']} {s['date']}" for s in r["history"])
            table.add_row(r["id"], inert(" ".join(r["service_types"])), inert(r["agency"]),
                          status, history)  # fmt: skip
        console.print(table)
    if view["follow_ups"]:
        console.print(Text("\nFollow-ups", style="bold"))
        for f in view["follow_ups"]:
            done = f" on {f['done_on']}" if f["done_on"] else ""
            console.print(Text(f"  {f['month']:>2} months  {f['state']}{done}  due by {f['due']}"))
    for c in view["conflicts"]:
        console.print(
            Text(f"\nConflict on {c['field']}: {' | '.join(c['values'])}", style="yellow")
        )
    console.print(Text("\nRecords", style="bold"))
    for record in view["records"]:
        console.print(Text(f"  {record['date']}  {record['form_id']}  {record['id']}"))
        for path, value in record["answers"].items():
            name = path.rsplit("/", 1)[-1]
            console.print(Text(f"      {inert(name)}: {inert(value)}"))
    if not view["revealed"]:
        console.print(Text("\nSensitive answers are masked; --reveal shows them (audited)."))


def _said(text: str) -> None:
    typer.echo(text)


@cases_app.command("update")
def update_case(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="The case code."),
    referral: str | None = typer.Option(
        None, "--referral", help="The referral's id (as `cases show` gives it)."
    ),
    follow_up: int | None = typer.Option(
        None, "--follow-up", help="The follow-up, by month: 1, 3, 6 or 12."
    ),
    status: str | None = typer.Option(
        None,
        "--status",
        help="Referral: accepted, rejected, in_progress, done. Follow-up: done, missed, scheduled.",
    ),
    due: str | None = typer.Option(None, "--due", help="Follow-up: a new due day, YYYY-MM-DD."),
    day: str | None = typer.Option(None, "--date", help="When it happened (default today)."),
) -> None:
    """Change a referral's status or a follow-up: a small signed event, not a new copy."""
    from fieldkit.cases import update_follow_up, update_referral
    from fieldkit.errors import UsageError

    if (referral is None) == (follow_up is None):
        raise UsageError("give either --referral ID or --follow-up MONTH")
    with open_workspace_for(ctx) as ws:
        if referral is not None:
            if status is None:
                raise UsageError("--status is needed for a referral")
            event = update_referral(ws, case, referral, status, day=day)
            _said(f"Referral {event.field.split('/')[1]} of case {event.case}: {event.value} "
                  f"on {event.date}.")  # fmt: skip
        else:
            assert follow_up is not None
            for event in update_follow_up(ws, case, follow_up, status=status, due=due, day=day):
                what = "due by" if event.field.endswith("/due") else "is"
                _said(f"{follow_up}-month follow-up of case {event.case} {what} {event.value}.")


@cases_app.command("close")
def close(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="The case code."),
    day: str | None = typer.Option(None, "--date", help="When it was closed (default today)."),
) -> None:
    """Close a case: it leaves the due lists (reopen brings it back)."""
    from fieldkit.cases import close_case

    with open_workspace_for(ctx) as ws:
        event = close_case(ws, case, day=day)
    _said(f"Case {event.case} closed on {event.date}.")


@cases_app.command("reopen")
def reopen(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="The case code."),
    day: str | None = typer.Option(None, "--date", help="When it was reopened (default today)."),
) -> None:
    """Reopen a closed case."""
    from fieldkit.cases import reopen_case

    with open_workspace_for(ctx) as ws:
        event = reopen_case(ws, case, day=day)
    _said(f"Case {event.case} reopened on {event.date}.")


@cases_app.command("conflicts")
def conflicts(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """List fields two laptops changed from the same earlier value, with both values kept."""
    from fieldkit.cases import list_conflicts

    with open_workspace_for(ctx) as ws:
        found = list_conflicts(ws)
    if as_json:
        typer.echo(json.dumps([c.as_dict() for c in found], ensure_ascii=False))
        return
    if not found:
        _said("No conflicts.")
        return
    for c in found:
        changes = "; ".join(f"{e.value} ({e.date}, {e.device[:12]})" for e in c.events)
        _said(f"{c.case}  {c.field}: {changes}")
    _said(f"{len(found)} conflict(s): `fieldkit cases resolve CASE FIELD --take VALUE`.")


@cases_app.command("resolve")
def resolve(
    ctx: typer.Context,
    case: str = typer.Argument(..., help="The case code."),
    field: str = typer.Argument(..., help="The field in conflict (as `cases conflicts` names it)."),
    take: str = typer.Option(..., "--take", help="The value that holds (one of those kept)."),
) -> None:
    """Resolve a conflict: a person's decision, recorded as an event."""
    from fieldkit.cases import resolve_conflict

    with open_workspace_for(ctx) as ws:
        event = resolve_conflict(ws, case, field, take)
    _said(f"{event.field} of case {event.case} is {event.value}.")
