"""Sealing and opening envelopes: round trip, tampering, wrong recipients, re-routing."""

from __future__ import annotations

import base64
import json
import uuid
import zlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldkit.crypto.envelope import (
    open_envelope,
    padded_size,
    read_envelope,
    seal,
    verify_envelope,
)
from fieldkit.crypto.hpke import key_id
from fieldkit.errors import CryptoError
from sync.protocol import canonical_header_bytes, canonical_json, hpke_info


def signed_bytes(header: dict[str, Any], ciphertext: bytes) -> bytes:
    """What a device signs, written out here (sync.protocol.signed_bytes is the one used)."""
    import hashlib

    return canonical_header_bytes(header) + hashlib.sha256(ciphertext).digest()


PROJECT = X25519PrivateKey.generate()
SECOND_PROJECT_KEY = X25519PrivateKey.generate()
DEVICE_X = X25519PrivateKey.generate()
DEVICE_SIGN = Ed25519PrivateKey.generate()
BODY = {"answers": {"/data/site": "KE-0101", "/data/name": "Amina ✓"}, "finalized_at": "2026-11-28"}


def _seal(**overrides: Any) -> bytes:
    args: dict[str, Any] = {
        "record_id": str(uuid.uuid4()),
        "project_id": "p-1",
        "form_id": "needs_assessment",
        "form_version": "2026112801",
        "device_id": "d-1",
        "capture_day": "2026-11-28",
        "hlc": "000001764331200000:00000:d-1",
        "body": BODY,
        "recipients": [PROJECT.public_key(), DEVICE_X.public_key()],
        "signing_key": DEVICE_SIGN,
    }
    args.update(overrides)
    return seal(**args)


