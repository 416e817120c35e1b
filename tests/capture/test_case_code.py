"""Case codes made by fieldkit (DOMAIN §8): shape, check character, uniqueness, near matches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fieldkit.capture import is_case_code, new_case_code, normalize_case_code
from fieldkit.capture._case_code import ALPHABET, _check_character, similar_codes
from fieldkit.store import Workspace, create_workspace

PASSPHRASE = "case code tests correct horse battery"
PAYLOAD = st.text(alphabet=ALPHABET, min_size=6, max_size=6)


def code_of(payload: str) -> str:
    return f"{payload[:2]}-{payload[2:]}-{_check_character(payload)}"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace, _ = create_workspace(
        tmp_path_factory.mktemp("codes") / "home", passphrase=PASSPHRASE
    )
    with workspace:
        yield workspace


@given(PAYLOAD)
def test_every_made_code_checks_and_every_single_slip_is_caught(payload: str) -> None:
    code = code_of(payload)
    assert is_case_code(code)
    for at in (0, 1, 3, 4, 5, 6, 8):
        for other in ALPHABET:
            if other != code[at]:
                assert not is_case_code(code[:at] + other + code[at + 1 :])


def test_typing_is_forgiven_but_not_guessed() -> None:
    code = code_of("7KM4QX")
    assert normalize_case_code(code.lower().replace("-", "")) == code
    assert normalize_case_code(f" {code[:2]} {code[3:7]} {code[8]} ") == code
    # I, L and O are not in the alphabet: read as 1, 1 and 0, as Crockford's rule says.
    assert normalize_case_code("AB-1OL2-X") == "AB-1012-X"
    assert normalize_case_code("Jane") == "JANE"  # not a code: left for the check to refuse
    assert not is_case_code("AB-1234") and not is_case_code("JANE")


def test_codes_are_unique_on_this_device_and_remembered(ws: Workspace) -> None:
    made = {new_case_code(ws) for _ in range(300)}
    assert len(made) == 300
    assert all(is_case_code(code) for code in made)
    # The two device characters are the same for every code of this device.
    assert len({code[:2] for code in made}) == 1
    remembered = set(ws.state.get("capture.case_codes"))
    assert made <= remembered


def test_a_code_held_on_the_laptop_is_never_proposed(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = new_case_code(ws)[:2]
    # The random draw first gives 0000 (a consent on the laptop holds it), then 0001.
    draws = iter("00000001")
    monkeypatch.setattr("fieldkit.capture._case_code.secrets.choice", lambda _: next(draws))
    held = code_of(prefix + "0000")
    assert new_case_code(ws, taken={held}) == code_of(prefix + "0001")


def test_other_devices_start_their_codes_differently(tmp_path: Path) -> None:
    starts = set()
    for n in range(4):
        other, _ = create_workspace(tmp_path / f"d{n}", passphrase=PASSPHRASE)
        with other:
            starts.add(new_case_code(other)[:2])
    assert len(starts) >= 2  # 1,024 prefixes: four devices rarely share one


def test_did_you_mean_finds_a_slip_or_a_swap() -> None:
    known = [code_of("7KM4QX"), code_of("AB1234"), code_of("ZZ9999")]
    slip = known[0][:4] + "N" + known[0][5:]
    assert similar_codes(slip, known) == [known[0]]
    swap = known[1][:3] + known[1][4] + known[1][3] + known[1][5:]
    assert similar_codes(swap, known) == [known[1]]
    assert similar_codes(known[2], known) == []  # the code itself is no suggestion
    assert similar_codes("QQ-QQQQ-Q", known) == []
