"""Finding a draft to resume: by id, by a unique id prefix, or from a numbered list.

The list names each draft by its form and case code only, with when it was last saved: no
answer is shown (a list is what someone looking over a shoulder reads first, DOMAIN §5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from fieldkit.capture._consent import CASE_QUESTION
from fieldkit.capture._words import say
from fieldkit.errors import RecordNotFound, UsageError
from fieldkit.text import one_line

if TYPE_CHECKING:
    from fieldkit.capture._terminal import Terminal
    from fieldkit.store import Record, Workspace

__all__ = ["DraftSummary", "choose_draft", "drafts", "find_record"]

# Shorter prefixes match too many ids by accident (a slip of the finger resumes a stranger's
# draft); four hex characters are still quick to type.
MIN_PREFIX = 4


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


def find_record(ws: Workspace, text: str) -> Record:
    """The record whose id is ``text``, or the one record whose id starts with it."""
    wanted = text.strip().lower()
    try:
        return ws.records.get(wanted)
    except RecordNotFound:
        pass
    if len(wanted) < MIN_PREFIX:
        raise UsageError(f"give at least {MIN_PREFIX} characters of the record id")
    matches = [r for r in ws.records.list() if r.id.lower().startswith(wanted)]
    if not matches:
        raise RecordNotFound(f"no record id starts with {one_line(wanted, limit=40)}")
    if len(matches) > 1:
        raise UsageError(
            f"{len(matches)} records start with {one_line(wanted, limit=40)}: type more of the id"
        )
    return matches[0]


def choose_draft(
    ws: Workspace, *, terminal: Terminal, form_id: str | None = None, lang: str | None = None
) -> str | None:
    """Show this laptop's drafts numbered and return the id picked (None: none, or cancel)."""
    from rich.table import Table
    from rich.text import Text

    found = drafts(ws, form_id=form_id)
    if not found:
        terminal.show(Text(say("drafts_none", lang)))
        return None
    table = Table(title=say("drafts_title", lang), title_justify="left", box=None, padding=(0, 2))
    table.add_column("#", justify="right")
    for key in ("form_column", "case_column", "saved_column", "id_column"):
        table.add_column(say(key, lang))
    for number, draft in enumerate(found, start=1):
        table.add_row(
            str(number),
            Text(one_line(draft.form_id, limit=40)),
            Text(one_line(draft.case_code, limit=24) or "—"),
            Text(draft.updated_at[:16].replace("T", " ")),
            Text(draft.id[:8]),
        )
    terminal.show(table)
    while True:
        answer = terminal.ask(say("drafts_pick", lang)).strip()
        if answer == "":
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(found):
            return found[int(answer) - 1].id
        terminal.show(Text(f"! {say('drafts_bad', lang, count=len(found))}", style="yellow"))
