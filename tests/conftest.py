"""Shared fixtures (every test gets its own real workspace folder under tmp_path), and the rule
that CI cannot skip what proves safety or parity.

Tests marked ``safety`` (a safety property: exactly once, crash safety, no plaintext on the
server, commit order, quick exit) or ``parity`` (agreement with ODK's own engines or pyxform's
corpus) may skip on a laptop that lacks Java, node or PostgreSQL. Under ``CI=true`` such a skip
fails the run instead: `.ci/run` installs everything they need, so a skip there means the run
proved less than it claims. Every test that runs on PostgreSQL counts as ``safety``
automatically. docs/internals.md ("How the safety tests are proven") lists the marked tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

MUST_RUN_MARKERS = ("safety", "parity")
# Fixtures that put a test on PostgreSQL (pg_url and pg_sync_server depend on database_url).
_POSTGRES_FIXTURES = frozenset({"database_url"})


def in_ci() -> bool:
    """True when the environment says this is a CI run (``CI=true``, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def must_run(item: pytest.Item) -> bool:
    """True for a test that proves safety or parity (and so may not skip in CI)."""
    return any(item.get_closest_marker(name) is not None for name in MUST_RUN_MARKERS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL as ``safety``: it proves storage there."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        on_postgres = bool(names & _POSTGRES_FIXTURES) or (
            callspec is not None and callspec.params.get("any_sync_server") == "postgres"
        )
        if on_postgres:
            item.add_marker(pytest.mark.safety)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI=true, a skipped safety or parity test is reported as failed, with the reason."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if not (report.skipped and in_ci() and must_run(item)):
        return
    if hasattr(report, "wasxfail"):
        return  # an expected failure is not a skip
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"CI=true: {item.nodeid} proves safety or parity and must run, but it skipped: {reason}"
    )


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace location, also exported as FIELDKIT_HOME."""
    path = tmp_path / "home"
    monkeypatch.setenv("FIELDKIT_HOME", str(path))
    monkeypatch.delenv("FIELDKIT_PASSPHRASE", raising=False)
    return path


@pytest.fixture
def database_url() -> str:
    """The PostgreSQL test database, or skip when none is configured."""
    url = os.environ.get("FIELDKIT_TEST_DATABASE_URL")
    if not url:
        pytest.skip("FIELDKIT_TEST_DATABASE_URL is not set")
    return url