def _open(blob: bytes | dict[str, Any], keys: list[X25519PrivateKey] | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    return open_envelope(
        blob, private_keys=keys or [PROJECT], verify_key=DEVICE_SIGN.public_key(), **kw
    )


def test_round_trip_for_project_and_device_key() -> None:
    blob = _seal(case_id="c-9", replaces=str(uuid.uuid4()))
    for key in (PROJECT, DEVICE_X):
        opened = _open(blob, [key])
        assert opened.body == BODY
        assert opened.header["case_id"] == "c-9"
    header = json.loads(blob)["header"]
    assert {r["key_id"] for r in header["recipients"]} == {
        key_id(PROJECT.public_key()),
        key_id(DEVICE_X.public_key()),
    }


def test_envelope_is_canonical_json_and_hides_answers() -> None:
    blob = _seal()
    data = json.loads(blob)
    assert (
        blob == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert b"KE-0101" not in blob and b"Amina" not in blob
    # The data key is fresh per record: the same body sealed twice gives other ciphertext.
    assert json.loads(_seal())["ciphertext"] != data["ciphertext"]


def test_signature_covers_header_and_ciphertext_hash() -> None:
    blob = _seal()
    header, ciphertext, signature = read_envelope(blob)
    DEVICE_SIGN.public_key().verify(signature, signed_bytes(header, ciphertext))
    assert signed_bytes(header, ciphertext).startswith(canonical_header_bytes(header))


HEADER_CHANGES = {
    "record_id": str(uuid.uuid4()),
    "project_id": "p-2",
    "form_id": "other",
    "form_version": "1",
    "kind": "case_event",
    "case_id": "c-1",
    "replaces": str(uuid.uuid4()),
    "device_id": "d-2",
    "capture_day": "2020-01-01",
    "hlc": "000000000000000001:00000:d-1",
}


@pytest.mark.parametrize("field", sorted(HEADER_CHANGES))
def test_tampered_header_field_is_refused(field: str) -> None:
    data = json.loads(_seal())
    data["header"][field] = HEADER_CHANGES[field]
    with pytest.raises(CryptoError):
        _open(data)


def test_tampered_header_even_with_a_fresh_signature_fails_the_aad() -> None:
    # Someone who could sign (but never held the data key) re-routes: AES-GCM's AAD still fails.
    data = json.loads(_seal())
    data["header"]["form_id"] = "other"
    _, ciphertext, _ = read_envelope(data)
    data["signature"] = base64.b64encode(
        DEVICE_SIGN.sign(signed_bytes(data["header"], ciphertext))
    ).decode()
    with pytest.raises(CryptoError, match="does not decrypt"):
        _open(data)


def test_swapped_wrapped_key_is_refused() -> None:
    data = json.loads(_seal())
    other = json.loads(_seal())
    data["header"]["recipients"] = other["header"]["recipients"]
    with pytest.raises(CryptoError):
        _open(data)


@settings(max_examples=60, deadline=None)
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_ciphertext_bit_flip_is_refused(position: int, bit: int) -> None:
    data = json.loads(BLOB_FOR_FLIPS)
    raw = bytearray(base64.b64decode(data["ciphertext"]))
    raw[position % len(raw)] ^= 1 << bit
    data["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(CryptoError):
        _open(data)


BLOB_FOR_FLIPS = _seal()


@settings(max_examples=40, deadline=None)
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_signature_bit_flip_is_refused(position: int, bit: int) -> None:
    data = json.loads(BLOB_FOR_FLIPS)
    raw = bytearray(base64.b64decode(data["signature"]))
    raw[position % len(raw)] ^= 1 << bit
    data["signature"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(CryptoError, match="signature"):
        _open(data)


def test_wrong_recipient_cannot_open() -> None:
    blob = _seal(recipients=[PROJECT.public_key()])
    with pytest.raises(CryptoError, match="not sealed to any key"):
        _open(blob, [X25519PrivateKey.generate(), DEVICE_X])


def test_a_recipient_entry_renamed_to_another_key_id_does_not_open() -> None:
    # The wrap is bound to the key id through HPKE's info: relabelling it breaks the unwrap.
    data = json.loads(_seal(recipients=[PROJECT.public_key()]))
    data["header"]["recipients"][0]["key_id"] = key_id(SECOND_PROJECT_KEY.public_key())
    with pytest.raises(CryptoError):
        _open(data, [SECOND_PROJECT_KEY])


def test_wrong_signer_is_refused() -> None:
    blob = _seal(signing_key=Ed25519PrivateKey.generate())
    with pytest.raises(CryptoError, match="signature"):
        _open(blob)


def test_rerouted_to_another_project_is_refused() -> None:
    blob = _seal(project_id="p-other")
    assert _open(blob).header["project_id"] == "p-other"
    with pytest.raises(CryptoError, match="another project"):
        _open(blob, project_id="p-1")
    with pytest.raises(CryptoError, match="another device"):
        verify_envelope(blob, verify_key=DEVICE_SIGN.public_key(), device_id="d-9")


def test_several_project_keys_each_open() -> None:
    blob = _seal(recipients=[PROJECT.public_key(), SECOND_PROJECT_KEY.public_key()])
    assert _open(blob, [SECOND_PROJECT_KEY]).body == BODY


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.pop("signature"),
        lambda d: d.update(extra=1),
        lambda d: d["header"].update(extra="x"),
        lambda d: d["header"].update(v=3),
        lambda d: d["header"].update(recipients=[]),
        lambda d: d["header"].update(record_id=5),
        lambda d: d.update(ciphertext="not base64!"),
        lambda d: d.update(ciphertext=base64.b64encode(b"short").decode()),
    ],
)
def test_malformed_envelopes_are_crypto_errors(mutate: Any) -> None:
    data = json.loads(_seal())
    mutate(data)
    with pytest.raises(CryptoError):
        _open(data)


def test_not_json_is_a_crypto_error() -> None:
    with pytest.raises(CryptoError):
        _open(b"\xff{")


def test_decompression_bomb_is_refused() -> None:
    # Seal by hand a body that inflates past the limit; the signature and AAD are valid.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from fieldkit.crypto.hpke import wrap

    data = json.loads(_seal(recipients=[PROJECT.public_key()]))
    header = data["header"]
    data_key = AESGCM.generate_key(bit_length=256)
    kid = key_id(PROJECT.public_key())
    header["recipients"] = [
        {
            "key_id": kid,
            "wrapped_key": base64.b64encode(
                wrap(data_key, public_key=PROJECT.public_key(), info=hpke_info(kid))
            ).decode(),
        }
    ]
    nonce = b"\x00" * 12
    header["v"] = 1  # unpadded, as the first protocol sealed
    bomb = zlib.compress(b" " * (20 * 1024 * 1024), 9)
    ciphertext = nonce + AESGCM(data_key).encrypt(nonce, bomb, canonical_json(header))
    data["ciphertext"] = base64.b64encode(ciphertext).decode()
    data["signature"] = base64.b64encode(
        DEVICE_SIGN.sign(signed_bytes(header, ciphertext))
    ).decode()
    with pytest.raises(CryptoError, match="size limit"):
        _open(data)


def test_sealed_envelope_follows_the_wire_contract() -> None:
    from sync.protocol import Envelope, canonical_envelope_bytes
    from sync.protocol import signed_bytes as wire_signed_bytes

    blob = _seal(case_id="c-9", replaces=str(uuid.uuid4()))
    model = Envelope.model_validate_json(blob)
    # The server stores canonical_envelope_bytes: identical to what the device sealed, so a
    # resend is a `duplicate`, never a `conflict`.
    assert canonical_envelope_bytes(model) == blob
    header, ciphertext, _ = read_envelope(blob)
    assert wire_signed_bytes(model) == signed_bytes(header, ciphertext)


def test_bodies_are_padded_to_size_buckets() -> None:
    # Interviews that took other branches (a few answers more or less) give ciphertexts of
    # the same length: the length says which bucket, not how many answers.
    short = {"answers": {f"/data/q{i}": "no" for i in range(5)}, "finalized_at": "2026-11-28"}
    longer = {"answers": {f"/data/q{i}": "yes" for i in range(12)}, "finalized_at": "2026-11-28"}
    sizes = {
        len(read_envelope(_seal(body=body, recipients=[PROJECT.public_key()]))[1])
        for body in (short, longer)
    }
    assert len(sizes) == 1
    assert [padded_size(n) for n in (1, 256, 257, 65536, 65537)] == [
        256,
        256,
        512,
        65536,
        131072,
    ]
    for body in (short, longer):
        assert _open(_seal(body=body)).body == body


def test_envelopes_of_the_first_protocol_still_open() -> None:
    # Unpadded (v = 1): a coordinator after an upgrade still reads records sealed before it.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from fieldkit.crypto.hpke import wrap

    data = json.loads(_seal(recipients=[PROJECT.public_key()]))
    header = data["header"]
    header["v"] = 1
    data_key = AESGCM.generate_key(bit_length=256)
    kid = key_id(PROJECT.public_key())
    blob = wrap(data_key, public_key=PROJECT.public_key(), info=hpke_info(kid))
    header["recipients"] = [{"key_id": kid, "wrapped_key": base64.b64encode(blob).decode()}]
    nonce = b"\x01" * 12
    plain = zlib.compress(canonical_json(BODY))
    ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plain, canonical_json(header))
    data["ciphertext"] = base64.b64encode(ciphertext).decode()
    data["signature"] = base64.b64encode(
        DEVICE_SIGN.sign(signed_bytes(header, ciphertext))
    ).decode()
    assert _open(data).body == BODY
