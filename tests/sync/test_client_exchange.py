"""Enrol, sync, pull, approve, conflict, revoke: real workspaces against a real server."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from _client_kit import (
    FORM,
    answers_of,
    capture,
    enroll,
    enroll_code,
    project,
    revoke,
    status_of,
    workspace,
)
from _proxy import CuttingProxy

from fieldkit import exchange
from fieldkit.crypto.envelope import seal
from fieldkit.errors import AuthError, NotEnrolled, ServerUnreachable, UsageError


def test_enrol_sync_pull_round_trip(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    # Enrolment brought the published form and keeps the token inside the workspace only.
    assert [f.form_id for f in field.forms.list()] == ["household"]
    assert field.state.get("sync.role") == "field"
    assert not any(sync_server.data_dir.rglob("*token*"))

    ids = capture(field, 3)
    assert set(status_of(field).values()) == {"finalized"}  # sealed at sync, not before
    assert len(field.records.unsealed()) == 3 and field.records.unsent() == []

    steps: list[tuple[str, int, int | None]] = []
    summary = exchange.sync(field, progress=lambda *a: steps.append(a))
    assert (summary.sent, summary.already_on_server, summary.waiting) == (3, 0, 0)
    assert summary.conflicts == [] and summary.rejected == []
    assert ("push", 3, 3) in steps
    assert set(status_of(field).values()) == {"sent"}
    assert "Sent 3 records; 0 waiting." in summary.line()

    again = exchange.sync(field)
    assert (again.sent, again.waiting) == (0, 0)

    pulled = exchange.pull(coordinator)
    assert pulled.records == 3 and pulled.refused == []
    received = answers_of(coordinator)
    assert set(received) == set(ids)
    assert received[ids[1]]["/data/site"] == "KE-0001"
    record = coordinator.records.get(ids[1])
    assert record.form_id == "household" and record.origin == "received"

    # Pulling twice changes nothing.
    before = {r.id: r for r in coordinator.records.list()}
    assert exchange.pull(coordinator).records == 0
    assert {r.id: r for r in coordinator.records.list()} == before


def test_replaced_versions_are_kept_as_history(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    (first,) = capture(field, 1)
    exchange.sync(field)
    edit = field.records.replace(first)
    answers = dict(field.records.get(first).answers, **{"/data/size": "4"})
    field.records.finalize(edit.id, answers=answers)
    assert exchange.sync(field).sent == 1
    exchange.pull(coordinator)
    received = {r.id: r for r in coordinator.records.list() if r.origin == "received"}
    assert set(received) == {first, edit.id}
    assert received[edit.id].replaces == first
    assert received[edit.id].answers["/data/size"] == "4"
    assert received[first].answers["/data/size"] == "1"


def test_records_finalized_before_enrolment_are_sealed_then(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator = workspace(tmp_path, "coordinator")
    exchange.create_project(
        coordinator, "P", server=sync_server.url, admin_token=sync_server.admin_token
    )
    exchange.publish_form(coordinator, dict(FORM))
    field = workspace(tmp_path, "field")
    field.forms.add(dict(FORM))
    ids = capture(field, 2)
    assert field.records.unsent() == []  # no project key yet: nothing sealed
    with pytest.raises(NotEnrolled):
        exchange.sync(field)
    enroll(coordinator, field, sync_server.url)
    assert exchange.sync(field).sent == 2
    exchange.pull(coordinator)
    assert set(answers_of(coordinator)) == set(ids)


def test_same_id_other_bytes_is_a_conflict_and_the_original_stays(
    tmp_path: Path, sync_server
) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    (rid,) = capture(field, 1)
    exchange.sync(field)
    record = field.records.get(rid)
    assert record.hlc
    # The same record id sealed again with other answers (a bug, or a tampered device).
    header = {
        "record_id": rid,
        "project_id": field.state.get("sync.project_id"),
        "form_id": record.form_id,
        "form_version": record.form_version,
        "device_id": field.state.get("sync.device_id"),
        "capture_day": record.capture_day,
        "hlc": record.hlc,
    }
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    project_key = X25519PublicKey.from_public_bytes(
        base64.b64decode(field.state.get("sync.project_keys")[0]["public_key"])
    )
    other = seal(
        **header,
        body={"answers": {"/data/site": "FORGED"}, "finalized_at": record.finalized_at},
        recipients=[project_key],
        signing_key=field.device.ed25519,
    )
    field.records.set_envelope(rid, other)
    summary = exchange.sync(field)
    assert summary.conflicts == [rid]
    assert summary.sent == 0 and summary.waiting == 1
    assert "1 in conflict" in summary.line()
    assert [e.record_id for e in field.records.unsent()] == [rid]  # not marked sent
    exchange.pull(coordinator)
    assert answers_of(coordinator)[rid]["/data/site"] == "KE-0000"


def test_second_coordinator_gets_the_project_keys_once_certified(
    tmp_path: Path, sync_server
) -> None:  # type: ignore[no-untyped-def]
    url, admin = sync_server.url, sync_server.admin_token
    coordinator, field = project(tmp_path, url, admin)
    ids = capture(field, 2)
    exchange.sync(field)
    second = workspace(tmp_path, "second")
    exchange.enroll(second, url, enroll_code(coordinator, role="coordinator"))
    with pytest.raises(AuthError, match="the project keys have not reached this laptop"):
        exchange.pull(second)
    # A field device cannot be handed the keys.
    with pytest.raises(UsageError, match="not a certified coordinator"):
        exchange.approve_coordinator(coordinator, field.state.get("sync.device_id"))
    certified = exchange.sync(coordinator).pulled.certified
    assert certified == [(second.device_id, "coordinator")]
    summary = exchange.pull(second)
    assert summary.keys == 2  # the signing key and the one encryption key
    assert set(answers_of(second)) == set(ids)
    # The second coordinator can now make codes and certify devices itself.
    third = workspace(tmp_path, "third")
    enroll(second, third, url)
    assert exchange.project_info(third).certified is False
    exchange.sync(third)
    assert exchange.project_info(third).certified is True
    # The field device never holds a private half.
    assert all(not k.get("private_key") for k in field.state.get("sync.project_keys"))
    assert field.state.get("trust.signing_private") is None


def test_a_record_whose_signature_does_not_match_the_certified_key_is_refused(
    tmp_path: Path, sync_server
) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    capture(field, 2)
    exchange.sync(field)
    # The coordinator's certificate names another Ed25519 key for that device: every record
    # from it is refused, nothing is imported.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    wrong = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    devices = coordinator.state.get("trust.devices")
    devices[field.device_id]["ed25519"] = base64.b64encode(wrong).decode()
    coordinator.state.set("trust.devices", devices)
    pulled = exchange.pull(coordinator)
    assert pulled.records == 0 and len(pulled.refused) == 2
    assert all("signature" in why for _, why in pulled.refused)
    assert answers_of(coordinator) == {}


def test_revoked_device_gets_a_clear_error(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    capture(field, 1)
    revoke(sync_server.url, sync_server.admin_token, field.state.get("sync.device_id"))
    with pytest.raises(AuthError, match="this device's access was revoked"):
        exchange.sync(field)
    assert status_of(field) and set(status_of(field).values()) == {"finalized"}


def test_unreachable_server_is_reported_at_once(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    _, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    capture(field, 4)
    sync_server.stop()
    start = time.monotonic()
    with pytest.raises(ServerUnreachable, match="server unreachable.*4 records waiting"):
        exchange.sync(field)
    assert time.monotonic() - start < 3


def test_server_override_goes_through_a_proxy(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    _, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    capture(field, 2)
    port = int(sync_server.url.rsplit(":", 1)[1])
    with CuttingProxy(port) as proxy:
        summary = exchange.sync(field, server=proxy.url)
        assert proxy.connections >= 1
    assert summary.sent == 2 and summary.server == proxy.url


def test_enrolling_twice_is_refused(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    _, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    with pytest.raises(UsageError, match="already enrolled"):
        exchange.enroll(field, sync_server.url, "whatever-code")


def test_a_record_sealed_for_another_project_is_rejected_not_sent(
    tmp_path: Path, sync_server
) -> None:  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    _, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    (rid,) = capture(field, 1)
    exchange.seal_pending(field)
    record = field.records.get(rid)
    project_key = X25519PublicKey.from_public_bytes(
        base64.b64decode(field.state.get("sync.project_keys")[0]["public_key"])
    )
    rerouted = seal(
        record_id=rid,
        project_id="another-project",
        form_id=record.form_id,
        form_version=record.form_version,
        device_id=field.state.get("sync.device_id"),
        capture_day=record.capture_day,
        hlc=record.hlc,
        body={"answers": record.answers, "finalized_at": record.finalized_at},
        recipients=[project_key],
        signing_key=field.device.ed25519,
    )
    field.records.set_envelope(rid, rerouted)
    summary = exchange.sync(field)
    assert summary.sent == 0 and summary.waiting == 1
    assert summary.rejected == [(rid, "project_id is not the project of this device")]
    assert "1 rejected" in summary.line()
    assert status_of(field)[rid] == "finalized"


def test_a_signed_revocation_stops_the_laptop_and_a_coordinator_is_followed_by_a_rotation(
    tmp_path: Path, sync_server
) -> None:  # type: ignore[no-untyped-def]
    url, admin = sync_server.url, sync_server.admin_token
    coordinator, field = project(tmp_path, url, admin)
    second = workspace(tmp_path, "second")
    enroll(coordinator, second, url, role="coordinator")
    exchange.pull(second)  # takes the project keys
    result = exchange.revoke_device(coordinator, field.device_id)
    assert result.rotated_to is None
    capture(field, 1)
    with pytest.raises(AuthError, match="revoked"):
        exchange.sync(field)
    listed = {d["device_id"]: d for d in exchange.certified_devices(coordinator)}
    assert listed[field.device_id]["revoked_at"]
    # Revoking a coordinator rotates the encryption key; the remaining coordinators get it.
    third = workspace(tmp_path, "third")
    enroll(coordinator, third, url, role="coordinator")
    exchange.pull(third)
    assert exchange.revoke_device(coordinator, second.device_id).rotated_to == 2
    exchange.pull(third)
    assert exchange.project_info(third).key_generation == 2
    late = workspace(tmp_path, "late")
    enroll(coordinator, late, url)
    ids = capture(late, 1)
    exchange.sync(late)
    assert exchange.pull(third).records == 1 and set(answers_of(third)) >= set(ids)
    with pytest.raises(UsageError, match="does not revoke its own"):
        exchange.revoke_device(coordinator, coordinator.device_id)


def test_the_coordinator_keeps_the_servers_receipt_time(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    (rid,) = capture(field, 1)
    exchange.sync(field)
    exchange.pull(coordinator)
    received = coordinator.records.get(rid).received_at
    assert (
        received and received.endswith("Z") and received >= field.records.get(rid).finalized_at[:10]
    )
