"""A breached server learns nothing and changes nothing (DESIGN §3, "Trust").

Each test plays an attacker who owns the sync server's database: it edits the tables of a
real `fieldkit server run` process (SQLite and PostgreSQL) or rewrites its replies through a
proxy, then checks that laptops and coordinators refuse every forgery — nothing stored — and
that genuine records keep arriving afterwards.

To see one of these fail, break the rule it proves in a scratch copy: accept a statement in
``fieldkit/exchange/_trust.py`` without ``verify_statement``, skip the MAC check in
``certify_pending``, or let ``_replacement_problem`` return None: the matching test turns red.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from _client_kit import FORM, capture, enroll, enroll_code, project, workspace
from _rewriter import RewritingProxy
from _server_kit import Device, sign
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import insert, select, update

from fieldkit import exchange
from fieldkit.crypto.envelope import seal
from fieldkit.errors import AuthError, CryptoError
from fieldkit.exchange._trust import Trust
from fieldkit.store import Workspace
from sync import protocol as p
from sync.server.feed import append_changes
from sync.server.schema import devices, envelopes, project_keys, statements

pytestmark = pytest.mark.slow


def _raw(key: Any) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _inject(
    engine: Any, project_id: str, statement: dict[str, Any], definition: Any = None
) -> None:
    """The attacker adds a statement to the feed, as the server would relay one."""
    model = p.Statement.model_validate(statement)
    with engine.begin() as conn:
        sid = p.statement_id(model)
        exists = conn.execute(
            select(statements.c.statement_id).where(statements.c.statement_id == sid)
        ).first()
        if exists is None:
            from datetime import UTC, datetime

            conn.execute(
                insert(statements).values(
                    statement_id=sid,
                    project_id=project_id,
                    kind=model.kind,
                    subject="x",
                    body=p.canonical_json(model.model_dump(mode="json")).decode(),
                    definition=None
                    if definition is None
                    else p.canonical_json(definition).decode(),
                    created_at=datetime.now(UTC),
                )
            )
        append_changes(conn, [(project_id, "statement", sid, None)])


def _forged(kind: str, body: dict[str, Any], *, project_id: str, issuer: str) -> dict[str, Any]:
    """A statement signed by keys the attacker made (it has no project signing key)."""
    attacker = Device()
    attacker.device_id = issuer
    return sign(Ed25519PrivateKey.generate(), attacker, kind, body, project_id=project_id)


def _refused(summary: Any) -> int:
    return sum(summary.items_refused.values())


def _recipients(ws: Workspace) -> set[str]:
    exchange.seal_pending(ws)
    keys: set[str] = set()
    for stored in ws.records.unsent():
        keys |= {r["key_id"] for r in json.loads(stored.envelope)["header"]["recipients"]}
    return keys


def test_a_device_key_swapped_before_certification_is_never_certified(
    tmp_path: Path, breached: Any
) -> None:
    coordinator, honest = project(tmp_path, breached.url, breached.admin_token)
    victim = workspace(tmp_path, "victim")
    exchange.enroll(victim, breached.url, enroll_code(coordinator))
    # The attacker replaces the waiting laptop's keys with its own before the coordinator
    # certifies it, hoping for a certificate (and, for a coordinator, the project keys).
    thief_sign, thief_x = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    with breached.engine().begin() as conn:
        conn.execute(
            update(devices)
            .where(devices.c.device_id == victim.device_id)
            .values(ed25519=p.b64encode(_raw(thief_sign)), x25519=p.b64encode(_raw(thief_x)))
        )
    summary = exchange.sync(coordinator)
    assert summary.pulled.enrolments_refused == [victim.device_id]
    assert "Refused 1 enrolment" in summary.line()
    trust = Trust(coordinator, exchange.enrolment(coordinator).root, device_id="")  # type: ignore[arg-type]
    assert trust.certificate(victim.device_id) is None
    with pytest.raises(AuthError):  # its token is stopped too
        exchange.sync(victim)
    # Genuine records keep arriving.
    ids = capture(honest, 2)
    exchange.sync(honest)
    assert exchange.pull(coordinator).records == 2
    assert {r.id for r in coordinator.records.list()} >= set(ids)


def test_a_coordinator_key_swapped_before_certification_gets_no_project_key(
    tmp_path: Path, breached: Any
) -> None:
    coordinator, _ = project(tmp_path, breached.url, breached.admin_token)
    second = workspace(tmp_path, "second")
    exchange.enroll(second, breached.url, enroll_code(coordinator, role="coordinator"))
    thief_x = X25519PrivateKey.generate()
    with breached.engine().begin() as conn:
        conn.execute(
            update(devices)
            .where(devices.c.device_id == second.device_id)
            .values(x25519=p.b64encode(_raw(thief_x)))
        )
    assert exchange.sync(coordinator).pulled.enrolments_refused == [second.device_id]
    from sync.server.schema import key_grants

    with breached.engine().begin() as conn:
        assert conn.execute(select(key_grants)).all() == []


def test_a_project_key_added_on_the_server_is_never_sealed_to(
    tmp_path: Path, breached: Any
) -> None:
    coordinator, field = project(tmp_path, breached.url, breached.admin_token)
    project_id = field.state.get("sync.project_id")
    rogue = X25519PrivateKey.generate()
    rogue_id = p.key_id(_raw(rogue))
    engine = breached.engine()
    with engine.begin() as conn:
        # The first protocol's unsigned announcement, and a "signed" one with a forged key.
        from datetime import UTC, datetime

        conn.execute(
            insert(project_keys).values(
                project_id=project_id,
                key_id=rogue_id,
                public_key=p.b64encode(_raw(rogue)),
                created_at=datetime.now(UTC),
            )
        )
        append_changes(conn, [(project_id, "project_key", rogue_id, None)])
    body = {"key_id": rogue_id, "public_key": p.b64encode(_raw(rogue)), "generation": 2}
    creator = coordinator.device_id
    _inject(engine, project_id, _forged("project_key", body, project_id=project_id, issuer=creator))
    # A device enrolled afterwards, and one enrolled before, both seal to the genuine key only.
    late = workspace(tmp_path, "late")
    enroll(coordinator, late, breached.url)
    pulled = exchange.sync(field).pulled
    assert _refused(pulled) == 2 and "2 items refused" in pulled.trust_text()
    genuine = exchange.enrolment(coordinator)
    genuine_key = Trust(coordinator, genuine.root, device_id=genuine.device_id).current_key()  # type: ignore[arg-type]
    assert genuine_key is not None and genuine_key.generation == 1
    for ws in (field, late):
        capture(ws, 1)
        assert rogue_id not in _recipients(ws)
        assert genuine_key.key_id in _recipients(ws)


def test_an_inserted_or_altered_form_is_refused(tmp_path: Path, breached: Any) -> None:
    coordinator, field = project(tmp_path, breached.url, breached.admin_token)
    project_id = field.state.get("sync.project_id")
    engine = breached.engine()
    # Alter the genuine form as stored: its sensitive mark removed, a question reworded.
    with engine.begin() as conn:
        row = conn.execute(
            select(statements.c.statement_id, statements.c.definition).where(
                statements.c.kind == "form"
            )
        ).one()
        altered = json.loads(row.definition)
        altered["children"][2].pop("sensitive")
        altered["children"][0]["label"] = "Your full name"
        conn.execute(
            update(statements)
            .where(statements.c.statement_id == row.statement_id)
            .values(definition=p.canonical_json(altered).decode())
        )
    # And insert a new version with the consent gate removed, signed by a key of its own.
    rogue = dict(FORM, version="2099010101", title="Household (no consent)")
    body = {
        "form_id": rogue["id_string"],
        "version": rogue["version"],
        "title": rogue["title"],
        "definition_sha256": p.definition_sha256(rogue),
    }
    creator = coordinator.device_id
    _inject(engine, project_id, _forged("form", body, project_id=project_id, issuer=creator), rogue)
    late = workspace(tmp_path, "late")
    enrolled = enroll(coordinator, late, breached.url)
    assert enrolled.forms == 0  # the altered genuine version and the rogue one: both refused
    assert late.forms.list() == []
    assert exchange.sync(field).pulled.forms == 0
    assert [f.version for f in field.forms.list()] == [FORM["version"]]
    assert "sensitive" in field.forms.get("household").definition["children"][2]
    # Genuine versions published afterwards still arrive.
    exchange.publish_form(coordinator, dict(FORM, version="2026120101"))
    assert exchange.sync(late).pulled.forms == 1
    assert late.forms.get("household").version == "2026120101"


def test_a_forged_record_in_a_real_devices_name_is_refused(tmp_path: Path, breached: Any) -> None:
    coordinator, field = project(tmp_path, breached.url, breached.admin_token)
    (genuine,) = capture(field, 1, marker="genuine ")
    exchange.sync(field)
    assert exchange.pull(coordinator).records == 1
    project_id = field.state.get("sync.project_id")
    engine = breached.engine()
    # The attacker seals a record "from" the field laptop that replaces the genuine one, signed
    # with a key of its own, and registers that key as the laptop's (poisoning any key cache).
    thief = Ed25519PrivateKey.generate()
    key = Trust(coordinator, exchange.enrolment(coordinator).root, device_id="").current_key()  # type: ignore[arg-type]
    assert key is not None
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    forged = seal(
        record_id=str(uuid.uuid4()),
        project_id=project_id,
        form_id="household",
        form_version=FORM["version"],
        device_id=field.device_id,
        capture_day="2026-12-01",
        hlc="000001764331200000-00000-x",
        body={"answers": {"/data/site": "FORGED"}, "finalized_at": "2026-12-01"},
        recipients=[X25519PublicKey.from_public_bytes(p.b64decode(key.public_key))],
        signing_key=thief,
        replaces=genuine,
    )
    rid = json.loads(forged)["header"]["record_id"]
    import hashlib
    from datetime import UTC, datetime

    with engine.begin() as conn:
        conn.execute(
            update(devices)
            .where(devices.c.device_id == field.device_id)
            .values(ed25519=p.b64encode(_raw(thief)))
        )
        conn.execute(
            insert(envelopes).values(
                device_id=field.device_id,
                record_id=rid,
                project_id=project_id,
                body=forged,
                body_sha256=hashlib.sha256(forged).digest(),
                received_at=datetime.now(UTC),
            )
        )
        append_changes(conn, [(project_id, "envelope", rid, field.device_id)])
    pulled = exchange.pull(coordinator)
    assert pulled.records == 0 and [why for _, why in pulled.refused] == [
        f"record {rid} has a signature that does not verify"
    ]
    with pytest.raises(Exception):  # noqa: B017 - RecordNotFound
        coordinator.records.get(rid)
    # The laptop's genuine records still verify (the server's key table is not trusted).
    with engine.begin() as conn:  # let its token push again past the server's own check
        conn.execute(
            update(devices)
            .where(devices.c.device_id == field.device_id)
            .values(ed25519=p.b64encode(field.device.ed25519_public))
        )
    later = capture(field, 2)
    exchange.sync(field)
    assert exchange.pull(coordinator).records == 2
    assert {r.id for r in coordinator.records.list()} >= {genuine, *later}


def test_a_device_cannot_replace_another_devices_record(tmp_path: Path, breached: Any) -> None:
    coordinator, first = project(tmp_path, breached.url, breached.admin_token)
    other = workspace(tmp_path, "other")
    enroll(coordinator, other, breached.url)
    (target,) = capture(first, 1, marker="true ")
    exchange.sync(first)
    # The other device pushes an "edit" of the first device's record, validly signed by itself,
    # to hide the original from the coordinator's export; it reuses the record id as well.
    (mine,) = capture(other, 1)
    record = other.records.get(mine)
    key = Trust(other, exchange.enrolment(other).root, device_id="").current_key()  # type: ignore[arg-type]
    assert key is not None
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    recipients = [X25519PublicKey.from_public_bytes(p.b64decode(key.public_key))]
    header = {
        "project_id": other.state.get("sync.project_id"),
        "form_id": record.form_id,
        "form_version": record.form_version,
        "device_id": other.device_id,
        "capture_day": record.capture_day,
        "hlc": record.hlc or "x",
        "recipients": recipients,
        "signing_key": other.device.ed25519,
    }
    body = {"answers": {"/data/site": "HIDDEN"}, "finalized_at": record.finalized_at}
    other.records.set_envelope(mine, seal(record_id=mine, replaces=target, body=body, **header))
    assert exchange.sync(other).sent == 1  # the server cannot tell (nor does it say)
    pulled = exchange.pull(coordinator)
    assert (mine, "it replaces another device's record") in pulled.refused
    assert coordinator.records.get(target).answers["/data/site"] == "KE-0000"


def test_a_push_answer_tells_nothing_about_other_devices_ids(tmp_path: Path, breached: Any) -> None:
    coordinator, first = project(tmp_path, breached.url, breached.admin_token)
    other = workspace(tmp_path, "other")
    enroll(coordinator, other, breached.url)
    (taken,) = capture(first, 1)
    exchange.sync(first)
    (mine,) = capture(other, 1)
    exchange.seal_pending(other)
    record = other.records.get(mine)
    key = Trust(other, exchange.enrolment(other).root, device_id="").current_key()  # type: ignore[arg-type]
    assert key is not None
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

    probe = seal(
        record_id=taken,
        project_id=other.state.get("sync.project_id"),
        form_id=record.form_id,
        form_version=record.form_version,
        device_id=other.device_id,
        capture_day=record.capture_day,
        hlc=record.hlc or "x",
        body={"answers": {}, "finalized_at": record.finalized_at},
        recipients=[X25519PublicKey.from_public_bytes(p.b64decode(key.public_key))],
        signing_key=other.device.ed25519,
    )
    from sync.client import SyncClient

    with SyncClient(breached.url, token=other.state.get("sync.token")) as client:
        (result,) = client.push([probe])
    assert result["status"] == "created"  # as for any fresh id: no oracle
    # The coordinator refuses the clash rather than mixing two devices' records.
    pulled = exchange.pull(coordinator)
    assert (taken, "its record id is already used by another device") in pulled.refused


def test_forged_revocations_and_erasures_are_refused(tmp_path: Path, breached: Any) -> None:
    coordinator, field = project(tmp_path, breached.url, breached.admin_token)
    project_id = field.state.get("sync.project_id")
    engine = breached.engine()
    creator = coordinator.device_id
    for kind, body in (
        ("revocation", {"device_id": field.device_id}),
        ("revocation", {"device_id": creator}),
        (
            "erasure",
            {
                "order_id": "5f0c6a2e-8a1b-4c3d-9e2f-1a2b3c4d5e6f",
                "cases": [],
                "envelopes": [],
            },
        ),
    ):
        _inject(engine, project_id, _forged(kind, body, project_id=project_id, issuer=creator))
    # A genuine statement whose body the attacker rewrote (the signatures no longer hold).
    with engine.begin() as conn:
        row = conn.execute(
            select(statements.c.body).where(statements.c.kind == "device").limit(1)
        ).one()
    tampered = json.loads(row.body)
    tampered["kind"] = "revocation"
    tampered["body"] = {"device_id": field.device_id}
    _inject(engine, project_id, tampered)
    for ws in (coordinator, field):
        pulled = exchange.sync(ws).pulled
        assert _refused(pulled) == 4, pulled.items_refused
        assert "not signed by the project" in pulled.trust_text()
    root = exchange.enrolment(coordinator).root
    trust = Trust(coordinator, root, device_id=creator)  # type: ignore[arg-type]
    assert trust.certificate(field.device_id).active  # type: ignore[union-attr]
    assert coordinator.statements.list(kind="erasure") == []
    capture(field, 2)
    exchange.sync(field)
    assert exchange.pull(coordinator).records == 2


def test_a_statement_rewritten_in_flight_is_refused(tmp_path: Path, breached: Any) -> None:
    # Through a proxy that rewrites pull replies: every certificate names the attacker's key.
    coordinator, field = project(tmp_path, breached.url, breached.admin_token)
    thief = p.b64encode(_raw(Ed25519PrivateKey.generate()))
    rewritten = {"n": 0}

    def rewrite(method: str, path: str, status: int, body: bytes) -> bytes:
        if path != "/v1/pull" or status != 200:
            return body
        page = json.loads(body)
        for change in page["changes"]:
            statement = change.get("statement")
            if statement and statement["kind"] == "device":
                statement["body"]["ed25519"] = thief
                rewritten["n"] += 1
        return json.dumps(page).encode()

    late = workspace(tmp_path, "late")
    code = enroll_code(coordinator)
    with RewritingProxy(breached.url, rewrite) as proxy:
        exchange.enroll(late, proxy.url, code)
        exchange.sync(coordinator)
        pulled = exchange.sync(late, server=proxy.url).pulled
    assert rewritten["n"] >= 3 and _refused(pulled) >= 1
    trust = Trust(late, exchange.enrolment(late).root, device_id=late.device_id)  # type: ignore[arg-type]
    assert all(c.ed25519 != thief for c in trust.certificates())
    # Straight to the server again, the genuine certificates arrive.
    exchange.sync(late, server=breached.url)
    trust = Trust(late, exchange.enrolment(late).root, device_id=late.device_id)  # type: ignore[arg-type]
    assert {c.device_id for c in trust.certificates()} >= {field.device_id, late.device_id}


def test_replayed_old_statements_change_nothing(tmp_path: Path, breached: Any) -> None:
    coordinator, field = project(tmp_path, breached.url, breached.admin_token)
    project_id = field.state.get("sync.project_id")
    engine = breached.engine()
    exchange.publish_form(coordinator, dict(FORM, version="2026120201"))
    assert exchange.rotate_key(coordinator) == 2
    exchange.sync(field)
    with engine.begin() as conn:
        old = conn.execute(
            select(statements.c.statement_id, statements.c.kind, statements.c.body).where(
                statements.c.kind.in_(["project_key", "form"])
            )
        ).all()
        # Served again, after the newer ones: the first key, the first form version.
        first_key = next(r for r in old if r.kind == "project_key" and '"generation":1' in r.body)
        first_form = next(r for r in old if r.kind == "form" and FORM["version"] in r.body)
        append_changes(
            conn,
            [(project_id, "statement", s.statement_id, None) for s in (first_key, first_form)],
        )
    late = workspace(tmp_path, "late")
    enroll(coordinator, late, breached.url)
    for ws in (field, late):
        exchange.sync(ws)
        assert ws.forms.get("household").version == "2026120201"
        trust = Trust(ws, exchange.enrolment(ws).root, device_id=ws.device_id)  # type: ignore[arg-type]
        current = trust.current_key()
        assert current is not None and current.generation == 2
        capture(ws, 1)
        assert _recipients(ws) == {current.key_id, p.key_id(ws.device.x25519_public)}


def test_a_server_claiming_another_projects_identity_is_refused(
    tmp_path: Path, breached: Any
) -> None:
    coordinator, _ = project(tmp_path, breached.url, breached.admin_token)
    other = workspace(tmp_path, "other-coordinator")
    exchange.create_project(other, "Other", server=breached.url, admin_token=breached.admin_token)
    impostor = exchange.enrolment(other).root
    assert impostor is not None

    def rewrite(method: str, path: str, status: int, body: bytes) -> bytes:
        if path != "/v1/enroll" or status != 200:
            return body
        reply = json.loads(body)
        reply["project"] = {
            "project_id": impostor.project_id,
            "name": impostor.name,
            "signing_key": impostor.signing_key,
        }
        return json.dumps(reply).encode()

    for rewriter, name in ((rewrite, "proxy"), (None, "database")):
        laptop = workspace(tmp_path, "laptop-" + name)
        code = enroll_code(coordinator)
        if rewriter is None:
            # The attacker's own key in the project's row: the identity the server shows.
            from sync.server.schema import projects

            with breached.engine().begin() as conn:
                conn.execute(update(projects).values(signing_key=impostor.signing_key))
            with pytest.raises(CryptoError, match="not the one your enrolment code was made for"):
                exchange.enroll(laptop, breached.url, code)
        else:
            with RewritingProxy(breached.url, rewriter) as proxy:
                with pytest.raises(
                    CryptoError, match="not the one your enrolment code was made for"
                ):
                    exchange.enroll(laptop, proxy.url, code)
        assert not exchange.is_enrolled(laptop)
        assert laptop.forms.list() == [] and laptop.statements.list() == []


def test_enrolment_offers_and_codes_never_reach_the_server_in_clear(
    tmp_path: Path, breached: Any
) -> None:
    coordinator, _ = project(tmp_path, breached.url, breached.admin_token)
    code = exchange.make_code(coordinator, role="field", expires_seconds=600).code
    secret_forms = {code.secret.hex().encode(), p.base32(code.secret).encode()}
    breached.process.kill()
    for path in Path(breached.process.data_dir).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(form in data for form in secret_forms), path.name
    if breached.database_url:
        with breached.engine().begin() as conn:
            dump = json.dumps([list(map(str, r)) for r in conn.execute(select(statements))])
        assert not any(form.decode() in dump for form in secret_forms)


def test_the_server_package_imports_nothing_of_forms_store_or_capture() -> None:
    import subprocess
    import sys

    code = (
        "import sys, sync.server, sync.server.app, sync.server.runner\n"
        "bad = [m for m in sys.modules if m.split('.')[:2] in "
        "(['fieldkit', 'forms'], ['fieldkit', 'store'], ['fieldkit', 'capture'], "
        "['fieldkit', 'exchange'], ['fieldkit', 'analysis'])]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout


def test_a_pull_cursor_that_does_not_move_is_refused(tmp_path: Path, breached: Any) -> None:
    # A server answering "more" forever without moving on must not loop the laptop.
    _, field = project(tmp_path, breached.url, breached.admin_token)
    cursor_before = field.state.get("sync.cursor")

    def rewrite(method: str, path: str, status: int, body: bytes) -> bytes:
        if path != "/v1/pull" or status != 200:
            return body
        page = json.loads(body)
        page["has_more"] = True
        page["next_cursor"] = cursor_before
        page["changes"] = page["changes"] or [{"seq": 1, "type": "other"}]
        return json.dumps(page).encode()

    from fieldkit.errors import ProtocolError

    with RewritingProxy(breached.url, rewrite) as proxy:
        with pytest.raises(ProtocolError, match="cursor does not move on"):
            exchange.sync(field, server=proxy.url)
    assert exchange.sync(field).sent == 0  # straight to the server, all is well again
