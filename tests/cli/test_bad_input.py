"""Bad input to every command: one line ``Error: …``, a non-zero exit code, no traceback, and
nothing already saved lost or changed.

One real workspace (a consent record finalized in it) is made once per module and copied into
each test; commands that talk to a server get a real one on a free 127.0.0.1 port. Cases that
need a real process (standard input closed, the entry point itself) run ``fieldkit`` as one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fieldkit.bundled import bundled_form
from fieldkit.cli import app

PASS = "correct horse battery staple 42"
FIELDKIT = Path(sys.executable).with_name("fieldkit")
CONSENT_MD = bundled_form("consent")
ANSWERS = {
    "interviewer_role": "social_worker",
    "site": "KE-0101",
    "interview_date": "2026-01-05",
    "interview_language": "en",
    "interpreter_used": "no",
    "mode": "in_person",
    "safe_private": "yes",
    "safe_monitored": "no",
    "safe_time": "yes",
    "checklist_read": "purpose data_use skip_stop limits",
    "understood": "yes",
    "age_band": "24_26",
    "consent_interview": "yes",
    "consent_store": "yes",
    "consent_contact": "no",
    "consent_share": "no",
    "consent_stats": "yes",
    "sex": "female",
    "citizenship": "KE",
    "client_pseudonym": "AB-1234-G",
}


def _invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=input)


def _assert_one_line_error(result: Any, *, code: int | None = None) -> str:
    """Exit code non-zero (or ``code``), no traceback, stderr exactly one ``Error: …`` line."""
    stderr = str(result.stderr)
    exit_code = result.exit_code if hasattr(result, "exit_code") else result.returncode
    assert exit_code != 0, (exit_code, stderr)
    if code is not None:
        assert exit_code == code, (exit_code, stderr)
    assert "Traceback" not in stderr and "Traceback" not in (result.stdout or "")
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return str(lines[0])


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A workspace with the consent form and one finalized record; its record id."""
    base = tmp_path_factory.mktemp("saved")
    home = base / "home"
    answers = base / "ok.json"
    answers.write_text(json.dumps(ANSWERS), encoding="utf-8")
    env = dict(os.environ, FIELDKIT_PASSPHRASE=PASS, FIELDKIT_LOCK_TIMEOUT="0")
    for args in (
        ["init"],
        ["forms", "add", "consent"],
        ["capture", "consent", "--answers", str(answers)],
    ):
        done = subprocess.run(
            [str(FIELDKIT), "--home", str(home), *args],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [str(FIELDKIT), "--home", str(home), "records", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return home, json.loads(listed.stdout)[0]["id"]


@pytest.fixture
def ws(
    saved: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, str]]:
    """A private copy of the saved workspace; afterwards its record still opens and its key
    file is byte for byte the same (the database may change: reads append audit entries)."""
    home = tmp_path / "home"
    shutil.copytree(saved[0], home)
    monkeypatch.setenv("FIELDKIT_HOME", str(home))
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
    monkeypatch.setenv("FIELDKIT_LOCK_TIMEOUT", "0")
    monkeypatch.chdir(tmp_path)
    keyfile = (home / "keyfile.json").read_bytes()
    yield home, saved[1]
    # Nothing already saved is lost: the record still opens, the key files are untouched.
    shown = _invoke("records", "show", saved[1], "--json")
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == saved[1]
    assert (home / "keyfile.json").read_bytes() == keyfile


def _files(tmp: Path) -> dict[str, Path]:
    """Bad files of every kind, in ``tmp``."""
    (tmp / "adir").mkdir(exist_ok=True)
    made = {
        "empty": b"",
        "garbage": b"\xd4\xff" + bytes(range(256)) * 16,
        "nonutf8": b'\xff\xfe{"a": 1}',
        "badjson": b"{bad",
        "list": b"[1, 2]",
        "string": b'"text"',
        "unknown": b'{"nosuch": "x"}',
        "types": b'{"site": 5, "interview_date": [1]}',
        "steps_obj": b"{}",
    }
    paths = {"adir": tmp / "adir", "missing": tmp / "missing.json"}
    for name, content in made.items():
        path = tmp / f"{name}.json"
        path.write_bytes(content)
        paths[name] = path
    return paths


ANSWERS_CASES = [
    "missing",
    "adir",
    "empty",
    "garbage",
    "nonutf8",
    "badjson",
    "list",
    "string",
    "unknown",
    "types",
]


@pytest.mark.parametrize("kind", ANSWERS_CASES)
def test_capture_answers_file(ws: tuple[Path, str], tmp_path: Path, kind: str) -> None:
    path = _files(tmp_path)[kind]
    result = _invoke("capture", "consent", "--answers", str(path))
    line = _assert_one_line_error(result)
    assert "KE-0101" not in line


@pytest.mark.parametrize(
    "kind", ["missing", "adir", "empty", "garbage", "nonutf8", "badjson", "steps_obj", "string"]
)
def test_forms_eval_steps_file(ws: tuple[Path, str], tmp_path: Path, kind: str) -> None:
    path = _files(tmp_path)[kind]
    _assert_one_line_error(_invoke("forms", "eval", str(CONSENT_MD), "--steps", str(path)))


@pytest.mark.parametrize(
    "args",
    [
        ["capture", "nosuch", "--answers", "x.json"],
        ["capture", "../../etc/passwd"],
        ["capture", "consent", "--resume", "nosuch"],
        ["capture", "consent", "--lang", "xx"],
        ["records", "show", "nosuch"],
        ["records", "show", "../../x"],
        ["records", "edit", "nosuch"],
        ["records", "discard", "nosuch", "--yes"],
        ["records", "list", "--status", "bogus"],
        ["forms", "show", "nosuch"],
        ["forms", "add", "../../etc/passwd"],
        ["forms", "add", "nosuch"],
        ["forms", "eval", str(CONSENT_MD), "--steps", "s.json", "--now", "notadate"],
        ["export", "--form", "nosuch", "--format", "csv", "--out", "out"],
        ["export", "--form", "../x", "--format", "csv", "--out", "out"],
        ["export", "--form", "consent", "--format", "bogus", "--out", "out"],
        ["export", "--form", "consent", "--format", "csv", "--out", "out", "--since", "2026-13-45"],
        ["export", "--form", "consent", "--format", "csv", "--out", "out", "--since", "today"],
        ["export", "--form", "consent", "--format", "csv", "--out", "out", "--headers", "x"],
        ["export", "--form", "consent", "--format", "csv", "--out", "out", "--lang", "xx"],
        [
            "export",
            "--form",
            "consent",
            "--format",
            "csv",
            "--out",
            "out",
            "--include-sensitive",
            "nosuch",
        ],
        ["export", "--form", "consent", "--format", "csv", "--out", "afile"],
        ["export", "--form", "consent", "--format", "csv", "--out", "afile/sub"],
        ["report", "--out", "afile/r.html"],
        ["report", "--from", "2026-02-30", "--json"],
        ["report", "--to", "notadate", "--json"],
        ["report", "--from", "2026-12-01", "--to", "2026-01-01", "--json"],
        ["report", "--min-cell", "0", "--json"],
        ["report", "--min-cell", "-5", "--json"],
        ["report", "--resolution", "0", "--json"],
        ["init"],
        ["sync"],
        ["pull"],
        ["project", "approve", "../../x"],
        ["forms", "publish", "consent"],
        ["enroll", "notaurl", "CODE"],
        ["enroll", "ftp://127.0.0.1:1", "CODE"],
        ["enroll", "http://example.org", "CODE"],
        ["enroll", "http://[::1", "CODE"],
        ["enroll", "http://127.0.0.1:abc", "CODE"],
        ["enroll", "http://127.0.0.1:99999", "CODE"],
        ["sync", "--server", "http://[::1"],
        ["enroll", "http://127.0.0.1:1", "CODE"],
    ],
    ids=lambda a: " ".join(a)[:60],
)
def test_bad_arguments(ws: tuple[Path, str], tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "afile").write_text("already here", encoding="utf-8")
    (tmp_path / "s.json").write_text("[]", encoding="utf-8")
    _assert_one_line_error(_invoke(*args))
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "already here"


def test_record_of_another_status_cannot_resume(ws: tuple[Path, str]) -> None:
    _assert_one_line_error(_invoke("capture", "consent", "--resume", ws[1]))


@pytest.mark.parametrize("kind", ["missing", "adir", "garbage", "nonutf8"])
def test_passphrase_file(ws: tuple[Path, str], tmp_path: Path, kind: str) -> None:
    path = _files(tmp_path)[kind]
    _assert_one_line_error(_invoke("--passphrase-file", str(path), "records", "list"), code=2)


def test_no_workspace(tmp_path: Path) -> None:
    for args in (["records", "list"], ["sync"], ["wipe", "--yes"], ["lock"], ["audit", "verify"]):
        _assert_one_line_error(_invoke("--home", str(tmp_path / "none"), *args))


def _run(argv: list[str], *, stdin: Any, env_passphrase: bool) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "FIELDKIT_PASSPHRASE"}
    env["FIELDKIT_LOCK_TIMEOUT"] = "0"
    if env_passphrase:
        env["FIELDKIT_PASSPHRASE"] = PASS
    return subprocess.run(
        argv, env=env, stdin=stdin, capture_output=True, text=True, timeout=60, check=False
    )


