"""What the benchmarks share: a server process, a PostgreSQL schema, a project and its devices.

This is the one place benchmarks set up projects and enrol devices (bench/sync.py,
bench/load.py, bench/link.py), so a change to enrolment is made here alone:

- ``create_project(ws, url, admin_token)``: the coordinator's workspace makes the project;
- ``Device.enroll(url, coordinator)`` / ``enrolment_codes(coordinator, n)`` +
  ``Device.from_enrolment``: a field device as bare keys (no workspace), for load that needs
  thousands of them; codes are the coordinator's (the server learns only their ids);
- ``enroll_workspace(ws, url, coordinator)``: a real field laptop's workspace, certified.
"""

from __future__ import annotations

import base64
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fieldkit import exchange  # noqa: E402
from fieldkit.crypto.envelope import seal  # noqa: E402
from fieldkit.store import Workspace  # noqa: E402
from sync.server import ServerSettings, init_server  # noqa: E402

PASSPHRASE = "bench violet tractor humming 27 lanterns"
WORDS = (
    "market river school clinic bus border farm factory kitchen harbour field road city "
    "village office shop night morning cousin agent promise salary passport debt phone"
).split()
RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
RAW_PRIVATE = (
    serialization.Encoding.Raw,
    serialization.PrivateFormat.Raw,
    serialization.NoEncryption(),
)


def b64(raw: bytes) -> str:
    """Standard base64 text of raw bytes."""
    return base64.b64encode(raw).decode("ascii")


def answers(rng: random.Random) -> dict[str, str]:
    """About 1 KB of answers as canonical JSON, varied like real text."""
    out = {"/data/site": f"KE-{rng.randrange(10000):04d}"}
    for i in range(24):
        out[f"/data/section/q{i:02d}"] = " ".join(rng.choice(WORDS) for _ in range(4))
    return out


# The form the benchmarks' records answer: a site and 24 short text questions (answers()).
BENCH_FORM: dict[str, Any] = {
    "type": "survey",
    "name": "data",
    "id_string": "needs_assessment",
    "version": "2026112801",
    "title": "Needs assessment (bench)",
    "default_language": "default",
    "children": [
        {"type": "text", "name": "site", "label": "Site"},
        {
            "type": "group",
            "name": "section",
            "label": "Section",
            "children": [
                {"type": "text", "name": f"q{i:02d}", "label": f"Question {i}"} for i in range(24)
            ],
        },
    ],
}


def finalize_records(ws: Workspace, count: int, *, seed: int) -> list[str]:
    """``count`` finalized (and so sealed) records of BENCH_FORM in ``ws``; their ids."""
    rng = random.Random(seed)
    ids = []
    with ws.records.batch():
        for _ in range(count):
            draft = ws.records.create_draft(
                form_id=BENCH_FORM["id_string"], form_version=BENCH_FORM["version"]
            )
            ws.records.finalize(draft.id, answers=answers(rng))
            ids.append(draft.id)
    return ids


# --- projects and devices ----------------------------------------------------------------------


def create_project(
    ws: Workspace, url: str, admin_token: str, name: str = "Bench", *, publish: bool = False
) -> None:
    """The coordinator's workspace creates the project (and is its first coordinator); with
    ``publish``, it publishes BENCH_FORM too."""
    exchange.create_project(ws, name, server=url, admin_token=admin_token)
    if publish:
        exchange.publish_form(ws, dict(BENCH_FORM))


def enroll_workspace(ws: Workspace, url: str, coordinator: Workspace) -> None:
    """Enrol a real field workspace with a code from ``coordinator``, who then certifies it."""
    code = exchange.make_code(coordinator, role="field", expires_seconds=3600).code
    exchange.enroll(ws, url, str(code))
    exchange.sync(coordinator)


def enrolment_codes(coordinator: Workspace, count: int) -> list[Any]:
    """``count`` one-time field enrolment codes (``EnrolmentCode``) made by the coordinator."""
    return [
        exchange.make_code(coordinator, role="field", expires_seconds=3600).code
        for _ in range(count)
    ]


def project_public(coordinator: Workspace) -> bytes:
    """The project's current encryption key (raw), which devices seal to."""
    keys = coordinator.state.get("sync.project_keys") or []
    current = max(keys, key=lambda k: int(k.get("generation") or 0))
    return base64.b64decode(current["public_key"])


