"""The Form model, built from pyxform's JSON definition without importing pyxform.

``Form.from_definition`` is what capture, export and report use: it reads the stored
definition, compiles every expression once and builds the dependency graph, so a bad
expression or a cycle is a ``FormError`` with sheet, row and column here, at load.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fieldkit.errors import ExpressionError, FormError
from fieldkit.forms.choice_files import CHOICE_FILE_SUFFIXES, default_columns

if TYPE_CHECKING:
    from fieldkit.forms.graph import Graph
    from fieldkit.forms.xpath import Expression, StaticNode

__all__ = ["Choice", "Form", "Node"]

DEFAULT_LANGUAGE = "default"

# pyxform's dealiased JSON type → (XLSForm type fieldkit reports, XForms data type).
# Data types follow pyxform's question_type_dictionary (bind type of each type).
_TYPES: dict[str, tuple[str, str]] = {
    "text": ("text", "string"),
    "string": ("text", "string"),
    "integer": ("integer", "int"),
    "int": ("integer", "int"),
    "decimal": ("decimal", "decimal"),
    "range": ("range", "int"),
    "select one": ("select_one", "string"),
    "select all that apply": ("select_multiple", "string"),
    "select one external": ("select_one_external", "string"),
    "rank": ("rank", "odk:rank"),
    "date": ("date", "date"),
    "time": ("time", "time"),
    "dateTime": ("dateTime", "dateTime"),
    "datetime": ("dateTime", "dateTime"),
    "note": ("note", "string"),
    "acknowledge": ("acknowledge", "string"),
    "trigger": ("trigger", "string"),
    "calculate": ("calculate", "string"),
    "hidden": ("hidden", "string"),
    "geopoint": ("geopoint", "geopoint"),
    "gps": ("geopoint", "geopoint"),
    "location": ("geopoint", "geopoint"),
    "geotrace": ("geotrace", "geotrace"),
    "geoshape": ("geoshape", "geoshape"),
    "photo": ("image", "binary"),
    "image": ("image", "binary"),
    "picture": ("image", "binary"),
    "audio": ("audio", "binary"),
    "video": ("video", "binary"),
    "file": ("file", "binary"),
    "osm": ("file", "binary"),
    "barcode": ("barcode", "barcode"),
    "email": ("email", "string"),
    "phonenumber": ("phonenumber", "string"),
    "start": ("start", "dateTime"),
    "end": ("end", "dateTime"),
    "today": ("today", "date"),
    "deviceid": ("deviceid", "string"),
    "username": ("username", "string"),
    "simserial": ("simserial", "string"),
    "subscriberid": ("subscriberid", "string"),
    "audit": ("audit", "binary"),
    "start-geopoint": ("start-geopoint", "geopoint"),
    "background-audio": ("background-audio", "binary"),
    "background-geopoint": ("background-geopoint", "geopoint"),
    "group": ("group", ""),
    "repeat": ("repeat", ""),
    "loop": ("group", ""),
}

#: Metadata filled by the engine, never asked (XLSForm "metadata" types).
METADATA_TYPES = frozenset(
    {
        "start",
        "end",
        "today",
        "deviceid",
        "username",
        "simserial",
        "subscriberid",
        "phonenumber",
        "email",
        "audit",
        "start-geopoint",
        "background-audio",
        "background-geopoint",
    }
)
#: Types whose value is the answer to a select (a choice list applies).
SELECT_TYPES = frozenset({"select_one", "select_multiple", "select_one_external", "rank"})
_TRUE = frozenset({"yes", "true", "true()", "1"})
_FALSE = frozenset({"no", "false", "false()", "0", ""})
_REF = re.compile(r"\$\{([^}]*)\}")


def _as_languages(value: Any) -> dict[str, str]:
    """A pyxform text cell (str or {lang: str}) as {lang: str}."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    return {DEFAULT_LANGUAGE: str(value)}


def _pick(texts: Mapping[str, str], lang: str | None, default_language: str | None) -> str:
    """The text in ``lang``, else the form's default language, else untranslated, else any."""
    for key in (lang, default_language, DEFAULT_LANGUAGE):
        if key is not None and key in texts:
            return texts[key]
    return next(iter(texts.values()), "")


