from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from fieldkit.cli import app


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("fieldkit ")


def test_help_lists_groups() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("forms", "records", "server"):
        assert name in result.stdout


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from fieldkit.cli import app;"
        "heavy = [m for m in ('pandas', 'sqlalchemy', 'fastapi', 'pyxform', 'matplotlib',"
        " 'sqlcipher3', 'requests', 'cryptography') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
