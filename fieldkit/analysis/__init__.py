"""Coordinator side: linked export tables, file writers, indicators and the report (DESIGN §7).

Importing this package is cheap: pandas, pyarrow and matplotlib are imported inside the
functions that use them.
"""

from __future__ import annotations

from fieldkit.analysis._cells import Figure, Protection
from fieldkit.analysis.export import (
    ExportResult,
    excel_sheet_names,
    export_form,
    neutralise,
    write_tables,
)
from fieldkit.analysis.indicators import Indicator, IndicatorSet, compute_indicators
from fieldkit.analysis.options import ExportOptions
from fieldkit.analysis.read import read_tables
from fieldkit.analysis.report import build_report, render_html, render_json, write_report
from fieldkit.analysis.tables import build_tables, tables

__all__ = [
    "ExportOptions",
    "ExportResult",
    "Figure",
    "Indicator",
    "IndicatorSet",
    "Protection",
    "build_report",
    "build_tables",
    "compute_indicators",
    "excel_sheet_names",
    "export_form",
    "neutralise",
    "read_tables",
    "render_html",
    "render_json",
    "tables",
    "write_report",
    "write_tables",
]
