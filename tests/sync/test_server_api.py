"""The server's calls end to end over real HTTP: projects, enrolment, push, pull, roles."""

from __future__ import annotations

import requests
from _server_kit import (
    admin,
    create_project,
    enroll,
    offer,
    open_envelope,
    pull_all,
    push,
    seal,
    sign,
)
from conftest import RunningServer

from sync import protocol as p


def test_health_needs_no_token(sync_server: RunningServer) -> None:
    r = requests.get(sync_server.url + "/v1/health", timeout=5)
    assert r.status_code == 200
    body = p.HealthResponse.model_validate(r.json())
    assert body.protocol == p.PROTOCOL_VERSION


def test_push_pull_round_trip(any_sync_server: RunningServer) -> None:
    url, tok = any_sync_server.url, any_sync_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    envs = [seal(field, project, {"/data/q": f"answer {i}"}) for i in range(5)]
    r = push(url, field, envs)
    assert r.status_code == 200, r.text
    assert [x["status"] for x in r.json()["results"]] == ["created"] * 5

    # Again: all duplicates, nothing new in the feed.
    r = push(url, field, envs)
    assert [x["status"] for x in r.json()["results"]] == ["duplicate"] * 5

    changes = pull_all(url, project.coordinator)
    got = [p.Envelope.model_validate(c["envelope"]) for c in changes if c["type"] == "envelope"]
    assert [e.header.record_id for e in got] == [e.header.record_id for e in envs]
    assert got == envs
    assert open_envelope(project, got[2])["answers"] == {"/data/q": "answer 2"}
    assert all(c["received_at"] for c in changes if c["type"] == "envelope")
    kinds = [c["statement"]["kind"] for c in changes if c["type"] == "statement"]
    # The project's three statements, the enrolment offer and the field device's certificate.
    assert kinds == ["project", "project_key", "device", "enrol_offer", "device"]
    keys = [c["statement"]["body"] for c in changes if c["type"] == "statement"][1]
    assert keys["key_id"] == project.key_id and keys["generation"] == 1
    # The pushing device gets nothing of its own back (no echo), only what it lacks.
    mine = pull_all(url, field)
    assert [c["type"] for c in mine] == ["statement"] * 4
    seqs = [c["seq"] for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_conflict_leaves_original(sync_server: RunningServer) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    first = seal(field, project, {"/data/q": "original"})
    other = seal(field, project, {"/data/q": "changed"}, record_id=first.header.record_id)
    assert push(url, field, [first]).json()["results"][0]["status"] == "created"
    assert push(url, field, [other]).json()["results"][0]["status"] == "conflict"
    # In one batch: a repeat of the stored bytes is a duplicate, other bytes a conflict.
    res = push(url, field, [other, first]).json()["results"]
    assert [x["status"] for x in res] == ["conflict", "duplicate"]
    envs = [c for c in pull_all(url, project.coordinator) if c["type"] == "envelope"]
    assert len(envs) == 1
    assert open_envelope(project, p.Envelope.model_validate(envs[0]["envelope"]))["answers"] == {
        "/data/q": "original"
    }


def test_new_record_repeated_in_one_batch(sync_server: RunningServer) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    env = seal(field, project, {"/data/q": "x"})
    twin = seal(field, project, {"/data/q": "y"}, record_id=env.header.record_id)
    res = push(url, field, [env, env, twin]).json()["results"]
    assert [x["status"] for x in res] == ["created", "duplicate", "conflict"]


def test_rejections_per_item(sync_server: RunningServer) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    other_field = enroll(url, tok, project)
    other_project = create_project(url, tok, name="Other")
    good = seal(field, project, {"/data/q": "ok"})
    forged = seal(other_field, project, {"/data/q": "x"}, device_id=field.device_id)
    rerouted = seal(field, project, {"/data/q": "x"}, project_id=other_project.project_id)
    # Tampered header after signing: signature no longer verifies.
    tampered = good.model_copy(
        update={"header": good.header.model_copy(update={"form_version": "2"})}
    )
    as_other = seal(other_field, project, {"/data/q": "x"})  # pushed by `field`: not its device
    res = push(url, field, [forged, rerouted, tampered, as_other, good]).json()["results"]
    assert [x["status"] for x in res] == ["rejected"] * 4 + ["created"]
    assert "signature" in res[0]["reason"]
    assert "project" in res[1]["reason"]
    assert "signature" in res[2]["reason"]
    assert "device" in res[3]["reason"]


def test_field_devices_read_no_records(sync_server: RunningServer) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    a, b = enroll(url, tok, project), enroll(url, tok, project)
    push(url, a, [seal(a, project, {"/data/q": "a"})])
    push(url, b, [seal(b, project, {"/data/q": "b"})])
    assert not [c for c in pull_all(url, a) if c["type"] == "envelope"]
    coord = [c for c in pull_all(url, project.coordinator) if c["type"] == "envelope"]
    assert len(coord) == 2
    # Enrolment offers reach coordinators only.
    assert not [c for c in pull_all(url, a) if c["statement"]["kind"] == "enrol_offer"]
    # Other project's coordinator sees nothing of this one.
    other = create_project(url, tok, name="Other")
    assert [c["statement"]["kind"] for c in pull_all(url, other.coordinator)] == [
        "project",
        "project_key",
        "device",
    ]


def test_record_ids_are_scoped_per_device(sync_server: RunningServer) -> None:
    # Device b learns nothing from a push answer about the ids device a used.
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    a, b = enroll(url, tok, project), enroll(url, tok, project)
    first = seal(a, project, {"/data/q": "a"})
    assert push(url, a, [first]).json()["results"][0]["status"] == "created"
    same_id = seal(b, project, {"/data/q": "b"}, record_id=first.header.record_id)
    assert push(url, b, [same_id]).json()["results"][0]["status"] == "created"
    coord = [c for c in pull_all(url, project.coordinator) if c["type"] == "envelope"]
    assert sorted(c["envelope"]["header"]["device_id"] for c in coord) == sorted(
        [a.device_id, b.device_id]
    )


def test_roles_and_tokens(sync_server: RunningServer) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    cases = [
        ("get", "/v1/pull", None, None, 401),
        ("get", "/v1/pull", {"Authorization": "Bearer " + "x" * 43}, None, 401),
        ("get", "/v1/pull", {"Authorization": "Basic abc"}, None, 401),
        ("get", "/v1/admin/devices", field.auth, None, 403),
        ("get", "/v1/devices", field.auth, None, 403),
        ("post", "/v1/forms", field.auth, {"form_id": "f", "version": "1", "definition": {}}, 403),
        ("get", "/v1/pull", admin(tok), None, 403),
        (
            "post",
            "/v1/push",
            admin(tok),
            {"envelopes": [seal(field, project, {}).model_dump(mode="json")]},
            403,
        ),
    ]
    for method, path, headers, body, status in cases:
        r = requests.request(method, url + path, headers=headers, json=body, timeout=10)
        assert r.status_code == status, (path, r.text)
        assert set(r.json()["error"]) == {"code", "message"}


def test_revoked_device_gets_401_and_others_learn_it(sync_server: RunningServer) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    assert requests.get(url + "/v1/pull", headers=field.auth, timeout=5).status_code == 200
    r = requests.post(
        url + f"/v1/admin/devices/{field.device_id}/revoke", headers=admin(tok), timeout=5
    )
    assert r.status_code == 200 and r.json()["revoked_at"]
    r = push(url, field, [seal(field, project, {})])
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    revs = [c for c in pull_all(url, project.coordinator) if c["type"] == "revocation"]
    assert [c["device_id"] for c in revs] == [field.device_id]
    r = requests.post(url + "/v1/admin/devices/d_nope/revoke", headers=admin(tok), timeout=5)
    assert r.status_code == 404


def test_enroll_code_is_single_use_and_made_by_a_coordinator(sync_server: RunningServer) -> None:
    import hashlib
    import hmac

    from _server_kit import Device, _hkdf

    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    # The admin can no longer make codes: they cannot pin the project for the laptop.
    r = requests.post(
        url + "/v1/admin/enroll-codes", json={"role": "field"}, headers=admin(tok), timeout=5
    )
    assert r.status_code == 410 and "project enroll-code" in r.json()["error"]["message"]
    secret = offer(url, project)
    code_id = _hkdf(secret, b"fieldkit/v2/enrol-code-id", 16).hex()

    def attempt() -> requests.Response:
        dev = Device()
        body = {"code_id": code_id, "device_id": dev.device_id, **dev.keys()}
        body["mac"] = p.b64encode(hmac.new(b"k", b"m", hashlib.sha256).digest())
        return requests.post(url + "/v1/enroll", json=body, timeout=5)

    r = attempt()
    assert r.status_code == 200, r.text
    body = p.EnrollResponse.model_validate(r.json())
    assert body.project.project_id == project.project_id
    assert body.offer.kind == "enrol_offer" and body.offer.body["code_id"] == code_id
    assert attempt().status_code == 401
    # The device waits for a certificate; the coordinator sees it with its MAC.
    pending = requests.get(url + "/v1/enrolments", headers=project.coordinator.auth, timeout=5)
    assert [e["device_id"] for e in pending.json()["enrolments"]] == [body.device_id]
    r = requests.post(
        url + "/v1/enrolments/refuse",
        json={"device_id": body.device_id},
        headers=project.coordinator.auth,
        timeout=5,
    )
    assert r.status_code == 200
    # Refused: its token stops and it is no longer pending.
    assert (
        requests.get(
            url + "/v1/pull", headers={"Authorization": f"Bearer {body.token}"}, timeout=5
        ).status_code
        == 401
    )
    pending = requests.get(url + "/v1/enrolments", headers=project.coordinator.auth, timeout=5)
    assert pending.json()["enrolments"] == []


def test_forms_are_signed_statements(sync_server: RunningServer) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    definition = {"name": "data", "id_string": "needs", "version": "1", "children": []}
    body = {
        "form_id": "needs",
        "version": "1",
        "title": "Needs",
        "definition_sha256": p.definition_sha256(definition),
    }
    coord = project.coordinator
    statement = sign(project.signing, coord, "form", body, project_id=project.project_id)
    post = {"statement": statement, "definition": definition}
    r = requests.post(url + "/v1/statements", json=post, headers=coord.auth, timeout=5)
    assert r.json() == {"status": "created"}, r.text
    r = requests.post(url + "/v1/statements", json=post, headers=coord.auth, timeout=5)
    assert r.json() == {"status": "unchanged"}
    # Another definition under the signed digest, or unsigned forms: refused.
    changed = {**post, "definition": {**definition, "children": [{"type": "note"}]}}
    r = requests.post(url + "/v1/statements", json=changed, headers=coord.auth, timeout=5)
    assert r.status_code == 400
    legacy = {"form_id": "needs", "version": "2", "definition": definition}
    r = requests.post(url + "/v1/forms", json=legacy, headers=coord.auth, timeout=5)
    assert r.status_code == 409
    field = enroll(url, tok, project)
    forms = [c for c in pull_all(url, field) if c["statement"]["kind"] == "form"]
    assert [c["definition"] for c in forms] == [definition]
    # A field device may not post statements at all.
    r = requests.post(url + "/v1/statements", json=post, headers=field.auth, timeout=5)
    assert r.status_code == 403


def test_key_grant_reaches_only_its_certified_coordinator(sync_server: RunningServer) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    second = enroll(url, tok, project, role="coordinator")
    field = enroll(url, tok, project)
    grant = {"device_id": second.device_id, "wrapped": p.b64encode(b"w" * 120)}
    r = requests.post(
        url + "/v1/key-grants", json=grant, headers=project.coordinator.auth, timeout=5
    )
    assert r.status_code == 200, r.text
    got = [c for c in pull_all(url, second) if c["type"] == "key_grant"]
    assert len(got) == 1 and got[0]["granted_by"] == project.coordinator.device_id
    assert not [c for c in pull_all(url, field) if c["type"] == "key_grant"]
    to_field = {**grant, "device_id": field.device_id}
    r = requests.post(
        url + "/v1/key-grants", json=to_field, headers=project.coordinator.auth, timeout=5
    )
    assert r.status_code == 400


def test_pull_pages_and_bad_cursor(sync_server: RunningServer) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = create_project(url, tok)
    field = enroll(url, tok, project)
    push(url, field, [seal(field, project, {"/data/q": str(i)}) for i in range(7)])
    # Three statements of the project, the offer and the certificate, then seven records.
    assert len(pull_all(url, project.coordinator, limit=2)) == 12
    for cursor in ("abc", "-1", "1" * 40, "1.5"):
        r = requests.get(url + "/v1/pull", params={"cursor": cursor}, headers=field.auth, timeout=5)
        assert 400 <= r.status_code < 500, cursor
