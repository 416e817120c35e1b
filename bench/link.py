"""Sync over a bad link: 500 finalized records from one laptop through a shaping proxy.

    .venv/bin/python bench/link.py [--records 500] [--up-kbit 64] [--down-kbit 256]
                                   [--rtt-ms 600] [--cut-every 30] [--batch N]

The proxy (our own, below) gives every connection of the laptop one shared uplink and one
shared downlink of the given bandwidth, a one-way delay of half the round trip, one round trip
for each TCP handshake, and cuts every open connection (RST both ways) every --cut-every
seconds, as a 2G link does. On one fresh SQLite server, three enrolled laptops each finalize
--records records:
- laptop 1 runs `fieldkit sync` through the proxy *unshaped*: its bytes up and down and its
  requests are what a sync of these records needs, and give the floor:
  bytes up ÷ uplink + bytes down ÷ downlink + (requests + connections) × round trip;
- laptop 2 runs `fieldkit sync` (the real client with its default settings: pushes sized to
  the link, its retries; ``--batch N``: a fixed N records a push instead) through the shaped,
  cutting link: the time, the bytes on the wire (up and down, per pushed record; target down
  ≤ 150 bytes) and the ratio to the floor (target ≤ 1.5);
- laptop 3 sends the same number of records one HTTP request per record, one after the other,
  as ODK Collect submits to an OpenRosa server: each record's body uncompressed (OpenRosa
  submissions are not gzipped), the next request after the previous reply, on one kept-alive
  connection, retried after a cut, through the same shaped, cutting link: the ratio of its time
  to laptop 2's (target ≥ 10).
Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
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
from fieldkit.errors import SyncError  # noqa: E402
from fieldkit.store import Workspace, create_workspace  # noqa: E402
from sync.client import SyncClient  # noqa: E402

RUNS = 5  # `fieldkit sync` runs a user would try before giving up
_PIECE = 1460  # bytes per scheduled piece: one TCP segment's payload
_WINDOW = 0.5  # seconds of data a direction may hold queued before its reader waits


class _Link:
    """One direction of the laptop's link, shared by all its connections."""

    def __init__(self, bits_per_second: float | None) -> None:
        self.bps = bits_per_second
        self.free_at = 0.0

    def finish(self, size: int, now: float) -> float:
        """When the last bit of ``size`` bytes offered at ``now`` has left."""
        if self.bps is None:
            return now
        start = max(now, self.free_at)
        self.free_at = start + size * 8 / self.bps
        return self.free_at


@dataclass
class LinkFigures:
    """What passed through the proxy."""

    up: int = 0
    down: int = 0
    connections: int = 0
    requests: int = 0  # turns: data going up after data came down (or first), per connection
    cuts: int = 0
    cut_connections: int = 0


@dataclass(eq=False)
class _Conn:
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    last: str = ""


