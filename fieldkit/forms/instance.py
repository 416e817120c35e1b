"""The primary instance of one record: its tree of nodes and how paths address them.

An ``InstanceNode`` is one element of the XForms primary instance (a group, a repeat instance
or a leaf holding a value); it implements the expression evaluator's Node protocol, so
expressions walk this tree directly. ``InstanceTree`` owns the tree: it builds it from the
form's templates, adds and removes repeat instances, and finds nodes by ODK instance path
(``/data/household/member[2]/age``, DESIGN §4) or by question name.

The tree knows nothing of expressions: the session computes values, relevance and repeat
counts, and asks the tree to change shape. The tree enforces the size limits that keep a
hostile form from exhausting the laptop (``MAX_REPEAT_COUNT`` instances of one repeat under
one parent, ``MAX_INSTANCE_NODES`` nodes in the whole record).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from fieldkit.errors import AnswerError, FormError

if TYPE_CHECKING:
    from fieldkit.forms.model import Choice, Form, Node

__all__ = [
    "MAX_INSTANCE_NODES",
    "MAX_REPEAT_COUNT",
    "InstanceNode",
    "InstanceTree",
    "affected_paths",
    "check_fixed_size",
    "common_ancestor",
    "holds_text",
    "lift",
]

_STEP = re.compile(r"([^/\[\]]+)(?:\[(\d+)\])?")
#: A hard cap on one repeat's instances under one parent (repeat_count or added by hand).
MAX_REPEAT_COUNT = 1000
#: A hard cap on the nodes of one record (groups, repeat instances and leaves). Repeats
#: inside repeats multiply (60 instances on each of three levels is 216,000 and took minutes),
#: so each level's cap alone does not bound the record. 30,000 holds a repeat of 1,000
#: instances of 29 questions; the largest real forms we know hold a few thousand. Building
#: that many nodes takes about half a second on the project's machine.
MAX_INSTANCE_NODES = 30_000


class InstanceNode:
    """One element of the primary instance; implements the evaluator's Node protocol."""

    __slots__ = (
        "_children",
        "_named",
        "choices",
        "parent",
        "path",
        "position",
        "self_relevant",
        "shown",
        "template",
        "tree",
        "value",
    )

    def __init__(
        self, tree: InstanceTree, template: Node, parent: InstanceNode | None, position: int
    ) -> None:
        self.tree = tree
        self.template = template
        self.parent = parent
        self.position = position
        self._children: list[InstanceNode] = []
        self._named: dict[str, list[InstanceNode]] = {}
        self.value = ""  # the raw value (kept while non-relevant)
        self.shown = ""  # the value after filtering to the current choices
        self.self_relevant = True
        self.choices: list[Choice] | None = None  # filtered choices (choice_filter only)
        self.path = self._make_path()

    def _make_path(self) -> str:
        own = self.template.name
        if self.template.kind == "repeat":
            own = f"{own}[{self.position}]"
        return f"{self.parent.path}/{own}" if self.parent is not None else f"/{own}"

    # -- the Node protocol -------------------------------------------------------------

    @property
    def name(self) -> str:
        """The element's name (its question, group or repeat name)."""
        return self.template.name

    def children(self) -> Sequence[InstanceNode]:
        """Child elements in document order."""
        return self._children

    def children_named(self, name: str) -> Sequence[InstanceNode]:
        """Child elements called ``name`` (a repeat's instances in order)."""
        return self._named.get(name, ())

    def text(self) -> str:
        """The element's text: ``""`` while non-relevant (ODK), a container's concatenated."""
        if not self.relevant:
            return ""
        if self._children:
            return "".join(child.text() for child in self._children)
        return self.shown

    def attributes(self) -> Mapping[str, str]:
        """No attributes: the primary instance carries values only."""
        return {}

    # -- the session's view ------------------------------------------------------------

    @property
    def relevant(self) -> bool:
        """True when this node and every ancestor are relevant (XForms 1.0 §6.1.4)."""
        node: InstanceNode | None = self
        while node is not None:
            if not node.self_relevant:
                return False
            node = node.parent
        return True

    def _append(self, child: InstanceNode) -> None:
        self._children.append(child)
        self._named.setdefault(child.template.name, []).append(child)

    def _insert(self, index: int, child: InstanceNode) -> None:
        self._children.insert(index, child)
        self._named.setdefault(child.template.name, []).append(child)

    def _remove(self, child: InstanceNode) -> None:
        named = self._named[child.template.name]
        # The last instance goes first when a count shrinks: no search for it.
        if self._children and self._children[-1] is child:
            self._children.pop()
        else:
            self._children.remove(child)
        if named and named[-1] is child:
            named.pop()
        else:
            named.remove(child)

    def _renumber(self) -> None:
        self.path = self._make_path()
        for child in self._children:
            child._renumber()

    def walk(self) -> list[InstanceNode]:
        """This node and every node below it, in document order."""
        out = [self]
        for child in self._children:
            out.extend(child.walk())
        return out

    def __repr__(self) -> str:
        return f"InstanceNode({self.path!r})"


