"""The pandas entry point for analysts: a form's linked tables straight from a workspace.

    >>> from fieldkit.analysis import read_tables
    >>> frames = read_tables("~/fieldkit", "adult_screening")      # doctest: +SKIP
    >>> frames["adult_screening"].groupby("site").size()            # doctest: +SKIP

The workspace is opened, read and closed; nothing is written anywhere. Sensitive fields stay
out unless named in ``ExportOptions(include_sensitive=...)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from fieldkit.analysis.options import ExportOptions

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_tables"]

_PASSPHRASE_ENV = "FIELDKIT_PASSPHRASE"  # noqa: S105 (a variable name)
_MAX_SECRET_BYTES = 4096


def read_tables(
    home: str | os.PathLike[str],
    form: str,
    *,
    passphrase: str | None = None,
    options: ExportOptions | None = None,
) -> dict[str, pd.DataFrame]:
    """One DataFrame per table of ``form`` (the form table first, then each repeat).

    ``home`` is the workspace folder, as text or a path. The passphrase is ``passphrase``,
    else ``FIELDKIT_PASSPHRASE``, else the workspace's configured passphrase file
    (``FIELDKIT_PASSPHRASE_FILE`` or ``passphrase_file`` in its config.toml), else asked
    for without echo. Frames are typed: numbers, dates and date-times (UTC), select_one as
    categories with every choice of every version; ``_key``/``_parent_key`` join the tables.
    """
    from fieldkit.analysis.tables import tables
    from fieldkit.store import open_workspace

    folder = Path(os.fspath(home)).expanduser()
    secret = passphrase if passphrase is not None else _passphrase(folder)
    with open_workspace(folder, passphrase=secret) as ws:
        return tables(ws, form, options or ExportOptions())


def _passphrase(home: Path) -> str:
    from_env = os.environ.get(_PASSPHRASE_ENV)
    if from_env:
        return from_env
    from fieldkit.config import resolve_settings

    settings = resolve_settings(home=home)
    if settings.passphrase_file is not None:
        from fieldkit.errors import UsageError

        try:
            with settings.passphrase_file.expanduser().open("rb") as fh:
                first = fh.read(_MAX_SECRET_BYTES).split(b"\n", 1)[0]
        except OSError as exc:
            raise UsageError(f"cannot read the passphrase file ({exc.strerror})") from None
        return first.decode("utf-8", errors="replace").rstrip("\r")
    import getpass

    return getpass.getpass("Passphrase: ")
