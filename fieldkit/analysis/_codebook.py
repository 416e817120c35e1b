"""The codebook and the manifest written beside every export (for analysts in Python or R).

Codebook: one row per exported column (table, column, question name, type, label in every
language of the form, choices with their labels). Manifest: what was exported from what
(fieldkit version, form versions and their record counts, the options used as filters, the
tables with their files and rows). Neither holds an answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fieldkit.analysis._columns import OutputColumn

if TYPE_CHECKING:
    from fieldkit.analysis.tables import Built

__all__ = ["codebook_rows", "manifest"]

_META_MEANING = {
    "_id": "record id",
    "_form_version": "form version the record was captured with",
    "_device": "pseudonym of the capturing device",
    "_capture_day": "day of capture (UTC)",
    "_finalized_at": "when the record was finalized on the device (UTC)",
    "_received_at": "when the server received the record (UTC; empty on a field laptop)",
    "_replaces": "record id this edit replaces",
    "_status": "finalized (every exported record is a submission)",
    "_case_id": "case id",
    "_key": "stable row key: record id, then the instance path below the root",
    "_parent_key": "the _key of the row this one belongs to",
    "_index": "row number in this table (renumbers when earlier records arrive)",
    "_parent_index": "_index of the row this one belongs to",
    "_parent_table": "table of the row this one belongs to",
    "_record_id": "record id of the row's record",
    "_latest": "true for the current version of an edited record",
    "_possible_duplicate": "shares its duplicate key fields with another record",
    "_duplicate_group": "number shared by possible duplicates",
}


def _languages(built: Built) -> list[str]:
    seen: list[str] = []
    for form in reversed(built.versions):
        for lang in getattr(form, "languages", None) or ():
            if lang and lang not in seen:
                seen.append(lang)
    return seen


def codebook_rows(built: Built, places: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per exported column; ``places`` names each table's file or sheet."""
    langs: list[str | None] = [*_languages(built)] or [None]
    rows: list[dict[str, Any]] = []
    for table, columns in built.columns.items():
        for col in columns:
            rows.append(_row(table, places.get(table, table), col, langs))
    return rows


def _row(table: str, place: str, col: OutputColumn, langs: Sequence[str | None]) -> dict[str, Any]:
    spec = col.spec
    row: dict[str, Any] = {
        "table": table,
        "file_or_sheet": place,
        "column": col.header,
        "name": spec.name if spec else col.header,
        "path": spec.key if spec else "",
        "xlsform_type": spec.xlsform_type if spec else "",
        "export_type": col.kind,
        "part": col.role if col.role != "value" else "",
        "detail": col.detail,
        "sensitive": "yes" if spec and spec.sensitive else "",
        "hxl": (spec.hxl or "") if spec and col.role == "value" else "",
        "ctdc": (spec.ctdc or "") if spec else "",
    }
    for lang in langs:
        suffix = f"::{lang}" if lang else ""
        label = (spec.label(lang) if spec and spec.label else None) or ""
        if spec is None:
            label = _META_MEANING.get(col.header, "")
        elif col.role == "choice":
            choice_label = spec.choice_labels.get(col.detail)
            label = f"{label} / {(choice_label(lang) if choice_label else None) or col.detail}"
        elif col.role == "part":
            label = f"{label} ({col.detail})"
        row[f"label{suffix}"] = label
        choices = ""
        if spec is not None and spec.choices and col.role in ("value", "ctdc"):
            choices = " | ".join(
                f"{c} = {(spec.choice_labels[c](lang) if spec.choice_labels.get(c) else '') or c}"
                for c in spec.choices
            )
        row[f"choices{suffix}"] = choices
    return row


def manifest(
    built: Built,
    *,
    fmt: str,
    files: Mapping[str, str],
    extra_files: Sequence[str],
) -> dict[str, Any]:
    """The export's manifest (JSON-ready): versions, counts, options, tables, fieldkit version."""
    from importlib.metadata import PackageNotFoundError, version

    from fieldkit.clock import utc_text

    try:
        fieldkit_version = version("fieldkit")
    except PackageNotFoundError:  # a checkout run without installing
        fieldkit_version = "unknown"
    schema = built.schema
    versions = []
    for form in built.versions:
        versions.append(
            {
                "version": form.version,
                "title": str(getattr(form, "title", "") or ""),
                "records": built.by_version.get(form.version, 0),
            }
        )
    tables = []
    for spec in schema.tables.values():
        tables.append(
            {
                "name": spec.name,
                "file": files.get(spec.name),
                "parent": schema.tables[spec.parent].name if spec.parent else None,
                "rows": len(built.frames[spec.name]),
                "key": "_key",
                "parent_key": "_parent_key" if spec.parent else None,
            }
        )
    return {
        "fieldkit_version": fieldkit_version,
        "exported_at": utc_text(),
        "form_id": schema.form_id,
        "format": fmt,
        "records": built.records,
        "form_versions": versions,
        "options": built.options.summary(),
        "tables": tables,
        "files": sorted({*(f for f in files.values() if f), *extra_files}),
    }
