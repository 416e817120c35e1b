"""The one adapter to pyxform: an XLSForm file in, a JSON-able form definition out.

This is the only module that imports pyxform (pinned in pyproject.toml). Everything pyxform or
its readers (openpyxl, xlrd, csv) can throw becomes a ``FormError`` with sheet and row where
known, so no form file can crash the loader. The definition is pyxform's own
``parse_file_to_json`` output plus three things fieldkit adds:

- ``choices`` also holds the rows of every ``select_*_from_file`` CSV or GeoJSON file (key:
  the file name; see choice_files.py) and of the ``external_choices`` sheet, so a stored
  definition needs no file beside it;
- ``fieldkit.rows``: survey-sheet row of every element, by path below the root
  (``household/member/age``), so expression errors found later name their row.
"""

from __future__ import annotations

import copy
import io
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fieldkit.errors import FormError
from fieldkit.forms.choice_files import CHOICE_FILE_SUFFIXES, default_columns, read_choice_file

__all__ = ["FormCheck", "parse_xlsform"]

# Limits that keep a hostile file from exhausting the laptop. A real XLSForm is a few hundred
# kilobytes; the largest in pyxform's own test corpus is under 1 MB.
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNZIPPED_BYTES = 100 * 1024 * 1024
MAX_ZIP_RATIO = 200  # typical xlsx members compress 5-20x; a zip bomb compresses 1000x+

SUPPORTED_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".csv", ".md"}

_ROW_RE = re.compile(r"\[row\s*:\s*(\d+)\]", re.IGNORECASE)
_COLUMN_RE = re.compile(r"the '([^']+)' value is invalid", re.IGNORECASE)
# "sheet: 'name'" only with quotes: pyxform also writes "List name not in choices sheet: LIST"
# about a row of the survey sheet, where the word after the colon is the list, not a sheet.
_SHEET_RE = re.compile(r"On the '(\w+)' sheet|sheet:\s*'(\w+)'|'(\w+)' sheet", re.IGNORECASE)
_LIST_MISSING_RE = re.compile(
    r"List name not in (choices|columns|external choices) sheet:\s*(\S+)", re.IGNORECASE
)


@dataclass
class FormCheck:
    """What parsing a file found: the definition (None when refused), errors and warnings."""

    definition: dict[str, Any] | None
    errors: list[FormError] = field(default_factory=list)
    warnings: list[FormError] = field(default_factory=list)


def parse_xlsform(path: Path, *, build: bool = True) -> FormCheck:
    """Parse an XLSForm file through pyxform; with ``build`` also run pyxform's XForm build.

    Never raises for a bad file: problems come back in ``FormCheck.errors``.
    """
    try:
        return _parse(path, build=build)
    except FormError as exc:
        return FormCheck(None, [exc])
    except RecursionError:
        return FormCheck(None, [FormError("the form is nested too deeply to read")])
    except MemoryError:
        return FormCheck(None, [FormError("the form is too large to read")])
    except Exception as exc:  # noqa: BLE001 - pyxform raises bare ValueError/KeyError/...
        return FormCheck(None, [_reword(exc)])


def _parse(path: Path, *, build: bool) -> FormCheck:
    from pyxform.xls2json import workbook_to_json

    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise FormError(f"{path.name}: not an XLSForm file type (use .xlsx, .xls, .csv or .md)")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise FormError(f"{path.name}: cannot read the file ({exc.strerror})") from None
    if not path.is_file():
        raise FormError(f"{path.name}: not a file")
    if size > MAX_FILE_BYTES:
        raise FormError(f"{path.name}: file is too large for a form ({size // 1024} KiB)")
    data = path.read_bytes()
    book = _read_workbook(data, suffix=suffix, name=path.name)
    book["fallback_form_name"] = path.stem
    rows = _row_map(book.get("survey") or [])
    warnings: list[str] = []
    from pyxform.xls2json_backends import DefinitionData

    known = set(DefinitionData.__dataclass_fields__)
    definition = workbook_to_json(
        workbook_dict=DefinitionData(**{k: v for k, v in book.items() if k in known}),
        form_name=None,
        fallback_form_name=path.stem,
        default_language=None,
        warnings=warnings,
    )
    if build:
        _build_xform(definition, warnings)
    _inline_external_choices(definition, book, folder=path.parent)
    definition["fieldkit"] = {"rows": rows}
    return FormCheck(definition, [], [_reword_warning(w) for w in warnings])


