"""The change feed behind `GET /v1/pull`: change numbers handed out in COMMIT order.

A PostgreSQL sequence hands out numbers at INSERT time, so a transaction that started first
can commit last holding a smaller number; a reader that already moved its cursor past the
larger number would skip that row forever (DESIGN §6). Here every writing transaction takes
its numbers as its LAST step, with `UPDATE counters SET value = value + n … RETURNING`. The
row lock this takes is held until COMMIT, so the next writer cannot get numbers before this
one has committed: numbers are ordered like commits, and any snapshot that shows change n
also shows every change below n (or it never committed at all).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update

from sync.protocol import (
    FormChange,
    FormDefinition,
    KeyGrantChange,
    ProjectKeyChange,
    RevocationChange,
    canonical_json,
    form_ref,
)
from sync.server.auth import Caller
from sync.server.db import READ
from sync.server.errors import BadRequest
from sync.server.schema import (
    changes,
    counters,
    envelopes,
    forms,
    key_grants,
    project_keys,
    statements,
)
from sync.server.schema import devices as devices_t
from sync.server.timeutil import as_utc

__all__ = ["COORDINATORS", "Change", "append_changes", "form_ref", "parse_cursor", "pull"]

# The audience of changes for every coordinator of the project (enrolment offers).
COORDINATORS = "@coordinators"

# At most 18 digits: every such number fits the 64-bit change_no column (a 19-digit one may
# not, and would reach the database as a 500); fullmatch, since `$` also matches before "\n".
_CURSOR = re.compile(r"[0-9]{1,18}")

# (project_id, kind, ref, audience)
Change = tuple[str, str, str, str | None]


def append_changes(conn: Connection, items: Sequence[Change]) -> None:
    """Number and store changes; call as the last statement before COMMIT (see module doc)."""
    if not items:
        return
    top = conn.execute(
        update(counters)
        .where(counters.c.name == "change")
        .values(value=counters.c.value + len(items))
        .returning(counters.c.value)
    ).scalar_one()
    first = top - len(items) + 1
    conn.execute(
        insert(changes),
        [
            {"change_no": first + i, "project_id": p, "kind": k, "ref": r, "audience": a}
            for i, (p, k, r, a) in enumerate(items)
        ],
    )


def parse_cursor(cursor: str | None) -> int:
    """A cursor is the decimal change number last seen; anything else is a 400."""
    if cursor is None or cursor == "":
        return 0
    if not _CURSOR.fullmatch(cursor):
        raise BadRequest("cursor must be the next_cursor of an earlier pull")
    return int(cursor)


def pull(
    engine: Engine, *, caller: Caller, cursor: int, limit: int, only: str | None = None
) -> bytes:
    """The JSON body of a PullResponse: changes after `cursor` the caller may read.

    Envelopes are spliced in as the canonical bytes stored at push, so 20,000 of them are not
    parsed and re-encoded on every pull.
    """
    assert caller.project_id is not None and caller.device_id is not None
    # An envelope's audience is the device that pushed it: it goes to every coordinator but
    # that one, and never back to a field device (each holds its own records already).
    mine = and_(changes.c.audience == caller.device_id, changes.c.kind != "envelope")
    visible = [changes.c.audience.is_(None), mine]
    if caller.role == "coordinator":
        visible.append(changes.c.audience == COORDINATORS)
        visible.append(and_(changes.c.kind == "envelope", changes.c.audience != caller.device_id))
    query = (
        select(
            changes.c.change_no,
            changes.c.kind,
            changes.c.ref,
            envelopes.c.body,
            envelopes.c.received_at,
        )
        .select_from(
            changes.outerjoin(
                envelopes,
                # An envelope change's audience is its device and its ref the record id: the
                # envelope's primary key, so the join is an index look-up.
                and_(
                    changes.c.kind == "envelope",
                    envelopes.c.device_id == changes.c.audience,
                    envelopes.c.record_id == changes.c.ref,
                ),
            )
        )
        .where(
            changes.c.project_id == caller.project_id,
            changes.c.change_no > cursor,
            or_(*visible),
            *([changes.c.kind == only] if only else []),
        )
        .order_by(changes.c.change_no)
        .limit(limit + 1)
    )
    with engine.connect().execution_options(**READ) as conn, conn.begin():
        rows = conn.execute(query).all()
        has_more = len(rows) > limit
        rows = rows[:limit]
        parts: list[bytes] = []
        for row in rows:
            if row.kind == "envelope":
                if row.body is not None:
                    received = as_utc(row.received_at).isoformat().encode("ascii")
                    parts.append(
                        b'{"seq":%d,"type":"envelope","envelope":%s,"received_at":"%s"}'
                        % (row.change_no, bytes(row.body), received)
                    )
                continue
            item = _other_change(conn, caller=caller, kind=row.kind, ref=row.ref, seq=row.change_no)
            if item is not None:
                parts.append(item)
    next_cursor = rows[-1].change_no if rows else cursor
    return b'{"changes":[%s],"next_cursor":"%d","has_more":%s}' % (
        b",".join(parts),
        next_cursor,
        b"true" if has_more else b"false",
    )


def _dump(model: Any) -> bytes:
    return canonical_json(model.model_dump(mode="json"))


def _other_change(
    conn: Connection, *, caller: Caller, kind: str, ref: str, seq: int
) -> bytes | None:
    project = caller.project_id
    if kind == "statement":
        st = conn.execute(
            select(statements.c.body, statements.c.definition).where(
                statements.c.project_id == project, statements.c.statement_id == ref
            )
        ).one()
        definition = st.definition.encode("utf-8") if st.definition is not None else b"null"
        return b'{"seq":%d,"type":"statement","statement":%s,"definition":%s}' % (
            seq,
            st.body.encode("utf-8"),
            definition,
        )
    if kind == "project_key":
        key = conn.execute(
            select(project_keys.c.key_id, project_keys.c.public_key).where(
                project_keys.c.project_id == project, project_keys.c.key_id == ref
            )
        ).one()
        return _dump(ProjectKeyChange(seq=seq, key_id=key.key_id, public_key=key.public_key))
    if kind == "form":
        form_id, version = json.loads(ref)
        f = conn.execute(
            select(forms.c.title, forms.c.definition).where(
                forms.c.project_id == project,
                forms.c.form_id == form_id,
                forms.c.version == version,
            )
        ).one()
        definition = FormDefinition.model_construct(
            form_id=form_id, version=version, title=f.title, definition=json.loads(f.definition)
        )
        return _dump(FormChange.model_construct(seq=seq, type="form", form=definition))
    if kind == "revocation":
        d = conn.execute(
            select(devices_t.c.device_id, devices_t.c.revoked_at).where(
                devices_t.c.device_id == ref
            )
        ).one()
        return _dump(
            RevocationChange(seq=seq, device_id=d.device_id, revoked_at=as_utc(d.revoked_at))
        )
    if kind == "assigned":
        from sync.server.case_orders import assigned_envelope

        body = assigned_envelope(
            conn, project_id=project or "", assignee=caller.device_id or "", ref=ref
        )
        if body is None:
            return None  # transferred to another device, or erased, since
        return b'{"seq":%d,"type":"assigned","envelope":%s}' % (seq, body)
    if kind == "key_grant":
        g = conn.execute(select(key_grants).where(key_grants.c.grant_id == int(ref))).one()
        if g.device_id != caller.device_id or g.key_id is not None:
            return None  # another device's, or a grant of the first protocol
        return _dump(
            KeyGrantChange(seq=seq, wrapped=g.wrapped_private_key, granted_by=g.granted_by)
        )
    return None
