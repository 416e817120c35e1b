from __future__ import annotations

from pathlib import Path

import pytest
from _store_kit import FORM, PASSPHRASE, fingerprint, raw_connection, reopen

from fieldkit.errors import MigrationError
from fieldkit.store import create_workspace, schema


def test_a_version_1_workspace_opens_and_is_upgraded(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Made by code as the first release made it: only the first migration.
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        ws, _ = create_workspace(home, passphrase=PASSPHRASE)
        with ws:
            ws.forms.add(FORM)
    # The draft row as the first release wrote it (its columns; today's code writes more).
    draft_id = "00000000-0000-4000-8000-000000000001"
    conn = raw_connection(home)
    conn.execute(
        "INSERT INTO records (id, form_id, form_version, status, replaces, case_id, created_at,"
        " updated_at, finalized_at, answers, origin, device, capture_day, hlc) VALUES"
        " (?, 'household', '2024010101', 'draft', NULL, NULL, '2026-01-01T00:00:00.000Z',"
        " '2026-01-01T00:00:00.000Z', NULL, ?, 'local', 'dev-1', '2026-01-01', NULL)",
        (draft_id, '{"/data/site":"from v1"}'),
    )
    conn.commit()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "envelopes" not in tables
    conn.close()

    with reopen(home) as ws:
        assert ws.records.get(draft_id).answers == {"/data/site": "from v1"}
        assert ws.records.get(draft_id).received_at is None  # migration 3's column
        ws.records.finalize(draft_id, answers={"/data/site": "from v1"})
        ws.records.set_envelope(draft_id, b"sealed later")
        assert [e.record_id for e in ws.records.unsent()] == [draft_id]
        assert ws.audit.verify().ok
    conn = raw_connection(home)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.current_version()
    conn.close()


def test_a_workspace_from_a_newer_fieldkit_is_refused_untouched(home: Path) -> None:
    create_workspace(home, passphrase=PASSPHRASE)[0].close()
    conn = raw_connection(home)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = fingerprint(home)
    with pytest.raises(MigrationError, match="newer fieldkit"):
        reopen(home)
    assert fingerprint(home) == before


def test_migrations_are_an_ordered_list() -> None:
    assert schema.current_version() == len(schema.MIGRATIONS) >= 2
    assert all(callable(step) and step.__doc__ for step in schema.MIGRATIONS)
