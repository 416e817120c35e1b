"""Table rows → typed pandas columns: text, numbers, categories, dates and times, 0/1 choice
columns, geopoint parts, CTDC codes.

Every column is typed only when every value parses; one value that does not keeps the column
as text, so what was captured is never dropped.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fieldkit.analysis._rows import TableRows
from fieldkit.analysis._schema import (
    DATE,
    DATETIME,
    DECIMAL,
    GEOPOINT,
    INTEGER,
    SELECT_MULTIPLE,
    SELECT_ONE,
    TEXT,
    TIME,
    ColumnSpec,
    TableSpec,
)
from fieldkit.analysis.options import ExportOptions, Headers

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GEOPOINT_PARTS",
    "OutputColumn",
    "build_frame",
    "index_series",
    "text_column",
    "unique_name",
]

GEOPOINT_PARTS = ("latitude", "longitude", "altitude", "precision")
# Labels of a select_multiple summary contain spaces: joined with this instead.
LABEL_SEPARATOR = "; "
_TIME = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$")


@dataclass(frozen=True)
class OutputColumn:
    """What one exported column is: the codebook's row, the writers' type.

    ``role``: ``value`` (the answer), ``choice`` (a 0/1 column; ``detail`` is the choice),
    ``part`` (a geopoint part), ``ctdc`` (a CTDC variable) or ``meta`` (``_id``…).
    ``kind``: the export kind of the column's values (``boolean`` and ``key`` for metadata).
    """

    header: str
    kind: str
    role: str = "value"
    spec: ColumnSpec | None = None
    detail: str = ""


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


def _pick_columns(
    values: Sequence[Mapping[str, str]], columns: Sequence[ColumnSpec]
) -> list[Sequence[str | None]]:
    """The answers of every column, column by column (a moved question's older paths filled
    in where the current one is missing).

    One pass over the rows, each looked up with a C-level ``map(row.get, keys)`` and the
    result transposed by ``zip``: every answers dict is touched once rather than once per
    column, which on 100,000 records is most of the cost of an export.
    """
    keys = [c.key for c in columns]
    if not keys:
        return []
    if not values:
        return [() for _ in keys]
    picked: list[Sequence[str | None]] = list(
        zip(*[tuple(map(row.get, keys)) for row in values], strict=True)
    )
    for i, c in enumerate(columns):
        for alias in c.aliases:
            older = [row.get(alias) for row in values]
            picked[i] = [a if a is not None else b for a, b in zip(picked[i], older, strict=True)]
    return picked


def _answers(raw: Sequence[str | None]) -> pd.Series[Any]:
    """Answer texts as a text column; an empty answer (skipped, not relevant) is a blank."""
    text = text_column(raw)
    return text.where(text != "")


def text_column(values: Sequence[str | None]) -> pd.Series[Any]:
    """Texts as a pandas text column (None is a blank cell)."""
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


def build_frame(
    table: TableSpec,
    rows: TableRows,
    columns: list[ColumnSpec],
    *,
    options: ExportOptions,
) -> tuple[pd.DataFrame, list[OutputColumn]]:
    """One table's frame: a column per exported leaf (more for selects and geopoints)."""
    import pandas as pd

    lang, headers = options.lang, options.headers
    names = _column_names(columns, table=table, headers=headers, lang=lang)
    data: dict[str, pd.Series[Any]] = {}
    info: list[OutputColumn] = []

    def put(header: str, series: pd.Series[Any], out: OutputColumn) -> None:
        data[header] = series
        info.append(out)

    values = rows.values
    for c, raw in zip(columns, _pick_columns(values, columns), strict=True):
        name = names[c.key]
        if options.codes == "ctdc" and c.ctdc:
            from fieldkit.analysis._ctdc import ctdc_columns, known_variable

            if known_variable(c.ctdc):
                for header, series in ctdc_columns(c.ctdc, _answers(raw)).items():
                    header = unique_name(header, data)
                    put(header, series, OutputColumn(header, "ctdc", "ctdc", c, c.ctdc))
                continue
        if c.kind in (INTEGER, DECIMAL):
            series = _numeric(raw, c.kind)
            put(name, series, OutputColumn(name, _kind_of(series, c.kind), spec=c))
            continue
        text = _answers(raw)
        if c.kind in (DATE, DATETIME, TIME):
            series = _temporal(text, c.kind)
            put(name, series, OutputColumn(name, _kind_of(series, c.kind), spec=c))
        elif c.kind == GEOPOINT:
            # The raw "lat lon alt acc" beside its parts: a part that was not captured stays
            # blank (never 0, which would read as a perfect fix).
            put(name, text, OutputColumn(name, TEXT, spec=c))
            for part, series in zip(GEOPOINT_PARTS, _geopoint(text), strict=True):
                header = unique_name(_geo_header(name, part, headers), data)
                put(header, series, OutputColumn(header, DECIMAL, "part", c, part))
        elif c.kind == SELECT_MULTIPLE:
            if options.select_multiple in ("both", "summary"):
                summary = _multiple_labels(text, c, lang) if options.values == "labels" else text
                put(name, summary, OutputColumn(name, SELECT_MULTIPLE, spec=c))
            if options.select_multiple in ("both", "details"):
                for choice in c.choices:
                    label = c.choice_labels[choice](lang) if headers == "labels" else None
                    header = unique_name(f"{name}/{label or choice}", data)
                    put(header, _chosen(text, choice), OutputColumn(header, INTEGER, "choice",
                                                                    c, choice))  # fmt: skip
        elif c.kind == SELECT_ONE:
            series = _select_one(text, c, options)
            put(name, series, OutputColumn(name, SELECT_ONE, spec=c))
        else:
            put(name, text, OutputColumn(name, TEXT, spec=c))
    return pd.DataFrame(data, index=pd.RangeIndex(len(values))), info


