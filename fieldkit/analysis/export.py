"""Write linked tables as CSV (one file per table), XLSX (one sheet per table) or Parquet,
with a codebook and a manifest beside them.

Files are named after the form: ``FORM.csv`` for the form table and ``FORM-REPEAT.csv`` for
each repeat (ODK Central's names), then ``FORM.codebook.csv`` and ``FORM.manifest.json``. Two
forms exported into one folder therefore write different files; and a file already in the
folder is never replaced silently: only with ``overwrite``, and never one that another form's
manifest lists.

Spreadsheets run a CSV cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or carriage return) as a formula: "CSV injection" (OWASP). In CSV such a text
cell gets a leading apostrophe, headers included, unless ``neutralise_csv`` is off (for a
program that reads the CSV: the apostrophe is then data). A number such as ``-3`` is left
as it is. XLSX cells are typed: text is a string cell, which a spreadsheet never runs, so
``+44…`` phone numbers and ``@handles`` stay exact. Parquet keeps every value and type.

File names come from form and table names, which come from form and group names only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from fieldkit.analysis._schema import safe_name
from fieldkit.analysis.options import ExportOptions
from fieldkit.errors import ExportError

if TYPE_CHECKING:
    import pandas as pd

    from fieldkit.analysis.tables import Built

__all__ = [
    "EXCEL_MAX_ROWS",
    "ExportResult",
    "export_form",
    "excel_sheet_names",
    "neutralise",
    "neutralise_frame",
    "write_built",
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
_INDEX_SHEET = "index"


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
    options: ExportOptions | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> ExportResult:
    """Build the linked tables of ``form_id`` and write them, their codebook and manifest.

    ``progress(phase, done, total)`` reports phase "records" while building, then "rows"
    while writing.
    """
    from fieldkit.analysis.tables import build

    _check_format(fmt)
    options = options or ExportOptions()

    def phase(name: str) -> Progress | None:
        if progress is None:
            return None
        report = progress
        return lambda done, total: report(name, done, total)

    # Refuse before the (long) build when the files are there already.
    _check_targets(out_dir, form_id, _planned(form_id, fmt), options.overwrite)
    built = build(workspace, form_id, options, progress=phase("records"))
    result = write_built(built, fmt=fmt, out_dir=out_dir, progress=phase("rows"))
    result.files.extend(_write_media(workspace, built, out_dir))
    return result


def _write_media(workspace: Any, built: Built, out_dir: Path) -> list[Path]:
    """The files the exported file columns name, under ``OUT/media/FORM/`` by their own
    (random) names: the column's value is the file's name there (DESIGN §6a)."""
    from fieldkit.analysis._schema import MEDIA_TYPES
    from fieldkit.media import write_copy

    names: set[str] = set()
    for table, columns in built.columns.items():
        frame = built.frames[table]
        for column in columns:
            spec = column.spec
            if column.role != "value" or spec is None or spec.xlsform_type not in MEDIA_TYPES:
                continue
            names |= {str(v) for v in frame[column.header].dropna() if str(v).strip()}
    if not names:
        return []
    folder = out_dir / "media" / safe_name(built.schema.form_id)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for name in sorted(names):
        attachment = workspace.attachments.named(name)
        if attachment is None or not attachment.complete:
            continue
        written.append(write_copy(workspace, attachment, folder / attachment.name, overwrite=True))
    return written


def _check_format(fmt: str) -> None:
    if fmt not in ("csv", "xlsx", "parquet"):
        raise ExportError("format must be csv, xlsx or parquet")


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
    options: ExportOptions | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write bare frames (no codebook) into ``out_dir``: the table named ``workbook_name`` as
    ``NAME.fmt``, every other as ``NAME-TABLE.fmt`` (one workbook for XLSX)."""
    _check_format(fmt)
    options = options or ExportOptions()
    files = _table_files(workbook_name, list(frames), fmt)
    _check_targets(out_dir, workbook_name, sorted(set(files.values())), options.overwrite)
    kinds = {name: _kinds_from_dtypes(frame) for name, frame in frames.items()}
    return _write(frames, kinds, {}, fmt=fmt, out_dir=out_dir, files=files,
                  options=options, progress=progress, parents={})  # fmt: skip


