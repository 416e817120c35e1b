"""A deadline for one whole request, which a server sending a byte every few seconds cannot stretch.

A socket timeout only bounds the wait for the *next* byte: a server that sends the status line,
each header and the body one byte at a time, just inside it, keeps a call going for ever. So each
request runs under a ``Watchdog``: a timer that shuts the request's socket down when the deadline
passes, which makes the blocked read return at once in whatever phase it is (TLS handshake,
headers, body). The sockets are reported to the watchdog of the calling thread by the connection
classes of ``WatchedAdapter``, the requests adapter ``SyncClient`` mounts.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["WatchedAdapter", "Watchdog"]

_current = threading.local()  # the watchdog of the request this thread is making


class Watchdog:
    """``with Watchdog(seconds) as dog:`` cuts every socket this thread uses once time is up."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sockets: list[tuple[int, tuple[int, int]]] = []  # (descriptor, (device, inode))
        self._fired = False
        self._done = False
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    @property
    def fired(self) -> bool:
        """True once the deadline passed while the request was running."""
        with self._lock:
            return self._fired

    def __enter__(self) -> Watchdog:
        _current.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True  # a timer firing now must not cut a pooled, healthy connection
        self._timer.cancel()
        _current.watchdog = None

    def watch(self, sock: socket.socket) -> None:
        """Cut ``sock`` when the deadline passes (at once if it has passed already)."""
        try:
            fd = sock.fileno()
            handle = (fd, _identity(fd))
        except (OSError, ValueError):
            return  # already closed: nothing to wait on
        with self._lock:
            if self._done:
                return
            self._sockets.append(handle)
            if self._fired:
                _cut(*handle)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._fired = True
            for handle in self._sockets:
                _cut(*handle)


def _identity(fd: int) -> tuple[int, int]:
    status = os.fstat(fd)
    return status.st_dev, status.st_ino


def _cut(fd: int, identity: tuple[int, int]) -> None:
    """Shut the TCP socket behind ``fd`` down, which wakes a read blocked on it in any thread.

    By descriptor, not through the socket object: during the TLS handshake the plain socket is
    already detached into its (not yet returned) TLS wrapper, and ``SSLSocket.shutdown`` would
    drop the TLS state under the reading thread. The device and inode check makes sure the
    descriptor still is that socket, not a later one that reused its number.
    """
    try:
        if _identity(fd) != identity:
            return
        twin = socket.socket(fileno=os.dup(fd))  # shutdown acts on the socket, shared by both
    except OSError:
        return  # closed already
    try:
        twin.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected (any more)
    finally:
        twin.close()


def _report(sock: socket.socket | None) -> None:
    dog: Watchdog | None = getattr(_current, "watchdog", None)
    if dog is not None and sock is not None:
        dog.watch(sock)


if TYPE_CHECKING:
    _Base = HTTPConnection
else:
    _Base = object


class _Reporting(_Base):
    """Reports each socket to the thread's watchdog: new (so the TLS handshake is covered) and
    reused (a keep-alive connection from the pool)."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _report(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _report(self.sock)
        super().request(*args, **kwargs)


class _HTTPConnection(_Reporting, HTTPConnection):
    pass


class _HTTPSConnection(_Reporting, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class WatchedAdapter(HTTPAdapter):
    """A requests adapter whose connections report their sockets to the thread's watchdog."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        """As requests does, with connection pools of watched connections."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
