"""What an export should contain and how it should look: one frozen options object.

``ExportOptions`` is resolved once (the CLI builds it from its flags, a notebook passes it to
``read_tables``) and handed down unchanged through ``tables()``, ``build_tables()`` and the
writers, so a new option is added in one place (STYLE.md: value objects for options, as
httpx's ``Timeout``; not keyword lists repeated through layers).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from fieldkit.errors import UsageError

__all__ = ["Codes", "ExportOptions", "Headers", "SelectMultiple", "Values"]

SelectMultiple = Literal["both", "summary", "details"]
Headers = Literal["names", "labels"]
Values = Literal["names", "labels"]
Codes = Literal["none", "ctdc"]


@dataclass(frozen=True)
class ExportOptions:
    """Every choice an export makes, checked when made.

    - ``select_multiple``: ``both`` (a summary column and one 0/1 column per choice),
      ``summary`` or ``details``.
    - ``headers``: question ``names`` or ``labels`` in ``lang``; ``values``: choice ``names``
      or ``labels`` in ``lang`` (Kobo's "labels" export is ``headers`` and ``values`` labels).
    - ``include_sensitive``: sensitive fields to export anyway, by name (DOMAIN §5).
    - ``include_media``: every photo, recording and file question, with the files themselves
      under ``OUT/media/FORM/`` (they are sensitive by default, DESIGN §6a).
    - ``history``: every version of an edited record (``_latest`` marks the current one).
    - ``since``: records finalized on or after that day.
    - ``duplicate_keys``: fields that flag likely duplicate persons (None: the form's default).
    - ``codes``: ``ctdc`` writes fields mapped by the form's ``ctdc`` column as CTDC codes.
    - ``hxl``: a HXL hashtag row under the headers (only where no person-level data is).
    - ``neutralise_csv``: guard CSV text cells that a spreadsheet would run as a formula.
    - ``overwrite``: replace files an earlier export left in the folder.
    """

    select_multiple: SelectMultiple = "both"
    headers: Headers = "names"
    values: Values = "names"
    lang: str | None = None
    include_sensitive: tuple[str, ...] = ()
    include_media: bool = False
    history: bool = False
    since: date | None = None
    duplicate_keys: tuple[str, ...] | None = None
    codes: Codes = "none"
    hxl: bool = False
    neutralise_csv: bool = True
    overwrite: bool = False
    # Categorical (pandas category) select_one columns with every choice of every version.
    categorical: bool = field(default=True)

    def __post_init__(self) -> None:
        if self.select_multiple not in ("both", "summary", "details"):
            raise UsageError("--select-multiple must be both, summary or details")
        if self.headers not in ("names", "labels"):
            raise UsageError("--headers must be names or labels")
        if self.values not in ("names", "labels"):
            raise UsageError("--values must be names or labels")
        if self.codes not in ("none", "ctdc"):
            raise UsageError("--codes must be none or ctdc")
        # Tuples whatever was passed: the object is hashable and cannot change under a caller.
        object.__setattr__(self, "include_sensitive", _names(self.include_sensitive))
        if self.duplicate_keys is not None:
            object.__setattr__(self, "duplicate_keys", _names(self.duplicate_keys))

    def with_language(self, lang: str | None) -> ExportOptions:
        """The same options with ``lang`` resolved to the form's own language name."""
        from dataclasses import replace

        return replace(self, lang=lang)

    def summary(self) -> dict[str, object]:
        """The options as JSON-ready values (what the manifest records)."""
        return {
            "select_multiple": self.select_multiple,
            "headers": self.headers,
            "values": self.values,
            "lang": self.lang,
            "include_sensitive": list(self.include_sensitive),
            "include_media": self.include_media,
            "history": self.history,
            "since": self.since.isoformat() if self.since else None,
            "duplicate_keys": None if self.duplicate_keys is None else list(self.duplicate_keys),
            "codes": self.codes,
            "hxl": self.hxl,
            "neutralise_csv": self.neutralise_csv,
        }


def _names(values: Collection[str] | Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    return tuple(str(v) for v in values)
