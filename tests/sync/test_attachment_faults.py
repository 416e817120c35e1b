"""Faults on the way of an attachment (issue 17): connections cut at random bytes during a
50 MB upload and download through the cutting proxy, the laptop killed mid-copy and mid-upload.
Afterwards the coordinator holds the file byte for byte, once; the server holds each sealed
byte once; nothing half-copied counts as an answer; the workspace is sound.

Also the canary: a marker inside a photo's EXIF and inside a file's name appears nowhere on
disk outside the encrypted workspaces, nor on the server, nor in its log.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _client_kit import PASSPHRASE, project
from _proxy import CuttingProxy
from conftest import start_server_process
from test_attachments import MEDIA_FORM, capture_files, received_files

from fieldkit import exchange
from fieldkit.errors import SyncError
from fieldkit.store import open_workspace
from sync.client import Retry, Timeouts

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "media"))
from media_kit import CANARY, gps_jpeg, write_mp4  # noqa: E402

pytestmark = pytest.mark.safety

FAST_RETRY = Retry(attempts=3, base=0.005, cap=0.02)
TIMEOUTS = Timeouts(connect=2, read=10)
MB = 1024 * 1024
PART = 256 * 1024


def _server_state(server: Any) -> list[tuple[int, int, int]]:
    """(sealed size, bytes received, bytes stored in parts) of every attachment on the server."""
    import sqlalchemy as sa

    url = server.database_url or f"sqlite:///{server.data_dir / 'fieldkit-server.sqlite3'}"
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT a.sealed_size, a.received, COALESCE(SUM(LENGTH(p.data)), 0) "
                    "FROM attachments a LEFT JOIN attachment_parts p ON "
                    "p.device_id = a.device_id AND p.attachment_id = a.attachment_id "
                    "GROUP BY a.device_id, a.attachment_id, a.sealed_size, a.received"
                )
            ).all()
        return [(int(a), int(b), int(c)) for a, b, c in rows]
    finally:
        engine.dispose()


def _every_connection(*, seed: int, up: int, down: int, up_share: float) -> Any:
    """A plan cutting every connection: up (``up_share`` of them) or down, at random bytes."""
    import random
    import threading

    from _proxy import Cut

    rng = random.Random(seed)
    lock = threading.Lock()

    def plan(_: int) -> Cut:
        with lock:
            if rng.random() < up_share:
                return Cut("up", rng.randrange(0, up + 1))
            return Cut("down", rng.randrange(0, down + 1))

    return plan


def _until_done(action: Any, *, tries: int = 400) -> int:
    """Run ``action`` until it raises no SyncError; returns how many runs it took."""
    for run in range(1, tries + 1):
        try:
            action()
            return run
        except SyncError:
            continue
    raise AssertionError(f"still failing after {tries} runs")


@pytest.mark.slow
def test_a_50_mb_video_survives_cut_connections_both_ways(tmp_path: Path) -> None:
    (tmp_path / "server").mkdir()
    server = start_server_process(tmp_path / "server")
    try:
        coordinator, field = project(tmp_path, server.url, server.admin_token)
        exchange.publish_form(coordinator, dict(MEDIA_FORM))
        exchange.sync(field)
        clip_path = write_mp4(tmp_path / "clip.mp4", 50 * MB)
        record_id = capture_files(
            field, tmp_path, photo=gps_jpeg(), clip=clip_path.read_bytes(), chunk_size=MB
        )
        clip_sha = hashlib.sha256(clip_path.read_bytes()).hexdigest()
        # Small parts (the default is 1 MiB) and every connection cut, so that many cuts land
        # in one 50 MB transfer: mostly in the upload's bodies, some right after a reply began.
        plan = _every_connection(seed=17, up=2_000_000, down=400, up_share=0.85)
        with CuttingProxy(server.port, plan) as proxy:
            pushes = _until_done(
                lambda: exchange.sync(field, server=proxy.url, retry=FAST_RETRY, timeouts=TIMEOUTS)
            )
            upload_cuts = proxy.cuts
            assert field.attachments.unsent() == []
            ((sealed, received, stored),) = [
                s for s in _server_state(server) if s[0] > 50 * MB
            ] or [(0, 0, 0)]
            assert sealed == received == stored, "the server holds a byte twice or lacks one"
            proxy.plan = _every_connection(seed=71, up=300, down=2_000_000, up_share=0.15)
            pulls = _until_done(
                lambda: exchange.pull(
                    coordinator,
                    server=proxy.url,
                    retry=FAST_RETRY,
                    timeouts=TIMEOUTS,
                    part_bytes=PART,
                )
            )
            total_cuts = proxy.cuts
        assert upload_cuts >= 50, f"only {upload_cuts} cuts landed in the upload ({pushes} runs)"
        assert total_cuts - upload_cuts >= 20, "too few cuts landed in the download"
        files = received_files(coordinator, record_id)
        assert hashlib.sha256(files["/data/clip"]).hexdigest() == clip_sha
        assert len([a for a in coordinator.attachments.for_record(record_id)]) == 2
        assert not list((coordinator.home / "incoming").glob("*.part"))
        assert pushes > 1 and pulls >= 1
    finally:
        server.stop()


def _watch_then_kill(process: subprocess.Popen[bytes], condition: Any, *, seconds: float) -> bool:
    """Kill -9 ``process`` as soon as ``condition()`` holds; True when it did (mid-work)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.005)
    return False


