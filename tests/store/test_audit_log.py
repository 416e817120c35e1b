from __future__ import annotations

from pathlib import Path

import pytest
from _store_kit import raw_connection, reopen

from fieldkit.store import Workspace

V = "2024010101"


def _activity(ws: Workspace) -> str:
    record = ws.records.create_draft(form_id="household", form_version=V)
    ws.records.save_answers(record.id, {"/data/respondent": "SECRET-NAME"})
    ws.records.finalize(record.id, answers={"/data/respondent": "SECRET-NAME"})
    other = ws.records.create_draft(form_id="household", form_version=V)
    ws.records.discard(other.id)
    return record.id


def _reopen(home: Path) -> Workspace:
    return reopen(home)


def test_every_change_is_logged_without_answer_text(ws: Workspace) -> None:
    record_id = _activity(ws)
    actions = [(e.action, e.record_id) for e in ws.audit.entries()]
    assert actions[0] == ("init", None)
    assert ("form_add", None) in actions
    assert [a for a, r in actions if r == record_id] == ["create", "save", "finalize"]
    assert [a for a, _ in actions][-2:] == ["create", "discard"]
    assert all(e.device == ws.device_id for e in ws.audit.entries())
    conn = raw_connection(ws.home)
    audit_rows = conn.execute("SELECT * FROM audit").fetchall()
    conn.close()
    assert audit_rows and "SECRET-NAME" not in repr(audit_rows)
    report = ws.audit.verify()
    assert report.ok and report.entries == len(actions)


def _tamper(home: Path, sql: str) -> None:
    conn = raw_connection(home)
    conn.execute(sql)
    conn.close()


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE audit SET action = 'save' WHERE action = 'finalize'", "was altered"),
        ("UPDATE audit SET at = '2020-01-01T00:00:00.000Z' WHERE seq = 2", "entry 2 was altered"),
        ("DELETE FROM audit WHERE seq = 3", "entry 3 is missing"),
        ("DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)", "were removed"),
        (
            "DELETE FROM audit WHERE seq > (SELECT max(seq) - 2 FROM audit)",
            "were removed",
        ),
        ("UPDATE audit_head SET count = count - 1", "anchor was altered"),
        ("DELETE FROM audit_head", "anchor is missing"),
    ],
)
def test_edited_or_deleted_entries_are_detected(ws: Workspace, sql: str, problem: str) -> None:
    _activity(ws)
    ws.close()
    _tamper(ws.home, sql)
    with _reopen(ws.home) as again:
        report = again.audit.verify()
    assert not report.ok
    assert report.problem is not None and problem in report.problem


def test_rewriting_the_chain_without_the_anchor_key_is_detected(ws: Workspace) -> None:
    """Recomputing every hash after a deletion is not enough: the anchor's MAC key is needed."""
    import hashlib
    import json

    _activity(ws)
    ws.close()
    conn = raw_connection(ws.home)
    conn.execute("DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)")
    rows = conn.execute(
        "SELECT seq, at, action, record_id, form_id, device FROM audit ORDER BY seq"
    ).fetchall()
    head = "0" * 64
    for row in rows:
        body = json.dumps(list(row), separators=(",", ":"), ensure_ascii=True)
        digest = hashlib.sha256(f"{head}\n{body}".encode()).hexdigest()
        conn.execute("UPDATE audit SET prev = ?, hash = ? WHERE seq = ?", (head, digest, row[0]))
        head = digest
    conn.execute("UPDATE audit_head SET count = ?, head = ?", (len(rows), head))
    conn.close()
    with _reopen(ws.home) as again:
        report = again.audit.verify()
    assert not report.ok and "anchor" in (report.problem or "")


def test_appends_from_two_connections_keep_one_chain(ws: Workspace) -> None:
    with _reopen(ws.home) as other:
        for i in range(5):
            ws.records.create_draft(form_id="household", form_version=V)
            other.records.create_draft(form_id="household", form_version=V)
            if i == 2:
                other.state.set("x", i)
        assert other.audit.verify().ok
    assert ws.audit.verify().ok