def _build_xform(definition: dict[str, Any], warnings: list[str]) -> None:
    """pyxform's own survey build and XForm serialisation, so what it refuses we refuse."""
    from pyxform.builder import create_survey_element_from_dict

    survey = create_survey_element_from_dict(copy.deepcopy(definition))
    survey.to_xml(validate=False, pretty_print=False, warnings=warnings)


# ---------------------------------------------------------------------------------- reading


def _read_workbook(data: bytes, *, suffix: str, name: str) -> dict[str, Any]:
    """Sheets as pyxform's backends shape them: {sheet: [row dicts], sheet_header: ...}."""
    from pyxform.xls2json_backends import csv_to_dict, md_to_dict, xls_to_dict

    if suffix in {".xlsx", ".xlsm"}:
        return _xlsx_to_dict(data, name=name)
    if suffix == ".xls":
        from pyxform.errors import PyXFormError

        try:
            book: dict[str, Any] = xls_to_dict(io.BytesIO(data))
        except PyXFormError as exc:
            # pyxform wraps xlrd's read errors with a slice of the file's raw bytes, which may
            # be anything the file holds: say the file is damaged, and nothing of its content.
            if "Error reading .xls file" not in str(exc):
                raise
            raise FormError(f"{name}: not a valid .xls workbook (the file is damaged)") from None
        except Exception:  # noqa: BLE001 - xlrd raises many types for damaged files
            raise FormError(f"{name}: not a valid .xls workbook (the file is damaged)") from None
        return book
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormError(
            f"{name}: the file is not UTF-8 text; save it as 'CSV UTF-8' (or UTF-8 Markdown)"
        ) from None
    if "\x00" in text:
        raise FormError(f"{name}: the file is not text")
    raw = io.BytesIO(text.encode("utf-8"))
    if suffix == ".md":
        _check_markdown_cells(text)
    result: dict[str, Any] = csv_to_dict(raw) if suffix == ".csv" else md_to_dict(raw)
    return result


def _check_markdown_cells(text: str) -> None:
    """Refuse a Markdown row with more cells than its sheet's header, before pyxform reads it.

    In a Markdown table every ``|`` starts a new cell, so a ``|`` inside a label or an
    expression (the XPath union ``a | b``) splits the cell; pyxform then fails with "tuple
    index out of range". Markdown's own escape, ``\\|``, keeps it in the cell.
    """
    from pyxform.xls2json_backends import _md_table_to_ss_structure

    for sheet, rows in _md_table_to_ss_structure(text).items():
        if not rows:
            continue
        width = len(rows[0])
        for number, row in enumerate(rows[1:], start=2):
            if any(cell not in {None, ""} for cell in row[width:]):
                raise FormError(
                    "the row has more cells than the sheet's header; a '|' inside a cell "
                    "must be written '\\|'",
                    sheet=str(sheet).lower() if sheet else None,
                    row=number,
                )


