from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from _store_kit import FORM, OTHER_PASSPHRASE, PASSPHRASE, fingerprint, raw_connection

from fieldkit.errors import (
    WeakPassphrase,
    WorkspaceDamaged,
    WorkspaceExists,
    WorkspaceMissing,
    WorkspaceWiped,
    WrongPassphrase,
)
from fieldkit.store import (
    change_passphrase,
    create_workspace,
    open_workspace,
    recover_workspace,
    wipe_workspace,
    workspace_id,
)
from fieldkit.store.keyfile import KEYFILE_NAME
from fieldkit.store.workspace import DATABASE_NAME


def test_create_then_open(home: Path) -> None:
    ws, recovery = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        ws.forms.add(FORM)
        device = ws.device
        assert len(device.x25519_public) == 32 and len(device.ed25519_public) == 32
        assert ws.device_id == device.id
    assert sorted(p.name for p in home.iterdir()) == sorted([DATABASE_NAME, KEYFILE_NAME])
    assert len(recovery.split("-")) == 8
    with open_workspace(home, passphrase=PASSPHRASE) as again:
        assert again.forms.get("household").title == "Household visit"
        assert again.device.x25519_public == device.x25519_public
        assert again.id == workspace_id(home)


def test_key_file_holds_no_key_in_clear_and_params_are_strong(home: Path) -> None:
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    data = json.loads((home / KEYFILE_NAME).read_text())
    kdf = data["wraps"]["passphrase"]["kdf"]
    assert kdf["name"] == "argon2id" and kdf["memory_kib"] >= 65536 and kdf["iterations"] >= 3
    assert set(data["wraps"]) == {"passphrase", "recovery"}
    assert oct((home / KEYFILE_NAME).stat().st_mode & 0o777) == "0o600"


def test_weak_passphrase_creates_nothing(home: Path) -> None:
    with pytest.raises(WeakPassphrase, match="at least 10"):
        create_workspace(home, passphrase="short")
    assert not home.exists()


def test_already_exists(home: Path) -> None:
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    before = fingerprint(home)
    with pytest.raises(WorkspaceExists, match="already exists"):
        create_workspace(home, passphrase=OTHER_PASSPHRASE)
    assert fingerprint(home) == before


def test_missing_workspace(home: Path) -> None:
    with pytest.raises(WorkspaceMissing, match="fieldkit init"):
        open_workspace(home, passphrase=PASSPHRASE)
    assert not home.exists()


def test_wrong_passphrase_changes_nothing(home: Path) -> None:
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    before = fingerprint(home)
    with pytest.raises(WrongPassphrase) as caught:
        open_workspace(home, passphrase=OTHER_PASSPHRASE)
    assert str(caught.value) == "wrong passphrase"
    assert fingerprint(home) == before


def test_change_passphrase_rewraps_without_touching_the_database(home: Path) -> None:
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    db_before = (home / DATABASE_NAME).stat().st_size
    with pytest.raises(WrongPassphrase):
        change_passphrase(home, old=OTHER_PASSPHRASE, new=OTHER_PASSPHRASE)
    with pytest.raises(WeakPassphrase):
        change_passphrase(home, old=PASSPHRASE, new="password1")
    change_passphrase(home, old=PASSPHRASE, new=OTHER_PASSPHRASE)
    with pytest.raises(WrongPassphrase):
        open_workspace(home, passphrase=PASSPHRASE)
    with open_workspace(home, passphrase=OTHER_PASSPHRASE) as ws:
        assert [e.action for e in ws.audit.entries()][-1] == "passphrase_change"
        assert ws.audit.verify().ok
    assert (home / DATABASE_NAME).stat().st_size == db_before
    assert [p.name for p in home.iterdir() if p.name.endswith(".tmp")] == []
    # A temp copy left by a killed write is removed by the next key-file write.
    stray = home / f".{KEYFILE_NAME}.0badc0de.tmp"
    stray.write_bytes(b"left by a kill -9")
    change_passphrase(home, old=OTHER_PASSPHRASE, new=PASSPHRASE)
    assert not stray.exists()


