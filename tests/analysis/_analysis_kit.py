"""Helpers of the coordinator-side tests: stored definitions and received records."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fieldkit.forms.xlsform import parse_xlsform
from fieldkit.store import Workspace

FORMS = Path(__file__).parent / "forms"
BUNDLED = Path(__file__).resolve().parents[2] / "forms"
PASSPHRASE = "analysis tests: a long passphrase 2026"


def definition(path: Path) -> dict[str, Any]:
    """The stored definition of an XLSForm file, through the project's pyxform adapter."""
    check = parse_xlsform(path, build=False)
    assert not check.errors, check.errors
    assert check.definition is not None
    return check.definition


def receive(
    ws: Workspace,
    form_id: str,
    answers: Mapping[str, str],
    *,
    version: str = "1",
    record_id: str | None = None,
    day: str = "2026-03-02",
    replaces: str | None = None,
    device: str = "dev-7f3a",
    case_id: str | None = None,
    received_at: str | None = None,
) -> str:
    """Import a record as a coordinator's pull would; returns its id."""
    rid = record_id or str(uuid.uuid4())
    ws.records.import_received(
        record_id=rid,
        form_id=form_id,
        form_version=version,
        answers=dict(answers),
        device=device,
        capture_day=day,
        finalized_at=f"{day}T10:00:00.000Z",
        replaces=replaces,
        case_id=case_id,
        received_at=received_at,
    )
    return rid
