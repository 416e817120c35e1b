"""Exchange with the sync server (DESIGN §3, §6, §7): create a project, make enrolment codes,
enrol, sync, pull, and what a coordinator signs for the project.

The one place that reads enrolment state, seals records, and speaks ``sync.protocol`` through
the transport in ``sync.client``. Nothing the server relays is taken on its word: statements
are checked against the project signing key pinned at enrolment, records against the
certificate of the device that sealed them.
"""

from __future__ import annotations

from fieldkit.exchange._sealing import seal_pending
from fieldkit.exchange._state import Enrolment, ProjectRoot, enrolment, is_enrolled
from fieldkit.exchange.code import EnrolmentCode
from fieldkit.exchange.joining import Enrolled, IssuedCode, create_project, enroll, make_code
from fieldkit.exchange.project import (
    ProjectInfo,
    Revoked,
    Upgraded,
    approve_coordinator,
    certified_devices,
    device_fingerprint,
    project_info,
    publish_form,
    revoke_device,
    rotate_key,
    set_emergency_contacts,
    trust_project,
    upgrade_trust,
)
from fieldkit.exchange.transfer import Progress, PullSummary, SyncSummary, pull, sync

__all__ = [
    "Enrolled",
    "Enrolment",
    "EnrolmentCode",
    "IssuedCode",
    "ProjectInfo",
    "ProjectRoot",
    "Progress",
    "PullSummary",
    "Revoked",
    "SyncSummary",
    "Upgraded",
    "approve_coordinator",
    "certified_devices",
    "create_project",
    "device_fingerprint",
    "enroll",
    "enrolment",
    "is_enrolled",
    "make_code",
    "project_info",
    "publish_form",
    "pull",
    "revoke_device",
    "rotate_key",
    "seal_pending",
    "set_emergency_contacts",
    "sync",
    "trust_project",
    "upgrade_trust",
]
