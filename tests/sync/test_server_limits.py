"""Hostile and broken requests get a 4xx with a reason (or a clean timeout), never a 500.

Authentication comes before the body (issue 14): the size limits here are those of an
authenticated device unless a test says otherwise; without a token only
``max_anonymous_body_bytes`` may be sent.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from _client_kit import keyed_device, keyed_project
from _server_kit import Device, Project, push, seal
from conftest import RunningServer, start_server_thread


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server_thread(
        tmp_path / "server",
        max_body_bytes=200_000,
        max_decompressed_bytes=400_000,
        body_timeout_seconds=1.0,
        body_idle_seconds=1.0,
        header_timeout_seconds=1.0,
        max_batch=10,
        max_envelope_bytes=4_000,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def device(small_server: RunningServer) -> Device:
    return keyed_device(small_server.url, small_server.admin_token, _project(small_server))


def _project(server: RunningServer) -> Project:
    return keyed_project(server.url, server.admin_token)


def _json_headers(device: Device, **extra: str) -> dict[str, str]:
    return {"Content-Type": "application/json", **device.auth, **extra}


def _error(r: requests.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    return str(body["error"]["message"])


def _raw(url: str, request: bytes, *, pause_after: int | None = None) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        if pause_after is None:
            sock.sendall(request)
        else:
            sock.sendall(request[:pause_after])
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)


def test_oversized_content_length(small_server: RunningServer, device: Device) -> None:
    r = requests.post(
        small_server.url + "/v1/push",
        data=b"x" * 300_000,
        headers=_json_headers(device),
        timeout=10,
    )
    assert "200000" in _error(r, 413)


def test_oversized_streamed_body(small_server: RunningServer, device: Device) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 10_000

    r = requests.post(
        small_server.url + "/v1/push", data=chunks(), headers=_json_headers(device), timeout=10
    )
    _error(r, 413)


def test_gzip_bomb_stops_at_ratio(small_server: RunningServer, device: Device) -> None:
    bomb = gzip.compress(b"\x00" * 50_000_000, compresslevel=9)
    assert len(bomb) < 200_000
    r = requests.post(
        small_server.url + "/v1/push",
        data=bomb,
        headers=_json_headers(device, **{"Content-Encoding": "gzip"}),
        timeout=10,
    )
    assert "expands more than 100 times" in _error(r, 413)


def test_gzip_stops_at_decompressed_limit(small_server: RunningServer, device: Device) -> None:
    # Words compress about 4 times: under the ratio, over the 400,000 decompressed bytes.
    rng = random.Random(14)
    words = ["market", "river", "school", "clinic", "border", "harbour", "passport", "salary"]
    text = " ".join(rng.choice(words) + str(rng.randrange(100)) for _ in range(80_000))
    packed = gzip.compress(text.encode())
    assert len(packed) < 200_000 and len(text) > 400_000
    r = requests.post(
        small_server.url + "/v1/push",
        data=packed,
        headers=_json_headers(device, **{"Content-Encoding": "gzip"}),
        timeout=10,
    )
    assert "decompressed body over 400000" in _error(r, 413)


def test_without_a_token_only_a_small_body(small_server: RunningServer) -> None:
    url = small_server.url
    # Over the anonymous limit: refused from the Content-Length, before authentication.
    r = requests.post(
        url + "/v1/enroll", data=b"{" * 70_000, headers={"Content-Type": "application/json"}
    )
    assert "without a token" in _error(r, 413)
    bomb = gzip.compress(b'{"envelopes":[' + b"{}," * 5_000_000 + b"{}]}", compresslevel=9)
    assert len(bomb) < 64 * 1024
    gzipped = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    r = requests.post(url + "/v1/enroll", data=bomb, headers=gzipped, timeout=10)
    assert "65536" in _error(r, 413)
    # Anywhere else a body without a token is refused from the headers, before a byte of it.
    r = requests.post(url + "/v1/push", data=bomb, headers=gzipped, timeout=10)
    assert "missing bearer token" in _error(r, 401)
    # Under it, the route answers as always: enrolment with a wrong code, a push without token.
    r = requests.post(url + "/v1/enroll", json={"code": "X" * 16, "x25519": "a", "ed25519": "b"})
    _error(r, 422)
    _error(requests.post(url + "/v1/push", json={"envelopes": []}, timeout=10), 401)


@pytest.mark.parametrize("token", ["unknown", "revoked", "malformed"])
def test_bad_token_is_refused_before_the_body(small_server: RunningServer, token: str) -> None:
    url, tok = small_server.url, small_server.admin_token
    dev = keyed_device(url, tok, _project(small_server))
    header = {"unknown": "Bearer " + "x" * 43, "malformed": "Basic abc"}.get(token)
    if token == "revoked":
        r = requests.post(
            url + f"/v1/admin/devices/{dev.device_id}/revoke",
            headers={"Authorization": f"Bearer {tok}"},
            timeout=10,
        )
        assert r.status_code == 200
        header = f"Bearer {dev.token}"
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        # Headers only: a body of 10 MB is announced and never sent.
        sock.sendall(
            b"POST /v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\nAuthorization: " + str(header).encode() + b"\r\n\r\n"
        )
        started = time.monotonic()
        reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 401"), reply[:80]
        assert time.monotonic() - started < 2  # not after a body deadline
        assert b"connection: close" in reply.lower()


def test_gzip_body_accepted(small_server: RunningServer) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = keyed_project(url, tok)
    field = keyed_device(url, tok, project)
    body = json.dumps({"envelopes": [seal(field, project, {}).model_dump(mode="json")]})
    r = requests.post(
        url + "/v1/push",
        data=gzip.compress(body.encode()),
        headers={**field.auth, "Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "created"


@pytest.mark.parametrize(
    ("data", "headers", "status"),
    [
        (b"not gzip", {"Content-Encoding": "gzip"}, 400),
        (gzip.compress(b"{}")[:-6], {"Content-Encoding": "gzip"}, 400),
        (b"{}", {"Content-Encoding": "br"}, 415),
        (b"{}", {"Content-Type": "text/plain"}, 415),
        (b"<x/>", {"Content-Type": "application/xml"}, 415),
        (b"{", {}, 400),
        (b"\xff\xfe", {}, 400),
        (b"[]", {}, 422),
        (b'{"envelopes": [], "extra": 1}', {}, 422),
        (b'{"envelopes": "no"}', {}, 422),
    ],
)
def test_malformed_bodies(
    small_server: RunningServer, data: bytes, headers: dict[str, str], status: int
) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = keyed_project(url, tok)
    field = keyed_device(url, tok, project)
    all_headers = {"Content-Type": "application/json", **field.auth, **headers}
    r = requests.post(url + "/v1/push", data=data, headers=all_headers, timeout=10)
    _error(r, status)


def test_unknown_fields_in_envelope(small_server: RunningServer) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = keyed_project(url, tok)
    field = keyed_device(url, tok, project)
    env = seal(field, project, {}).model_dump(mode="json")
    env["header"]["answers"] = {"name": "leak"}
    r = requests.post(url + "/v1/push", json={"envelopes": [env]}, headers=field.auth, timeout=10)
    message = _error(r, 422)
    assert "leak" not in r.text and "answers" in message


def test_batch_limit(small_server: RunningServer) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = keyed_project(url, tok)
    field = keyed_device(url, tok, project)
    r = push(url, field, [seal(field, project, {}) for _ in range(11)])
    assert "batch" in _error(r, 413)


def test_envelope_over_size_is_rejected_item(small_server: RunningServer) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = keyed_project(url, tok)
    field = keyed_device(url, tok, project)
    big = seal(field, project, {"/data/q": os.urandom(8_000).hex()})
    small = seal(field, project, {"/data/q": "ok"})
    res = push(url, field, [big, small]).json()["results"]
    assert res[0]["status"] == "rejected" and "larger" in res[0]["reason"]
    assert res[1]["status"] == "created"


def test_slow_body_times_out_cleanly(small_server: RunningServer) -> None:
    request = (
        b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n" + b"{" * 1000
    )
    started = time.monotonic()
    reply = _raw(small_server.url, request, pause_after=len(request) - 990)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
    assert time.monotonic() - started < 8


def test_limit_and_cursor_validation(small_server: RunningServer) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = keyed_project(url, tok)
    field = keyed_device(url, tok, project)
    for params in ({"limit": "0"}, {"limit": "x"}, {"limit": "999999"}, {"cursor": "a" * 33}):
        r = requests.get(url + "/v1/pull", params=params, headers=field.auth, timeout=5)
        assert r.status_code in (400, 422), params
    r = requests.get(url + "/v1/pull", params={"limit": "2000"}, headers=field.auth, timeout=5)
    assert r.status_code == 200


def test_unknown_route_and_method(small_server: RunningServer) -> None:
    _error(requests.get(small_server.url + "/v1/nope", timeout=5), 404)
    _error(requests.delete(small_server.url + "/v1/health", timeout=5), 405)


@pytest.mark.parametrize(
    "sent", [b"", b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"], ids=["silent", "slow-headers"]
)
def test_slow_request_head_is_cut(small_server: RunningServer, sent: bytes) -> None:
    host, port = small_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(sent)
        started = time.monotonic()
        assert sock.recv(100) == b""  # closed by the server, not by our 10 s timeout
        assert 0.5 < time.monotonic() - started < 8


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head


def test_kept_alive_connection_still_works_and_is_cut_when_idle_mid_head(
    small_server: RunningServer,
) -> None:
    host, port = small_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            assert _read_response(sock).startswith(b"HTTP/1.1 200")
            time.sleep(0.4)  # 3 requests over > 1 s: the deadline is re-armed per request
        sock.sendall(b"GET /v1/health HTTP/1.1\r\n")
        assert sock.recv(100) == b""


def test_slow_body_below_the_rate_floor_times_out(small_server: RunningServer) -> None:
    # A byte every 0.3 s never pauses past body_idle_seconds (1 s) but stays far below
    # body_min_bytes_per_second once body_timeout_seconds (1 s) have passed.
    host, port = small_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n"
        )
        started = time.monotonic()
        sock.settimeout(0.3)
        reply = b""
        while not reply and time.monotonic() - started < 8:
            try:
                sock.sendall(b" ")
                reply = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
        assert reply.startswith(b"HTTP/1.1 408"), reply[:80]
        assert 0.9 < time.monotonic() - started < 4


# --- the memory budget for bodies in flight -------------------------------------------------


def _start_slow_push(url: str, device: Device, *, sent: int, total: int) -> socket.socket:
    """A push whose body stops after ``sent`` of ``total`` bytes: it holds budget meanwhile."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(
        b"POST /v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + device.token.encode() + b"\r\n"
        b"Content-Length: %d\r\n\r\n" % total + b" " * sent
    )
    return sock


