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
            draft = ws.records.create_draft(form_id="household", form_version="2024010101")
            ws.records.save_answers(draft.id, {"/data/site": "from v1"})
    conn = raw_connection(home)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "envelopes" not in tables
    conn.close()

    with reopen(home) as ws:
        assert ws.records.get(draft.id).answers == {"/data/site": "from v1"}
        ws.records.finalize(draft.id, answers={"/data/site": "from v1"})
        ws.records.set_envelope(draft.id, b"sealed later")
        assert [e.record_id for e in ws.records.unsent()] == [draft.id]
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
