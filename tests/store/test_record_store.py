from __future__ import annotations

from pathlib import Path

import pytest
from _store_kit import FORM, PASSPHRASE, reopen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldkit.errors import (
    FormError,
    FormNotFound,
    RecordError,
    RecordImmutable,
    RecordNotFound,
    StorageFull,
)
from fieldkit.store import Workspace, open_workspace
from fieldkit.store.forms import MASK, mask_sensitive, sensitive_paths

V = "2024010101"


def test_draft_save_finalize_get(ws: Workspace) -> None:
    draft = ws.records.create_draft(form_id="household", form_version=V, case_id="case-1")
    assert draft.status == "draft" and draft.answers == {} and draft.origin == "local"
    assert draft.device == ws.device_id and draft.case_id == "case-1"
    ws.records.save_answers(draft.id, {"/data/site": "KE-0101"})
    ws.records.save_answers(draft.id, {"/data/site": "KE-0102", "/data/member[1]/age": "34"})
    got = ws.records.get(draft.id)
    assert got.answers == {"/data/site": "KE-0102", "/data/member[1]/age": "34"}
    assert got.updated_at >= got.created_at
    final = ws.records.finalize(draft.id, answers={"/data/site": "KE-0102", "/data/x": ""})
    assert final.status == "finalized" and final.finalized_at and final.hlc
    assert final.answers == {"/data/site": "KE-0102", "/data/x": ""}
    assert "KE-0102" not in repr(final)


def test_finalized_is_immutable(ws: Workspace) -> None:
    record = ws.records.create_draft(form_id="household", form_version=V)
    ws.records.finalize(record.id, answers={"/data/site": "a"})
    with pytest.raises(RecordImmutable, match="cannot change"):
        ws.records.save_answers(record.id, {"/data/site": "b"})
    with pytest.raises(RecordImmutable):
        ws.records.finalize(record.id, answers={"/data/site": "b"})
    with pytest.raises(RecordImmutable):
        ws.records.discard(record.id)
    assert ws.records.get(record.id).answers == {"/data/site": "a"}


def test_replace_makes_a_new_version(ws: Workspace) -> None:
    record = ws.records.create_draft(form_id="household", form_version=V, case_id="c9")
    with pytest.raises(RecordError, match="draft"):
        ws.records.replace(record.id)
    ws.records.finalize(record.id, answers={"/data/site": "a"})
    edit = ws.records.replace(record.id)
    assert edit.replaces == record.id and edit.status == "draft" and edit.case_id == "c9"
    assert edit.answers == {"/data/site": "a"} and edit.id != record.id
    assert ws.records.get(record.id).status == "finalized"
    assert [e.action for e in ws.audit.entries(record_id=edit.id)] == ["replace"]


def test_discard_and_not_found(ws: Workspace) -> None:
    record = ws.records.create_draft(form_id="household", form_version=V)
    ws.records.discard(record.id)
    with pytest.raises(RecordNotFound):
        ws.records.get(record.id)
    with pytest.raises(RecordNotFound):
        ws.records.save_answers(record.id, {})
    with pytest.raises(RecordNotFound):
        ws.records.replace("no-such-id")


def test_unknown_form_version(ws: Workspace) -> None:
    with pytest.raises(FormNotFound):
        ws.records.create_draft(form_id="household", form_version="999")


def test_answers_must_be_text(ws: Workspace) -> None:
    record = ws.records.create_draft(form_id="household", form_version=V)
    with pytest.raises(TypeError):
        ws.records.save_answers(record.id, {"/data/age": 3})  # type: ignore[dict-item]


def test_list_filters_and_order(ws: Workspace) -> None:
    ids = [ws.records.create_draft(form_id="household", form_version=V).id for _ in range(3)]
    ws.records.finalize(ids[1], answers={})
    assert [r.id for r in ws.records.list()] == ids
    assert [r.id for r in ws.records.list(status="finalized")] == [ids[1]]
    assert [r.id for r in ws.records.list(status="draft", form_id="household")] == [ids[0], ids[2]]
    assert ws.records.list(form_id="other") == []
    with pytest.raises(RecordError):
        ws.records.list(status="lost")


def test_save_is_durable_in_another_connection(ws: Workspace) -> None:
    record = ws.records.create_draft(form_id="household", form_version=V)
    ws.records.save_answers(record.id, {"/data/site": "durable"})
    with reopen(ws.home) as other:
        assert other.records.get(record.id).answers == {"/data/site": "durable"}


def test_batch_is_all_or_nothing(ws: Workspace) -> None:
    with pytest.raises(RuntimeError), ws.records.batch():
        ws.records.create_draft(form_id="household", form_version=V)
        raise RuntimeError("stop")
    assert ws.records.list() == []
    assert ws.audit.verify().ok
    with ws.records.batch():
        for i in range(5):
            ws.records.import_received(
                record_id=f"r{i}",
                form_id="household",
                form_version=V,
                answers={"/data/site": str(i)},
                device="dev-x",
                capture_day="2024-01-02",
                finalized_at="2024-01-02T10:00:00.000Z",
            )
    assert len(ws.records.list()) == 5
    report = ws.audit.verify()
    assert report.ok and report.entries == len(ws.audit.entries())