class InstanceTree:
    """The nodes of one record, indexed by instance path and by template path."""

    def __init__(self, form: Form, *, initial_value: Callable[[Node], str]) -> None:
        self.form = form
        # Preloads and static defaults of a new leaf (the session knows the clock).
        self._initial_value = initial_value
        self.root = InstanceNode(self, form.top, None, 1)
        self.by_path: dict[str, InstanceNode] = {self.root.path: self.root}
        # Instances of each template in creation order, keyed by id() so that removing a
        # large repeat costs what it removes, not the square of it.
        self._by_template: dict[str, dict[int, InstanceNode]] = {
            form.top.path: {id(self.root): self.root}
        }
        #: Set when a repeat was given fewer instances than asked, to stay within the caps.
        self.capped = False
        #: While a list, every repeat instance ``insert_repeat`` makes is noted in it (so the
        #: session can take back an answer that overflowed the record).
        self.journal: list[InstanceNode] | None = None

    @property
    def size(self) -> int:
        """How many nodes the record holds (groups, repeat instances and leaves)."""
        return len(self.by_path)

    def room_for(self, template: Node) -> bool:
        """True when one more instance of the repeat ``template`` fits the record's cap."""
        return self.size + _footprint(template) <= MAX_INSTANCE_NODES

    # ------------------------------------------------------------------ building

    def _register(self, inst: InstanceNode) -> None:
        self.by_path[inst.path] = inst
        self._by_template.setdefault(inst.template.path, {})[id(inst)] = inst

    def _unregister(self, inst: InstanceNode) -> None:
        for node in inst.walk():
            self.by_path.pop(node.path, None)
            same = self._by_template.get(node.template.path)
            if same is not None:
                same.pop(id(node), None)

    def build_children(self, inst: InstanceNode, *, fresh: bool) -> None:
        """Create ``inst``'s children from its template (``fresh``: a new record's values)."""
        for child in inst.template.children:
            if child.kind == "repeat":
                # ODK's primary instance starts with one instance of a user-controlled repeat;
                # a counted repeat gets its instances from repeat_count.
                if child.repeat_count is None and fresh and self.room_for(child):
                    self._new_instance(inst, child, 1, fresh=True)
                continue
            self._new_instance(inst, child, 1, fresh=fresh)

    def _new_instance(
        self, parent: InstanceNode, template: Node, position: int, *, fresh: bool
    ) -> InstanceNode:
        inst = InstanceNode(self, template, parent, position)
        parent._append(inst)
        self._register(inst)
        if template.is_leaf and fresh:
            inst.value = inst.shown = self._initial_value(template)
        self.build_children(inst, fresh=fresh)
        return inst

    def insert_repeat(self, holder: InstanceNode, template: Node) -> InstanceNode:
        """A new instance of ``template`` after its siblings under ``holder``, leaves filled
        with their preloads and static defaults (the caller checks ``room_for`` first)."""
        siblings = holder.children_named(template.name)
        inst = InstanceNode(self, template, holder, len(siblings) + 1)
        if siblings:
            index = holder._children.index(siblings[-1]) + 1
        else:
            # Keep document order: after the last child whose template comes before this one.
            order = [c.path for c in holder.template.children]
            mine = order.index(template.path)
            index = sum(1 for c in holder._children if order.index(c.template.path) < mine)
        holder._insert(index, inst)
        self._register(inst)
        if self.journal is not None:
            self.journal.append(inst)
        self.build_children(inst, fresh=True)
        for node in inst.walk():
            if node is not inst and node.template.is_leaf and node.value == "":
                node.value = node.shown = self._initial_value(node.template)
        return inst

    def attached(self, inst: InstanceNode) -> bool:
        """True while ``inst`` is part of the tree (not removed with an ancestor)."""
        return self.by_path.get(inst.path) is inst

    def remove(self, inst: InstanceNode) -> None:
        """Remove one repeat instance; the later ones move up (their paths renumbered)."""
        holder = inst.parent
        if holder is None:
            raise AnswerError("the record's root cannot be removed")
        holder._remove(inst)
        self._unregister(inst)
        for position, sibling in enumerate(holder.children_named(inst.template.name), start=1):
            if sibling.position != position:
                for node in sibling.walk():
                    self.by_path.pop(node.path, None)
                sibling.position = position
                sibling._renumber()
                for node in sibling.walk():
                    self.by_path[node.path] = node

    def ensure_path(self, path: str) -> InstanceNode:
        """The node at ``path``, creating the repeat instances on the way (restoring a draft).

        AnswerError when the path is not one of this form's, or would exceed the caps.
        """
        parts = [p for p in path.split("/") if p]
        if not parts or parts[0] != self.form.root:
            raise AnswerError("not a path of this form")
        inst = self.root
        template_path = f"/{self.form.root}"
        for part in parts[1:]:
            match = _STEP.fullmatch(part)
            if match is None:
                raise AnswerError("not a path of this form")
            name, position = match.group(1), int(match.group(2) or 1)
            template_path = f"{template_path}/{name}"
            template = self.form.find(template_path)
            if template is None:
                raise AnswerError("not a path of this form")
            existing = inst.children_named(name)
            if template.kind == "repeat":
                if position > MAX_REPEAT_COUNT:
                    raise AnswerError("too many repeat instances")
                while len(existing) < position:
                    if not self.room_for(template):
                        self.capped = True
                        raise AnswerError("too many repeat instances")
                    self._new_instance(inst, template, len(existing) + 1, fresh=False)
                    existing = inst.children_named(name)
            elif not existing:
                self._new_instance(inst, template, 1, fresh=False)
                existing = inst.children_named(name)
            inst = existing[position - 1] if template.kind == "repeat" else existing[0]
        return inst

    # ------------------------------------------------------------------ finding

    def in_scope(self, template: Node, scope: InstanceNode) -> list[InstanceNode]:
        """Instances of ``template`` at or below ``scope``, in document order."""
        if scope is self.root:
            return self.instances(template.path)
        base = scope.template.path
        if template.path == base:
            return [scope]
        if not template.path.startswith(base + "/"):
            return []
        # Walk down from scope by name: the cost is what is found, not the whole record.
        level: list[InstanceNode] = [scope]
        for name in template.path[len(base) + 1 :].split("/"):
            level = [child for node in level for child in node.children_named(name)]
        return level

    def holders(self, repeat: Node, scope: InstanceNode) -> list[InstanceNode]:
        """Instances of the repeat's parent at or below ``scope`` (where its instances live)."""
        parent = repeat.parent
        if parent is None:
            return []
        holders = self.in_scope(parent, scope)
        if not holders and scope.template.path.startswith(parent.path + "/"):
            # scope is inside the parent: the one holder is scope's ancestor of that template
            node: InstanceNode | None = scope
            while node is not None and node.template is not parent:
                node = node.parent
            return [node] if node is not None else []
        return holders

    def find(self, name_or_path: str) -> InstanceNode:
        """The node at an instance path, or the one instance of a question name."""
        if name_or_path.startswith("/"):
            inst = self.by_path.get(name_or_path)
            if inst is None:
                # Positions may be left out where a repeat has only its first instance.
                inst = self.by_path.get(_with_positions(name_or_path, self.form))
            if inst is None:
                raise AnswerError("no such question in this record")
            return inst
        templates = self.form.named(name_or_path)
        if not templates:
            raise AnswerError(f"no question named '{name_or_path}'")
        instances = self.instances(templates[0].path)
        if len(templates) > 1 or len(instances) > 1:
            raise AnswerError(f"'{name_or_path}' is not unique here; give its path")
        if not instances:
            raise AnswerError(f"'{name_or_path}' has no instance yet (add a repeat first)")
        return instances[0]

    def repeat_target(self, name_or_path: str) -> tuple[Node, InstanceNode]:
        """A repeat's template and the node its new instances go under."""
        if name_or_path.startswith("/"):
            stripped = re.sub(r"\[\d+\]$", "", name_or_path)
            template_path = re.sub(r"\[\d+\]", "", stripped)
            template = self.form.find(template_path)
            if template is None or template.kind != "repeat":
                raise AnswerError("not a repeat of this form")
            parent_path = stripped.rsplit("/", 1)[0]
            holder = self.by_path.get(parent_path) or self.by_path.get(
                _with_positions(parent_path, self.form)
            )
            if holder is None:
                raise AnswerError("the repeat's group does not exist in this record")
            return template, holder
        templates = [t for t in self.form.named(name_or_path) if t.kind == "repeat"]
        if not templates:
            raise AnswerError(f"no repeat named '{name_or_path}'")
        template = templates[0]
        if template.parent is None:
            raise AnswerError("not a repeat of this form")
        holders = self.instances(template.parent.path)
        if len(holders) != 1:
            raise AnswerError(f"'{name_or_path}' is inside another repeat; give its path")
        return template, holders[0]

    def instances(self, template_path: str) -> list[InstanceNode]:
        """Every instance of the template at ``template_path``."""
        return list(self._by_template.get(template_path, {}).values())

    def nodes(self) -> list[InstanceNode]:
        """Every node below the root, in document order."""
        return self.root.walk()[1:]