def _check_zip(data: bytes, *, name: str) -> None:
    """Refuse zip bombs before openpyxl inflates anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = 0
            for info in archive.infolist():
                total += info.file_size
                ratio = info.file_size / max(info.compress_size, 1)
                if total > MAX_UNZIPPED_BYTES or (
                    info.file_size > 1_000_000 and ratio > MAX_ZIP_RATIO
                ):
                    raise FormError(f"{name}: the workbook expands to an unsafe size; refused")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise FormError(f"{name}: not a valid .xlsx workbook (the file is damaged)") from None


def _xlsx_to_dict(data: bytes, *, name: str) -> dict[str, Any]:
    """pyxform's xlsx reading, made safe: no macro, no formula is ever run.

    openpyxl never runs macros (an .xlsm's VBA project is not even loaded: keep_vba=False) and
    never evaluates formulas. A formula cell reads as the value the spreadsheet program cached
    when it saved the file (what the author saw, and what pyxform reads); a formula with no
    cached value reads as its own text (``=…``), never as a computed result.
    """
    _check_zip(data, name=name)
    import openpyxl
    from pyxform import constants
    from pyxform.errors import PyXFormError

    def load(data_only: bool) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about unsupported extensions
            return openpyxl.load_workbook(
                io.BytesIO(data),
                read_only=True,
                data_only=data_only,
                keep_vba=False,
                keep_links=False,
            )

    try:
        workbook = load(True)
        formulas = load(False) if _has_formulas(data) else None
    except Exception:  # noqa: BLE001 - openpyxl raises many types for damaged files
        raise FormError(f"{name}: not a valid .xlsx workbook (the file is damaged)") from None
    try:
        book: dict[str, Any] = {"sheet_names": []}
        for sheet_name in workbook.sheetnames:
            book["sheet_names"].append(sheet_name)
            lower = sheet_name.lower()
            if lower not in constants.SUPPORTED_SHEET_NAMES:
                if len(workbook.sheetnames) != 1:
                    continue
                lower = constants.SURVEY
            raw = formulas[sheet_name] if formulas is not None else None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                book[lower], book[f"{lower}_header"] = _sheet_rows(workbook[sheet_name], raw)
        return book
    except (FormError, PyXFormError):
        raise
    except Exception:  # noqa: BLE001
        raise FormError(f"{name}: not a valid .xlsx workbook (the file is damaged)") from None
    finally:
        workbook.close()
        if formulas is not None:
            formulas.close()


def _has_formulas(data: bytes) -> bool:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                with archive.open(info) as member:
                    body = member.read()
                if b"<f>" in body or b"<f " in body:
                    return True
    return False


def _cell_text(value: Any) -> str | None:
    from pyxform.xls2json_backends import xlsx_value_to_str

    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
    return str(xlsx_value_to_str(value))


def _sheet_rows(sheet: Any, raw_sheet: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of one sheet as pyxform's get_excel_rows makes them (same empty-row rules)."""
    from pyxform.xls2json_backends import _list_to_dict_list, get_excel_column_headers

    values = sheet.iter_rows(values_only=True)
    raws = raw_sheet.iter_rows(values_only=True) if raw_sheet is not None else None

    def merged() -> Any:
        for row in values:
            raw = next(raws, ()) if raws is not None else ()
            yield tuple(
                v if v is not None else (raw[i] if i < len(raw) else None)
                for i, v in enumerate(row)
            )

    rows_iter = merged()
    first = next(rows_iter, ())
    headers = get_excel_column_headers(first_row=iter(first))
    columns = list(enumerate(headers))
    result: list[dict[str, Any]] = []
    empty_run = 0
    for row in rows_iter:
        item: dict[str, Any] = {}
        for index, key in columns:
            if key is None or index >= len(row):
                continue
            text = _cell_text(row[index])
            if text is not None:
                item[key] = text
        if not item:
            if empty_run == 60:  # pyxform stops after a run of 60 empty rows
                break
            empty_run += 1
        else:
            empty_run = 0
        result.append(item)
    if empty_run:
        result = result[: len(result) - empty_run] if empty_run <= len(result) else []
    return result, _list_to_dict_list([key for key in headers if key is not None])


_BEGIN = re.compile(r"^begin[ _]?(group|repeat|loop)\b", re.IGNORECASE)
_END = re.compile(r"^end[ _]?(group|repeat|loop)\b", re.IGNORECASE)
_OR_OTHER = re.compile(r"\bor[ _]specify[ _]other$|\bor_other$", re.IGNORECASE)


def _row_map(survey: list[dict[str, Any]]) -> dict[str, int]:
    """Path below the root (``group/name``) → spreadsheet row (header is row 1)."""
    rows: dict[str, int] = {}
    stack: list[str] = []
    for index, row in enumerate(survey):
        number = index + 2
        kind = str(row.get("type", "")).strip()
        name = str(row.get("name", "")).strip()
        if _BEGIN.match(kind):
            stack.append(name)
            rows.setdefault("/".join(stack), number)
        elif _END.match(kind):
            if stack:
                stack.pop()
        elif name:
            path = "/".join([*stack, name])
            rows.setdefault(path, number)
            if _OR_OTHER.search(kind):
                rows.setdefault(path + "_other", number)
    return rows


# ------------------------------------------------------------------------ external choices


def _iter_elements(element: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for child in element.get("children", []) or []:
        if isinstance(child, dict):
            out.append(child)
            out.extend(_iter_elements(child))
    return out


def _inline_external_choices(
    definition: dict[str, Any], book: dict[str, Any], *, folder: Path
) -> None:
    """Copy choices kept outside the choices sheet into the definition."""
    choices: dict[str, Any] = definition.setdefault("choices", {})
    external = book.get("external_choices") or []
    for row in external:
        list_name = str(row.get("list_name", row.get("list name", ""))).strip()
        if list_name and "name" in row:
            choice = {k: v for k, v in row.items() if k not in {"list_name", "list name"}}
            choices.setdefault("external:" + list_name, []).append(choice)
    for element in _iter_elements(definition):
        itemset = element.get("itemset")
        if not isinstance(itemset, str):
            continue
        if element.get("type", "").endswith("external"):
            element["itemset"] = "external:" + itemset
            continue
        if "." not in itemset or itemset in choices:
            continue
        if not itemset.lower().endswith(CHOICE_FILE_SUFFIXES):
            raise FormError(
                f"question '{element.get('name')}': choices from {itemset} are not supported; "
                "use a CSV or GeoJSON file",
                sheet="survey",
            )
        if "/" in itemset or "\\" in itemset or itemset.startswith("."):
            raise FormError(
                f"question '{element.get('name')}': the choice file must sit beside the form",
                sheet="survey",
            )
        params = element.get("parameters") or {}
        value_column, _ = default_columns(itemset)
        choices[itemset] = read_choice_file(
            folder / itemset,
            value_column=str(params.get("value", value_column)),
            question=str(element.get("name")),
        )


# --------------------------------------------------------------------------- rewording


_REWORDS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"'itemset' and 'list_name' must not both be None", re.I),
        "a select or rank question names no choice list (write e.g. 'select_one yes_no')",
    ),
    (re.compile(r"list index out of range", re.I), "a row is malformed (a cell is missing)"),
    (
        re.compile(r"This section has not been included", re.I),
        "the form includes a section that is not defined (an 'include' row)",
    ),
    (re.compile(r"not recognized as a supported type", re.I), "the file is not a readable XLSForm"),
    (
        re.compile(r"does not appear to be a valid XLSForm", re.I),
        "the file is not a readable XLSForm",
    ),
]


