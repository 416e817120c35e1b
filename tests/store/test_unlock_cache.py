"""The unlock cache in the real Linux kernel keyring (skipped where the kernel refuses keyctl)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _store_kit import PASSPHRASE

from fieldkit.store import create_workspace, lock_workspace, open_from_cache, unlock_cache
from fieldkit.store.keyfile import KEYFILE_NAME, KeyFile

pytestmark = pytest.mark.skipif(
    not unlock_cache.available(), reason="the kernel keyring is not available here"
)


def test_remember_recall_forget() -> None:
    name = f"test-{secrets.token_hex(6)}"
    key = secrets.token_bytes(32)
    assert unlock_cache.recall(name, timeout_seconds=60) is None
    assert unlock_cache.remember(name, key, timeout_seconds=60)
    assert unlock_cache.recall(name, timeout_seconds=60) == key
    assert unlock_cache.forget(name)
    assert unlock_cache.recall(name, timeout_seconds=60) is None
    assert not unlock_cache.forget(name)


def test_the_key_expires_after_its_idle_timeout() -> None:
    name = f"test-{secrets.token_hex(6)}"
    assert unlock_cache.remember(name, secrets.token_bytes(32), timeout_seconds=1)
    time.sleep(2.2)
    assert unlock_cache.recall(name, timeout_seconds=1) is None
    unlock_cache.forget(name)


def test_a_zero_timeout_caches_nothing() -> None:
    name = f"test-{secrets.token_hex(6)}"
    assert not unlock_cache.remember(name, secrets.token_bytes(32), timeout_seconds=0)
    assert unlock_cache.recall(name, timeout_seconds=60) is None


def test_another_process_can_use_the_cached_unlock_until_lock(home: Path) -> None:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        assert ws.remember_unlock(timeout_seconds=60)
    code = (
        "import sys; from pathlib import Path; from fieldkit.store import open_from_cache;"
        "ws = open_from_cache(Path(sys.argv[1]), timeout_seconds=60);"
        "print('none' if ws is None else ws.device_id)"
    )
    run = [sys.executable, "-c", code, str(home)]
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    assert out == ws.device_id
    # Nothing about the key reached the disk.
    assert "keyring" not in (home / KEYFILE_NAME).read_text()
    assert lock_workspace(home)
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    assert out == "none"
    assert open_from_cache(home, timeout_seconds=60) is None


def test_a_stale_cached_key_is_ignored_and_dropped(home: Path) -> None:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    ws.close()
    unlock_cache.remember(ws.id, secrets.token_bytes(96), timeout_seconds=60)
    assert open_from_cache(home, timeout_seconds=60) is None
    assert unlock_cache.recall(ws.id, timeout_seconds=60, size=96) is None


def test_the_cache_holds_derived_keys_never_the_master_key(home: Path) -> None:
    from fieldkit.crypto import keys

    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        assert ws.remember_unlock(timeout_seconds=60)
    try:
        cached = unlock_cache.recall(ws.id, timeout_seconds=60, size=96)
        assert cached is not None
        dmk = KeyFile.read(home / KEYFILE_NAME).unlock_with_passphrase(PASSPHRASE)
        assert dmk not in cached
        assert keys.SessionKeys.unpack(cached) == keys.SessionKeys.derive(dmk)
        with open_from_cache(home, timeout_seconds=60) as opened:  # type: ignore[union-attr]
            assert opened.audit.verify().ok
    finally:
        lock_workspace(home)
