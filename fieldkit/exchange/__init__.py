"""Exchange with the sync server: enrol, create a project, sync, pull, publish forms, approve a
second coordinator. The library the ``fieldkit`` sync commands call (DESIGN §6, §7)."""

from __future__ import annotations

from fieldkit.exchange.enrolment import (
    Enrolled,
    approve_coordinator,
    create_project,
    enroll,
    publish_form,
)
from fieldkit.exchange.transfer import Progress, PullSummary, SyncSummary, pull, seal_pending, sync

__all__ = [
    "Enrolled",
    "Progress",
    "PullSummary",
    "SyncSummary",
    "approve_coordinator",
    "create_project",
    "enroll",
    "publish_form",
    "pull",
    "seal_pending",
    "sync",
]
