"""The report a coordinator hands to a donor: no suppressed figure can be worked out from the
figures shown (a property test with an attacker written apart from the code), a title block,
labels in the chosen language, and a page that renders and prints in a real Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_indicator_report import figures, home, ws  # noqa: F401 (shared fixtures)

from fieldkit.analysis import build_report, render_html, write_report
from fieldkit.analysis._cells import Protection, Raw, publish
from fieldkit.store import Workspace

# ------------------------------------------------------------------- the attacker


def known(shown: Any, *, k: int, res: int, cap: int, withheld_floor: int) -> range:
    """Every value a cell may have, given only what the page shows and the published rules."""
    if shown is None or shown == "withheld":
        return range(withheld_floor, cap + 1)
    if isinstance(shown, str):  # "<k"
        return range(1, k)
    if shown == 0:
        return range(0, 1)
    return range(max(shown, k), shown + res)


def sums(ranges: Sequence[range]) -> set[int]:
    """Every total the cells can add up to (exact, by enumeration)."""
    reachable = {0}
    for r in ranges:
        reachable = {s + v for s in reachable for v in r}
    return reachable


def recoverable(shown: Sequence[Any], total: Any, *, k: int, res: int, cap: int,
                floor: int) -> list[int]:  # fmt: skip
    """Indexes of withheld cells that the page pins to one value by subtraction."""
    ranges = [known(s, k=k, res=res, cap=cap, withheld_floor=floor) for s in shown]
    totals = set(known(total, k=k, res=res, cap=cap, withheld_floor=floor))
    pinned = []
    for i, s in enumerate(shown):
        if not (s is None or isinstance(s, str)):
            continue
        others = sums([r for j, r in enumerate(ranges) if j != i])
        possible = {v for v in ranges[i] if any(v + o in totals for o in others)}
        if len(possible) < 2:
            pinned.append(i)
    return pinned


RULES = st.sampled_from([(3, 1), (5, 1), (11, 5), (5, 5), (11, 1)])


@settings(max_examples=300, deadline=None)
@given(counts=st.lists(st.integers(0, 30), min_size=2, max_size=4), rules=RULES)
def test_no_suppressed_count_can_be_recovered_by_subtraction(
    counts: list[int], rules: tuple[int, int]
) -> None:
    k, res = rules
    protection = Protection(k=k, resolution=res)
    cells = [Raw(str(i), num=n) for i, n in enumerate(counts)]
    total, shown = publish("count", Raw("all", num=sum(counts)), cells, protection,
                           partition=True)  # fmt: skip
    values = [f.value for f in shown]
    if not shown:
        return  # no breakdown could be protected: only the total is published
    # What is shown is true: a shown count is the exact count rounded down.
    for f, n in zip(shown, counts, strict=True):
        if isinstance(f.value, int):
            assert f.value <= n < f.value + res and (f.value == 0) == (n == 0)
        elif f.value != "withheld":
            assert 0 < n < k  # "<k" only for a small count
    cap = sum(counts) + res
    assert recoverable(values, total.value, k=k, res=res, cap=cap, floor=k) == []


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 20)).map(lambda t: (min(t), max(t))),
        min_size=2,
        max_size=3,
    ),
    rules=RULES,
)
def test_no_withheld_rate_can_be_recovered(
    rows: list[tuple[int, int]], rules: tuple[int, int]
) -> None:
    k, res = rules
    protection = Protection(k=k, resolution=res)
    cells = [Raw(str(i), num, den) for i, (num, den) in enumerate(rows)]
    num_t, den_t = sum(r[0] for r in rows), sum(r[1] for r in rows)
    total, shown = publish("percent", Raw("all", num_t, den_t), cells, protection,
                           partition=True)  # fmt: skip
    cap = den_t + res
    if not shown:
        return
    for f in shown:
        if f.value == "withheld":
            # "withheld (20 of 25)" would give the rate back.
            assert f.numerator is None and f.denominator is None
        elif isinstance(f.value, int):
            # The page adds up: the percentage is the one its published counts give.
            assert f.value == round(100 * f.numerator / f.denominator)
    shown_total = (
        (total.numerator, total.denominator) if total.value != "withheld" else (None, None)
    )
    parts = (
        ([f.numerator for f in shown], shown_total[0]),
        ([f.denominator for f in shown], shown_total[1]),
    )
    for cells_shown, total_shown in parts:
        # A withheld row reveals nothing of itself: anything from 0 up.
        assert recoverable(cells_shown, total_shown, k=k, res=res, cap=cap, floor=0) == []


def test_anonymous_survey_counts_are_not_suppressed() -> None:
    rules = Protection.anonymous(Protection(k=11, resolution=5))
    total, shown = publish("count", Raw("all", num=9), [Raw("a", 2), Raw("b", 7)], rules,
                           partition=True)  # fmt: skip
    assert total.value == 9 and [f.value for f in shown] == [2, 7]


# ------------------------------------------------------------------- the page


def test_title_block_and_french_labels(ws: Workspace, tmp_path: Path) -> None:  # noqa: F811
    report = build_report(
        ws, min_cell=3, resolution=1, lang="fr", programme="Programme <Côte>",
        organisation="ONG & partenaires",
    )  # fmt: skip
    page = render_html(report)
    assert "<h1>Programme &lt;Côte&gt;</h1>" in page
    assert "ONG &amp; partenaires" in page
    assert "Synthèse" in page and "Période" in page
    assert "Féminin" in page  # the sex choice's French label, not "female"
    assert "forced_labour" not in page and "Travail forcé" in page
    assert page.index('class="summary"') < page.index('id="people_screened"')
    with pytest.raises(Exception, match="--lang"):
        build_report(ws, lang="de")
    default = render_html(build_report(ws))
    assert "Petits groupes" not in default
    got = figures(build_report(ws))
    assert "_small_groups" not in got["referrals_made"].get("service_type", {})


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.skipif(_chromium() is None, reason="Chromium is not installed")
def test_report_renders_and_prints_in_headless_chromium(ws: Workspace, tmp_path: Path) -> None:  # noqa: F811
    from matplotlib.image import imread

    page = write_report(
        build_report(ws, min_cell=3, resolution=1, programme="Coast programme"),
        tmp_path / "report.html",
    )
    browser = _chromium()
    assert browser is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
    ]
    env = {**os.environ, "HOME": str(tmp_path)}

    def run(*extra: str) -> None:
        profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
        subprocess.run(
            [browser, *flags, f"--user-data-dir={profile}", *extra, page.as_uri()],
            check=True, capture_output=True, timeout=120, env=env,
        )  # fmt: skip

    shot = tmp_path / "report.png"
    run(f"--screenshot={shot}", "--window-size=1280,1600", "--hide-scrollbars")
    pixels = imread(shot)
    assert pixels.shape[0] == 1600 and pixels.shape[1] == 1280
    assert float(pixels[..., :3].std()) > 0.05  # text and charts, not a blank page
    pdf = tmp_path / "report.pdf"
    run(f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    # The title block and summary fill the first page; the indicators follow.
    assert pages >= 3
