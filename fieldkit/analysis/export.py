"""Write linked tables as CSV (one file per table), XLSX (one sheet per table) or Parquet.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some programs,
a tab or carriage return) as a formula: "CSV injection" (OWASP). A text cell that starts with
one of these gets a leading apostrophe in CSV and XLSX, headers included (labels come from the
form, which anyone may have written). Numbers stay numbers: a numeric column is never touched,
and a text cell that is wholly a number such as ``-3`` is left as it is (a spreadsheet reads it
as that number, which runs nothing). Parquet is read by programs, not spreadsheets, and keeps
every value exactly.

File names come from table names, which come from form and group names only, never from data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fieldkit.analysis._schema import safe_name
from fieldkit.errors import ExportError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EXCEL_MAX_ROWS",
    "ExportResult",
    "export_form",
    "excel_sheet_names",
    "neutralise",
    "neutralise_frame",
    "write_tables",
]

Format = Literal["csv", "xlsx", "parquet"]
Progress = Callable[[int, int], None]

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_TRIGGER = r"^[=+\-@\t\r]"
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
EXCEL_MAX_ROWS = 1_048_576  # rows per worksheet, header included (Excel specifications)
EXCEL_SHEET_NAME_MAX = 31
_CHUNK = 20_000


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the files and the rows of each table."""

    files: list[Path]
    rows: dict[str, int]


def export_form(
    workspace: Any,
    form_id: str,
    *,
    fmt: Format,
    out_dir: Path,
    progress: Callable[[str, int, int], None] | None = None,
    **table_options: Any,
) -> ExportResult:
    """Build the linked tables of ``form_id`` (options as ``tables()``) and write them.

    ``progress(phase, done, total)`` reports phase "records" while building, then "rows"
    while writing.
    """
    from fieldkit.analysis.tables import tables

    if fmt not in ("csv", "xlsx", "parquet"):
        raise ExportError("format must be csv, xlsx or parquet")

    def phase(name: str) -> Progress | None:
        if progress is None:
            return None
        report = progress
        return lambda done, total: report(name, done, total)

    frames = tables(workspace, form_id, progress=phase("records"), **table_options)
    return write_tables(
        frames, out_dir=out_dir, fmt=fmt, workbook_name=form_id, progress=phase("rows")
    )


