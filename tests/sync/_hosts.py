"""More than one server host for tests: `fieldkit server run` processes on one database, and a
small TCP load balancer of our own in front of them.

- ``Host``: one `fieldkit server run` child on a free port, with any extra options
  (``--trusted-proxy``…); ``start()`` waits for /v1/health, ``kill()`` is SIGKILL.
- ``feed_counts(url, token)``: record id → how many times the pull feed holds it.
- ``Balancer``: each new connection goes to the next live host in turn (round robin; a host
  that refuses the connection is skipped, as a load balancer's health check would). It can
  call ``on_push_sent(n)`` the moment the whole body of the n-th ``POST /v1/push`` has been
  passed to a host, and says whether any reply byte of that push came back before the
  connection ended (``replied``): the kill tests use both.
"""

from __future__ import annotations

import collections
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from conftest import free_port


@dataclass
class Host:
    """`fieldkit server run` as a child process (storage must be initialised already)."""

    data_dir: Path
    database_url: str | None
    extra: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of this host."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Its stderr and stdout."""
        return self.data_dir / f"server-{self.port}.log"

    def start(self, *, wait: bool = True) -> None:
        """Start the process (and wait until it answers /v1/health)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            sys.executable, "-c", "from fieldkit.cli import main; main()", "server", "run",
            "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data_dir),
            "--verify-processes", "0", *self.extra,
        ]  # fmt: skip
        if self.database_url:
            args += ["--database-url", self.database_url]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        if wait:
            self.wait_healthy()

    def wait_healthy(self, timeout: float = 40) -> None:
        """Until /v1/health answers 200 (RuntimeError if the process exits or never does)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if requests.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("server did not become healthy")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing is flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Balancer:
    """``with Balancer([host_a.port, host_b.port]) as lb: url = lb.url``."""

    def __init__(
        self, ports: list[int], *, on_push_sent: Callable[[int], None] | None = None
    ) -> None:
        self.ports = ports
        self.on_push_sent = on_push_sent
        self.pushes = 0
        self.replied: dict[int, bool] = {}
        self.by_port: dict[int, int] = {}
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """Where clients connect."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Balancer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(5)

    def _upstream(self) -> socket.socket | None:
        for _ in range(len(self.ports)):
            with self._lock:
                port = self.ports[self._next % len(self.ports)]
                self._next += 1
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                continue  # that host is down: the next one
            with self._lock:
                self.by_port[port] = self.by_port.get(port, 0) + 1
            return sock
        return None

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._pump, args=(client,), daemon=True)
            thread.start()
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    def _pump(self, client: socket.socket) -> None:
        upstream = self._upstream()
        if upstream is None:
            client.close()
            return
        watch = _PushWatch(self)
        pairs = {client: upstream, upstream: client}
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select(list(pairs), [], [], 0.2)
                for src in readable:
                    data = src.recv(65536)
                    if not data:
                        return
                    if src is client:
                        pairs[src].sendall(data)
                        watch.up(data)
                    else:
                        watch.down()
                        pairs[src].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()


class _PushWatch:
    """Follows the requests going up one connection, to spot the end of each push body."""

    def __init__(self, balancer: Balancer) -> None:
        self.balancer = balancer
        self.head = b""
        self.body_left = -1  # bytes of the current push body still to pass; -1: not in one
        self.current: int | None = None
        self.skip = 0

    def up(self, data: bytes) -> None:
        while data:
            if self.skip:
                step = min(self.skip, len(data))
                self.skip -= step
                data = data[step:]
                if self.body_left > 0:
                    self.body_left -= step
                    if self.body_left == 0:
                        self._push_sent()
                continue
            self.head += data
            data = b""
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.head[: end + 4], self.head[end + 4 :]
            self.head = b""
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            self.skip = length
            if head.startswith(b"POST /v1/push "):
                with self.balancer._lock:
                    self.balancer.pushes += 1
                    self.current = self.balancer.pushes
                    self.balancer.replied[self.current] = False
                self.body_left = length
                if length == 0:
                    self._push_sent()

    def _push_sent(self) -> None:
        self.body_left = -1
        if self.balancer.on_push_sent is not None and self.current is not None:
            self.balancer.on_push_sent(self.current)

    def down(self) -> None:
        if self.current is not None:
            self.balancer.replied[self.current] = True


def feed_counts(url: str, token: str) -> collections.Counter[str]:
    """record id → how many times the pull feed holds it (read with a coordinator token)."""
    seen: collections.Counter[str] = collections.Counter()
    cursor = "0"
    while True:
        r = requests.get(
            url + "/v1/pull",
            params={"cursor": cursor, "limit": "1000"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        r.raise_for_status()
        page = r.json()
        for change in page["changes"]:
            if change["type"] == "envelope":
                seen[change["envelope"]["header"]["record_id"]] += 1
        cursor = page["next_cursor"]
        if not page["has_more"] or not page["changes"]:
            return seen
