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

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fieldkit.analysis._schema import (
    DECIMAL,
    GEOPOINT,
    INTEGER,
    SELECT_MULTIPLE,
    ColumnSpec,
    FormLike,
    Schema,
    TableSpec,
    build_schema,
)
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

SelectMultiple = Literal["both", "summary", "details"]
Headers = Literal["names", "labels"]
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
GEOPOINT_PARTS = ("latitude", "longitude", "altitude", "precision")

# Statuses a coordinator's export leaves out: a draft is not a submission (ODK Central
# exports only submitted instances).
_NOT_SUBMITTED = {"draft", "discarded"}

_POSITION = re.compile(r"\[(\d+)\]")


class RecordLike(Protocol):
    """The part of ``fieldkit.store.Record`` an export reads."""

    @property
    def id(self) -> str: ...

    @property
    def form_id(self) -> str: ...

    @property
    def form_version(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def replaces(self) -> str | None: ...

    @property
    def case_id(self) -> str | None: ...

    @property
    def device(self) -> str | None: ...

    @property
    def created_at(self) -> Any: ...

    @property
    def finalized_at(self) -> Any: ...

    @property
    def answers(self) -> Mapping[str, str]: ...


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
    """Every stored version of a form as Form models, oldest first and the latest last."""
    from fieldkit.errors import FormNotFound

    latest = workspace.forms.get(form_id)  # raises FormNotFound when the form is unknown
    if latest is None:
        raise FormNotFound(f"no form {form_id} in this workspace")
    older = [
        fv
        for fv in workspace.forms.list()
        if getattr(fv, "form_id", None) == form_id and fv.version != latest.version
    ]
    forms: list[FormLike] = []
    for fv in older:
        full = fv if hasattr(fv, "form") else workspace.forms.get(form_id, fv.version)
        forms.append(full.form())
    forms.append(latest.form())
    return forms


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
    from fieldkit.analysis.duplicates import default_duplicate_keys, duplicate_flags

    keys = list(duplicate_keys) if duplicate_keys is not None else default_duplicate_keys(schema)
    key_columns = {
        c.key for c in schema.columns.values() if c.name in keys and c.table == schema.root
    }
    missing = [k for k in keys if not any(schema.columns[c].name == k for c in key_columns)]
    if missing:
        raise UsageError(
            f"no top-level field named {missing[0]} in form {form_id} to match duplicates"
        )
    chosen, latest = _choose_records(records, history=history, since=since)
    built = _collect_rows(schema, included | key_columns, chosen, progress=progress)
    out: dict[str, pd.DataFrame] = {}
    for tkey, spec in schema.tables.items():
        rows = built.tables[tkey]
        frame = _frame(
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
                current = None if not history else [r.record.id in latest for r in rows.rows]
                flagged, group = duplicate_flags(key_values, current=current)
                frame["_possible_duplicate"] = flagged
                frame["_duplicate_group"] = group
        else:
            frame = _with_repeat_links(frame, rows, schema.tables[spec.parent].name)
        if spec.parent is None:
            frame["_index"] = _index_series(len(rows.rows))
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
        return (_capture_day(r) or "", str(r.finalized_at or r.created_at or ""), r.id)

    chosen.sort(key=order)
    return chosen, latest


def _day(record: RecordLike) -> date | None:
    when = _as_datetime(record.finalized_at) or _as_datetime(record.created_at)
    return when.date() if when else None


# ----------------------------------------------------------------------------- rows


@dataclass
class _Built:
    tables: dict[str, _TableRows]


@dataclass
class _TableRows:
    rows: list[_Row] = field(default_factory=list)


@dataclass
class _Row:
    record: RecordLike
    values: dict[str, str]
    parent_index: int = 0


def _collect_rows(
    schema: Schema,
    included: set[str],
    records: Sequence[RecordLike],
    *,
    progress: Progress | None,
) -> _Built:
    """Walk every answer once; place it in its table row by its repeat positions."""
    root = schema.root
    depth = {k: t.depth for k, t in schema.tables.items()}
    parent = {k: t.parent for k, t in schema.tables.items()}
    leaves = {c.key: c.table for c in schema.columns.values() if c.key in included}
    nested = sorted((k for k in schema.tables if depth[k] >= 2), key=lambda k: -depth[k])
    repeats = [k for k in schema.tables if depth[k] >= 1]  # parents before children
    out = {k: _TableRows() for k in schema.tables}
    cache: dict[str, tuple[str, tuple[int, ...], str] | None] = {}

    def parse(key: str) -> tuple[str, tuple[int, ...], str] | None:
        template = _POSITION.sub("", key)
        table = leaves.get(template)
        if table is None:
            return None
        positions = tuple(int(p) for p in _POSITION.findall(key))
        if len(positions) != depth[table]:
            return None  # a path that does not fit this form's repeats: not ours to guess
        return table, positions, template

    total = len(records)
    step = max(1000, total // 100)
    root_rows = out[root].rows
    for n, record in enumerate(records, 1):
        values: dict[str, str] = {}
        instances: dict[str, dict[tuple[int, ...], dict[str, str]]] = {}
        for key, value in record.answers.items():
            info = cache.get(key, _MISS)
            if info is _MISS:
                info = cache[key] = parse(key)
            if info is None:
                continue
            table, positions, column = info
            if not positions:
                if value:
                    values[column] = value
                continue
            by_position = instances.get(table)
            if by_position is None:
                by_position = instances[table] = {}
            row = by_position.get(positions)
            if row is None:
                row = by_position[positions] = {}
            if value:
                row[column] = value
        root_rows.append(_Row(record, values))
        if instances:
            _place_instances(
                instances,
                record,
                out,
                nested=nested,
                repeats=repeats,
                parent=parent,
                root=root,
                root_index=len(root_rows),
            )
        if progress is not None and (n % step == 0 or n == total):
            progress(n, total)
    return _Built(out)


_MISS: Any = object()


def _place_instances(
    instances: dict[str, dict[tuple[int, ...], dict[str, str]]],
    record: RecordLike,
    out: dict[str, _TableRows],
    *,
    nested: list[str],
    repeats: list[str],
    parent: dict[str, str | None],
    root: str,
    root_index: int,
) -> None:
    # A repeat instance exists through its leaves (docs/internals.md); an instance whose only
    # leaves are in a nested repeat still needs its own row for the children to link to.
    for table in nested:
        children = instances.get(table)
        if children:
            above = instances.setdefault(parent[table] or root, {})
            for positions in children:
                above.setdefault(positions[:-1], {})
    placed: dict[str, dict[tuple[int, ...], int]] = {}
    for table in repeats:
        by_position = instances.get(table)
        if not by_position:
            continue
        up = parent[table] or root
        rows = out[table].rows
        here = placed[table] = {}
        for positions in sorted(by_position):
            index = root_index if up == root else placed[up][positions[:-1]]
            rows.append(_Row(record, by_position[positions], index))
            here[positions] = len(rows)


# --------------------------------------------------------------------------- frames


def _column_names(
    columns: list[ColumnSpec], *, table: TableSpec, headers: Headers, lang: str | None
) -> dict[str, str]:
    """The header of each leaf: its name (or label), spelled out by group path when names clash."""
    names: dict[str, str] = {}
    counts: dict[str, int] = {}
    for c in columns:
        counts[c.name] = counts.get(c.name, 0) + 1
    for c in columns:
        if headers == "labels":
            base = (c.label(lang) if c.label else None) or c.name
        else:
            base = c.name
        if counts[c.name] > 1 and headers == "names":
            base = c.key[len(table.key) + 1 :]
        names[c.key] = base
    # Labels can repeat ("Age" in two groups): make every header unique, never overwrite.
    seen: dict[str, int] = {}
    for key, header in names.items():
        if header in seen:
            spec = next(c for c in columns if c.key == key)
            names[key] = f"{header} [{spec.name}]"
        seen[names[key]] = 1
    return names


def _text(values: list[str | None]) -> pd.Series[Any]:
    import pandas as pd

    return pd.Series(values, dtype="str")


def _numeric(text: pd.Series[Any], kind: str) -> pd.Series[Any]:
    """Integer or decimal answers as numbers; any value that is not a number keeps the text."""
    import pandas as pd

    number = pd.to_numeric(text, errors="coerce")
    if bool((number.isna() & text.notna()).any()):
        # Never drop what was captured: a column with one unreadable value stays text.
        return text
    if kind == INTEGER:
        if bool((number.dropna() % 1 != 0).any()):
            return text
        return number.astype("Int64")
    return number.astype("Float64")


def _frame(
    table: TableSpec,
    rows: _TableRows,
    columns: list[ColumnSpec],
    *,
    select_multiple: SelectMultiple,
    headers: Headers,
    lang: str | None,
) -> pd.DataFrame:
    import pandas as pd

    names = _column_names(columns, table=table, headers=headers, lang=lang)
    data: dict[str, pd.Series[Any]] = {}
    records = rows.rows
    for c in columns:
        key = c.key
        text = _text([r.values.get(key) for r in records])
        name = names[key]
        if c.kind in (INTEGER, DECIMAL):
            data[name] = _numeric(text, c.kind)
        elif c.kind == GEOPOINT:
            for part, series in zip(GEOPOINT_PARTS, _geopoint(text), strict=True):
                data[_geo_header(name, part, headers)] = series
        elif c.kind == SELECT_MULTIPLE:
            if select_multiple in ("both", "summary"):
                data[name] = text
            if select_multiple in ("both", "details"):
                for choice in c.choices:
                    label = c.choice_labels[choice](lang) if headers == "labels" else None
                    data[_unique(f"{name}/{label or choice}", data)] = _chosen(text, choice)
        else:
            data[name] = text
    return pd.DataFrame(data, index=pd.RangeIndex(len(records)))


def _unique(name: str, taken: Collection[Any]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate = f"{name} ({n})"
        n += 1
    return candidate


def _geo_header(name: str, part: str, headers: Headers) -> str:
    return f"{name}_{part}" if headers == "names" else f"{name} ({part})"


def _geopoint(text: pd.Series[Any]) -> list[pd.Series[Any]]:
    """ODK geopoint text ``"lat lon alt acc"`` as four decimal columns (altitude and accuracy
    may be missing in data from other tools)."""
    import pandas as pd

    parts = (
        text.str.split(expand=True) if bool(text.notna().any()) else pd.DataFrame(index=text.index)
    )
    out = []
    for i in range(4):
        col = parts[i] if i in parts.columns else pd.Series([None] * len(text), index=text.index)
        out.append(pd.to_numeric(col, errors="coerce").astype("Float64"))
    return out


def _chosen(text: pd.Series[Any], choice: str) -> pd.Series[Any]:
    """1 when the choice is among the selected, 0 when not, blank when the question is
    unanswered: a skipped item is never "no" (DOMAIN §3, DESIGN §7)."""
    import pandas as pd

    if len(text) == 0:
        return pd.Series([], dtype="Int64")
    padded = " " + text.fillna("") + " "
    hit = padded.str.contains(f" {choice} ", regex=False).astype("Int64")
    return hit.mask(text.isna())


def _index_series(n: int) -> pd.Series[Any]:
    import pandas as pd

    return pd.Series(range(1, n + 1), dtype="Int64")


def _iso(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None  # the store's ISO 8601 UTC text, kept exactly
    when = _as_datetime(value)
    return when.isoformat() if when else None


def _with_root_meta(
    frame: pd.DataFrame, rows: _TableRows, *, latest: set[str] | None
) -> pd.DataFrame:
    recs = [r.record for r in rows.rows]
    meta: dict[str, list[Any]] = {
        "_id": [r.id for r in recs],
        "_form_version": [r.form_version for r in recs],
        "_device": [r.device for r in recs],
        "_capture_day": [_capture_day(r) for r in recs],
        "_finalized_at": [_iso(r.finalized_at) for r in recs],
        "_replaces": [r.replaces for r in recs],
        "_status": [r.status for r in recs],
        "_case_id": [r.case_id for r in recs],
    }
    for name, values in meta.items():
        frame[_unique(name, frame.columns)] = _text(values)
    if latest is not None:
        import pandas as pd

        frame["_latest"] = pd.Series([r.id in latest for r in recs], dtype="boolean")
    return frame


def _capture_day(record: RecordLike) -> str | None:
    # The routing header's capture day (DESIGN §3) when the record has one; a received
    # record's created_at is the day it was pulled, not captured.
    when = _as_datetime(getattr(record, "capture_day", None)) or _as_datetime(record.created_at)
    return when.date().isoformat() if when else None


def _with_repeat_links(frame: pd.DataFrame, rows: _TableRows, parent_name: str) -> pd.DataFrame:
    import pandas as pd

    n = len(rows.rows)
    frame["_index"] = _index_series(n)
    frame["_parent_index"] = pd.Series([r.parent_index for r in rows.rows], dtype="Int64")
    frame["_parent_table"] = _text([parent_name] * n)
    frame["_record_id"] = _text([r.record.id for r in rows.rows])
    return frame


def _raw_by_name(schema: Schema, rows: _TableRows, name: str) -> list[str | None]:
    """A root-table field's raw text by name (sensitive or not: flags reveal no value)."""
    keys = [c.key for c in schema.columns.values() if c.name == name and c.table == schema.root]
    if not keys:
        return [None] * len(rows.rows)
    key = keys[0]
    return [r.values.get(key) for r in rows.rows]
