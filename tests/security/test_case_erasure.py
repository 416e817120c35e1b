"""Erasure and withdrawal orders (DOMAIN §8), end to end against a real server (SQLite and
PostgreSQL): the marker text of an erased case is found nowhere afterwards — not in any table
of the field laptop, the coordinator's laptop or the server, not in their decrypted pages or
WAL frames (free space included), not in an export made afterwards — and forged or replayed
orders change nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _client_kit import enroll_code, project, workspace
from _plaintext import plaintext_of
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import MetaData, select

from fieldkit import exchange
from fieldkit.capture import new_case_code
from fieldkit.exchange import case_orders
from fieldkit.store import Workspace
from fieldkit.store.case_orders import CaseOrders
from sync import protocol as p
from sync.server.schema import envelopes, statements

CASE_FORM = {
    "type": "survey",
    "name": "data",
    "id_string": "intake",
    "version": "2026120201",
    "title": "Intake",
    "default_language": "default",
    "children": [
        {"type": "text", "name": "client_pseudonym", "label": "Case code"},
        {"type": "text", "name": "story", "label": "Account", "sensitive": "yes"},
    ],
}
MARKER = "ZEBRA-MARKER-7Q"
KEEP = "OTTER-KEEP-3X"


def _record(ws: Workspace, code: str, story: str, *, finalize: bool = True) -> str:
    draft = ws.records.create_draft(
        form_id="intake",
        form_version=CASE_FORM["version"],
        answers={"/data/client_pseudonym": code, "/data/story": story},
    )
    if finalize:
        ws.records.finalize(
            draft.id, answers={"/data/client_pseudonym": code, "/data/story": story}
        )
    return draft.id


def _setup(tmp_path: Path, url: str, admin_token: str) -> tuple[Workspace, Workspace]:
    coordinator, field = project(tmp_path, url, admin_token)
    exchange.publish_form(coordinator, dict(CASE_FORM))
    exchange.sync(field)
    return coordinator, field


def _tables_text(ws: Workspace) -> str:
    """Every value of every table of a workspace, as text (the logical view)."""
    db = ws._db  # noqa: SLF001
    names = [r[0] for r in db.all("SELECT name FROM sqlite_master WHERE type = 'table'")]
    parts = []
    for name in names:
        for row in db.all(f'SELECT * FROM "{name}"'):  # noqa: S608 (names from sqlite_master)
            parts.append(repr(row))
    return "\n".join(parts)


def _found_on_laptop(ws: Workspace, needle: str) -> bool:
    path = ws.home / "workspace.db"
    raw = plaintext_of(path, ws._session.database)  # noqa: SLF001
    return needle in _tables_text(ws) or needle.encode() in raw


def _server_text(engine: Any) -> str:
    """Every value of every server table, as text."""
    meta = MetaData()
    meta.reflect(engine)
    parts = []
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(select(table)):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_an_erased_case_is_found_nowhere(tmp_path: Path, breached: Any) -> None:
    coordinator, field = _setup(tmp_path, breached.url, breached.admin_token)
    erased = new_case_code(field)
    kept = new_case_code(field, taken={erased: None})  # type: ignore[dict-item]
    sent = [_record(field, erased, f"{MARKER} first visit"), _record(field, erased, MARKER)]
    _record(field, kept, f"{KEEP} account")
    exchange.sync(field)
    draft = _record(field, erased, f"{MARKER} a draft never sent", finalize=False)
    assert exchange.pull(coordinator).records == 3
    # The controls: before the order the marker is there to be found, on both laptops.
    assert _found_on_laptop(field, MARKER) and _found_on_laptop(coordinator, MARKER)
    engine = breached.engine()
    with engine.connect() as conn:
        ciphertexts = [
            json.loads(bytes(r.body))["ciphertext"][:64]
            for r in conn.execute(select(envelopes.c.record_id, envelopes.c.body))
            if r.record_id in sent
        ]
    assert len(ciphertexts) == 2

    order = case_orders.erase_case(coordinator, erased)
    assert order.records_here == 2 and order.envelopes == 2
    summary = exchange.sync(field)  # the field laptop takes the order, and its draft goes too
    assert not summary.pulled.items_refused

    for ws in (field, coordinator):
        assert not _found_on_laptop(ws, MARKER), ws.home.name
        assert not _found_on_laptop(ws, erased), ws.home.name  # nor the case code
        assert _found_on_laptop(ws, KEEP)  # the other case is untouched
        assert [o.kind for o in CaseOrders(ws).orders()] == ["erasure"]
        assert any(e.action == "case-erasure" and e.record_id is None for e in ws.audit.entries())
        assert ws.audit.verify().ok
    assert draft not in {r.id for r in field.records.list()}
    # The server: the envelopes are gone (and zeroed in an SQLite file), the case code was
    # never there in clear.
    server = _server_text(engine)
    assert erased not in server and MARKER not in server
    for sealed in ciphertexts:
        assert sealed not in server
    if breached.database_url is None:
        db_file = breached.process.data_dir / "fieldkit-server.sqlite3"
        raw = db_file.read_bytes()
        wal = db_file.with_name(db_file.name + "-wal")
        raw += wal.read_bytes() if wal.exists() else b""
        for sealed in ciphertexts:
            assert sealed.encode() not in raw
    # An export made afterwards leaves the case out.
    from fieldkit.analysis.export import export_form
    from fieldkit.analysis.options import ExportOptions

    options = ExportOptions(include_sensitive=("story",))
    export_form(coordinator, "intake", fmt="csv", out_dir=tmp_path / "export", options=options)
    exported = "".join(f.read_text() for f in (tmp_path / "export").rglob("*") if f.is_file())
    assert KEEP in exported and MARKER not in exported and erased not in exported
    # Capture refuses the erased case from now on (every scope is withdrawn).
    from fieldkit.capture._consent import consents_by_case

    assert erased not in consents_by_case(field)


def test_a_record_pushed_before_the_order_arrived_is_erased_too(
    tmp_path: Path, breached: Any
) -> None:
    coordinator, field = _setup(tmp_path, breached.url, breached.admin_token)
    code = new_case_code(field)
    _record(field, code, MARKER)
    exchange.sync(field)
    exchange.pull(coordinator)
    # Finalized offline after the coordinator's pull: the next sync pushes it, then takes the
    # order; the coordinator never stores it and has the server delete it.
    late = _record(field, code, f"{MARKER} late")
    case_orders.erase_case(coordinator, code)
    exchange.sync(field)
    assert late not in {r.id for r in field.records.list()}
    pulled = exchange.pull(coordinator)
    assert pulled.erased == 1 and pulled.records == 0
    with breached.engine().connect() as conn:
        assert conn.execute(select(envelopes).where(envelopes.c.record_id == late)).first() is None
    assert not _found_on_laptop(coordinator, MARKER)


def test_an_order_for_a_case_the_laptop_never_had_changes_nothing(
    tmp_path: Path, breached: Any
) -> None:
    coordinator, field = _setup(tmp_path, breached.url, breached.admin_token)
    other = workspace(tmp_path, "other")
    exchange.enroll(other, breached.url, enroll_code(coordinator))
    exchange.sync(coordinator)
    code = new_case_code(field)
    _record(field, code, MARKER)
    mine = new_case_code(other)
    _record(other, mine, KEEP)
    exchange.sync(field)
    exchange.pull(coordinator)
    case_orders.erase_case(coordinator, code)
    before = {r.id for r in other.records.list()}
    summary = exchange.sync(other)
    assert not summary.pulled.items_refused
    assert {r.id for r in other.records.list()} == before
    assert [o.records for o in CaseOrders(other).orders()] == [0]


def _forged_erasure(project_id: str, issuer: str, record: tuple[str, str]) -> dict[str, Any]:
    from _server_kit import Device, sign

    attacker = Device()
    attacker.device_id = issuer
    body = {
        "order_id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        "cases": [],
        "envelopes": [{"device_id": record[0], "record_id": record[1]}],
    }
    return sign(Ed25519PrivateKey.generate(), attacker, "erasure", body, project_id=project_id)


def test_forged_and_replayed_orders_are_harmless(tmp_path: Path, breached: Any) -> None:
    from test_breached_server import _inject

    coordinator, field = _setup(tmp_path, breached.url, breached.admin_token)
    project_id = str(field.state.get("sync.project_id"))
    code = new_case_code(field)
    rid = _record(field, code, MARKER)
    exchange.sync(field)
    exchange.pull(coordinator)
    engine = breached.engine()
    device = str(field.state.get("sync.device_id"))
    # Signed by a key the attacker made, in the creator's name; and one "issued" by the field
    # device (not a coordinator), signed by the attacker's project key.
    _inject(engine, project_id, _forged_erasure(project_id, coordinator.device_id, (device, rid)))
    _inject(engine, project_id, _forged_erasure(project_id, device, (device, rid)))
    # The server refuses an order a field device posts in its own name.
    from sync.client import SyncClient

    forged = p.Statement.model_validate(_forged_erasure(project_id, device, (device, rid)))
    with (
        SyncClient(breached.url, token=field.state.get("sync.token")) as client,
        pytest.raises(Exception, match="coordinator"),
    ):
        client.post_statement({"statement": forged.model_dump(mode="json")})
    for ws in (coordinator, field):
        pulled = exchange.sync(ws).pulled
        assert sum(pulled.items_refused.values()) == 2, pulled.items_refused
        assert CaseOrders(ws).orders() == []
    assert rid in {r.id for r in field.records.list()}
    assert rid in {r.id for r in coordinator.records.list()}

    # A genuine order, then served again after the case got a new record: nothing happens twice.
    case_orders.erase_case(coordinator, code)
    exchange.sync(field)
    with engine.begin() as conn:
        old = conn.execute(select(statements.c.statement_id).where(statements.c.kind == "erasure"))
        from sync.server.feed import append_changes

        append_changes(conn, [(project_id, "statement", s.statement_id, None) for s in old])
    newer = _record(field, new_case_code(field), KEEP)
    for ws in (field, coordinator):
        exchange.sync(ws)
        assert len(CaseOrders(ws).orders()) == 1
    assert newer in {r.id for r in field.records.list()}


def test_a_withdrawn_scope_stops_sharing(tmp_path: Path, breached: Any) -> None:
    from fieldkit.capture._consent import consents_by_case

    coordinator, field = _setup(tmp_path, breached.url, breached.admin_token)
    code = new_case_code(field)
    consent = {
        "type": "survey",
        "name": "data",
        "id_string": "consent",
        "version": "1",
        "title": "Consent",
        "default_language": "default",
        "children": [
            {"type": "text", "name": "client_pseudonym", "label": "Case code"},
            {"type": "text", "name": "consent_given", "label": "Given"},
            {"type": "text", "name": "consent_scopes", "label": "Scopes"},
            {"type": "text", "name": "share_partners", "label": "Partners"},
        ],
    }
    field.forms.add(consent)
    answers = {
        "/data/client_pseudonym": code,
        "/data/consent_given": "yes",
        "/data/consent_scopes": "interview store share contact",
        "/data/share_partners": "shelter",
    }
    draft = field.records.create_draft(form_id="consent", form_version="1", answers=answers)
    field.records.finalize(draft.id, answers=answers)
    assert consents_by_case(field)[code].covers("share")
    exchange.sync(field)
    with pytest.raises(Exception, match="scope"):
        case_orders.withdraw_case(coordinator, code, ["sharing"])
    orders = case_orders.withdraw_case(coordinator, code, ["share"])
    assert [o.kind for o in orders] == ["withdrawal"]
    exchange.sync(field)
    consent_now = consents_by_case(field)[code]
    assert not consent_now.covers("share") and consent_now.covers("contact")
    assert [o.kind for o in CaseOrders(field).orders()] == ["withdrawal"]
    assert any(e.action == "case-withdrawal" for e in field.audit.entries())
    # Withdrawing statistics leaves the person out of the coordinator's report.
    import pandas as pd

    from fieldkit.analysis.report import _statistics_withdrawn

    frame = pd.DataFrame({"client_pseudonym": [code, "OTHER-CODE"]})
    assert _statistics_withdrawn(coordinator, frame) == set()
    case_orders.withdraw_case(coordinator, code, ["statistics"])
    assert _statistics_withdrawn(coordinator, frame) == {code}
    # The order itself names the case only sealed: the server holds no case code.
    assert code not in _server_text(breached.engine())


def test_an_erased_cases_events_go_with_its_records(tmp_path: Path, breached: Any) -> None:
    from fieldkit.cases import EVENT_FORM, close_case

    coordinator, field = _setup(tmp_path, breached.url, breached.admin_token)
    code = new_case_code(field)
    other = new_case_code(field, taken={code: None})  # type: ignore[dict-item]
    _record(field, code, MARKER)
    _record(field, other, KEEP)
    event = close_case(field, code).id
    kept_event = close_case(field, other).id
    exchange.sync(field)
    exchange.pull(coordinator)

    def events(ws: Workspace) -> set[str]:
        return {r.id for r in ws.records.list() if r.form_id == EVENT_FORM}

    assert {event, kept_event} <= events(coordinator)
    order = case_orders.erase_case(coordinator, code)
    assert order.records_here == 2  # the record and the case's event
    exchange.sync(field)
    assert event not in events(field) and event not in events(coordinator)
    assert kept_event in events(field) and kept_event in events(coordinator)
    with breached.engine().connect() as conn:
        assert conn.execute(select(envelopes).where(envelopes.c.record_id == event)).first() is None