def _cli(home: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FIELDKIT_HOME": str(home), "FIELDKIT_PASSPHRASE": PASSPHRASE}
    code = (
        "import sys; from fieldkit.cli import main; sys.argv = ['fieldkit', *sys.argv[1:]]; main()"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_kill_mid_copy_leaves_no_half_file_and_a_sound_workspace(
    tmp_path: Path, sync_server: Any
) -> None:
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    exchange.publish_form(coordinator, dict(MEDIA_FORM))
    exchange.sync(field)
    home = field.home
    field.close()
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(gps_jpeg())
    clip = write_mp4(tmp_path / "clip.mp4", 120 * MB)
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"site": "S1", "photo": str(photo), "clip": str(clip)}))
    wal = home / "workspace.db-wal"
    process = _cli(home, "capture", "evidence", "--answers", str(answers))
    killed = _watch_then_kill(
        process, lambda: wal.exists() and wal.stat().st_size > 20 * MB, seconds=120
    )
    assert killed, "the copy ended before the kill: no fault landed"
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        ws.check()
        assert ws.records.list() == []
        assert ws.attachments.incomplete() == [] and ws.attachments.unsent() == []
        assert ws._db.scalar("SELECT count(*) FROM attachments") == 0
        assert ws._db.scalar("SELECT count(*) FROM attachment_chunks") == 0
    assert clip.exists() and photo.exists()


@pytest.mark.slow
def test_kill_mid_upload_resumes_and_the_coordinator_gets_the_file(
    tmp_path: Path, sync_server: Any
) -> None:
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    exchange.publish_form(coordinator, dict(MEDIA_FORM))
    exchange.sync(field)
    clip = write_mp4(tmp_path / "clip.mp4", 40 * MB)
    record_id = capture_files(
        field, tmp_path, photo=gps_jpeg(), clip=clip.read_bytes(), chunk_size=MB
    )
    home = field.home
    field.close()

    def partway() -> bool:
        return any(0 < received < sealed for sealed, received, _ in _server_state(sync_server))

    process = _cli(home, "sync")
    killed = _watch_then_kill(process, partway, seconds=120)
    assert killed, "the upload ended before the kill: no fault landed"
    held_before = max(received for _, received, _ in _server_state(sync_server))
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        ws.check()
        summary = exchange.sync(ws)
        assert summary.attachments.resumed >= 1
        # Resumed, not resent: this run sent what the server lacked, and no more.
        big = max(sealed for sealed, _, _ in _server_state(sync_server))
        assert summary.attachments.bytes <= big - held_before + 2 * MB
    for sealed, received, stored in _server_state(sync_server):
        assert sealed == received == stored
    exchange.pull(coordinator)
    assert received_files(coordinator, record_id)["/data/clip"] == clip.read_bytes()


def _scan(root: Path, marker: bytes) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and marker in path.read_bytes():
            hits.append(str(path.relative_to(root)))
        if marker.decode() in path.name:
            hits.append(f"name: {path.relative_to(root)}")
    return hits


def test_canary_in_exif_and_file_names_never_leaves_the_encrypted_workspace(
    tmp_path: Path,
) -> None:
    (tmp_path / "server").mkdir()
    server = start_server_process(tmp_path / "server")
    try:
        coordinator, field = project(tmp_path / "laptops", server.url, server.admin_token)
        exchange.publish_form(coordinator, dict(MEDIA_FORM))
        exchange.sync(field)
        outside = tmp_path / "outside"
        outside.mkdir()
        clip = write_mp4(tmp_path / "x.mp4", 200_000).read_bytes()
        # capture_files names each original after the canary: it is in the file names too.
        rid = capture_files(field, outside, photo=gps_jpeg(marker=CANARY), clip=clip)
        for original in outside.iterdir():
            original.unlink()  # the originals were the worker's to delete: here, gone
        exchange.sync(field)
        exchange.pull(coordinator)
        assert set(received_files(coordinator, rid)) == {"/data/photo", "/data/clip"}
        coordinator.close()
        field.close()
        marker = CANARY.encode()
        assert _scan(tmp_path / "laptops", marker) == []
        assert _scan(tmp_path / "server", marker) == []
        assert _scan(outside, marker) == []
    finally:
        server.stop()
