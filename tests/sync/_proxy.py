"""A TCP proxy of our own on 127.0.0.1 that cuts connections at chosen byte offsets.

Each accepted connection asks ``plan(n)`` (n counts connections from 0) for a ``Cut`` or None.
A cut names a direction — ``"up"`` (client → server, the request) or ``"down"`` (server →
client, the reply) — and a byte offset: exactly that many bytes pass in that direction, then
both sockets are closed abruptly (SO_LINGER 0 → RST), as a dropped mobile link does. Nothing
else is altered, so anything the client sees is what a real network could do to it.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Cut:
    """Cut the connection after ``offset`` bytes have passed in ``direction``."""

    direction: str  # "up" or "down"
    offset: int


Plan = Callable[[int], Cut | None]


def random_plan(*, seed: int, probability: float, max_up: int, max_down: int) -> Plan:
    """Cut each connection with ``probability``, in a random direction at a random offset."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def plan(_: int) -> Cut | None:
        with lock:
            if rng.random() >= probability:
                return None
            if rng.random() < 0.5:
                return Cut("up", rng.randrange(0, max_up + 1))
            return Cut("down", rng.randrange(0, max_down + 1))

    return plan


def _abort(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


class CuttingProxy:
    """``with CuttingProxy(target_port, plan) as proxy: url = proxy.url``."""

    def __init__(self, target_port: int, plan: Plan | None = None) -> None:
        self.target_port = target_port
        self.plan: Plan = plan or (lambda _: None)
        self.connections = 0
        self.cuts = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The proxy's address, to give the client instead of the server's."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CuttingProxy:
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting and wait for the pumps to end."""
        self._stop.set()
        try:
            self._listener.close()
        except OSError:
            pass
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                n = self.connections
                self.connections += 1
            cut = self.plan(n)
            thread = threading.Thread(target=self._pump, args=(client, cut), daemon=True)
            thread.start()
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)

    def _pump(self, client: socket.socket, cut: Cut | None) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            _abort(client)  # the server is down: the client sees a reset, as through a router
            return
        budget = {"up": -1, "down": -1}
        if cut is not None:
            budget[cut.direction] = cut.offset
        pairs = {client: (upstream, "up"), upstream: (client, "down")}
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select(list(pairs), [], [], 0.2)
                for src in readable:
                    dst, direction = pairs[src]
                    data = src.recv(65536)
                    if not data:
                        # Orderly close on one side: pass it on and finish.
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        return
                    left = budget[direction]
                    if left >= 0 and len(data) >= left:
                        if left:
                            dst.sendall(data[:left])
                        with self._lock:
                            self.cuts += 1
                        return
                    if left >= 0:
                        budget[direction] = left - len(data)
                    dst.sendall(data)
        except OSError:
            return
        finally:
            _abort(client)
            _abort(upstream)
