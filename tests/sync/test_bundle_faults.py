"""Bundles under faults (issue 18): damaged, forged, replayed, cut short, killed, a full stick."""

from __future__ import annotations

import os
import random
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _client_kit import PASSPHRASE, answers_of, capture, field_device, project, status_of

from fieldkit import exchange
from fieldkit.errors import CryptoError, StorageFull
from fieldkit.exchange import bundle
from fieldkit.exchange.joining import require_trust
from fieldkit.store import open_workspace
from sync.protocol import ErasureBody


def _stick(tmp_path: Path) -> Path:
    stick = tmp_path / "stick"
    stick.mkdir(exist_ok=True)
    return stick


def _fieldkit(home: Path, *args: str, **popen: object) -> subprocess.Popen[bytes]:
    env = dict(os.environ, FIELDKIT_PASSPHRASE=PASSPHRASE)
    env.pop("FIELDKIT_HOME", None)
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", "from fieldkit.cli import main; main()", "--home", str(home), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        **popen,
    )


@pytest.fixture
def delivered(tmp_path: Path, sync_server):  # type: ignore[no-untyped-def]
    """A coordinator, a field laptop with 3 finalized records, and their bundle."""
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    ids = capture(field, 3)
    path = bundle.export_records_bundle(field, _stick(tmp_path)).path
    assert path is not None
    return coordinator, field, ids, path


def test_a_truncated_bundle_is_refused_and_nothing_is_taken(delivered, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    coordinator, _, _, path = delivered
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 40, 10):
        short = tmp_path / f"short-{cut}.fkb"
        short.write_bytes(data[:cut])
        with pytest.raises(CryptoError, match="cut short|damaged") as caught:
            bundle.import_bundle(coordinator, short)
        assert "\n" not in str(caught.value) and "nothing was imported" in str(caught.value)
    assert answers_of(coordinator) == {}


