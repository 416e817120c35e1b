"""Load: 1,000 simulated devices enrolling, pushing and pulling, quiet and under attack.

    .venv/bin/python bench/load.py [--devices 1000] [--duration 60] [--think 30] [--no-pg]
                                   [--no-sqlite]

For SQLite and PostgreSQL, each on a fresh `fieldkit server run` process, the devices (async,
in one process) first enrol, arrivals spread over --enrol-spread seconds; then for twice
--duration seconds each one loops: push --batch sealed records (gzip, as the client sends
them), pull until nothing is left, wait about --think seconds. Time alternates between quiet
windows and attacked windows (--window seconds each, --duration seconds of each in all; the
enrolment too is half quiet, half attacked): while attacked, --slow connections dribble
request heads and bodies a byte a second (reopened as soon as they are dropped) and --bombs
clients without a token send 64 KB gzip bombs, each a tenth of a second after the last
answer. Interleaving the windows keeps the other work on this shared machine from landing on
one side of the comparison. Legitimate devices come from 250 loopback addresses (4 each),
attackers from others.

Printed for quiet and attacked: requests/s, p50/p99 latency (ms), 5xx count, transport errors,
the server's share of a core and its peak RSS; the ratio of the attacked p99 to the quiet p99
(target <= 3) and the attackers' own tallies. Requests count in the window they start in.

Everything runs on this 2-core machine (server, signature workers, load and attack), so the
load is scaled in time, not in devices: each of the 1,000 devices syncs every --think seconds,
hundreds of times more often than a field laptop does; --think is set so that the quiet server
is busy but not saturated (a saturated one measures its queue, not the attack). Sealing the
records happens between enrolment and the push/pull phase, untimed. Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from _kit import (  # noqa: E402
    PASSPHRASE,
    Device,
    create_project,
    enrolment_codes,
    load_average,
    postgres_problem,
    postgres_url,
    project_public,
    seal_chunk,
    server_process,
)

from fieldkit.store import create_workspace  # noqa: E402

PER_ADDRESS = 4  # simulated devices behind one source address
# Each bomber sends its next bomb this long after the answer to the last: 20 bombers then send
# ~200 bombs a second (~13 MB/s of upload, a 100 Mbit/s attacker). Back to back on loopback
# they would be a plain request flood that measures the CPU the attacker takes from the
# server on these shared 2 cores, not what a bomb does.
BOMB_PAUSE = 0.1


@dataclass
class Tally:
    """Latencies and outcomes of legitimate requests in one phase."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    retried: int = 0

    def add(self, kind: str, seconds: float, status: int) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def figures(self, elapsed: float) -> dict[str, Any]:
        """The figures of these requests, made over ``elapsed`` seconds."""
        every = sorted(x for values in self.latencies.values() for x in values)
        elapsed = max(elapsed, 1e-9)
        out: dict[str, Any] = {
            "requests": len(every),
            "requests_per_s": round(len(every) / elapsed, 1),
            "p50_ms": _ms(_quantile(every, 0.50)),
            "p99_ms": _ms(_quantile(every, 0.99)),
            "status_5xx": sum(n for status, n in self.statuses.items() if status >= 500),
            "transport_errors": self.errors,
            "retried_after_a_dropped_connection": self.retried,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }
        for kind, values in sorted(self.latencies.items()):
            values.sort()
            out[f"{kind}_p50_ms"] = _ms(_quantile(values, 0.5))
            out[f"{kind}_p99_ms"] = _ms(_quantile(values, 0.99))
        return out


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(q * len(values)))]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


