"""Attachments: seal and push 200 MB of videos on loopback and through a cutting link.

    .venv/bin/python bench/media.py [--mb 200] [--files 4] [--cut-mb 8]

On a fresh SQLite server (a child process), a field laptop copies --files videos totalling
--mb into its encrypted workspace, then `sync` seals and pushes them; a second laptop does the
same through our cutting proxy (every connection reset after a random 1 to --cut-mb MB up,
so the upload resumes many times); the coordinator then pulls, verifies and decrypts them.
Figures: MB/s of seal + push (loopback and cut link) and of the coordinator's fetch; the peak
RSS above idle of the client (this process, sampled) and of the server (its VmHWM) during the
pushes; and the baseline, plain AES-256-GCM of the same bytes in 1 MiB pieces in this run, with
the ratio of each throughput to it. Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "sync"))

from _kit import (  # noqa: E402
    PASSPHRASE,
    create_project,
    enroll_workspace,
    load_average,
    server_process,
)
from _proxy import Cut, CuttingProxy  # noqa: E402

from fieldkit import exchange  # noqa: E402
from fieldkit.errors import SyncError  # noqa: E402
from fieldkit.media import take_file  # noqa: E402
from fieldkit.store import Workspace, create_workspace  # noqa: E402
from sync.client import Retry  # noqa: E402

MB = 1024 * 1024
FORM: dict[str, Any] = {
    "type": "survey",
    "name": "data",
    "id_string": "media_bench",
    "version": "1",
    "title": "Media (bench)",
    "default_language": "default",
    "children": [{"type": "video", "name": "clip", "label": "Clip"}],
}


def _rss(pid: str = "self") -> int:
    """Resident set size in bytes (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _hwm(pid: int) -> int:
    """Peak resident set size of a process (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


class _Sampler:
    """This process's peak RSS while a block runs, sampled every 20 ms."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.02)

    def __enter__(self) -> _Sampler:
        self.peak = _rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _video(path: Path, size: int) -> Path:
    """An MP4-shaped file of ``size`` random bytes, written in pieces."""
    head = (24).to_bytes(4, "big") + b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2"
    with path.open("wb") as out:
        out.write(head + (size - len(head)).to_bytes(4, "big") + b"mdat")
        left = size - len(head) - 8
        while left > 0:
            n = min(4 * MB, left)
            out.write(os.urandom(n))
            left -= n
    return path


def _capture(ws: Workspace, folder: Path, *, files: int, total: int) -> None:
    """``files`` finalized records, each with one video, ``total`` bytes in all."""
    version = ws.forms.get(FORM["id_string"])
    form = version.form()
    node = form.named("clip")[0]
    for i in range(files):
        path = _video(folder / f"clip{i}.mp4", total // files)
        draft = ws.records.create_draft(form_id=FORM["id_string"], form_version=version.version)
        taken = take_file(
            ws, form=form, node=node, path_text=str(path), record_id=draft.id, question="/data/clip"
        )
        path.unlink()
        ws.records.finalize(draft.id, answers={"/data/clip": taken.attachment.name})


def _aes_baseline(total: int) -> float:
    """MB/s of plain AES-256-GCM over ``total`` bytes in 1 MiB pieces."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    piece = os.urandom(MB)
    started = time.perf_counter()
    for i in range(total // MB):
        aead.encrypt(i.to_bytes(12, "big"), piece, b"")
    return total / MB / (time.perf_counter() - started)


def _push(ws: Workspace, server_pid: int, url: str | None) -> dict[str, float]:
    idle_client = _rss()
    idle_server = _rss(str(server_pid))
    started = time.perf_counter()
    runs = 0
    with _Sampler() as sampler:
        while True:
            runs += 1
            try:
                exchange.sync(ws, server=url, retry=Retry(attempts=4, base=0.01, cap=0.1))
            except SyncError:
                continue
            if not ws.attachments.unsent():
                break
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "client_rss_above_idle_mb": (sampler.peak - idle_client) / MB,
        "server_rss_above_idle_mb": (_hwm(server_pid) - idle_server) / MB,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--cut-mb", type=int, default=8)
    args = parser.parse_args()
    total = args.mb * MB
    with tempfile.TemporaryDirectory(prefix="fk-bench-media-") as tmp:
        root = Path(tmp)
        with server_process(root / "server", None) as server:
            coordinator, _ = create_workspace(root / "coordinator", passphrase=PASSPHRASE)
            create_project(coordinator, server.url, server.admin_token)
            exchange.publish_form(coordinator, dict(FORM))
            laptops = []
            for name in ("loopback", "cut"):
                ws, _ = create_workspace(root / name, passphrase=PASSPHRASE)
                enroll_workspace(ws, server.url, coordinator)
                exchange.sync(ws)
                laptops.append(ws)
            copy_started = time.perf_counter()
            _capture(laptops[0], root, files=args.files, total=total)
            copy_seconds = time.perf_counter() - copy_started
            _capture(laptops[1], root, files=args.files, total=total)
            baseline = _aes_baseline(total)
            loopback = _push(laptops[0], server.process.pid, None)
            rng = random.Random(17)
            port = int(server.url.rsplit(":", 1)[1])

            def plan(_: int) -> Cut:
                return Cut("up", rng.randrange(MB, args.cut_mb * MB))

            with CuttingProxy(port, plan) as proxy:
                cut = _push(laptops[1], server.process.pid, proxy.url)
                cuts = proxy.cuts
            fetch_started = time.perf_counter()
            pulled = exchange.pull(coordinator)
            fetch_seconds = time.perf_counter() - fetch_started
            assert pulled.attachments.files == 2 * args.files, pulled.line()
    mb = total / MB
    loop_rate = mb / loopback["seconds"]
    cut_rate = mb / cut["seconds"]
    fetch_rate = 2 * mb / fetch_seconds
    print(
        json.dumps(
            {
                "benchmark": "media",
                "megabytes": mb,
                "files": args.files,
                "copy_in_mb_s": round(mb / copy_seconds, 1),
                "seal_push_loopback_mb_s": round(loop_rate, 1),
                "seal_push_cut_link_mb_s": round(cut_rate, 1),
                "cut_link_cuts": cuts,
                "cut_link_sync_runs": cut["runs"],
                "coordinator_fetch_open_mb_s": round(fetch_rate, 1),
                "client_rss_above_idle_mb": round(
                    max(loopback["client_rss_above_idle_mb"], cut["client_rss_above_idle_mb"]), 1
                ),
                "server_rss_above_idle_mb": round(
                    max(loopback["server_rss_above_idle_mb"], cut["server_rss_above_idle_mb"]), 1
                ),
                "baseline_aes_gcm_mb_s": round(baseline, 1),
                "ratio_loopback_to_aes_gcm": round(loop_rate / baseline, 4),
                "ratio_cut_link_to_aes_gcm": round(cut_rate / baseline, 4),
                "load_average": load_average(),
            }
        )
    )


if __name__ == "__main__":
    main()
