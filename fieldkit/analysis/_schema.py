"""The shape of a form's export: which tables and columns every version of the form asks for.

Built from the Form model of each version (``form.nodes()``) without looking at any record, so
the same schema serves a form with no records (an empty table with all its columns) and a
form with 100,000. Several versions merge into one schema: the union of their columns, in the
latest version's order, then columns only older versions had. A column is numeric only when
every version that has it agrees on the same numeric type; otherwise it stays text, so an
export never silently turns ``"07"`` into ``7`` because one version said integer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "ChoiceLike",
    "ColumnSpec",
    "FormLike",
    "NodeLike",
    "Schema",
    "TableSpec",
    "build_schema",
    "kind_of",
]


class ChoiceLike(Protocol):
    """A choice of a select question, as ``fieldkit.forms`` models it."""

    @property
    def name(self) -> str: ...

    def label(self, lang: str | None = None) -> str | None: ...


class NodeLike(Protocol):
    """A question, calculate, group or repeat of a form (``Form.nodes()``)."""

    @property
    def path(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def sensitive(self) -> bool: ...

    @property
    def repeat(self) -> str | None: ...

    @property
    def choices(self) -> Sequence[ChoiceLike] | None: ...

    def label(self, lang: str | None = None) -> str | None: ...


class FormLike(Protocol):
    """The part of ``fieldkit.forms.Form`` an export reads."""

    @property
    def id(self) -> str: ...

    @property
    def version(self) -> str: ...

    @property
    def root(self) -> str: ...

    def nodes(self) -> Sequence[NodeLike]: ...


# Kinds of leaf an export treats differently. Type names as pyxform writes them
# ("select all that apply") and as XLSForm authors write them ("select_multiple").
TEXT = "text"
INTEGER = "integer"
DECIMAL = "decimal"
SELECT_MULTIPLE = "select_multiple"
GEOPOINT = "geopoint"
SKIP = "skip"  # groups, repeats, notes: no value of their own in a submission

_SKIP_TYPES = {"group", "repeat", "note", "survey", "begin group", "begin repeat", "trigger"}
_INTEGER_TYPES = {"integer", "int"}
_DECIMAL_TYPES = {"decimal", "float", "range"}

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def kind_of(node_type: str) -> str:
    """The export kind of a node type: text, integer, decimal, select_multiple, geopoint, skip."""
    t = node_type.strip().lower().replace("-", "_")
    if t in _SKIP_TYPES or t.startswith(("begin", "end ")):
        return SKIP
    if t in _INTEGER_TYPES:
        return INTEGER
    if t in _DECIMAL_TYPES:
        return DECIMAL
    if t.startswith(("select all that apply", "select_multiple", "select multiple", "rank")):
        # ODK stores a rank answer like a select_multiple (space-separated, in order); its
        # 0/1 columns still say which choices were ranked.
        return SELECT_MULTIPLE
    if t == GEOPOINT:
        return GEOPOINT
    return TEXT


@dataclass
class ColumnSpec:
    """One leaf of the form: where it lives, what it is called, how its text is typed."""

    key: str  # template path without positions, e.g. /data/household/member/age
    name: str
    table: str  # template path of its table: the root (/data) or its nearest repeat
    kind: str
    sensitive: bool
    label: Callable[[str | None], str | None] | None = None
    choices: list[str] = field(default_factory=list)
    choice_labels: dict[str, Callable[[str | None], str | None]] = field(default_factory=dict)


@dataclass
class TableSpec:
    """The root table or one repeat group (nested repeats included)."""

    key: str  # template path: /data or /data/household/member
    name: str  # the file/sheet-safe name: the form id or the repeat's name
    parent: str | None  # key of the enclosing table
    depth: int  # number of repeats between the root and this table
    columns: list[ColumnSpec] = field(default_factory=list)


@dataclass
class Schema:
    """Tables in document order (root first, parents before children) and all leaves by key."""

    form_id: str
    root: str
    tables: dict[str, TableSpec]
    columns: dict[str, ColumnSpec]


def _repeat_depth(path: str, repeats: set[str]) -> int:
    parts = path.split("/")
    return sum(1 for i in range(2, len(parts)) if "/".join(parts[:i]) in repeats)


def build_schema(form_id: str, versions: Sequence[FormLike]) -> Schema:
    """Merge the nodes of every version (latest LAST in ``versions``) into one export schema."""
    if not versions:
        raise ValueError("a schema needs at least one form version")
    latest = versions[-1]
    root = "/" + latest.root
    tables: dict[str, TableSpec] = {root: TableSpec(key=root, name=form_id, parent=None, depth=0)}
    columns: dict[str, ColumnSpec] = {}
    kinds: dict[str, set[str]] = {}
    # Latest version first: its order wins; older versions only add what it lacks.
    for form in reversed(versions):
        nodes = list(form.nodes())
        repeat_paths = {
            n.path for n in nodes if n.type.strip().lower() in ("repeat", "begin repeat")
        }
        for node in nodes:
            if node.path in repeat_paths and node.path not in tables:
                parent = node.repeat if node.repeat and node.repeat != node.path else None
                if parent is None:
                    parent = _enclosing(node.path, repeat_paths) or root
                tables[node.path] = TableSpec(
                    key=node.path,
                    name=node.name,
                    parent=parent,
                    depth=_repeat_depth(node.path, repeat_paths) + 1,
                )
        for node in nodes:
            kind = kind_of(node.type)
            if kind == SKIP or node.path in repeat_paths:
                continue
            table = node.repeat or _enclosing(node.path, repeat_paths) or root
            kinds.setdefault(node.path, set()).add(kind)
            spec = columns.get(node.path)
            if spec is None:
                spec = ColumnSpec(
                    key=node.path,
                    name=node.name,
                    table=table,
                    kind=kind,
                    sensitive=bool(node.sensitive),
                    label=node.label,
                )
                columns[node.path] = spec
                if table in tables:
                    tables[table].columns.append(spec)
            else:
                # Sensitive in any version means sensitive: a later version that forgot the
                # flag must not leak what an earlier one protected (DOMAIN §5).
                spec.sensitive = spec.sensitive or bool(node.sensitive)
            for choice in node.choices or ():
                if choice.name not in spec.choice_labels:
                    spec.choices.append(choice.name)
                    spec.choice_labels[choice.name] = choice.label
    for key, found in kinds.items():
        spec = columns[key]
        # Versions that disagree (integer in one, text or decimal in another) give text: it
        # keeps every captured value exactly as it was typed.
        spec.kind = next(iter(found)) if len(found) == 1 else TEXT
    _unique_table_names(tables, form_id)
    ordered = dict(sorted(tables.items(), key=lambda kv: (kv[1].depth, list(tables).index(kv[0]))))
    return Schema(form_id=form_id, root=root, tables=ordered, columns=columns)


def _enclosing(path: str, repeats: set[str]) -> str | None:
    parts = path.split("/")
    for i in range(len(parts) - 1, 1, -1):
        candidate = "/".join(parts[:i])
        if candidate in repeats:
            return candidate
    return None


def safe_name(text: str) -> str:
    """A name fit for a file or sheet: letters, digits, ``_ . -`` only, never empty."""
    cleaned = _SAFE_NAME.sub("_", text).strip("._") or "table"
    return cleaned[:80]


def _unique_table_names(tables: dict[str, TableSpec], form_id: str) -> None:
    """Table names come from form and group names only (never data); unique, case-insensitively."""
    seen: set[str] = set()
    for spec in tables.values():
        base = safe_name(spec.name if spec.parent else form_id)
        if spec.parent and base.lower() in seen:
            # Two repeats with one name in different groups: spell out the path below the root.
            base = safe_name("_".join(spec.key.split("/")[2:]))
        name = base
        n = 2
        while name.lower() in seen:
            name = f"{base}_{n}"
            n += 1
        seen.add(name.lower())
        spec.name = name
