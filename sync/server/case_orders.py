"""The server's side of a coordinator's case orders (DOMAIN §8, DESIGN §5).

The server never learns a case code: an order names the envelopes it concerns by the key the
server keeps them under, ``(device_id, record_id)``, and carries the case code only sealed to
each device. What the server does with an order it has checked (``statements.store_statement``):

- ``erasure``: delete the envelopes named (of this project only), their feed entries and their
  assignments, in the transaction that stores the order;
- ``assignment``: deliver the envelopes named to the assigned device alone (one assignee per
  envelope: a transfer replaces the earlier one, who is delivered nothing more);
- a revocation: the revoked device is delivered nothing more (its token stops as well).

A ``withdrawal`` changes nothing here: devices apply it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    delete,
    insert,
    or_,
    select,
    tuple_,
)
from sqlalchemy.exc import SQLAlchemyError

from sync.protocol import AssignmentBody, EnvelopeRef, ErasureBody
from sync.server.auth import now
from sync.server.errors import BadRequest, NotFound
from sync.server.feed import Change, append_changes
from sync.server.schema import case_assignments, changes, devices, envelopes

__all__ = [
    "apply_assignment",
    "apply_erasure",
    "assigned_envelope",
    "fetch_envelopes",
    "forget_assignee",
    "truncate_wal",
]

_CHUNK = 1000


def _chunks(refs: Sequence[EnvelopeRef]) -> list[Sequence[EnvelopeRef]]:
    return [refs[i : i + _CHUNK] for i in range(0, len(refs), _CHUNK)]


def _matching(table: Table, refs: Sequence[EnvelopeRef]) -> ColumnElement[bool]:
    """``(device_id, record_id) IN (…)``: one index probe per pair, on SQLite and PostgreSQL."""
    return tuple_(table.c.device_id, table.c.record_id).in_(
        [(r.device_id, r.record_id) for r in refs]
    )


def apply_erasure(conn: Connection, *, project_id: str, body: ErasureBody) -> int:
    """Delete the envelopes an erasure order names; returns how many were here."""
    deleted = 0
    for chunk in _chunks(body.envelopes):
        deleted += conn.execute(
            delete(envelopes).where(
                envelopes.c.project_id == project_id, _matching(envelopes, chunk)
            )
        ).rowcount
        conn.execute(
            delete(case_assignments).where(
                case_assignments.c.project_id == project_id, _matching(case_assignments, chunk)
            )
        )
        # Their feed entries too (an envelope's ref is its record id, an assigned one's
        # "device/record"): nothing left pointing at what was erased.
        conn.execute(
            delete(changes).where(
                changes.c.project_id == project_id,
                or_(
                    and_(
                        changes.c.kind == "envelope",
                        tuple_(changes.c.audience, changes.c.ref).in_(
                            [(r.device_id, r.record_id) for r in chunk]
                        ),
                    ),
                    and_(
                        changes.c.kind == "assigned",
                        changes.c.ref.in_([_ref(r) for r in chunk]),
                    ),
                ),
            )
        )
    return deleted


def _ref(ref: EnvelopeRef) -> str:
    """An assigned envelope's feed ref (its audience is the assignee)."""
    return f"{ref.device_id}/{ref.record_id}"


def split_ref(text: str) -> tuple[str, str]:
    """The (device_id, record_id) of an assigned envelope's feed ref."""
    device_id, _, record_id = text.rpartition("/")
    return device_id, record_id


def apply_assignment(
    conn: Connection, *, project_id: str, body: AssignmentBody, statement_id: str
) -> list[Change]:
    """Deliver the envelopes named to the assignee alone; returns the feed changes to add."""
    assignee = conn.execute(
        select(devices.c.revoked_at).where(
            devices.c.device_id == body.device_id, devices.c.project_id == project_id
        )
    ).first()
    if assignee is None:
        raise NotFound("no such device in this project")
    if assignee.revoked_at is not None:
        raise BadRequest("a case cannot be assigned to a revoked device")
    stamp = now()
    out: list[Change] = []
    for chunk in _chunks(body.grants):
        held = {
            (row.device_id, row.record_id)
            for row in conn.execute(
                select(envelopes.c.device_id, envelopes.c.record_id).where(
                    envelopes.c.project_id == project_id, _matching(envelopes, chunk)
                )
            )
        }
        if len(held) != len({(g.device_id, g.record_id) for g in chunk}):
            raise BadRequest("an assignment names an envelope the server does not hold")
        conn.execute(delete(case_assignments).where(_matching(case_assignments, chunk)))
        conn.execute(
            insert(case_assignments),
            [
                {
                    "device_id": g.device_id,
                    "record_id": g.record_id,
                    "project_id": project_id,
                    "assignee": body.device_id,
                    "statement_id": statement_id,
                    "created_at": stamp,
                }
                for g in {(g.device_id, g.record_id): g for g in chunk}.values()
            ],
        )
        out.extend((project_id, "assigned", _ref(g), body.device_id) for g in chunk)
    return out


def forget_assignee(conn: Connection, *, project_id: str, device_id: str) -> None:
    """A revoked device is delivered no assigned envelope any more."""
    conn.execute(
        delete(case_assignments).where(
            case_assignments.c.project_id == project_id,
            case_assignments.c.assignee == device_id,
        )
    )


def assigned_envelope(
    conn: Connection, *, project_id: str, assignee: str, ref: str
) -> bytes | None:
    """The stored envelope of an assigned feed ref, if it is still assigned to ``assignee``."""
    device_id, record_id = split_ref(ref)
    row = conn.execute(
        select(envelopes.c.body)
        .select_from(
            case_assignments.join(
                envelopes,
                and_(
                    envelopes.c.device_id == case_assignments.c.device_id,
                    envelopes.c.record_id == case_assignments.c.record_id,
                ),
            )
        )
        .where(
            case_assignments.c.project_id == project_id,
            case_assignments.c.assignee == assignee,
            case_assignments.c.device_id == device_id,
            case_assignments.c.record_id == record_id,
        )
    ).first()
    return bytes(row.body) if row is not None else None


def fetch_envelopes(conn: Connection, *, project_id: str, refs: Sequence[EnvelopeRef]) -> bytes:
    """The JSON body of an EnvelopeFetchResponse: the envelopes named that are here."""
    parts: list[bytes] = []
    for chunk in _chunks(refs):
        rows = conn.execute(
            select(envelopes.c.body).where(
                envelopes.c.project_id == project_id, _matching(envelopes, chunk)
            )
        )
        parts.extend(bytes(row.body) for row in rows)
    return b'{"envelopes":[%s]}' % b",".join(parts)


def append_assigned(conn: Connection, items: list[Change]) -> None:
    """Add the assigned envelopes' feed changes (last, as every feed write)."""
    append_changes(conn, items)


def truncate_wal(engine: Engine) -> None:
    """SQLite: fold the WAL into the database and cut it to nothing, so the pages an erasure
    zeroed (``secure_delete``) do not survive in ``-wal`` (best effort: a reader may hold it;
    the next checkpoint then does it)."""
    try:
        raw = engine.raw_connection()  # outside any transaction: a checkpoint cannot run in one
    except SQLAlchemyError:
        return
    import sqlite3

    try:
        with contextlib.suppress(sqlite3.Error):  # busy: the next checkpoint does it
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
