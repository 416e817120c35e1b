"""fieldkit init | passphrase | recover | lock | wipe | audit verify, through the real CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fieldkit.cli import app
from fieldkit.store import create_workspace, open_workspace, unlock_cache

PASS = "amber-kettle-orbit-71"
NEW = "violet harbour lantern 9"


def _run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), input=input)


def _fingerprint(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.fixture
def no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDKIT_LOCK_TIMEOUT", "0")


@pytest.fixture
def made(home: Path, no_cache: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace made through the library; FIELDKIT_PASSPHRASE set for the CLI."""
    create_workspace(home, passphrase=PASS)[0].close()
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
    return home


def test_init_asks_twice_and_prints_the_recovery_key_once(home: Path, no_cache: None) -> None:
    result = _run("init", input=f"{PASS}\n{PASS}\n")
    assert result.exit_code == 0, result.output
    assert PASS not in result.stdout
    key_lines = [line.strip() for line in result.stdout.splitlines() if line.count("-") == 7]
    assert len(key_lines) == 1 and len(key_lines[0]) == 47
    open_workspace(home, passphrase=PASS).close()
    again = _run("init", input=f"{PASS}\n{PASS}\n")
    assert again.exit_code == 1
    assert again.stderr == f"Error: a workspace already exists at {home}\n"


def test_init_interactive_refuses_weak_and_mismatched(home: Path, no_cache: None) -> None:
    result = _run("init", input=f"short\n{PASS}\n{PASS}x\n{PASS}\n{PASS}\n")
    assert result.exit_code == 0, result.output
    assert "Too weak: a passphrase needs at least 10 characters." in result.stderr
    assert "differ" in result.stderr
    open_workspace(home, passphrase=PASS).close()


