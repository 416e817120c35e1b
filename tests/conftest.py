"""Shared fixtures: every test gets its own real workspace folder under tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus" / "pyxform" / "tests"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace location, also exported as FIELDKIT_HOME."""
    path = tmp_path / "home"
    monkeypatch.setenv("FIELDKIT_HOME", str(path))
    monkeypatch.delenv("FIELDKIT_PASSPHRASE", raising=False)
    return path


@pytest.fixture
def database_url() -> str:
    """The PostgreSQL test database, or skip when none is configured."""
    url = os.environ.get("FIELDKIT_TEST_DATABASE_URL")
    if not url:
        pytest.skip("FIELDKIT_TEST_DATABASE_URL is not set")
    return url
