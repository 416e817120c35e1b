"""The coordinator's indicator report: one self-contained HTML file, or the same figures as JSON.

Only published figures (``_cells.Figure``: suppressed below k, rounded down) reach the page;
category labels come from choice names and from categories with at least k people. Every
value is HTML-escaped; plots are PNGs drawn with matplotlib's Agg canvas (no display, no global
pyplot state) and embedded as data URIs, so the file opens offline and can be e-mailed as is.
"""

from __future__ import annotations

import base64
import html
import io
import json
import warnings
from datetime import date
from pathlib import Path
from typing import Any

from fieldkit.analysis._cells import Figure, Protection
from fieldkit.analysis.indicators import FORM_IDS, Indicator, IndicatorSet, compute_indicators
from fieldkit.analysis.options import ExportOptions
from fieldkit.errors import ExportError, UsageError

__all__ = ["build_report", "render_html", "render_json", "write_report"]

_AREAS = (
    ("prevention", "Prevention"),
    ("protection", "Protection"),
    ("prosecution", "Prosecution"),
    ("partnership", "Partnership"),
)
_DIM_TITLES = {
    "site": "Site",
    "sex": "Sex",
    "age_band": "Age band",
    "form": "Screening form",
    "minor": "Minor / adult",
    "exploitation_type": "Type of exploitation",
    "citizenship": "Citizenship",
    "service_type": "Service type",
    "emergency_type": "Emergency service",
    "visit_month": "Follow-up month",
}
# The report reads choice names (the FIELDS contract), in plain text columns.
_REPORT_TABLES = ExportOptions(select_multiple="summary", duplicate_keys=(), categorical=False)
_UNITS = {"percent": "%", "days": " days", "per_case": " per case", "count": ""}


def build_report(
    workspace: Any,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    min_cell: int = 11,
    resolution: int = 5,
) -> IndicatorSet:
    """Indicators for the period from the workspace's bundled forms (DOMAIN §7)."""
    from fieldkit.analysis.tables import tables

    if min_cell < 2:
        raise UsageError("--min-cell must be at least 2")
    if resolution < 1:
        raise UsageError("--resolution must be at least 1")
    if date_from and date_to and date_from > date_to:
        raise UsageError("--from is after --to")
    present = {fv.form_id for fv in workspace.forms.list()}
    frames = {}
    for form_id in FORM_IDS:
        if form_id in present:
            # Sensitive fields are never loaded (include_sensitive is empty): what is not in the
            # frames cannot reach the page (DOMAIN §5).
            built = tables(workspace, form_id, _REPORT_TABLES)
            frames[form_id] = built[next(iter(built))]
    return compute_indicators(
        frames,
        date_from=date_from,
        date_to=date_to,
        rules=Protection(k=min_cell, resolution=resolution),
    )


def render_json(report: IndicatorSet) -> str:
    """The report's figures as JSON text (the ``--json`` variant)."""
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)


def write_report(report: IndicatorSet, out: Path, *, as_json: bool = False) -> Path:
    """Write the HTML (or JSON) report to ``out``; the file is replaced whole or not at all."""
    text = render_json(report) if as_json else render_html(report)
    tmp = out.with_name(out.name + ".part")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    except OSError as exc:
        raise ExportError(f"cannot write the report ({exc.strerror or 'disk error'})") from None
    return out


# ------------------------------------------------------------------------------- HTML


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _shown(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    suffix = _UNITS.get(unit, "")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value}{suffix}"


def render_html(report: IndicatorSet) -> str:
    """The whole report as one HTML document with embedded PNG plots."""
    k = report.rules.k
    period = (
        f"{report.date_from.isoformat() if report.date_from else 'the first record'} to "
        f"{report.date_to.isoformat() if report.date_to else 'the last record'}"
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>fieldkit indicator report</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:.2em .6em;text-align:left}td.n{text-align:right}.na{color:#777}"
        "img{max-width:100%}</style></head><body>",
        "<h1>Indicator report</h1>",
        f"<p>Period: {_e(period)}. Cells with fewer than {_e(k)} people are shown as "
        f"“&lt;{_e(k)}”; other counts are rounded down to a multiple of "
        f"{_e(report.rules.resolution)}; categories with fewer than {_e(k)} people are pooled "
        "as “other”. Percentages are computed from exact counts and withheld when they would "
        "reveal a small group.</p>",
        "<p>People whose latest consent record refuses use in anonymous statistics "
        "(consent_stats = no) are left out of every figure on this page, the record counts "
        "included; their records are found by their case code (client_pseudonym). Records "
        "without a case code, such as the anonymous community needs assessment, are counted "
        "as they are. How many people refused is not shown.</p>",
        "<h2>Records in the period</h2><table><tr><th>Form</th><th>Records</th></tr>",
    ]
    for form, n in report.records.items():
        parts.append(f"<tr><td>{_e(form)}</td><td class=n>{_e(n)}</td></tr>")
    parts.append("</table>")
    for area, title in _AREAS:
        inds = [i for i in report.indicators if i.area == area]
        if not inds:
            continue
        parts.append(f"<h2>{_e(title)}</h2>")
        for ind in inds:
            parts.append(_indicator_html(ind))
    parts.append("</body></html>")
    return "\n".join(parts)