# ------------------------------------------------------------------ fixed sizes

_NUMBER = re.compile(r"\s*\d+(?:\.\d*)?\s*")
_NAME_REF = re.compile(r"\s*\$\{([^}]+)\}\s*")


def check_fixed_size(form: Form) -> None:
    """Refuse, at load, a form whose fixed repeat counts alone overflow one record.

    A ``repeat_count`` written as a number (pyxform turns it into a ``NAME_count``
    calculate) is known before any answer: 60 on each of three nested levels is 216,000
    instances, which would take minutes to build. Counts that come from answers are bounded
    while the interview runs instead (the session refuses the answer that would overflow).
    """
    size, chain = _fixed_size(form.top, form)
    if size <= MAX_INSTANCE_NODES or not chain:
        return
    outer = chain[0][0]
    counts = " × ".join(str(count) for _, count in chain)
    raise FormError(
        f"repeat '{outer.name}': its fixed repeat counts ({counts}) make {size:,} fields in "
        f"one record, more than fieldkit's limit of {MAX_INSTANCE_NODES:,}",
        sheet="survey",
        row=outer.row,
        column="repeat_count",
    )


def _fixed_size(node: Node, form: Form) -> tuple[int, list[tuple[Node, int]]]:
    """Nodes of one instance of ``node`` when every fixed count is met (a count from an
    answer counts none, a repeat without a count its first instance), and the nested
    fixed-count repeats that weigh most."""
    size = 1
    heaviest = 0
    chain: list[tuple[Node, int]] = []
    for child in node.children:
        count = 1
        if child.kind == "repeat" and child.repeat_count is not None:
            fixed = _fixed_count(child.repeat_count, form)
            if fixed is None:
                continue
            count = fixed
        inner, inner_chain = _fixed_size(child, form)
        weight = count * inner
        size += weight
        if weight > heaviest:
            heaviest = weight
            mine = [(child, count)] if child.kind == "repeat" and child.repeat_count else []
            chain = mine + inner_chain
    return size, chain