class Schedule:
    """Alternating quiet and attacked windows: which one it is now, time spent in each, the
    server's CPU used in each, and the switch that wakes or sends the attackers to sleep."""

    def __init__(self, *, window: float, attack: Any, server_pid: int) -> None:
        self.window = window
        self.attack = attack
        self.pid = server_pid
        self.now = "quiet"
        self.seconds = {"quiet": 0.0, "attacked": 0.0}
        self.cpu = {"quiet": 0.0, "attacked": 0.0}
        self.tallies = {"quiet": Tally(), "attacked": Tally()}

    def switch(self, condition: str) -> None:
        """Quiet or attacked from now on."""
        self.now = condition
        if condition == "attacked":
            self.attack.set()
        else:
            self.attack.clear()

    async def alternate(self, total: float) -> None:
        """Quiet, attacked, quiet… for ``total`` seconds; quiet afterwards."""
        condition = "quiet"
        end = time.monotonic() + total
        while (left := end - time.monotonic()) > 0.01:
            self.switch(condition)
            started, cpu = time.monotonic(), _cpu_seconds(self.pid)
            await asyncio.sleep(min(self.window, left))
            self.seconds[condition] += time.monotonic() - started
            self.cpu[condition] += _cpu_seconds(self.pid) - cpu
            condition = "attacked" if condition == "quiet" else "quiet"
        self.switch("quiet")

    def figures(self, condition: str) -> dict[str, Any]:
        """The tally of one condition, with the server's share of a core meanwhile."""
        seconds = self.seconds[condition]
        out = self.tallies[condition].figures(seconds)
        out["server_cpu_share"] = round(self.cpu[condition] / max(seconds, 1e-9), 2)
        return out


def _address(i: int) -> str:
    return f"127.0.{1 + i // (250 * PER_ADDRESS)}.{1 + (i // PER_ADDRESS) % 250}"


def _clients(count: int) -> list[httpx.AsyncClient]:
    """One client per source address, each with as many connections as devices behind it."""
    out = []
    for start in range(0, count, PER_ADDRESS):
        transport = httpx.AsyncHTTPTransport(
            local_address=_address(start),
            limits=httpx.Limits(max_connections=PER_ADDRESS, max_keepalive_connections=PER_ADDRESS),
        )
        out.append(httpx.AsyncClient(transport=transport, timeout=60))
    return out


async def _request(
    schedule: Schedule, kind: str, client: httpx.AsyncClient, method: str, url: str, **kw: Any
) -> httpx.Response | None:
    # Like the real client: a connection dropped under us (a kept-alive one the server
    # closed to make room, say) is retried; only one that keeps failing is an error.
    tally = schedule.tallies[schedule.now]
    started = time.perf_counter()
    for attempt in range(3):
        try:
            r = await client.request(method, url, **kw)
        except httpx.HTTPError:
            if attempt == 2:
                tally.errors += 1
                return None
            tally.retried += 1
            await asyncio.sleep(0.2)
            continue
        tally.add(kind, time.perf_counter() - started, r.status_code)
        return r
    return None


async def enrol_all(
    url: str, devices: list[Device], codes: list[str], spread: float, schedule: Schedule
) -> None:
    """Every device enrols once, arrivals spread uniformly over ``spread`` seconds."""
    clients = _clients(len(devices))

    async def one(i: int) -> None:
        await asyncio.sleep(spread * i / len(devices))
        r = await _request(
            schedule,
            "enrol",
            clients[i // PER_ADDRESS],
            "POST",
            url + "/v1/enroll",
            json=devices[i].enrolment_request(codes[i]),
        )
        if r is not None and r.status_code == 200:
            devices[i].from_enrolment(r.json())

    windows = asyncio.ensure_future(schedule.alternate(spread))  # half quiet, half attacked
    await asyncio.gather(*(one(i) for i in range(len(devices))))
    await windows
    for client in clients:
        await client.aclose()


async def push_pull(
    url: str,
    devices: list[Device],
    envelopes: list[list[bytes]],
    *,
    duration: float,
    think: float,
    batch: int,
    schedule: Schedule,
) -> None:
    """Each device: push a batch, pull until done, wait ~think seconds; for ``duration``."""
    clients = _clients(len(devices))
    end = time.monotonic() + duration
    rng = random.Random(14)

    async def device_loop(i: int) -> None:
        device, queue = devices[i], envelopes[i]
        client = clients[i // PER_ADDRESS]
        auth = {"Authorization": f"Bearer {device.token}"}
        cursor = "0"
        await asyncio.sleep(rng.uniform(0, think))
        while time.monotonic() < end:
            if queue:
                sending, queue[:] = queue[:batch], queue[batch:]
                body = gzip.compress(b'{"envelopes":[' + b",".join(sending) + b"]}", 1)
                headers = {
                    **auth,
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                }
                await _request(
                    schedule, "push", client, "POST", url + "/v1/push", content=body,
                    headers=headers,
                )  # fmt: skip
            while time.monotonic() < end:
                r = await _request(
                    schedule,
                    "pull",
                    client,
                    "GET",
                    url + "/v1/pull",
                    params={"cursor": cursor, "limit": "500"},
                    headers=auth,
                )
                if r is None or r.status_code != 200:
                    break
                page = r.json()
                cursor = page["next_cursor"]
                if not page["has_more"]:
                    break
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))

    windows = asyncio.ensure_future(schedule.alternate(duration))
    await asyncio.gather(*(device_loop(i) for i in range(len(devices)) if devices[i].token))
    await windows
    for client in clients:
        await client.aclose()