def _indicator_html(ind: Indicator) -> str:
    out = [
        f'<section id="{_e(ind.key)}"><h3>{_e(ind.title)}</h3>',
        f"<p>Definition: {_e(ind.definition)}</p>",
    ]
    if not ind.available:
        out.append(f'<p class="na">Not available: {_e(ind.missing)}.</p></section>')
        return "".join(out)
    out.append(f"<p>Numerator: {_e(ind.numerator)}. Denominator: {_e(ind.denominator)}.</p>")
    if ind.total is not None:
        out.append(f"<p><strong>All: {_e(_shown(ind.total.value, ind.unit))}</strong>")
        if ind.unit in ("percent", "per_case"):
            out.append(f" ({_e(ind.total.numerator)} of {_e(ind.total.denominator)})")
        elif ind.unit == "days" and ind.total.denominator is not None:
            out.append(f" (over {_e(ind.total.denominator)} people)")
        out.append("</p>")
    for dim, figures in ind.breakdowns.items():
        if not figures:
            continue
        out.append(_table_html(dim, figures, ind.unit))
    plot = _plot_for(ind)
    if plot:
        out.append(
            f'<img alt="{_e(ind.title)} by {_e(_DIM_TITLES.get(plot[0], plot[0]).lower())}" '
            f'src="data:image/png;base64,{plot[1]}">'
        )
    out.append("</section>")
    return "".join(out)


def _table_html(dim: str, figures: list[Figure], unit: str) -> str:
    title = _DIM_TITLES.get(dim, dim)
    rows = [f"<table><caption>By {_e(title.lower())}</caption><tr><th>{_e(title)}</th>"]
    ratio = unit in ("percent", "per_case")
    if ratio:
        rows.append("<th>Numerator</th><th>Denominator</th>")
    rows.append("<th>Value</th></tr>")
    for f in figures:
        rows.append(f"<tr><td>{_e(f.label)}</td>")
        if ratio:
            rows.append(f"<td class=n>{_e(f.numerator)}</td><td class=n>{_e(f.denominator)}</td>")
        rows.append(f"<td class=n>{_e(_shown(f.value, unit))}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


_MAX_BARS = 40  # beyond this a chart is unreadable; the table still lists every category


def _plot_for(ind: Indicator) -> tuple[str, str] | None:
    """The first breakdown with at least two published values, drawn as a bar chart."""
    for dim, figures in ind.breakdowns.items():
        numeric = [f for f in figures if isinstance(f.value, int | float)]
        if 2 <= len(numeric) and len(figures) <= _MAX_BARS:
            try:
                return dim, _bar_chart(ind, dim, figures)
            except ImportError:
                # matplotlib missing from a trimmed install: the tables carry every figure.
                return None
    return None


def _bar_chart(ind: Indicator, dim: str, figures: list[Figure]) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as PlotFigure

    # A category is data (a site code someone typed): "$" would start matplotlib's mathtext.
    labels = [f.label.replace("$", r"\$") for f in figures]
    values = [float(f.value) if isinstance(f.value, int | float) else 0.0 for f in figures]
    height = 1.2 + 0.35 * len(labels)
    fig = PlotFigure(figsize=(6.4, height), dpi=96)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bars = ax.barh(range(len(labels)), values, color="#3b6ea5")
    ax.set_yticks(range(len(labels)), labels=labels)
    ax.invert_yaxis()
    ax.set_xlabel({"percent": "%", "days": "days", "per_case": "per case"}.get(ind.unit, "count"))
    ax.set_title(f"{ind.title} by {_DIM_TITLES.get(dim, dim).lower()}", fontsize=10)
    for bar, f in zip(bars, figures, strict=True):
        if not isinstance(f.value, int | float):
            # Withheld cells are drawn as empty bars with their published text, so a reader
            # sees the category exists without a number.
            ax.annotate(
                str(f.value or "—"),
                (0, bar.get_y() + bar.get_height() / 2),
                va="center",
                fontsize=8,
                color="#555",
            )
    fig.tight_layout()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A glyph missing from the default font is a cosmetic matter, not a failure.
        warnings.simplefilter("ignore")
        fig.savefig(buffer, format="png", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")