def _fixed_count(text: str, form: Form) -> int | None:
    """A repeat_count known at load: a number, or ``${x}`` where x calculates a number."""
    match = _NAME_REF.fullmatch(text)
    if match is not None:
        target = form.named(match.group(1).strip())
        if len(target) != 1 or target[0].kind != "calculate" or target[0].calculation is None:
            return None
        text = target[0].calculation
    if _NUMBER.fullmatch(text) is None:
        return None
    return min(int(float(text)), MAX_REPEAT_COUNT)


# ------------------------------------------------------------------ path helpers


def _footprint(template: Node) -> int:
    """Nodes one new instance of ``template`` adds before its counted repeats are sized."""
    size = 1
    for child in template.children:
        if child.kind == "repeat" and child.repeat_count is not None:
            continue
        size += _footprint(child)
    return size


def holds_text(inst: InstanceNode) -> bool:
    """True when the node (or a descendant its own relevance lets through) has a value."""
    if inst.template.is_leaf:
        return inst.shown != ""
    return any(child.self_relevant and holds_text(child) for child in inst.children())


def affected_paths(changed: Node) -> list[str]:
    """Template paths whose text a change at ``changed`` may alter (a subtree for containers)."""
    out = [changed.path]
    for child in changed.children:
        out.extend(affected_paths(child))
    return out


