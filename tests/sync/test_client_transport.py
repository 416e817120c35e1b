"""The sync transport against real sockets on 127.0.0.1: a small scripted HTTP(S) server,
the cutting proxy, and a port where nothing listens."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _proxy import Cut, CuttingProxy

from fieldkit.errors import AuthError, ProtocolError, ServerUnreachable, SyncError, UsageError
from sync.client import Retry, SyncClient, Timeouts, check_server_url

Reply = tuple[int, dict[str, Any]]


class Scripted:
    """A real HTTP server whose replies a test scripts; it records what it received."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.default: Reply = (200, {"ok": True})
        self.received: list[dict[str, Any]] = []
        self.peers: set[tuple[str, int]] = set()
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    raw = gzip.decompress(raw)
                scripted.peers.add(self.client_address)
                scripted.received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": raw,
                    }
                )
                status, body = scripted.replies.pop(0) if scripted.replies else scripted.default
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = _answer
            do_POST = _answer

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # resets from the cutting proxy are the point of these tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _no_sleep() -> tuple[list[float], Callable[[float], None]]:
    slept: list[float] = []
    return slept, slept.append


def test_nothing_listening_is_reported_at_once_with_the_count_waiting() -> None:
    client = SyncClient(f"http://127.0.0.1:{_free_port()}", token="t" * 40, waiting=42)
    start = time.monotonic()
    with pytest.raises(ServerUnreachable, match="server unreachable.*42 records waiting"):
        client.push([b"{}"])
    assert time.monotonic() - start < 2
    assert ServerUnreachable.exit_code == 3


def test_unknown_host_is_reported_at_once() -> None:
    # .invalid never resolves (RFC 2606); resolution fails locally, nothing leaves the host.
    client = SyncClient("https://fieldkit.invalid", token="t" * 40, waiting=1)
    with pytest.raises(ServerUnreachable, match="1 record waiting"):
        client.health()


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8765", True),
        ("http://localhost:8765/", True),
        ("http://[::1]:8765", True),
        ("https://sync.example.org", True),
        ("http://sync.example.org", False),
        ("http://10.0.0.5:8765", False),
        ("ftp://sync.example.org", False),
        ("https://user:pw@sync.example.org", False),
        ("sync.example.org", False),
    ],
)
def test_plain_http_only_to_loopback(url: str, ok: bool) -> None:
    if ok:
        assert check_server_url(url).startswith(url.split(":")[0])
    else:
        with pytest.raises(UsageError):
            check_server_url(url)


def test_plain_http_elsewhere_needs_the_explicit_flag() -> None:
    assert check_server_url("http://10.0.0.5:8765", insecure_http=True) == "http://10.0.0.5:8765"


def test_bodies_are_gzipped_and_the_connection_kept_alive(scripted: Scripted) -> None:
    client = SyncClient(scripted.url, token="t" * 40, gzip_min_bytes=100)
    scripted.default = (200, {"results": [{"record_id": "r", "status": "created"}]})
    blob = json.dumps({"header": {"x": "y" * 500}}).encode()
    for _ in range(5):
        assert client.push([blob])[0]["status"] == "created"
    client.close()
    assert len(scripted.received) == 5
    first = scripted.received[0]
    assert first["headers"]["Content-Encoding"] == "gzip"
    assert first["headers"]["Authorization"] == "Bearer " + "t" * 40
    assert json.loads(first["body"]) == {"envelopes": [json.loads(blob)]}
    assert len(scripted.peers) == 1  # one TCP connection for all five calls
    assert client.bytes_sent < 5 * len(blob)  # gzip paid off


def test_small_bodies_are_not_compressed(scripted: Scripted) -> None:
    client = SyncClient(scripted.url, token="t" * 40)
    client.publish_form({"form_id": "f"})
    assert "Content-Encoding" not in scripted.received[0]["headers"]


def test_transient_statuses_are_retried_with_capped_jittered_backoff(scripted: Scripted) -> None:
    slept, sleep = _no_sleep()
    client = SyncClient(
        scripted.url, token="t" * 40, retry=Retry(attempts=6, base=0.5, cap=2.0, sleep=sleep)
    )
    scripted.replies = [(503, {}), (502, {}), (429, {}), (500, {})]
    scripted.default = (200, {"changes": [], "next_cursor": "7", "has_more": False})
    assert client.pull(cursor="0", limit=10)["next_cursor"] == "7"
    assert len(slept) == 4
    assert all(0 <= s <= 2.0 for s in slept)
    assert len(scripted.received) == 5


def test_retries_run_out_with_a_clear_error(scripted: Scripted) -> None:
    slept, sleep = _no_sleep()
    client = SyncClient(
        scripted.url, token="t" * 40, waiting=3, retry=Retry(attempts=3, sleep=sleep)
    )
    scripted.default = (503, {})
    with pytest.raises(SyncError, match="kept failing.*3 records waiting"):
        client.pull(cursor="0", limit=10)
    assert len(scripted.received) == 3


def test_backoff_delay_is_capped() -> None:
    retry = Retry(base=1.0, cap=4.0)
    assert max(retry.delay(30) for _ in range(200)) <= 4.0
    assert min(retry.delay(1) for _ in range(200)) >= 0