class ShapingProxy:
    """``with ShapingProxy(port, up_bps=…, down_bps=…, rtt=…, cut_every=…) as p: p.url``."""

    def __init__(
        self,
        target_port: int,
        *,
        up_bps: float | None,
        down_bps: float | None,
        rtt: float,
        cut_every: float | None,
    ) -> None:
        self.target_port = target_port
        self.up, self.down = _Link(up_bps), _Link(down_bps)
        self.rtt = rtt
        self.cut_every = cut_every
        self.figures = LinkFigures()
        self._conns: set[_Conn] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._cutter_task: asyncio.Task[None] | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        """The laptop's way to the server."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ShapingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _shutdown(self) -> None:
        # Cut what is open and let each connection's pumps see the end; cancelling them
        # instead trips asyncio's stream callback in Python 3.11.
        if self._cutter_task is not None:
            self._cutter_task.cancel()
        for conn in list(self._conns):
            for writer in conn.writers:
                writer.transport.abort()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        if self.cut_every:
            self._cutter_task = self._loop.create_task(self._cutter())
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _cutter(self) -> None:
        assert self.cut_every is not None
        while True:
            await asyncio.sleep(self.cut_every)
            self.figures.cuts += 1
            for conn in list(self._conns):
                self.figures.cut_connections += 1
                for writer in conn.writers:
                    writer.transport.abort()  # RST, whatever was in flight is lost
            self._conns.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.figures.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        opened = self._loop.time()
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        conn = _Conn(writers=[writer, up_writer])
        self._conns.add(conn)
        # The TCP handshake: nothing flows before one round trip has passed.
        ready = opened + self.rtt
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, self.up, ready, conn, "up"),
                self._pump(up_reader, writer, self.down, ready, conn, "down"),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._conns.discard(conn)
            for w in conn.writers:
                w.transport.abort()

    async def _pump(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        link: _Link,
        ready: float,
        conn: _Conn,
        direction: str,
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                at, data = await queue.get()
                delay = at - self._loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if not data:
                    if dst.can_write_eof():
                        dst.write_eof()
                    return
                dst.write(data)
                await dst.drain()
                if direction == "up":
                    self.figures.up += len(data)
                else:
                    self.figures.down += len(data)

        sender = self._loop.create_task(deliver())
        try:
            while True:
                data = await src.read(_PIECE)
                now = max(self._loop.time(), ready)
                if data and direction == "up" and conn.last != "up":
                    self.figures.requests += 1
                if data:
                    conn.last = direction
                done = link.finish(len(data), now)
                queue.put_nowait((done + self.rtt / 2, data))
                if not data:
                    break
                backlog = done - self._loop.time()
                if backlog > _WINDOW:  # the link is full: stop reading, as TCP would
                    await asyncio.sleep(backlog - _WINDOW)
            await sender
        finally:
            sender.cancel()


def _laptop(work: Path, name: str, url: str, coordinator: Any, records: int, seed: int) -> Any:
    ws, _ = create_workspace(work / name, passphrase=PASSPHRASE)
    enroll_workspace(ws, url, coordinator)
    finalize_records(ws, records, seed=seed)
    return ws


def _sync(ws: Workspace, url: str, batch: int | None) -> tuple[float, int]:
    """`fieldkit sync` until nothing waits, run again after a failure as a user would:
    (seconds in all, runs). At most RUNS runs."""
    started = time.monotonic()
    for run in range(1, RUNS + 1):
        try:
            summary = exchange.sync(ws, server=url, batch_size=batch)
        except SyncError:
            continue  # "the connection kept failing… try again later": the user tries again
        if summary.rejected or summary.conflicts:
            raise RuntimeError("the server refused records")
        if not summary.waiting:
            return time.monotonic() - started, run
    raise RuntimeError(f"records still waiting after {RUNS} runs of fieldkit sync")


def _one_per_record(ws: Workspace, url: str) -> float:
    """Each record in its own POST, the next after the previous reply (OpenRosa style: its
    body as it is, not gzipped; kept-alive; the client's retries after a cut)."""
    exchange.seal_pending(ws)  # as `fieldkit sync` does first
    started = time.monotonic()
    unsent = ws.records.unsent(limit=10**9)
    if not unsent:
        raise RuntimeError("no sealed record to send")
    token = ws.state.get("sync.token")
    with SyncClient(url, token=token, gzip_min_bytes=1 << 62) as client:
        for item in unsent:
            result = client.push([item.envelope])[0]
            if result["status"] not in {"created", "duplicate"}:
                raise RuntimeError("a record was not accepted")
            ws.records.mark_sent([item.record_id])
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--up-kbit", type=float, default=64)
    parser.add_argument("--down-kbit", type=float, default=256)
    parser.add_argument("--rtt-ms", type=float, default=600)
    parser.add_argument("--cut-every", type=float, default=30)
    parser.add_argument(
        "--batch", type=int, default=None, help="a fixed number of records a push (default: sized)"
    )
    parser.add_argument(
        "--no-one-per-record", action="store_true", help="skip the per-record comparison"
    )
    args = parser.parse_args()
    up_bps, down_bps, rtt = args.up_kbit * 1000, args.down_kbit * 1000, args.rtt_ms / 1000
    n = args.records
    figures: dict[str, Any] = {
        "bench": "link",
        "records": n,
        "up_kbit_s": args.up_kbit,
        "down_kbit_s": args.down_kbit,
        "rtt_ms": args.rtt_ms,
        "cut_every_s": args.cut_every,
        "batch": args.batch or "sized to the link",
        "cpus": os.cpu_count(),
        "load_1min_at_start": load_average(),
    }
    with (
        tempfile.TemporaryDirectory(prefix="fieldkit-link-") as tmp,
        server_process(Path(tmp) / "server", None) as server,
    ):
        work = Path(tmp)
        coordinator, _ = create_workspace(work / "coordinator", passphrase=PASSPHRASE)
        create_project(coordinator, server.url, server.admin_token, publish=True)
        port = int(server.url.rsplit(":", 1)[1])
        laptops = [
            _laptop(work, f"laptop{i}", server.url, coordinator, n, seed=i) for i in range(3)
        ]

        with ShapingProxy(port, up_bps=None, down_bps=None, rtt=0, cut_every=None) as ideal:
            _, ideal_runs = _sync(laptops[0], ideal.url, args.batch)
        assert ideal_runs == 1
        need = ideal.figures
        floor = (
            need.up * 8 / up_bps
            + need.down * 8 / down_bps
            + (need.requests + need.connections) * rtt
        )
        figures["floor"] = {
            "bytes_up": need.up,
            "bytes_down": need.down,
            "down_bytes_per_record": round(need.down / n),
            "requests": need.requests,
            "connections": need.connections,
            "seconds": round(floor, 2),
        }

        shaped = {"up_bps": up_bps, "down_bps": down_bps, "rtt": rtt, "cut_every": args.cut_every}
        with ShapingProxy(port, **shaped) as link:
            try:
                seconds, runs = _sync(laptops[1], link.url, args.batch)
            except RuntimeError as exc:
                seconds, runs = 0.0, 0
                figures["sync_failed"] = str(exc)
        got = link.figures
        figures["sync"] = {
            "seconds": round(seconds, 2),
            "fieldkit_sync_runs": runs,
            "bytes_up": got.up,
            "bytes_down": got.down,
            "up_bytes_per_record": round(got.up / n),
            "down_bytes_per_record": round(got.down / n),
            "down_target_per_record": 150,
            "requests": got.requests,
            "connections": got.connections,
            "cuts": got.cuts,
            "connections_cut": got.cut_connections,
            "ratio_to_floor": round(seconds / floor, 2) if runs else None,
        }

        if args.no_one_per_record:
            for ws in (coordinator, *laptops):
                ws.close()
            figures["load_1min_at_end"] = load_average()
            print(json.dumps(figures, separators=(",", ":")))
            return
        with ShapingProxy(port, **shaped) as link:
            per_record = _one_per_record(laptops[2], link.url)
        one = link.figures
        figures["one_request_per_record"] = {
            "seconds": round(per_record, 2),
            "bytes_up": one.up,
            "bytes_down": one.down,
            "up_bytes_per_record": round(one.up / n),
            "down_bytes_per_record": round(one.down / n),
            "requests": one.requests,
            "cuts": one.cuts,
        }
        figures["speedup_vs_one_request_per_record"] = (
            round(per_record / seconds, 1) if runs else None
        )
        # What a sync exactly at the floor would reach: the most these records allow.
        figures["speedup_of_the_floor_vs_one_request_per_record"] = round(per_record / floor, 1)
        for ws in (coordinator, *laptops):
            ws.close()
    figures["load_1min_at_end"] = load_average()
    print(json.dumps(figures, separators=(",", ":")))


if __name__ == "__main__":
    main()
