"""A TCP proxy of our own on 127.0.0.1 that cuts (or holds) connections at chosen byte offsets.

Each accepted connection asks ``plan(n)`` (n counts connections from 0) for a ``Cut`` or None.
A cut names a direction — ``"up"`` (client → server, the request) or ``"down"`` (server →
client, the reply) — and a byte offset: exactly that many bytes pass in that direction, then
both sockets are closed abruptly (SO_LINGER 0 → RST), as a dropped mobile link does. Nothing
else is altered, so anything the client sees is what a real network could do to it.

Two refinements aim a cut at one call rather than at a connection's n-th byte:

- ``after``: the offset counts from the first occurrence of these bytes in that direction
  (``b"POST /v1/push"`` up: inside a push request; the gzip header down: inside a push
  reply, the one reply the server compresses, i.e. after the server committed the batch).
  Bytes before it pass freely.
- ``hold``: instead of cutting, the proxy stops forwarding that direction and keeps both
  sockets open: the call is frozen where it stands until the client goes away (a test kills
  it) or the proxy closes. ``proxy.held`` is set when a hold begins; ``proxy.holds`` counts.

``CuttingProxy.arm(cut, skip=k)`` aims one cut at the connection where the ``after`` marker
appears for the (k+1)-th time from now, whatever its number (with keep-alive and two pushes
in flight, a call may travel on any connection).
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
    """Cut (or hold) the connection after ``offset`` bytes have passed in ``direction``."""

    direction: str  # "up" or "down"
    offset: int
    after: bytes = b""  # count the offset from the first occurrence of these bytes
    hold: bool = False  # freeze instead of closing


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


class _Meter:
    """Bytes one direction may still pass under its cut: None while unlimited."""

    def __init__(self, cut: Cut | None, *, tail: bytes = b"") -> None:
        self.cut = cut
        self.left: int | None = None
        self.frozen = False
        self._marker = cut.after if cut is not None else b""
        self._tail = tail[-(len(self._marker) - 1) :] if len(self._marker) > 1 else b""
        if cut is not None and not cut.after:
            self.left = cut.offset

    def free_prefix(self, data: bytes) -> int:
        """How many leading bytes of ``data`` pass before the budget starts to count."""
        if not self._marker:
            return 0
        window = self._tail + data
        found = window.find(self._marker)
        if found < 0:
            self._tail = window[-(len(self._marker) - 1) :] if len(self._marker) > 1 else b""
            return len(data)
        start = found - len(self._tail)  # < 0 when the marker began in the previous chunk
        assert self.cut is not None
        self._marker = b""
        self.left = max(0, self.cut.offset + min(start, 0))
        return max(start, 0)


class CuttingProxy:
    """``with CuttingProxy(target_port, plan) as proxy: url = proxy.url``."""

    def __init__(self, target_port: int, plan: Plan | None = None) -> None:
        self.target_port = target_port
        self.plan: Plan = plan or (lambda _: None)
        self.connections = 0
        self.cuts = 0
        self.holds = 0
        self.held = threading.Event()
        self._armed: Cut | None = None
        self._skip = 0
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

    def arm(self, cut: Cut, *, skip: int = 0) -> None:
        """Aim ``cut`` (which needs ``after``) at the marker's next occurrence but ``skip``."""
        assert cut.after, "an armed cut is aimed by its marker"
        with self._lock:
            self._armed = cut
            self._skip = skip
            self.held.clear()

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

    def _take_armed(self, direction: str, data: bytes, recent: bytes) -> Cut | None:
        """The armed cut, taken by this connection when its marker ends in this data."""
        with self._lock:
            armed = self._armed
            if armed is None or armed.direction != direction:
                return None
            if armed.after not in recent[-(len(armed.after) - 1) :] + data:
                return None
            if self._skip:
                self._skip -= 1  # this occurrence passes untouched
                return None
            self._armed = None
            return armed

    def _pump(self, client: socket.socket, cut: Cut | None) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
        except OSError:
            _abort(client)  # the server is down: the client sees a reset, as through a router
            return
        meters = {"up": _Meter(None), "down": _Meter(None)}
        if cut is not None:
            meters[cut.direction] = _Meter(cut)
        recent = {"up": b"", "down": b""}  # the last bytes, for an armed marker split in two
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
                    meter = meters[direction]
                    if meter.frozen:
                        continue  # held: read (so a client that dies is noticed), never passed on
                    if meter.cut is None:
                        armed = self._take_armed(direction, data, recent[direction])
                        if armed is not None:
                            meter = meters[direction] = _Meter(armed, tail=recent[direction])
                    recent[direction] = (recent[direction] + data)[-64:]
                    if not self._forward(meter, data, dst):
                        return
        except OSError:
            return
        finally:
            _abort(client)
            _abort(upstream)

    def _forward(self, meter: _Meter, data: bytes, dst: socket.socket) -> bool:
        """Pass on what the meter allows; False when the connection is to be cut now."""
        free = meter.free_prefix(data)
        if free:
            dst.sendall(data[:free])
            data = data[free:]
        if not data:
            return True
        if meter.left is None:
            dst.sendall(data)
            return True
        if len(data) < meter.left:
            meter.left -= len(data)
            dst.sendall(data)
            return True
        if meter.left:
            dst.sendall(data[: meter.left])
        assert meter.cut is not None
        if not meter.cut.hold:
            with self._lock:
                self.cuts += 1
            return False
        meter.frozen = True
        meter.left = None
        with self._lock:
            self.holds += 1
        self.held.set()
        return True
