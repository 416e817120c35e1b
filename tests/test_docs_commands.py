"""Every command a guide shows in a fenced block runs as written on a fresh machine.

The fenced shell commands of README.md and docs/*.md are read out of the Markdown; those that
need no server and no person at a terminal run, in each document's order, in a temporary
workspace (``FIELDKIT_HOME``) from an empty folder, with the real console script, and must exit
0. The coordinator's offline commands (export, report) run on a copy of the demo's coordinator
workspace, which holds pulled records; the admin's ``/srv/fieldkit`` is a temporary folder.
What cannot run here (a server, a terminal, a device id
to fill in) is named by ``why_not``; a command that is none of those must run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PASSPHRASE = "docs commands walk correct horse"
SHELLS = {"", "bash", "sh", "shell", "console"}
# What a guide names as the reader's own file: the test stands one in for each.
READERS_FILES = {
    "household.xlsx": ROOT / "forms" / "needs_assessment.xlsx",
    "try.json": None,
    "contacts.json": None,
}
_SERVER_WORDS = (
    "enroll",
    "sync",
    "pull",
    "forms publish",
    "server devices",
    "server run",
    "server copy",
    *(f"project {w}" for w in ("create", "enroll-code", "revoke", "rotate-key", "contacts")),
    *(f"project {w}" for w in ("approve", "upgrade-trust")),
)


def fenced_commands(path: Path) -> list[str]:
    """The `fieldkit …` command lines of a document's shell blocks (continuations joined,
    comments dropped). A block of aligned descriptions is a synopsis, not commands: skipped."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"^```([a-z]*)\n(.*?)^```", text, re.S | re.M):
        if match.group(1) not in SHELLS:
            continue
        body = re.sub(r"\\\n\s*", " ", match.group(2))
        commands = [ln.strip() for ln in body.splitlines() if ln.strip().startswith("fieldkit ")]
        if any(re.search(r"\S {3,}[^#\s]", c) for c in commands):
            continue  # "fieldkit demo      the whole job": a synopsis
        found += [re.sub(r"\s+#.*$", "", c) for c in commands]
    return found


def why_not(command: str) -> str | None:
    """Why a command cannot run on a machine with no server and nobody at the keyboard."""
    words = shlex.split(command)[1:]
    joined = " ".join(words)
    if "://" in command or "URL" in words or any(
        joined == w or joined.startswith(w + " ") for w in _SERVER_WORDS
    ):
        return "needs a server"
    if "--database-url" in words:
        return "needs a database server"
    if any(w in {"DEVICE_ID", "RECORD_ID", "FINGERPRINT", "CODE"} or "…" in w for w in words):
        return "a value to fill in"
    if words[:1] == ["capture"] and "--answers" not in words:
        return "an interview at a terminal"
    if words[:2] == ["records", "edit"]:
        return "an interview at a terminal"
    if words[:1] == ["bundle"]:
        return "a USB stick, and for an import a bundle made on another laptop"
    if words[:1] == ["cases"] and words[1:2] not in (["list"], ["conflicts"]):
        return "a case of the reader's (and, for the coordinator's orders, a server)"
    return None


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDKIT_")}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, "/usr/bin", "/bin"])
    env["FIELDKIT_HOME"] = str(home)
    env["FIELDKIT_PASSPHRASE"] = PASSPHRASE
    env["COLUMNS"] = "100"
    return env


@pytest.fixture(scope="module")
def demo_coordinator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's coordinator workspace, its passphrase set to this test's."""
    from fieldkit.demo import PASSPHRASE_FILE, run_demo
    from fieldkit.store import change_passphrase

    root = tmp_path_factory.mktemp("demo") / "d"
    run_demo(root=root, needs=6, screenings=8, seed=3, step=lambda _: None)
    old = (root / PASSPHRASE_FILE).read_text(encoding="utf-8").strip()
    change_passphrase(root / "coordinator", old=old, new=PASSPHRASE)
    return root / "coordinator"


def _run_document(doc: Path, tmp_path: Path, seed: Path) -> list[str]:
    if shutil.which("fieldkit", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("fieldkit is not installed as a console script beside this interpreter")
    here = tmp_path / "here"
    here.mkdir()
    for name, source in READERS_FILES.items():
        if source is None:
            (here / name).write_text("[]", encoding="utf-8")
        else:
            shutil.copy(source, here / name)
    ran = []
    for command in fenced_commands(doc):
        if why_not(command):
            continue
        # `init` makes a workspace of its own; the rest work on the coordinator's records.
        home = tmp_path / f"fresh{len(ran)}" if " init" in command[8:14] else tmp_path / "ws"
        if home.name == "ws" and not home.exists():
            shutil.copytree(seed, home)
        done = subprocess.run(
            # The admin's /srv/fieldkit is a folder of this test's own.
            ["bash", "-c", command.replace(" /srv/", f" {tmp_path}/srv/")],
            cwd=here,
            env=_environment(home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{doc.name}: `{command}` exited {done.returncode}: " + (
            done.stderr.strip() or done.stdout.strip()
        )[-400:]
        ran.append(command)
    return ran


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_each_fenced_command_that_needs_no_server_runs(
    doc: Path, tmp_path: Path, demo_coordinator: Path
) -> None:
    ran = _run_document(doc, tmp_path, demo_coordinator)
    skipped = [c for c in fenced_commands(doc) if why_not(c)]
    assert len(ran) + len(skipped) == len(fenced_commands(doc))


def test_the_walk_runs_something_of_every_guide_with_commands() -> None:
    runnable = {doc.name: [c for c in fenced_commands(doc) if not why_not(c)] for doc in DOCS}
    for name in ("README.md", "coordinator.md", "field-guide.md", "forms.md"):
        assert runnable[name], name
    # The reader's own files the test stands in for are the ones the guides name.
    named = " ".join(" ".join(fenced_commands(doc)) for doc in DOCS)
    assert all(name in named for name in READERS_FILES)


def test_the_example_enrolment_codes_are_real_codes() -> None:
    """An example code in a guide passes the check a real one passes (only the server will
    not know it)."""
    from fieldkit.exchange import EnrolmentCode

    pattern = re.compile(r"\b[0-9A-Z]{5}(?:-[0-9A-Z]{5}){4}\b")
    found = [m.group(0) for doc in DOCS for m in pattern.finditer(doc.read_text("utf-8"))]
    assert found
    for code in found:
        EnrolmentCode.parse(code)


def synopsis_commands() -> list[list[str]]:
    """The command names of the README's "Commands" synopsis (``fieldkit records list | show``
    names ``records list`` and ``records show``)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Commands\n", 1)[1]
    block = text.split("```", 2)[1]
    names = []
    for line in block.splitlines():
        line = re.split(r" {3,}", line.strip(), maxsplit=1)[0]
        if not line.startswith("fieldkit "):
            continue
        prefix: list[str] = []
        for piece in line.split(" | "):
            words = []
            for word in piece.split():
                if word.startswith(("-", "[")) or word.isupper() or "_" in word:
                    break
                words.append(word)
            if words[:1] == ["fieldkit"]:
                words = words[1:]
                prefix = words[:-1]
                names.append(words)
            else:
                names.append([*prefix, *words])
    return [n for n in names if n]


def test_every_command_the_readme_lists_exists() -> None:
    from typer.testing import CliRunner

    from fieldkit.cli import app

    names = synopsis_commands()
    assert ["records", "discard"] in names and ["server", "devices", "revoke"] in names
    for name in names:
        result = CliRunner().invoke(app, [*name, "--help"])
        assert result.exit_code == 0, (name, result.output[-300:])
