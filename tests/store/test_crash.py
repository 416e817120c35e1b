"""``kill -9`` in the middle of saving answers, at random moments, many times over.

After every kill the database must pass ``PRAGMA integrity_check`` (and SQLCipher's page HMAC
check), every save that had returned before the kill must be there, and the one save the kill
interrupted is there whole or not at all. The child announces each save before it starts and
acknowledges it when it returns, so the test counts the kills that landed inside a save (not
merely the saves acknowledged) and fails when too few did.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _store_kit import FORM, PASSPHRASE

from fieldkit.crypto.keys import SessionKeys
from fieldkit.store import create_workspace
from fieldkit.store.keyfile import KEYFILE_NAME, KeyFile
from fieldkit.store.workspace import _open

pytestmark = pytest.mark.safety

V = "2024010101"
ROUNDS = 50
FINAL_EVERY = 10  # every tenth save is a finalize (a loaded machine still reaches one per round)

# The child opens the workspace, says "ready", then saves answers as fast as it can: "begin"
# before each save or finalize, "saved"/"final" only after it has returned (the acknowledgement
# we check). A kill after "begin" and before its acknowledgement landed inside the save.
CHILD = r"""
import os, sys
from pathlib import Path
from fieldkit.store.keyfile import KeyFile
from fieldkit.store.workspace import _open
from fieldkit.crypto.keys import SessionKeys

# The master key comes from the parent so each round skips Argon2id: the unlock is not what
# this test is about, and 50 rounds of it would dominate the run time.
home, FINAL_EVERY = Path(sys.argv[1]), int(sys.argv[2])
dmk = bytes.fromhex(os.environ["CRASH_DMK"])
ws = _open(home, KeyFile.read(home / "keyfile.json"), SessionKeys.derive(dmk))
record = ws.records.create_draft(form_id="household", form_version="2024010101")
print("ready", record.id, flush=True)
i = 0
while True:
    i += 1
    answers = {"/data/site": str(i), "/data/respondent": "x" * (i % 50) * 40}
    print("begin", record.id, i, flush=True)
    if i % FINAL_EVERY == 0:
        ws.records.finalize(record.id, answers=answers)
        print("final", record.id, i, flush=True)
        record = ws.records.create_draft(form_id="household", form_version="2024010101")
        print("draft", record.id, flush=True)
    else:
        ws.records.save_answers(record.id, answers)
        print("saved", record.id, i, flush=True)
"""


@pytest.mark.slow
def test_kill_9_while_saving_loses_no_acknowledged_save(home: Path, tmp_path: Path) -> None:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        ws.forms.add(FORM)
    dmk = KeyFile.read(home / KEYFILE_NAME).unlock_with_passphrase(PASSPHRASE)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "CRASH_DMK": dmk.hex()}
    rng = random.Random(20240101)
    acknowledged: dict[str, int] = {}  # record id → last acknowledged save number
    finalized: set[str] = set()
    kills_mid_save = 0
    for _ in range(ROUNDS):
        child = subprocess.Popen(
            [sys.executable, str(script), str(home), str(FINAL_EVERY)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("ready"), child.stderr.read() if child.stderr else ""
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(child.pid, signal.SIGKILL)
        rest, errors = child.communicate()
        # It must have died of our kill, not of an error of its own (which would hide a bug).
        assert child.returncode == -signal.SIGKILL, errors
        # Only whole lines count: a line the kill cut short was never an acknowledgement.
        in_flight: tuple[str, int] | None = None  # the save begun and not acknowledged
        for entry in (line + rest).split("\n")[:-1]:
            parts = entry.split()
            if len(parts) != 3:
                continue
            if parts[0] == "begin":
                in_flight = (parts[1], int(parts[2]))
            elif parts[0] in {"saved", "final"}:
                acknowledged[parts[1]] = int(parts[2])
                in_flight = None
                if parts[0] == "final":
                    finalized.add(parts[1])
        kills_mid_save += in_flight is not None
        with _open(home, KeyFile.read(home / KEYFILE_NAME), SessionKeys.derive(dmk)) as check:
            check.check()  # cipher_integrity_check + integrity_check
            for record_id, number in acknowledged.items():
                if in_flight is not None and record_id == in_flight[0]:
                    continue  # judged below
                record = check.records.get(record_id)
                assert int(record.answers["/data/site"]) == number
                assert (record.status == "finalized") == (record_id in finalized)
            if in_flight is not None:
                # The interrupted save is all there (it committed just before the kill) or not
                # at all: the record holds the last acknowledged save, or none yet.
                record_id, number = in_flight
                record = check.records.get(record_id)
                stored = record.answers.get("/data/site")
                before = acknowledged.get(record_id)
                assert stored in {str(number), None if before is None else str(before)}
                if stored == str(number) and number % FINAL_EVERY == 0:
                    assert record.status == "finalized"
                    finalized.add(record_id)
                if stored == str(number):
                    acknowledged[record_id] = number
            assert check.audit.verify().ok
    # The kills really landed inside saves, most of the time (a save is mostly its fsync).
    assert kills_mid_save >= ROUNDS * 3 // 4, f"only {kills_mid_save} of {ROUNDS} kills mid-save"
    assert finalized


# Changes the passphrase back and forth until killed; prints each change once it has returned.
REWRAP_CHILD = r"""
import sys
from pathlib import Path
from fieldkit.store import change_passphrase

