"""Test helpers for the server tests: device keys, a project, enrolment, sealed envelopes.

Sealing and signing here follow sync.protocol with `cryptography` directly, so the server
tests do not depend on the client package: zlib-compressed canonical JSON, AES-256-GCM under a
fresh data key with the canonical header as AAD, the data key HPKE-wrapped to the project key,
Ed25519 signature over signed_bytes; statements signed by the project signing key and the
issuing coordinator over statement_bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

import requests
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync import protocol as p

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)


def raw_public(key: Any) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass
class Device:
    """An enrolled (or to-be-enrolled) device with its private keys and token."""

    x25519: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    ed25519: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    device_id: str = field(default_factory=lambda: secrets.token_hex(8))
    token: str = ""
    project_id: str = ""
    role: str = ""

    def keys(self, name: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "x25519": p.b64encode(raw_public(self.x25519)),
            "ed25519": p.b64encode(raw_public(self.ed25519)),
        }
        if name:
            out["name"] = name
        return out

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Project:
    project_id: str
    key: X25519PrivateKey
    coordinator: Device
    signing: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    @property
    def key_id(self) -> str:
        return p.key_id(raw_public(self.key))


def admin(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stamp() -> str:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def sign(
    signing: Ed25519PrivateKey,
    issuer: Device,
    kind: str,
    body: dict[str, Any],
    *,
    project_id: str,
    issued_at: str | None = None,
) -> dict[str, Any]:
    """A statement signed by the project key and by the issuing device."""
    unsigned = {
        "kind": kind,
        "project_id": project_id,
        "issuer": issuer.device_id,
        "issued_at": issued_at or stamp(),
        "body": body,
    }
    signed = p.statement_bytes(unsigned)
    return {
        **unsigned,
        "signature": p.b64encode(signing.sign(signed)),
        "issuer_signature": p.b64encode(issuer.ed25519.sign(signed)),
    }


def create_project(url: str, admin_token: str, name: str = "Test project") -> Project:
    key = X25519PrivateKey.generate()
    coord = Device()
    signing = Ed25519PrivateKey.generate()
    signing_public = raw_public(signing)
    project_id = p.project_id_of(signing_public)
    keys = coord.keys()
    statements = [
        sign(
            signing,
            coord,
            "project",
            {
                "name": name,
                "signing_key": p.b64encode(signing_public),
                "creator": coord.device_id,
                "creator_key": keys["ed25519"],
            },
            project_id=project_id,
        ),
        sign(
            signing,
            coord,
            "project_key",
            {
                "key_id": p.key_id(raw_public(key)),
                "public_key": p.b64encode(raw_public(key)),
                "generation": 1,
            },
            project_id=project_id,
        ),
        sign(
            signing,
            coord,
            "device",
            {"device_id": coord.device_id, "role": "coordinator", **keys, "name": None},
            project_id=project_id,
        ),
    ]
    r = requests.post(
        url + "/v1/projects",
        json={
            "statements": statements,
            "device": {"device_id": coord.device_id, **coord.keys("office laptop")},
        },
        headers=admin(admin_token),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    coord.token = body["token"]
    coord.project_id, coord.role = body["project_id"], "coordinator"
    return Project(project_id=body["project_id"], key=key, coordinator=coord, signing=signing)


def _hkdf(secret: bytes, info: bytes, length: int = 32) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret)


def offer(url: str, project: Project, role: str = "field", *, seconds: int = 600) -> bytes:
    """A coordinator-made enrolment offer posted to the server; returns the code's secret."""
    from datetime import UTC, datetime, timedelta

    secret = os.urandom(10)
    code_id = _hkdf(secret, b"fieldkit/v2/enrol-code-id", 16).hex()
    signing_key = p.b64encode(raw_public(project.signing))
    mac_key = _hkdf(secret, b"fieldkit/v2/enrol-mac-key")
    identity = b"fieldkit/v2/enrol-identity\n" + p.canonical_json(
        {"project_id": project.project_id, "signing_key": signing_key}
    )
    expires = datetime.now(UTC) + timedelta(seconds=seconds)
    body = {
        "code_id": code_id,
        "role": role,
        "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "identity_mac": p.b64encode(hmac.new(mac_key, identity, hashlib.sha256).digest()),
        "key_id": project.key_id,
        "sealed_secret": p.b64encode(
            SUITE.encrypt(
                secret,
                project.key.public_key(),
                info=b"fieldkit/v2/enrol-secret" + code_id.encode(),
            )
        ),
    }
    statement = sign(
        project.signing, project.coordinator, "enrol_offer", body, project_id=project.project_id
    )
    r = requests.post(
        url + "/v1/statements",
        json={"statement": statement},
        headers=project.coordinator.auth,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return secret


def enroll(url: str, admin_token: str, project: Project, role: str = "field") -> Device:
    """A device that spent a coordinator's code and was certified (admin_token is unused:
    codes are the coordinator's since v2; kept so the tests read as before)."""
    secret = offer(url, project, role)
    dev = Device()
    code_id = _hkdf(secret, b"fieldkit/v2/enrol-code-id", 16).hex()
    mac_key = _hkdf(secret, b"fieldkit/v2/enrol-mac-key")
    keys = dev.keys()
    fields = {"code_id": code_id, "device_id": dev.device_id, **keys, "name": None}
    mac = hmac.new(
        mac_key, b"fieldkit/v2/enrol-device\n" + p.canonical_json(fields), hashlib.sha256
    )
    r = requests.post(
        url + "/v1/enroll",
        json={
            "code_id": code_id,
            "device_id": dev.device_id,
            **keys,
            "mac": p.b64encode(mac.digest()),
        },
        timeout=10,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    dev.token, dev.role = body["token"], body["role"]
    dev.project_id = body["project"]["project_id"]
    cert = sign(
        project.signing,
        project.coordinator,
        "device",
        {"device_id": dev.device_id, "role": role, **keys, "name": None, "code_id": code_id},
        project_id=project.project_id,
    )
    r = requests.post(
        url + "/v1/statements",
        json={"statement": cert},
        headers=project.coordinator.auth,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return dev


def seal(
    device: Device,
    project: Project,
    answers: dict[str, str],
    *,
    record_id: str | None = None,
    **header_over: Any,
) -> p.Envelope:
    """A sealed, signed envelope of these answers from this device."""
    data_key = AESGCM.generate_key(bit_length=256)
    recipient_key_id = project.key_id
    wrapped = SUITE.encrypt(data_key, project.key.public_key(), info=p.hpke_info(recipient_key_id))
    header = p.EnvelopeHeader(
        record_id=record_id or str(uuid.uuid4()),
        project_id=header_over.pop("project_id", device.project_id),
        form_id=header_over.pop("form_id", "needs_assessment"),
        form_version=header_over.pop("form_version", "1"),
        device_id=header_over.pop("device_id", device.device_id),
        capture_day="2026-11-28",
        hlc="0001732800000000:0000",
        v=1,
        recipients=[p.Recipient(key_id=recipient_key_id, wrapped_key=p.b64encode(wrapped))],
        **header_over,
    )
    nonce = os.urandom(12)
    plain = zlib.compress(p.canonical_json({"answers": answers, "finalized_at": "2026-11-28"}))
    ct = nonce + AESGCM(data_key).encrypt(nonce, plain, p.canonical_header_bytes(header))
    unsigned = p.Envelope(header=header, ciphertext=p.b64encode(ct), signature="A" * 86 + "==")
    sig = device.ed25519.sign(p.signed_bytes(unsigned))
    return unsigned.model_copy(update={"signature": p.b64encode(sig)})


def open_envelope(project: Project, env: p.Envelope) -> dict[str, Any]:
    """The coordinator's side: unwrap, decrypt, decompress."""
    import json

    wrapped = p.b64decode(env.header.recipients[0].wrapped_key)
    data_key = SUITE.decrypt(wrapped, project.key, info=p.hpke_info(project.key_id))
    raw = p.b64decode(env.ciphertext)
    plain = AESGCM(data_key).decrypt(raw[:12], raw[12:], p.canonical_header_bytes(env.header))
    result: dict[str, Any] = json.loads(zlib.decompress(plain))
    return result


def push(url: str, device: Device, envelopes: list[p.Envelope], **kw: Any) -> requests.Response:
    body = {"envelopes": [e.model_dump(mode="json") for e in envelopes]}
    return requests.post(url + "/v1/push", json=body, headers=device.auth, timeout=60, **kw)


def pull_all(url: str, device: Device, *, limit: int = 500) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = "0"
    while True:
        r = requests.get(
            url + "/v1/pull",
            params={"cursor": cursor, "limit": limit},
            headers=device.auth,
            timeout=60,
        )
        assert r.status_code == 200, r.text
        body = p.PullResponse.model_validate_json(r.content)
        out.extend(c.model_dump(mode="json") for c in body.changes)
        cursor = body.next_cursor
        if not body.has_more:
            return out
