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


def _walk(command, prefix=()):  # type: ignore[no-untyped-def]
    yield prefix, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*prefix, name))


def _documented(path: tuple[str, ...], docs: str) -> bool:
    """``fieldkit a b`` appears, or the README's list names b among a's subcommands."""
    import re

    if f"fieldkit {' '.join(path)}" in docs:
        return True
    *group, name = path
    listing = re.escape(f"fieldkit {' '.join(group)} ") + r"[a-z| -]*\b" + re.escape(name) + r"\b"
    return bool(group) and re.search(listing, docs) is not None


def test_every_command_has_help_and_is_documented() -> None:
    """Each command's docstring is its --help; each appears in the README or a guide."""
    from pathlib import Path

    import typer

    root = Path(__file__).resolve().parents[2]
    docs = (root / "README.md").read_text(encoding="utf-8") + "".join(
        p.read_text(encoding="utf-8") for p in sorted((root / "docs").glob("*.md"))
    )
    missing_help, undocumented = [], []
    for path, command in _walk(typer.main.get_command(app)):
        if not path:
            continue
        if not (command.help or "").strip():
            missing_help.append(" ".join(path))
        if not getattr(command, "hidden", False) and not _documented(path, docs):
            undocumented.append(" ".join(path))
    assert missing_help == []
    assert undocumented == []