home, a, b = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
print("ready", flush=True)
while True:
    change_passphrase(home, old=a, new=b)
    print("now", b, flush=True)
    a, b = b, a
"""


@pytest.mark.slow
def test_kill_9_while_changing_the_passphrase_never_damages_the_key_file(
    home: Path, tmp_path: Path
) -> None:
    from fieldkit.errors import WrongPassphrase

    other = "violet harbour lantern 9"
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    script = tmp_path / "rewrap.py"
    script.write_text(REWRAP_CHILD)
    rng = random.Random(7)
    current = PASSPHRASE
    for _ in range(12):
        following = other if current == PASSPHRASE else PASSPHRASE
        child = subprocess.Popen(
            [sys.executable, str(script), str(home), current, following],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().startswith("ready")
        time.sleep(rng.uniform(0.05, 0.9))
        os.kill(child.pid, signal.SIGKILL)
        rest, errors = child.communicate()
        assert child.returncode == -signal.SIGKILL, errors
        acknowledged = [line[4:] for line in rest.splitlines() if line.startswith("now ")]
        keyfile = KeyFile.read(home / KEYFILE_NAME)  # never damaged, never half-written
        # The last acknowledged passphrase works, unless a later change committed before the kill.
        expected = acknowledged[-1] if acknowledged else current
        try:
            keyfile.unlock_with_passphrase(expected)
            current = expected
        except WrongPassphrase:
            current = other if expected == PASSPHRASE else PASSPHRASE
            keyfile.unlock_with_passphrase(current)
    # A kill in the middle of a write may leave a temp copy; it holds key material, so the
    # next key-file write and a wipe must remove it.
    stray = home / ".keyfile.json.deadbeef.tmp"
    stray.write_bytes(b"half a key file")
    from fieldkit.store import wipe_workspace

    wipe_workspace(home)
    assert sorted(p.name for p in home.iterdir()) == ["WIPED"]


# A capture-like writer and a sync-like writer on one workspace at the same time.
WRITER = r"""
import os, sys
from pathlib import Path
from fieldkit.crypto.keys import SessionKeys
from fieldkit.store.keyfile import KeyFile
from fieldkit.store.workspace import _open

home, kind = Path(sys.argv[1]), sys.argv[2]
dmk = bytes.fromhex(os.environ["CRASH_DMK"])
with _open(home, KeyFile.read(home / "keyfile.json"), SessionKeys.derive(dmk)) as ws:
    if kind == "capture":
        record = ws.records.create_draft(form_id="household", form_version="2024010101")
        for i in range(150):
            ws.records.save_answers(record.id, {"/data/site": str(i)})
    else:
        for start in range(0, 300, 30):
            ws.records.import_many(
                {"record_id": f"r{n}", "form_id": "household", "form_version": "2024010101",
                 "answers": {"/data/site": str(n)}, "device": "other", "capture_day": "2024-01-01",
                 "finalized_at": "2024-01-01T00:00:00.000Z"}
                for n in range(start, start + 30)
            )
print("done", flush=True)
"""


@pytest.mark.slow
def test_two_processes_writing_at_once_keep_one_sound_chain(home: Path, tmp_path: Path) -> None:
    ws, _ = create_workspace(home, passphrase=PASSPHRASE)
    with ws:
        ws.forms.add(FORM)
    dmk = KeyFile.read(home / KEYFILE_NAME).unlock_with_passphrase(PASSPHRASE)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "CRASH_DMK": dmk.hex()}
    children = [
        subprocess.Popen(
            [sys.executable, str(script), str(home), kind],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for kind in ("capture", "sync")
    ]
    for child in children:
        out, errors = child.communicate(timeout=300)
        assert child.returncode == 0 and out.strip() == "done", errors
    with _open(home, KeyFile.read(home / KEYFILE_NAME), SessionKeys.derive(dmk)) as check:
        check.check()
        assert len(check.records.list(status="finalized")) == 300
        [draft] = check.records.list(status="draft")
        assert draft.answers == {"/data/site": "149"}
        report = check.audit.verify()
        assert report.ok and report.entries == 2 + 1 + 150 + 300  # init, form, create, saves
