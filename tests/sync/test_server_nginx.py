"""The server behind a real nginx (Debian's package), configured as docs/admin.md says.

The nginx configuration is read from docs/admin.md itself; only its TLS lines, its log path and
the upstream ports are swapped for the test. With PostgreSQL, two hosts sit behind it (and one
is killed with SIGKILL in the middle of a sync); without, one. Skipped when nginx is not
installed (`apt-get install nginx`).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from _client_kit import capture, project, status_of
from _hosts import Host, feed_counts
from conftest import free_port

from fieldkit import exchange
from sync.client import Retry
from sync.server import ServerSettings, init_server

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx)"),
]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "admin.md"
FAST_RETRY = Retry(attempts=8, base=0.1, cap=1.0)


def documented_config() -> str:
    """The ```nginx block of docs/admin.md."""
    match = re.search(r"```nginx\n(.*?)```", DOCS.read_text(), re.S)
    assert match, "docs/admin.md has no nginx configuration"
    return match.group(1)


@dataclass
class Front:
    url: str
    hosts: list[Host]
    admin_token: str
    access_log: Path


def _nginx_conf(tmp: Path, *, port: int, hosts: list[Host]) -> Path:
    site = documented_config()
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{port};")
    site = "\n".join(line for line in site.splitlines() if "ssl_certificate" not in line)
    site = site.replace("/var/log/nginx/fieldkit.log", str(tmp / "access.log"))
    assert "127.0.0.1:8765" in site and "127.0.0.1:8766" in site
    site = site.replace("127.0.0.1:8765", f"127.0.0.1:{hosts[0].port}")
    if len(hosts) > 1:
        site = site.replace("127.0.0.1:8766", f"127.0.0.1:{hosts[1].port}")
    else:
        site = "\n".join(line for line in site.splitlines() if "127.0.0.1:8766" not in line)
    temp = "\n".join(
        f"    {kind}_temp_path {tmp / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"{user}worker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n"
        f"events {{ worker_connections 2048; }}\n"
        f"http {{\n{temp}\n    uwsgi_temp_path {tmp / 'uwsgi'};\n"
        f"    scgi_temp_path {tmp / 'scgi'};\n{site}\n}}\n"
    )
    return conf


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    database_url = None
    base = os.environ.get("FIELDKIT_TEST_DATABASE_URL")
    schema = None
    if base:
        from conftest import _drop_pg_schema, _fresh_pg_schema

        schema, database_url = _fresh_pg_schema(base)
    hosts = [
        Host(tmp_path / f"host-{i}", database_url, extra=["--trusted-proxy", "127.0.0.1"])
        for i in range(2 if database_url else 1)
    ]
    token = init_server(ServerSettings(data_dir=hosts[0].data_dir, database_url=database_url))
    for host in hosts:
        host.start()
    port = free_port()
    conf = _nginx_conf(tmp_path, port=port, hosts=hosts)
    assert NGINX is not None
    nginx = subprocess.Popen(
        [NGINX, "-e", str(tmp_path / "error.log"), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(url + "/v1/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if nginx.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp_path / "error.log").read_text()[-2000:])
            time.sleep(0.1)
        yield Front(url=url, hosts=hosts, admin_token=token, access_log=tmp_path / "access.log")
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        for host in hosts:
            host.stop()
        if schema and base:
            _drop_pg_schema(base, schema)


def test_sync_behind_nginx_under_attack(tmp_path: Path, front: Front) -> None:
    coordinator, field = project(tmp_path, front.url, front.admin_token)
    captured = set(capture(field, 300))
    stop = threading.Event()
    port = int(front.url.rsplit(":", 1)[1])

    def idle_slot() -> None:
        # A slowloris client of nginx: a header byte now and then, reconnecting when cut.
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                    sock.sendall(b"GET /v1/health HTTP/1.1\r\n")
                    while not stop.is_set():
                        sock.sendall(b"X")
                        time.sleep(0.5)
            except OSError:
                time.sleep(0.05)

    attackers = [threading.Thread(target=idle_slot, daemon=True) for _ in range(200)]
    for thread in attackers:
        thread.start()
    try:
        time.sleep(2)
        bomb = requests.post(
            front.url + "/v1/push",
            data=gzip.compress(b"[" + b"0," * 5_000_000 + b"0]"),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            timeout=10,
        )
        # From the server, through nginx: a body without a token, refused from its headers.
        assert bomb.status_code == 401
        started = time.monotonic()
        summary = exchange.sync(field, server=front.url, batch_size=50, retry=FAST_RETRY)
        assert time.monotonic() - started < 30
        assert summary.sent == 300 and summary.waiting == 0
    finally:
        stop.set()
        for thread in attackers:
            thread.join(5)
    pulled = exchange.pull(coordinator, server=front.url)
    assert pulled.records == 300
    counts = feed_counts(front.url, coordinator.state.get("sync.token"))
    assert set(counts) == captured and set(counts.values()) == {1}
    log = front.access_log.read_text()
    assert '"POST /v1/push" 200' in log and "cursor=" not in log and "Bearer" not in log


def test_a_host_killed_behind_nginx_mid_sync(tmp_path: Path, front: Front) -> None:
    if len(front.hosts) < 2:
        pytest.skip("two hosts need PostgreSQL (FIELDKIT_TEST_DATABASE_URL)")
    coordinator, field = project(tmp_path, front.url, front.admin_token)
    captured = set(capture(field, 1200))
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["summary"] = exchange.sync(
                field, server=front.url, batch_size=50, retry=FAST_RETRY
            )
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)  # pushes are under way on both hosts
    assert thread.is_alive(), "the sync ended before the kill"
    front.hosts[0].kill()
    thread.join(120)
    if "error" in outcome:  # retries ran out while nginx still tried the dead host: carry on
        exchange.sync(field, server=front.url, batch_size=50, retry=FAST_RETRY)
    assert set(status_of(field).values()) == {"sent"}
    exchange.pull(coordinator, server=front.url)
    received = [r.id for r in coordinator.records.list() if r.origin == "received"]
    assert len(received) == len(set(received)) == len(captured)
    counts = feed_counts(front.url, coordinator.state.get("sync.token"))
    assert set(counts) == captured and set(counts.values()) == {1}
