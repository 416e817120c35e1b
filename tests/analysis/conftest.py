"""Fixtures for the coordinator side: a real encrypted workspace in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _analysis_kit import PASSPHRASE

from fieldkit.store import Workspace, create_workspace


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh coordinator workspace (real SQLCipher file) in tmp_path."""
    workspace, _recovery = create_workspace(tmp_path / "home", passphrase=PASSPHRASE)
    with workspace:
        yield workspace