def test_recover_with_the_recovery_key(home: Path) -> None:
    ws, recovery = create_workspace(home, passphrase=PASSPHRASE)
    ws.close()
    with pytest.raises(WrongPassphrase, match="wrong recovery key"):
        recover_workspace(home, recovery_key="A" * 40, new_passphrase=OTHER_PASSPHRASE)
    with pytest.raises(WrongPassphrase, match="not a recovery key"):
        recover_workspace(home, recovery_key="nonsense", new_passphrase=OTHER_PASSPHRASE)
    typed = recovery.lower().replace("-", " ")
    recover_workspace(home, recovery_key=typed, new_passphrase=OTHER_PASSPHRASE)
    open_workspace(home, passphrase=OTHER_PASSPHRASE).close()
    with pytest.raises(WrongPassphrase):
        open_workspace(home, passphrase=PASSPHRASE)


def test_wipe_destroys_the_key_and_says_so(home: Path) -> None:
    ws, recovery = create_workspace(home, passphrase=PASSPHRASE)
    ws.close()
    key_bytes = (home / KEYFILE_NAME).read_bytes()
    wipe_workspace(home)
    assert not (home / KEYFILE_NAME).exists()
    assert not (home / DATABASE_NAME).exists()
    for path in home.iterdir():
        assert key_bytes not in path.read_bytes()
    for action in (
        lambda: open_workspace(home, passphrase=PASSPHRASE),
        lambda: recover_workspace(home, recovery_key=recovery, new_passphrase=OTHER_PASSPHRASE),
    ):
        with pytest.raises(WorkspaceWiped, match="wiped; its data cannot be recovered"):
            action()
    wipe_workspace(home)  # wiping twice is harmless
    # A new workspace may be made in the same place afterwards.
    create_workspace(home, passphrase=OTHER_PASSPHRASE)[0].close()
    assert not (home / "WIPED").exists()


def test_wipe_of_nothing(home: Path) -> None:
    with pytest.raises(WorkspaceMissing):
        wipe_workspace(home)


@pytest.mark.parametrize("where", ["start", "middle", "wrap", "mac", "end"])
def test_flipped_byte_in_key_file_is_damage_not_a_wrong_passphrase(home: Path, where: str) -> None:
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    path = home / KEYFILE_NAME
    text = path.read_text()
    data = json.loads(text)
    offsets = {
        "start": 0,
        "middle": len(text) // 2,
        "wrap": text.index(data["wraps"]["passphrase"]["wrapped"]) + 5,
        "mac": text.index(data["mac"]) + 3,
        "end": len(text) - 3,
    }
    raw = bytearray(path.read_bytes())
    raw[offsets[where]] ^= 0x01
    path.write_bytes(bytes(raw))
    before = fingerprint(home)
    with pytest.raises(WorkspaceDamaged) as caught:
        open_workspace(home, passphrase=PASSPHRASE)
    assert str(caught.value) == f"key file {path} is damaged"
    assert fingerprint(home) == before


def test_key_file_altered_consistently_is_caught_by_its_mac(home: Path) -> None:
    """Someone who recomputes the checksum still cannot swap a wrap without the DMK."""
    import hashlib

    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    other = home.parent / "other"
    create_workspace(other, passphrase=PASSPHRASE)[0].close()
    mine = json.loads((home / KEYFILE_NAME).read_text())
    theirs = json.loads((other / KEYFILE_NAME).read_text())
    mine["wraps"]["recovery"] = theirs["wraps"]["recovery"]
    mine.pop("checksum")
    canonical = json.dumps(mine, sort_keys=True, separators=(",", ":")).encode()
    mine["checksum"] = hashlib.sha256(canonical).hexdigest()
    (home / KEYFILE_NAME).write_text(json.dumps(mine))
    with pytest.raises(WorkspaceDamaged, match="key file"):
        open_workspace(home, passphrase=PASSPHRASE)