@dataclass(frozen=True)
class Choice:
    """One choice of a select: ``name`` is the stored value; labels per language."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)
    default_language: str | None = None
    #: For a choice from a file: the columns of its item in ODK's secondary instance, in
    #: order (a CSV row's columns; a GeoJSON feature's geometry, id and properties).
    item: tuple[tuple[str, str], ...] = ()

    def label(self, lang: str | None = None) -> str:
        """The label in ``lang`` (falls back to the default language, then the name)."""
        return _pick(self.labels, lang, self.default_language) or self.name


def _flag(value: Any) -> str | None:
    """A required/readonly cell as an expression text, or None when it is plainly off."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in _TRUE:
        return "true()"
    if text.lower() in _FALSE:
        return None
    return text


@dataclass(eq=False)
class Node:
    """One element of the form: a question, calculate, group, repeat or metadata field."""

    path: str
    name: str
    type: str
    data_type: str
    kind: str  # question | calculate | group | repeat | metadata | note
    parent: Node | None
    repeat: str | None
    row: int | None
    labels: dict[str, str] = field(default_factory=dict)
    hints: dict[str, str] = field(default_factory=dict)
    guidance_hints: dict[str, str] = field(default_factory=dict)
    constraint_messages: dict[str, str] = field(default_factory=dict)
    required_messages: dict[str, str] = field(default_factory=dict)
    appearance: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    sensitive: bool = False
    # Files (issue 17): survey columns `keep_metadata` (yes: an image keeps its EXIF) and
    # `max_file_size` (MB); label media (`media::image` …) as pyxform gives them.
    keep_metadata: bool = False
    max_file_size: str = ""
    media: dict[str, Any] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)
    list_name: str | None = None
    preload: str | None = None
    preload_params: str | None = None
    # Expression texts as written (None when absent).
    relevant: str | None = None
    required: str | None = None
    readonly: str | None = None
    constraint: str | None = None
    calculation: str | None = None
    default: str | None = None
    choice_filter: str | None = None
    repeat_count: str | None = None
    trigger: tuple[str, ...] = ()
    # Compiled at load.
    compiled: dict[str, Expression] = field(default_factory=dict)
    label_refs: dict[str, Expression] = field(default_factory=dict)
    dynamic_default: bool = False
    default_language: str | None = None

    def label(self, lang: str | None = None) -> str:
        """The label text in ``lang`` (``${name}`` references left as written)."""
        return _pick(self.labels, lang, self.default_language)

    def hint(self, lang: str | None = None) -> str:
        """The hint text in ``lang``."""
        return _pick(self.hints, lang, self.default_language)

    def guidance_hint(self, lang: str | None = None) -> str:
        """The guidance hint in ``lang``."""
        return _pick(self.guidance_hints, lang, self.default_language)

    def constraint_message(self, lang: str | None = None) -> str:
        """The constraint message in ``lang`` ("" when the form gives none)."""
        return _pick(self.constraint_messages, lang, self.default_language)

    def required_message(self, lang: str | None = None) -> str:
        """The required message in ``lang`` ("" when the form gives none)."""
        return _pick(self.required_messages, lang, self.default_language)

    @property
    def is_leaf(self) -> bool:
        """True for nodes that hold a value (not groups or repeats)."""
        return self.kind not in {"group", "repeat"}

    @property
    def is_select(self) -> bool:
        """True for select_one / select_multiple / rank questions."""
        return self.type in SELECT_TYPES

    def __repr__(self) -> str:
        return f"Node({self.path!r}, {self.type!r})"


