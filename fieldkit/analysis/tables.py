"""Records of one form → linked tables, the shape KoboToolbox and ODK Central users expect.

One table for the form and one per repeat group (nested repeats too). Every table has
``_index`` (1-based row number); a repeat table also has ``_parent_index`` (the ``_index`` of
the row it belongs to), ``_parent_table`` and ``_record_id``; the same linking habit as
KoboToolbox's formpack exports (``_index`` / ``_parent_index`` / ``_parent_table_name``) so
analysts' joins carry over. The form table carries the record's metadata (``_id``,
``_form_version``, ``_device``, ``_capture_day``, ``_finalized_at``, ``_replaces``, ``_status``,
``_case_id``) and the duplicate flags of ``duplicates.py``.

The core, :func:`build_tables`, needs only the Form model of each version and record-like
objects; :func:`tables` is the workspace entry point. pandas is imported inside the functions so
that importing this module (the CLI does) costs nothing.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from fieldkit.analysis._columns import (
    Headers,
    SelectMultiple,
    build_frame,
    index_series,
    text_column,
    unique_name,
)
from fieldkit.analysis._rows import RecordLike, TableRows, collect_rows
from fieldkit.analysis._schema import FormLike, Schema, build_schema
from fieldkit.errors import ExportError, UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "META_COLUMNS",
    "REPEAT_LINK_COLUMNS",
    "RecordLike",
    "build_tables",
    "tables",
]

Progress = Callable[[int, int], None]

META_COLUMNS = (
    "_id",
    "_form_version",
    "_device",
    "_capture_day",
    "_finalized_at",
    "_replaces",
    "_status",
    "_case_id",
)
REPEAT_LINK_COLUMNS = ("_index", "_parent_index", "_parent_table", "_record_id")

# Statuses a coordinator's export leaves out: a draft is not a submission (ODK Central
# exports only submitted instances).
_NOT_SUBMITTED = {"draft", "discarded"}

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# ------------------------------------------------------------------------- entry points


def tables(
    workspace: Any,
    form_id: str,
    *,
    select_multiple: SelectMultiple = "both",
    headers: Headers = "names",
    lang: str | None = None,
    include_sensitive: Collection[str] = (),
    history: bool = False,
    since: date | None = None,
    duplicate_keys: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, pd.DataFrame]:
    """One DataFrame per table of ``form_id`` from the workspace's records (see module doc)."""
    versions = form_versions(workspace, form_id)
    records = workspace.records.list(form_id=form_id)
    return build_tables(
        versions,
        records,
        select_multiple=select_multiple,
        headers=headers,
        lang=lang,
        include_sensitive=include_sensitive,
        history=history,
        since=since,
        duplicate_keys=duplicate_keys,
        progress=progress,
    )


def form_versions(workspace: Any, form_id: str) -> list[FormLike]:
    """Every stored version of a form as Form models, oldest first and the latest last.

    ``FormNotFound`` (from the store) when the workspace has no such form.
    """
    latest = workspace.forms.get(form_id)
    older = [
        fv.form()
        for fv in workspace.forms.list()
        if fv.form_id == form_id and fv.version != latest.version
    ]
    return [*older, latest.form()]


