"""Fixtures for the workspace tests: a real SQLCipher workspace in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _store_kit import FORM, PASSPHRASE

from fieldkit.store import Workspace, create_workspace


@pytest.fixture
def ws(home: Path) -> Iterator[Workspace]:
    """A fresh workspace holding the household form."""
    workspace, _ = create_workspace(home, passphrase=PASSPHRASE)
    workspace.forms.add(FORM)
    with workspace:
        yield workspace