def write_built(
    built: Built, *, fmt: Format, out_dir: Path, progress: Progress | None = None
) -> ExportResult:
    """Write an export's tables, then its codebook and manifest (``tables.build``)."""
    from fieldkit.analysis._codebook import codebook_rows, manifest

    _check_format(fmt)
    form_id = built.schema.form_id
    files = _table_files(form_id, list(built.frames), fmt)
    codebook_file = f"{safe_name(form_id)}.codebook.csv"
    manifest_file = f"{safe_name(form_id)}.manifest.json"
    _check_targets(
        out_dir,
        form_id,
        sorted({*files.values(), codebook_file, manifest_file}),
        built.options.overwrite,
    )
    kinds = {name: {c.header: c.kind for c in cols} for name, cols in built.columns.items()}
    hxl = _hxl_rows(built) if built.options.hxl else {}
    parents = {
        spec.name: built.schema.tables[spec.parent].name
        for spec in built.schema.tables.values()
        if spec.parent
    }
    result = _write(built.frames, kinds, hxl, fmt=fmt, out_dir=out_dir, files=files,
                    options=built.options, progress=progress, parents=parents)  # fmt: skip
    places = dict(files)
    if fmt == "xlsx":
        places = dict(zip(built.frames, excel_sheet_names(list(built.frames)), strict=True))
    try:
        _write_codebook(codebook_rows(built, places), out_dir / codebook_file)
        info = manifest(built, fmt=fmt, files=files, extra_files=[codebook_file, manifest_file])
        _atomic_text(out_dir / manifest_file, json.dumps(info, ensure_ascii=False, indent=2))
    except OSError as exc:
        raise ExportError(f"cannot write the export ({exc.strerror or 'disk error'})") from None
    return ExportResult(
        files=[*result.files, out_dir / codebook_file, out_dir / manifest_file], rows=result.rows
    )


def _hxl_rows(built: Built) -> dict[str, list[str]]:
    """The HXL hashtag of each column (from the form's ``hxl`` column), table by table."""
    out: dict[str, list[str]] = {}
    for name, cols in built.columns.items():
        tags = [(c.spec.hxl or "") if c.spec and c.role == "value" else "" for c in cols]
        out[name] = tags
    return out


def _table_files(form_id: str, names: Sequence[str], fmt: str) -> dict[str, str]:
    """``FORM.fmt`` for the form table, ``FORM-TABLE.fmt`` for the others (ODK Central's
    names); one ``FORM.xlsx`` for a workbook."""
    base = safe_name(form_id)
    if fmt == "xlsx":
        return dict.fromkeys(names, f"{base}.xlsx")
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        stem = base if name == form_id or safe_name(name) == base else f"{base}-{safe_name(name)}"
        candidate, n = stem, 2
        while candidate.lower() in taken:
            candidate = f"{stem}_{n}"
            n += 1
        taken.add(candidate.lower())
        out[name] = f"{candidate}.{fmt}"
    return out


def _planned(form_id: str, fmt: str) -> list[str]:
    """The files an export of ``form_id`` writes whatever its repeats are."""
    base = safe_name(form_id)
    return [f"{base}.{fmt}", f"{base}.codebook.csv", f"{base}.manifest.json"]


def _owners(out_dir: Path) -> dict[str, str]:
    """File name → form id, from the manifests of earlier exports in ``out_dir``."""
    owners: dict[str, str] = {}
    if not out_dir.is_dir():
        return owners
    for path in out_dir.glob("*.manifest.json"):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and isinstance(info.get("files"), list):
            for name in info["files"]:
                owners[str(name)] = str(info.get("form_id"))
    return owners


def _check_targets(out_dir: Path, form_id: str, names: Sequence[str], overwrite: bool) -> None:
    """Never replace a file silently: another form's file never, an earlier export's only
    with ``overwrite``."""
    if not out_dir.exists():
        return
    owners = _owners(out_dir)
    for name in names:
        if not (out_dir / name).exists():
            continue
        owner = owners.get(name)
        if owner is not None and owner != form_id:
            raise ExportError(
                f"{name} in the output folder belongs to the export of form {owner}; "
                "choose another --out folder"
            )
        if not overwrite:
            raise ExportError(
                f"{name} is already in the output folder; pass --overwrite to replace "
                "it, or choose another --out folder"
            )


def _kinds_from_dtypes(frame: pd.DataFrame) -> dict[str, str]:
    import pandas as pd

    out = {}
    for c in frame.columns:
        dtype = frame[c].dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            out[str(c)] = "dateTime" if getattr(dtype, "tz", None) else "date"
    return out


