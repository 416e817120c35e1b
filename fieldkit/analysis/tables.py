"""Records of one form → linked tables, the shape KoboToolbox and ODK Central users expect.

One table for the form and one per repeat group (nested repeats too). Every table has
``_index`` (1-based row number, KoboToolbox's habit: it renumbers when earlier records arrive)
and ``_key``, a stable key in ODK Central's ``KEY`` shape (the record id, then the instance path
below the root: ``<id>/household/member[2]``); a repeat table also has ``_parent_index``,
``_parent_key`` (the parent row's ``_key``), ``_parent_table`` and ``_record_id``. Join on the
keys: they never change. The form table carries the record's metadata (``_id``,
``_form_version``, ``_device``, ``_capture_day``, ``_finalized_at``, ``_received_at``,
``_replaces``, ``_status``, ``_case_id``) and the duplicate flags of ``duplicates.py``.

The core, :func:`build_tables`, needs only the Form model of each version and record-like
objects; :func:`tables` is the workspace entry point. Both take one :class:`ExportOptions`.
pandas is imported inside the functions so that importing this module (the CLI does) costs
nothing.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from fieldkit.analysis._columns import (
    OutputColumn,
    build_frame,
    index_series,
    text_column,
    unique_name,
)
from fieldkit.analysis._rows import RecordLike, TableRows, collect_rows
from fieldkit.analysis._schema import (
    DATE,
    DATETIME,
    MEDIA_TYPES,
    TEXT,
    FormLike,
    Schema,
    build_schema,
)
from fieldkit.analysis.options import ExportOptions
from fieldkit.errors import ExportError, UsageError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "META_COLUMNS",
    "REPEAT_LINK_COLUMNS",
    "Built",
    "RecordLike",
    "build",
    "build_tables",
    "form_versions",
    "tables",
]

Progress = Callable[[int, int], None]

META_COLUMNS = (
    "_id",
    "_form_version",
    "_device",
    "_capture_day",
    "_finalized_at",
    "_received_at",
    "_replaces",
    "_status",
    "_case_id",
    "_key",
)
_META_KINDS = {"_capture_day": DATE, "_finalized_at": DATETIME, "_received_at": DATETIME}
REPEAT_LINK_COLUMNS = (
    "_index",
    "_parent_index",
    "_parent_table",
    "_record_id",
    "_key",
    "_parent_key",
)

# Statuses a coordinator's export leaves out: a draft is not a submission (ODK Central
# exports only submitted instances).
_NOT_SUBMITTED = {"draft", "discarded"}
# "sent" is this laptop's delivery state, not the record's: a record finalized here shows as
# finalized, as the coordinator's pulled copy of it does.
_SUBMITTED = "finalized"
# The server pseudonym of this laptop (ws.state, written at enrolment): the name the
# coordinator's copy of the same record carries.
_STATE_DEVICE_ID = "sync.device_id"

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Built:
    """An export's tables and what describes them: each frame's columns (for the codebook,
    the HXL row and typed cells), the schema, the form versions and the records used."""

    frames: dict[str, pd.DataFrame]
    columns: dict[str, list[OutputColumn]]
    schema: Schema
    versions: list[FormLike]
    options: ExportOptions
    records: int = 0
    by_version: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------- entry points


def tables(
    workspace: Any,
    form_id: str,
    options: ExportOptions | None = None,
    *,
    progress: Progress | None = None,
) -> dict[str, pd.DataFrame]:
    """One DataFrame per table of ``form_id`` from the workspace's records (see module doc)."""
    return build(workspace, form_id, options or ExportOptions(), progress=progress).frames


