from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.crypto import keys
from fieldkit.store import passphrase_problem


def test_recovery_key_is_eight_groups_of_five_and_reads_back_loosely() -> None:
    raw, text = keys.new_recovery_key()
    groups = text.split("-")
    assert len(groups) == 8 and all(len(g) == 5 for g in groups)
    assert keys.parse_recovery_key(text) == raw
    assert keys.parse_recovery_key(" ".join(groups).lower()) == raw
    assert keys.parse_recovery_key("".join(groups) + "\n") == raw


@given(st.binary(min_size=25, max_size=25))
def test_recovery_key_round_trip(raw: bytes) -> None:
    assert keys.parse_recovery_key(keys.format_recovery_key(raw)) == raw


@pytest.mark.parametrize("text", ["", "ABCDE", "ABCDE-" * 9, "!!!!!-" * 7 + "!!!!!"])
def test_not_a_recovery_key(text: str) -> None:
    with pytest.raises(ValueError):
        keys.parse_recovery_key(text)


def test_wrap_binds_its_associated_data() -> None:
    kek, dmk = keys.new_master_key(), keys.new_master_key()
    blob = keys.wrap_key(kek, dmk, aad=b"one")
    assert keys.unwrap_key(kek, blob, aad=b"one") == dmk
    with pytest.raises(keys.UnwrapFailed):
        keys.unwrap_key(kek, blob, aad=b"two")
    with pytest.raises(keys.UnwrapFailed):
        keys.unwrap_key(keys.new_master_key(), blob, aad=b"one")


def test_kdf_parameters_have_a_floor() -> None:
    params = keys.KdfParams.fresh()
    assert params.memory_kib >= 64 * 1024 and params.iterations >= 3
    weakened = {**params.to_json(), "memory_kib": 1024}
    with pytest.raises(ValueError):
        keys.KdfParams.from_json(weakened)
    assert keys.KdfParams.from_json(params.to_json()) == params


def _rfc5869(ikm: bytes, *, info: bytes, length: int = 32, salt: bytes = b"") -> bytes:
    """HKDF-SHA256 written out from RFC 5869 §2 with the standard library only."""
    prk = hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm, counter = okm + block, counter + 1
    return okm[:length]


def test_the_reference_hkdf_matches_rfc_5869() -> None:
    # RFC 5869 appendix A.1 (test case 1): the yardstick below is itself right.
    okm = _rfc5869(
        bytes([0x0B] * 22),
        salt=bytes(range(13)),
        info=bytes(range(0xF0, 0xFA)),
        length=42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_subkeys_are_hkdf_of_the_master_key_under_their_labels() -> None:
    """Each subkey against an independent derivation (not against itself).

    The labels are part of the on-disk format: a workspace made with one label cannot be
    opened with another. Seen red on purpose: the "sqlcipher" label changed in a scratch copy.
    """
    for dmk in (bytes(range(32)), keys.new_master_key()):
        assert keys.sqlcipher_key(dmk) == _rfc5869(dmk, info=b"sqlcipher")
        assert keys.audit_key(dmk) == _rfc5869(dmk, info=b"audit")
        assert keys.keyfile_mac_key(dmk) == _rfc5869(dmk, info=b"keyfile")
    other = keys.new_master_key()
    assert keys.sqlcipher_key(other) != keys.sqlcipher_key(bytes(range(32)))


def test_passphrase_is_normalised_before_derivation() -> None:
    params = keys.KdfParams.fresh()
    composed, decomposed = "caf\u00e9 au lait 1234", "cafe\u0301 au lait 1234"
    assert keys.derive_passphrase_kek(composed, params) == keys.derive_passphrase_kek(
        decomposed, params
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("short1!", "at least 10"),
        ("aaaaaaaaaaaa", "different characters"),
        ("abababababab", "different characters"),
        ("password123!", "common"),
        ("Password2024", "common"),
        ("1234567890", "consecutive"),
        ("asdfghjklzx", "consecutive"),
        ("zyxwvutsrqpo", "consecutive"),
        ("abcabcabcabc", "repeated"),
        (" leading space ok", "space"),
    ],
)
def test_weak_passphrases_are_refused_with_a_reason(text: str, reason: str) -> None:
    problem = passphrase_problem(text)
    assert problem is not None and reason in problem


@pytest.mark.parametrize("text", ["amber-kettle-orbit-71", "correct horse battery", "Tr0ub4dor&3x"])
def test_reasonable_passphrases_pass(text: str) -> None:
    assert passphrase_problem(text) is None
