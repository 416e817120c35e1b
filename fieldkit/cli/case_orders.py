"""Commands: cases withdraw|erase|assign — a coordinator's signed orders about one case
(DOMAIN §8, DESIGN §5). The library side is ``fieldkit.exchange.case_orders``.

Output names the order and counts, never the case's answers; the case code is what the
coordinator typed, and is echoed back nowhere.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from fieldkit.cli._common import open_workspace_for

if TYPE_CHECKING:
    from fieldkit.exchange.case_orders import CaseOrder

__all__ = ["register"]

_CASE_HELP = "The case code (from the person's card), e.g. 7K-M4QX-R."
_JSON_HELP = "Print the order as JSON."


def _show(orders: list[CaseOrder], *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([o.as_json() for o in orders]))
        return
    for order in orders:
        if order.kind == "erasure":
            typer.echo(
                f"Erasure order {order.order_id} issued ({order.status}): "
                f"{order.records_here} record(s) deleted on this laptop, {order.envelopes} "
                "named for the server. Devices apply it on their next sync."
            )
        elif order.kind == "withdrawal":
            typer.echo(
                f"Withdrawal order {order.order_id} issued ({order.status}). Devices apply "
                "it on their next sync."
            )
        else:
            typer.echo(
                f"Assignment order {order.order_id} issued ({order.status}): {order.envelopes} "
                "record(s) readable by that device from its next sync, by no other field device."
            )


def register(group: typer.Typer) -> None:
    """Add ``withdraw``, ``erase`` and ``assign`` to the ``cases`` group."""

    @group.command("withdraw")
    def withdraw(
        ctx: typer.Context,
        case: str = typer.Argument(..., help=_CASE_HELP),
        scope: list[str] = typer.Option(
            ...,
            "--scope",
            help="A consent scope the person withdrew: interview, store, contact, share or "
            "statistics (repeat for several). Withdrawing store erases the case.",
        ),
        yes: bool = typer.Option(False, "--yes", help="Do not ask to confirm an erasure."),
        as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
    ) -> None:
        """Coordinator: record that the person withdrew consent scopes; devices stop what
        needs them (sharing with a partner, contact) from their next sync."""
        from fieldkit.exchange.case_orders import withdraw_case

        scopes = [part for item in scope for part in item.replace(",", " ").split()]
        if "store" in {s.lower() for s in scopes} and not yes:
            _confirm_erasure()
        with open_workspace_for(ctx) as ws:
            orders = withdraw_case(ws, case, scopes)
        _show(orders, as_json=as_json)

    @group.command("erase")
    def erase(
        ctx: typer.Context,
        case: str = typer.Argument(..., help=_CASE_HELP),
        yes: bool = typer.Option(False, "--yes", help="Do not ask to confirm."),
        as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
    ) -> None:
        """Coordinator: erase a case everywhere — every laptop deletes its records and drafts
        on its next sync, the server its envelopes; exports and reports leave it out."""
        from fieldkit.exchange.case_orders import erase_case

        if not yes:
            _confirm_erasure()
        with open_workspace_for(ctx) as ws:
            order = erase_case(ws, case)
        _show([order], as_json=as_json)

    @group.command("assign")
    def assign(
        ctx: typer.Context,
        case: str = typer.Argument(..., help=_CASE_HELP),
        device: str = typer.Option(
            ..., "--device", help="The field device's id (`fieldkit project devices`)."
        ),
        as_json: bool = typer.Option(False, "--json", help=_JSON_HELP),
    ) -> None:
        """Coordinator: assign (or transfer) a case to a worker's device: its records become
        readable there, and by no other field device."""
        from fieldkit.exchange.case_orders import assign_case

        with open_workspace_for(ctx) as ws:
            order = assign_case(ws, case, device)
        _show([order], as_json=as_json)


def _confirm_erasure() -> None:
    from fieldkit.errors import UsageError

    try:
        sure = typer.confirm(
            "Erase this case on every laptop and on the server? This cannot be undone."
        )
    except typer.Abort:
        raise UsageError("not confirmed: nothing was erased (use --yes in scripts)") from None
    if not sure:
        raise UsageError("not confirmed: nothing was erased")