def build(
    workspace: Any, form_id: str, options: ExportOptions, *, progress: Progress | None = None
) -> Built:
    """``tables()`` with what describes the tables (``Built``): what ``export_form`` writes."""
    versions = form_versions(workspace, form_id)
    records = workspace.records.list(form_id=form_id)
    local = getattr(workspace, "device_id", None)
    state = getattr(workspace, "state", None)
    server_name = state.get(_STATE_DEVICE_ID) if state is not None else None
    devices = {str(local): str(server_name)} if local and server_name else {}
    return build_from(versions, records, options, progress=progress, devices=devices)


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
    options: ExportOptions | None = None,
    *,
    progress: Progress | None = None,
    devices: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Linked tables from the Form model of every version (latest last) and the records.

    Only submitted records appear (no drafts), each record id once, and only the latest
    version of an edited record unless ``options.history`` (then ``_latest`` tells which rows
    are current). ``options.since`` keeps records finalized on or after that day.
    ``devices`` renames local device ids to their server pseudonyms.
    """
    options = options or ExportOptions()
    return build_from(versions, records, options, progress=progress, devices=devices).frames


def build_from(
    versions: Sequence[FormLike],
    records: Iterable[RecordLike],
    options: ExportOptions,
    *,
    progress: Progress | None = None,
    devices: Mapping[str, str] | None = None,
) -> Built:
    """``build_tables`` with what describes the tables (``Built``)."""
    if not versions:
        raise ExportError("the form has no stored version to export with")
    form_id = versions[-1].id
    options = options.with_language(_check_language(versions, options.lang))
    schema = build_schema(form_id, versions)
    included = _included_columns(schema, options.include_sensitive, options.include_media)
    if options.hxl:
        _check_hxl(schema, versions, included)
    from fieldkit.analysis.duplicates import default_duplicate_keys

    keys = (
        list(options.duplicate_keys)
        if options.duplicate_keys is not None
        else default_duplicate_keys(schema)
    )
    key_columns = {
        c.key for c in schema.columns.values() if c.name in keys and c.table == schema.root
    }
    missing = [k for k in keys if not any(schema.columns[c].name == k for c in key_columns)]
    if missing:
        raise UsageError(
            f"no top-level field named {missing[0]} in form {form_id} to match duplicates"
        )
    with _collector_paused():
        built = _assemble(
            schema,
            records,
            included=included,
            key_columns=key_columns,
            keys=keys,
            options=options,
            progress=progress,
            devices=devices or {},
        )
    built.versions = list(versions)
    return built


def _check_hxl(schema: Schema, versions: Sequence[FormLike], included: set[str]) -> None:
    """HXL hashtags make a table easy to share and merge (humanitarian data exchange): only
    for tables without person-level data. A form gated on consent is about people; a
    sensitive field in the export is personal data (DOMAIN §5)."""
    about_people = any(
        str((getattr(f, "settings", None) or {}).get("requires_consent", "")).strip().lower()
        in ("yes", "true", "1")
        for f in versions
    )
    sensitive = sorted(schema.columns[k].name for k in included if schema.columns[k].sensitive)
    if about_people:
        raise UsageError(
            f"--hxl is only for tables without person-level data; form {schema.form_id} "
            "records people (it requires consent)"
        )
    if sensitive:
        raise UsageError(
            "--hxl is only for tables without person-level data; the export includes the "
            f"sensitive field {sensitive[0]}"
        )
    if not any(c.hxl for c in schema.columns.values()):
        raise UsageError(f"form {schema.form_id} has no hxl column to take hashtags from")


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
    options: ExportOptions,
    progress: Progress | None,
    devices: Mapping[str, str],
) -> Built:
    from fieldkit.analysis.duplicates import duplicate_flags

    history = options.history
    chosen, latest = _choose_records(records, history=history, since=options.since)
    built = collect_rows(schema, included | key_columns, chosen, progress=progress)
    out = Built({}, {}, schema, [], options, records=len(chosen))
    for r in chosen:
        out.by_version[r.form_version] = out.by_version.get(r.form_version, 0) + 1
    for tkey, spec in schema.tables.items():
        rows = built.tables[tkey]
        frame, info = build_frame(
            spec, rows, [c for c in spec.columns if c.key in included], options=options
        )
        if spec.parent is None:
            frame = _with_root_meta(
                frame, rows, info, latest=latest if history else None, devices=devices
            )
            if keys:
                key_values = {k: _raw_by_name(schema, rows, k) for k in keys}
                current = None if not history else [r.id in latest for r in rows.records]
                flagged, group = duplicate_flags(key_values, current=current)
                frame["_possible_duplicate"] = flagged
                frame["_duplicate_group"] = group
                info.append(OutputColumn("_possible_duplicate", "boolean", "meta"))
                info.append(OutputColumn("_duplicate_group", "integer", "meta"))
            frame["_index"] = index_series(len(rows))
            info.append(OutputColumn("_index", "integer", "meta"))
        else:
            frame = _with_repeat_links(frame, rows, info, schema.tables[spec.parent].name)
        out.frames[spec.name] = frame
        out.columns[spec.name] = info
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


def _included_columns(
    schema: Schema, include_sensitive: Collection[str], include_media: bool = False
) -> set[str]:
    """Keys of the leaves to export: all but sensitive ones not named by the user (DOMAIN §5);
    ``include_media``: every file question too."""
    wanted = set(include_sensitive)
    if include_media:
        wanted |= {c.name for c in schema.columns.values() if c.xlsform_type in MEDIA_TYPES}
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
    frame: pd.DataFrame,
    rows: TableRows,
    info: list[OutputColumn],
    *,
    latest: set[str] | None,
    devices: Mapping[str, str],
) -> pd.DataFrame:
    import pandas as pd

    recs = rows.records
    meta = [
        (r.id, r.form_version, devices.get(r.device or "", r.device), _capture_day(r),
         _iso(r.finalized_at), _iso(getattr(r, "received_at", None)), r.replaces,
         _SUBMITTED, r.case_id, r.id)
        for r in recs
    ]  # fmt: skip
    columns = list(zip(*meta, strict=True)) if meta else [() for _ in META_COLUMNS]
    for name, values in zip(META_COLUMNS, columns, strict=True):
        header = unique_name(name, frame.columns)
        kind = _META_KINDS.get(name, TEXT)
        series = text_column(values)
        if kind == DATE:
            series = pd.to_datetime(series, format="%Y-%m-%d", errors="coerce")
            series = series.astype("datetime64[s]")
        elif kind == DATETIME:
            series = pd.to_datetime(series, format="ISO8601", errors="coerce", utc=True)
            series = series.astype("datetime64[ms, UTC]")
        frame[header] = series
        info.append(OutputColumn(header, "key" if name == "_key" else kind, "meta"))
    if latest is not None:
        frame["_latest"] = pd.Series([r.id in latest for r in recs], dtype="boolean")
        info.append(OutputColumn("_latest", "boolean", "meta"))
    return frame


def _capture_day(record: RecordLike) -> str | None:
    # The routing header's capture day (DESIGN §3) when the record has one; a received
    # record's created_at is the day it was pulled, not captured.
    day = getattr(record, "capture_day", None)
    if type(day) is str and len(day) == 10 and _DAY.match(day):
        return day  # the store's YYYY-MM-DD text: no parsing for 100,000 records
    when = _as_datetime(day) or _as_datetime(record.created_at)
    return when.date().isoformat() if when else None


def _with_repeat_links(
    frame: pd.DataFrame, rows: TableRows, info: list[OutputColumn], parent_name: str
) -> pd.DataFrame:
    import pandas as pd

    n = len(rows)
    frame["_index"] = index_series(n)
    frame["_parent_index"] = pd.Series(rows.parent_index, dtype="Int64")
    frame["_parent_table"] = text_column([parent_name] * n)
    frame["_record_id"] = text_column([r.id for r in rows.records])
    frame["_key"] = text_column(rows.keys)
    frame["_parent_key"] = text_column(rows.parent_keys)
    info.append(OutputColumn("_index", "integer", "meta"))
    info.append(OutputColumn("_parent_index", "integer", "meta"))
    info.append(OutputColumn("_parent_table", "table", "meta"))
    for name in ("_record_id", "_key", "_parent_key"):
        info.append(OutputColumn(name, "key", "meta"))
    return frame


def _raw_by_name(schema: Schema, rows: TableRows, name: str) -> Sequence[str | None]:
    """A root-table field's raw text by name (sensitive or not: flags reveal no value)."""
    specs = [c for c in schema.columns.values() if c.name == name and c.table == schema.root]
    if not specs:
        return [None] * len(rows)
    paths = (specs[0].key, *specs[0].aliases)
    out: list[str | None] = []
    for v in rows.values:
        out.append(next((v[p] for p in paths if v.get(p)), None))
    return out
