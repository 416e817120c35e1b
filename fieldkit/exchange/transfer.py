"""``sync`` and ``pull``: push sealed records exactly once, then take in what is new.

Exactly once (DESIGN §6) rests on three rules kept here:

1. a record is sealed once and its envelope bytes never change, so a resend is byte-identical;
2. a record is marked sent only after the server answered ``created`` or ``duplicate`` for it —
   the server commits before it replies, so "marked sent" implies "held by the server";
   anything unanswered (a cut connection, a crash) is simply sent again and comes back
   ``duplicate``;
3. a pull page is applied together with its cursor in one local transaction, so a crash between
   the two can neither skip a change nor apply one twice (and applying is idempotent anyway).

Trust (DESIGN §3): nothing the server relays is taken on its word. Statements are checked by
``_trust.Trust``; a record is opened only with the certified key of the device its header
names; a record from a device not certified yet, or replacing a record not here yet, is held
(``ws.held``) and taken in once it can be checked — never dropped while the cursor moves on.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from fieldkit.crypto.envelope import keys_by_id, open_envelope
from fieldkit.errors import AuthError, CryptoError, FormError, ProtocolError, RecordNotFound
from fieldkit.exchange._attachments import (
    PART_BYTES,
    AttachmentTransfer,
    fetch_attachments,
    push_attachments,
    register_expected,
)
from fieldkit.exchange._pace import Pace
from fieldkit.exchange._sealing import seal_pending
from fieldkit.exchange._state import (
    STATE_LEGACY_DEVICE_KEYS,
    STATE_LEGACY_PENDING_KEYS,
    Enrolment,
    check_server,
    cursor,
    enrolment,
    open_client,
    set_cursor,
)
from fieldkit.exchange._trust import STATE_PROJECT_KEYS, Trust
from sync.client import LinkCut
from sync.protocol import Statement, canonical_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from fieldkit.crypto.envelope import OpenedEnvelope
    from fieldkit.store import Workspace
    from sync.client import SyncClient

__all__ = ["Progress", "PullSummary", "SyncSummary", "pull", "pull_statements", "sync"]

# progress(phase, done, total): phase is "push" or "pull"; total None when unknown.
Progress = Callable[[str, int, int | None], None]

PUSH_BATCH = 250  # records in one push at most (sized by bytes below that, see _pace)
PULL_LIMIT = 1000
# A hostile server could answer has_more forever with new cursors: a sync reads at most this
# many pages (5 million changes at the default page size) before it stops with an error.
MAX_PAGES = 5000

_UNCERTIFIED = "from a device the project has not certified yet"
STATE_REREAD = "trust.reread_statements"
_WAITS = "waits for the record it replaces"


def _no_progress(phase: str, done: int, total: int | None) -> None:
    pass


@dataclass
class PullSummary:
    """What a pull took in."""

    records: int = 0  # records decrypted and stored for the first time
    already_had: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (record id, why)
    held: int = 0  # records set aside until they can be checked
    forms: int = 0
    keys: int = 0
    changes: int = 0
    items_refused: Counter[str] = field(default_factory=Counter)  # why → how many
    certified: list[tuple[str, str]] = field(default_factory=list)  # (device id, role)
    enrolments_refused: list[str] = field(default_factory=list)
    attachments: AttachmentTransfer = field(default_factory=AttachmentTransfer)
    # A coordinator: every record received so far, by this run or an earlier sync or pull
    # (so "0 new" after a sync that took them in does not read as "nothing here").
    in_workspace: int | None = None
    waits_for_keys: bool = False  # a coordinator no coordinator has sent the keys to yet
    assigned: int = 0  # records of cases assigned to this device, taken in
    erased: int = 0  # records of erased cases that arrived late: not stored

    def line(self) -> str:
        """One line for the terminal."""
        parts = [f"{self.records} new record{_s(self.records)}"]
        if self.in_workspace is not None and self.in_workspace > self.records:
            parts[0] += f" ({self.in_workspace} received in all)"
        files = self.attachments
        if files.files:
            parts.append(f"{files.files} file{_s(files.files)} ({_megabytes(files.bytes)})")
        if files.waiting:
            parts.append(f"{files.waiting} file{_s(files.waiting)} not all on the server yet")
        if files.refused:
            parts.append(f"{len(files.refused)} file{_s(len(files.refused))} refused")
        if self.already_had:
            parts.append(f"{self.already_had} already here")
        if self.forms:
            parts.append(f"{self.forms} form version{_s(self.forms)}")
        if self.keys:
            parts.append(f"{self.keys} project key{_s(self.keys)}")
        if self.held:
            parts.append(f"{self.held} held until they can be checked")
        if self.refused:
            parts.append(f"{len(self.refused)} refused (did not verify)")
        if self.erased:
            parts.append(f"{self.erased} of erased cases left out")
        return "Pulled: " + ", ".join(parts) + "." + self.trust_text()

    def trust_text(self) -> str:
        """Certifications and refusals, as sentences (empty when there are none)."""
        text = ""
        if self.certified:
            text += f" Certified {len(self.certified)} new device{_s(len(self.certified))}."
        if self.enrolments_refused:
            n = len(self.enrolments_refused)
            text += f" Refused {n} enrolment{_s(n)}: keys that do not match their code."
        for reason, count in sorted(self.items_refused.items()):
            text += f" {count} item{_s(count)} refused: {reason}."
        return text


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
    unsealed: int = 0  # finalized but not sealed: no project key known yet
    relayed: int = 0  # other laptops' records, carried here by bundle, now on the server
    push_cuts: int = 0  # pushes cut on the way (sent again, smaller)
    pulled: PullSummary = field(default_factory=PullSummary)
    attachments: AttachmentTransfer = field(default_factory=AttachmentTransfer)

    def line(self) -> str:
        """One line for the terminal."""
        sent = self.sent + self.already_on_server
        text = f"Sent {sent} record{_s(sent)}"
        files = self.attachments
        if files.files:
            text += f" and {files.files} file{_s(files.files)} ({_megabytes(files.bytes)})"
        if self.conflicts:
            text += f", {len(self.conflicts)} in conflict"
        if self.rejected:
            text += f", {len(self.rejected)} rejected"
        text += f"; {self.waiting} waiting."
        if self.relayed:
            text += f" Forwarded {self.relayed} record(s) carried here by bundle."
        if self.unsealed:
            text += f" {self.unsealed} wait for the project's key (sync again later)."
        if self.pulled.forms:
            text += f" {self.pulled.forms} new form version(s)."
        if self.pulled.records:
            n = self.pulled.records
            text += f" Pulled {n} new record{_s(n)}."
        if self.pulled.waits_for_keys:
            text += (
                " The project keys have not reached this laptop yet: a coordinator who holds"
                " them certifies it on their next sync."
            )
        if self.pulled.held:
            text += f" {self.pulled.held} record(s) held until they can be checked."
        if self.pulled.assigned:
            text += f" {self.pulled.assigned} record(s) of cases assigned to this laptop."
        return text + self.pulled.trust_text()


def _receipt_text(value: str | None) -> str | None:
    """The server's receipt time as the store writes times (UTC text, ms, ``Z``); None when the
    server gave none or something unreadable (it is informative, never trusted)."""
    if not value:
        return None
    from datetime import UTC, datetime

    from fieldkit.clock import utc_text

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return utc_text(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def sync(
    ws: Workspace,
    *,
    server: str | None = None,
    insecure_http: bool = False,
    progress: Progress | None = None,
    batch_size: int | None = None,
    pull_limit: int = PULL_LIMIT,
    part_bytes: int = PART_BYTES,
    **client_options: Any,
) -> SyncSummary:
    """Push every sealed, unsent record; a coordinator then certifies new enrolments; then pull
    statements, key grants (and, for a coordinator, records) — the whole of ``fieldkit sync``."""
    report = progress or _no_progress
    enrolment(ws)  # NotEnrolled before anything else happens
    sealed = seal_pending(ws)
    unsent = ws.records.unsent(limit=10**9)
    info, client = open_client(
        ws, server=server, insecure_http=insecure_http, waiting=len(unsent), **client_options
    )
    summary = SyncSummary(server=client.base_url, sealed=sealed)
    with client:
        check_server(client)
        summary.waiting = len(unsent)
        _push(ws, client, unsent, summary=summary, batch_size=batch_size, report=report)
        from fieldkit.exchange.bundle import forward_relayed

        summary.relayed = forward_relayed(ws, client, batch_size=batch_size)
        # Files after records: a record is small and tells the coordinator what is coming; an
        # upload cut short resumes on the next sync from what the server acknowledged.
        summary.attachments = push_attachments(ws, client, report=report, part_bytes=part_bytes)
        summary.pulled = _exchange(
            ws, client, info, limit=pull_limit, report=report, part_bytes=part_bytes
        )
    if info.is_coordinator:
        summary.pulled.waits_for_keys = not _private_keys(ws, info)
    # Keys that arrived with this pull seal what waited for them; it goes on the next sync.
    seal_pending(ws)
    summary.unsealed = len(ws.records.unsealed())
    return summary


def _push(
    ws: Workspace,
    client: SyncClient,
    unsent: Sequence[Any],
    *,
    summary: SyncSummary,
    batch_size: int | None,
    report: Progress,
    in_flight: int = 2,
) -> None:
    """Push in batches sized to the link (``_pace``), or of ``batch_size`` records when one is
    named. Two batches are in flight: the server checks one while the next is sent. Only this
    thread touches the workspace; each batch is marked sent on its own reply, so a cut loses
    only what was in flight, and that is sent again in smaller batches (what the server had
    already stored comes back ``duplicate``)."""
    total = len(unsent)
    report("push", 0, total)
    pace = Pace(batch_size or PUSH_BATCH, adaptive=batch_size is None)
    queue: deque[Any] = deque(unsent)
    done = 0
    failures = 0  # cuts in a row, without a push going through between them
    with ThreadPoolExecutor(max_workers=max(1, in_flight)) as pool:
        pending: deque[_InFlight] = deque()
        try:
            while queue or pending:
                while queue and len(pending) < max(1, in_flight):
                    batch = pace.take(queue)
                    envelopes = [i.envelope for i in batch]
                    future = pool.submit(client.push, envelopes, retry=False)
                    pending.append(_InFlight(batch, future))
                head = pending.popleft()
                try:
                    results = head.future.result()
                except LinkCut:
                    # The others in flight went over the same link: keep what got through,
                    # take back the rest, and go on in smaller batches after a pause.
                    lost = list(head.batch)
                    for other in pending:
                        try:
                            done += _settle_batch(
                                ws, client, other.batch, other.future.result(), summary=summary
                            )
                        except LinkCut:
                            lost.extend(other.batch)
                    pending.clear()
                    queue.extendleft(reversed(lost))
                    report("push", done, total)
                    failures += 1
                    if failures >= client.retry.attempts:
                        raise
                    pace.cut()
                    client.wait_to_retry(failures)
                    continue
                failures = 0
                pace.went(sum(len(i.envelope) for i in head.batch))
                done += _settle_batch(ws, client, head.batch, results, summary=summary)
                report("push", done, total)
        finally:
            for item in pending:
                item.future.cancel()
    summary.push_cuts = pace.cuts


@dataclass
class _InFlight:
    batch: Sequence[Any]
    future: Future[list[dict[str, Any]]]


def _settle_batch(
    ws: Workspace,
    client: SyncClient,
    batch: Sequence[Any],
    results: list[dict[str, Any]],
    *,
    summary: SyncSummary,
) -> int:
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
            from fieldkit.text import one_line

            summary.rejected.append((item.record_id, one_line(str(result.get("reason") or ""))))
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
    part_bytes: int = PART_BYTES,
    **client_options: Any,
) -> PullSummary:
    """Coordinator: certify new enrolments, then fetch every record the project key opens,
    verify, decrypt and store it (with the statements and key grants that came meanwhile)."""
    info = enrolment(ws)
    if not info.is_coordinator:
        raise AuthError("only a coordinator pulls records (field devices send theirs with sync)")
    info, client = open_client(ws, server=server, insecure_http=insecure_http, **client_options)
    with client:
        check_server(client)
        summary = _exchange(
            ws,
            client,
            info,
            limit=limit,
            report=progress or _no_progress,
            workers=workers,
            part_bytes=part_bytes,
        )
    if not _private_keys(ws, info):
        raise AuthError(
            "the project keys have not reached this laptop yet: a coordinator who holds them "
            "certifies it on their next sync; then pull again"
        )
    summary.in_workspace = ws.records.received_count()
    return summary


def pull_statements(ws: Workspace, client: SyncClient) -> PullSummary:
    """The first pull of a newly enrolled laptop: statements, forms and keys."""
    info = enrolment(ws)
    return _pull(ws, client, info, limit=PULL_LIMIT, report=_no_progress)


def _exchange(
    ws: Workspace,
    client: SyncClient,
    info: Enrolment,
    *,
    limit: int,
    report: Progress,
    workers: int = 2,
    part_bytes: int = PART_BYTES,
) -> PullSummary:
    """Certify (a coordinator), then pull (and fetch the files new records name)."""
    certified = None
    if info.root is not None and info.is_coordinator:
        from fieldkit.exchange.joining import certify_pending

        certified = certify_pending(
            ws, client, info, Trust(ws, info.root, device_id=info.device_id)
        )
    summary = _pull(ws, client, info, limit=limit, report=report, workers=workers)
    if info.root is not None and info.is_coordinator and ws.state.get("cases.late_envelopes"):
        from fieldkit.exchange.case_orders import erase_late

        erase_late(ws, client)
    if info.root is not None and info.is_coordinator:
        trust = Trust(ws, info.root, device_id=info.device_id)
        private = keys_by_id(trust.private_keys())
        if private:
            summary.attachments = fetch_attachments(
                ws,
                client,
                verify_key=trust.device_key,
                private_keys=private,
                project_id=info.project_id,
                report=report,
                part_bytes=part_bytes,
            )
    if certified is not None:
        summary.certified = certified.certified
        summary.enrolments_refused = certified.refused
    return summary


def _private_keys(ws: Workspace, info: Enrolment) -> list[X25519PrivateKey]:
    if info.root is not None:
        return Trust(ws, info.root, device_id=info.device_id).private_keys()
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    from sync.protocol import b64decode

    return [
        X25519PrivateKey.from_private_bytes(b64decode(k["private_key"]))
        for k in ws.state.get(STATE_PROJECT_KEYS) or []
        if k.get("private_key")
    ]


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
    if info.root is not None and ws.state.get(STATE_REREAD):
        # The last pull refused statements: read every statement again first, so one that a
        # network or server garbled is taken once it arrives intact (accepting is idempotent;
        # what is refused again is not counted twice).
        reread = PullSummary()
        _pull_from(
            ws,
            client,
            info,
            "0",
            summary=reread,
            limit=limit,
            report=report,
            workers=workers,
            only="statement",
        )
        summary.forms += reread.forms
        summary.keys += reread.keys
    had_keys = bool(_private_keys(ws, info))
    _pull_from(
        ws, client, info, cursor(ws), summary=summary, limit=limit, report=report, workers=workers
    )
    if info.is_coordinator and not had_keys and _private_keys(ws, info):
        # A coordinator just received the project keys: records it could not open before are
        # in the feed behind the cursor. Read it again from the start; importing is idempotent,
        # so records already here are only counted.
        _pull_from(
            ws, client, info, "0", summary=summary, limit=limit, report=report, workers=workers
        )
    summary.held = ws.held.count()
    if info.root is not None:
        ws.state.set(STATE_REREAD, bool(summary.items_refused))
    return summary


def _pages(
    client: SyncClient, start: str, limit: int, only: str | None = None
) -> Iterator[dict[str, Any]]:
    """Pull pages in order, the next fetched while this one is applied; the cursor must move
    on every page and the number of pages is bounded (a hostile server cannot loop us)."""
    fetcher = ThreadPoolExecutor(max_workers=1)
    seen = {start}
    try:
        upcoming = fetcher.submit(client.pull, cursor=start, limit=limit, only=only)
        for _ in range(MAX_PAGES):
            page = upcoming.result()
            changes = page["changes"]
            more = bool(page["has_more"])
            if more:
                if not changes or page["next_cursor"] in seen:
                    raise ProtocolError("the server's pull cursor does not move on")
                seen.add(page["next_cursor"])
                upcoming = fetcher.submit(
                    client.pull, cursor=page["next_cursor"], limit=limit, only=only
                )
            yield page
            if not more:
                return
        raise ProtocolError(f"the server sent more than {MAX_PAGES} pages in one pull")
    finally:
        fetcher.shutdown(cancel_futures=True)


def _pull_from(
    ws: Workspace,
    client: SyncClient,
    info: Enrolment,
    start: str,
    *,
    summary: PullSummary,
    limit: int,
    report: Progress,
    workers: int,
    only: str | None = None,
) -> None:
    trust = Trust(ws, info.root, device_id=info.device_id) if info.root is not None else None
    taker = _Taker(ws, client, info, trust, summary, workers=workers)
    try:
        for page in _pages(client, start, limit, only):
            # The page and its cursor are saved in one local transaction (DESIGN §6); a pass
            # over statements alone reads again what is behind the cursor and leaves it.
            with ws.records.batch():
                taker.apply_page(page["changes"])
                if only is None:
                    set_cursor(ws, page["next_cursor"])
            summary.changes += len(page["changes"])
            report("pull", summary.changes, None)
    finally:
        taker.close()


class _Taker:
    """Applies pull pages in feed order: statements, key grants, and (coordinators) records."""

    def __init__(
        self,
        ws: Workspace,
        client: SyncClient | None,
        info: Enrolment,
        trust: Trust | None,
        summary: PullSummary,
        *,
        workers: int,
    ) -> None:
        self._ws = ws
        self._info = info
        self._trust = trust
        self._summary = summary
        # A bundle (client None) is only ever taken by a workspace that trusts statements.
        self._legacy = _LegacyKeys(ws, client) if trust is None and client is not None else None
        private = _private_keys(ws, info) if info.is_coordinator else []
        self._private: dict[str, X25519PrivateKey] = keys_by_id(private)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers)) if self._private else None
        from fieldkit.exchange.case_orders import ErasedCases

        self._erased = ErasedCases(ws)

    def close(self) -> None:
        """Stop the opening threads."""
        if self._pool is not None:
            self._pool.shutdown()

    def apply_page(self, changes: list[dict[str, Any]]) -> None:
        """Apply one page inside the caller's transaction."""
        run: list[dict[str, Any]] = []
        touched: set[str] = set()
        for change in changes:
            if change.get("type") == "envelope":
                run.append(change)
                continue
            self._envelopes(run)
            run = []
            touched |= self._other(change)
        self._envelopes(run)
        if self._trust is not None:
            self._trust.flush()
            if touched:
                self._retry_held(touched)

    # --- records ---------------------------------------------------------------------------

    def _envelopes(self, run: list[dict[str, Any]]) -> None:
        if not run or self._pool is None:
            return  # not a coordinator holding a key: records are not for this laptop
        if self._legacy is not None:
            self._legacy.learn({str(c["envelope"]["header"]["device_id"]) for c in run})
        # Verifying and decrypting is the costly part; cryptography releases the GIL in its
        # primitives, so a small thread pool uses both cores of a laptop.
        results = self._pool.map(self._open, [c["envelope"] for c in run])
        for change, result in zip(run, results, strict=True):
            self._take(change["envelope"], result, change.get("received_at"))

    def _open(self, envelope: dict[str, Any]) -> OpenedEnvelope | CryptoError | str:
        """The opened envelope, the CryptoError that refuses it, or why it is held."""
        try:
            device_id = str(envelope["header"]["device_id"])
            key = self._verify_key(device_id)
            if isinstance(key, str):
                return key
            return open_envelope(
                envelope,
                private_keys=self._private,
                verify_key=key,
                project_id=self._info.project_id,
            )
        except CryptoError as exc:
            return exc
        except (KeyError, TypeError, ValueError):
            return CryptoError("the record is malformed")

    def _verify_key(self, device_id: str) -> Ed25519PublicKey | str:
        if self._trust is None:
            assert self._legacy is not None
            return self._legacy.key(device_id)
        key = self._trust.device_key(device_id)
        if key is not None:
            return key
        cert = self._trust.certificate(device_id)
        if cert is not None and not cert.active:
            raise CryptoError("the record comes from a revoked device")
        return _UNCERTIFIED

    def _take(
        self,
        envelope: dict[str, Any],
        result: OpenedEnvelope | CryptoError | str,
        received_at: str | None,
    ) -> bool:
        """Store one opened record (or hold or refuse it); True when it was taken in."""
        header = envelope.get("header") if isinstance(envelope, dict) else None
        record_id = str(header.get("record_id", "")) if isinstance(header, dict) else ""
        if isinstance(result, str):
            self._hold(envelope, result, received_at)
            return False
        if isinstance(result, CryptoError):
            self._summary.refused.append((record_id[:64], str(result)))
            return False
        header, body = result.header, result.body
        answers = body.get("answers")
        if not isinstance(answers, dict):
            self._summary.refused.append((record_id, "the record's body has no answers"))
            return False
        device_id = str(header["device_id"])
        try:
            existing = self._ws.records.get(header["record_id"])
        except RecordNotFound:
            existing = None
        if existing is not None:
            if existing.device == device_id:
                self._summary.already_had += 1
            else:
                self._summary.refused.append(
                    (record_id, "its record id is already used by another device")
                )
            return False
        if self._erased.covers(answers):
            from fieldkit.exchange.case_orders import refuse_late

            refuse_late(self._ws, device_id, str(header["record_id"]))
            self._summary.erased += 1
            return False
        replaces = header["replaces"]
        if replaces is not None:
            why = self._replacement_problem(device_id, replaces)
            if why == _WAITS:
                self._hold(envelope, _WAITS, received_at)
                return False
            if why is not None:
                self._summary.refused.append((record_id, why))
                return False
        self._ws.records.import_received(
            record_id=header["record_id"],
            form_id=header["form_id"],
            form_version=header["form_version"],
            answers={str(k): str(v) for k, v in answers.items()},
            device=device_id,
            capture_day=header["capture_day"],
            finalized_at=str(body.get("finalized_at") or ""),
            replaces=replaces,
            case_id=header["case_id"],
            hlc=header["hlc"],
            received_at=_receipt_text(received_at),
        )
        register_expected(
            self._ws,
            record_id=header["record_id"],
            device_id=device_id,
            items=body.get("attachments"),
        )
        self._summary.records += 1
        return True

    def _replacement_problem(self, device_id: str, replaces: str) -> str | None:
        """Why a record may not replace ``replaces`` (None: it may). A record replaces only a
        record of its own device, unless a coordinator made it (DESIGN §3)."""
        try:
            target = self._ws.records.get(replaces)
        except RecordNotFound:
            return _WAITS
        if target.device == device_id:
            return None
        if self._trust is None:
            return None  # before certificates there is nothing to check roles against
        cert = self._trust.certificate(device_id)
        if cert is not None and cert.role == "coordinator":
            return None
        return "it replaces another device's record"

    def _hold(self, envelope: dict[str, Any], reason: str, received_at: str | None) -> None:
        header = envelope["header"]
        self._ws.held.add(
            device_id=str(header["device_id"]),
            record_id=str(header["record_id"]),
            envelope=canonical_json(envelope),
            reason=reason,
            received_at=received_at,
        )

    def _retry_held(self, touched: set[str]) -> None:
        """Take in held records whose device was just certified (or revoked: refused now), and
        then those whose replaced record arrived, until nothing more moves."""
        import json

        progress = True
        while progress:
            progress = False
            for held in self._ws.held.list():
                if held.reason == _UNCERTIFIED and held.device_id not in touched:
                    continue
                envelope = json.loads(held.envelope)
                result = self._open(envelope)
                if isinstance(result, str) and result == held.reason:
                    continue
                self._ws.held.release(device_id=held.device_id, record_id=held.record_id)
                if self._take(envelope, result, held.received_at):
                    progress = True
                    touched.add(held.device_id)

    # --- statements, grants, and the first protocol's changes -----------------------------

    def _other(self, change: dict[str, Any]) -> set[str]:
        """Apply a non-record change; returns the device ids whose standing changed."""
        kind = change.get("type")
        if self._trust is None:
            self._legacy_change(kind, change)
            return set()
        if kind == "statement":
            try:
                statement = Statement.model_validate(change.get("statement"))
            except ValidationError:
                self._summary.items_refused["not following the protocol"] += 1
                return set()
            definition = change.get("definition")
            verdict = self._trust.accept(
                statement, definition=definition if isinstance(definition, dict) else None
            )
            if not verdict.accepted:
                self._summary.items_refused[verdict.reason or "did not verify"] += 1
                return set()
            if verdict.new and statement.kind == "form":
                self._summary.forms += 1
            if verdict.new and statement.kind in ("device", "revocation"):
                return {str(statement.body.get("device_id"))}
            return set()
        if kind == "assigned":
            from fieldkit.exchange.case_orders import take_assigned

            envelope = change.get("envelope")
            why = take_assigned(
                self._ws, self._trust, envelope if isinstance(envelope, dict) else {}
            )
            if why is None:
                self._summary.assigned += 1
            else:
                self._summary.items_refused[why] += 1
            return set()
        if kind == "key_grant":
            from fieldkit.exchange.joining import open_grant

            taken = open_grant(self._ws, self._trust, str(change.get("wrapped") or ""))
            if taken:
                self._summary.keys += taken
                self._private = keys_by_id(self._trust.private_keys())
                if self._pool is None and self._private and self._info.is_coordinator:
                    self._pool = ThreadPoolExecutor(max_workers=2)
            return set()
        if kind in ("form", "project_key", "revocation"):
            # The first protocol's unsigned changes: never taken by a pinned workspace.
            self._summary.items_refused["not signed by the project"] += 1
        return set()

    def _legacy_change(self, kind: Any, change: dict[str, Any]) -> None:
        """A workspace enrolled before signed statements keeps the first protocol's rules
        until its project is upgraded (docs/security.md, "Upgrading")."""
        if kind == "form":
            try:
                before = {(f.form_id, f.version) for f in self._ws.forms.list()}
                version = self._ws.forms.add(change["form"]["definition"])
            except (FormError, KeyError, TypeError):
                return
            if (version.form_id, version.version) not in before:
                self._summary.forms += 1
        elif kind == "project_key":
            known = {k["key_id"] for k in self._ws.state.get(STATE_PROJECT_KEYS) or []}
            if change.get("key_id") not in known:
                # Not sealed to until the project is upgraded and a coordinator signs it.
                pending = dict(self._ws.state.get(STATE_LEGACY_PENDING_KEYS) or {})
                pending[str(change.get("key_id"))] = str(change.get("public_key"))
                self._ws.state.set(STATE_LEGACY_PENDING_KEYS, pending)
        elif kind == "statement":
            statement = change.get("statement")
            if isinstance(statement, dict) and statement.get("kind") == "project":
                # The project now has a signing identity: kept for `fieldkit project trust`.
                from fieldkit.exchange.project import remember_candidate

                remember_candidate(self._ws, statement)


class _LegacyKeys:
    """Device keys of a project made before certificates, as the first protocol took them
    (from the server's device list); kept only until the project is upgraded."""

    def __init__(self, ws: Workspace, client: SyncClient) -> None:
        self._ws = ws
        self._client = client
        self._keys: dict[str, str] = dict(ws.state.get(STATE_LEGACY_DEVICE_KEYS) or {})
        self._verify: dict[str, Ed25519PublicKey] = {}

    def learn(self, device_ids: set[str]) -> None:
        """Fetch the project's device list when a record comes from a device not seen yet."""
        if device_ids <= set(self._keys):
            return
        for device in self._client.devices():
            self._keys.setdefault(str(device["device_id"]), str(device["ed25519"]))
        self._ws.state.set(STATE_LEGACY_DEVICE_KEYS, self._keys)

    def key(self, device_id: str) -> Ed25519PublicKey:
        """The key a legacy record verifies by."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        from sync.protocol import b64decode

        key = self._verify.get(device_id)
        if key is None:
            raw = self._keys.get(device_id)
            if raw is None:
                raise CryptoError("the record comes from a device this project does not know")
            key = self._verify[device_id] = Ed25519PublicKey.from_public_bytes(b64decode(raw))
        return key
