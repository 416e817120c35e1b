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
from consent_answers import consent
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

    def start(self, command: str, *, width: int = 110, height: int = 40) -> None:
        self.tmux("new-session", "-d", "-s", "cap", "-x", str(width), "-y", str(height), command)

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

    def wait_prompt(self, prompt: str, timeout: float = 30.0) -> str:
        """The screen once its last line is ``prompt`` (the interview waits for input)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            rows = [row for row in screen.splitlines() if row.strip()]
            if rows and rows[-1].startswith(prompt):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"no prompt {prompt!r}; screen:\n{self.screen()}")

    def type(self, text: str) -> None:
        self.keys(text)
        self.tmux("send-keys", "-t", "cap", "Enter")

    def keys(self, text: str) -> None:
        """Type ``text`` without pressing Enter."""
        if text:
            self.tmux("send-keys", "-t", "cap", "-l", "--", text)

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
        first = term.wait_for("number >")
        assert "Question 1 · 0 answered · at most 6 to go" in first
        assert "Which site?" in first and "1. North district" in first
        term.type("1")
        term.wait_for("Question 2 ·")
        term.type("40")  # refused by the form's constraint, asked again at once
        term.wait_for("Between 1 and 30 people")
        term.type("3")
        term.wait_for("Question 3 ·")
        term.type("Zed Secretname")
        screen = term.wait_for("[2024-05-01] >")  # the default, shown and kept with Enter
        assert "Question 4 ·" in screen
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
            _read_until(proc, f"Question {number} ·".encode(), seen)
            proc.stdin.write(answer.encode() + b"\n")
            proc.stdin.flush()
        _read_until(proc, b"Question 5 \xc2\xb7", seen)
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
    assert "Question 4 ·" in out
    review = out[out.index("Review") :]
    for shown in ("South district", "│ 7 ", "Zed Secretname", "2024-05-01"):
        assert shown in review, review


# --------------------------------------------------------------------------- issue 12

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _session(home: Path, args: str, *, width: int = 110, height: int = 40) -> Tmux:
    term = Tmux(_env(home))
    term.start(
        " ".join(_command()) + f" {args}; echo EXITED=$?; sleep 60", width=width, height=height
    )
    return term


def _draft_answers(home: Path) -> dict[str, str]:
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        (draft,) = ws.records.list(status="draft")
        return dict(draft.answers)


@pytest.fixture
def codes_home(home: Path) -> Path:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        for name in ("codes", "household"):
            ws.forms.add(load_form(FORMS / f"{name}.md").definition)
    return home


@pytest.mark.slow
@needs_tmux
def test_numeric_choice_names_are_read_as_positions_on_screen(codes_home: Path) -> None:
    term = _session(codes_home, "capture codes", width=80, height=24)
    try:
        screen = term.wait_for("number >")
        assert "1. No" in screen and "2. Yes" in screen  # names 0 and 1
        term.type("1")  # the number shown beside "No", whose name is 0
        term.wait_for("Were you paid for it?")
        term.type("98")  # cannot be a position on a 4-item list: the code for "don't know"
        screen = term.wait_for("Which country are you from?")
        term.type("4")  # position 4 on screen (Botswana), never the country named "4"
        term.wait_for("Where were you born?")
        term.type(":b")
        term.wait_for("Which country are you from?")
        term.type("=404")  # by its code, explicitly: Kenya
        term.wait_for("Where were you born?")
        term.type(":save")
        term.wait_for("EXITED=0")
    finally:
        term.kill()
    answers = _draft_answers(codes_home)
    assert answers["/data/worked"] == "0"
    assert answers["/data/paid"] == "98"
    assert answers["/data/country"] == "404"


@pytest.mark.slow
@needs_tmux
def test_a_long_list_at_80x24_keeps_the_question_and_filters_as_typed(codes_home: Path) -> None:
    term = _session(codes_home, "capture codes", width=80, height=24)
    try:
        term.wait_for("number >")
        term.type("2")
        term.wait_for("Were you paid for it?")
        term.type("1")
        screen = term.wait_for("of 60 · > next page")
        lines = screen.rstrip("\n").splitlines()
        # The question, its first choice and the prompt are all on the 24-line screen.
        assert "Which country are you from?" in screen and "1. Afghanistan" in screen
        assert lines[-1].startswith("number >") and len(lines) <= 24
        term.type(">")  # the next page
        screen = term.wait_for("choices 16–30 of 60")
        assert "Afghanistan" not in screen.split("Which country are you from?")[-1]
        assert "16. Ethiopia" in screen
        term.keys("ken")  # filtered on each key, before Enter
        screen = term.wait_for("match “ken”")
        assert "1. Kenya" in screen and "Uganda" not in screen.split("ISO numeric codes")[-1]
        term.keys("\x7f\x7f\x7f")  # backspace three times: the page comes back
        term.wait_for("> next page")
        term.type("tanz")
        term.wait_for("1 of 60 match “tanz”")
        term.type("1")
        screen = term.wait_for("Where were you born?")
        # A search box (appearance autocomplete) shows no list until something is typed.
        assert "type part of a name to filter" in screen
        term.keys("sud")
        screen = term.wait_for("match “sud”")
        assert "1. South Sudan" in screen and "2. Sudan" in screen
        term.type("")
        term.type("2")
        term.wait_for("Review")
        term.type(":save")
        term.wait_for("EXITED=0")
    finally:
        term.kill()
    answers = _draft_answers(codes_home)
    assert answers["/data/country"] == "834"
    assert answers["/data/born"] == "729"


@pytest.mark.slow
@needs_tmux
def test_resume_without_an_id_picks_from_the_list(codes_home: Path) -> None:
    term = _session(codes_home, "capture household")
    try:
        term.wait_for("number >")
        term.type("2")
        term.wait_for("Question 2 ·")
        term.tmux("send-keys", "-t", "cap", "C-c")  # quick exit: saved, cleared, locked
        screen = term.wait_for("EXITED=0")
        assert "Locked. `fieldkit capture --resume` continues a draft." in screen
    finally:
        term.kill()
    term = _session(codes_home, "capture --resume")
    try:
        screen = term.wait_for("Draft number (Enter to cancel) >")
        assert "household" in screen and "South district" not in screen
        term.type("1")
        screen = term.wait_for("How many people live here?")
        assert "Resuming at question 2" in screen
        term.type("4")
        term.wait_for("Question 3 ·")
        term.type(":save")
        term.wait_for("EXITED=0")
    finally:
        term.kill()
    answers = _draft_answers(codes_home)
    assert answers["/data/site"] == "south" and answers["/data/people"] == "4"


@pytest.fixture
def case_home(home: Path) -> tuple[Path, str]:
    from fieldkit.bundled import bundled_form
    from fieldkit.capture import capture_answers, case_code_of

    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        for name in ("consent", "adult_screening"):
            ws.forms.add(load_form(bundled_form(name)).definition)
        data = consent(consent_share="no", share_partners=None)
        code = case_code_of(capture_answers(ws, "consent", data=data, source="c.json"))
        assert code is not None
        ws.state.set(
            "project.emergency_contacts",
            [{"label": {"en": "Hotline 24/7", "fr": "Ligne 24 h/24"}, "contact": "0800 723 253"}],
        )
    return home, code


@pytest.mark.slow
@needs_tmux
def test_a_wrong_case_code_is_caught_where_it_is_typed(case_home: tuple[Path, str]) -> None:
    home, code = case_home
    wrong = code[:4] + ("7" if code[4] != "7" else "8") + code[5:]
    term = _session(home, "capture adult_screening", width=80, height=24)
    try:
        term.wait_for("Case code of the person")
        term.type(wrong)
        term.wait_for(f"Did you mean {code}?")
        # The message stays on screen with the prompt under it, nothing pushed it away.
        screen = term.wait_prompt(">")
        assert f"Did you mean {code}?" in screen and "not a case code made by fieldkit" in screen
        term.type(code)
        screen = term.wait_for(f"From the consent record of case {code}")
        assert "Site code (district): KE-0101" in screen
        term.type("")  # use them: the header is not asked again
        screen = term.wait_for("Your role")
        assert "Question 1 ·" in screen
        term.type("2")
        term.wait_for("Say: I will ask some short questions")  # straight past the header
        term.type("")
        term.wait_for("Right now, is anyone stopping you")
        term.type("1")  # yes: urgent
        term.wait_for("Are you, or someone close to you, being threatened")
        term.type(":b")
        term.type(":b")
        term.type(":j emergency_note")
        screen = term.wait_for("0800 723 253")
        assert "URGENT" in screen and "Hotline 24/7" in screen and "Emergency contacts" in screen
        term.type(":save")
        term.wait_for("EXITED=0")
    finally:
        term.kill()
    answers = _draft_answers(home)
    assert answers["/data/person/client_pseudonym"] == code
    assert answers["/data/header/site"] == "KE-0101"
    assert answers["/data/person/citizenship"] == "KE"


@pytest.mark.slow
@needs_tmux
def test_the_screen_is_cleared_after_finalize(codes_home: Path) -> None:
    term = _session(codes_home, "capture household")
    try:
        term.wait_for("number >")
        for answer in ("1", "3", "Zed Secretname", "", "1 3", "2", "-1.28 36.82"):
            term.type(answer)
            time.sleep(0.2)
        term.wait_for("review>")
        term.type("s")  # reveal the sensitive answers, as a worker checking them would
        term.wait_for("Zed Secretname")
        term.type("f")
        screen = term.wait_for("EXITED=0")
        assert "Finalized. Record" in screen
        everything = term.screen(history=True)
        for leftover in ("Secretname", "36.82", "Which site?", "Review"):
            assert leftover not in everything, everything
    finally:
        term.kill()
