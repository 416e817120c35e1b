"""The bundle file format (fieldkit/exchange/_container.py): round trip, order, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fieldkit.errors import CryptoError, UsageError
from fieldkit.exchange._container import BundleHeader, BundleReader, BundleWriter, signed_message

HEADER = BundleHeader("b" * 32, "records", "proj", "dev", "2026-12-01T00:00:00.000Z")


def _write(path: Path, items: list[tuple[str, bytes]]) -> Path:
    writer = BundleWriter(path, HEADER)
    for kind, payload in items:
        writer.add(kind, payload)
    return writer.finish(lambda m: {"signature": m.hex()})


kinds = st.sampled_from(["envelope", "statement", "attachment", "receipt"])


@settings(max_examples=40, deadline=None)
@given(items=st.lists(st.tuples(kinds, st.binary(max_size=3000)), max_size=40))
def test_items_come_back_in_order_and_the_signature_covers_the_digest(
    tmp_path_factory: pytest.TempPathFactory, items: list[tuple[str, bytes]]
) -> None:
    path = _write(tmp_path_factory.mktemp("b") / "x.fkb", items)
    with BundleReader(path) as reader:
        digest = reader.digest()
        assert reader.header == HEADER
        assert reader.trailer["signature"] == signed_message(digest).hex()
        assert list(reader.items()) == items


def test_large_items_stream_through(tmp_path: Path) -> None:
    big = [("attachment", bytes(range(256)) * 20_000), ("envelope", b"{}")]
    with BundleReader(_write(tmp_path / "big.fkb", big)) as reader:
        reader.digest()
        assert list(reader.items()) == big


def test_not_a_bundle_and_a_newer_format_are_told_apart(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.fkb", [("envelope", b"{}")])
    data = path.read_bytes()
    newer = tmp_path / "newer.fkb"
    newer.write_bytes(data[:8] + b"\x02" + data[9:])
    with pytest.raises(UsageError, match="newer fieldkit"):
        BundleReader(newer)
    other = tmp_path / "other.fkb"
    other.write_bytes(b"%PDF-1.7\n" + data[9:])
    with pytest.raises(UsageError, match="not a fieldkit bundle"):
        BundleReader(other)


def test_an_item_count_that_does_not_match_is_refused(tmp_path: Path) -> None:
    """The count in the trailer is not what the signature covers (the frames and their end
    marker are): changing it cannot add or hide an item, only make the reading fail."""
    path = _write(tmp_path / "x.fkb", [("envelope", b"{}"), ("envelope", b"[]")])
    data = path.read_bytes()
    forged = tmp_path / "forged.fkb"
    forged.write_bytes(data.replace(b'"items":2', b'"items":1'))
    with BundleReader(forged) as reader:
        reader.digest()
        with pytest.raises(CryptoError, match="damaged"):
            list(reader.items())