def build_tables(
    versions: Sequence[FormLike],
    records: Iterable[RecordLike],
    *,
    select_multiple: SelectMultiple = "both",
    headers: Headers = "names",
    lang: str | None = None,
    include_sensitive: Collection[str] = (),
    history: bool = False,
    since: date | None = None,
    duplicate_keys: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, pd.DataFrame]:
    """Linked tables from the Form model of every version (latest last) and the records.

    Only submitted records appear (no drafts), each record id once, and only the latest
    version of an edited record unless ``history`` (then ``_latest`` tells which rows are
    current). ``since`` keeps records finalized on or after that day.
    """
    if select_multiple not in ("both", "summary", "details"):
        raise UsageError("--select-multiple must be both, summary or details")
    if headers not in ("names", "labels"):
        raise UsageError("--headers must be names or labels")
    if not versions:
        raise ExportError("the form has no stored version to export with")
    form_id = versions[-1].id
    lang = _check_language(versions, lang)
    schema = build_schema(form_id, versions)
    included = _included_columns(schema, include_sensitive)
    from fieldkit.analysis.duplicates import default_duplicate_keys

    keys = list(duplicate_keys) if duplicate_keys is not None else default_duplicate_keys(schema)
    key_columns = {
        c.key for c in schema.columns.values() if c.name in keys and c.table == schema.root
    }
    missing = [k for k in keys if not any(schema.columns[c].name == k for c in key_columns)]
    if missing:
        raise UsageError(
            f"no top-level field named {missing[0]} in form {form_id} to match duplicates"
        )
    with _collector_paused():
        return _assemble(
            schema,
            records,
            included=included,
            key_columns=key_columns,
            keys=keys,
            select_multiple=select_multiple,
            headers=headers,
            lang=lang,
            history=history,
            since=since,
            progress=progress,
        )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while tables are built.

    An export makes millions of small dicts and tuples and no reference cycles; each
    automatic full collection walks all of them again for nothing (10-15% of an export of
    100,000 records). Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _assemble(
    schema: Schema,
    records: Iterable[RecordLike],
    *,
    included: set[str],
    key_columns: set[str],
    keys: list[str],
    select_multiple: SelectMultiple,
    headers: Headers,
    lang: str | None,
    history: bool,
    since: date | None,
    progress: Progress | None,
) -> dict[str, pd.DataFrame]:
    from fieldkit.analysis.duplicates import duplicate_flags

    chosen, latest = _choose_records(records, history=history, since=since)
    built = collect_rows(schema, included | key_columns, chosen, progress=progress)
    out: dict[str, pd.DataFrame] = {}
    for tkey, spec in schema.tables.items():
        rows = built.tables[tkey]
        frame = build_frame(
            spec,
            rows,
            [c for c in spec.columns if c.key in included],
            select_multiple=select_multiple,
            headers=headers,
            lang=lang,
        )
        if spec.parent is None:
            frame = _with_root_meta(frame, rows, latest=latest if history else None)
            if keys:
                key_values = {k: _raw_by_name(schema, rows, k) for k in keys}
                current = None if not history else [r.id in latest for r in rows.records]
                flagged, group = duplicate_flags(key_values, current=current)
                frame["_possible_duplicate"] = flagged
                frame["_duplicate_group"] = group
        else:
            frame = _with_repeat_links(frame, rows, schema.tables[spec.parent].name)
        if spec.parent is None:
            frame["_index"] = index_series(len(rows))
        out[spec.name] = frame
    return out


# ---------------------------------------------------------------------------- choosing


def _check_language(versions: Sequence[FormLike], lang: str | None) -> str | None:
    """The form's own name for ``lang``: "en" finds "English (en)" (XLSForm's
    ``label::English (en)`` convention), so a user can type the code."""
    if lang is None:
        return None
    known: list[str] = []
    for form in versions:
        known += [x for x in (getattr(form, "languages", None) or ()) if x and x not in known]
    if not known or lang in known:
        return lang
    by_code = [x for x in known if x.lower().endswith(f"({lang.lower()})")]
    if len(by_code) == 1:
        return by_code[0]
    raise UsageError(f"the form has no language {lang} (it has {', '.join(known)})")


def _included_columns(schema: Schema, include_sensitive: Collection[str]) -> set[str]:
    """Keys of the leaves to export: all but sensitive ones not named by the user (DOMAIN §5)."""
    wanted = set(include_sensitive)
    sensitive = {c.key: c for c in schema.columns.values() if c.sensitive}
    by_name = {c.name for c in sensitive.values()} | set(sensitive)
    unknown = sorted(wanted - by_name)
    if unknown:
        raise UsageError(f"no sensitive field named {unknown[0]} in form {schema.form_id}")
    return {
        c.key
        for c in schema.columns.values()
        if not c.sensitive or c.name in wanted or c.key in wanted
    }


