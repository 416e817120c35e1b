"""The shape of a form's export: which tables and columns every version of the form asks for.

Built from the Form model of each version (``form.nodes()``) without looking at any record, so
the same schema serves a form with no records (an empty table with all its columns) and a
form with 100,000. Several versions merge into one schema: the union of their columns, in the
latest version's order, then columns only older versions had. A column is numeric only when
every version that has it agrees on the same numeric type (or integer and decimal: decimal);
otherwise it stays text, so an export never silently turns ``"07"`` into ``7`` because one
version said integer. A question moved to another group is matched by its name, and a
select_one that became a select_multiple keeps its 0/1 columns (the richer shape).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Questions answered with a file (the answer is the attachment's name in the workspace).
MEDIA_TYPES = frozenset({"image", "audio", "video", "file"})

__all__ = [
    "MEDIA_TYPES",
    "DATE",
    "DATETIME",
    "DECIMAL",
    "GEOPOINT",
    "INTEGER",
    "SELECT_MULTIPLE",
    "SELECT_ONE",
    "TEXT",
    "TIME",
    "ChoiceLike",
    "ColumnSpec",
    "FormLike",
    "NodeLike",
    "Schema",
    "TableSpec",
    "build_schema",
    "form_extras",
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
SELECT_ONE = "select_one"
SELECT_MULTIPLE = "select_multiple"
GEOPOINT = "geopoint"
DATE = "date"
DATETIME = "dateTime"
TIME = "time"
SKIP = "skip"  # groups, repeats, notes: no value of their own in a submission

_SKIP_TYPES = {"group", "repeat", "note", "survey", "begin group", "begin repeat", "trigger"}
_INTEGER_TYPES = {"integer", "int"}
_DECIMAL_TYPES = {"decimal", "float", "range"}
_DATETIME_TYPES = {"datetime", "start", "end"}

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def kind_of(node_type: str) -> str:
    """The export kind of a node type: text, integer, decimal, select_one, select_multiple,
    geopoint, date, dateTime, time or skip."""
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
    if t.startswith(("select one", "select_one")):
        return SELECT_ONE
    if t == GEOPOINT:
        return GEOPOINT
    if t == "date" or t == "today":
        return DATE
    if t in _DATETIME_TYPES:
        return DATETIME
    if t == "time":
        return TIME
    return TEXT


def _merged_kind(found: set[str]) -> str:
    """One kind for a column that versions typed differently: the richer shape that holds
    every version's values unchanged (an integer is a decimal, one choice is a valid
    multiple choice); anything else is text, which keeps every value exactly as captured."""
    if len(found) == 1:
        return next(iter(found))
    if found == {INTEGER, DECIMAL}:
        return DECIMAL
    if found == {SELECT_ONE, SELECT_MULTIPLE}:
        return SELECT_MULTIPLE
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
    # Template paths older versions gave the same question (moved to another group).
    aliases: list[str] = field(default_factory=list)
    xlsform_type: str = ""
    hxl: str | None = None
    ctdc: str | None = None


@dataclass
class TableSpec:
    """The root table or one repeat group (nested repeats included)."""

    key: str  # template path: /data or /data/household/member
    name: str  # the file/sheet-safe name: the form id or the repeat's name
    parent: str | None  # key of the enclosing table
    depth: int  # number of repeats between the root and this table
    columns: list[ColumnSpec] = field(default_factory=list)
    repeat_name: str = ""  # the repeat's own name in the form ("" for the root)


@dataclass
class Schema:
    """Tables in document order (root first, parents before children) and all leaves by key.

    ``canonical`` maps a template path an older version used (a question or repeat moved to
    another group) to the key it is exported under.
    """

    form_id: str
    root: str
    tables: dict[str, TableSpec]
    columns: dict[str, ColumnSpec]
    canonical: dict[str, str] = field(default_factory=dict)


def _repeat_depth(path: str, repeats: set[str]) -> int:
    parts = path.split("/")
    return sum(1 for i in range(2, len(parts)) if "/".join(parts[:i]) in repeats)


def form_extras(form: FormLike) -> dict[str, dict[str, str]]:
    """Survey columns beyond XLSForm's own (``hxl``, ``ctdc``) by template path, read from the
    stored definition (the forms engine keeps only what it evaluates)."""
    definition = getattr(form, "definition", None)
    out: dict[str, dict[str, str]] = {}
    if not isinstance(definition, dict):
        return out

    def walk(node: dict[str, object], prefix: str) -> None:
        for child in node.get("children") or []:  # type: ignore[attr-defined]
            if not isinstance(child, dict) or not child.get("name"):
                continue
            flat = bool(child.get("flat")) and bool(child.get("children"))
            path = prefix if flat else f"{prefix}/{child['name']}"
            extra = {
                k: str(child[k]).strip() for k in ("hxl", "ctdc") if str(child.get(k) or "").strip()
            }
            if extra and not flat:
                out[path] = extra
            walk(child, path)

    walk(definition, "/" + str(definition.get("name") or "data"))
    return out


def build_schema(form_id: str, versions: Sequence[FormLike]) -> Schema:
    """Merge the nodes of every version (latest LAST in ``versions``) into one export schema.

    Columns and repeat tables are matched by template path, then by name within the same
    table: a question moved to another group in a later version stays one column.
    """
    if not versions:
        raise ValueError("a schema needs at least one form version")
    latest = versions[-1]
    root = "/" + latest.root
    tables: dict[str, TableSpec] = {root: TableSpec(key=root, name=form_id, parent=None, depth=0)}
    columns: dict[str, ColumnSpec] = {}
    canonical: dict[str, str] = {}
    kinds: dict[str, set[str]] = {}
    # Latest version first: its order wins; older versions only add what it lacks.
    for form in reversed(versions):
        nodes = list(form.nodes())
        extras = form_extras(form)
        repeat_paths = {
            n.path for n in nodes if n.type.strip().lower() in ("repeat", "begin repeat")
        }
        made_here: set[str] = set()
        for node in nodes:
            if node.path not in repeat_paths or node.path in tables or node.path in canonical:
                continue
            parent = node.repeat if node.repeat and node.repeat != node.path else None
            if parent is None:
                parent = _enclosing(node.path, repeat_paths) or root
            parent = canonical.get(parent, parent)
            depth = _repeat_depth(node.path, repeat_paths) + 1
            same = [
                t for t in tables.values()
                if t.repeat_name == node.name and t.depth == depth and t.parent == parent
                and t.key not in made_here
            ]  # fmt: skip
            if len(same) == 1:
                canonical[node.path] = same[0].key
                continue
            tables[node.path] = TableSpec(
                key=node.path, name=node.name, parent=parent, depth=depth, repeat_name=node.name
            )
            made_here.add(node.path)
        names_here: dict[tuple[str, str], int] = {}
        leaves = []
        for node in nodes:
            kind = kind_of(node.type)
            if kind == SKIP or node.path in repeat_paths:
                continue
            table = node.repeat or _enclosing(node.path, repeat_paths) or root
            table = canonical.get(table, table)
            leaves.append((node, kind, table))
            names_here[(table, node.name)] = names_here.get((table, node.name), 0) + 1
        for node, kind, table in leaves:
            key = canonical.get(node.path, node.path)
            spec = columns.get(key)
            if spec is None and names_here[(table, node.name)] == 1:
                same_name = [
                    c for c in columns.values() if c.table == table and c.name == node.name
                ]
                if len(same_name) == 1:
                    spec = same_name[0]
                    canonical[node.path] = spec.key
                    spec.aliases.append(node.path)
            extra = extras.get(node.path, {})
            if spec is None:
                spec = ColumnSpec(
                    key=node.path,
                    name=node.name,
                    table=table,
                    kind=kind,
                    # Files are sensitive by default (DESIGN §6a): a photo shows a face.
                    sensitive=bool(node.sensitive) or node.type in MEDIA_TYPES,
                    label=node.label,
                    xlsform_type=node.type,
                    hxl=extra.get("hxl"),
                    ctdc=extra.get("ctdc"),
                )
                columns[node.path] = spec
                if table in tables:
                    tables[table].columns.append(spec)
            else:
                # Sensitive in any version means sensitive: a later version that forgot the
                # flag must not leak what an earlier one protected (DOMAIN §5).
                media = node.type in MEDIA_TYPES
                spec.sensitive = spec.sensitive or bool(node.sensitive) or media
                spec.hxl = spec.hxl or extra.get("hxl")
                spec.ctdc = spec.ctdc or extra.get("ctdc")
            kinds.setdefault(spec.key, set()).add(kind)
            for choice in node.choices or ():
                if choice.name not in spec.choice_labels:
                    spec.choices.append(choice.name)
                    spec.choice_labels[choice.name] = choice.label
    for key, found in kinds.items():
        spec = columns[key]
        spec.kind = _merged_kind(found)
        if spec.kind == SELECT_MULTIPLE and SELECT_ONE in found:
            spec.xlsform_type = "select_multiple"
    _add_deprecated_id(root, tables[root], columns)
    _unique_table_names(tables, form_id)
    ordered = dict(sorted(tables.items(), key=lambda kv: (kv[1].depth, list(tables).index(kv[0]))))
    return Schema(form_id=form_id, root=root, tables=ordered, columns=columns, canonical=canonical)


def _add_deprecated_id(root: str, table: TableSpec, columns: dict[str, ColumnSpec]) -> None:
    """An edit's submission names the instanceID it replaces (ODK's ``meta/deprecatedID``);
    forms do not declare it, so it is added beside ``instanceID``."""
    instance = columns.get(f"{root}/meta/instanceID")
    key = f"{root}/meta/deprecatedID"
    if instance is None or key in columns:
        return
    spec = ColumnSpec(
        key=key, name="deprecatedID", table=root, kind=TEXT, sensitive=False,
        xlsform_type="calculate",
    )  # fmt: skip
    columns[key] = spec
    table.columns.insert(table.columns.index(instance) + 1, spec)


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