# --- the attack (in a process of its own) ------------------------------------------------------


def bomb_body() -> bytes:
    """Just under 64 KiB of gzip (the most a request without a token may send) that would
    inflate to 20 MiB of valid JSON: 456,000 empty items, gigabytes once parsed."""
    item = b'{"header":{},"ciphertext":"","signature":""},'
    return gzip.compress(b'{"envelopes":[' + item * (20 * 2**20 // len(item)) + b"{}]}", 9)


async def _attack(port: int, *, slow: int, bombs: int, active: Any, stop: Any) -> dict[str, Any]:
    bomb = bomb_body()
    tallies: dict[str, int] = {"slow_opened": 0, "bombs_sent": 0}

    async def awake() -> bool:
        """Wait while the attack is paused; False once it must stop."""
        while not active.is_set():
            if stop.is_set():
                return False
            await asyncio.sleep(0.1)
        return not stop.is_set()

    async def slow_slot(n: int) -> None:
        source = f"127.0.200.{1 + n % 10}"
        body = n % 2 == 1
        while await awake():
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, local_addr=(source, 0)
                )
            except OSError:
                await asyncio.sleep(0.05)
                continue
            tallies["slow_opened"] += 1
            try:
                if body:
                    writer.write(
                        b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n"
                    )
                else:
                    writer.write(b"GET /v1/health HTTP/1.1\r\n")
                while active.is_set() and not reader.at_eof():
                    writer.write(b"{" if body else b"X")
                    await writer.drain()
                    try:
                        await asyncio.wait_for(reader.read(4096), 1.0)
                    except TimeoutError:
                        pass
            except OSError:
                pass
            finally:
                writer.close()
            await asyncio.sleep(0.05)  # a round trip before reconnecting

    async def bomber(n: int) -> None:
        source = f"127.0.201.{1 + n}"
        head = (
            b"POST /v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
        )
        while await awake():
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", port, local_addr=(source, 0)
                )
                writer.write(head + bomb)
                await writer.drain()
                status = (await asyncio.wait_for(reader.read(64), 30))[9:12].decode() or "cut"
                writer.close()
            except (OSError, TimeoutError):
                status = "cut"
            tallies["bombs_sent"] += 1
            key = f"bomb_{status}"
            tallies[key] = tallies.get(key, 0) + 1
            await asyncio.sleep(BOMB_PAUSE)

    await asyncio.gather(*(slow_slot(n) for n in range(slow)), *(bomber(n) for n in range(bombs)))
    return tallies


def attack_process(port: int, slow: int, bombs: int, active: Any, stop: Any, out: Any) -> None:
    """The attackers' process: attacks while ``active`` is set, until ``stop``; then reports."""
    out.put(asyncio.run(_attack(port, slow=slow, bombs=bombs, active=active, stop=stop)))


# --- server memory ---------------------------------------------------------------------------


