"""The coordinator's indicator report: one self-contained HTML file, or the same figures as JSON.

Only published figures (``_cells.Figure``: small cells suppressed, complements withheld,
counts rounded down) reach the page; category labels come from the forms' choice labels in the
report's language. Every value is HTML-escaped; charts are SVG drawn with matplotlib's SVG
canvas (no display, no global pyplot state) and embedded as data URIs, so the file opens
offline, can be e-mailed as is, and prints to a clean PDF from a browser (print stylesheet:
the title block and summary on the first page, no indicator split across pages).
"""

from __future__ import annotations

import base64
import html
import io
import json
import warnings
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from fieldkit.analysis._cells import WITHHELD, Figure, Protection
from fieldkit.analysis.indicators import (
    FORM_IDS,
    OWN_LABELS,
    Indicator,
    IndicatorSet,
    compute_indicators,
)
from fieldkit.analysis.options import ExportOptions
from fieldkit.errors import ExportError, UsageError

__all__ = ["build_report", "render_html", "render_json", "write_report"]

# The report reads choice names (the FIELDS contract), in plain text columns.
_REPORT_TABLES = ExportOptions(select_multiple="summary", duplicate_keys=(), categorical=False)
# Breakdown → the field whose choices label its categories (FIELDS contract names).
_DIM_FIELDS = {
    "sex": "sex",
    "age_band": "age_band",
    "citizenship": "citizenship",
    "exploitation_type": "exploitation_type",
    "service_type": "service_types",
    "emergency_type": "service_types",
    "visit_month": "visit_month",
    "event_type": "event_type",
    "caller_type": "caller_type",
    "channel": "channel",
    "concern_type": "concern_type",
    "referring_organisation": "referring_organisation",
    "exit_destination": "exit_destination",
    "course_topic": "course_topic",
    "trainee_profession": "trainee_profession",
}
_MINOR = {
    "en": {"minor": "Minor", "adult": "Adult", "unknown": "Not known"},
    "fr": {"minor": "Mineur", "adult": "Adulte", "unknown": "Inconnu"},
}
_UNITS = {"percent": "%", "days": " days", "per_case": " per case", "count": ""}


def build_report(
    workspace: Any,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    min_cell: int = 11,
    resolution: int = 5,
    lang: str | None = None,
    programme: str | None = None,
    organisation: str | None = None,
) -> IndicatorSet:
    """Indicators for the period from the workspace's bundled forms (DOMAIN §7, §9).

    ``lang`` (a code such as ``fr``) picks the language of category labels and of the page;
    ``programme`` defaults to the project's name, ``organisation`` to none.
    """
    from fieldkit.analysis.tables import tables

    if min_cell < 2:
        raise UsageError("--min-cell must be at least 2")
    if resolution < 1:
        raise UsageError("--resolution must be at least 1")
    if date_from and date_to and date_from > date_to:
        raise UsageError("--from is after --to")
    code = (lang or "en").strip().lower()
    if code not in PAGE_TEXT:
        raise UsageError(f"--lang must be one of {', '.join(PAGE_TEXT)}")
    present = {fv.form_id for fv in workspace.forms.list()}
    frames = {}
    forms = {}
    for form_id in FORM_IDS:
        if form_id in present:
            # Sensitive fields are never loaded (include_sensitive is empty): what is not in the
            # frames cannot reach the page (DOMAIN §5).
            built = tables(workspace, form_id, _REPORT_TABLES)
            frames[form_id] = built[next(iter(built))]
            forms[form_id] = workspace.forms.get(form_id).form()
    # Referral statuses, service starts and follow-ups as the cases' events left them.
    from fieldkit.analysis._case_facts import follow_up_schedule, with_referral_events
    from fieldkit.cases import all_cases
    from fieldkit.clock import utc_day

    states = all_cases(workspace)
    report = compute_indicators(
        with_referral_events(frames, states),
        date_from=date_from,
        date_to=date_to,
        rules=Protection(k=min_cell, resolution=resolution),
        labels=category_labels(forms, code),
        follow_ups=follow_up_schedule(states, today=utc_day()),
        withdrawn=_statistics_withdrawn(workspace, frames.get("consent")),
    )
    state = getattr(workspace, "state", None)
    report.programme = programme or (state.get("sync.project_name") if state else None)
    report.organisation = organisation
    report.lang = code
    return report


