"""``sync`` and ``pull``: push sealed records exactly once, then take in what is new.

Exactly once (DESIGN §6) rests on three rules kept here:

1. a record is sealed once and its envelope bytes never change, so a resend is byte-identical;
2. a record is marked sent only after the server answered ``created`` or ``duplicate`` for it —
   the server commits before it replies, so "marked sent" implies "held by the server";
   anything unanswered (a cut connection, a crash) is simply sent again and comes back
   ``duplicate``;
3. a pull page is applied together with its cursor in one local transaction, so a crash between
   the two can neither skip a change nor apply one twice (and applying is idempotent anyway).
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fieldkit.crypto.envelope import (
    STATE_PROJECT_KEYS,
    keys_by_id,
    open_envelope,
    project_keys,
    seal_record,
)
from fieldkit.errors import AuthError, CryptoError, FormError, ProtocolError, RecordNotFound
from fieldkit.exchange._state import (
    STATE_CURSOR,
    STATE_DEVICE_KEYS,
    STATE_PENDING_KEYS,
    STATE_REVOKED,
    Enrolment,
    check_server,
    enrolment,
    open_client,
    project_private_keys,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from fieldkit.crypto.envelope import OpenedEnvelope
    from fieldkit.store import Workspace
    from sync.client import SyncClient

__all__ = ["Progress", "PullSummary", "SyncSummary", "pull", "sync"]

# progress(phase, done, total): phase is "seal", "push" or "pull"; total None when unknown.
Progress = Callable[[str, int, int | None], None]

PUSH_BATCH = 250
PULL_LIMIT = 1000
KEY_GRANT_INFO = b"fieldkit/v1/project-key"


def _no_progress(phase: str, done: int, total: int | None) -> None:
    pass


@dataclass
class PullSummary:
    """What a pull took in."""

    records: int = 0  # records decrypted and stored for the first time
    already_had: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (record id, why)
    forms: int = 0
    keys: int = 0
    changes: int = 0

    def line(self) -> str:
        """One line for the terminal."""
        parts = [f"{self.records} new record{'' if self.records == 1 else 's'}"]
        if self.already_had:
            parts.append(f"{self.already_had} already here")
        if self.forms:
            parts.append(f"{self.forms} form version{'' if self.forms == 1 else 's'}")
        if self.keys:
            parts.append(f"{self.keys} project key{'' if self.keys == 1 else 's'}")
        if self.refused:
            parts.append(f"{len(self.refused)} refused (did not verify)")
        return "Pulled: " + ", ".join(parts) + "."


@dataclass
class SyncSummary:
    """What a sync did: pushed, still waiting, and what the pull took in."""

    server: str
    sealed: int = 0
    sent: int = 0  # created on the server by this run
    already_on_server: int = 0  # duplicate: the server had it (an earlier run was cut short)
    conflicts: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    waiting: int = 0
    pulled: PullSummary = field(default_factory=PullSummary)

    def line(self) -> str:
        """One line for the terminal."""
        sent = self.sent + self.already_on_server
        text = f"Sent {sent} record{'' if sent == 1 else 's'}"
        if self.conflicts:
            text += f", {len(self.conflicts)} in conflict"
        if self.rejected:
            text += f", {len(self.rejected)} rejected"
        text += f"; {self.waiting} waiting."
        if self.pulled.forms:
            text += f" {self.pulled.forms} new form version(s)."
        if self.pulled.records:
            text += f" {self.pulled.records} record(s) received."
        return text


def seal_pending(ws: Workspace) -> int:
    """Seal finalized records that could not be sealed at finalize (no project key then)."""
    count = 0
    pending = ws.records.unsealed()
    if not pending:
        return 0
    with ws.records.batch():
        for record in pending:
            blob = seal_record(ws, record)
            if blob is None:
                break
            ws.records.set_envelope(record.id, blob)
            count += 1
    return count


def sync(
    ws: Workspace,
    *,
    server: str | None = None,
    insecure_http: bool = False,
    progress: Progress | None = None,
    batch_size: int = PUSH_BATCH,
    pull_limit: int = PULL_LIMIT,
    **client_options: Any,
) -> SyncSummary:
    """Push every sealed, unsent record, then pull forms, keys, grants (and, for a coordinator,
    records) — the whole of ``fieldkit sync``."""
    report = progress or _no_progress
    enrolment(ws)  # NotEnrolled before anything else happens
    sealed = seal_pending(ws)
    unsent = ws.records.unsent(limit=10**9)
    info, client = open_client(
        ws,
        server=server,
        insecure_http=insecure_http,
        waiting=len(unsent),
        **client_options,
    )
    summary = SyncSummary(server=client.base_url, sealed=sealed)
    with client:
        check_server(client)
        summary.waiting = len(unsent)
        _push(ws, client, unsent, summary=summary, batch_size=batch_size, report=report)
        summary.pulled = _pull(ws, client, info, limit=pull_limit, report=report)
    return summary


def _push(
    ws: Workspace,
    client: SyncClient,
    unsent: Sequence[Any],
    *,
    summary: SyncSummary,
    batch_size: int,
    report: Progress,
    in_flight: int = 2,
) -> None:
    total = len(unsent)
    report("push", 0, total)
    done = 0
    batches = [unsent[i : i + batch_size] for i in range(0, total, batch_size)]
    # Two batches in flight: the server checks one while the next is compressed and sent.
    # Only this thread touches the workspace; each batch is marked sent on its own reply, so
    # a failure anywhere leaves later batches unmarked (they come back `duplicate`).
    with ThreadPoolExecutor(max_workers=max(1, in_flight)) as pool:
        pending: deque[tuple[Sequence[Any], Future[list[dict[str, Any]]]]] = deque()
        try:
            for batch in batches:
                pending.append((batch, pool.submit(client.push, [i.envelope for i in batch])))
                if len(pending) >= in_flight:
                    done += _settle_batch(ws, client, *pending.popleft(), summary=summary)
                    report("push", done, total)
            while pending:
                done += _settle_batch(ws, client, *pending.popleft(), summary=summary)
                report("push", done, total)
        finally:
            for _, future in pending:
                future.cancel()


def _settle_batch(
    ws: Workspace,
    client: SyncClient,
    batch: Sequence[Any],
    future: Future[list[dict[str, Any]]],
    *,
    summary: SyncSummary,
) -> int:
    results = future.result()
    acknowledged = []
    for item, result in zip(batch, results, strict=True):
        if result.get("record_id") != item.record_id:
            raise ProtocolError("the server's push reply names other records than were sent")
        status = result["status"]
        if status in {"created", "duplicate"}:
            acknowledged.append(item.record_id)
            if status == "created":
                summary.sent += 1
            else:
                summary.already_on_server += 1
        elif status == "conflict":
            # Same id, other bytes: never overwrite, never mark sent; a person must look.
            summary.conflicts.append(item.record_id)
        else:
            summary.rejected.append((item.record_id, str(result.get("reason") or "")[:200]))
    ws.records.mark_sent(acknowledged)
    summary.waiting -= len(acknowledged)
    client.waiting = summary.waiting
    return len(batch)


def pull(
    ws: Workspace,
    *,
    server: str | None = None,
    insecure_http: bool = False,
    progress: Progress | None = None,
    limit: int = PULL_LIMIT,
    workers: int = 2,
    **client_options: Any,
) -> PullSummary:
    """Coordinator: fetch every record the project key opens, verify, decrypt and store it."""
    info = enrolment(ws)
    if not info.is_coordinator or not project_private_keys(ws):
        raise AuthError(
            "only a coordinator holding the project key can pull records "
            "(a second coordinator needs `fieldkit project approve` from the first)"
        )
    info, client = open_client(ws, server=server, insecure_http=insecure_http, **client_options)
    with client:
        check_server(client)
        return _pull(
            ws, client, info, limit=limit, report=progress or _no_progress, workers=workers
        )


def _pull(
    ws: Workspace,
    client: SyncClient,
    info: Enrolment,
    *,
    limit: int,
    report: Progress,
    workers: int = 2,
) -> PullSummary:
    summary = PullSummary()
    report("pull", 0, None)
    cursor = str(ws.state.get(STATE_CURSOR) or "0")
    _pull_from(
        ws, client, info, cursor, summary=summary, limit=limit, report=report, workers=workers
    )
    if summary.keys and info.is_coordinator:
        # A coordinator just received the project key: records it skipped before (it could not
        # open them) are in the feed behind the cursor. Start again from the beginning; importing
        # is idempotent, so records already here are only counted.
        _pull_from(
            ws, client, info, "0", summary=summary, limit=limit, report=report, workers=workers
        )
    return summary


def _pull_from(
    ws: Workspace,
    client: SyncClient,
    info: Enrolment,
    cursor: str,
    *,
    summary: PullSummary,
    limit: int,
    report: Progress,
    workers: int,
) -> None:
    # Only a coordinator holding a project private key opens records; without one, records in
    # the feed are passed over (and re-read once a key grant arrives, see _pull).
    opener = _Opener(ws, client, info) if info.is_coordinator else None
    if opener is not None and not opener.can_open:
        opener = None
    pool = ThreadPoolExecutor(max_workers=max(1, workers)) if opener else None
    # The next page is fetched while this one is verified and stored: the server reads and
    # encodes it meanwhile. Pages are still applied strictly in order, each with its cursor.
    fetcher = ThreadPoolExecutor(max_workers=1)
    try:
        upcoming = fetcher.submit(client.pull, cursor=cursor, limit=limit)
        while True:
            page = upcoming.result()
            changes = page["changes"]
            more = bool(page["has_more"] and changes)
            if more:
                upcoming = fetcher.submit(client.pull, cursor=page["next_cursor"], limit=limit)
            opened: dict[int, OpenedEnvelope | CryptoError] = {}
            if opener is not None and pool is not None:
                # Verifying and decrypting is the costly part; cryptography releases the GIL in
                # its primitives, so a small thread pool uses both cores of a laptop.
                envelopes = [(i, c) for i, c in enumerate(changes) if c.get("type") == "envelope"]
                opener.learn_devices({c["envelope"]["header"]["device_id"] for _, c in envelopes})
                results = pool.map(opener.open, [c["envelope"] for _, c in envelopes])
                for (i, _), result in zip(envelopes, results, strict=True):
                    opened[i] = result
            # The page and its cursor are saved in one local transaction (DESIGN §6).
            with ws.records.batch():
                for i, change in enumerate(changes):
                    _apply(ws, change, info, summary, opened.get(i))
                ws.state.set(STATE_CURSOR, page["next_cursor"])
            summary.changes += len(changes)
            report("pull", summary.changes, None)
            if not more:
                break
    finally:
        fetcher.shutdown(cancel_futures=True)
        if pool is not None:
            pool.shutdown()


def _apply(
    ws: Workspace,
    change: dict[str, Any],
    info: Enrolment,
    summary: PullSummary,
    opened: OpenedEnvelope | CryptoError | None,
) -> None:
    kind = change.get("type")
    if kind == "form":
        form = change["form"]
        try:
            before = {(f.form_id, f.version) for f in ws.forms.list()}
            version = ws.forms.add(form["definition"])
        except FormError:
            # A version that clashes with one held here is not applied; the rest goes on.
            return
        if (version.form_id, version.version) not in before:
            summary.forms += 1
    elif kind == "project_key":
        _note_project_key(ws, change)
    elif kind == "key_grant":
        summary.keys += _accept_key_grant(ws, change)
    elif kind == "revocation":
        revoked = dict(ws.state.get(STATE_REVOKED) or {})
        revoked[str(change["device_id"])] = str(change["revoked_at"])
        ws.state.set(STATE_REVOKED, revoked)
    elif kind == "envelope":
        if opened is None:
            return  # a field device sees its own records only; they are here already
        record_id = str(change["envelope"]["header"].get("record_id", ""))
        if isinstance(opened, CryptoError):
            summary.refused.append((record_id, str(opened)))
            return
        header, body = opened.header, opened.body
        answers = body.get("answers")
        if not isinstance(answers, dict):
            summary.refused.append((record_id, "the record's body has no answers"))
            return
        try:
            ws.records.get(header["record_id"])
        except RecordNotFound:
            pass
        else:
            summary.already_had += 1
            return
        ws.records.import_received(
            record_id=header["record_id"],
            form_id=header["form_id"],
            form_version=header["form_version"],
            answers={str(k): str(v) for k, v in answers.items()},
            device=header["device_id"],
            capture_day=header["capture_day"],
            finalized_at=str(body.get("finalized_at") or ""),
            replaces=header["replaces"],
            case_id=header["case_id"],
            hlc=header["hlc"],
        )
        summary.records += 1
    # Unknown change types from a newer server are skipped: the cursor still moves past them.


def _note_project_key(ws: Workspace, change: dict[str, Any]) -> None:
    known = {k["key_id"] for k in project_keys(ws)}
    if change["key_id"] in known:
        return
    # A key announced after enrolment is only relayed by the server, which must not be able to
    # add a key of its own and read what devices seal next; it waits here until a coordinator
    # confirms it (trust on first use at enrolment, as SSH does with host keys).
    pending = dict(ws.state.get(STATE_PENDING_KEYS) or {})
    pending[str(change["key_id"])] = str(change["public_key"])
    ws.state.set(STATE_PENDING_KEYS, pending)


def _accept_key_grant(ws: Workspace, change: dict[str, Any]) -> int:
    from fieldkit.crypto.hpke import key_id, public_raw, unwrap

    keys = project_keys(ws)
    wanted = next((k for k in keys if k["key_id"] == change["key_id"]), None)
    if wanted is None or wanted.get("private_key"):
        return 0
    try:
        raw = unwrap(
            base64.b64decode(change["wrapped_private_key"]),
            private_key=ws.device.x25519,
            info=KEY_GRANT_INFO + str(change["key_id"]).encode("ascii"),
        )
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        private = X25519PrivateKey.from_private_bytes(raw)
    except (CryptoError, ValueError):
        return 0
    # Only a key whose public half is the project key we already trust is taken.
    if key_id(public_raw(private.public_key())) != wanted["key_id"]:
        return 0
    wanted["private_key"] = base64.b64encode(raw).decode("ascii")
    ws.state.set(STATE_PROJECT_KEYS, keys)
    return 1


class _Opener:
    """Verifies and decrypts envelopes for a coordinator, learning device keys as needed."""

    def __init__(self, ws: Workspace, client: SyncClient, info: Enrolment) -> None:
        self._ws = ws
        self._client = client
        self._project_id = info.project_id
        self._private: dict[str, X25519PrivateKey] = keys_by_id(project_private_keys(ws))
        self._device_keys: dict[str, str] = dict(ws.state.get(STATE_DEVICE_KEYS) or {})
        self._verify: dict[str, Ed25519PublicKey] = {}

    @property
    def can_open(self) -> bool:
        """True when this workspace holds at least one project private key."""
        return bool(self._private)

    def learn_devices(self, device_ids: set[str]) -> None:
        """Fetch the project's device list when a record comes from a device not seen yet."""
        if device_ids <= set(self._device_keys):
            return
        for device in self._client.devices():
            self._device_keys[str(device["device_id"])] = str(device["ed25519"])
        self._ws.state.set(STATE_DEVICE_KEYS, self._device_keys)

    def _verify_key(self, device_id: str) -> Ed25519PublicKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        key = self._verify.get(device_id)
        if key is None:
            raw = self._device_keys.get(device_id)
            if raw is None:
                raise CryptoError("the record comes from a device this project does not know")
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(raw))
            self._verify[device_id] = key
        return key

    def open(self, envelope: dict[str, Any]) -> OpenedEnvelope | CryptoError:
        """The opened envelope, or the CryptoError that says why it was refused."""
        try:
            device_id = str(envelope["header"]["device_id"])
            return open_envelope(
                envelope,
                private_keys=self._private,
                verify_key=self._verify_key(device_id),
                project_id=self._project_id,
            )
        except CryptoError as exc:
            return exc
        except (KeyError, TypeError, ValueError):
            return CryptoError("the record is malformed")
