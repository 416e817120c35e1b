"""`POST /v1/relay`: envelopes of other devices of the project, carried by bundle (DESIGN §6b).

A laptop that was never online hands its bundle to one that goes online; that laptop forwards
the envelopes unread. Each is checked and stored exactly as its own device's push would be
(``records.push`` with that device as the caller): verified against the key that device
registered at enrolment, stored under that device's id, ``duplicate`` when it is already
here. The relaying device must belong to the same project; the envelope's device must be
certified and not revoked. The relayer can neither read nor change what it carries: a changed
byte breaks the owner's signature.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from sync.protocol import Envelope, PushResult
from sync.server.auth import Caller
from sync.server.records import push
from sync.server.schema import devices
from sync.server.settings import ServerSettings
from sync.server.verify import Verifier

__all__ = ["relay"]

_UNKNOWN = "the record's device is not a certified device of this project on this server"


def relay(
    engine: Engine,
    *,
    caller: Caller,
    batch: list[Envelope],
    settings: ServerSettings,
    verifier: Verifier | None = None,
) -> list[PushResult]:
    """Store a batch of other devices' envelopes; one result per envelope, in request order."""
    by_owner: dict[str, list[int]] = {}
    for i, env in enumerate(batch):
        by_owner.setdefault(env.header.device_id, []).append(i)
    with engine.connect() as conn:
        rows = {
            row.device_id: row
            for row in conn.execute(
                select(
                    devices.c.device_id,
                    devices.c.role,
                    devices.c.ed25519,
                    devices.c.certified_at,
                    devices.c.revoked_at,
                ).where(
                    devices.c.project_id == caller.project_id,
                    devices.c.device_id.in_(list(by_owner)),
                )
            )
        }
    results: list[PushResult | None] = [None] * len(batch)
    for owner, indexes in by_owner.items():
        row = rows.get(owner)
        if row is None or row.certified_at is None or row.revoked_at is not None:
            for i in indexes:
                results[i] = PushResult(
                    record_id=batch[i].header.record_id, status="rejected", reason=_UNKNOWN
                )
            continue
        owner_caller = Caller(
            role=row.role, device_id=owner, project_id=caller.project_id, ed25519=row.ed25519
        )
        done = push(
            engine,
            caller=owner_caller,
            batch=[batch[i] for i in indexes],
            settings=settings,
            verifier=verifier,
        )
        for i, result in zip(indexes, done, strict=True):
            results[i] = result
    return [r for r in results if r is not None]