def test_a_flipped_byte_anywhere_is_refused(delivered, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    coordinator, _, _, path = delivered
    data = path.read_bytes()
    rng = random.Random(18)
    spots = {9, 20, len(data) // 2, len(data) - 200, len(data) - 12, len(data) - 2}
    spots |= {rng.randrange(len(data)) for _ in range(20)}
    for spot in sorted(spots):
        bad = bytearray(data)
        bad[spot] ^= 0x01
        flipped = tmp_path / "flipped.fkb"
        flipped.write_bytes(bytes(bad))
        with pytest.raises(Exception) as caught:  # noqa: PT011 - which error depends on the spot
            bundle.import_bundle(coordinator, flipped)
        assert caught.type.__module__ == "fieldkit.errors", (spot, caught.value)
        assert "\n" not in str(caught.value)
    assert answers_of(coordinator) == {}
    assert coordinator.records.list() == []


def test_a_bundle_signed_by_a_device_the_project_never_certified_is_refused(
    delivered, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Someone with the stick re-signs the field laptop's items with a key of their own."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from fieldkit.exchange._container import BundleHeader, BundleReader, BundleWriter
    from sync.protocol import b64encode

    coordinator, _, _, path = delivered
    with BundleReader(path) as reader:
        reader.digest()
        items = list(reader.items())
        header = reader.header
    key = Ed25519PrivateKey.generate()
    for signer in ("0123456789abcdef", header.signer):
        forged = tmp_path / f"forged-{signer}.fkb"
        writer = BundleWriter(
            forged,
            BundleHeader("f" * 32, header.kind, header.project_id, signer, header.created_at),
        )
        for kind, payload in items:
            writer.add(kind, payload)
        writer.finish(lambda m: {"signature": b64encode(key.sign(m))})
        with pytest.raises(CryptoError, match="not certified|signature does not hold"):
            bundle.import_bundle(coordinator, forged)
    assert answers_of(coordinator) == {}


def test_a_bundle_signed_by_a_revoked_device_is_refused(delivered) -> None:  # type: ignore[no-untyped-def]
    coordinator, field, _, path = delivered
    exchange.revoke_device(coordinator, field.device_id)
    with pytest.raises(CryptoError, match="revoked"):
        bundle.import_bundle(coordinator, path)
    assert answers_of(coordinator) == {}


def test_a_bundle_from_a_device_not_certified_here_is_refused(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    from _client_kit import enroll, workspace

    coordinator, _ = project(tmp_path, sync_server.url, sync_server.admin_token)
    second = workspace(tmp_path, "second")
    enroll(coordinator, second, sync_server.url, role="coordinator")
    # Enrolled after the second coordinator last synced: its certificate is not there yet.
    late = field_device(tmp_path, sync_server.url, coordinator, name="late")
    capture(late, 1)
    path = bundle.export_records_bundle(late, _stick(tmp_path)).path
    assert path is not None
    info, trust = require_trust(second)
    assert trust.certificate(late.device_id) is None
    with pytest.raises(CryptoError, match="not certified"):
        bundle.import_bundle(second, path)
    assert second.bundles.imported_at("x") is None and answers_of(second) == {}


def test_an_old_bundle_replayed_after_erasure_brings_nothing_back(
    tmp_path: Path, sync_server
) -> None:  # type: ignore[no-untyped-def]
    from _client_kit import FORM

    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    with field.records.batch():
        draft = field.records.create_draft(
            form_id=FORM["id_string"], form_version=FORM["version"], case_id="CASE-7"
        )
        field.records.finalize(draft.id, answers={"/data/site": "KE-1"})
    kept = capture(field, 1)
    old = bundle.export_records_bundle(field, _stick(tmp_path)).path
    assert old is not None
    # The project orders case CASE-7 erased before the bundle reaches the coordinator.
    _, trust = require_trust(coordinator, signer=True)
    with coordinator.transaction():
        assert trust.accept(trust.issue("erasure", ErasureBody(case_id="CASE-7"))).accepted
        trust.flush()
    result = bundle.import_bundle(coordinator, old)
    assert set(answers_of(coordinator)) == set(kept)
    assert result.pulled.items_refused["its case was erased"] == 1
    assert bundle.import_bundle(coordinator, old).already_imported


def test_kill_9_during_import_then_import_again_is_exactly_once(
    tmp_path: Path, sync_server
) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    ids = set(capture(field, 1500))
    path = bundle.export_records_bundle(field, _stick(tmp_path)).path
    assert path is not None
    home = tmp_path / "coordinator"
    coordinator.close()
    pristine = tmp_path / "pristine"
    shutil.copytree(home, pristine)
    # How long a whole import takes, to aim the kills inside it.
    start = time.monotonic()
    done = _fieldkit(home, "bundle", "import", str(path), "--receipt-dir", str(tmp_path))
    _, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    whole = time.monotonic() - start
    rng = random.Random(9)
    killed = 0
    for _ in range(12):
        shutil.rmtree(home)
        shutil.copytree(pristine, home)
        proc = _fieldkit(home, "bundle", "import", str(path), "--receipt-dir", str(tmp_path))
        time.sleep(rng.uniform(0.5, 1.0) * whole)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        with open_workspace(home, passphrase=PASSPHRASE) as ws:
            taken = set(answers_of(ws))
        assert taken in (set(), ids)  # all or nothing: one transaction
        if proc.returncode == -signal.SIGKILL and not taken:
            killed += 1
            if killed == 3:
                break
    assert killed >= 1, "no kill landed inside an import"
    final = _fieldkit(home, "bundle", "import", str(path), "--receipt-dir", str(tmp_path))
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err.decode()
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        assert set(answers_of(ws)) == ids
        assert len(ws.records.list()) == len(ids)
        assert ws.audit.verify().ok


def test_a_full_stick_leaves_no_bundle_and_says_so(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    capture(field, 400)
    exchange.seal_pending(field)
    home = tmp_path / "field"
    field.close()
    stick = _stick(tmp_path)
    limit = 64 * 1024  # the stick fills up after 64 KiB of the bundle

    def small_stick() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = _fieldkit(home, "bundle", "export", "--out", str(stick), preexec_fn=small_stick)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: no room left"), lines
    assert list(stick.iterdir()) == []  # no partial file, under any name
    # With room, the same export works, and every record is still waiting.
    proc = _fieldkit(home, "bundle", "export", "--out", str(stick))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert [p.suffix for p in stick.iterdir()] == [".fkb"]
    with open_workspace(home, passphrase=PASSPHRASE) as ws:
        assert set(status_of(ws).values()) == {"finalized"}


def test_storage_full_error_names_no_content(tmp_path: Path) -> None:
    from fieldkit.exchange._container import BundleHeader, BundleWriter

    header = BundleHeader("a" * 32, "records", "p", "d", "2026-12-01T00:00:00.000Z")
    target = tmp_path / "x.fkb"

    def small() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "from pathlib import Path\n"
        "from fieldkit.exchange._container import BundleHeader, BundleWriter\n"
        "from fieldkit.errors import StorageFull\n"
        f"h = BundleHeader(*{tuple(header.as_json().values())[1:]!r})\n"
        f"w = BundleWriter(Path({str(target)!r}), h)\n"
        "try:\n"
        "    for i in range(200):\n"
        "        w.add('envelope', __import__('os').urandom(1000))\n"
        "    w.finish(lambda m: {'signature': ''})\n"
        "except StorageFull as e:\n"
        "    print(e); sys.exit(7)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=60, preexec_fn=small
    )
    assert proc.returncode == 7, proc.stderr.decode()
    assert list(tmp_path.iterdir()) == []
    assert isinstance(StorageFull("x"), Exception) and BundleWriter


def test_canary_never_appears_in_any_bundle(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    marker = "CANARY-" + secrets.token_hex(8)
    capture(field, 5, marker=marker)
    stick = _stick(tmp_path)
    records = bundle.export_records_bundle(field, stick).path
    taken = bundle.import_bundle(coordinator, records)  # type: ignore[arg-type]
    forms = bundle.export_project_bundle(coordinator, stick, role="field").path
    assert records and forms and taken.receipt
    assert marker in str(answers_of(coordinator))  # the coordinator reads it…
    for path in stick.iterdir():  # …and no bundle on the stick holds it, raw or compressed
        data = path.read_bytes()
        assert marker.encode() not in data
        import zlib

        start = data.index(b"}", 13) + 1
        inflated = zlib.decompressobj().decompress(data[start:])
        assert marker.encode() not in inflated
        assert b"account" not in inflated and b"KE-0" not in inflated