def _repeats_above(node: Node) -> list[str]:
    out = []
    current = node.parent
    while current is not None:
        if current.kind == "repeat":
            out.append(current.path)
        current = current.parent
    return out


def lift(at: InstanceNode, source: Node, target: Node) -> InstanceNode:
    """The instance below which ``target`` must be recomputed after ``source`` changed at ``at``.

    That is ``at``'s ancestor at the deepest repeat enclosing both ``source`` (strictly) and
    ``target``; the root when they share no repeat.
    """
    shared = set(_repeats_above(source)) & ({target.path} | set(_repeats_above(target)))
    node: InstanceNode | None = at
    while node is not None:
        if node.template.kind == "repeat" and node.template.path in shared:
            return node
        node = node.parent
    return at.tree.root


def common_ancestor(a: InstanceNode, b: InstanceNode) -> InstanceNode:
    """The lowest common ancestor-or-self of two instances."""
    ancestors = set()
    node: InstanceNode | None = a
    while node is not None:
        ancestors.add(id(node))
        node = node.parent
    node = b
    while node is not None:
        if id(node) in ancestors:
            return node
        node = node.parent
    return a.tree.root


def path_sort_key(path: str) -> tuple[int, ...]:
    """Restore order: paths of earlier repeat instances first (so positions are made in order)."""
    return tuple(int(n) for n in re.findall(r"\[(\d+)\]", path)) or (0,)


def _with_positions(path: str, form: Form) -> str:
    """Add ``[1]`` after every repeat step that has no position."""
    parts = [p for p in path.split("/") if p]
    out = []
    template = ""
    for part in parts:
        match = _STEP.fullmatch(part)
        if match is None:
            return path
        template += "/" + match.group(1)
        node = form.find(template)
        if node is not None and node.kind == "repeat" and match.group(2) is None:
            part = f"{part}[1]"
        out.append(part)
    return "/" + "/".join(out)