def neutralise(value: str) -> str:
    """A text cell a spreadsheet will show and never run as a formula."""
    if value.startswith(FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell and header neutralised; numbers untouched."""
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if not (pd.api.types.is_string_dtype(column) or column.dtype == object):
            continue
        text = column.astype("str")
        risky = text.str.contains(_TRIGGER, regex=True, na=False) & ~text.str.fullmatch(
            _NUMBER.pattern[1:-1], na=False
        )
        if bool(risky.any()):
            out[name] = column.where(~risky, "'" + text)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def excel_sheet_names(names: list[str]) -> list[str]:
    """Sheet names Excel accepts: ≤ 31 characters, none of ``[]:*?/\\``, not starting or
    ending with an apostrophe, not "History" (reserved), unique ignoring case."""
    out: list[str] = []
    taken: set[str] = set()
    for raw in names:
        base = _SHEET_FORBIDDEN.sub("_", raw).strip("'") or "Sheet"
        if base.lower() == "history":
            base = "History_"
        candidate = base[:EXCEL_SHEET_NAME_MAX]
        n = 2
        while candidate.lower() in taken:
            suffix = f"~{n}"
            candidate = base[: EXCEL_SHEET_NAME_MAX - len(suffix)] + suffix
            n += 1
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def write_tables(
    frames: Mapping[str, pd.DataFrame],
    *,
    out_dir: Path,
    fmt: Format,
    workbook_name: str,
    progress: Progress | None = None,
) -> ExportResult:
    """Write every table into ``out_dir`` in ``fmt``; ``progress(done_rows, total_rows)``."""
    if fmt not in ("csv", "xlsx", "parquet"):
        raise ExportError("format must be csv, xlsx or parquet")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the output folder ({exc.strerror})") from None
    total = sum(len(f) for f in frames.values())
    done = [0]

    def advance(rows: int) -> None:
        done[0] += rows
        if progress is not None:
            progress(done[0], total)

    files = _file_names(list(frames), suffix=fmt)
    rows = {name: len(frame) for name, frame in frames.items()}
    try:
        if fmt == "csv":
            written = [
                _write_csv(frame, out_dir / files[name], advance) for name, frame in frames.items()
            ]
        elif fmt == "parquet":
            written = [
                _write_parquet(frame, out_dir / files[name], advance)
                for name, frame in frames.items()
            ]
        else:
            path = out_dir / f"{safe_name(workbook_name)}.xlsx"
            written = [_write_xlsx(frames, path, advance)]
    except OSError as exc:
        raise ExportError(f"cannot write the export ({exc.strerror or 'disk error'})") from None
    return ExportResult(files=written, rows=rows)


def _file_names(names: list[str], *, suffix: str) -> dict[str, str]:
    """``table.suffix`` per table, unique even on case-insensitive file systems."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = safe_name(name)
        candidate, n = base, 2
        while candidate.lower() in taken:
            candidate = f"{base}_{n}"
            n += 1
        taken.add(candidate.lower())
        out[name] = f"{candidate}.{suffix}"
    return out


def _write_csv(frame: pd.DataFrame, path: Path, advance: Callable[[int], None]) -> Path:
    # UTF-8 with a byte-order mark: Excel otherwise opens non-ASCII labels as mojibake.
    safe = neutralise_frame(frame)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        safe.iloc[:0].to_csv(fh, index=False, lineterminator="\r\n")
        for start in range(0, len(safe), _CHUNK):
            chunk = safe.iloc[start : start + _CHUNK]
            chunk.to_csv(fh, index=False, header=False, lineterminator="\r\n")
            advance(len(chunk))
    tmp.replace(path)
    return path


def _write_parquet(frame: pd.DataFrame, path: Path, advance: Callable[[int], None]) -> Path:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ExportError("Parquet export needs pyarrow: pip install 'fieldkit[parquet]'") from None
    tmp = path.with_name(path.name + ".part")
    frame.to_parquet(tmp, index=False, engine="pyarrow")
    tmp.replace(path)
    advance(len(frame))
    return path


def _cell(value: Any) -> Any:
    import pandas as pd
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None or value is pd.NA:
        return None
    if isinstance(value, str):
        # XML 1.0 cannot hold most control characters; openpyxl refuses them. Show where one
        # was instead of failing the whole export.
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    if hasattr(value, "item"):  # numpy scalars → Python numbers openpyxl understands
        return value.item()
    return value


def _write_xlsx(
    frames: Mapping[str, pd.DataFrame], path: Path, advance: Callable[[int], None]
) -> Path:
    from openpyxl import Workbook

    too_big = [name for name, f in frames.items() if len(f) + 1 > EXCEL_MAX_ROWS]
    if too_big:
        raise ExportError(
            f"table {too_big[0]} has more rows than an Excel sheet holds; use csv or parquet"
        )
    book = Workbook(write_only=True)
    for sheet_name, (_, frame) in zip(excel_sheet_names(list(frames)), frames.items(), strict=True):
        sheet = book.create_sheet(title=sheet_name)
        safe = neutralise_frame(frame)
        sheet.append([str(c) for c in safe.columns])
        columns = [safe[c].tolist() for c in safe.columns]
        count = 0
        for row in zip(*columns, strict=True) if columns else ():
            sheet.append([_cell(v) for v in row])
            count += 1
            if count % _CHUNK == 0:
                advance(_CHUNK)
        advance(count % _CHUNK if columns else len(frame))
    if not frames:
        book.create_sheet(title="empty")
    tmp = path.with_name(path.name + ".part")
    book.save(tmp)
    tmp.replace(path)
    return path