class Form:
    """A loaded form: its settings, its node tree and its compiled logic."""

    def __init__(self, definition: dict[str, Any]) -> None:
        # Building a large form makes many small objects at once; the cyclic garbage
        # collector would rescan them all repeatedly (a third of the load time of a
        # 2,000-question form). Nothing built here is garbage, so pause it meanwhile.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._load(definition)
        finally:
            if enabled:
                gc.enable()

    def _load(self, definition: dict[str, Any]) -> None:
        self.definition = definition
        settings = {
            k: v
            for k, v in definition.items()
            if k not in {"children", "choices", "fieldkit", "type"}
            and not isinstance(v, dict | list)
        }
        self.settings: dict[str, Any] = settings
        self.id: str = str(definition.get("id_string") or definition.get("name") or "form")
        self.version: str = str(definition.get("version") or "")
        #: True when the settings sheet gave no version and ``version`` comes from the
        #: form's content (versions.py).
        self.version_from_content: bool = (definition.get("fieldkit") or {}).get(
            "version_from"
        ) == "content"
        self.title: str = str(definition.get("title") or self.id)
        self.root: str = str(definition.get("name") or "data")
        default_language = definition.get("default_language")
        self.default_language: str | None = (
            str(default_language) if default_language not in {None, DEFAULT_LANGUAGE} else None
        )
        self.requires_consent: bool = (
            str(definition.get("requires_consent", "")).strip().lower() in _TRUE
        )
        self._rows: dict[str, int] = dict((definition.get("fieldkit") or {}).get("rows") or {})
        self._choice_lists: dict[str, Any] = definition.get("choices") or {}
        self._secondary: dict[str, StaticNode] | None = None
        # In order of first appearance, as pyxform writes the itext translations (ODK starts
        # in the form's default_language, else in the first of them).
        self._languages: dict[str, None] = {}
        self._nodes: list[Node] = []
        self._by_path: dict[str, Node] = {}
        self._by_name: dict[str, list[Node]] = {}
        self.top = Node(
            path=f"/{self.root}",
            name=self.root,
            type="group",
            data_type="",
            kind="group",
            parent=None,
            repeat=None,
            row=None,
        )
        self._by_path[self.top.path] = self.top
        for child in definition.get("children") or []:
            self._build(child, self.top)
        languages = [lang for lang in self._languages if lang != DEFAULT_LANGUAGE]
        if self.default_language and self.default_language not in languages and languages:
            languages.insert(0, self.default_language)
        self.languages: list[str] = languages
        # The language ODK starts in: the settings' default_language, else pyxform's "default"
        # translation when some columns are untranslated, else the first language.
        self.initial_language: str | None = None
        if self.default_language in languages:
            self.initial_language = self.default_language
        elif languages and DEFAULT_LANGUAGE in self._languages:
            self.initial_language = DEFAULT_LANGUAGE
        elif languages:
            self.initial_language = languages[0]
        self._compile()
        from fieldkit.forms.graph import Graph
        from fieldkit.forms.instance import check_fixed_size

        self.graph: Graph = Graph(self)
        check_fixed_size(self)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> Form:
        """Rebuild a Form from a stored definition (no pyxform import: fast)."""
        if not isinstance(definition, Mapping) or "children" not in definition:
            raise FormError("not a form definition")
        return cls(dict(definition))

    def _build(self, element: dict[str, Any], parent: Node) -> None:
        if not isinstance(element, dict):
            return
        raw_type = str(element.get("type", ""))
        name = str(element.get("name", ""))
        if element.get("flat") and element.get("children"):
            # A "flat" group (settings style "flat", pyxform add_flat_annotations) has no
            # element of its own: its questions sit in the parent and already carry its
            # relevance.
            for child in element["children"]:
                self._build(child, parent)
            return
        if not name:
            return
        kind_type, data_type = _TYPES.get(raw_type, (raw_type, "string"))
        bind = element.get("bind") or {}
        if bind.get("type") and kind_type not in {"group", "repeat"}:
            data_type = str(bind["type"]).replace("xsd:", "")
        path = f"{parent.path}/{name}"
        relative = path[len(self.top.path) + 1 :]
        if kind_type == "repeat":
            kind = "repeat"
        elif kind_type == "group":
            kind = "group"
        elif kind_type in METADATA_TYPES or bind.get("jr:preload"):
            kind = "metadata"
        elif kind_type in {"calculate", "hidden"}:
            kind = "calculate"
        elif kind_type == "note":
            kind = "note"
        else:
            kind = "question"
        control = element.get("control") or {}
        node = Node(
            path=path,
            name=name,
            type=kind_type,
            data_type=data_type,
            kind=kind,
            parent=parent,
            repeat=parent.path if parent.kind == "repeat" else parent.repeat,
            row=self._rows.get(relative),
            labels=_as_languages(element.get("label")),
            hints=_as_languages(element.get("hint")),
            guidance_hints=_as_languages(element.get("guidance_hint")),
            constraint_messages=_as_languages(bind.get("jr:constraintMsg")),
            required_messages=_as_languages(bind.get("jr:requiredMsg")),
            appearance=str(control.get("appearance", "")),
            parameters={str(k): str(v) for k, v in (element.get("parameters") or {}).items()},
            sensitive=str(element.get("sensitive", "")).strip().lower() in _TRUE,
            keep_metadata=str(element.get("keep_metadata", "")).strip().lower() in _TRUE,
            max_file_size=str(element.get("max_file_size", "") or "").strip(),
            media=dict(element.get("media") or {}),
            preload=bind.get("jr:preload"),
            preload_params=bind.get("jr:preloadParams"),
            relevant=bind.get("relevant") or None,
            required=_flag(bind.get("required")),
            readonly=_flag(bind.get("readonly")),
            constraint=bind.get("constraint") or None,
            calculation=bind.get("calculate") or None,
            default=_default_text(element.get("default")),
            choice_filter=element.get("choice_filter") or None,
            repeat_count=control.get("jr:count") or None,
            trigger=tuple(str(t) for t in (element.get("trigger") or ())),
            default_language=self.default_language,
        )
        if kind_type == "calculate" and node.calculation is None and element.get("calculation"):
            node.calculation = str(element["calculation"])
        for texts in (node.labels, node.hints, node.constraint_messages, node.required_messages):
            self._languages.update(dict.fromkeys(texts))
        if node.is_select or element.get("itemset") or element.get("choices"):
            self._attach_choices(node, element)
        parent.children.append(node)
        self._nodes.append(node)
        self._by_path[path] = node
        self._by_name.setdefault(name, []).append(node)
        children = element.get("children") or []
        if raw_type == "loop":
            children = _loop_groups(element)
        for child in children:
            self._build(child, node)

    def _attach_choices(self, node: Node, element: dict[str, Any]) -> None:
        itemset = element.get("itemset") or element.get("list_name")
        raw = element.get("choices")
        if raw is None and isinstance(itemset, str):
            raw = self._choice_lists.get(itemset)
        if raw is None and isinstance(itemset, str) and not itemset.startswith("external:"):
            raise FormError(
                f"question '{node.name}': choice list '{itemset}' is not on the choices sheet",
                sheet="survey",
                row=node.row,
                column="type",
            )
        node.list_name = itemset if isinstance(itemset, str) else None
        from_file = isinstance(itemset, str) and itemset.lower().endswith(CHOICE_FILE_SUFFIXES)
        if from_file:
            assert isinstance(itemset, str)
            value_column, label_column = default_columns(itemset)
            value_column = node.parameters.get("value", value_column)
            label_column = node.parameters.get("label", label_column)
        for item in raw or []:
            if not isinstance(item, dict):
                continue
            if from_file:
                choice = self._file_choice(item, value_column, label_column)
            else:
                choice = self._sheet_choice(item)
            if choice is not None:
                self._languages.update(dict.fromkeys(choice.labels))
                node.choices.append(choice)

    def _sheet_choice(self, item: dict[str, Any]) -> Choice | None:
        """A choices-sheet row: ``name``, ``label`` (per language) and any other columns."""
        if item.get("name") is None:
            return None
        extra = {
            str(k): str(v)
            for k, v in item.items()
            if k not in {"name", "label", "media"} and not isinstance(v, dict | list)
        }
        labels = _as_languages(item.get("label"))
        return Choice(str(item["name"]), labels, extra, default_language=self.default_language)

    def _file_choice(self, item: dict[str, Any], value: str, label: str) -> Choice | None:
        """A choice-file row (choice_files.py); the question's ``parameters`` name its value and
        label columns. Definitions stored before rows kept their own columns hold the value
        under ``name`` and the label under ``label``."""
        name = item.get(value, item.get("name"))
        if name is None or str(name) == "":
            return None
        translated = {
            str(k).split("::", 1)[1]: str(v)
            for k, v in item.items()
            if str(k).startswith(label + "::") and not isinstance(v, dict | list)
        }
        labels = translated or _as_languages(item.get(label, item.get("label", name)))
        columns = tuple((str(k), str(v)) for k, v in item.items() if not isinstance(v, dict | list))
        extra = {k: v for k, v in columns if k not in {"name", "label"} and "::" not in k}
        return Choice(
            str(name), labels, extra, default_language=self.default_language, item=columns
        )

    # ----------------------------------------------------------------- compilation

    def resolve_name(self, name: str) -> str | None:
        """The template path of ``${name}``, or None when the form has no such node."""
        nodes = self._by_name.get(name.strip())
        return nodes[0].path if nodes else None

    def _compile(self) -> None:
        from fieldkit.forms.xpath import compile_expression

        problems: list[ExpressionError] = []
        columns = {
            "relevant": "relevant",
            "required": "required",
            "readonly": "read_only",
            "constraint": "constraint",
            "calculation": "calculation",
            "choice_filter": "choice_filter",
            "repeat_count": "repeat_count",
        }
        for node in self._nodes:
            items = [(attr, getattr(node, attr)) for attr in columns]
            if node.default is not None and _is_dynamic(node.default, node.data_type):
                node.dynamic_default = True
                items.append(("default", node.default))
            for attr, text in items:
                if text is None:
                    continue
                try:
                    expression = compile_expression(
                        str(text), owner=node.path, resolve_name=self.resolve_name
                    )
                    self._check_single_values(expression, node)
                    node.compiled[attr] = expression
                except ExpressionError as exc:
                    problems.append(
                        ExpressionError(
                            f"{attr.replace('_', ' ')} of '{node.name}': {exc.message}",
                            offset=getattr(exc, "offset", None),
                            sheet="survey",
                            row=node.row,
                            column=columns.get(attr, attr),
                        )
                    )
            for trig in node.trigger:
                if self.resolve_name(trig) is None:
                    problems.append(
                        ExpressionError(
                            f"trigger of '{node.name}': no question named '{trig}'",
                            sheet="survey",
                            row=node.row,
                            column="trigger",
                        )
                    )
            for texts in (
                node.labels,
                node.hints,
                node.constraint_messages,
                node.required_messages,
            ):
                for text in texts.values():
                    for ref in _REF.findall(text):
                        if ref in node.label_refs:
                            continue
                        try:
                            node.label_refs[ref] = compile_expression(
                                "${" + ref + "}", owner=node.path, resolve_name=self.resolve_name
                            )
                        except ExpressionError as exc:
                            problems.append(
                                ExpressionError(
                                    f"label of '{node.name}': {exc.message}",
                                    sheet="survey",
                                    row=node.row,
                                    column="label",
                                )
                            )
        if problems:
            raise _with_problems(problems[0], problems)

    def _check_single_values(self, expression: Expression, owner: Node) -> None:
        """Refuse a reference read as one value that runs through a repeat not enclosing the
        expression's own node (ODK would silently read the first instance only)."""
        for ref in sorted(getattr(expression, "single_references", ())):
            target = self._by_path.get(ref)
            while target is not None:
                if target.kind == "repeat" and not owner.path.startswith(target.path + "/"):
                    raise ExpressionError(
                        f"'{ref.rsplit('/', 1)[-1]}' is inside repeat '{target.name}': use "
                        "a function over all its answers (count, sum, max, join, "
                        "indexed-repeat…) — a single value is needed here"
                    )
                target = target.parent

    # ------------------------------------------------------------------ queries

    def nodes(self) -> list[Node]:
        """Every question, calculate, group, repeat and metadata node in document order."""
        return list(self._nodes)

    def node(self, path: str) -> Node:
        """The node at template path ``path`` (``/data/household/member/age``) or by name."""
        found = self._by_path.get(path)
        if found is None and not path.startswith("/"):
            nodes = self._by_name.get(path)
            found = nodes[0] if nodes else None
        if found is None:
            raise FormError(f"no question '{path}' in form {self.id}")
        return found

    def find(self, path: str) -> Node | None:
        """The node at template path ``path``, or None."""
        return self._by_path.get(path)

    def named(self, name: str) -> list[Node]:
        """Every node called ``name`` (names may repeat in different groups)."""
        return list(self._by_name.get(name, ()))

    def secondary_instances(self) -> Mapping[str, StaticNode]:
        """``instance('id')`` roots: one per choice list a question uses (secondary.py)."""
        if self._secondary is None:
            from fieldkit.forms.secondary import secondary_instances

            self._secondary = secondary_instances(self)
        return self._secondary

    def walk(self) -> Iterator[Node]:
        """Nodes in document order (same as ``nodes()`` without the copy)."""
        return iter(self._nodes)

    def __repr__(self) -> str:
        return f"Form({self.id!r}, version={self.version!r})"


