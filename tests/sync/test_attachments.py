"""Attachments end to end on a real server: sealed at sync, pushed in parts, stored blind,
fetched, verified and decrypted by the coordinator; a breached server can neither swap nor
forge one (DESIGN §6a, issue 17)."""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path
from typing import Any

import pytest
from _client_kit import project

from fieldkit import exchange
from fieldkit.crypto.attachment import open_attachment, read_header
from fieldkit.errors import CryptoError
from fieldkit.exchange._attachments import pending_attachments, sealed_bytes
from fieldkit.forms import Form
from fieldkit.media import take_file
from fieldkit.store import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "media"))
from media_kit import CANARY, exif_tags, gps_jpeg, mp4  # noqa: E402

MEDIA_FORM: dict[str, Any] = {
    "type": "survey",
    "name": "data",
    "id_string": "evidence",
    "version": "1",
    "title": "Evidence",
    "default_language": "default",
    "children": [
        {"type": "text", "name": "site", "label": "Site"},
        {"type": "image", "name": "photo", "label": "Photo", "bind": {"required": "yes"}},
        {"type": "video", "name": "clip", "label": "Clip"},
    ],
}


def capture_files(
    ws: Workspace, folder: Path, *, photo: bytes, clip: bytes, chunk_size: int = 64 * 1024
) -> str:
    """One finalized record of MEDIA_FORM with its photo and clip copied in; its id."""
    version = ws.forms.get("evidence")
    form: Form = version.form()
    draft = ws.records.create_draft(form_id="evidence", form_version=version.version)
    answers = {"/data/site": "S1"}
    for name, data in (("photo", photo), ("clip", clip)):
        path = folder / f"{name}-{CANARY}.bin"
        path.write_bytes(data)
        taken = take_file(
            ws,
            form=form,
            node=form.named(name)[0],
            path_text=str(path),
            record_id=draft.id,
            question=f"/data/{name}",
            chunk_size=chunk_size,
        )
        answers[f"/data/{name}"] = taken.attachment.name
    ws.records.finalize(draft.id, answers=answers)
    return draft.id


def received_files(ws: Workspace, record_id: str) -> dict[str, bytes]:
    return {
        a.question: b"".join(ws.attachments.chunks(a.id))
        for a in ws.attachments.for_record(record_id)
        if a.complete
    }


@pytest.fixture
def evidence(tmp_path: Path, any_sync_server: Any) -> tuple[Workspace, Workspace, Any]:
    coordinator, field = project(tmp_path, any_sync_server.url, any_sync_server.admin_token)
    exchange.publish_form(coordinator, dict(MEDIA_FORM))
    exchange.sync(field)
    return coordinator, field, any_sync_server


def test_the_coordinator_receives_the_stripped_photo_and_the_video(
    tmp_path: Path, evidence: tuple[Workspace, Workspace, Any]
) -> None:
    coordinator, field, server = evidence
    photo, clip = gps_jpeg(), mp4(700_000)
    record_id = capture_files(field, tmp_path, photo=photo, clip=clip)
    stored_photo = received_files(field, record_id)["/data/photo"]
    summary = exchange.sync(field)
    assert summary.attachments.files == 2, summary
    assert field.attachments.unsent() == []
    pulled = exchange.pull(coordinator)
    assert pulled.records == 1 and pulled.attachments.files == 2, pulled
    files = received_files(coordinator, record_id)
    assert files["/data/clip"] == clip
    assert files["/data/photo"] == stored_photo
    assert not any(tag >> 16 == 0x8825 for tag in exif_tags(files["/data/photo"]))
    # Pulling again changes nothing and fetches nothing.
    again = exchange.pull(coordinator)
    assert again.attachments.files == 0 and again.attachments.bytes == 0