def test_import_received_is_idempotent(ws: Workspace) -> None:
    kwargs = dict(
        record_id="9b7c",
        form_id="household",
        form_version=V,
        answers={"/data/site": "x"},
        device="dev-remote",
        capture_day="2024-03-04",
        finalized_at="2024-03-04T05:06:07.000Z",
        replaces=None,
        case_id="case-7",
    )
    first = ws.records.import_received(**kwargs)  # type: ignore[arg-type]
    again = ws.records.import_received(**{**kwargs, "answers": {"/data/site": "other"}})  # type: ignore[arg-type]
    assert first.origin == "received" and first.status == "finalized"
    assert again.answers == {"/data/site": "x"}
    assert len(ws.records.list()) == 1
    assert ws.records.unsealed() == []  # received records are not ours to seal
    with pytest.raises(RecordImmutable):
        ws.records.save_answers("9b7c", {})


def test_envelopes_unsent_and_mark_sent(ws: Workspace) -> None:
    a = ws.records.create_draft(form_id="household", form_version=V)
    b = ws.records.create_draft(form_id="household", form_version=V)
    with pytest.raises(RecordError, match="draft"):
        ws.records.set_envelope(a.id, b"x")
    ws.records.finalize(a.id, answers={})
    ws.records.finalize(b.id, answers={})
    assert {r.id for r in ws.records.unsealed()} == {a.id, b.id}
    ws.records.set_envelope(a.id, b"sealed-a")
    ws.records.set_envelope(b.id, b"sealed-b")
    assert ws.records.unsealed() == []
    unsent = ws.records.unsent()
    assert [(e.record_id, e.envelope) for e in unsent] == [(a.id, b"sealed-a"), (b.id, b"sealed-b")]
    assert len(ws.records.unsent(limit=1)) == 1
    ws.records.mark_sent([a.id])
    ws.records.mark_sent([a.id])  # twice is harmless
    assert [e.record_id for e in ws.records.unsent()] == [b.id]
    assert ws.records.get(a.id).status == "sent"
    assert [r.id for r in ws.records.list(status="sent")] == [a.id]


def test_finalize_does_not_seal_the_store_knows_nothing_of_sync(ws: Workspace) -> None:
    # Sealing belongs to fieldkit.exchange (at sync): a finalized record waits in unsealed().
    record = ws.records.create_draft(form_id="household", form_version=V)
    ws.records.finalize(record.id, answers={"/data/site": "sealed text"})
    assert ws.records.unsent() == []
    assert [r.id for r in ws.records.unsealed()] == [record.id]


def test_the_current_form_version_is_the_one_published_last(ws: Workspace) -> None:
    # A version that arrives late (or is served again) does not become the default.
    ws.forms.add({**FORM, "version": "2"}, published_at="2099-12-01T10:00:00.000Z")
    ws.forms.add({**FORM, "version": "1"}, published_at="2099-11-01T10:00:00.000Z")
    assert ws.forms.get("household").version == "2"


def test_forms_add_get_list(ws: Workspace) -> None:
    assert ws.forms.add(FORM).version == V  # same definition again: no-op
    with pytest.raises(FormError, match="different content"):
        ws.forms.add({**FORM, "title": "Changed"})
    ws.forms.add({**FORM, "version": "2024020101", "title": "Second"})
    assert ws.forms.get("household").version == "2024020101"
    assert ws.forms.get("household", V).title == "Household visit"
    assert [f.version for f in ws.forms.list()] == [V, "2024020101"]
    with pytest.raises(FormNotFound):
        ws.forms.get("nope")
    with pytest.raises(FormError, match="form_id"):
        ws.forms.add({"name": "data", "children": []})


def test_sensitive_paths_and_masking(ws: Workspace) -> None:
    paths = ws.forms.get("household").sensitive_paths()
    assert paths == {"/data/respondent", "/data/member/phone"}
    assert sensitive_paths(FORM) == paths  # the engine-free reader agrees with the engine
    answers = {
        "/data/site": "KE",
        "/data/respondent": "Amina",
        "/data/member[2]/phone": "+254700",
        "/data/member[2]/age": "9",
        "/data/respondent_note": "",
    }
    masked = mask_sensitive(answers, paths)
    assert masked["/data/site"] == "KE" and masked["/data/member[2]/age"] == "9"
    assert masked["/data/respondent"] == MASK and masked["/data/member[2]/phone"] == MASK
    assert set(mask_sensitive(answers, None).values()) == {MASK, ""}


