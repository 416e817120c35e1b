"""Finding a draft to resume: by id, by a unique id prefix, or from a numbered list.

The list names each draft by its form and case code only, with when it was last saved: no
answer is shown (a list is what someone looking over a shoulder reads first, DOMAIN §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fieldkit.capture._consent import CASE_QUESTION
from fieldkit.capture._words import say
from fieldkit.ids import find_record
from fieldkit.text import one_line

if TYPE_CHECKING:
    from fieldkit.capture._terminal import Terminal
    from fieldkit.store import Record, Workspace

__all__ = ["DraftSummary", "choose_draft", "drafts", "find_record"]

@dataclass(frozen=True)
class DraftSummary:
    """A draft as the list shows it: no answers, only how to recognise it."""

    id: str
    form_id: str
    form_version: str
    case_code: str
    updated_at: str


def _case_code(record: Record) -> str:
    for path, value in record.answers.items():
        if path.rsplit("/", 1)[-1] == CASE_QUESTION and value:
            return value
    return ""


def drafts(ws: Workspace, *, form_id: str | None = None) -> list[DraftSummary]:
    """This laptop's drafts (of ``form_id``, when given), oldest first."""
    return [
        DraftSummary(
            id=r.id,
            form_id=r.form_id,
            form_version=r.form_version,
            case_code=_case_code(r),
            updated_at=str(r.updated_at or ""),
        )
        for r in ws.records.list(status="draft", form_id=form_id)
    ]


def choose_draft(
    ws: Workspace, *, terminal: Terminal, form_id: str | None = None, lang: str | None = None
) -> str | None:
    """Show this laptop's drafts numbered and return the id picked (None: none, or cancel)."""
    from rich.table import Table
    from rich.text import Text

    from fieldkit.ids import short_ids

    found = drafts(ws, form_id=form_id)
    if not found:
        terminal.show(Text(say("drafts_none", lang)))
        return None
    table = Table(title=say("drafts_title", lang), title_justify="left", box=None, padding=(0, 2))
    table.add_column("#", justify="right")
    for key in ("form_column", "case_column", "saved_column", "id_column"):
        table.add_column(say(key, lang))
    # The id as `--resume` takes it: a prefix no other record of this workspace shares.
    short = short_ids(r.id for r in ws.records.list())
    for number, draft in enumerate(found, start=1):
        table.add_row(
            str(number),
            Text(one_line(draft.form_id, limit=40)),
            Text(one_line(draft.case_code, limit=24) or "—"),
            Text(draft.updated_at[:16].replace("T", " ")),
            Text(short[draft.id]),
        )
    terminal.show(table)
    while True:
        answer = terminal.ask(say("drafts_pick", lang)).strip()
        if answer == "":
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(found):
            return found[int(answer) - 1].id
        terminal.show(Text(f"! {say('drafts_bad', lang, count=len(found))}", style="yellow"))