class RssSampler:
    """Peak resident memory of the server process (and with its workers), per condition."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.condition: Callable[[], str] = lambda: "quiet"
        self.peak_server = {"quiet": 0, "attacked": 0}
        self.peak_total = {"quiet": 0, "attacked": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self.condition()
            own = _rss_kb(self.pid)
            children = sum(_rss_kb(pid) for pid in _children(self.pid))
            self.peak_server[now] = max(self.peak_server[now], own)
            self.peak_total[now] = max(self.peak_total[now], own + children)
            self._stop.wait(0.25)


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


# --- one run -----------------------------------------------------------------------------------


def run(
    label: str, database_url: str | None, *, args: argparse.Namespace,
    pool: ProcessPoolExecutor, work: Path,
) -> dict[str, Any]:  # fmt: skip
    """Enrolment, then push/pull, on a fresh server, in alternating quiet and attacked windows."""
    with server_process(work / label, database_url) as server:
        url = server.url
        ws, _ = create_workspace(work / f"{label}-coordinator", passphrase=PASSPHRASE)
        create_project(ws, url, server.admin_token)
        codes = enrolment_codes(ws, args.devices)
        key = project_public(ws)
        ws.close()
        devices = [Device.new(key) for _ in range(args.devices)]
        port = int(url.rsplit(":", 1)[1])
        ctx = multiprocessing.get_context("spawn")
        results, active, stop = ctx.Queue(), ctx.Event(), ctx.Event()
        attacker = ctx.Process(
            target=attack_process, args=(port, args.slow, args.bombs, active, stop, results)
        )
        attacker.start()
        time.sleep(3)  # the attackers' process is up (and idle) before the first device
        pid = server.process.pid
        enrol = Schedule(window=args.enrol_spread / 2, attack=active, server_pid=pid)
        load = Schedule(window=args.window, attack=active, server_pid=pid)
        with RssSampler(pid) as rss:
            rss.condition = lambda: enrol.now
            asyncio.run(enrol_all(url, devices, codes, args.enrol_spread, enrol))
            enrolled = [d for d in devices if d.token]
            per_device = args.batch * (int(2 * args.duration / args.think) + 3)
            jobs = [job for d in enrolled for job in d.jobs(per_device, parts=1)]
            envelopes = list(pool.map(seal_chunk, jobs, chunksize=16))
            rss.condition = lambda: load.now
            asyncio.run(
                push_pull(
                    url, enrolled, envelopes, duration=2 * args.duration,
                    think=args.think, batch=args.batch, schedule=load,
                )
            )  # fmt: skip
        stop.set()
        try:
            tallies = results.get(timeout=60)
        except Exception:  # noqa: BLE001 - the tallies are a bonus; the figures stand
            tallies = {"tallies": "unavailable"}
        attacker.join(10)
        if attacker.is_alive():
            attacker.terminate()
    out: dict[str, Any] = {"enrolled": len(enrolled)}
    for condition in ("quiet", "attacked"):
        out[condition] = {
            "enrol": enrol.figures(condition),
            "push_pull": load.figures(condition),
            "peak_server_rss_mb": round(rss.peak_server[condition] / 1024, 1),
            "peak_rss_with_workers_mb": round(rss.peak_total[condition] / 1024, 1),
        }
    out["attack"] = {"slow_connections": args.slow, "bombers": args.bombs, **tallies}
    quiet = out["quiet"]["push_pull"]["p99_ms"] or 1e-9
    out["attacked_p99_ratio_to_quiet"] = round(out["attacked"]["push_pull"]["p99_ms"] / quiet, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=30.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=5)
    parser.add_argument("--enrol-spread", type=float, default=10.0)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--bombs", type=int, default=20)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "bench": "load",
        "devices": args.devices,
        "duration_s": args.duration,
        "think_s": args.think,
        "window_s": args.window,
        "batch": args.batch,
        "slow_connections": args.slow,
        "bombers": args.bombs,
        "cpus": os.cpu_count(),
        "load_1min_at_start": load_average(),
    }
    skipped = "--no-pg" if args.no_pg else postgres_problem()
    with (
        tempfile.TemporaryDirectory(prefix="fieldkit-load-") as tmp,
        ProcessPoolExecutor(2) as pool,
    ):
        work = Path(tmp)
        for label in ("sqlite", "postgresql"):
            if label == "sqlite" and args.no_sqlite:
                figures[label] = {"skipped": "--no-sqlite"}
            elif label == "sqlite":
                figures[label] = run(label, None, args=args, pool=pool, work=work)
            elif skipped:
                figures[label] = {"skipped": skipped}
            else:
                with postgres_url() as pg:
                    figures[label] = run(label, pg, args=args, pool=pool, work=work)
    figures["load_1min_at_end"] = load_average()
    print(json.dumps(figures, separators=(",", ":")))


if __name__ == "__main__":
    main()
