"""Schema-driven fuzzing of every operation without a usable token: 0 × 5xx (issue 14).

tests/sync/test_server_fuzz.py fuzzes with the admin's, a coordinator's and a field device's
tokens. Here the same operations get no Authorization header, a malformed one, an unknown
token and a revoked device's token, with valid and invalid data, against a real server whose
guard authenticates before it reads a body. Then the fuzz runs once more with a valid device
token, gzip-compressed bodies and a tiny memory budget, so the budget's paths are fuzzed too.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from _client_kit import keyed_device, keyed_project, revoke
from conftest import RunningServer, start_server_thread
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

EXAMPLES = 10
_COMPRESSED: list[int] = []  # status of every gzip-compressed request sent
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


def _fuzzer(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    *,
    url: str,
    headers: dict[str, str],
    compress: bool,
) -> Callable[[], None]:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        if compress and case.body is not None and not isinstance(case.body, bytes):
            # Send what schemathesis generated, gzip-compressed as the client would.
            prepared = case.as_transport_kwargs(base_url=url, headers=headers)
            data = prepared.get("json")
            if data is not None:
                import json

                raw = json.dumps(data).encode()
                response = requests.request(
                    prepared["method"],
                    prepared["url"],
                    params=prepared.get("params"),
                    data=gzip.compress(raw),
                    headers={
                        **headers,
                        "Content-Type": "application/json",
                        "Content-Encoding": "gzip",
                    },
                    timeout=30,
                )
                _COMPRESSED.append(response.status_code)
                assert response.status_code < 500, (response.status_code, response.text[:200])
                return
        response = case.call(base_url=url, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers)

    return run


def _fuzz_all(url: str, identities: dict[str, dict[str, str]], *, compress: bool) -> list[str]:
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    operations = [op.ok() for op in schema.get_all_operations()]
    assert len(operations) >= 11
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for who, headers in identities.items():
                try:
                    _fuzzer(operation, mode, url=url, headers=headers, compress=compress)()
                except Unsatisfiable:
                    assert mode is GenerationMode.NEGATIVE and not operation.query
                except Exception as exc:  # every operation runs; all failures reported
                    failures.append(f"{operation.label} as {who} ({mode.value}): {exc}")
    return failures


@pytest.mark.slow
def test_fuzz_without_a_usable_token(sync_server: RunningServer) -> None:
    url, tok = sync_server.url, sync_server.admin_token
    project = keyed_project(url, tok)
    gone = keyed_device(url, tok, project)
    revoke(url, tok, gone.device_id)
    identities = {
        "no token": {},
        "malformed": {"Authorization": "Basic Zm9vOmJhcg=="},
        "unknown token": {"Authorization": "Bearer " + "A" * 43},
        "revoked device": {"Authorization": f"Bearer {gone.token}"},
    }
    failures = _fuzz_all(url, identities, compress=False)
    assert not failures, "\n\n".join(failures[:4])


@pytest.fixture
def tight_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server_thread(
        tmp_path / "server",
        body_memory_budget_bytes=200_000,
        budget_wait_seconds=0.2,
        max_anonymous_body_bytes=2_000,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_fuzz_gzip_bodies_under_a_tight_budget(tight_server: RunningServer) -> None:
    url, tok = tight_server.url, tight_server.admin_token
    project = keyed_project(url, tok)
    field = keyed_device(url, tok, project)
    identities = {
        "field": field.auth,
        "coordinator": project.coordinator.auth,
        "no token": {},
    }
    failures = _fuzz_all(url, identities, compress=True)
    assert not failures, "\n\n".join(failures[:4])
    # A gzip body without a token is refused from its headers (401), anywhere but enrolment;
    # the anonymous cap's 413 is tests/sync/test_server_limits.py's.
    assert len(_COMPRESSED) > 100 and 200 in _COMPRESSED and 401 in _COMPRESSED
