"""The real `fieldkit capture` process: in a real terminal (tmux), and killed with SIGKILL.

The tmux test types into a pseudo-terminal (send-keys) and reads the screen (capture-pane),
so it sees what the interviewer sees, including what a quick exit leaves behind. The crash
test kills the process between answers and checks that resume shows every saved answer.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fieldkit.cli import app
from fieldkit.forms import load_form
from fieldkit.store import create_workspace, open_workspace

FORMS = Path(__file__).resolve().parent.parent / "capture" / "forms"
PASSPHRASE = "terminal tests correct horse battery"
FIELDKIT = Path(sys.executable).with_name("fieldkit")


@pytest.fixture
def ws_home(home: Path) -> Path:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        ws.forms.add(load_form(FORMS / "household.md").definition)
    return home


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDKIT_")}
    env.update(FIELDKIT_HOME=str(home), FIELDKIT_PASSPHRASE=PASSPHRASE, TERM="xterm-256color")
    return env


def _command() -> list[str]:
    if FIELDKIT.exists():
        return [str(FIELDKIT)]
    return [sys.executable, "-c", "from fieldkit.cli import main; main()"]


# --------------------------------------------------------------------------- tmux


class Tmux:
    """One tmux server on a private socket, with one window running a command."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"fk-{uuid.uuid4().hex[:10]}"
        self.env = env

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        )
        return out.stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-s", "cap", "-x", "110", "-y", "40", command)

    def screen(self, *, history: bool = False) -> str:
        return self.tmux("capture-pane", "-p", "-t", "cap", *(["-S", "-"] if history else []))

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never appeared; screen:\n{self.screen()}")

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "cap", "-l", text)
        self.tmux("send-keys", "-t", "cap", "Enter")

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True
        )


@pytest.mark.slow
@pytest.mark.safety  # what a quick exit leaves on the screen
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_capture_in_a_real_terminal_then_quick_exit(ws_home: Path) -> None:
    term = Tmux(_env(ws_home))
    command = " ".join(_command()) + " capture household; echo EXITED=$?; sleep 60"
    term.start(command)
    try:
        # Wait for the last line of each screen: tmux shows output as it is written.
        first = term.wait_for("number or name >")
        assert "Question 1 of 7" in first
        assert "Which site?" in first and "1. North district" in first
        term.type("1")
        term.wait_for("Question 2 of 7")
        term.type("40")  # refused by the form's constraint, asked again at once
        term.wait_for("Between 1 and 30 people")
        term.type("3")
        term.wait_for("Question 3 of 7")
        term.type("Zed Secretname")
        screen = term.wait_for("[2024-05-01] >")  # the default, shown and kept with Enter
        assert "Question 4 of 7" in screen
        term.type(":b")
        screen = term.wait_for("answered, hidden")  # a sensitive answer is never echoed back
        term.tmux("send-keys", "-t", "cap", "C-c")  # the quick exit
        screen = term.wait_for("EXITED=0")
        everything = term.screen(history=True)
        # Screen and scroll-back are wiped: nothing of the interview is left to read.
        for leftover in ("Which site?", "Question", "Secretname", "people"):
            assert leftover not in everything, everything
    finally:
        term.kill()
    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        (draft,) = ws.records.list(status="draft")
        assert draft.answers["/data/people"] == "3"
        assert draft.answers["/data/nickname"] == "Zed Secretname"


# --------------------------------------------------------------------------- crash


def _read_until(proc: subprocess.Popen[bytes], marker: bytes, seen: bytearray) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while marker not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{marker!r} never came; got {bytes(seen)[-400:]!r}")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"capture ended early: {bytes(seen)[-400:]!r}")
            seen.extend(chunk)


@pytest.mark.slow
def test_sigkill_between_answers_loses_nothing_saved(
    ws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = subprocess.Popen(
        [*_command(), "capture", "household"],
        env=_env(ws_home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None
    seen = bytearray()
    try:
        for number, answer in enumerate(["2", "7", "Zed Secretname", ""], start=1):
            _read_until(proc, f"Question {number} of".encode(), seen)
            proc.stdin.write(answer.encode() + b"\n")
            proc.stdin.flush()
        _read_until(proc, b"Question 5 of", seen)
        proc.stdin.write(b"1 2")  # being typed when the power goes: this one may be lost
        proc.stdin.flush()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        assert proc.stdout is not None
        proc.stdout.close()

    with open_workspace(ws_home, passphrase=PASSPHRASE) as ws:
        (draft,) = ws.records.list(status="draft")
    monkeypatch.setenv("FIELDKIT_HOME", str(ws_home))
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("COLUMNS", "120")
    result = CliRunner().invoke(
        app, ["capture", "household", "--resume", draft.id], input=":review\ns\n:q\n"
    )
    assert result.exit_code == 0, result.output
    out = result.output
    # Resume goes to the question after the last answer that differs from its default: the
    # date kept at its default is asked once more (Enter keeps it), then the lost one.
    assert "Question 4 of 7" in out
    review = out[out.index("Review") :]
    for shown in ("South district", "│ 7 ", "Zed Secretname", "2024-05-01"):
        assert shown in review, review