NO_TTY = [
    ["records", "list"],
    ["capture", "consent"],
    ["passphrase"],
    ["recover"],
    ["wipe"],
    ["records", "discard", "x"],
    ["enroll", "http://127.0.0.1:1", "-"],
]


@pytest.mark.parametrize("args", NO_TTY, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("closed", [False, True], ids=["devnull", "closed"])
def test_no_tty_no_passphrase(
    saved: tuple[Path, str], tmp_path: Path, args: list[str], closed: bool
) -> None:
    """Standard input at end (or closed outright, `<&-`) and no passphrase: one line, exit≠0."""
    home = tmp_path / "home"
    shutil.copytree(saved[0], home)
    needs_passphrase = args[0] == "enroll"  # the code prompt comes before the workspace opens
    if closed:
        # A really closed descriptor 0, as `fieldkit … <&-` gives: sys.stdin is then None.
        done = _run(
            ["sh", "-c", 'exec "$0" "$@" <&-', str(FIELDKIT), "--home", str(home), *args],
            stdin=None,
            env_passphrase=needs_passphrase,
        )
    else:
        done = _run(
            [str(FIELDKIT), "--home", str(home), *args],
            stdin=subprocess.DEVNULL,
            env_passphrase=needs_passphrase,
        )
    _assert_one_line_error(done)
    assert _digest(home) == _digest(saved[0])  # not even a wipe or a draft without a yes


def test_server_run_port_out_of_range(tmp_path: Path) -> None:
    for port in ("-1", "70000"):
        result = _invoke("server", "run", "--data-dir", str(tmp_path / "srv"), "--port", port)
        _assert_one_line_error(result, code=2)


@pytest.mark.parametrize("form_id", ["../../evil", "a/b", "a\\b", "..", "tab\there"])
def test_form_id_that_could_steer_a_path(
    ws: tuple[Path, str], tmp_path: Path, form_id: str
) -> None:
    form = tmp_path / "f.md"
    form.write_text(
        "| survey |\n| | type | name | label |\n| | text | a | A |\n"
        f"| settings |\n| | form_id | version |\n| | {form_id} | 1 |\n",
        encoding="utf-8",
    )
    _assert_one_line_error(_invoke("forms", "add", str(form)))
    listed = _invoke("forms", "list", "--json")
    assert [f["form_id"] for f in json.loads(listed.stdout)] == ["consent"]


def test_damaged_xls_message_shows_no_file_bytes(ws: tuple[Path, str], tmp_path: Path) -> None:
    damaged = tmp_path / "form.xls"
    damaged.write_bytes(b"SECRET-NAME" + bytes(range(256)))
    line = _assert_one_line_error(_invoke("forms", "add", str(damaged)))
    assert "SECRET" not in line and "b'" not in line


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real ``fieldkit server run`` process on a free 127.0.0.1 port: (url, admin token)."""
    data = tmp_path_factory.mktemp("server")
    made = subprocess.run(
        [str(FIELDKIT), "server", "init", "--data-dir", str(data), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    token = json.loads(made.stdout)["admin_token"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    log = (data / "log").open("wb")
    proc = subprocess.Popen(
        [
            str(FIELDKIT),
            "server",
            "run",
            "--data-dir",
            str(data),
            "--port",
            str(port),
            "--verify-processes",
            "0",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.mark.parametrize(
    "args",
    [
        ["server", "devices", "list"],
        ["server", "devices", "revoke", "d_nosuch"],
    ],
    ids=lambda a: " ".join(a),
)
def test_wrong_admin_token(server: tuple[str, str], args: list[str]) -> None:
    result = _invoke(*args, "--server", server[0], "--admin-token", "not-the-token")
    _assert_one_line_error(result, code=4)


def test_server_admin_commands_bad_input(server: tuple[str, str]) -> None:
    url, token = server
    for extra in (
        ["server", "enroll-code", "--role", "field"],
        ["server", "devices", "revoke", "../../x"],
    ):
        _assert_one_line_error(_invoke(*extra, "--server", url, "--admin-token", token))


def test_project_create_wrong_token_and_revoked_device(
    server: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wrong admin token: exit 4, nothing enrolled. A revoked device: sync exits 4 and the
    finalized record stays in the workspace, waiting."""
    url, token = server
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
    monkeypatch.setenv("FIELDKIT_LOCK_TIMEOUT", "0")
    coord, field = str(tmp_path / "coord"), str(tmp_path / "field")
    for home in (coord, field):
        assert _invoke("--home", home, "init").exit_code == 0
    wrong = _invoke(
        "--home", coord, "project", "create", "P", "--server", url, "--admin-token", "wrong"
    )
    _assert_one_line_error(wrong, code=4)
    made = _invoke(
        "--home", coord, "project", "create", "P", "--server", url, "--admin-token", token
    )
    assert made.exit_code == 0, made.stderr
    assert _invoke("--home", coord, "forms", "publish", "consent").exit_code == 0
    for bad in (
        ["--role", "bogus"],
        ["--role", "field", "--expires", "-1h"],
        ["--role", "field", "--expires", "99999d"],
    ):
        _assert_one_line_error(_invoke("--home", coord, "project", "enroll-code", *bad))
    code = _invoke("--home", coord, "project", "enroll-code", "--role", "field", "--json")
    assert code.exit_code == 0, code.stderr
    enrolled = _invoke(
        "--home", field, "enroll", url, json.loads(code.stdout)["code"], "--name", "laptop-7"
    )
    assert enrolled.exit_code == 0, enrolled.stderr
    _assert_one_line_error(_invoke("--home", field, "enroll", url, "USED-CODE"))
    used = _invoke("--home", str(tmp_path / "other"), "init")
    assert used.exit_code == 0
    again = _invoke(
        "--home", str(tmp_path / "other"), "enroll", url, json.loads(code.stdout)["code"]
    )
    assert "does not know this enrolment code" in _assert_one_line_error(again, code=4)
    devices = json.loads(
        _invoke(
            "server", "devices", "list", "--server", url, "--admin-token", token, "--json"
        ).stdout
    )
    device = next(d["device_id"] for d in devices if d["role"] == "field")
    revoked = _invoke(
        "server", "devices", "revoke", device, "--server", url, "--admin-token", token
    )
    assert revoked.exit_code == 0, revoked.stderr
    answers = tmp_path / "ok.json"
    answers.write_text(json.dumps(ANSWERS), encoding="utf-8")
    assert _invoke("--home", field, "capture", "consent", "--answers", str(answers)).exit_code == 0
    line = _assert_one_line_error(_invoke("--home", field, "sync"), code=4)
    assert "revoked" in line and "AB-1234-G" not in line
    records = json.loads(_invoke("--home", field, "records", "list", "--json").stdout)
    assert [r["status"] for r in records] == ["finalized"]


@pytest.mark.parametrize("nesting", ["[", '{"a":'])
def test_json_nested_too_deep(ws: tuple[Path, str], tmp_path: Path, nesting: str) -> None:
    """json gives up with RecursionError around a thousand levels: still one line."""
    deep = tmp_path / "deep.json"
    deep.write_text(nesting * 100_000, encoding="utf-8")
    _assert_one_line_error(_invoke("capture", "consent", "--answers", str(deep)), code=2)
    result = _invoke("forms", "eval", str(CONSENT_MD), "--steps", str(deep))
    _assert_one_line_error(result, code=2)


@pytest.mark.parametrize(
    "args",
    [
        ["capture", "consent", "--answers", "/dev/zero"],
        ["forms", "eval", str(CONSENT_MD), "--steps", "/dev/zero"],
        ["--passphrase-file", "/dev/zero", "records", "list"],
        ["passphrase", "--new-passphrase-file", "/dev/zero"],
    ],
    ids=["answers", "steps", "passphrase-file", "new-passphrase-file"],
)
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_endless_input_file_is_refused(ws: tuple[Path, str], args: list[str]) -> None:
    """Files are read bounded: an endless one is refused, not read until memory runs out."""
    done = subprocess.run(
        [str(FIELDKIT), *args],
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    _assert_one_line_error(done, code=2)


def test_damaged_database_is_one_line(saved: tuple[Path, str], tmp_path: Path) -> None:
    """SQLCipher's own stderr log of the failed page HMAC stays silent (a real process: it
    writes to descriptor 2 directly)."""
    home = tmp_path / "home"
    shutil.copytree(saved[0], home)
    db = home / "workspace.db"
    db.write_bytes(bytes(range(256)) * 16 + db.read_bytes()[4096:])
    env = dict(os.environ, FIELDKIT_PASSPHRASE=PASS, FIELDKIT_LOCK_TIMEOUT="0")
    for args in (["records", "list"], ["audit", "verify"]):
        done = subprocess.run(
            [str(FIELDKIT), "--home", str(home), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "damaged" in _assert_one_line_error(done)


def test_record_of_another_form(ws: tuple[Path, str]) -> None:
    """A referral draft resumed as a consent record, or 'edited' while a draft: refused, kept."""
    assert _invoke("forms", "add", "referral").exit_code == 0
    # One answer (the case code, asked first), then end of input.
    started = _invoke("capture", "referral", input="AB-1234-G\n")
    assert started.exit_code == 0, started.stderr
    drafts = json.loads(_invoke("records", "list", "--status", "draft", "--json").stdout)
    assert [d["form_id"] for d in drafts] == ["referral"]
    draft = drafts[0]["id"]
    _assert_one_line_error(_invoke("capture", "consent", "--resume", draft))
    _assert_one_line_error(_invoke("records", "edit", draft))
    _assert_one_line_error(_invoke("records", "discard", ws[1], "--yes"))  # finalized: kept
    after = json.loads(_invoke("records", "list", "--status", "draft", "--json").stdout)
    assert after == drafts


def test_server_run_verify_processes_bounded(tmp_path: Path) -> None:
    """A typo of 100000 worker processes is a usage error before anything is forked."""
    data = str(tmp_path / "srv")
    result = _invoke("server", "run", "--data-dir", data, "--verify-processes", "100000")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--verify-processes" in result.output
    assert not (tmp_path / "srv").exists()


INTERRUPT_WHILE_IMPORTING = """
import sys

class CtrlC:
    # Stands in for a Ctrl-C that lands while the command line's modules load.
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            raise KeyboardInterrupt
        return None

sys.meta_path.insert(0, CtrlC())
from fieldkit.cli import main
main()
"""


def test_ctrl_c_while_the_cli_loads() -> None:
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPT_WHILE_IMPORTING, "records", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr == "Interrupted.\n"


@pytest.mark.parametrize(
    "line",
    [
        "passphrase_file = 5",
        'passphrase_file = ["a"]',
        "server_url = 5",
        "garbage = = =",
    ],
)
def test_bad_config_toml(ws: tuple[Path, str], line: str) -> None:
    """A hand-edited config.toml of the wrong shape: one line, exit 2, for every command."""
    config = ws[0] / "config.toml"
    config.write_text(line + "\n", encoding="utf-8")
    try:
        for args in (["records", "list"], ["sync"]):
            _assert_one_line_error(_invoke(*args), code=2)
    finally:
        config.unlink()  # the fixture's closing check opens the workspace


HOSTILE = "[/bold] [link=http://x]y \x1b]0;retitled\x07\x1b[2J\x00end"


def test_hostile_answer_text_is_shown_as_text(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer synced in from another device may hold rich markup or terminal escapes:
    list and show print it as inert text (no MarkupError, no escape sequence)."""
    from fieldkit.store import create_workspace

    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
    monkeypatch.setenv("FIELDKIT_LOCK_TIMEOUT", "0")
    monkeypatch.setenv("COLUMNS", "300")  # no folding, so the text can be found whole
    form = {
        "type": "survey",
        "name": "data",
        "title": "T",
        "id_string": "t",
        "version": "1",
        "children": [{"type": "text", "name": "site", "label": "Site"}],
    }
    ws, _ = create_workspace(home, passphrase=PASS)
    with ws:
        ws.forms.add(form)
        draft = ws.records.create_draft(form_id="t", form_version="1")
        ws.records.save_answers(draft.id, {"/data/site": HOSTILE})
    listed = _invoke("records", "list")
    assert listed.exit_code == 0, listed.output
    shown = _invoke("records", "show", draft.id, "--reveal")
    assert shown.exit_code == 0, shown.output
    for output in (listed.stdout, shown.stdout):
        assert "[/bold] [link=http://x]y" in output
        assert not any(ch in output for ch in "\x1b\x07\x00")


def test_hostile_answer_in_capture_review(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resuming a draft whose answer holds terminal escapes: the prompt and the review show
    them as U+FFFD, and keeping the answer (Enter) stores it unchanged."""
    from fieldkit.store import create_workspace

    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
    monkeypatch.setenv("FIELDKIT_LOCK_TIMEOUT", "0")
    form = {
        "type": "survey",
        "name": "data",
        "title": "T",
        "id_string": "t",
        "version": "1",
        "children": [{"type": "text", "name": "site", "label": "Site"}],
    }
    answer = "A\x1b]0;retitled\x07\x1b[31mRED"
    ws, _ = create_workspace(home, passphrase=PASS)
    with ws:
        ws.forms.add(form)
        draft = ws.records.create_draft(form_id="t", form_version="1")
        ws.records.save_answers(draft.id, {"/data/site": answer})
    result = _invoke("capture", "t", "--resume", draft.id, input="\n:review\n:q\n")
    assert result.exit_code == 0, result.output
    assert "RED" in result.stdout
    assert "\x1b]" not in result.stdout and "\x07" not in result.stdout
    shown = json.loads(_invoke("records", "show", draft.id, "--json", "--reveal").stdout)
    assert shown["answers"]["/data/site"] == answer