def test_enrolment_is_not_retried(scripted: Scripted) -> None:
    slept, sleep = _no_sleep()
    client = SyncClient(scripted.url, retry=Retry(sleep=sleep))
    scripted.default = (503, {})
    with pytest.raises(SyncError):
        client.enroll({"code": "x"})
    assert len(scripted.received) == 1


def test_401_says_the_device_was_revoked(scripted: Scripted) -> None:
    client = SyncClient(scripted.url, token="t" * 40)
    scripted.default = (401, {"error": {"code": "revoked", "message": "device revoked"}})
    with pytest.raises(AuthError, match="this device's access was revoked"):
        client.pull(cursor="0", limit=1)
    assert AuthError.exit_code == 4


def test_403_wrong_project_is_clear(scripted: Scripted) -> None:
    client = SyncClient(scripted.url, token="t" * 40)
    scripted.default = (403, {"error": {"code": "wrong_project", "message": "other project"}})
    with pytest.raises(AuthError, match="wrong project"):
        client.pull(cursor="0", limit=1)


def test_4xx_is_a_protocol_error_with_the_servers_reason(scripted: Scripted) -> None:
    client = SyncClient(scripted.url, token="t" * 40)
    scripted.default = (422, {"error": {"code": "invalid", "message": "limit too large"}})
    with pytest.raises(ProtocolError, match="limit too large"):
        client.pull(cursor="0", limit=10**9)


def test_a_push_reply_that_does_not_match_the_batch_is_refused(scripted: Scripted) -> None:
    client = SyncClient(scripted.url, token="t" * 40)
    scripted.default = (200, {"results": []})
    with pytest.raises(ProtocolError):
        client.push([b"{}"])


def test_clock_offset_uses_the_midpoint() -> None:
    now = time.time()
    server = dt.datetime.fromtimestamp(now + 3600, tz=dt.UTC).isoformat()
    offset = SyncClient.clock_offset({"server_time": server}, sent_at=now - 1, received_at=now + 1)
    assert abs(offset - 3600) < 0.01


@pytest.mark.parametrize("direction", ["up", "down"])
def test_cut_connections_are_retried_until_they_get_through(
    scripted: Scripted, direction: str
) -> None:
    scripted.default = (200, {"results": [{"record_id": "r", "status": "duplicate"}]})
    cuts = {0: Cut(direction, 10), 1: Cut(direction, 150), 2: Cut(direction, 0)}
    slept, sleep = _no_sleep()
    with CuttingProxy(scripted.port, cuts.get) as proxy:
        client = SyncClient(proxy.url, token="t" * 40, retry=Retry(attempts=5, sleep=sleep))
        assert client.push([b'{"a":1}'])[0]["status"] == "duplicate"
        assert proxy.cuts == 3
    assert len(slept) == 3


def test_a_server_that_never_answers_times_out_then_retries(scripted: Scripted) -> None:
    # A listener that accepts and never replies: the read timeout fires and the call is retried.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    slept, sleep = _no_sleep()
    client = SyncClient(
        f"http://127.0.0.1:{silent.getsockname()[1]}",
        token="t" * 40,
        timeouts=Timeouts(connect=1, read=0.2),
        retry=Retry(attempts=2, sleep=sleep),
    )
    try:
        with pytest.raises(SyncError, match="no reply in time"):
            client.health()
    finally:
        silent.close()
    assert len(slept) == 1


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_an_unverifiable_certificate_is_a_clear_error(scripted: Scripted, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    scripted.server.socket = context.wrap_socket(scripted.server.socket, server_side=True)
    url = f"https://127.0.0.1:{scripted.port}"
    slept, sleep = _no_sleep()
    with pytest.raises(SyncError, match="certificate could not be verified"):
        SyncClient(url, retry=Retry(sleep=sleep)).health()
    assert slept == []  # not retried: a wrong certificate does not heal
    # The same server, trusted explicitly through a CA bundle, answers.
    assert SyncClient(url, ca_bundle=str(cert)).health() == {"ok": True}


def _health(offset_seconds: float, protocol: int = 1) -> Reply:
    server_time = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_seconds)
    return (
        200,
        {
            "status": "ok",
            "version": "x",
            "protocol": protocol,
            "server_time": server_time.isoformat(),
        },
    )


@pytest.mark.parametrize(
    ("offset", "words"), [(3600, "60 minutes behind"), (-1800, "30 minutes ahead")]
)
def test_a_clock_far_off_is_a_clear_error(scripted: Scripted, offset: float, words: str) -> None:
    from fieldkit.exchange._state import check_server

    scripted.default = _health(offset)
    with pytest.raises(SyncError, match=f"clock is about {words}"):
        check_server(SyncClient(scripted.url))


def test_a_clock_slightly_off_is_fine(scripted: Scripted) -> None:
    from fieldkit.exchange._state import check_server

    scripted.default = _health(120)
    assert check_server(SyncClient(scripted.url))["protocol"] == 1


def test_another_protocol_version_is_refused(scripted: Scripted) -> None:
    from fieldkit.exchange._state import check_server

    scripted.default = _health(0, protocol=2)
    with pytest.raises(ProtocolError, match="another version"):
        check_server(SyncClient(scripted.url))
