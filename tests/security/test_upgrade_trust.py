"""A project made before signed statements keeps working, then gets its signing identity.

The project is laid down as the first protocol left it — server rows without a signing key,
workspaces whose state names a project key taken on trust — then a coordinator runs
`project upgrade-trust`, and a field laptop pins the identity with `project trust FP`.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _client_kit import FORM, capture, workspace
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy import insert

from fieldkit import exchange
from fieldkit.errors import CryptoError, UsageError
from fieldkit.store import Workspace
from sync import protocol as p
from sync.server.auth import hash_secret
from sync.server.feed import append_changes
from sync.server.schema import devices, project_keys, projects

pytestmark = pytest.mark.slow


def _legacy_project(breached: Any, coordinator: Workspace, field: Workspace) -> None:
    """What the first protocol left on the server and in the two workspaces."""
    key = X25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    kid, project_id, now = p.key_id(public), "p_" + secrets.token_hex(8), datetime.now(UTC)
    with breached.engine().begin() as conn:
        conn.execute(insert(projects).values(project_id=project_id, name="Old", created_at=now))
        conn.execute(
            insert(project_keys).values(
                project_id=project_id, key_id=kid, public_key=p.b64encode(public), created_at=now
            )
        )
        append_changes(conn, [(project_id, "project_key", kid, None)])
        for ws, role in ((coordinator, "coordinator"), (field, "field")):
            token = secrets.token_urlsafe(32)
            device_id = "d_" + secrets.token_hex(8)
            conn.execute(
                insert(devices).values(
                    device_id=device_id,
                    project_id=project_id,
                    role=role,
                    name=f"{role} laptop",
                    x25519=p.b64encode(ws.device.x25519_public),
                    ed25519=p.b64encode(ws.device.ed25519_public),
                    token_hash=hash_secret(token),
                    enrolled_at=now,
                )
            )
            keys = {"key_id": kid, "public_key": p.b64encode(public)}
            if role == "coordinator":
                keys["private_key"] = base64.b64encode(private).decode()
            with ws.transaction():
                for name, value in {
                    "server_url": breached.url,
                    "token": token,
                    "device_id": device_id,
                    "project_id": project_id,
                    "project_name": "Old",
                    "role": role,
                    "insecure_http": False,
                    "ca_bundle": None,
                    "cursor": "0",
                    "project_keys": [keys],
                }.items():
                    ws.state.set("sync." + name, value)


def test_an_old_project_keeps_working_and_upgrades(tmp_path: Path, breached: Any) -> None:
    coordinator, field = workspace(tmp_path, "coordinator"), workspace(tmp_path, "field")
    _legacy_project(breached, coordinator, field)
    # As before the upgrade: forms unsigned, records verified by the server's device list.
    exchange.publish_form(coordinator, dict(FORM))
    assert exchange.sync(field).pulled.forms == 1
    before = capture(field, 2)
    assert exchange.sync(field).sent == 2
    assert exchange.pull(coordinator).records == 2
    assert exchange.project_info(coordinator).fingerprint is None
    with pytest.raises(UsageError, match="upgrade-trust"):
        exchange.make_code(coordinator, role="field", expires_seconds=600)

    asked: list[tuple[str, str]] = []

    def confirm(device_id: str, role: str, name: str | None, fingerprint: str) -> bool:
        asked.append((role, fingerprint))
        return True

    upgraded = exchange.upgrade_trust(coordinator, confirm=confirm)
    field_key = exchange.device_fingerprint(p.b64encode(field.device.ed25519_public))
    assert asked == [("field", field_key)]  # what `project show` prints on that laptop
    assert upgraded.forms == 1 and len(upgraded.certified) == 1
    assert exchange.project_info(field).device_fingerprint == field_key
    with pytest.raises(UsageError, match="already has a signing identity"):
        exchange.upgrade_trust(coordinator, confirm=confirm)

    # The field laptop still syncs as before until it pins the identity; a wrong fingerprint
    # changes nothing.
    exchange.sync(field)
    with pytest.raises(CryptoError, match="not the one you were given"):
        exchange.trust_project(field, "AAAA-" + upgraded.fingerprint[5:])
    assert exchange.enrolment(field).root is None
    root = exchange.trust_project(field, upgraded.fingerprint.lower())
    assert root.fingerprint == upgraded.fingerprint
    info = exchange.project_info(field)
    assert info.certified is True and info.key_generation == 1
    # From now on it takes only what the project signs, and the coordinator checks its records
    # against the certificate it confirmed.
    exchange.publish_form(coordinator, dict(FORM, version="2026120301"))
    assert exchange.sync(field).pulled.forms == 1
    after = capture(field, 1)
    exchange.sync(field)
    pulled = exchange.pull(coordinator)
    assert pulled.records == 1 and pulled.refused == []
    assert {r.id for r in coordinator.records.list()} >= {*before, *after}
    # New laptops now enrol with coordinator-made codes.
    late = workspace(tmp_path, "late")
    exchange.enroll(
        late,
        breached.url,
        str(exchange.make_code(coordinator, role="field", expires_seconds=600).code),
    )
    assert exchange.project_info(late).fingerprint == upgraded.fingerprint