def category_labels(forms: Mapping[str, Any], code: str) -> dict[str, dict[str, str]]:
    """Breakdown → category → label in language ``code``, from the forms' choice labels."""
    out: dict[str, dict[str, str]] = {"*": dict(OWN_LABELS.get(code, OWN_LABELS["en"]))}
    out["minor"] = dict(_MINOR[code])
    out["form"] = {}
    for form_id, form in forms.items():
        language = _form_language(form, code)
        out["form"][form_id] = str(getattr(form, "title", "") or form_id)
        for dim, field_name in _DIM_FIELDS.items():
            for node in form.named(field_name) if hasattr(form, "named") else ():
                for choice in node.choices or ():
                    text = choice.label(language) or choice.name
                    out.setdefault(dim, {}).setdefault(choice.name, text)
    return out


def _form_language(form: Any, code: str) -> str | None:
    for name in getattr(form, "languages", ()) or ():
        if name.lower().endswith(f"({code})") or name.lower() == code:
            return str(name)
    return None


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

PAGE_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Indicator report",
        "period": "Period",
        "first": "the first record",
        "last": "the last record",
        "to": "to",
        "prepared": "Prepared",
        "summary": "Summary",
        "indicator": "Indicator",
        "value": "Value",
        "basis": "Based on",
        "of": "of",
        "over": "over {n} people",
        "records": "Records in the period",
        "form": "Form",
        "all": "All",
        "definition": "Definition",
        "numerator": "Numerator",
        "denominator": "Denominator",
        "na": "Not available",
        "withheld": "withheld",
        "by": "By",
        "omitted": "Not broken down by {dims}: too few people in each group to show them.",
        "anonymous": "Anonymous survey counts: published as they are.",
        "rules": (
            "How to read the figures. Counts of people under {k} show as “<{k}”; other counts "
            "are rounded down to a multiple of {r}. Where a small figure could be worked out "
            "from the others and the total, further figures are withheld too. Groups with "
            "fewer than {k} people are shown together as “{small}”; “Other” is an answer "
            "people gave. Percentages are worked out from the figures shown, so the page adds "
            "up; they may differ from exact figures by a few points."
        ),
        "consent": (
            "People who refused the use of their answers in anonymous statistics are left out "
            "of every figure. Anonymous community surveys (no person behind a record) are "
            "counted as they are."
        ),
        "prevention": "Prevention",
        "protection": "Protection",
        "prosecution": "Prosecution",
        "partnership": "Partnership",
        "site": "Site",
        "sex": "Sex",
        "age_band": "Age group",
        "form_dim": "Screening form",
        "minor": "Minor or adult",
        "exploitation_type": "Type of exploitation",
        "citizenship": "Citizenship",
        "service_type": "Service",
        "emergency_type": "Emergency service",
        "visit_month": "Follow-up month",
        "event_type": "Type of event",
        "caller_type": "Caller",
        "channel": "Channel",
        "concern_type": "Concern",
        "referring_organisation": "Referred by",
        "exit_destination": "Destination at exit",
        "course_topic": "Course",
        "course_code": "Course code",
        "trainee_profession": "Profession",
        "days": " days",
        "per_case": " per case",
        "points": " points",
    },
    "fr": {
        "title": "Rapport d'indicateurs",
        "period": "Période",
        "first": "le premier enregistrement",
        "last": "le dernier enregistrement",
        "to": "au",
        "prepared": "Préparé le",
        "summary": "Synthèse",
        "indicator": "Indicateur",
        "value": "Valeur",
        "basis": "Sur la base de",
        "of": "sur",
        "over": "sur {n} personnes",
        "records": "Enregistrements de la période",
        "form": "Formulaire",
        "all": "Ensemble",
        "definition": "Définition",
        "numerator": "Numérateur",
        "denominator": "Dénominateur",
        "na": "Non disponible",
        "withheld": "masqué",
        "by": "Par",
        "omitted": "Pas de ventilation par {dims} : trop peu de personnes dans chaque groupe.",
        "anonymous": "Comptages d'enquête anonyme : publiés tels quels.",
        "rules": (
            "Lecture des chiffres. Les effectifs de moins de {k} personnes sont notés « <{k} » ; "
            "les autres sont arrondis à un multiple de {r} inférieur. Lorsqu'un petit effectif "
            "pourrait être déduit des autres et du total, d'autres chiffres sont aussi masqués. "
            "Les groupes de moins de {k} personnes sont présentés ensemble sous « {small} » ; "
            "« Autre » est une réponse donnée. Les pourcentages sont calculés à partir des "
            "chiffres affichés : ils peuvent différer de quelques points des valeurs exactes."
        ),
        "consent": (
            "Les personnes qui ont refusé l'usage de leurs réponses dans des statistiques "
            "anonymes sont exclues de tous les chiffres. Les enquêtes communautaires anonymes "
            "sont comptées telles quelles."
        ),
        "prevention": "Prévention",
        "protection": "Protection",
        "prosecution": "Poursuites",
        "partnership": "Partenariats",
        "site": "Site",
        "sex": "Sexe",
        "age_band": "Tranche d'âge",
        "form_dim": "Formulaire de dépistage",
        "minor": "Mineur ou adulte",
        "exploitation_type": "Type d'exploitation",
        "citizenship": "Nationalité",
        "service_type": "Service",
        "emergency_type": "Service d'urgence",
        "visit_month": "Mois de suivi",
        "event_type": "Type d'événement",
        "caller_type": "Appelant",
        "channel": "Moyen de contact",
        "concern_type": "Préoccupation",
        "referring_organisation": "Orienté par",
        "exit_destination": "Destination à la sortie",
        "course_topic": "Formation",
        "course_code": "Code du cours",
        "trainee_profession": "Profession",
        "days": " jours",
        "per_case": " par cas",
        "points": " points",
    },
}
_AREAS = ("prevention", "protection", "prosecution", "partnership")

