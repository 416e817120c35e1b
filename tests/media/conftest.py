"""A real encrypted workspace holding the photo form, made once per module and copied."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from fieldkit.forms import load_form
from fieldkit.store import create_workspace

FORMS = Path(__file__).resolve().parent / "forms"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from media_kit import PASSPHRASE  # noqa: E402


@pytest.fixture(scope="module")
def template_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "home"
    ws, _ = create_workspace(path, passphrase=PASSPHRASE)
    with ws:
        ws.forms.add(load_form(FORMS / "photo.md").definition)
    return path


@pytest.fixture
def ws_home(home: Path, template_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(template_home, home)
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("COLUMNS", "120")
    return home
