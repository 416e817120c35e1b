"""Record ids as people type them: the whole id, or a prefix that no other id shares.

A list shows each id by its shortest prefix of at least ``SHORT`` characters that is unique in
the workspace (as git shows commits), and every command that takes a record id accepts such a
prefix; one that two ids share is refused, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from fieldkit.errors import RecordNotFound, UsageError
from fieldkit.text import one_line

if TYPE_CHECKING:
    from fieldkit.store import Record, Workspace

__all__ = ["MIN_PREFIX", "SHORT", "find_record", "match_prefix", "short_ids"]

SHORT = 8
# Shorter prefixes match too many ids by accident (a slip of the finger opens a stranger's
# record); four characters are still quick to type.
MIN_PREFIX = 4


def short_ids(ids: Iterable[str], *, length: int = SHORT) -> dict[str, str]:
    """Each id mapped to its shortest prefix of at least ``length`` characters that no other id
    starts with (the whole id when it is a prefix of another)."""
    ordered = sorted(set(ids))
    shown: dict[str, str] = {}
    for i, current in enumerate(ordered):
        need = length
        # In sorted order the ids sharing the longest prefix with this one are its neighbours.
        for other in ordered[max(0, i - 1) : i] + ordered[i + 1 : i + 2]:
            need = max(need, _common(current, other) + 1)
        shown[current] = current[:need]
    return shown


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def match_prefix(text: str, ids: Iterable[str], *, what: str = "record") -> str:
    """The id that is ``text``, or the only one that starts with it. ``UsageError`` (exit 2)
    for a prefix too short or shared by several ids, ``RecordNotFound`` when none matches."""
    wanted = text.strip().lower()
    known = list(ids)
    if wanted in known:
        return wanted
    shown = one_line(wanted, limit=40)
    if len(wanted) < MIN_PREFIX:
        raise UsageError(f"give at least {MIN_PREFIX} characters of the {what} id")
    matches = [i for i in known if i.lower().startswith(wanted)]
    if not matches:
        raise RecordNotFound(f"no {what} {shown} in this workspace")
    if len(matches) > 1:
        raise UsageError(f"{len(matches)} {what}s start with {shown}: type more of the id")
    return matches[0]


def find_record(ws: Workspace, text: str) -> Record:
    """The record whose id is ``text``, or the one record whose id starts with it."""
    wanted = text.strip().lower()
    try:
        return ws.records.get(wanted)
    except RecordNotFound:
        pass
    return ws.records.get(match_prefix(wanted, (r.id for r in ws.records.list())))