def test_init_from_environment_refuses_a_weak_passphrase(
    home: Path, no_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", "password123")
    result = _run("init")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "common" in result.stderr
    assert not home.exists()


def test_init_from_a_passphrase_file(home: Path, tmp_path: Path, no_cache: None) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text(PASS + "\n")
    result = _run("--passphrase-file", str(secret), "init")
    assert result.exit_code == 0, result.output
    open_workspace(home, passphrase=PASS).close()


def test_wrong_passphrase_is_one_line_exit_1_and_changes_nothing(
    made: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _fingerprint(made)
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", NEW)
    result = _run("records", "list")
    assert result.exit_code == 1
    assert result.stderr == "Error: wrong passphrase\n"
    assert result.stdout == ""
    assert _fingerprint(made) == before


def test_no_passphrase_and_no_terminal(made: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIELDKIT_PASSPHRASE")
    result = _run("records", "list", input="")
    assert result.exit_code == 1
    assert "Error: no passphrase" in result.stderr


def test_missing_workspace(home: Path, no_cache: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
    result = _run("audit", "verify")
    assert result.exit_code == 1
    assert result.stderr == f"Error: no workspace at {home}: run `fieldkit init` first\n"


def test_damaged_key_file_and_database(made: Path) -> None:
    keyfile = made / "keyfile.json"
    original = keyfile.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0x01
    keyfile.write_bytes(bytes(data))
    result = _run("records", "list")
    assert result.exit_code == 1
    assert result.stderr == f"Error: key file {keyfile} is damaged\n"
    keyfile.write_bytes(original)
    db = made / "workspace.db"
    data = bytearray(db.read_bytes())
    data[200] ^= 0x01
    db.write_bytes(bytes(data))
    before = _fingerprint(made)
    result = _run("records", "list")
    assert result.exit_code == 1
    assert result.stderr == f"Error: database {db} is damaged\n"
    assert "Traceback" not in result.output
    assert _fingerprint(made) == before


def test_change_passphrase(made: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIELDKIT_PASSPHRASE")
    wrong = _run("passphrase", input=f"{NEW}\n{NEW}\n{NEW}\n")
    assert wrong.exit_code == 1 and wrong.stderr.endswith("Error: wrong passphrase\n")
    assert "New passphrase" not in wrong.stderr  # told before being asked for a new one
    result = _run("passphrase", input=f"{PASS}\n{NEW}\n{NEW}\n")
    assert result.exit_code == 0, result.output
    assert "Passphrase changed." in result.stdout
    open_workspace(made, passphrase=NEW).close()


def test_recover_from_files(home: Path, tmp_path: Path, no_cache: None) -> None:
    ws, recovery = create_workspace(home, passphrase=PASS)
    ws.close()
    key_file, new_file = tmp_path / "recovery.txt", tmp_path / "new.txt"
    key_file.write_text(recovery.lower().replace("-", " ") + "\n")
    new_file.write_text(NEW)
    result = _run(
        "recover", "--recovery-key-file", str(key_file), "--new-passphrase-file", str(new_file)
    )
    assert result.exit_code == 0, result.output
    open_workspace(home, passphrase=NEW).close()
    key_file.write_text("AAAAA-" * 7 + "AAAAA")
    result = _run(
        "recover", "--recovery-key-file", str(key_file), "--new-passphrase-file", str(new_file)
    )
    assert result.exit_code == 1 and result.stderr == "Error: wrong recovery key\n"


def test_wipe_needs_confirmation_then_says_plainly(made: Path) -> None:
    refused = _run("wipe", input="n\n")
    assert refused.exit_code == 2 and "not wiped" in refused.stderr
    assert (made / "keyfile.json").exists()
    done = _run("wipe", input="y\n")
    assert done.exit_code == 0 and "cannot be recovered" in done.stdout
    assert not (made / "keyfile.json").exists()
    for args in (["records", "list"], ["audit", "verify"], ["passphrase"]):
        result = _run(*args)
        assert result.exit_code == 1
        assert result.stderr == (
            f"Error: the workspace at {made} was wiped; its data cannot be recovered\n"
        )
    assert _run("wipe", "--yes").exit_code == 0


def test_audit_verify_detects_tampering(made: Path) -> None:
    from fieldkit.crypto import keys
    from fieldkit.store.keyfile import KeyFile

    ok = _run("audit", "verify")
    assert ok.exit_code == 0 and "Audit log intact" in ok.stdout
    as_json = _run("audit", "verify", "--json")
    assert json.loads(as_json.stdout)["ok"] is True

    import sqlcipher3

    dmk = KeyFile.read(made / "keyfile.json").unlock_with_passphrase(PASS)
    conn = sqlcipher3.connect(str(made / "workspace.db"), isolation_level=None)
    conn.execute(f"PRAGMA key = \"x'{keys.sqlcipher_key(dmk).hex()}'\"")
    conn.execute("UPDATE audit SET action = 'nothing' WHERE seq = 1")
    conn.close()
    broken = _run("audit", "verify")
    assert broken.exit_code == 1
    assert broken.stderr == "Error: audit log broken: entry 1 was altered\n"
    broken_json = _run("audit", "verify", "--json")
    assert broken_json.exit_code == 1 and json.loads(broken_json.stdout)["ok"] is False


@pytest.mark.skipif(not unlock_cache.available(), reason="no kernel keyring here")
def test_typed_passphrase_unlocks_for_a_while_and_lock_ends_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIELDKIT_LOCK_TIMEOUT", "120")
    assert _run("init", input=f"{PASS}\n{PASS}\n").exit_code == 0
    try:
        cached = _run("records", "list", input="")  # no passphrase available: the cache works
        assert cached.exit_code == 0, cached.output
        locked = _run("lock")
        assert locked.exit_code == 0 and locked.stdout == "Locked.\n"
        asked = _run("records", "list", input="")
        assert asked.exit_code == 1 and "Error: no passphrase" in asked.stderr
        again = _run("records", "list", input=f"{PASS}\n")  # typed again: cached again
        assert again.exit_code == 0
        assert _run("records", "list", input="").exit_code == 0
    finally:
        _run("lock")


@pytest.mark.skipif(not unlock_cache.available(), reason="no kernel keyring here")
def test_passphrase_from_environment_is_not_cached(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIELDKIT_LOCK_TIMEOUT", "120")
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
    assert _run("init").exit_code == 0
    assert _run("records", "list").exit_code == 0
    monkeypatch.delenv("FIELDKIT_PASSPHRASE")
    result = _run("records", "list", input="")
    assert result.exit_code == 1 and "no passphrase" in result.stderr
    assert _run("lock").stdout == "Locked (nothing was unlocked).\n"


def test_every_command_has_help() -> None:
    for args in (["init"], ["passphrase"], ["recover"], ["lock"], ["wipe"], ["audit", "verify"]):
        result = _run(*args, "--help")
        assert result.exit_code == 0 and len(result.stdout) > 40


def test_init_on_a_full_disk_is_one_line_and_leaves_nothing(
    tmp_path: Path, no_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue
        os.close(fd)
        home = mount / "home"
        monkeypatch.setenv("FIELDKIT_HOME", str(home))
        monkeypatch.setenv("FIELDKIT_PASSPHRASE", PASS)
        result = _run("init")
        assert result.exit_code == 1
        assert result.stderr == f"Error: the disk is full: no workspace was created at {home}\n"
        assert not home.exists() or list(home.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_passphrase_file_option_beats_the_environment(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "pass.txt"
    secret.write_text(PASS + "\n")
    monkeypatch.setenv("FIELDKIT_PASSPHRASE", NEW)  # stale and wrong
    assert _run("records", "list").stderr == "Error: wrong passphrase\n"
    result = _run("--passphrase-file", str(secret), "records", "list", "--json")
    assert result.exit_code == 0, result.output
    # From the environment variable (FIELDKIT_PASSPHRASE_FILE), the file ranks below it.
    monkeypatch.setenv("FIELDKIT_PASSPHRASE_FILE", str(secret))
    assert _run("records", "list").stderr == "Error: wrong passphrase\n"
    monkeypatch.delenv("FIELDKIT_PASSPHRASE")
    assert _run("records", "list", "--json").exit_code == 0


def test_recover_by_typing_the_key(home: Path, no_cache: None) -> None:
    ws, recovery = create_workspace(home, passphrase=PASS)
    ws.close()
    result = _run("recover", input=f"{recovery.lower()}\n{NEW}\n{NEW}\n")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr  # piped input: no getpass echo warnings
    open_workspace(home, passphrase=NEW).close()
    nothing = _run("recover", input="")
    assert nothing.exit_code == 2 and "no recovery key" in nothing.stderr