def _locate(message: str) -> tuple[str | None, int | None]:
    row_match = _ROW_RE.search(message)
    sheet_match = _SHEET_RE.search(message)
    sheet = None
    if sheet_match:
        sheet = next((g for g in sheet_match.groups() if g), None)
        if sheet is not None:
            sheet = sheet.lower()
    return sheet, int(row_match.group(1)) if row_match else None


def _clean(message: str) -> str:
    message = _ROW_RE.sub("", message).strip()
    message = re.sub(r"\s+", " ", message)
    for pattern, replacement in _REWORDS:
        if pattern.search(message):
            return replacement
    return message.rstrip(".") or "pyxform could not read the form"


def _reword(exc: BaseException) -> FormError:
    """One FormError from any exception pyxform or its readers raised."""
    from pyxform.errors import PyXFormError

    text = str(exc) if isinstance(exc, PyXFormError) else ""
    if not isinstance(exc, PyXFormError):
        kind = type(exc).__name__
        module = type(exc).__module__.split(".")[0]
        if isinstance(exc, KeyError):
            text = f"a required column or setting is missing ({exc.args[0]!s})" if exc.args else ""
        elif module in {"xlrd", "openpyxl", "zipfile"}:
            text = "the workbook is damaged or not a workbook"
        else:
            text = str(exc) or kind
    sheet, row = _locate(text)
    missing = _LIST_MISSING_RE.search(text)
    if missing is not None:
        # A select on the survey sheet names a list its choices sheet lacks.
        return FormError(
            f"choice list '{missing.group(2)}' is not on the {missing.group(1).lower()} sheet",
            sheet="survey",
            row=row,
            column="type",
        )
    column = _COLUMN_RE.search(text)
    return FormError(
        _clean(text) or "pyxform could not read the form",
        sheet=sheet,
        row=row,
        column=column.group(1) if column else None,
    )


def _reword_warning(text: str) -> FormError:
    sheet, row = _locate(text)
    return FormError(_clean(text), sheet=sheet, row=row)
