"""Helpers: write an XLSForm in Markdown table form and load it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fieldkit.forms import Form, load_form


@pytest.fixture
def md_form(tmp_path: Path) -> Callable[[str], Form]:
    """``md_form(text)`` writes ``text`` as form.md under tmp_path and loads it."""

    def make(text: str, name: str = "form.md") -> Form:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return load_form(path)

    return make
