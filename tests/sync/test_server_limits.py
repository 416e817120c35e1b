"""Hostile and broken requests get a 4xx with a reason (or a clean timeout), never a 500."""

from __future__ import annotations

import gzip
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from _server_kit import create_project, enroll, push, seal
from conftest import RunningServer, start_server_thread


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server_thread(
        tmp_path / "server",
        max_body_bytes=200_000,
        max_decompressed_bytes=400_000,
        body_timeout_seconds=1.0,
        header_timeout_seconds=1.0,
        max_batch=10,
        max_envelope_bytes=4_000,
    )
    try:
        yield server
    finally:
        server.stop()


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


def test_oversized_content_length(small_server: RunningServer) -> None:
    r = requests.post(
        small_server.url + "/v1/push",
        data=b"x" * 300_000,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert "200000" in _error(r, 413)


def test_oversized_streamed_body(small_server: RunningServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 10_000

    r = requests.post(
        small_server.url + "/v1/push",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    _error(r, 413)


def test_gzip_bomb_stops_at_limit(small_server: RunningServer) -> None:
    bomb = gzip.compress(b"\x00" * 50_000_000, compresslevel=9)
    assert len(bomb) < 200_000
    r = requests.post(
        small_server.url + "/v1/push",
        data=bomb,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert "decompressed" in _error(r, 413)


def test_gzip_body_accepted(small_server: RunningServer) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
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
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    all_headers = {"Content-Type": "application/json", **field.auth, **headers}
    r = requests.post(url + "/v1/push", data=data, headers=all_headers, timeout=10)
    _error(r, status)


def test_unknown_fields_in_envelope(small_server: RunningServer) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    env = seal(field, project, {}).model_dump(mode="json")
    env["header"]["answers"] = {"name": "leak"}
    r = requests.post(url + "/v1/push", json={"envelopes": [env]}, headers=field.auth, timeout=10)
    message = _error(r, 422)
    assert "leak" not in r.text and "answers" in message


def test_batch_limit(small_server: RunningServer) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    r = push(url, field, [seal(field, project, {}) for _ in range(11)])
    assert "batch" in _error(r, 413)


def test_envelope_over_size_is_rejected_item(small_server: RunningServer) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    big = seal(field, project, {"/data/q": os.urandom(8_000).hex()})
    small = seal(field, project, {"/data/q": "ok"})
    res = push(url, field, [big, small]).json()["results"]
    assert res[0]["status"] == "rejected" and "larger" in res[0]["reason"]
    assert res[1]["status"] == "created"


def test_slow_body_times_out_cleanly(small_server: RunningServer) -> None:
    request = (
        b"POST /v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n" + b"{" * 1000
    )
    started = time.monotonic()
    reply = _raw(small_server.url, request, pause_after=len(request) - 990)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
    assert time.monotonic() - started < 8


def test_limit_and_cursor_validation(small_server: RunningServer) -> None:
    url, tok = small_server.url, small_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
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