def _write(
    frames: Mapping[str, pd.DataFrame],
    kinds: Mapping[str, Mapping[str, str]],
    hxl: Mapping[str, list[str]],
    *,
    fmt: Format,
    out_dir: Path,
    files: Mapping[str, str],
    options: ExportOptions,
    progress: Progress | None,
    parents: Mapping[str, str],
) -> ExportResult:
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

    rows = {name: len(frame) for name, frame in frames.items()}
    try:
        if fmt == "csv":
            written = [
                _write_csv(frame, out_dir / files[name], advance, hxl=hxl.get(name),
                           neutralise_cells=options.neutralise_csv)
                for name, frame in frames.items()
            ]  # fmt: skip
        elif fmt == "parquet":
            written = [
                _write_parquet(frame, out_dir / files[name], advance, kinds.get(name, {}))
                for name, frame in frames.items()
            ]
        else:
            path = out_dir / next(iter(files.values()), "export.xlsx")
            written = [_write_xlsx(frames, kinds, hxl, path, advance, parents)]
    except OSError as exc:
        raise ExportError(f"cannot write the export ({exc.strerror or 'disk error'})") from None
    return ExportResult(files=written, rows=rows)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _write_codebook(rows: list[dict[str, Any]], path: Path) -> None:
    import csv

    tmp = path.with_name(path.name + ".part")
    fields = list(dict.fromkeys(k for row in rows for k in row)) or ["table", "column"]
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            # Labels come from the form, which anyone may have written.
            writer.writerow({k: neutralise(str(v)) for k, v in row.items()})
    tmp.replace(path)


def _write_csv(
    frame: pd.DataFrame,
    path: Path,
    advance: Callable[[int], None],
    *,
    hxl: list[str] | None,
    neutralise_cells: bool,
) -> Path:
    import csv

    # UTF-8 with a byte-order mark: Excel otherwise opens non-ASCII labels as mojibake.
    safe = neutralise_frame(frame) if neutralise_cells else frame
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        safe.iloc[:0].to_csv(fh, index=False, lineterminator="\r\n")
        if hxl is not None:
            csv.writer(fh, lineterminator="\r\n").writerow(hxl)
        for start in range(0, len(safe), _CHUNK):
            chunk = safe.iloc[start : start + _CHUNK]
            chunk.to_csv(fh, index=False, header=False, lineterminator="\r\n")
            advance(len(chunk))
    tmp.replace(path)
    return path


def _write_parquet(
    frame: pd.DataFrame, path: Path, advance: Callable[[int], None], kinds: Mapping[str, str]
) -> Path:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError("Parquet export needs pyarrow: pip install 'fieldkit[parquet]'") from None
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for i, name in enumerate(table.column_names):
        kind = kinds.get(name)
        if kind == "date" and pa.types.is_timestamp(table.schema.field(i).type):
            # A day is a Parquet DATE (arrow/R Date, pandas datetime), not a midnight.
            table = table.set_column(i, name, table.column(i).cast(pa.date32()))
    tmp = path.with_name(path.name + ".part")
    pq.write_table(table, tmp)
    tmp.replace(path)
    advance(len(frame))
    return path


def _write_xlsx(
    frames: Mapping[str, pd.DataFrame],
    kinds: Mapping[str, Mapping[str, str]],
    hxl: Mapping[str, list[str]],
    path: Path,
    advance: Callable[[int], None],
    parents: Mapping[str, str],
) -> Path:
    import pandas as pd

    from fieldkit.analysis._xlsx import Sheet, write_workbook

    too_big = [name for name, f in frames.items() if len(f) + 2 > EXCEL_MAX_ROWS]
    if too_big:
        raise ExportError(
            f"table {too_big[0]} has more rows than an Excel sheet holds; use csv or parquet"
        )
    names = list(frames)
    sheet_names = excel_sheet_names([*names, _INDEX_SHEET])
    by_table = dict(zip(names, sheet_names, strict=False))
    renamed = any(by_table[n] != n for n in names)
    sheets = []
    for name, frame in frames.items():
        if renamed and "_parent_table" in frame.columns:
            # The parent as the sheet it is on, so the link works after names were cut.
            frame = frame.assign(
                _parent_table=frame["_parent_table"].map(lambda t: by_table.get(t, t))
            )
        header = [str(c) for c in frame.columns]
        rows: list[list[str]] = [header]
        if name in hxl:
            rows.append(hxl[name])
        sheets.append(Sheet(by_table[name], frame, dict(kinds.get(name, {})), rows))
    if renamed or not frames:
        # Excel cuts sheet names to 31 characters: this sheet says which table is where.
        index = pd.DataFrame(
            {
                "table": pd.Series(names, dtype="str"),
                "sheet": pd.Series([by_table[n] for n in names], dtype="str"),
                "parent_table": pd.Series([parents.get(n) for n in names], dtype="str"),
                "parent_sheet": pd.Series(
                    [by_table.get(parents.get(n, ""), None) for n in names], dtype="str"
                ),
                "rows": pd.Series([len(frames[n]) for n in names], dtype="Int64"),
            }
        )
        sheets.append(Sheet(sheet_names[-1], index, {}, [list(index.columns)]))
    write_workbook(sheets, path, advance)
    return path