def test_the_server_holds_no_plaintext_of_an_attachment(
    tmp_path: Path, evidence: tuple[Workspace, Workspace, Any]
) -> None:
    coordinator, field, server = evidence
    clip = mp4(300_000)
    capture_files(field, tmp_path, photo=gps_jpeg(), clip=clip)
    exchange.sync(field)
    from sqlalchemy import select

    from sync.server.schema import attachment_parts

    with server.app.state.engine.connect() as conn:
        stored = b"".join(r.data for r in conn.execute(select(attachment_parts.c.data)))
    assert stored and clip[100:164] not in stored and CANARY.encode() not in stored
    assert b"ftypisom" not in stored


def _server_parts(server: Any) -> list[Any]:
    from sqlalchemy import select

    from sync.server.schema import attachment_parts

    with server.app.state.engine.connect() as conn:
        return list(conn.execute(select(attachment_parts)).mappings())


def _rewrite(server: Any, device_id: str, attachment_id: str, stream: bytes) -> None:
    """Play the breached server: replace an attachment's stored bytes with ``stream``."""
    from sqlalchemy import delete, insert, update

    from sync.server.schema import attachment_parts, attachments

    with server.app.state.engine.begin() as conn:
        conn.execute(
            delete(attachment_parts).where(
                attachment_parts.c.device_id == device_id,
                attachment_parts.c.attachment_id == attachment_id,
            )
        )
        conn.execute(
            insert(attachment_parts).values(
                device_id=device_id, attachment_id=attachment_id, offset=0, data=stream
            )
        )
        conn.execute(
            update(attachments)
            .where(
                attachments.c.device_id == device_id,
                attachments.c.attachment_id == attachment_id,
            )
            .values(sealed_size=len(stream), received=len(stream))
        )


def test_a_breached_server_cannot_swap_or_forge_an_attachment(
    tmp_path: Path, evidence: tuple[Workspace, Workspace, Any]
) -> None:
    coordinator, field, server = evidence
    first = capture_files(field, tmp_path, photo=gps_jpeg(marker="one"), clip=mp4(200_000))
    second = capture_files(field, tmp_path, photo=gps_jpeg(marker="two"), clip=mp4(200_000))
    exchange.sync(field)
    mine = {a.question: a for a in field.attachments.for_record(first)}
    theirs = {a.question: a for a in field.attachments.for_record(second)}
    device = field.device_id
    # 1. Swap: the first record's photo replaced by the second record's (a real, signed one).
    _rewrite(
        server,
        device,
        mine["/data/photo"].id,
        b"".join(sealed_bytes(field, theirs["/data/photo"].id)),
    )
    # 2. Forge: a stream sealed to the project's public key by someone without the device's
    # key (the server knows every public key), signed with a key of its own.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from fieldkit.crypto.attachment import new_sealer
    from fieldkit.exchange._state import enrolment
    from fieldkit.exchange._trust import Trust

    info = enrolment(field)
    pek = Trust(field, info.root, device_id=info.device_id).current_key()
    assert pek is not None
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    from sync.protocol import b64decode

    fake = mp4(200_000)
    sealer, _ = new_sealer(
        attachment_id=mine["/data/clip"].id,
        project_id=info.project_id,
        device_id=device,
        size=len(fake),
        recipients=[
            X25519PublicKey.from_public_bytes(b64decode(pek.public_key)),
            field.device.x25519.public_key(),  # public: the server holds it too
        ],
        chunk_size=64 * 1024,
    )
    plain = [fake[i : i + 64 * 1024] for i in range(0, len(fake), 64 * 1024)]
    chunks = [sealer.chunk(i, p) for i, p in enumerate(plain)]
    signature = sealer.signature(chunks, signing_key=Ed25519PrivateKey.generate())
    _rewrite(
        server, device, mine["/data/clip"].id, sealer.header.prefix + b"".join(chunks) + signature
    )
    pulled = exchange.pull(coordinator)
    assert len(pulled.attachments.refused) == 2, pulled.attachments
    assert any("another attachment id" in r for r in pulled.attachments.refused)
    assert any("signature" in r for r in pulled.attachments.refused)
    assert received_files(coordinator, first) == {}
    assert set(received_files(coordinator, second)) == {"/data/photo", "/data/clip"}


