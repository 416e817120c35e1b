"""Ed25519 verification of a push batch, optionally spread over worker processes.

Verification is most of the CPU time of a push (DESIGN §6 targets thousands of records per
second) and `cryptography` holds the GIL while it verifies, so threads do not help; a small
process pool lets a batch use every core while the serving process parses and stores. Small
batches are verified in-process: for them the round trip to a worker costs more than it saves.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["Verifier", "default_processes", "verify_many"]

log = logging.getLogger("fieldkit.server")

_MIN_PARALLEL = 128  # items; below this the batch is verified in-process


def verify_many(public_key: bytes, items: list[tuple[bytes, bytes]]) -> list[bool]:
    """For each (signature, message): does it verify with this raw Ed25519 public key?"""
    key = Ed25519PublicKey.from_public_bytes(public_key)
    out: list[bool] = []
    for signature, message in items:
        try:
            key.verify(signature, message)
            out.append(True)
        except InvalidSignature:
            out.append(False)
    return out


def default_processes() -> int:
    """One verifying process per core (at most 4); none on a single core."""
    cores = os.cpu_count() or 1
    return min(cores, 4) if cores > 1 else 0


def _worker_init(parent: int) -> None:
    # Ctrl-C in the terminal reaches the whole process group; the server stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    # A server killed with SIGKILL cannot stop its pool, and a worker holds both ends of its
    # task pipe so it would never see EOF: it leaves on its own once re-parented.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


class Verifier:
    """Verifies batches; with `processes` > 0, large batches are split across a pool."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn, not fork: the server has threads, and a forked child would inherit
                # their locks and the listening socket.
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=get_context("spawn"),
                    initializer=_worker_init,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def verify(self, public_key: bytes, items: list[tuple[bytes, bytes]]) -> list[bool]:
        """One bool per item, in order."""
        if self.processes <= 0 or len(items) < _MIN_PARALLEL:
            return verify_many(public_key, items)
        size = -(-len(items) // self.processes)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        try:
            pool = self._get_pool()
            futures = [pool.submit(verify_many, public_key, chunk) for chunk in chunks]
            return [ok for future in futures for ok in future.result()]
        except (BrokenProcessPool, OSError, RuntimeError) as exc:
            # A worker died or could not start (killed, out of memory, or a host program
            # whose __main__ cannot be re-imported under spawn): never fail the push for
            # it; carry on in this process from now on.
            log.warning(
                "signature workers unavailable (%s); verifying in-process", exc.__class__.__name__
            )
            self.close()
            self.processes = 0
            return verify_many(public_key, items)

    def close(self) -> None:
        """Stop the worker processes (at server shutdown)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
