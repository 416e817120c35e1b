"""Helpers for the client tests: real workspaces, a project on a real server, records.

This is the one place tests set up projects and enrolled devices: with real workspaces
(``project``), or with bare keys for server-side tests that seal with tests/sync/_server_kit.py
(``keyed_project``, ``keyed_device``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from _server_kit import Device, Project
from _server_kit import create_project as _create_keyed_project
from _server_kit import enroll as _enroll_keyed

from fieldkit import exchange
from fieldkit.store import Workspace, create_workspace

PASSPHRASE = "violet tractor humming 27 lanterns"

FORM = {
    "type": "survey",
    "name": "data",
    "id_string": "household",
    "version": "2026112801",
    "title": "Household",
    "default_language": "default",
    "children": [
        {"type": "text", "name": "site", "label": "Site"},
        {"type": "integer", "name": "size", "label": "Household size"},
        {"type": "text", "name": "story", "label": "Account", "sensitive": "yes"},
    ],
}


def workspace(root: Path, name: str) -> Workspace:
    """A fresh, real SQLCipher workspace under ``root/name``."""
    ws, _recovery = create_workspace(root / name, passphrase=PASSPHRASE)
    return ws


def enroll_code(coordinator: Workspace, *, role: str = "field") -> str:
    """A one-time enrolment code made on a coordinator's laptop."""
    return str(exchange.make_code(coordinator, role=role, expires_seconds=3600).code)


def enroll(
    coordinator: Workspace, device: Workspace, url: str, *, role: str = "field", **options: Any
) -> exchange.Enrolled:
    """Enrol ``device`` with a code from ``coordinator``, then certify it (the coordinator's
    next sync), as a real deployment does."""
    enrolled = exchange.enroll(device, url, enroll_code(coordinator, role=role), **options)
    exchange.sync(coordinator)
    return enrolled


def revoke(url: str, admin_token: str, device_id: str) -> None:
    """Revoke a device through the admin API."""
    r = requests.post(
        url + f"/v1/admin/devices/{device_id}/revoke",
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=10,
    )
    r.raise_for_status()


def project(root: Path, url: str, admin_token: str) -> tuple[Workspace, Workspace]:
    """A coordinator who created the project and published FORM, and one enrolled field device."""
    coordinator = workspace(root, "coordinator")
    exchange.create_project(coordinator, "Survey 2026", server=url, admin_token=admin_token)
    exchange.publish_form(coordinator, dict(FORM))
    return coordinator, field_device(root, url, coordinator, name="field")


def field_device(root: Path, url: str, coordinator: Workspace, *, name: str) -> Workspace:
    """A fresh workspace under ``root/name`` enrolled (and certified) as one more field device
    of the coordinator's project."""
    field = workspace(root, name)
    enroll(coordinator, field, url)
    return field


def field_workspace(root: Path, name: str, url: str, coordinator: Workspace) -> Workspace:
    """One more field device of the coordinator's project, enrolled through ``url`` (another
    host, say) and certified: a real workspace."""
    ws = workspace(root, name)
    enroll(coordinator, ws, url)
    return ws


def capture(ws: Workspace, n: int, *, marker: str = "") -> list[str]:
    """Finalize ``n`` records of FORM; returns their ids."""
    ids = []
    with ws.records.batch():
        for i in range(n):
            draft = ws.records.create_draft(form_id=FORM["id_string"], form_version=FORM["version"])
            answers = {
                "/data/site": f"KE-{i:04d}",
                "/data/size": str(i % 9 + 1),
                "/data/story": f"{marker}account {i}",
            }
            ws.records.finalize(draft.id, answers=answers)
            ids.append(draft.id)
    return ids


def status_of(ws: Workspace) -> dict[str, str]:
    """record id → status for every record of the workspace."""
    return {r.id: r.status for r in ws.records.list()}


def answers_of(ws: Workspace, *, origin: str = "received") -> dict[str, dict[str, Any]]:
    """record id → answers for records of one origin."""
    return {r.id: r.answers for r in ws.records.list() if r.origin == origin}


def keyed_project(url: str, admin_token: str, name: str = "Test project") -> Project:
    """A project with its first coordinator, as bare keys (no workspace): for server tests."""
    return _create_keyed_project(url, admin_token, name)


def keyed_device(url: str, admin_token: str, project: Project, *, role: str = "field") -> Device:
    """A device enrolled into ``project``, as bare keys (no workspace): for server tests."""
    return _enroll_keyed(url, admin_token, project, role)