def test_state_and_clock(ws: Workspace) -> None:
    assert ws.state.get("missing", 5) == 5
    ws.state.set("sync.cursor", {"n": 3})
    assert ws.state.get("sync.cursor") == {"n": 3}
    ws.state.delete("sync.cursor")
    assert ws.state.get("sync.cursor") is None
    first = ws.clock.tick()
    remote = "999999999999999-00000-remote"
    merged = ws.clock.observe(remote)
    assert first < merged and merged > remote and ws.clock.tick() > merged


def test_disk_full_during_save_leaves_the_last_save(tmp_path: Path) -> None:
    import subprocess

    from fieldkit.store import create_workspace

    mount = tmp_path / "small"
    mount.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        home = mount / "home"
        ws, _ = create_workspace(home, passphrase=PASSPHRASE)
        with ws:
            ws.forms.add(FORM)
            record = ws.records.create_draft(form_id="household", form_version=V)
            ws.records.save_answers(record.id, {"/data/site": "kept"})
            filler = mount / "filler"
            _fill(filler)
            big = {f"/data/q{i}": "x" * 1000 for i in range(400)}
            with pytest.raises(StorageFull, match="disk is full"):
                ws.records.save_answers(record.id, big)
            with pytest.raises(StorageFull):
                for _ in range(50):
                    ws.records.save_answers(record.id, {"/data/site": "y" * 20000})
        filler.unlink()
        with reopen(home) as again:
            again.check()
            assert again.records.get(record.id).answers["/data/site"] in ("kept", "y" * 20000)
            assert again.audit.verify().ok
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_at_init_leaves_nothing(tmp_path: Path) -> None:
    import subprocess

    from fieldkit.errors import WorkspaceMissing
    from fieldkit.store import create_workspace

    mount = tmp_path / "small"
    mount.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        _fill(mount / "filler")
        home = mount / "home"
        with pytest.raises(StorageFull):
            create_workspace(home, passphrase=PASSPHRASE)
        assert not home.exists() or list(home.iterdir()) == []
        with pytest.raises(WorkspaceMissing):
            open_workspace(home, passphrase=PASSPHRASE)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Write zeros until the file system refuses (ENOSPC)."""
    import os

    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(fd)


def test_import_many_is_the_bulk_import_received(ws: Workspace) -> None:
    def item(i: int) -> dict[str, object]:
        return {
            "record_id": f"bulk-{i}",
            "form_id": "household",
            "form_version": V,
            "answers": {"/data/site": str(i)},
            "device": "dev-r",
            "capture_day": "2024-05-06",
            "finalized_at": "2024-05-06T07:08:09.000Z",
            "case_id": "c" if i % 2 else None,
        }

    ws.records.import_received(**item(0))  # type: ignore[arg-type]
    assert ws.records.import_many([item(i) for i in range(1200)] + [item(5)]) == 1199
    assert ws.records.import_many([item(3)]) == 0
    stored = ws.records.get("bulk-7")
    assert stored.origin == "received" and stored.status == "finalized"
    assert stored.answers == {"/data/site": "7"} and stored.case_id == "c"
    assert len(ws.records.list()) == 1200
    imports = [e for e in ws.audit.entries() if e.action == "import"]
    assert len(imports) == 1200 and len({e.record_id for e in imports}) == 1200
    assert ws.audit.verify().ok
    with pytest.raises(TypeError, match="lacks"):
        ws.records.import_many([{"record_id": "x"}])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    answers=st.dictionaries(
        st.text(min_size=1, max_size=30).map(lambda t: "/data/" + t),
        st.text(max_size=200),
        max_size=12,
    )
)
def test_answers_round_trip_exactly(ws: Workspace, answers: dict[str, str]) -> None:
    record = ws.records.create_draft(form_id="household", form_version=V)
    ws.records.save_answers(record.id, answers)
    assert ws.records.get(record.id).answers == answers
    assert list(ws.records.get(record.id).answers) == list(answers)  # order kept
    final = ws.records.finalize(record.id, answers=answers)
    assert final.answers == answers


def test_database_settings(ws: Workspace) -> None:
    db = ws._db
    assert db.scalar("PRAGMA journal_mode") == "wal"
    assert db.scalar("PRAGMA synchronous") == 2  # FULL
    assert db.scalar("PRAGMA foreign_keys") == 1
    assert db.scalar("PRAGMA temp_store") == 2  # MEMORY
    assert db.scalar("PRAGMA secure_delete") == 1


@pytest.mark.parametrize(
    "path",
    sorted(
        p for p in (Path(__file__).resolve().parents[2] / "forms").glob("*.md") if p.stem.islower()
    ),
    ids=lambda p: p.stem,
)
def test_engine_free_sensitive_reader_matches_the_engine_on_bundled_forms(path: Path) -> None:
    from fieldkit.forms import load_form

    form = load_form(path)
    engine = {node.path for node in form.nodes() if node.sensitive}
    assert sensitive_paths(form.definition) == engine