def _kind_of(series: pd.Series[Any], kind: str) -> str:
    """The kind a typed column ended up with: text when a value kept it from being typed."""
    import pandas as pd

    if kind in (INTEGER, DECIMAL):
        return kind if pd.api.types.is_numeric_dtype(series.dtype) else TEXT
    if kind in (DATE, DATETIME):
        return kind if pd.api.types.is_datetime64_any_dtype(series.dtype) else TEXT
    if kind == TIME:
        return kind if series.dtype == object else TEXT
    return kind


def _choice_label(c: ColumnSpec, choice: str, lang: str | None) -> str:
    label = c.choice_labels.get(choice)
    text = label(lang) if label else None
    return text or choice


def _labels_of(c: ColumnSpec, lang: str | None) -> dict[str, str]:
    """Choice name → label, labels made unique (two choices may share a label)."""
    out: dict[str, str] = {}
    seen: set[str] = set()
    for choice in c.choices:
        label = _choice_label(c, choice, lang)
        if label in seen:
            label = f"{label} [{choice}]"
        seen.add(label)
        out[choice] = label
    return out


def _select_one(text: pd.Series[Any], c: ColumnSpec, options: ExportOptions) -> pd.Series[Any]:
    """A select_one as a categorical with every choice of every version as a level (in the
    form's order), names or labels; a value no version lists is kept as an extra level."""
    import pandas as pd

    if options.values == "labels":
        labels = _labels_of(c, options.lang)
        text = text.map(lambda v: labels.get(v, v) if isinstance(v, str) else v).astype("str")
        levels = list(labels.values())
    else:
        levels = list(dict.fromkeys(c.choices))
    if not options.categorical:
        return text
    extra = sorted(set(text.dropna()) - set(levels))
    return pd.Series(
        pd.Categorical(text, categories=[*levels, *extra]), index=text.index, name=text.name
    )


def _multiple_labels(text: pd.Series[Any], c: ColumnSpec, lang: str | None) -> pd.Series[Any]:
    labels = _labels_of(c, lang)
    return text.map(
        lambda v: (
            LABEL_SEPARATOR.join(labels.get(x, x) for x in v.split()) if isinstance(v, str) else v
        )
    ).astype("str")


def _temporal(text: pd.Series[Any], kind: str) -> pd.Series[Any]:
    """Dates as pandas datetimes (midnight), date-times in UTC, times as ``datetime.time``
    (the clock time as captured; a time of day has no date to place its offset on)."""
    import pandas as pd

    present = text.notna()
    if not bool(present.any()):
        if kind == TIME:
            empty: pd.Series[Any] = pd.Series([None] * len(text), index=text.index, dtype="object")
            return empty
        blank: pd.Series[Any] = pd.Series(pd.NaT, index=text.index, dtype=_datetime_dtype(kind))
        return blank
    if kind == TIME:
        parsed = [_parse_time(v) if isinstance(v, str) else None for v in text]
        if any(p is None for p, ok in zip(parsed, present, strict=True) if ok):
            return text
        return pd.Series(parsed, index=text.index, dtype="object")
    if kind == DATE:
        out = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    else:
        out = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if bool((out.isna() & present).any()):
        return text  # one unreadable value: the column keeps every value as text
    typed: pd.Series[Any] = out.astype(_datetime_dtype(kind))
    return typed


def _datetime_dtype(kind: str) -> Any:
    return "datetime64[ms, UTC]" if kind == DATETIME else "datetime64[s]"


def _parse_time(value: str) -> _dt.time | None:
    match = _TIME.match(value.strip())
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    second = int(match.group(3) or 0)
    micro = int((match.group(4) or "0").ljust(6, "0"))
    try:
        return _dt.time(hour, minute, second, micro)
    except ValueError:
        return None


def unique_name(name: str, taken: Collection[Any]) -> str:
    """A header not yet in ``taken``: " (2)", " (3)"… appended on a clash."""
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


def index_series(n: int) -> pd.Series[Any]:
    """1, 2, … n as an Int64 column (the ``_index`` of a table)."""
    import pandas as pd

    return pd.Series(range(1, n + 1), dtype="Int64")