@pytest.fixture
def budget_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server_thread(
        tmp_path / "server",
        body_memory_budget_bytes=400_000,
        budget_wait_seconds=1.0,
        body_idle_seconds=5.0,
        body_timeout_seconds=5.0,
    )
    try:
        yield server
    finally:
        server.stop()


def test_budget_excess_waits_then_gets_503_with_retry_after(budget_server: RunningServer) -> None:
    url, tok = budget_server.url, budget_server.admin_token
    project = keyed_project(url, tok)
    holder, pusher = keyed_device(url, tok, project), keyed_device(url, tok, project)
    budget = budget_server.app.state.budget
    envelopes = [seal(pusher, project, {"/data/q": str(i)}) for i in range(20)]
    # 350,000 bytes of a slow body are held; the push (about 60 KB, charged ~3×) cannot fit.
    slow = _start_slow_push(url, holder, sent=350_000, total=360_000)
    try:
        deadline = time.monotonic() + 5
        while budget.used < 350_000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert budget.used >= 350_000
        started = time.monotonic()
        r = push(url, pusher, envelopes)
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "2"
        assert 0.9 < time.monotonic() - started < 3  # it waited budget_wait_seconds first
        # Excess waits: the holder finishes within the wait, and the push goes through.
        result: dict[str, requests.Response] = {}
        waiter = threading.Thread(target=lambda: result.update(r=push(url, pusher, envelopes)))
        waiter.start()
        time.sleep(0.3)
        slow.sendall(b" " * 10_000)  # a body of spaces: 400 from the route, then released
        assert slow.recv(4096).startswith(b"HTTP/1.1 4")
        waiter.join(10)
        assert result["r"].status_code == 200
        assert [x["status"] for x in result["r"].json()["results"]] == ["created"] * 20
    finally:
        slow.close()
    deadline = time.monotonic() + 5
    while budget.used and time.monotonic() < deadline:
        time.sleep(0.02)
    assert budget.used == 0 and budget.peak <= budget.total


