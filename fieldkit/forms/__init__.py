"""XLSForm forms: load them, inspect them and run them with ODK's semantics.

    form = load_form(Path("household.xlsx"))        # pyxform parse + checks (FormError)
    stored = form.definition                         # JSON-able: what a workspace keeps
    form = Form.from_definition(stored)              # fast, no pyxform import
    session = FormSession(form, now=clock)
    session.set("age", "34")
    session.node("/data/age").relevant

This module imports nothing heavy: pyxform is only imported by ``load_form``/``check_form``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fieldkit.errors import FormError
from fieldkit.forms.model import Choice, Form, Node
from fieldkit.forms.session import FormSession, NodeState, Problem
from fieldkit.forms.versions import with_version

__all__ = [
    "Choice",
    "Form",
    "FormReport",
    "FormSession",
    "Node",
    "NodeState",
    "Problem",
    "check_form",
    "load_form",
    "with_version",
]


@dataclass
class FormReport:
    """The outcome of checking a form file: the Form when it loads, its errors and warnings."""

    path: Path
    form: Form | None
    errors: list[FormError] = field(default_factory=list)
    warnings: list[FormError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the form loads without errors (warnings allowed)."""
        return self.form is not None and not self.errors


def check_form(path: Path | str, *, build: bool = True) -> FormReport:
    """Parse, build and compile an XLSForm file; every problem is reported, nothing raised.

    ``build`` also runs pyxform's XForm build (what ODK tools would run), so a form pyxform
    refuses is refused here too. Expression problems each come with sheet, row and column.
    """
    from fieldkit.forms.xlsform import parse_xlsform

    path = Path(path)
    result = parse_xlsform(path, build=build)
    report = FormReport(path, None, list(result.errors), list(result.warnings))
    if result.definition is None:
        return report
    try:
        # A form without a version gets one from its content (versions.py), so every tool
        # that loads the same file names it the same way.
        report.form = Form.from_definition(with_version(result.definition))
    except FormError as exc:
        report.errors.extend(exc.problems or [exc])
    except RecursionError:
        report.errors.append(FormError("the form is nested too deeply"))
    return report


def load_form(path: Path | str, *, build: bool = True) -> Form:
    """Load an XLSForm file (.xlsx, .xls, .csv, .md) into a Form, or raise FormError."""
    report = check_form(path, build=build)
    if report.form is None or report.errors:
        first = report.errors[0] if report.errors else FormError("the form could not be read")
        if len(report.errors) > 1:
            error = type(first)(
                f"{first.message} (and {len(report.errors) - 1} more problems)",
                sheet=first.sheet,
                row=first.row,
                column=first.column,
            )
            error.problems = report.errors
            raise error
        raise first
    return report.form
