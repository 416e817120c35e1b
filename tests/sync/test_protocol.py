"""The wire models and canonical bytes of sync.protocol."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sync import protocol as p


def _header(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "v": 1,
        "record_id": str(uuid.uuid4()),
        "project_id": "p_abc",
        "form_id": "needs_assessment",
        "form_version": "2024010101",
        "kind": "record",
        "case_id": None,
        "replaces": None,
        "device_id": "d_xyz",
        "capture_day": "2026-11-28",
        "hlc": "0001732800000000:0000:d_xyz",
        "recipients": [{"key_id": "0123456789abcdef", "wrapped_key": p.b64encode(b"k" * 80)}],
    }
    base.update(over)
    return base


def _envelope(**over: object) -> p.Envelope:
    key = Ed25519PrivateKey.generate()
    header = p.EnvelopeHeader.model_validate(_header(**over))
    ct = p.b64encode(b"\x00" * 12 + b"opaque")
    unsigned = p.Envelope(header=header, ciphertext=ct, signature="A" * 86 + "==")
    sig = key.sign(p.signed_bytes(unsigned))
    return unsigned.model_copy(update={"signature": p.b64encode(sig)})


def test_canonical_header_bytes_are_sorted_compact_utf8() -> None:
    h = p.EnvelopeHeader.model_validate(_header(form_id="é"))
    raw = p.canonical_header_bytes(h)
    assert raw == p.canonical_header_bytes(h.model_dump(mode="json"))
    assert b" " not in raw and "é".encode() in raw
    keys = list(json.loads(raw))
    assert keys == sorted(keys)
    assert b'"case_id":null' in raw


def test_signed_bytes_is_header_plus_ciphertext_digest() -> None:
    env = _envelope()
    digest = hashlib.sha256(p.b64decode(env.ciphertext)).digest()
    assert p.signed_bytes(env) == p.canonical_header_bytes(env.header) + digest


def test_envelope_bytes_round_trip() -> None:
    env = _envelope()
    raw = p.canonical_envelope_bytes(env)
    again = p.Envelope.model_validate_json(raw)
    assert again == env and p.canonical_envelope_bytes(again) == raw
    assert raw == p.canonical_json(env.model_dump(mode="json"))


def test_key_id_and_info() -> None:
    raw = bytes(range(32))
    assert p.key_id(raw) == hashlib.sha256(raw).hexdigest()[:16]
    assert p.hpke_info("0123456789abcdef") == b"fieldkit/v1/data-key0123456789abcdef"


@pytest.mark.parametrize(
    "over",
    [
        {"record_id": "not-a-uuid"},
        {"record_id": str(uuid.uuid4()).upper()},
        {"v": 3},
        {"kind": "other"},
        {"capture_day": "28/11/2026"},
        {"recipients": []},
        {"surprise": 1},
        {"form_id": "a\nb"},
    ],
)
def test_header_rejects_bad_fields(over: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        p.EnvelopeHeader.model_validate(_header(**over))


def test_unknown_fields_forbidden_everywhere() -> None:
    with pytest.raises(ValidationError):
        p.PushRequest.model_validate({"envelopes": [], "x": 1})
    with pytest.raises(ValidationError):
        p.EnrollRequest.model_validate({"code_id": "0" * 32, "admin": True})


def test_batch_size_bounded() -> None:
    env = _envelope().model_dump(mode="json")
    with pytest.raises(ValidationError):
        p.PushRequest.model_validate({"envelopes": [env] * (p.MAX_BATCH + 1)})
    with pytest.raises(ValidationError):
        p.PushRequest.model_validate({"envelopes": []})


def test_pull_response_discriminates_change_types() -> None:
    env = _envelope()
    body = {
        "changes": [
            {
                "seq": 1,
                "type": "project_key",
                "key_id": "0123456789abcdef",
                "public_key": p.b64encode(b"\x01" * 32),
            },
            {"seq": 2, "type": "envelope", "envelope": env.model_dump(mode="json")},
            {
                "seq": 3,
                "type": "revocation",
                "device_id": "d_1",
                "revoked_at": "2026-11-28T10:00:00Z",
            },
        ],
        "next_cursor": "3",
        "has_more": False,
    }
    resp = p.PullResponse.model_validate(body)
    assert [type(c).__name__ for c in resp.changes] == [
        "ProjectKeyChange",
        "EnvelopeChange",
        "RevocationChange",
    ]


@given(st.binary(max_size=200))
def test_b64_round_trip(raw: bytes) -> None:
    assert p.b64decode(p.b64encode(raw)) == raw


@pytest.mark.parametrize("text", ["abc", "ab$=", "é"])
def test_b64decode_strict(text: str) -> None:
    with pytest.raises(ValueError):
        p.b64decode(text)


_printable = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=40
)


@given(form_id=_printable, form_version=_printable, ct=st.binary(min_size=28, max_size=300))
def test_fast_envelope_bytes_equal_the_one_encoder(
    form_id: str, form_version: str, ct: bytes
) -> None:
    header = p.EnvelopeHeader.model_validate(_header(form_id=form_id, form_version=form_version))
    env = p.Envelope(header=header, ciphertext=p.b64encode(ct), signature=p.b64encode(b"s" * 64))
    assert p.canonical_envelope_bytes(env) == p.canonical_json(env.model_dump(mode="json"))
    assert p.Envelope.model_validate_json(p.canonical_envelope_bytes(env)) == env