def test_body_larger_than_the_whole_budget_is_413(budget_server: RunningServer) -> None:
    url, tok = budget_server.url, budget_server.admin_token
    dev = keyed_device(url, tok, keyed_project(url, tok))
    # 200 KB of tiny JSON values: its parse would take far more than the 400 KB budget.
    body = b"[" + b",".join([b"0"] * 100_000) + b"]"
    r = requests.post(url + "/v1/push", data=body, headers=_json_headers(dev), timeout=10)
    assert "too large for this server" in _error(r, 413)


# --- connections: per address, in all, idle ones first -----------------------------------


def _idle(url: str, source: str = "127.0.0.1") -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5, source_address=(source, 0))
    return sock


def _health(url: str, source: str = "127.0.0.1") -> bytes:
    with _idle(url, source) as sock:
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
        return data


def _closed_by_server(sock: socket.socket, within: float = 2.0) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(4096) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


@pytest.fixture
def capped_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server_thread(
        tmp_path / "server", max_connections=8, max_connections_per_address=4
    )
    try:
        yield server
    finally:
        server.stop()


def test_per_address_cap(capped_server: RunningServer) -> None:
    url = capped_server.url
    held = [_idle(url) for _ in range(4)]
    try:
        time.sleep(0.2)
        reply = _health(url)
        assert reply.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in reply.lower()
        assert b"too many connections from this address" in reply
        assert _health(url, "127.0.0.2").startswith(b"HTTP/1.1 200")  # another address
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    assert _health(url).startswith(b"HTTP/1.1 200")