def test_key_file_missing_beside_a_database(home: Path) -> None:
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    (home / KEYFILE_NAME).unlink()
    with pytest.raises(WorkspaceDamaged, match="key file .* is missing"):
        open_workspace(home, passphrase=PASSPHRASE)


def test_unreadable_key_file(home: Path) -> None:
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    (home / KEYFILE_NAME).unlink()
    (home / KEYFILE_NAME).mkdir()  # unreadable as a file, even for root
    with pytest.raises(WorkspaceDamaged, match="cannot be read"):
        open_workspace(home, passphrase=PASSPHRASE)


def _populated(home: Path) -> None:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        ws.forms.add(FORM)
        for i in range(60):
            record = ws.records.create_draft(form_id="household", form_version="2024010101")
            ws.records.finalize(record.id, answers={"/data/site": f"site {i}" * 40})


@pytest.mark.parametrize("page", [0, 1, 5, -1])
def test_flipped_byte_in_database_names_the_file(home: Path, page: int) -> None:
    _populated(home)
    path = home / DATABASE_NAME
    pages = path.stat().st_size // 4096
    index = page if page >= 0 else pages - 1
    # Inside the page's encrypted content (past the 16-byte salt on page 0).
    offset = index * 4096 + 1000
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x04
    path.write_bytes(bytes(data))
    before = fingerprint(home)
    with pytest.raises(WorkspaceDamaged) as caught:
        ws = open_workspace(home, passphrase=PASSPHRASE)
        with ws:
            ws.records.list()
            ws.check()
    assert str(caught.value) == f"database {path} is damaged"
    assert fingerprint(home) == before


def test_database_missing(home: Path) -> None:
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    (home / DATABASE_NAME).unlink()
    with pytest.raises(WorkspaceDamaged, match="database .* is missing"):
        open_workspace(home, passphrase=PASSPHRASE)
    assert not (home / DATABASE_NAME).exists()


def test_database_is_encrypted_and_raw_access_needs_the_derived_key(home: Path) -> None:
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    assert not (home / DATABASE_NAME).read_bytes().startswith(b"SQLite format 3")
    conn = raw_connection(home)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM device").fetchone()[0] == 1
    conn.close()


def test_workspace_folder_and_files_are_private(home: Path) -> None:
    home.mkdir(mode=0o755)
    (home / "config.toml").write_text("")
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        ws.state.set("x", 1)
        assert (home / "workspace.db-wal").exists()
        for path in home.iterdir():
            if path.name != "config.toml":
                assert path.stat().st_mode & 0o077 == 0, path.name
    assert os.stat(home).st_mode & 0o077 == 0


def test_stronger_defaults_upgrade_the_key_file_on_the_next_unlock(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fieldkit.crypto import keys

    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    old = json.loads((home / KEYFILE_NAME).read_text())["wraps"]["passphrase"]["kdf"]
    # A later fieldkit raises the defaults; a key file from today must follow on next unlock.
    monkeypatch.setattr(keys, "DEFAULT_ITERATIONS", old["iterations"] + 1)
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        assert [e.action for e in ws.audit.entries()][-1] == "kdf_upgrade"
    new = json.loads((home / KEYFILE_NAME).read_text())["wraps"]["passphrase"]["kdf"]
    assert new["iterations"] == old["iterations"] + 1 and new["salt"] != old["salt"]
    open_workspace(home, passphrase=PASSPHRASE).close()
    assert json.loads((home / KEYFILE_NAME).read_text())["wraps"]["passphrase"]["kdf"] == new


def test_key_file_from_a_newer_fieldkit(home: Path) -> None:
    import hashlib

    from fieldkit.errors import MigrationError

    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    data = json.loads((home / KEYFILE_NAME).read_text())
    data.pop("checksum")
    data["version"] = 2
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    data["checksum"] = hashlib.sha256(canonical).hexdigest()
    (home / KEYFILE_NAME).write_text(json.dumps(data))
    with pytest.raises(MigrationError, match="upgrade fieldkit"):
        open_workspace(home, passphrase=PASSPHRASE)
