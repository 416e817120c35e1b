"""The sync client against real hostile servers on 127.0.0.1 (DESIGN §3, "Hostile servers get
bounded clients"): each test runs a small threaded HTTP server of its own that writes its replies
byte by byte — gzip bombs, endless bodies, JSON nested 100,000 deep, a byte every two seconds,
endless pages, escape codes in its error messages — and checks that the laptop stays bounded in
time and memory and ends with one clear, inert line."""

from __future__ import annotations

import functools
import gzip
import json
import socket
import socketserver
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fieldkit.cli import app
from fieldkit.errors import ProtocolError, SyncError, UsageError
from fieldkit.text import CONTROL
from sync._reply import TooDeep, parse_json
from sync.admin import AdminClient
from sync.client import Deadline, Limits, Retry, SyncClient, Timeouts

MIB = 1024 * 1024
TOKEN = "t" * 40
ADMIN_TOKEN = "a" * 43


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


Answer = Callable[[Request, BinaryIO], None]


@dataclass
class Hostile:
    """A real HTTP/1.1 server on 127.0.0.1; ``answer`` writes each reply's raw bytes."""

    answer: Answer
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    written: int = 0  # body bytes the answers managed to write before the client left
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        hostile = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with hostile._lock:
                    hostile.connections += 1
                request = _read_request(self.rfile)
                if request is None:
                    return
                with hostile._lock:
                    hostile.requests.append(request)
                try:
                    hostile.answer(request, self.wfile)
                except OSError:
                    pass  # the client hung up: the point of most of these tests

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, n: int) -> None:
        with self._lock:
            self.written += n

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _read_request(rfile: BinaryIO) -> Request | None:
    line = rfile.readline(65536)
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (header := rfile.readline(65536)) not in (b"\r\n", b"\n", b""):
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = rfile.read(int(headers.get("content-length", "0")))
    if headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    parts = urlsplit(target)
    return Request(method, parts.path, parse_qs(parts.query), headers, body)


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join([*lines, "Connection: close", "", ""])).encode("latin-1")


def reply(out: BinaryIO, status: int, body: bytes, **headers: str) -> None:
    """A whole reply with its length, then the connection closes."""
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)), **headers}
    out.write(_head(status, {k.replace("_", "-"): v for k, v in headers.items()}) + body)


def json_reply(out: BinaryIO, status: int, value: Any) -> None:
    reply(out, status, json.dumps(value).encode())