def test_full_server_closes_the_longest_idle_connection(capped_server: RunningServer) -> None:
    url = capped_server.url
    held = [_idle(url, f"127.0.0.{10 + i // 4}") for i in range(8)]  # 8 of 8, 4 per address
    try:
        time.sleep(0.2)
        assert _health(url, "127.0.0.50").startswith(b"HTTP/1.1 200")
        assert _closed_by_server(held[0])  # the oldest idle one made room
        held[0].close()
    finally:
        for sock in held:
            sock.close()


def test_a_served_connection_outlasts_ones_that_never_sent_a_request(
    capped_server: RunningServer,
) -> None:
    url = capped_server.url
    served = _idle(url, "127.0.0.30")
    served.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _read_response(served).startswith(b"HTTP/1.1 200")
    time.sleep(0.1)
    silent = [_idle(url, f"127.0.0.{31 + i // 4}") for i in range(7)]  # younger, never served
    try:
        time.sleep(0.2)
        assert _health(url, "127.0.0.50").startswith(b"HTTP/1.1 200")
        assert _closed_by_server(silent[0])  # the oldest of those that never sent a request
        served.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(served).startswith(b"HTTP/1.1 200")  # still open
    finally:
        served.close()
        for sock in silent:
            sock.close()


def test_full_of_requests_in_progress_refuses_new_ones(capped_server: RunningServer) -> None:
    url = capped_server.url
    busy = []
    try:
        for i in range(8):  # each in the middle of a body: not idle, never evicted
            sock = _idle(url, f"127.0.0.{20 + i // 4}")
            sock.sendall(
                b"POST /v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{"
            )
            busy.append(sock)
        time.sleep(0.3)
        reply = _health(url, "127.0.0.60")
        assert reply.startswith(b"HTTP/1.1 503") and b"server full" in reply
    finally:
        for sock in busy:
            sock.close()
    time.sleep(0.3)
    assert _health(url, "127.0.0.60").startswith(b"HTTP/1.1 200")