def test_the_sealed_stream_is_self_contained_and_verifiable(
    tmp_path: Path, evidence: tuple[Workspace, Workspace, Any]
) -> None:
    coordinator, field, _ = evidence
    clip = mp4(150_000)
    record_id = capture_files(field, tmp_path, photo=gps_jpeg(), clip=clip)
    from fieldkit.exchange._sealing import seal_pending

    seal_pending(field)
    pending = pending_attachments(field, record_id)
    assert {a.kind for a in pending} == {"image", "video"}
    video = next(a for a in pending if a.kind == "video")
    stream = b"".join(sealed_bytes(field, video.id))
    assert len(stream) == video.sealed_size
    assert hashlib.sha256(stream).hexdigest() == video.sealed_sha256
    assert b"".join(sealed_bytes(field, video.id, 12345)) == stream[12345:]
    header = read_header(io.BytesIO(stream))
    assert header.attachment_id == video.id and header.device_id == field.device_id
    from fieldkit.crypto.envelope import keys_by_id

    opened = open_attachment(
        io.BytesIO(stream),
        private_keys=keys_by_id([field.device.x25519]),
        verify_key=field.device.ed25519.public_key(),
        expected_sha256=bytes.fromhex(video.sealed_sha256 or ""),
    )
    assert b"".join(opened) == clip
    for cut in (0, 7, len(stream) // 2, len(stream) - 1):
        with pytest.raises(CryptoError):
            b"".join(
                open_attachment(
                    io.BytesIO(stream[:cut]),
                    private_keys=keys_by_id([field.device.x25519]),
                    verify_key=field.device.ed25519.public_key(),
                )
            )


def test_the_server_enforces_a_per_device_quota_and_checks_the_header(tmp_path: Path) -> None:
    from conftest import start_server_thread

    from fieldkit.errors import ProtocolError, SyncError
    from fieldkit.exchange._state import open_client

    server = start_server_thread(tmp_path / "server", attachment_quota_bytes=400_000)
    try:
        coordinator, field = project(tmp_path, server.url, server.admin_token)
        exchange.publish_form(coordinator, dict(MEDIA_FORM))
        exchange.sync(field)
        capture_files(field, tmp_path, photo=gps_jpeg(), clip=mp4(200_000))
        exchange.sync(field)  # 200 KB fits
        assert field.attachments.unsent() == []
        capture_files(field, tmp_path, photo=gps_jpeg(), clip=mp4(300_000))
        with pytest.raises(SyncError, match="quota"):
            exchange.sync(field)
        waiting = field.attachments.unsent()
        assert [a.kind for a in waiting] == ["video"]  # the photo fitted, the clip waits
        # A first part that is not a sealed header, or names another device, is refused.
        _, client = open_client(field)
        with client, pytest.raises(ProtocolError, match="header"):
            client.push_attachment_part("ab" * 16, offset=0, data=b"not a sealed stream")
        stream = b"".join(sealed_bytes(field, waiting[0].id))
        with client, pytest.raises(ProtocolError, match="another attachment"):
            client.push_attachment_part("cd" * 16, offset=0, data=stream[:70_000])
    finally:
        server.stop()


def test_a_bundle_carries_the_attachments_once(
    tmp_path: Path, evidence: tuple[Workspace, Workspace, Any]
) -> None:
    from fieldkit.exchange import bundle

    coordinator, field, _ = evidence
    photo, clip = gps_jpeg(), mp4(300_000)
    record_id = capture_files(field, tmp_path, photo=photo, clip=clip)
    stored = received_files(field, record_id)
    stick = tmp_path / "stick"
    stick.mkdir()
    made = bundle.export_records_bundle(field, stick).path
    assert made is not None and CANARY.encode() not in made.read_bytes()
    result = bundle.import_bundle(coordinator, made)
    assert result.extra == 2
    assert received_files(coordinator, record_id) == stored
    # The same bundle again, or a pull afterwards, fetches nothing more.
    assert bundle.import_bundle(coordinator, made).already_imported
    assert exchange.pull(coordinator).attachments.files == 0