def _with_problems(first: ExpressionError, problems: list[ExpressionError]) -> ExpressionError:
    error = ExpressionError(
        first.message
        if len(problems) == 1
        else f"{first.message} (and {len(problems) - 1} more expression errors)",
        sheet=first.sheet,
        row=first.row,
        column=first.column,
    )
    error.problems = list(problems)
    return error


def _substitute(text: str, values: Mapping[str, Any]) -> str:
    try:
        return text % values
    except (KeyError, ValueError, TypeError):
        return text


def _loop_groups(loop: dict[str, Any]) -> list[dict[str, Any]]:
    """A ``begin loop over LIST`` as pyxform builds it: one group per choice of the list, each
    holding a copy of the loop's questions with ``%(name)s``/``%(label)s`` filled in.

    The filling follows pyxform (builder._name_and_label_substitutions) key for key: every
    text of a question, and every text one level down in its dictionaries — the translated
    label and hint, and also ``bind`` (relevant, constraint, calculation, messages),
    ``control`` and ``parameters``. A dictionary keyed by language takes that language's
    choice label; any other dictionary the choice's columns. Nested children are copied as
    written, as pyxform does.
    """
    groups = []
    for column in loop.get("columns") or []:
        if not isinstance(column, dict) or column.get("name") in {None, "none"}:
            continue
        label = column.get("label", "")
        by_language: dict[str, dict[str, Any]] | None = None
        if isinstance(label, dict):
            by_language = {
                str(lang): {"name": column["name"], "label": text} for lang, text in label.items()
            }
        children = []
        for child in loop.get("children") or []:
            if not isinstance(child, dict):
                continue
            copy: dict[str, Any] = {}
            for key, value in child.items():
                if isinstance(value, str):
                    value = _substitute(value, column)
                elif isinstance(value, dict):
                    value = {
                        inner: _substitute(
                            text,
                            by_language.get(str(inner), column) if by_language else column,
                        )
                        if isinstance(text, str)
                        else text
                        for inner, text in value.items()
                    }
                copy[key] = value
            children.append(copy)
        groups.append(
            {"type": "group", "name": column["name"], "label": label, "children": children}
        )
    return groups