# --- the access log ----------------------------------------------------------------------


def test_access_log_cannot_be_forged(
    small_server: RunningServer, device: Device, caplog: pytest.LogCaptureFixture
) -> None:
    from sync.server.logline import LineFormatter

    caplog.set_level("INFO", logger="fieldkit.server.access")
    url = small_server.url
    forged = (
        "/v1/x%0a2026-11-28 10:00:00 INFO fieldkit.server.access: POST /v1/push 200%1b[2J%e2%80%ae"
    )
    r = requests.get(url + forged, timeout=5)
    assert r.status_code == 404
    r = requests.post(
        url + "/v1/admin/devices/d_0123456789abcdef/revoke",
        headers={"Authorization": f"Bearer {small_server.admin_token}"},
        timeout=5,
    )
    assert r.status_code == 404
    requests.get(url + "/v1/pull?cursor=secret-query", headers=device.auth, timeout=5)
    # The access line is written once the reply has gone: give the server thread a moment.
    deadline = time.monotonic() + 5
    while len(caplog.records) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = [LineFormatter("%(message)s").format(rec) for rec in caplog.records]
    text = "\n".join(lines)
    assert len(lines) == len(caplog.records) >= 3
    forged_line = next(line for line in lines if "/v1/x" in line)
    assert forged_line.startswith("GET /v1/x%0A2026-11-28%2010")
    assert "%1B" in forged_line and "%E2%80%AE" in forged_line
    assert all(ch.isprintable() for ch in text.replace("\n", ""))
    assert "POST /v1/admin/devices/{device_id}/revoke 404" in text
    assert "d_0123456789abcdef" not in text and "secret-query" not in text
    assert device.token not in text and small_server.admin_token not in text


def test_log_lines_are_one_inert_line() -> None:
    import logging

    from sync.server.logline import LineFormatter

    record = logging.LogRecord(
        "fieldkit.server", logging.ERROR, __file__, 1, "bad %s", ("a\nb\x1b[2J\u2028c",), None
    )
    line = LineFormatter("%(levelname)s %(message)s").format(record)
    assert "\n" not in line and "\x1b" not in line and "\u2028" not in line
    assert line.startswith("ERROR bad a b")


# --- the data folder is private ---------------------------------------------------------


def test_data_folder_and_files_are_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import stat

    data = tmp_path / "server"
    server = start_server_thread(data)
    try:
        url, tok = server.url, server.admin_token
        project = keyed_project(url, tok)
        dev = keyed_device(url, tok, project)
        assert push(url, dev, [seal(dev, project, {})]).status_code == 200
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        files = sorted(p.name for p in data.iterdir())
        assert "fieldkit-server.sqlite3" in files and "fieldkit-server.sqlite3-wal" in files
        for entry in data.iterdir():
            assert stat.S_IMODE(entry.stat().st_mode) == 0o600, entry.name
    finally:
        server.stop()
    # Loosened by hand (a restore, a copy): each start names what is open.
    data.chmod(0o755)
    (data / "fieldkit-server.sqlite3").chmod(0o644)
    caplog.set_level("WARNING", logger="fieldkit.server")
    again = start_server_thread(data, init=False)
    again.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("data folder" in w and "0755" in w and "chmod 700" in w for w in warnings)
    assert any("fieldkit-server.sqlite3 " in w and "0644" in w for w in warnings)