@dataclass
class Device:
    """A field device as bare keys: enrolled through the API, no workspace (not certified:
    the server takes its pushes; a coordinator's pull holds them until it is)."""

    x: X25519PrivateKey
    ed: Ed25519PrivateKey
    device_id: str = ""
    token: str = ""
    project_id: str = ""
    project_public: bytes = b""

    @classmethod
    def new(cls, project_public: bytes = b"") -> Device:
        """Fresh keys and id, not enrolled yet."""
        return cls(
            X25519PrivateKey.generate(),
            Ed25519PrivateKey.generate(),
            device_id=secrets.token_hex(8),
            project_public=project_public,
        )

    @classmethod
    def enroll(cls, url: str, coordinator: Workspace) -> Device:
        """A new device, enrolled with a code of ``coordinator`` (blocking)."""
        device = cls.new(project_public(coordinator))
        code = enrolment_codes(coordinator, 1)[0]
        device.from_enrolment(_post(url + "/v1/enroll", device.enrolment_request(code)))
        return device

    def enrolment_request(self, code: Any) -> dict[str, Any]:
        """The body of ``POST /v1/enroll`` for this device and an ``EnrolmentCode``."""
        from fieldkit.crypto import enrolment as codes

        code_id = codes.code_id(code.secret)
        x = b64(self.x.public_key().public_bytes(*RAW))
        ed = b64(self.ed.public_key().public_bytes(*RAW))
        mac = codes.device_mac(
            code.secret, code=code_id, device_id=self.device_id, x25519=x, ed25519=ed, name=None
        )
        return {"code_id": code_id, "device_id": self.device_id, "x25519": x, "ed25519": ed,
                "mac": b64(mac)}  # fmt: skip

    def from_enrolment(self, reply: dict[str, Any]) -> None:
        """Take the server's enrolment reply."""
        self.token = reply["token"]
        self.project_id = reply["project"]["project_id"]

    def jobs(self, count: int, *, parts: int) -> list[dict[str, Any]]:
        """Sealing jobs (for ``seal_chunk`` in worker processes): ``count`` records in parts."""
        base = {
            "project_public": self.project_public,
            "device_x": self.x.private_bytes(*RAW_PRIVATE),
            "device_ed": self.ed.private_bytes(*RAW_PRIVATE),
            "project_id": self.project_id,
            "device_id": self.device_id,
        }
        sizes = [count // parts + (1 if i < count % parts else 0) for i in range(parts)]
        return [dict(base, count=n, seed=secrets.randbits(32)) for n in sizes if n]


def seal_chunk(job: dict[str, Any]) -> list[bytes]:
    """Seal one job's records (canonical envelope bytes, ready to push)."""
    project_key = X25519PublicKey.from_public_bytes(job["project_public"])
    device_x = X25519PrivateKey.from_private_bytes(job["device_x"])
    signer = Ed25519PrivateKey.from_private_bytes(job["device_ed"])
    rng = random.Random(job["seed"])
    out = []
    for _ in range(job["count"]):
        out.append(
            seal(
                record_id=str(uuid.uuid4()),
                project_id=job["project_id"],
                form_id="needs_assessment",
                form_version="2026112801",
                device_id=job["device_id"],
                capture_day="2026-11-28",
                hlc=f"{int(time.time() * 1000):015d}-00000-{job['device_id']}",
                body={"answers": answers(rng), "finalized_at": "2026-11-28T10:00:00.000Z"},
                recipients=[project_key, device_x.public_key()],
                signing_key=signer,
            )
        )
    return out


def _post(url: str, body: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.post(url, json=body, headers=headers, timeout=60)
    r.raise_for_status()
    result: dict[str, Any] = r.json()
    return result


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running ``fieldkit server run`` child."""

    url: str
    admin_token: str
    process: subprocess.Popen[bytes]


@contextmanager
def server_process(
    data_dir: Path, database_url: str | None, *, extra: tuple[str, ...] = ()
) -> Iterator[Server]:
    """``fieldkit server run --bench-endpoints`` as a child process, storage initialised."""
    data_dir.mkdir(parents=True, exist_ok=True)
    token = init_server(ServerSettings(data_dir=data_dir, database_url=database_url))
    port = free_port()
    args = [
        sys.executable, "-c", "from fieldkit.cli import main; main()", "server", "run",
        "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
        "--bench-endpoints", *extra,
    ]  # fmt: skip
    if database_url:
        args += ["--database-url", database_url]
    log = (data_dir / "server.log").open("ab")
    proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/v1/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start; see " + str(data_dir / "server.log"))
            time.sleep(0.1)
        yield Server(url=url, admin_token=token, process=proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it answers."""
    import psycopg

    url = (
        os.environ.get("FIELDKIT_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    try:
        with psycopg.connect(url, connect_timeout=5):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL unavailable ({exc.__class__.__name__})"


@contextmanager
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test database (or in fieldkit_dev_client), dropped afterwards."""
    import psycopg

    base = os.environ.get("FIELDKIT_TEST_DATABASE_URL")
    if not base:
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'fieldkit_dev_client'"
            ).fetchone():
                conn.execute("CREATE DATABASE fieldkit_dev_client")
        base = "postgresql://postgres@127.0.0.1:5432/fieldkit_dev_client"
    schema = "bench_" + secrets.token_hex(4)
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def load_average() -> float:
    """The 1-minute load average now (the machine is shared: every benchmark records it)."""
    return round(os.getloadavg()[0], 2)
