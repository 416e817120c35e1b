"""The dependency graph of a form's computed state, built once at load.

An *item* is one computed property of one template node: its ``relevant``, its ``calculation``
(``value``), its filtered choice list (``choices``, which can drop a selected value) or a
repeat's ``repeat_count`` (``count``). Item B depends on item A when B's expression reads a node
whose text A can change. The items are sorted topologically once; setting one answer then
recomputes only the items reachable from it, in that order (FormSession). A cycle is refused at
load, as JavaRosa refuses it ("cycle detected in form's relevant and calculation logic").
Constraint, required and readonly change no other node's text, so they are evaluated on demand.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fieldkit.errors import FormError

if TYPE_CHECKING:
    from fieldkit.forms.model import Form, Node
    from fieldkit.forms.xpath import Expression

__all__ = ["Graph", "Item"]

_PROPS = {
    "relevant": "relevant",
    "value": "calculation",
    "choices": "choice_filter",
    "count": "repeat_count",
}


@dataclass(eq=False)
class Item:
    """One computed property of one template node, with its place in the topological order."""

    node: Node
    prop: str  # relevant | value | choices | count
    expression: Expression
    order: int = 0
    dependents: tuple[Item, ...] = ()
    #: True when the expression must see every repeat instance (indexed-repeat), so a change
    #: anywhere recomputes all of its instances.
    global_scope: bool = False

    def __repr__(self) -> str:
        return f"Item({self.node.path}, {self.prop})"


def _subtree(node: Node) -> list[str]:
    out = [node.path]
    for child in node.children:
        out.extend(_subtree(child))
    return out


class Graph:
    """Items in topological order and, per template path, the items that read it."""

    def __init__(self, form: Form) -> None:
        items: list[Item] = []
        for node in form.walk():
            for prop, attr in _PROPS.items():
                expression = node.compiled.get(attr)
                if expression is None:
                    continue
                if prop == "value" and (not node.is_leaf or node.trigger):
                    # A calculation with a trigger is not reactive: pyxform writes it as
                    # <setvalue event="xforms-value-changed"> on the trigger question, so it
                    # runs only when a person changes that question (FormSession._fire).
                    continue
                items.append(
                    Item(
                        node,
                        prop,
                        expression,
                        global_scope="indexed-repeat" in expression.functions,
                    )
                )
        readers: dict[str, list[Item]] = defaultdict(list)
        paths = [node.path for node in form.walk()]
        for item in items:
            for ref in item.expression.references:
                for path in _expand(ref, paths):
                    if item not in readers[path]:
                        readers[path].append(item)
        self.readers: dict[str, list[Item]] = dict(readers)
        #: trigger question's template path → the nodes its change recalculates
        self.triggered: dict[str, list[Node]] = defaultdict(list)
        for node in form.walk():
            for name in node.trigger:
                target = form.resolve_name(name)
                if target is not None:
                    self.triggered[target].append(node)
        # What each item can change: its node's text (value, choices) or a whole subtree's
        # text (relevance is inherited; a count adds or removes instances).
        edges: dict[Item, list[Item]] = {}
        for item in items:
            paths = [item.node.path] if item.prop in {"value", "choices"} else _subtree(item.node)
            targets: dict[int, Item] = {}
            for path in paths:
                for reader in self.readers.get(path, ()):
                    if reader is item:
                        if item.prop == "value" or path == item.node.path:
                            raise _cycle([item])
                        continue  # a group's relevance reading its own children: no cycle
                    targets[id(reader)] = reader
            edges[item] = list(targets.values())
        self.items: list[Item] = _toposort(items, edges)
        for index, item in enumerate(self.items):
            item.order = index
        for item in self.items:
            item.dependents = tuple(sorted(edges[item], key=lambda i: i.order))

    def readers_of(self, path: str) -> list[Item]:
        """Items whose expressions read the node at template ``path``."""
        return self.readers.get(path, [])


def _expand(ref: str, paths: list[str]) -> list[str]:
    """The template paths a reference reads: itself, or every path its ``*`` steps match."""
    if "/*" not in ref:
        return [ref]
    wanted = ref.split("/")
    out = []
    for path in paths:
        parts = path.split("/")
        if len(parts) == len(wanted) and all(
            w in {"*", p} for w, p in zip(wanted, parts, strict=True)
        ):
            out.append(path)
    return out


def _toposort(items: list[Item], edges: dict[Item, list[Item]]) -> list[Item]:
    """Kahn's algorithm, stable in document order; a cycle is a FormError naming its nodes."""
    indegree = {id(item): 0 for item in items}
    for item in items:
        for target in edges[item]:
            indegree[id(target)] += 1
    position = {id(item): n for n, item in enumerate(items)}
    ready = [(position[id(item)], item) for item in items if indegree[id(item)] == 0]
    heapq.heapify(ready)
    out: list[Item] = []
    while ready:
        _, item = heapq.heappop(ready)
        out.append(item)
        for target in edges[item]:
            indegree[id(target)] -= 1
            if indegree[id(target)] == 0:
                heapq.heappush(ready, (position[id(target)], target))
    if len(out) != len(items):
        raise _cycle([item for item in items if indegree[id(item)] > 0])
    return out


def _cycle(items: list[Item]) -> FormError:
    names = sorted({item.node.name for item in items})
    first = items[0].node
    shown = ", ".join(names[:6]) + (" …" if len(names) > 6 else "")
    return FormError(
        f"the form's logic goes round in a circle between: {shown}",
        sheet="survey",
        row=first.row,
        column=_PROPS[items[0].prop],
    )