_STYLE = """
:root{--ink:#1d2733;--muted:#5b6775;--line:#d5dbe1;--accent:#1f5f8b}
body{font-family:"Segoe UI",Helvetica,Arial,sans-serif;color:var(--ink);max-width:60em;
margin:2em auto;padding:0 1em;line-height:1.45}
header.title{border-bottom:3px solid var(--accent);margin-bottom:1.2em;padding-bottom:.6em}
header.title h1{margin:0 0 .2em;font-size:1.9em}
header.title p{margin:.1em 0;color:var(--muted)}
h2{color:var(--accent);border-bottom:1px solid var(--line);padding-bottom:.2em;margin-top:1.6em}
h3{margin-bottom:.3em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.95em}
td,th{border-bottom:1px solid var(--line);padding:.25em .8em;text-align:left;vertical-align:top}
th{font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.2em 0}
.na,.note{color:var(--muted)}
.headline{font-size:1.25em;margin:.3em 0}
.rules{font-size:.9em;color:var(--muted)}
img.chart{max-width:100%;height:auto;display:block;margin:.4em 0 1em}
table.summary{width:100%}
@media print{
  @page{size:A4;margin:15mm}
  body{max-width:none;margin:0;padding:0;font-size:10pt}
  section.summary{break-after:page}
  section.indicator{break-inside:avoid}
  h2{break-after:avoid}
  a{color:inherit;text-decoration:none}
}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _t(report: IndicatorSet) -> dict[str, str]:
    return PAGE_TEXT.get(report.lang, PAGE_TEXT["en"])


def _shown(value: Any, unit: str, text: Mapping[str, str]) -> str:
    if value is None:
        return "—"
    if value == WITHHELD:
        return text["withheld"]
    if isinstance(value, str):
        return value
    suffix = {
        "percent": "%",
        "days": text["days"],
        "per_case": text["per_case"],
        "points": text["points"],
    }.get(unit, "")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value}{suffix}"


def _basis(fig: Figure, unit: str, text: Mapping[str, str]) -> str:
    """ "15 of 55" for a rate (the published counts it is worked out from)."""
    if fig.value is None or fig.value == WITHHELD:
        return ""
    if unit in ("percent", "per_case") and fig.numerator is not None:
        return f"{fig.numerator} {text['of']} {fig.denominator}"
    if unit in ("days", "points") and fig.denominator is not None:
        return text["over"].format(n=fig.denominator)
    return ""


def render_html(report: IndicatorSet) -> str:
    """The whole report: a title block and a one-page summary, then each indicator with its
    definition, figures and a chart; one HTML file that prints to a clean PDF."""
    text = _t(report)
    k = report.rules.k
    period = (
        f"{report.date_from.isoformat() if report.date_from else text['first']} {text['to']} "
        f"{report.date_to.isoformat() if report.date_to else text['last']}"
    )
    from fieldkit.clock import utc_day

    title = report.programme or text["title"]
    small = OWN_LABELS.get(report.lang, OWN_LABELS["en"])["_small_groups"]
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(report.lang)}"><head><meta charset="utf-8">',
        f"<title>{_e(title)} — {_e(text['title'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        '<section class="summary">',
        '<header class="title">',
        f"<h1>{_e(title)}</h1>",
        f"<p><strong>{_e(text['title'])}</strong></p>",
    ]
    if report.organisation:
        parts.append(f"<p>{_e(report.organisation)}</p>")
    parts += [
        f"<p>{_e(text['period'])}: {_e(period)}</p>",
        f"<p>{_e(text['prepared'])}: {_e(utc_day())}</p>",
        "</header>",
        f"<h2>{_e(text['summary'])}</h2>",
        _summary_html(report, text),
        f'<p class="rules">{_e(text["rules"].format(k=k, r=report.rules.resolution, small=small))}'
        "</p>",
        f'<p class="rules">{_e(text["consent"])}</p>',
        "</section>",
        f"<h2>{_e(text['records'])}</h2><table><tr><th>{_e(text['form'])}</th>"
        f'<th class="n">{_e(text["value"])}</th></tr>',
    ]
    for form, n in report.records.items():
        parts.append(f'<tr><td>{_e(form)}</td><td class="n">{_e(n)}</td></tr>')
    parts.append("</table>")
    for area in _AREAS:
        inds = [i for i in report.indicators if i.area == area]
        if not inds:
            continue
        parts.append(f"<h2>{_e(text[area])}</h2>")
        for ind in inds:
            parts.append(_indicator_html(ind, text))
    parts.append("</body></html>")
    return "\n".join(parts)


def _summary_html(report: IndicatorSet, text: Mapping[str, str]) -> str:
    rows = [
        f'<table class="summary"><tr><th>{_e(text["indicator"])}</th>'
        f'<th class="n">{_e(text["value"])}</th><th>{_e(text["basis"])}</th></tr>'
    ]
    for area in _AREAS:
        for ind in (i for i in report.indicators if i.area == area and i.available):
            total = ind.total
            value = _shown(total.value if total else None, ind.unit, text)
            basis = _basis(total, ind.unit, text) if total else ""
            rows.append(
                f'<tr><td><a href="#{_e(ind.key)}">{_e(ind.title)}</a></td>'
                f'<td class="n">{_e(value)}</td><td>{_e(basis)}</td></tr>'
            )
    rows.append("</table>")
    return "".join(rows)


def _dim_title(dim: str, text: Mapping[str, str]) -> str:
    return text.get("form_dim" if dim == "form" else dim, dim)


def _indicator_html(ind: Indicator, text: Mapping[str, str]) -> str:
    out = [
        f'<section class="indicator" id="{_e(ind.key)}"><h3>{_e(ind.title)}</h3>',
        f"<p>{_e(text['definition'])}: {_e(ind.definition)}</p>",
    ]
    if not ind.available:
        out.append(f'<p class="na">{_e(text["na"])}: {_e(ind.missing)}.</p></section>')
        return "".join(out)
    out.append(
        f"<p>{_e(text['numerator'])}: {_e(ind.numerator)}. "
        f"{_e(text['denominator'])}: {_e(ind.denominator)}.</p>"
    )
    if ind.total is not None:
        basis = _basis(ind.total, ind.unit, text)
        out.append(
            f'<p class="headline"><strong>{_e(text["all"])}: '
            f"{_e(_shown(ind.total.value, ind.unit, text))}</strong>"
            + (f" ({_e(basis)})" if basis else "")
            + "</p>"
        )
    if ind.anonymous:
        out.append(f'<p class="note">{_e(text["anonymous"])}</p>')
    for dim, figures in ind.breakdowns.items():
        if figures:
            out.append(_table_html(dim, figures, ind.unit, text))
    if ind.omitted:
        dims = ", ".join(_dim_title(d, text).lower() for d in ind.omitted)
        out.append(f'<p class="note">{_e(text["omitted"].format(dims=dims))}</p>')
    plot = _plot_for(ind, text)
    if plot:
        dim, svg = plot
        alt = f"{ind.title} — {text['by'].lower()} {_dim_title(dim, text).lower()}"
        out.append(f'<img class="chart" alt="{_e(alt)}" src="data:image/svg+xml;base64,{svg}">')
    out.append("</section>")
    return "".join(out)


def _table_html(dim: str, figures: list[Figure], unit: str, text: Mapping[str, str]) -> str:
    title = _dim_title(dim, text)
    rows = [
        f"<table><caption>{_e(text['by'])} {_e(title.lower())}</caption><tr><th>{_e(title)}</th>"
    ]
    ratio = unit in ("percent", "per_case")
    if ratio:
        rows.append(f'<th class="n">{_e(text["numerator"])}</th>'
                    f'<th class="n">{_e(text["denominator"])}</th>')  # fmt: skip
    rows.append(f'<th class="n">{_e(text["value"])}</th></tr>')
    for f in figures:
        rows.append(f"<tr><td>{_e(f.label)}</td>")
        if ratio:
            num = "" if f.numerator is None else f.numerator
            den = "" if f.denominator is None else f.denominator
            rows.append(f'<td class="n">{_e(num)}</td><td class="n">{_e(den)}</td>')
        rows.append(f'<td class="n">{_e(_shown(f.value, unit, text))}</td></tr>')
    rows.append("</table>")
    return "".join(rows)


_MAX_BARS = 25  # beyond this a chart is unreadable on a slide; the table lists every category


def _plot_for(ind: Indicator, text: Mapping[str, str]) -> tuple[str, str] | None:
    """The first breakdown with at least two published values, as a bar chart (SVG)."""
    for dim, figures in ind.breakdowns.items():
        numeric = [f for f in figures if isinstance(f.value, int | float)]
        if 2 <= len(numeric) and len(figures) <= _MAX_BARS:
            try:
                return dim, _bar_chart(ind, dim, figures, text)
            except ImportError:
                # matplotlib missing from a trimmed install: the tables carry every figure.
                return None
    return None


def _bar_chart(
    ind: Indicator, dim: str, figures: list[Figure], text: Mapping[str, str] | None = None
) -> str:
    """A horizontal bar chart a person would put on a slide: one colour, the value at the end
    of each bar, no box, no grid; withheld groups drawn as a note, never as a zero bar.
    Returns base64 SVG (vector: crisp on screen and in a printed PDF)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure as PlotFigure

    words = text or PAGE_TEXT["en"]
    # A category is data (a site code someone typed): "$" would start matplotlib's mathtext.
    labels = [f.label.replace("$", r"\$") for f in figures]
    values = [float(f.value) if isinstance(f.value, int | float) else 0.0 for f in figures]
    top = max(values) if values and max(values) > 0 else 1.0
    height = 0.9 + 0.42 * len(labels)
    fig = PlotFigure(figsize=(7.0, height), dpi=96)
    FigureCanvasSVG(fig)
    ax = fig.add_subplot()
    bars = ax.barh(range(len(labels)), values, color="#1f5f8b", height=0.62)
    ax.set_yticks(range(len(labels)), labels=labels, fontsize=10)
    ax.invert_yaxis()
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#9aa5b1")
    ax.tick_params(axis="x", bottom=False, labelbottom=False)
    ax.tick_params(axis="y", length=0)
    ax.set_xlim(0, top * 1.18)
    title = f"{ind.title} — {words['by'].lower()} {_dim_title(dim, words).lower()}"
    ax.set_title(title.replace("$", r"\$"), fontsize=11, loc="left", color="#1d2733")
    for bar, f in zip(bars, figures, strict=True):
        shown = _shown(f.value, ind.unit, words)
        ax.annotate(
            shown.replace("$", r"\$"),
            (bar.get_width() + top * 0.015, bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=9,
            color="#1d2733" if isinstance(f.value, int | float) else "#5b6775",
        )
    fig.tight_layout()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A glyph missing from the default font is a cosmetic matter, not a failure.
        warnings.simplefilter("ignore")
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _statistics_withdrawn(workspace: Any, consent: Any) -> set[str]:
    """Case codes whose person withdrew the statistics scope (``fieldkit cases withdraw``)."""
    from fieldkit.store.case_orders import EVERY_SCOPE, CaseOrders, case_tag

    if consent is None or "client_pseudonym" not in consent.columns or not hasattr(
        workspace, "_db"
    ):
        return set()
    marks = CaseOrders(workspace).withdrawn()
    if not marks:
        return set()
    out = set()
    for value in consent["client_pseudonym"].dropna().unique():
        scopes = marks.get(case_tag(workspace, str(value)), set())
        if "statistics" in scopes or EVERY_SCOPE in scopes:
            out.add(str(value))
    return out
