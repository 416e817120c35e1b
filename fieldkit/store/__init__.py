"""The encrypted workspace: key file, SQLCipher database, forms, records, audit log (DESIGN §3, §5).

See docs/internals.md ("Workspace") for the interface other packages rely on.
"""

from __future__ import annotations

from fieldkit.store.audit import AuditEntry, AuditReport
from fieldkit.store.forms import FormVersion, sensitive_paths
from fieldkit.store.passphrase import passphrase_problem
from fieldkit.store.records import Record, StoredEnvelope
from fieldkit.store.workspace import (
    Device,
    Workspace,
    change_passphrase,
    check_passphrase,
    create_workspace,
    lock_workspace,
    open_from_cache,
    open_workspace,
    recover_workspace,
    require_no_workspace,
    wipe_workspace,
    workspace_id,
)

__all__ = [
    "AuditEntry",
    "AuditReport",
    "Device",
    "FormVersion",
    "Record",
    "StoredEnvelope",
    "Workspace",
    "change_passphrase",
    "check_passphrase",
    "create_workspace",
    "lock_workspace",
    "open_from_cache",
    "open_workspace",
    "passphrase_problem",
    "recover_workspace",
    "require_no_workspace",
    "sensitive_paths",
    "wipe_workspace",
    "workspace_id",
]