def _default_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text != "" else None


_DYNAMIC_TOKEN = re.compile(
    r"""(?P<str>"[^"]*"|'[^']*')|(?P<ref>\$\{)|(?P<call>[A-Za-z_][\w.:-]*\s*[(\[])"""
    r"""|(?P<op>[*+|(]| mod | div )|(?P<minus>-)"""
)


def _is_dynamic(text: str, data_type: str = "string") -> bool:
    """pyxform's rule (utils.default_is_dynamic, its lark lexer): a default holding a
    ``${ref}``, a function call, a predicate or an arithmetic operator is an expression
    evaluated when the record (or repeat instance) is created; otherwise it is literal text.
    A ``-`` that starts a number (``-5``) or sits inside a name (``a-b``) is not an operator,
    and for date and geo types no ``-`` is."""
    for match in _DYNAMIC_TOKEN.finditer(text):
        if match.group("str"):
            continue
        if match.group("minus"):
            if data_type in {"date", "dateTime", "geopoint", "geotrace", "geoshape"}:
                continue
            start = match.start()
            before = text[start - 1] if start > 0 else " "
            after = text[start + 1] if start + 1 < len(text) else " "
            if after.isdigit() or after == "." or before.isalnum() or before in "_.-":
                continue
            return True
        return True
    return False