def _as_datetime(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _choose_records(
    records: Iterable[RecordLike], *, history: bool, since: date | None
) -> tuple[list[RecordLike], set[str]]:
    """Submitted records, each id once, in capture order; and the ids that are current.

    An edit is a new record naming the one it replaces (ODK's deprecatedID), so a record is
    current when no other submitted record replaces it; chains of edits resolve by themselves.
    """
    unique: dict[str, RecordLike] = {}
    for record in records:
        if record.status in _NOT_SUBMITTED:
            continue
        # The same record id from two pulls is one record (DESIGN §6: the server stores it once).
        unique.setdefault(record.id, record)
    replaced = {r.replaces for r in unique.values() if r.replaces}
    latest = {rid for rid in unique if rid not in replaced}
    chosen = list(unique.values()) if history else [unique[rid] for rid in unique if rid in latest]
    if since is not None:
        chosen = [r for r in chosen if (_day(r) or date.min) >= since]

    def order(r: RecordLike) -> tuple[str, str, str]:
        # Capture day first: a record pulled today but captured last month sorts by capture.
        when = r.finalized_at or r.created_at
        return (_capture_day(r) or "", when if isinstance(when, str) else str(when or ""), r.id)

    chosen.sort(key=order)
    return chosen, latest


def _day(record: RecordLike) -> date | None:
    when = _as_datetime(record.finalized_at) or _as_datetime(record.created_at)
    return when.date() if when else None


def _iso(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None  # the store's ISO 8601 UTC text, kept exactly
    when = _as_datetime(value)
    return when.isoformat() if when else None


def _with_root_meta(
    frame: pd.DataFrame, rows: TableRows, *, latest: set[str] | None
) -> pd.DataFrame:
    recs = rows.records
    meta = [
        (r.id, r.form_version, r.device, _capture_day(r), _iso(r.finalized_at), r.replaces,
         r.status, r.case_id)
        for r in recs
    ]  # fmt: skip
    columns = list(zip(*meta, strict=True)) if meta else [() for _ in META_COLUMNS]
    for name, values in zip(META_COLUMNS, columns, strict=True):
        frame[unique_name(name, frame.columns)] = text_column(values)
    if latest is not None:
        import pandas as pd

        frame["_latest"] = pd.Series([r.id in latest for r in recs], dtype="boolean")
    return frame


def _capture_day(record: RecordLike) -> str | None:
    # The routing header's capture day (DESIGN §3) when the record has one; a received
    # record's created_at is the day it was pulled, not captured.
    day = getattr(record, "capture_day", None)
    if type(day) is str and len(day) == 10 and _DAY.match(day):
        return day  # the store's YYYY-MM-DD text: no parsing for 100,000 records
    when = _as_datetime(day) or _as_datetime(record.created_at)
    return when.date().isoformat() if when else None


def _with_repeat_links(frame: pd.DataFrame, rows: TableRows, parent_name: str) -> pd.DataFrame:
    import pandas as pd

    n = len(rows)
    frame["_index"] = index_series(n)
    frame["_parent_index"] = pd.Series(rows.parent_index, dtype="Int64")
    frame["_parent_table"] = text_column([parent_name] * n)
    frame["_record_id"] = text_column([r.id for r in rows.records])
    return frame


def _raw_by_name(schema: Schema, rows: TableRows, name: str) -> Sequence[str | None]:
    """A root-table field's raw text by name (sensitive or not: flags reveal no value)."""
    keys = [c.key for c in schema.columns.values() if c.name == name and c.table == schema.root]
    if not keys:
        return [None] * len(rows)
    key = keys[0]
    return [v.get(key) or None for v in rows.values]