@pytest.fixture
def hostile() -> Iterator[Callable[[Answer], Hostile]]:
    servers: list[Hostile] = []

    def start(answer: Answer) -> Hostile:
        servers.append(Hostile(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _client(url: str, **options: Any) -> SyncClient:
    options.setdefault("retry", Retry(attempts=3, sleep=lambda _: None))
    return SyncClient(url, token=TOKEN, **options)


@functools.cache
def _bomb() -> bytes:
    """256 MiB of zeros as a gzip stream of about 260 KB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    return b"".join(packer.compress(zeros) for _ in range(256)) + packer.flush()


def _peak_memory(work: Callable[[], object]) -> tuple[int, BaseException | None]:
    """The peak of Python allocations while ``work`` runs, and what it raised."""
    tracemalloc.start()
    try:
        work()
        raised: BaseException | None = None
    except BaseException as exc:  # noqa: BLE001 - handed back to the test
        raised = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, raised


# --- sizes ----------------------------------------------------------------------------------


def test_a_gzip_bomb_stops_at_the_cap_without_being_inflated(hostile: Any) -> None:
    bomb = _bomb()
    server = hostile(lambda _r, out: reply(out, 200, bomb, Content_Encoding="gzip"))
    client = _client(server.url, limits=Limits(reply_bytes=1 * MIB))
    peak, raised = _peak_memory(lambda: client.push([b"{}"]))
    assert isinstance(raised, ProtocolError)
    assert (
        str(raised) == "the server's reply is larger than 1 MiB once decompressed; it was not read"
    )
    # 256 MiB inflated would have been 256 MiB held: the cap and a chunk or two were.
    assert peak < 8 * MIB, peak
    assert len(server.requests) == 1  # a bomb is not asked for twice


def test_a_huge_plain_reply_is_refused_by_its_length_or_at_the_cap(hostile: Any) -> None:
    def announced(_r: Request, out: BinaryIO) -> None:
        out.write(_head(200, {"Content-Length": str(10 * 1024 * MIB)}))
        for _ in range(4096):
            out.write(b" " * 65536)

    def unannounced(_r: Request, out: BinaryIO) -> None:
        out.write(_head(200, {"Content-Type": "application/json"}))
        for _ in range(4096):  # 256 MiB, no length: the body ends when the connection does
            out.write(b" " * 65536)
            server.count(65536)

    for answer in (announced, unannounced):
        server = hostile(answer)
        client = _client(server.url, limits=Limits(wire_bytes=2 * MIB, reply_bytes=2 * MIB))
        peak, raised = _peak_memory(client.health)
        assert isinstance(raised, ProtocolError), raised
        assert "larger than 2 MiB" in str(raised)
        assert peak < 10 * MIB, peak
        assert len(server.requests) == 1
    # The client hung up near the cap: the rest of the 256 MiB was never taken.
    assert server.written < 64 * MIB


def test_a_body_that_never_ends_is_cut_at_the_cap(hostile: Any) -> None:
    def endless_chunks(_r: Request, out: BinaryIO) -> None:
        out.write(_head(200, {"Transfer-Encoding": "chunked"}))
        while True:  # a chunked body whose last chunk never comes
            out.write(b"10000\r\n" + b"[" * 65536 + b"\r\n")

    empty_member = gzip.compress(b"", mtime=0)

    def endless_gzip(_r: Request, out: BinaryIO) -> None:
        out.write(_head(200, {"Content-Encoding": "gzip"}))
        while True:  # gzip members that each inflate to nothing, for ever
            out.write(empty_member * 4096)

    for answer in (endless_chunks, endless_gzip):
        server = hostile(answer)
        client = _client(server.url, limits=Limits(wire_bytes=1 * MIB, reply_bytes=1 * MIB))
        start = time.monotonic()
        with pytest.raises(ProtocolError, match="larger than 1 MiB; it was not read"):
            client.pull(cursor="0", limit=1)
        assert time.monotonic() - start < 5


def test_a_pull_page_over_the_cap_is_asked_for_again_in_smaller_pages(hostile: Any) -> None:
    # Legitimately large records: the same feed, fewer changes per page, until a page fits.
    def answer(request: Request, out: BinaryIO) -> None:
        limit = int(request.query["limit"][0])
        change = {"type": "revocation", "device_id": "d", "padding": "x" * 10_000}
        json_reply(out, 200, {"changes": [change] * limit, "next_cursor": "9", "has_more": True})

    server = hostile(answer)
    client = _client(server.url, limits=Limits(reply_bytes=256 * 1024))
    page = client.pull(cursor="0", limit=1000)
    assert len(page["changes"]) == 15 and page["next_cursor"] == "9"
    assert [r.query["limit"] for r in server.requests] == [["1000"], ["250"], ["62"], ["15"]]


def test_an_encoding_not_asked_for_is_refused(hostile: Any) -> None:
    server = hostile(lambda _r, out: reply(out, 200, b"\x00" * 40, Content_Encoding="br"))
    with pytest.raises(ProtocolError, match="encoding that was not asked for"):
        _client(server.url).health()
    assert server.requests[0].headers["accept-encoding"] == "gzip"


# --- nesting ----------------------------------------------------------------------------------


def _deep(levels: int) -> bytes:
    return b'{"changes":' + b"[" * levels + b"]" * levels + b', "next_cursor": "1"}'


@pytest.mark.parametrize("status", [200, 400])
def test_json_nested_100000_deep_is_a_protocol_error_never_a_recursion_error(
    hostile: Any, status: int
) -> None:
    # 100,000 levels for the reply, 30,000 for an error (its reason is read up to 64 KiB only).
    levels = 100_000 if status == 200 else 30_000
    server = hostile(lambda _r, out: reply(out, status, _deep(levels)))
    with pytest.raises(ProtocolError, match="nested more than 100 levels deep"):
        _client(server.url).pull(cursor="0", limit=10)
    assert len(server.requests) == 1


def test_nesting_up_to_the_limit_is_read(hostile: Any) -> None:
    value: Any = "leaf"
    for _ in range(9):
        value = [value]
    server = hostile(lambda _r, out: json_reply(out, 200, {"deep": value}))
    assert _client(server.url, limits=Limits(json_depth=10)).health()["deep"] == value
    with pytest.raises(ProtocolError, match="more than 9 levels"):
        _client(server.url, limits=Limits(json_depth=9)).health()


def test_brackets_inside_strings_do_not_count_and_cannot_hide_depth(hostile: Any) -> None:
    # Closing brackets inside a string must not cancel the real nesting after it.
    hiding = b'{"a": "' + b"]" * 5000 + b'\\" ]]", "b": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    harmless = json.dumps({"label": "[[[[" * 1000 + '"\\', "ok": True}).encode()
    answers = iter([hiding, harmless])
    server = hostile(lambda _r, out: reply(out, 200, next(answers)))
    with pytest.raises(ProtocolError, match="nested more than"):
        _client(server.url).health()
    assert _client(server.url).health()["ok"] is True


# --- time -----------------------------------------------------------------------------------


def _drip(data: bytes, every: float, upto: int = 12) -> Answer:
    """Write ``data`` one byte every ``every`` seconds, then hang up after ``upto`` bytes (so a
    client without a deadline fails in about half a minute instead of hanging for hours)."""

    def answer(_r: Request, out: BinaryIO) -> None:
        for i in range(min(len(data), upto)):
            out.write(data[i : i + 1])
            out.flush()
            time.sleep(every)

    return answer


_OK_BODY = b'{"status": "ok"}'


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_reply_dripping_a_byte_every_two_seconds_stops_at_the_request_deadline(
    hostile: Any, phase: str
) -> None:
    head = _head(200, {"Content-Length": str(len(_OK_BODY) * 1000)})
    if phase == "headers":
        server = hostile(_drip(head + _OK_BODY, every=2))
    else:

        def answer(request: Request, out: BinaryIO) -> None:
            out.write(head)
            _drip(_OK_BODY * 1000, every=2)(request, out)

        server = hostile(answer)
    # Each byte comes well within the 10 s read timeout: only the request's deadline ends it.
    client = _client(server.url, timeouts=Timeouts(connect=2, read=10, request=3))
    start = time.monotonic()
    with pytest.raises(SyncError, match=r"took more than 3 s to answer one request") as caught:
        client.pull(cursor="0", limit=1)
    elapsed = time.monotonic() - start
    assert 2.9 <= elapsed < 5.5, elapsed
    assert "\n" not in str(caught.value)
    assert len(server.requests) == 1  # not asked again: a trickle does not heal


def test_a_tls_handshake_dripping_a_byte_every_two_seconds_stops_at_the_deadline() -> None:
    # A TLS record header announcing 16 KiB, then a byte every 2 s: the handshake has the 8 s
    # connect timeout (for the whole of it, in Python's ssl), the deadline ends it at 3 s.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)  # the ClientHello
            for byte in b"\x16\x03\x03\x40\x00" + bytes(10):
                try:
                    conn.send(bytes([byte]))
                except OSError:
                    return
                time.sleep(2)

    threading.Thread(target=drip, daemon=True).start()
    client = _client(
        f"https://127.0.0.1:{listener.getsockname()[1]}",
        timeouts=Timeouts(connect=8, read=10, request=3),
    )
    start = time.monotonic()
    try:
        with pytest.raises(SyncError, match=r"took more than 3 s to answer one request"):
            client.health()
    finally:
        listener.close()
    assert 2.9 <= time.monotonic() - start < 5


def test_endless_pages_stop_at_the_deadline_of_the_sync(hostile: Any) -> None:
    # The feed never ends (has_more for ever, the cursor never moves): the client's deadline
    # for the whole sync ends the loop a caller would run, in one error line.
    def answer(_r: Request, out: BinaryIO) -> None:
        page = {"changes": [{"type": "revocation", "device_id": "d"}], "next_cursor": "1"}
        json_reply(out, 200, {**page, "has_more": True})

    server = hostile(answer)
    client = _client(server.url, limits=Limits(sync_seconds=1.5), waiting=2)
    start = time.monotonic()
    pages = 0
    with pytest.raises(SyncError) as caught:
        page = client.pull(cursor="0", limit=100)
        while page["has_more"]:
            pages += 1
            page = client.pull(cursor=page["next_cursor"], limit=100)
    assert str(caught.value) == (
        "this sync ran past its limit of 1.5 s and was stopped; 2 records waiting — "
        "run it again to continue"
    )
    assert 1.4 <= time.monotonic() - start < 3
    assert pages > 3 and client.deadline.passed


def test_the_sync_deadline_cuts_a_request_in_the_middle(hostile: Any) -> None:
    server = hostile(_drip(_head(200, {"Content-Length": "100"}), every=0.5))
    client = _client(server.url, limits=Limits(sync_seconds=1.5))
    start = time.monotonic()
    with pytest.raises(SyncError, match="this sync ran past its limit of 1.5 s"):
        client.health()
    assert time.monotonic() - start < 2.5


def test_a_deadline_can_be_shared_by_several_clients(hostile: Any) -> None:
    server = hostile(lambda _r, out: json_reply(out, 200, {"status": "ok"}))
    deadline = Deadline.after(0.5)
    first, second = _client(server.url, deadline=deadline), _client(server.url, deadline=deadline)
    assert first.health() == {"status": "ok"}
    time.sleep(0.6)
    with pytest.raises(SyncError, match="limit of 0.5 s"):
        second.health()
    assert len(server.requests) == 1  # refused before a byte was sent


# --- what is shown ----------------------------------------------------------------------------

_EVIL = (
    "\x1b]0;owned\x07\x1b[2J\x1b[1;1HEnter your passphrase:\r\n"
    "[bold red]second line\u009b31m\x00 end"
)


_KEYS = {"x25519": "A" * 43 + "=", "ed25519": "B" * 43 + "="}


def _assert_inert_line(text: str) -> None:
    assert not CONTROL.search(text), repr(text)
    assert "\n" not in text.rstrip("\n") and "\r" not in text
    assert "\N{REPLACEMENT CHARACTER}" in text


def test_escape_codes_in_a_server_error_are_shown_inert(hostile: Any) -> None:
    server = hostile(
        lambda _r, out: json_reply(out, 422, {"error": {"code": "x\x1b[5m", "message": _EVIL}})
    )
    with pytest.raises(ProtocolError) as caught:
        _client(server.url).pull(cursor="0", limit=1)
    _assert_inert_line(str(caught.value))
    assert "Enter your passphrase:" in str(caught.value)  # shown, as text


def test_a_push_rejection_reason_is_made_inert(hostile: Any) -> None:
    result = {"record_id": "r", "status": "rejected", "reason": _EVIL}
    server = hostile(lambda _r, out: json_reply(out, 200, {"results": [result]}))
    (got,) = _client(server.url).push([b"{}"])
    _assert_inert_line(got["reason"])


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_printed_error_line_of_an_admin_command_is_inert(hostile: Any) -> None:
    server = hostile(lambda _r, out: json_reply(out, 400, {"error": {"message": _EVIL}}))
    code, out, err = _run(
        "server", "devices", "list", "--server", server.url, "--admin-token", ADMIN_TOKEN
    )
    assert code == 1 and out == ""
    assert err.startswith("Error: the server refused the request: ") and err.count("\n") == 1
    _assert_inert_line(err)


def test_server_text_in_admin_output_is_inert(hostile: Any) -> None:
    device = {
        "device_id": "dev-1",
        "project_id": "p-1",
        "role": "field",
        "name": "laptop\x1b[2J[b]x\u009b",
        **_KEYS,
        "enrolled_at": "2026-01-02T03:04:05Z",
        "revoked_at": None,
    }

    def answer(request: Request, out: BinaryIO) -> None:
        if request.path == "/v1/admin/devices":
            json_reply(out, 200, {"devices": [device]})
        else:
            json_reply(
                out, 200, {"code": "CODE\x1b[2J" + "x" * 8, "expires_at": "2026-01-02T00:00:00Z"}
            )

    server = hostile(answer)
    code, out, err = _run(
        "server", "devices", "list", "--server", server.url, "--admin-token", ADMIN_TOKEN
    )
    assert code == 0, err
    assert not CONTROL.search(out) and "laptop\N{REPLACEMENT CHARACTER}[2J" in out
    assert "[b]x" in out  # rich markup from the server is printed, not obeyed


def test_a_deep_reply_to_an_admin_command_is_one_error_line(hostile: Any) -> None:
    server = hostile(lambda _r, out: reply(out, 200, b"[" * 100_000 + b"]" * 100_000))
    code, _, err = _run(
        "server", "devices", "list", "--server", server.url, "--admin-token", ADMIN_TOKEN
    )
    assert code == 1 and err == "Error: the server's reply is nested more than 100 levels deep\n"


# --- the admin token and plain http -------------------------------------------------------------

_ADMIN_COMMANDS = {
    "devices list": ["server", "devices", "list"],
    "devices revoke": ["server", "devices", "revoke", "dev-1"],
}


def _admin_answer(request: Request, out: BinaryIO) -> None:
    device = {
        "device_id": "dev-1",
        "project_id": "p-1",
        "role": "field",
        "name": None,
        **_KEYS,
        "enrolled_at": "2026-01-02T03:04:05Z",
        "revoked_at": "2026-01-03T03:04:05Z",
    }
    if request.path.endswith("/revoke"):
        json_reply(out, 200, device)
    else:
        json_reply(out, 200, {"devices": [device]})


@pytest.mark.parametrize("command", sorted(_ADMIN_COMMANDS))
def test_an_admin_command_to_plain_http_elsewhere_is_refused_before_any_byte(
    hostile: Any, command: str
) -> None:
    # 0.0.0.0 is not a loopback address, yet Linux delivers a connection to it to this
    # machine: the listener on 127.0.0.1 would see any byte the command let out.
    server = hostile(_admin_answer)
    url = f"http://0.0.0.0:{server.port}"
    args = [*_ADMIN_COMMANDS[command], "--server", url, "--admin-token", ADMIN_TOKEN]
    code, out, err = _run(*args)
    assert code == 2 and out == ""
    assert err.startswith("Error: plain http would send the") and "--insecure-http" in err
    time.sleep(0.2)
    assert server.connections == 0 and server.requests == []
    # The same address with the explicit flag does reach the listener: the refusal was the rule.
    code, out, err = _run(*args, "--insecure-http")
    assert code == 0, err
    assert server.connections >= 1
    assert server.requests[0].headers["authorization"] == f"Bearer {ADMIN_TOKEN}"


def test_the_admin_client_refuses_plain_http_elsewhere_at_construction() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    try:
        with pytest.raises(UsageError, match="plain http"):
            AdminClient(f"http://0.0.0.0:{listener.getsockname()[1]}", ADMIN_TOKEN)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever connected
    finally:
        listener.close()


def test_a_refused_admin_token_says_so(hostile: Any) -> None:
    server = hostile(lambda _r, out: json_reply(out, 401, {"error": {"message": "no"}}))
    code, _, err = _run(
        "server", "devices", "list", "--server", server.url, "--admin-token", ADMIN_TOKEN
    )
    assert code == 4 and err == "Error: the server refused the admin token\n"


# --- the depth check itself -------------------------------------------------------------------

_TRICKY = st.text(alphabet='[]{}"\\ ab\u00e9\n', max_size=12)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TRICKY, inner, max_size=4),
    max_leaves=40,
)


def _true_depth(value: Any) -> int:
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict | list):
        return 1 + max((_true_depth(v) for v in children), default=0)
    return 0


@given(value=_VALUES, ascii_only=st.booleans())
@settings(max_examples=300, deadline=None)
def test_the_depth_check_agrees_with_the_real_depth(value: Any, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    depth = _true_depth(value)
    assert parse_json(body, max_depth=depth) == value
    if depth:
        with pytest.raises(TooDeep):
            parse_json(body, max_depth=depth - 1)
