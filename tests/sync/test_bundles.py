"""Sneakernet (DESIGN §6b): bundles carry what sync carries, taken exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest
from _client_kit import FORM, answers_of, capture, project, status_of, workspace

from fieldkit import exchange
from fieldkit.errors import CryptoError, NotEnrolled
from fieldkit.exchange import bundle


def _stick(tmp_path: Path) -> Path:
    stick = tmp_path / "stick"
    stick.mkdir(exist_ok=True)
    return stick


def test_field_records_reach_the_coordinator_once_and_a_receipt_marks_them_delivered(
    tmp_path: Path, sync_server
) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    ids = capture(field, 3)
    draft = field.records.create_draft(form_id=FORM["id_string"], form_version=FORM["version"])
    stick = _stick(tmp_path)

    written = bundle.export_records_bundle(field, stick)
    assert written.path is not None and written.records == 3
    # A neutral name: nothing of the device, the form or the day.
    assert written.path.name.startswith("fieldkit-") and written.path.suffix == ".fkb"
    assert [p.name for p in stick.iterdir()] == [written.path.name]

    taken = bundle.import_bundle(coordinator, written.path)
    assert taken.pulled.records == 3 and not taken.nothing_new
    assert set(answers_of(coordinator)) == set(ids)  # drafts never leave
    assert draft.id not in answers_of(coordinator)
    assert taken.receipt is not None and taken.receipt.parent == stick

    again = bundle.import_bundle(coordinator, written.path)
    assert again.already_imported and again.line().startswith("Nothing new")
    assert len(answers_of(coordinator)) == 3

    # Until the receipt comes back the records wait, and the next bundle offers them again.
    assert set(status_of(field)[i] for i in ids) == {"finalized"}
    offered = bundle.export_records_bundle(field, stick)
    assert offered.records == 3
    repeat = bundle.import_bundle(coordinator, offered.path)
    assert repeat.pulled.records == 0 and repeat.pulled.already_had == 3 and repeat.nothing_new

    delivered = bundle.import_bundle(field, taken.receipt)
    assert delivered.delivered == 3
    assert {status_of(field)[i] for i in ids} == {"sent"}
    assert set(field.records.delivered_by().values()) == {"bundle"}
    assert bundle.export_records_bundle(field, stick).path is None  # nothing waits now

    # Sync afterwards sends nothing new, and the coordinator's pull changes nothing.
    summary = exchange.sync(field)
    assert summary.sent == 0
    pulled = exchange.pull(coordinator)
    assert pulled.records == 0 and len(answers_of(coordinator)) == 3


def test_records_synced_first_then_bundled_are_nothing_new(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    capture(field, 2)
    bundle_file = bundle.export_records_bundle(field, _stick(tmp_path)).path
    assert bundle_file is not None
    exchange.sync(field)
    assert exchange.pull(coordinator).records == 2
    result = bundle.import_bundle(coordinator, bundle_file)
    assert result.pulled.records == 0 and result.pulled.already_had == 2
    assert result.nothing_new and result.line().startswith("Nothing new")


def test_bundled_first_then_synced_is_taken_once(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    ids = capture(field, 2)
    path = bundle.export_records_bundle(field, _stick(tmp_path)).path
    assert path is not None
    assert bundle.import_bundle(coordinator, path).pulled.records == 2
    exchange.sync(field)  # the same envelopes go to the server
    pulled = exchange.pull(coordinator)
    assert pulled.records == 0 and pulled.already_had == 2
    assert sorted(answers_of(coordinator)) == sorted(ids)


def test_coordinator_bundle_brings_forms_to_a_field_laptop(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, field = project(tmp_path, sync_server.url, sync_server.admin_token)
    second = dict(FORM, version="2026120101", title="Household v2")
    exchange.publish_form(coordinator, second)
    written = bundle.export_project_bundle(coordinator, _stick(tmp_path), role="field")
    assert written.path is not None and written.statements >= 4
    result = bundle.import_bundle(field, written.path)
    assert result.pulled.forms == 1
    assert {f.version for f in field.forms.list()} == {FORM["version"], "2026120101"}
    assert bundle.import_bundle(field, written.path).already_imported
    # The same statements by sync: nothing new.
    assert exchange.sync(field).pulled.forms == 0


def test_a_bundle_for_another_project_is_refused(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    _, field = project(tmp_path / "a", sync_server.url, sync_server.admin_token)
    other, _ = project(tmp_path / "b", sync_server.url, sync_server.admin_token)
    capture(field, 1)
    path = bundle.export_records_bundle(field, _stick(tmp_path)).path
    assert path is not None
    with pytest.raises(CryptoError, match="another project"):
        bundle.import_bundle(other, path)
    assert answers_of(other) == {}


def test_an_unenrolled_laptop_needs_a_code(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, _ = project(tmp_path, sync_server.url, sync_server.admin_token)
    path = bundle.export_project_bundle(coordinator, _stick(tmp_path), role="field").path
    assert path is not None
    with pytest.raises(NotEnrolled, match="--code"):
        bundle.import_bundle(workspace(tmp_path, "fresh"), path)


def test_a_never_online_laptop_enrols_receives_forms_and_delivers_by_bundle(
    tmp_path: Path, sync_server
) -> None:  # type: ignore[no-untyped-def]
    coordinator, _ = project(tmp_path, sync_server.url, sync_server.admin_token)
    stick = _stick(tmp_path)
    written, issued = bundle.export_enrolment_bundle(coordinator, stick)
    assert written.path is not None
    remote = workspace(tmp_path, "remote")

    enrolled = bundle.import_bundle(remote, written.path, code=str(issued.code))
    assert enrolled.enrolled == require_fingerprint(coordinator)
    assert [f.form_id for f in remote.forms.list()] == ["household"]
    with pytest.raises(NotEnrolled, match="bundle"):
        exchange.sync(remote)  # no server: records leave by bundle

    ids = capture(remote, 2)
    out = bundle.export_records_bundle(remote, stick)
    assert out.records == 2
    taken = bundle.import_bundle(coordinator, out.path)  # type: ignore[arg-type]
    assert taken.certified == 1 and taken.pulled.records == 2
    assert set(answers_of(coordinator)) == set(ids)
    assert taken.receipt is not None

    back = bundle.import_bundle(remote, taken.receipt)
    assert back.delivered == 2 and set(status_of(remote).values()) == {"sent"}
    assert remote.state.get(bundle.STATE_ENROL_REQUEST) is None  # certified now
    # Later forms reach it by the next coordinator bundle.
    exchange.publish_form(coordinator, dict(FORM, version="2026120201"))
    forms = bundle.export_project_bundle(coordinator, stick, device=remote.device_id)
    assert bundle.import_bundle(remote, forms.path).pulled.forms == 1  # type: ignore[arg-type]


def require_fingerprint(ws) -> str:  # type: ignore[no-untyped-def]
    return exchange.enrolment(ws).root.fingerprint  # type: ignore[union-attr, no-any-return]


def test_offline_enrolment_refuses_a_code_of_another_bundle(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, _ = project(tmp_path, sync_server.url, sync_server.admin_token)
    stick = _stick(tmp_path)
    first, _ = bundle.export_enrolment_bundle(coordinator, stick)
    _, other_code = bundle.export_enrolment_bundle(coordinator, tmp_path)
    other_project, _ = project(tmp_path / "b", sync_server.url, sync_server.admin_token)
    _, foreign_code = bundle.export_enrolment_bundle(other_project, tmp_path / "b")
    remote = workspace(tmp_path, "remote")
    for code in (other_code, foreign_code):
        with pytest.raises(CryptoError, match="not made for your enrolment code|not the one"):
            bundle.import_bundle(remote, first.path, code=str(code.code))  # type: ignore[arg-type]
        assert not exchange.is_enrolled(remote) and remote.forms.list() == []


def test_an_offline_code_spent_twice_is_refused(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    coordinator, _ = project(tmp_path, sync_server.url, sync_server.admin_token)
    stick = _stick(tmp_path)
    written, issued = bundle.export_enrolment_bundle(coordinator, stick)
    laptops = [workspace(tmp_path, name) for name in ("one", "two")]
    outs = []
    for ws in laptops:
        bundle.import_bundle(ws, written.path, code=str(issued.code))  # type: ignore[arg-type]
        capture(ws, 1)
        outs.append(bundle.export_records_bundle(ws, stick).path)
    assert bundle.import_bundle(coordinator, outs[0]).certified == 1  # type: ignore[arg-type]
    with pytest.raises(CryptoError, match="already used"):
        bundle.import_bundle(coordinator, outs[1])  # type: ignore[arg-type]
    assert len(answers_of(coordinator)) == 1


def test_a_relay_laptop_forwards_envelopes_it_cannot_read(tmp_path: Path, sync_server) -> None:  # type: ignore[no-untyped-def]
    from _client_kit import field_device

    coordinator, remote = project(tmp_path, sync_server.url, sync_server.admin_token)
    relay = field_device(tmp_path, sync_server.url, coordinator, name="relay")
    exchange.sync(relay)  # the relay has the remote laptop's certificate
    ids = capture(remote, 3, marker="CANARY-relay ")
    path = bundle.export_records_bundle(remote, _stick(tmp_path)).path
    assert path is not None

    carried = bundle.import_bundle(relay, path)
    assert carried.relayed == 3 and carried.receipt is None
    assert relay.records.list() == []  # carried, never opened
    assert bundle.import_bundle(relay, path).already_imported

    summary = exchange.sync(relay)
    assert summary.relayed == 3 and "Forwarded 3" in summary.line()
    assert exchange.sync(relay).relayed == 0  # sent once
    assert exchange.pull(coordinator).records == 3
    assert set(answers_of(coordinator)) == set(ids)
    # The coordinator then gets the same bundle by hand: nothing new, and a receipt.
    again = bundle.import_bundle(coordinator, path)
    assert again.pulled.already_had == 3 and again.nothing_new and again.receipt is not None
    # The remote laptop syncing itself later: the server answers duplicate.
    assert exchange.sync(remote).already_on_server == 3


def test_the_server_relays_only_certified_devices_envelopes_unchanged(any_sync_server) -> None:  # type: ignore[no-untyped-def]
    import requests
    from _server_kit import Device, create_project, enroll, seal

    sync_server = any_sync_server
    url = sync_server.url
    proj = create_project(url, sync_server.admin_token)
    owner = enroll(url, sync_server.admin_token, proj)
    carrier = enroll(url, sync_server.admin_token, proj)
    stranger = Device(project_id=proj.project_id)  # never enrolled on this server
    good = seal(owner, proj, {"/data/site": "x"})
    tampered = seal(owner, proj, {"/data/site": "y"}).model_copy(
        update={"signature": good.signature}
    )
    unknown = seal(stranger, proj, {"/data/site": "z"})

    def relay(envelopes):  # type: ignore[no-untyped-def]
        body = {"envelopes": [e.model_dump(mode="json") for e in envelopes]}
        r = requests.post(url + "/v1/relay", json=body, headers=carrier.auth, timeout=30)
        assert r.status_code == 200, r.text
        return [(x["status"], x.get("reason") or "") for x in r.json()["results"]]

    got = relay([good, tampered, unknown])
    assert got[0] == ("created", "")
    assert got[1][0] == "rejected" and "signature" in got[1][1]
    assert got[2][0] == "rejected" and "not a certified device" in got[2][1]
    assert relay([good])[0][0] == "duplicate"
    # The owner pushing the same bytes itself: duplicate, stored once under its own id.
    body = {"envelopes": [good.model_dump(mode="json")]}
    r = requests.post(url + "/v1/push", json=body, headers=owner.auth, timeout=30)
    assert r.json()["results"][0]["status"] == "duplicate"
