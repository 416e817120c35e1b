"""What the hostile-server bounds cost: ``SyncClient.pull`` (streamed within caps, nesting
checked before parsing, a watchdog per request) against a same-run baseline of a plain
``requests`` session's ``get(...).json()`` of the same page from the same server.

    .venv/bin/python bench/transport.py [--records 1000] [--rounds 40]

The server is Python's own ``http.server`` in a child process serving one pull page from a
file (so it costs both clients the same and shares no GIL with them); the page has the shape
and size of a real one (envelopes with header, two recipients, ciphertext, signature). Prints
ONE JSON line: median seconds per page for each, and the ratio.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sync.client import SyncClient  # noqa: E402


def _b64(n: int) -> str:
    return base64.b64encode(secrets.token_bytes(n)).decode("ascii")


def _page(records: int) -> bytes:
    changes = []
    for seq in range(1, records + 1):
        envelope = {
            "header": {
                "v": 1,
                "record_id": str(uuid.uuid4()),
                "project_id": "p_" + secrets.token_hex(8),
                "form_id": "needs_assessment",
                "form_version": "2026010101",
                "kind": "record",
                "device_id": "d_" + secrets.token_hex(8),
                "capture_day": "2026-11-28",
                "hlc": f"{1764300000000 + seq:015d}:0000:d",
                "key_ids": ["k_" + secrets.token_hex(8)],
            },
            "recipients": [{"key_id": "k_" + secrets.token_hex(8), "wrapped_key": _b64(80)}] * 2,
            "ciphertext": _b64(900),
            "signature": _b64(64),
        }
        changes.append({"seq": seq, "type": "envelope", "envelope": envelope})
    page = {"changes": changes, "next_cursor": str(records), "has_more": False}
    return json.dumps(page, separators=(",", ":")).encode("utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the page server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fieldkit-bench-") as tmp:
        (Path(tmp) / "v1").mkdir()
        page = _page(args.records)
        (Path(tmp) / "v1" / "pull").write_bytes(page)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(port)
            url = f"http://127.0.0.1:{port}"
            bounded: list[float] = []
            plain: list[float] = []
            client = SyncClient(url, token="t" * 40)
            session = requests.Session()
            for round_no in range(args.rounds):

                def run_bounded() -> Any:
                    return client.pull(cursor="0", limit=args.records)

                def run_plain() -> Any:
                    return session.get(url + "/v1/pull", params={"cursor": "0"}, timeout=60).json()

                # Alternate which goes first, so neither always meets a warm or a busy moment.
                order = [(run_bounded, bounded), (run_plain, plain)]
                for run, times in order if round_no % 2 else order[::-1]:
                    start = time.perf_counter()
                    assert len(run()["changes"]) == args.records
                    times.append(time.perf_counter() - start)
            client.close()
            session.close()
        finally:
            server.terminate()
            server.wait()
    bounded_s, plain_s = statistics.median(bounded), statistics.median(plain)
    print(
        json.dumps(
            {
                "bench": "transport",
                "records_per_page": args.records,
                "page_bytes": len(page),
                "rounds": args.rounds,
                "load_1min": round(os.getloadavg()[0], 2),
                "bounded_pull_s_median": round(bounded_s, 5),
                "plain_requests_get_json_s_median": round(plain_s, 5),
                "ratio_bounded_to_plain": round(bounded_s / plain_s, 3),
            },
            separators=(",", ":"),
        )
    )


if __name__ == "__main__":
    main()
