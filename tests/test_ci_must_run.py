"""The rule in tests/conftest.py: under CI=true a skipped safety or parity test fails the run.

A small suite in tmp_path, with a copy of the real conftest, runs in a child pytest with and
without CI=true: a marked test that skips (by pytest.skip, by skipif, or for want of
PostgreSQL) fails under CI and skips elsewhere; an unmarked skip stays a skip everywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SUITE = '''
import pytest


@pytest.mark.safety
def test_marked_skip():
    pytest.skip("no java here")


@pytest.mark.parity
@pytest.mark.skipif(True, reason="no node here")
def test_marked_skipif():
    pass


def test_on_postgres(database_url):
    pass


def test_unmarked_skip():
    pytest.skip("nothing to prove")
'''

INI = """[pytest]
markers =
    safety: proves safety
    parity: proves parity
"""


def _run(folder: Path, *, ci: bool) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "FIELDKIT_TEST_DATABASE_URL"}}
    if ci:
        env["CI"] = "true"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider", str(folder)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout


def test_a_skip_of_what_proves_safety_fails_under_ci(tmp_path: Path) -> None:
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "test_suite.py").write_text(SUITE)

    code, out = _run(tmp_path, ci=True)
    assert code == 1, out
    # A skip in the call fails the test; one in setup (skipif, a fixture) is an error: both
    # fail the run, and only the unmarked skip is left a skip.
    assert re.search(r"1 failed, 1 skipped, 2 errors", out), out
    for name in ("test_marked_skip", "test_marked_skipif", "test_on_postgres"):
        assert re.search(rf"(FAILED|ERROR) .*{name}.*must run, but it skipped", out), (name, out)
    assert "no java here" in out and "FIELDKIT_TEST_DATABASE_URL is not set" in out

    code, out = _run(tmp_path, ci=False)
    assert code == 0, out
    assert re.search(r"4 skipped", out), out
