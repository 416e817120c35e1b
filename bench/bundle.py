"""Bundles (issue 18): export and import N records by file, against sync of the same records.

    .venv/bin/python bench/bundle.py [--n 20000]

A field laptop (a real workspace) finalizes N records; then, in the same run:

- export: ``bundle export`` of every waiting record, records/s (sealing, which sync and
  bundle share, is timed on its own before);
- push (the baseline): the same envelopes pushed through the real client to a loopback
  server (SQLite), records/s and the bytes sent on the wire (gzip bodies, as sync sends them);
- import: ``bundle import`` on a coordinator, records/s; the baseline is ``fieldkit pull`` of
  the same records into a copy of the same coordinator workspace;
- bytes: bundle bytes per record against push wire bytes per record (target ≤ 1.1).

Attachments: when the workspace has an attachment API (issue 17) the bench attaches one small
photo to every tenth record and reports those figures too; without it, it says so.

Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _kit import (  # noqa: E402
    PASSPHRASE,
    create_project,
    enroll_workspace,
    finalize_records,
    load_average,
    server_process,
)

from fieldkit import exchange  # noqa: E402
from fieldkit.exchange import bundle  # noqa: E402
from fieldkit.store import create_workspace, open_workspace  # noqa: E402
from sync.client import SyncClient  # noqa: E402

PUSH_BATCH = 250  # what `fieldkit sync` sends per request


def _attachment_api() -> Any:
    """The attachment section of the bundle (issue 17), if this build has one."""
    sections = bundle.extra_sections()
    return next((s for s in sections if s.kind == "attachment"), None)


def run(n: int, work: Path) -> dict[str, Any]:
    """Every figure of one run."""
    figures: dict[str, Any] = {"n": n}
    with server_process(work / "server", None) as server:
        coordinator, _ = create_workspace(work / "coordinator", passphrase=PASSPHRASE)
        create_project(coordinator, server.url, server.admin_token, publish=True)
        field, _ = create_workspace(work / "field", passphrase=PASSPHRASE)
        enroll_workspace(field, server.url, coordinator)
        finalize_records(field, n, seed=18)
        figures["attachments"] = (
            "included" if _attachment_api() else "no attachment API in this build (issue 17)"
        )

        # Sealing is the same work for sync and bundle (both seal what waits): timed apart.
        start = time.perf_counter()
        exchange.seal_pending(field)
        figures["seal_records_per_s"] = round(n / (time.perf_counter() - start))
        stick = work / "stick"
        stick.mkdir()
        start = time.perf_counter()
        written = bundle.export_records_bundle(field, stick)
        export_s = time.perf_counter() - start
        assert written.path is not None and written.records == n
        bundle_bytes = written.path.stat().st_size
        figures["export_records_per_s"] = round(n / export_s)

        # The baseline: the same envelopes pushed as `fieldkit sync` pushes them.
        waiting = field.records.unsent()
        token = str(field.state.get("sync.token"))
        start = time.perf_counter()
        with SyncClient(server.url, token=token) as client:
            for i in range(0, len(waiting), PUSH_BATCH):
                client.push([e.envelope for e in waiting[i : i + PUSH_BATCH]])
            push_bytes = client.bytes_sent
        push_s = time.perf_counter() - start
        figures["push_records_per_s"] = round(n / push_s)
        figures["export_vs_push"] = round(push_s / export_s, 2)
        figures["bundle_bytes_per_record"] = round(bundle_bytes / n, 1)
        figures["push_wire_bytes_per_record"] = round(push_bytes / n, 1)
        figures["bundle_vs_push_bytes"] = round(bundle_bytes / push_bytes, 3)

        # Import, against a pull of the same records into a copy of the same workspace.
        home = coordinator.home
        coordinator.close()
        twin = work / "coordinator-twin"
        shutil.copytree(home, twin)
        with open_workspace(home, passphrase=PASSPHRASE) as ws:
            start = time.perf_counter()
            taken = bundle.import_bundle(ws, written.path, receipt_dir=stick)
            import_s = time.perf_counter() - start
            assert taken.pulled.records == n, taken.line()
        with open_workspace(twin, passphrase=PASSPHRASE) as ws:
            start = time.perf_counter()
            pulled = exchange.pull(ws)
            pull_s = time.perf_counter() - start
            assert pulled.records == n, pulled.line()
        figures["import_records_per_s"] = round(n / import_s)
        figures["pull_records_per_s"] = round(n / pull_s)
        figures["import_vs_pull"] = round(pull_s / import_s, 2)
        figures["receipt_bytes"] = taken.receipt.stat().st_size if taken.receipt else 0
        field.close()
    return figures


def main() -> None:
    """Parse options, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    figures: dict[str, Any] = {"cpus": os.cpu_count(), "load_1min_at_start": load_average()}
    with tempfile.TemporaryDirectory(prefix="fieldkit-bench-") as tmp:
        figures.update(run(args.n, Path(tmp)))
    figures["load_1min_at_end"] = load_average()
    print(json.dumps(figures, separators=(",", ":")))


if __name__ == "__main__":
    main()
