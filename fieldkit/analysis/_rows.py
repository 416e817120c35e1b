"""Answers → table rows: each answer placed in its table by its repeat positions."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fieldkit.analysis._schema import Schema

__all__ = ["RecordLike", "TableRows", "collect_rows"]

Progress = Callable[[int, int], None]
_POSITION = re.compile(r"\[(\d+)\]")


class RecordLike(Protocol):
    """The part of ``fieldkit.store.Record`` an export reads."""

    @property
    def id(self) -> str: ...

    @property
    def form_id(self) -> str: ...

    @property
    def form_version(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def replaces(self) -> str | None: ...

    @property
    def case_id(self) -> str | None: ...

    @property
    def device(self) -> str | None: ...

    @property
    def created_at(self) -> Any: ...

    @property
    def finalized_at(self) -> Any: ...

    @property
    def answers(self) -> Mapping[str, str]: ...


@dataclass
class Built:
    """The rows of every table, by table key."""

    tables: dict[str, TableRows]


@dataclass
class TableRows:
    """Rows of one table as parallel lists: answers by template path, record, parent row."""

    values: list[Mapping[str, str]] = field(default_factory=list)
    records: list[RecordLike] = field(default_factory=list)
    parent_index: list[int] = field(default_factory=list)
    # Stable keys (ODK Central's KEY / PARENT_KEY shape): the record id, then the instance
    # path below the root, e.g. "<id>/household/member[2]/visit[1]".
    keys: list[str] = field(default_factory=list)
    parent_keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)


def collect_rows(
    schema: Schema,
    included: set[str],
    records: Sequence[RecordLike],
    *,
    progress: Progress | None,
) -> Built:
    """Place every answer in its table row, by its repeat positions.

    A top-level answer's instance path IS its template path (no positions), so the record's
    own answers serve as its form-table row: no per-answer work at all. Only the answers left
    once those keys are set aside (a C-level set difference) are parsed, once per distinct
    path, for repeat positions. This keeps an export near the cost of pandas itself.
    """
    root = schema.root
    depth = {k: t.depth for k, t in schema.tables.items()}
    parent = {k: t.parent or root for k, t in schema.tables.items()}
    canonical = schema.canonical
    top_keys = frozenset(
        key for c in schema.columns.values() if c.table == root for key in (c.key, *c.aliases)
    )
    # Every leaf of a repeat, exported or not: an instance whose answers are all left out
    # (sensitive) still exists, and its row still links its children.
    leaves = {c.key: c.table for c in schema.columns.values() if c.table != root}
    has_nested = any(d >= 2 for d in depth.values())
    # "member[{}]/visit[{}]": a row's key is the record id and this, filled with positions.
    key_formats = {k: _key_format(k, root, schema) for k in schema.tables}
    out = {k: TableRows() for k in schema.tables}
    # instance path → ((depth, table, positions), template path or None when left out);
    # () when the path is no repeat leaf of this form.
    Where = tuple[int, str, tuple[int, ...]]
    cache: dict[str, tuple[Where, str | None] | tuple[()]] = {}

    def parse(key: str) -> tuple[Where, str | None] | tuple[()]:
        template = _POSITION.sub("", key)
        template = canonical.get(template, template)
        table = leaves.get(template)
        if table is None:
            return ()
        positions = tuple(int(p) for p in _POSITION.findall(key))
        if len(positions) != depth[table]:
            return ()  # a path that does not fit this form's repeats: not ours to guess
        return (depth[table], table, positions), template if template in included else None

    total = len(records)
    step = max(1000, total // 100)
    top = out[root]
    top_values, top_records = top.values, top.records
    for n, record in enumerate(records, 1):
        if progress is not None and n % step == 0:
            progress(n, total)
        answers = record.answers
        top_values.append(answers)
        top_records.append(record)
        if not leaves:
            continue
        instances: dict[Where, dict[str, str]] = {}
        filled: set[Where] = set()
        for key in answers.keys() - top_keys:
            info = cache.get(key)
            if info is None:
                info = cache[key] = parse(key)
            if not info:
                continue
            where, template = info
            row = instances.get(where)
            if row is None:
                row = instances[where] = {}
            value = answers[key]
            if value:
                filled.add(where)
            if template is not None:
                row[template] = value
        if not filled:
            continue
        # A repeat that was left out or not relevant still has its (empty) leaves in the
        # submission; ODK and Kobo submissions have no such instance, so it is no row.
        kept = set(filled)
        if has_nested:
            # A repeat instance exists through its leaves (docs/internals.md); one whose only
            # answers are in a nested repeat still needs its own row for children to link to.
            for level, table, positions in filled:
                for up in range(1, level):
                    ancestor = _ancestor(table, up, parent)
                    kept.add((level - up, ancestor, positions[:-up]))
        placed: dict[tuple[str, tuple[int, ...]], tuple[int, str]] = {}
        index = len(top_values)
        rid = record.id
        # Sorted by (depth, table, positions): parents are placed before their children.
        for where in sorted(kept):
            level, table, positions = where
            rows = out[table]
            rows.values.append(instances.get(where, {}))
            rows.records.append(record)
            key = rid + "/" + key_formats[table].format(*positions)
            if level == 1:
                rows.parent_index.append(index)
                rows.parent_keys.append(rid)
            else:
                up_index, up_key = placed[(parent[table], positions[:-1])]
                rows.parent_index.append(up_index)
                rows.parent_keys.append(up_key)
            rows.keys.append(key)
            if has_nested:
                placed[(table, positions)] = (len(rows.values), key)
    if progress is not None:
        progress(total, total)
    return Built(out)


def _key_format(table: str, root: str, schema: Schema) -> str:
    """The steps of a table's template path below the root as a format string, a ``[{}]``
    after each repeat (the steps that carry a position in an instance path)."""
    steps = table[len(root) + 1 :].split("/") if table != root else []
    out = []
    for i, name in enumerate(steps):
        prefix = root + "/" + "/".join(steps[: i + 1])
        safe = name.replace("{", "{{").replace("}", "}}")
        out.append(f"{safe}[{{}}]" if prefix in schema.tables else safe)
    return "/".join(out)


def _ancestor(table: str, up: int, parent: Mapping[str, str]) -> str:
    for _ in range(up):
        table = parent[table]
    return table
