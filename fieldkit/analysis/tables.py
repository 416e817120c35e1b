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
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
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
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


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
                current = None if not history else [r.id in latest for r in rows.records]
                flagged, group = duplicate_flags(key_values, current=current)
                frame["_possible_duplicate"] = flagged
                frame["_duplicate_group"] = group
        else:
            frame = _with_repeat_links(frame, rows, schema.tables[spec.parent].name)
        if spec.parent is None:
            frame["_index"] = _index_series(len(rows))
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


# ----------------------------------------------------------------------------- rows


@dataclass
class _Built:
    tables: dict[str, _TableRows]


@dataclass
class _TableRows:
    """Rows of one table as parallel lists: answers by template path, record, parent row."""

    values: list[Mapping[str, str]] = field(default_factory=list)
    records: list[RecordLike] = field(default_factory=list)
    parent_index: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)


def _collect_rows(
    schema: Schema,
    included: set[str],
    records: Sequence[RecordLike],
    *,
    progress: Progress | None,
) -> _Built:
    """Place every answer in its table row, by its repeat positions.

    A top-level answer's instance path IS its template path (no positions), so the record's
    own answers serve as its form-table row: no per-answer work at all. Only the answers left
    once those keys are set aside (a C-level set difference) are parsed, once per distinct
    path, for repeat positions. This keeps an export near the cost of pandas itself.
    """
    root = schema.root
    depth = {k: t.depth for k, t in schema.tables.items()}
    parent = {k: t.parent or root for k, t in schema.tables.items()}
    top_keys = frozenset(c.key for c in schema.columns.values() if c.table == root)
    leaves = {
        c.key: c.table for c in schema.columns.values() if c.key in included and c.table != root
    }
    has_nested = any(d >= 2 for d in depth.values())
    out = {k: _TableRows() for k in schema.tables}
    # instance path → ((depth, table, positions), template path); () when not an exported leaf.
    cache: dict[str, tuple[tuple[int, str, tuple[int, ...]], str] | tuple[()]] = {}

    def parse(key: str) -> tuple[tuple[int, str, tuple[int, ...]], str] | tuple[()]:
        template = _POSITION.sub("", key)
        table = leaves.get(template)
        if table is None:
            return ()
        positions = tuple(int(p) for p in _POSITION.findall(key))
        if len(positions) != depth[table]:
            return ()  # a path that does not fit this form's repeats: not ours to guess
        return (depth[table], table, positions), template

    total = len(records)
    step = max(1000, total // 100)
    top = out[root]
    top_values, top_records = top.values, top.records
    for n, record in enumerate(records, 1):
        if progress is not None and n % step == 0:
            progress(n, total)
        answers = record.answers
        top_values.append(answers)
        top_records.append(record)
        if not leaves:
            continue
        instances: dict[tuple[int, str, tuple[int, ...]], dict[str, str]] = {}
        for key in answers.keys() - top_keys:
            info = cache.get(key)
            if info is None:
                info = cache[key] = parse(key)
            if not info:
                continue
            where, template = info
            row = instances.get(where)
            if row is None:
                row = instances[where] = {}
            row[template] = answers[key]
        if not instances:
            continue
        if has_nested:
            # A repeat instance exists through its leaves (docs/internals.md); one whose only
            # leaves are in a nested repeat still needs its own row for children to link to.
            for level, table, positions in sorted(instances, reverse=True):
                for up in range(1, level):
                    ancestor = _ancestor(table, up, parent)
                    instances.setdefault((level - up, ancestor, positions[:-up]), {})
        placed: dict[tuple[str, tuple[int, ...]], int] = {}
        index = len(top_values)
        # Sorted by (depth, table, positions): parents are placed before their children.
        for where in sorted(instances):
            level, table, positions = where
            rows = out[table]
            rows.values.append(instances[where])
            rows.records.append(record)
            rows.parent_index.append(
                index if level == 1 else placed[(parent[table], positions[:-1])]
            )
            if has_nested:
                placed[(table, positions)] = len(rows.values)
    if progress is not None:
        progress(total, total)
    return _Built(out)


def _ancestor(table: str, up: int, parent: Mapping[str, str]) -> str:
    for _ in range(up):
        table = parent[table]
    return table


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


def _columns(values: Sequence[Mapping[str, str]], keys: list[str]) -> list[Sequence[str | None]]:
    """The answers at ``keys`` of every row, column by column.

    One pass over the rows, each looked up with a C-level ``map(row.get, keys)`` and the
    result transposed by ``zip``: every answers dict is touched once rather than once per
    column, which on 100,000 records is most of the cost of an export.
    """
    if not keys:
        return []
    if not values:
        return [() for _ in keys]
    return list(zip(*[tuple(map(row.get, keys)) for row in values], strict=True))


def _answers(raw: Sequence[str | None]) -> pd.Series[Any]:
    """Answer texts as a text column; an empty answer (skipped, not relevant) is a blank."""
    text = _text(raw)
    return text.where(text != "")


def _text(values: Sequence[str | None]) -> pd.Series[Any]:
    import pandas as pd

    return pd.Series(values, dtype="str")


def _numeric(raw: Sequence[str | None], kind: str) -> pd.Series[Any]:
    """Integer or decimal answers as numbers; any value that is not a number keeps the text."""
    fast = _arrow_numbers(raw, kind)
    if fast is not None:
        return fast
    import pandas as pd

    text = _answers(raw)
    number = pd.to_numeric(text, errors="coerce")
    if bool((number.isna() & text.notna()).any()):
        # Never drop what was captured: a column with one unreadable value stays text.
        return text
    if kind == INTEGER:
        if bool((number.dropna() % 1 != 0).any()):
            return text
        return number.astype("Int64")
    return number.astype("Float64")


def _arrow_numbers(raw: Sequence[str | None], kind: str) -> pd.Series[Any] | None:
    """The common case in C: every answer parses as a plain number (pyarrow's cast).

    None when pyarrow is absent or any value does not cast cleanly (including NaN or
    infinity); the caller then takes the careful path, which keeps such a column as text.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pyarrow is optional (the parquet extra)
        return None
    import pandas as pd

    text = pa.array(raw, type=pa.string())
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    try:
        number = pc.cast(text, pa.int64() if kind == INTEGER else pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    mask = number.is_null().to_numpy(zero_copy_only=False)
    if kind == INTEGER:
        values = pc.fill_null(number, 0).to_numpy(zero_copy_only=False)
        return pd.Series(pd.arrays.IntegerArray(values, mask))
    if bool(pc.any(pc.invert(pc.is_finite(number))).as_py()):
        return None
    values = pc.fill_null(number, 0.0).to_numpy(zero_copy_only=False)
    return pd.Series(pd.arrays.FloatingArray(values, mask))


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
    values = rows.values
    for c, raw in zip(columns, _columns(values, [c.key for c in columns]), strict=True):
        key = c.key
        name = names[key]
        if c.kind in (INTEGER, DECIMAL):
            data[name] = _numeric(raw, c.kind)
            continue
        text = _answers(raw)
        if c.kind == GEOPOINT:
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
    return pd.DataFrame(data, index=pd.RangeIndex(len(values)))


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
    recs = rows.records
    meta = [
        (r.id, r.form_version, r.device, _capture_day(r), _iso(r.finalized_at), r.replaces,
         r.status, r.case_id)
        for r in recs
    ]  # fmt: skip
    columns = list(zip(*meta, strict=True)) if meta else [() for _ in META_COLUMNS]
    for name, values in zip(META_COLUMNS, columns, strict=True):
        frame[_unique(name, frame.columns)] = _text(values)
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


def _with_repeat_links(frame: pd.DataFrame, rows: _TableRows, parent_name: str) -> pd.DataFrame:
    import pandas as pd

    n = len(rows)
    frame["_index"] = _index_series(n)
    frame["_parent_index"] = pd.Series(rows.parent_index, dtype="Int64")
    frame["_parent_table"] = _text([parent_name] * n)
    frame["_record_id"] = _text([r.id for r in rows.records])
    return frame


def _raw_by_name(schema: Schema, rows: _TableRows, name: str) -> Sequence[str | None]:
    """A root-table field's raw text by name (sensitive or not: flags reveal no value)."""
    keys = [c.key for c in schema.columns.values() if c.name == name and c.table == schema.root]
    if not keys:
        return [None] * len(rows)
    key = keys[0]
    return [v.get(key) or None for v in rows.values]
