"""The XLSForms fieldkit ships: consent, needs assessment, screenings, referral, follow-up,
and the programme's other work: hotline, awareness, training, shelter and legal outcomes.

The Markdown XLSForms in the repository's ``forms/`` folder are the source of truth.
``fieldkit/bundled_forms`` is a symbolic link to that folder, so the package-data glob
``bundled_forms/*`` puts the files in the wheel as ``fieldkit/bundled_forms/``, and
``bundled_form("consent")`` works from a source checkout and from a plain ``pip install``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fieldkit.errors import ExportError, FormNotFound

__all__ = ["FORM_NAMES", "bundled_form", "bundled_forms", "export_xlsx"]

# Form ids: the six a case meets, in that order (consent first, follow-up last), then the
# rest of the programme (DOMAIN §9): hotline, awareness, training, shelter, legal outcome.
FORM_NAMES: tuple[str, ...] = (
    "consent",
    "needs_assessment",
    "adult_screening",
    "youth_screening",
    "referral",
    "follow_up",
    "hotline_intake",
    "awareness_session",
    "training_test",
    "shelter_stay",
    "legal_outcome",
)

_SUFFIX = ".md"
_REPO_FORMS = Path(__file__).resolve().parent.parent / "forms"


def _forms_dir() -> Path:
    """The folder holding the bundled ``.md`` forms: the installed package, else the checkout."""
    try:
        root = resources.files("fieldkit.bundled_forms")
    except ModuleNotFoundError:
        root = None
    if root is not None:
        # A regular package gives a Path, a namespace package (no __init__.py) a MultiplexedPath
        # whose joinpath gives the Path of the portion holding the file. A zipped install is
        # not supported (pip never makes one) and falls through to the checkout.
        probe = root.joinpath(f"{FORM_NAMES[0]}{_SUFFIX}")
        if isinstance(probe, Path) and probe.is_file():
            return probe.parent
    if _REPO_FORMS.is_dir():
        return _REPO_FORMS
    raise FormNotFound("the bundled forms are missing from this installation")


def bundled_forms() -> dict[str, Path]:
    """Map each bundled form id to its XLSForm file, in case order."""
    folder = _forms_dir()
    found = {name: folder / f"{name}{_SUFFIX}" for name in FORM_NAMES}
    missing = [name for name, path in found.items() if not path.is_file()]
    if missing:
        raise FormNotFound(f"bundled form files missing: {', '.join(missing)}")
    return found


def bundled_form(name: str) -> Path:
    """The XLSForm file of one bundled form, by form id (e.g. ``"consent"``)."""
    if name not in FORM_NAMES:
        raise FormNotFound(f"no bundled form named {name!r}; bundled: {', '.join(FORM_NAMES)}")
    return bundled_forms()[name]


def export_xlsx(name: str, out: Path) -> Path:
    """Write the .xlsx twin of a bundled form (for teams who edit in Excel) and return its path.

    ``out`` is a file path or an existing folder (the file is then named ``<name>.xlsx``).
    The sheets and cells are exactly those of the Markdown source.
    """
    from pyxform.xls2json_backends import md_table_to_workbook

    source = bundled_form(name)
    target = out / f"{name}.xlsx" if out.is_dir() else out
    workbook = md_table_to_workbook(source.read_text(encoding="utf-8"))
    try:
        workbook.save(target)
    except OSError as exc:
        raise ExportError(f"cannot write {target}: {exc.strerror}") from exc
    finally:
        workbook.close()
    return target
