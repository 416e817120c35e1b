"""The attacks of issue 14 against a real `fieldkit server run` process: they must fail.

- gzip bombs (64 KB that would become 64 MiB of JSON), with and without a token, several at
  once: the server's peak memory barely moves and /v1/health keeps answering at once;
- hundreds of idle and slow connections, reopened as soon as they are dropped, from one
  address and from many: a legitimate device is still served, never with a 503.
"""

from __future__ import annotations

import gzip
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from _client_kit import keyed_device, keyed_project
from _server_kit import push, seal
from conftest import ServerProcess, start_server_process

pytestmark = pytest.mark.slow

_BOMB_JSON_BYTES = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """64 KB or so of gzip that decompresses to 64 MiB of valid JSON (a push of empty items)."""
    item = b'{"header":{},"ciphertext":"","signature":""},'
    body = b'{"envelopes":[' + item * (_BOMB_JSON_BYTES // len(item)) + b"{}]}"
    packed = gzip.compress(body, compresslevel=9)
    assert len(packed) < 200 * 1024
    return packed


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = start_server_process(tmp_path / "server")
    try:
        yield proc
    finally:
        proc.stop()


def _peak_rss_mb(proc: ServerProcess) -> float:
    assert proc.process is not None
    status = Path(f"/proc/{proc.process.pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _health_latencies(url: str, stop: threading.Event, out: list[float]) -> None:
    with requests.Session() as session:
        while not stop.is_set():
            started = time.monotonic()
            r = session.get(url + "/v1/health", timeout=10)
            assert r.status_code == 200
            out.append(time.monotonic() - started)
            time.sleep(0.02)


def _fire_bombs(url: str, bomb: bytes, *, count: int, token: str | None) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    def one() -> None:
        r = requests.post(url + "/v1/push", data=bomb, headers=headers, timeout=30)
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return statuses


@pytest.mark.parametrize("who", ["no token", "bogus token", "enrolled device"])
def test_gzip_bombs_do_not_move_memory_or_stall(
    server: ServerProcess, bomb: bytes, who: str
) -> None:
    url = server.url
    token = None
    if who == "bogus token":
        token = "x" * 43
    elif who == "enrolled device":
        token = keyed_device(url, server.admin_token, keyed_project(url, server.admin_token)).token
    requests.get(url + "/v1/health", timeout=5)
    before = _peak_rss_mb(server)
    stop, latencies = threading.Event(), []
    watcher = threading.Thread(target=_health_latencies, args=(url, stop, latencies))
    watcher.start()
    try:
        for _ in range(3):  # three rounds of three at once (the 5.3 GB case)
            statuses = _fire_bombs(url, bomb, count=3, token=token)
            # Without a token, or with a bad one: refused from the headers, body unread.
            assert statuses == [413 if who == "enrolled device" else 401] * 3
    finally:
        stop.set()
        watcher.join(30)
    grown = _peak_rss_mb(server) - before
    assert grown < 60, f"peak memory grew by {grown:.0f} MB"
    assert latencies and max(latencies) < 1.0, f"health took {max(latencies):.2f} s"


def _hold_connections(
    port: int, *, sources: list[str], per_source: int, stop: threading.Event, slow_body: bool
) -> threading.Thread:
    """Keep ``per_source`` connections open from each source address, reopening any the server
    drops; each dribbles a request head (or, with slow_body, a body) a byte at a time."""

    def slot(source: str) -> None:
        while not stop.is_set():
            try:
                sock = socket.create_connection(
                    ("127.0.0.1", port), timeout=2, source_address=(source, 0)
                )
            except OSError:
                time.sleep(0.05)
                continue
            try:
                if slow_body:
                    sock.sendall(
                        b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n"
                    )
                else:
                    sock.sendall(b"GET /v1/health HTTP/1.1\r\n")
                while not stop.is_set():
                    sock.sendall(b"{" if slow_body else b"X")
                    time.sleep(0.5)
            except OSError:
                pass
            finally:
                sock.close()
            time.sleep(0.05)  # a round trip before reconnecting

    def run() -> None:
        threads = [
            threading.Thread(target=slot, args=(source,), daemon=True)
            for source in sources
            for _ in range(per_source)
        ]
        for thread in threads:
            thread.start()
        stop.wait()
        for thread in threads:
            thread.join(5)

    runner = threading.Thread(target=run, daemon=True)
    runner.start()
    return runner


@pytest.mark.parametrize("spread", ["one address", "twenty addresses"])
def test_idle_and_slow_connections_do_not_starve_others(server: ServerProcess, spread: str) -> None:
    url, tok = server.url, server.admin_token
    project = keyed_project(url, tok)
    device = keyed_device(url, tok, project)
    sources = ["127.0.5.1"] if spread == "one address" else [f"127.0.5.{i}" for i in range(1, 21)]
    per_source = 200 // len(sources)
    stop = threading.Event()
    holders = [
        _hold_connections(server.port, sources=sources, per_source=per_source // 2 or 1,
                          stop=stop, slow_body=False),
        _hold_connections(server.port, sources=sources, per_source=per_source // 2 or 1,
                          stop=stop, slow_body=True),
    ]  # fmt: skip
    latencies: list[float] = []
    try:
        time.sleep(3)  # let the attack settle in
        for i in range(30):
            started = time.monotonic()
            r = requests.get(url + "/v1/health", timeout=10)
            assert r.status_code == 200, r.text
            r = push(url, device, [seal(device, project, {"/data/q": str(i)})])
            assert r.status_code == 200, r.text
            assert r.json()["results"][0]["status"] == "created"
            latencies.append(time.monotonic() - started)
            time.sleep(0.1)
    finally:
        stop.set()
        for holder in holders:
            holder.join(15)
    assert statistics.median(latencies) < 0.5 and max(latencies) < 2.0, latencies
