"""FormSession: one record's answers, and everything ODK derives from them.

The session keeps an instance tree (the XForms primary instance: groups, repeat instances,
leaves) whose nodes the expression evaluator walks. ODK's semantics, with where they come from:

- A node is relevant when its own ``relevant`` holds and its parent is relevant (XForms 1.0
  §6.1.4: relevance is inherited). A non-relevant node reads as empty in every expression and
  in the submission, but keeps its value: it comes back if the node becomes relevant again
  (JavaRosa TreeElement.isRelevant / Web Forms' "non-relevant value is blank").
- ``required`` only applies to a relevant node; a constraint on an empty or non-relevant node
  holds (XForms 1.0 §6.1.5; JavaRosa FormEntryController answerQuestion).
- Calculations are recomputed when what they read changes; values written into a typed node are
  coerced (integers truncate, non-numbers become empty, NaN is empty) — see values.py.
- A select's value is filtered to the current choices (after ``choice_filter``), and a
  select_multiple's values are kept in choice order (Web Forms select value codec).
- ``today()`` / ``now()`` read one clock the caller can pin (``now=``).
"""

from __future__ import annotations

import random as _random
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from fieldkit.errors import AnswerError, FormError
from fieldkit.forms import values as _values
from fieldkit.forms.instance import (
    MAX_INSTANCE_NODES,
    MAX_REPEAT_COUNT,
    InstanceNode,
    InstanceTree,
    affected_paths,
    common_ancestor,
    holds_text,
    lift,
    path_sort_key,
)
from fieldkit.forms.model import DEFAULT_LANGUAGE, METADATA_TYPES, Choice, Form, Node
from fieldkit.forms.secondary import choice_item
from fieldkit.forms.state import NodeState, Problem

if TYPE_CHECKING:
    from fieldkit.forms.graph import Item
    from fieldkit.forms.xpath import EvalContext, Expression

__all__ = ["MAX_INSTANCE_NODES", "MAX_REPEAT_COUNT", "FormSession", "NodeState", "Problem"]


class FormSession:
    """One record's answers over a Form, with relevance, validation and calculations."""

    def __init__(
        self,
        form: Form,
        *,
        answers: Mapping[str, str] | None = None,
        now: datetime | Callable[[], datetime] | None = None,
        lang: str | None = None,
        random: _random.Random | None = None,
    ) -> None:
        self.form = form
        if isinstance(now, datetime):
            pinned = now if now.tzinfo is not None else now.astimezone()
            self._clock: Callable[[], datetime] = lambda: pinned
        elif now is None:
            self._clock = lambda: datetime.now().astimezone()
        else:
            self._clock = now
        self.lang: str | None = None
        self.set_language(lang)
        # random() and randomize draw from this; it is no secret (instanceID uses uuid4).
        self._random = random if random is not None else _random.Random()  # noqa: S311
        self._ctx: EvalContext | None = None
        self.tree = InstanceTree(form, initial_value=self._initial_value)
        self.root = self.tree.root
        fresh = answers is None
        self.tree.build_children(self.root, fresh=fresh)
        if answers:
            self._restore(answers)
        self.recompute_all()
        if fresh:
            self._apply_dynamic_defaults(self.root)
            self.recompute_all()

    # ------------------------------------------------------------------ the tree

    def _initial_value(self, template: Node) -> str:
        """Preloads and static defaults, when a record or repeat instance is created."""
        if template.preload == "uid" or (
            template.name == "instanceID" and template.kind != "question"
        ):
            return f"uuid:{uuid.UUID(int=self._random.getrandbits(128), version=4)}"
        kind = template.type
        if kind in {"start", "end"} or (template.preload == "timestamp"):
            return _values.now_text(self._clock())
        if kind == "today" or template.preload == "date":
            return self._clock().date().isoformat()
        if kind in METADATA_TYPES:
            return ""
        if template.default is not None and not template.dynamic_default:
            return _values.coerce_computed(template.data_type, template.default)
        return ""

    def _apply_dynamic_defaults(self, inst: InstanceNode) -> None:
        # Dynamic defaults run once, at odk-instance-first-load / odk-new-repeat (XForms
        # actions pyxform writes as <setvalue>), after the static values are in place.
        for node in inst.walk():
            template = node.template
            # ODK Web Forms skips the first-load <setvalue> of a node that is not relevant.
            if template.dynamic_default and node.value == "" and node.relevant:
                expression = template.compiled.get("default")
                if expression is not None:
                    text = self._output(expression, node)
                    node.value = node.shown = self._coerce(template, text)

    def _restore(self, answers: Mapping[str, str]) -> None:
        """Rebuild the tree from a flat answers dict (a draft or a finalized record)."""
        for path in sorted(answers, key=path_sort_key):
            try:
                inst = self.tree.ensure_path(path)
            except AnswerError:
                continue  # a path the form no longer has (an older version): ignored
            if inst.template.is_leaf:
                inst.value = inst.shown = str(answers[path])

    # --------------------------------------------------------------- evaluation

    def _context(self, node: InstanceNode) -> EvalContext:
        from fieldkit.forms.xpath import EvalContext

        if self._ctx is None:
            self._ctx = EvalContext(
                node,
                root=self.root,
                instances=self.form.secondary_instances(),
                now=self._clock,
                random=self._random,
                choice_label=self._choice_label,
                language=self.lang,
            )
        ctx = self._ctx
        ctx.node = node
        ctx.current = None
        ctx.language = self.lang
        return ctx

    def _choice_label(self, template_path: str, value: str) -> str | None:
        node = self.form.find(template_path)
        if node is None:
            return None
        for choice in node.choices:
            if choice.name == value:
                return choice.label(self.lang)
        return None

    def _output(self, expression: Expression, node: InstanceNode) -> str:
        from fieldkit.forms.xpath import to_output_text

        try:
            return to_output_text(expression.evaluate(self._context(node)))
        except (FormError, AnswerError):
            return ""

    def _boolean(self, expression: Expression, node: InstanceNode) -> bool:
        try:
            return expression.evaluate_boolean(self._context(node))
        except (FormError, AnswerError):
            return False

    def _coerce(self, template: Node, text: str) -> str:
        return _values.coerce_computed(template.data_type, text)

    def _compute(self, item: Item, inst: InstanceNode) -> bool:
        """Recompute one item on one instance; True when anything visible changed."""
        template = item.node
        if item.prop == "relevant":
            before = inst.self_relevant
            inst.self_relevant = self._boolean(item.expression, inst)
            # Dependents re-run only when a text they read changes (ODK Web Forms is
            # value-reactive): a node with nothing in it reads "" relevant or not.
            return before != inst.self_relevant and holds_text(inst)
        if item.prop == "value":
            text = self._coerce(template, self._output(item.expression, inst))
            if template.is_select:
                text = self._filter_select(inst, text)
            changed = text != inst.shown or text != inst.value
            inst.value = inst.shown = text
            return changed
        if item.prop == "choices":
            inst.choices = self._filtered_choices(item.expression, inst)
            shown_before = inst.shown
            inst.shown = self._filter_select(inst, inst.value)
            return shown_before != inst.shown
        if item.prop == "count":
            return self._resize(item, inst)
        return False

    def _filtered_choices(self, expression: Expression, inst: InstanceNode) -> list[Choice]:
        ctx = self._context(inst)
        kept: list[Choice] = []
        for choice in inst.template.choices:
            # Each choice is offered as its item (name, label and other columns; a file's
            # row as ODK reads it), with ``current()`` the question's own node.
            ctx.node = choice_item(choice, label=choice.label(self.lang))
            ctx.current = inst
            try:
                keep = expression.evaluate_boolean(ctx)
            except (FormError, AnswerError):
                keep = False
            if keep:
                kept.append(choice)
        ctx.current = None
        return kept

    def _current_choices(self, inst: InstanceNode) -> list[Choice]:
        if inst.choices is not None:
            return inst.choices
        return inst.template.choices

    def _filter_select(self, inst: InstanceNode, text: str) -> str:
        """Drop selected values that are not among the current choices (ODK)."""
        template = inst.template
        if not template.is_select or text == "" or not template.choices:
            return text
        names = [c.name for c in self._current_choices(inst)]
        if template.type == "select_multiple":
            return " ".join(_values.order_choices(text.split(), names))
        if template.type == "rank":
            allowed = set(names)
            return " ".join(v for v in text.split() if v in allowed)
        return text if text in set(names) else ""

    def _resize(self, item: Item, parent: InstanceNode) -> bool:
        """Make a counted repeat have exactly repeat_count instances under ``parent``."""
        from fieldkit.forms.xpath import to_number

        template = item.node
        holder = parent.parent if parent.template is template else parent
        if holder is None:
            return False
        try:
            number = to_number(item.expression.evaluate(self._context(holder)))
        except (FormError, AnswerError):
            number = 0.0
        existing = list(holder.children_named(template.name))
        if number != number:
            # ODK Web Forms leaves a counted repeat as it is while its count is not a number
            # (an empty answer, text): instances are not thrown away on a cleared count.
            return False
        if number < 0:
            wanted = 0
        else:
            wanted = min(int(number), MAX_REPEAT_COUNT)
        if len(existing) == wanted:
            return False
        while len(existing) > wanted:
            self.tree.remove(existing.pop())
        while len(existing) < wanted:
            if not self.tree.room_for(template):
                # The whole record's cap: fewer instances than asked (see _assign).
                self.tree.capped = True
                break
            existing.append(self._insert_repeat(holder, template))
        return True

    def _insert_repeat(self, holder: InstanceNode, template: Node) -> InstanceNode:
        """A new repeat instance placed after its siblings; defaults applied; state computed."""
        inst = self.tree.insert_repeat(holder, template)
        self._recompute_subtree(inst)
        self._apply_dynamic_defaults(inst)
        self._recompute_subtree(inst)
        return inst

    def _recompute_subtree(self, inst: InstanceNode) -> None:
        for item in self.form.graph.items:
            if item.node.path == inst.template.path and item.prop == "count":
                continue
            for target in self.tree.in_scope(item.node, inst):
                if item.prop == "count":
                    self._compute(item, target.parent if target.parent is not None else target)
                else:
                    self._compute(item, target)

    def recompute_all(self) -> None:
        """Recompute every item on every instance, in dependency order (full re-evaluation)."""
        for item in self.form.graph.items:
            if item.prop == "count":
                holders = self.tree.holders(item.node, self.root)
                for holder in holders:
                    self._resize(item, holder)
                continue
            for inst in self.tree.instances(item.node.path):
                self._compute(item, inst)

    def _propagate(
        self,
        origin: InstanceNode,
        changed: Node,
        *,
        held: list[tuple[Item, InstanceNode]] | None = None,
    ) -> None:
        """Recompute what depends on ``changed`` (at instance ``origin``), in topological order.

        Scope: a dependent inside the same repeat instance as the change is recomputed in that
        instance only (expressions there read their own instance: JavaRosa contextualises
        references, pyxform writes relative paths); anything else is recomputed everywhere
        below the deepest repeat instance both share. With ``held``, repeat_count items are
        collected there instead of run (see ``_assign``).
        """
        seeds: list[tuple[Item, InstanceNode]] = []
        for path in affected_paths(changed):
            for item in self.form.graph.readers_of(path):
                scope = self.root if item.global_scope else lift(origin, changed, item.node)
                seeds.append((item, scope))
        self._run(seeds, held=held)

    def _run(
        self,
        seeds: list[tuple[Item, InstanceNode]],
        *,
        held: list[tuple[Item, InstanceNode]] | None = None,
    ) -> None:
        import heapq

        pending: dict[int, tuple[Item, InstanceNode]] = {}
        heap: list[tuple[int, int]] = []

        def schedule(item: Item, scope: InstanceNode) -> None:
            key = id(item)
            if key in pending:
                pending[key] = (item, common_ancestor(pending[key][1], scope))
            else:
                pending[key] = (item, scope)
                heapq.heappush(heap, (item.order, key))

        for item, scope in seeds:
            schedule(item, scope)
        while heap:
            _, key = heapq.heappop(heap)
            item, scope = pending.pop(key)
            any_change = False
            if item.prop == "count":
                if held is not None:
                    held.append((item, scope))
                    continue
                for holder in self.tree.holders(item.node, scope):
                    any_change = self._resize(item, holder) or any_change
            else:
                for inst in self.tree.in_scope(item.node, scope):
                    any_change = self._compute(item, inst) or any_change
            if any_change:
                for dependent in item.dependents:
                    at = (
                        self.root
                        if dependent.global_scope
                        else lift(scope, item.node, dependent.node)
                    )
                    schedule(dependent, at)

    # ------------------------------------------------------------------ public API

    def set_language(self, lang: str | None) -> None:
        """Switch the language of labels, hints, messages and jr:choice-name."""
        known = [*self.form.languages, self.form.initial_language]
        if lang is not None and self.form.languages and lang not in known:
            raise AnswerError(f"the form has no language '{lang}'")
        changed = lang != self.lang
        self.lang = lang
        if changed and getattr(self, "tree", None) is not None:
            # jr:choice-name() reads labels in the current language: its calculations rerun.
            seeds = [
                (item, self.root)
                for item in self.form.graph.items
                if any(name.endswith("choice-name") for name in item.expression.functions)
            ]
            if seeds:
                self._run(seeds)

    def set(self, name_or_path: str, text: str, *, lenient: bool = False) -> str:
        """Answer a question; returns its stored text. AnswerError when the value does not fit.

        With ``lenient`` a value that does not fit is stored the way ODK stores it instead
        (``values.coerce_answer``); unknown, read-only or calculated targets still raise.
        """
        inst, stored = self._parse(name_or_path, text, lenient=lenient)
        self._assign(inst, stored)
        return inst.value

    def check(self, name_or_path: str, text: str) -> None:
        """Raise the AnswerError ``set`` would raise for this value, storing nothing."""
        self._parse(name_or_path, text, lenient=False)

    def _parse(self, name_or_path: str, text: str, *, lenient: bool) -> tuple[InstanceNode, str]:
        inst = self.tree.find(name_or_path)
        template = inst.template
        if not template.is_leaf:
            raise AnswerError(f"'{template.name}' is a {template.kind}, not a question")
        if template.kind == "calculate":
            # A question with a calculation stays answerable, as in ODK: the person's value
            # holds until something the calculation reads changes.
            raise AnswerError(f"'{template.name}' is calculated, not answered")
        if template.kind == "metadata":
            raise AnswerError(f"'{template.name}' is filled in automatically")
        if template.readonly is not None and self._readonly(inst):
            raise AnswerError(f"'{template.name}' is read-only")
        # Validated against the whole list; a choice that choice_filter hides right now is
        # dropped, not refused (ODK Web Forms stores nothing for an unavailable choice).
        choices = [c.name for c in template.choices]
        try:
            stored = _values.parse_answer(
                template.type,
                text,
                data_type=template.data_type,
                choices=choices,
                parameters=template.parameters,
            )
        except AnswerError as exc:
            if not lenient:
                raise AnswerError(f"'{template.name}': {exc}") from None
            stored = _values.coerce_answer(
                template.type,
                text,
                data_type=template.data_type,
                choices=choices,
                parameters=template.parameters,
            )
        return inst, stored

    def clear(self, name_or_path: str) -> None:
        """Remove an answer (the same as answering with empty text)."""
        inst = self.tree.find(name_or_path)
        if not inst.template.is_leaf or inst.template.kind in {"calculate", "metadata"}:
            raise AnswerError(f"'{inst.template.name}' is not a question")
        self._assign(inst, "")

    def _assign(self, inst: InstanceNode, stored: str) -> None:
        """Store an answer and recompute what depends on it; an answer that would grow the
        record past ``MAX_INSTANCE_NODES`` (a count driving repeats inside repeats) is taken
        back and refused, so the record stays as it was."""
        before = inst.value
        self.tree.capped = False
        self.tree.journal = []
        try:
            self._store(inst, stored)
            made = self.tree.journal
        finally:
            self.tree.journal = None
        if self.tree.capped:
            self.tree.capped = False
            # Take it all back: the instances this answer made (the last first, so none moves
            # up), the old value, then every computed value from that state.
            fresh = {id(node) for node in made}
            for new in reversed(made):
                # Only the outermost new instances: the ones inside go with them.
                if not _inside(new, fresh) and self.tree.attached(new):
                    self.tree.remove(new)
            inst.value = inst.shown = before
            self.recompute_all()
            raise AnswerError(
                f"'{inst.template.name}': the record would hold more than "
                f"{MAX_INSTANCE_NODES:,} fields (repeats inside repeats); not stored"
            )

    def _store(self, inst: InstanceNode, stored: str) -> None:
        stored = self._filter_select(inst, stored)
        if inst.value == stored and inst.shown == stored:
            return
        inst.value = inst.shown = stored
        if not inst.relevant:
            return  # it reads "" either way: nothing that depends on it can change
        if not self.form.graph.triggered.get(inst.template.path):
            self._propagate(inst, inst.template)
            return
        # ODK Web Forms runs the value-changed actions after calculations and relevance are
        # fresh but before repeat_count adds or removes instances (those follow as effects).
        held: list[tuple[Item, InstanceNode]] = []
        self._propagate(inst, inst.template, held=held)
        self._fire(inst)
        self._run(held)

    def _fire(self, changed: InstanceNode) -> None:
        """Run the calculations whose ``trigger`` is the question that just changed.

        pyxform writes them as ``<setvalue event="xforms-value-changed">`` inside the trigger
        question (ODK XForms spec, "Actions"): evaluated once per change, not kept up to date.
        """
        for target in self.form.graph.triggered.get(changed.template.path, ()):
            scope = lift(changed, changed.template, target)
            expression = target.compiled.get("calculation")
            for inst in self.tree.in_scope(target, scope):
                text = self._output(expression, inst) if expression is not None else ""
                text = self._coerce(target, text)
                if text != inst.value or text != inst.shown:
                    inst.value = inst.shown = self._filter_select(inst, text)
                    self._propagate(inst, target)

    def add_repeat(self, name_or_path: str) -> str:
        """Add an instance at the end of a user-controlled repeat; returns its path."""
        template, holder = self.tree.repeat_target(name_or_path)
        if template.repeat_count is not None:
            raise AnswerError(f"'{template.name}' repeats a set number of times")
        existing = holder.children_named(template.name)
        if len(existing) >= MAX_REPEAT_COUNT or not self.tree.room_for(template):
            raise AnswerError("too many repeat instances")
        inst = self._insert_repeat(holder, template)
        self._propagate(inst, template)
        return inst.path

    def remove_repeat(self, path: str) -> None:
        """Remove one repeat instance (``/data/household/member[2]``); later ones move up."""
        inst = self.tree.by_path.get(path)
        if inst is None or inst.template.kind != "repeat":
            raise AnswerError("no such repeat instance in this record")
        if inst.template.repeat_count is not None:
            raise AnswerError(f"'{inst.template.name}' repeats a set number of times")
        holder = inst.parent
        assert holder is not None
        self.tree.remove(inst)
        self._propagate(holder, inst.template)

    # -- reading --------------------------------------------------------------------

    def _readonly(self, inst: InstanceNode) -> bool:
        expression = inst.template.compiled.get("readonly")
        # Only the readonly bind (pyxform writes one for notes) makes a node read-only, as in
        # ODK Web Forms, which reports a calculate without that bind as not read-only.
        if inst.template.kind == "note":
            return True
        if expression is not None and self._boolean(expression, inst):
            return True
        # Readonly is inherited from groups (XForms 1.0 §6.1.3).
        parent = inst.parent
        while parent is not None and parent is not self.root:
            expression = parent.template.compiled.get("readonly")
            if expression is not None and self._boolean(expression, parent):
                return True
            parent = parent.parent
        return False

    def _render(self, inst: InstanceNode, text: str) -> str:
        """Label/hint text with ``${name}`` replaced by the current values (ODK <output>)."""
        if "${" not in text:
            return text
        refs = inst.template.label_refs

        def replace(match: re.Match[str]) -> str:
            expression = refs.get(match.group(1))
            return self._output(expression, inst) if expression is not None else match.group(0)

        return re.sub(r"\$\{([^}]*)\}", replace, text)

    def _message(self, inst: InstanceNode, texts: Mapping[str, str]) -> str:
        """A constraint/required message exactly as ODK shows it.

        In a translated form pyxform writes messages as itext, filling a language the form
        leaves blank with "-", and ODK starts in ``Form.initial_language``; a message holding
        ``${name}`` becomes itext with <output> values and a space at each end, which ODK Web
        Forms keeps (" Too big 7 here ").
        """
        if not texts:
            return ""
        plain = set(texts) == {DEFAULT_LANGUAGE}
        if plain and "${" not in texts[DEFAULT_LANGUAGE]:
            # One untranslated message with no ${name}: pyxform writes it as a plain
            # jr:constraintMsg attribute, shown as it is in every language.
            return texts[DEFAULT_LANGUAGE]
        if plain and self.form.default_language:
            # With ${name} it becomes itext in the settings' default_language only.
            texts = {self.form.default_language: texts[DEFAULT_LANGUAGE]}
        if self.form.languages:
            active = self.lang or self.form.initial_language or ""
            text = texts.get(active, "-")
        else:
            text = next(iter(texts.values()))
        if "${" not in text:
            return text
        return f" {self._render(inst, text)} "

    def _state(self, inst: InstanceNode) -> NodeState:
        template = inst.template
        relevant = inst.relevant
        value = inst.shown if relevant else ""
        # ODK Web Forms reports ``required`` as its expression says, relevant or not; only
        # "required but empty" needs the node to be relevant (XForms 1.0 §6.1.5).
        required = False
        required_expr = template.compiled.get("required")
        if required_expr is not None:
            required = self._boolean(required_expr, inst)
        constraint_valid = True
        constraint = template.compiled.get("constraint")
        if constraint is not None and relevant and value != "":
            constraint_valid = self._boolean(constraint, inst)
        required_empty = relevant and required and value == ""
        lang = self.lang
        return NodeState(
            path=inst.path,
            name=template.name,
            type=template.type,
            value=value,
            relevant=relevant,
            required=required,
            readonly=self._readonly(inst),
            constraint_valid=constraint_valid,
            required_empty=required_empty,
            constraint_message=self._message(inst, template.constraint_messages),
            required_message=self._message(inst, template.required_messages),
            label=self._render(inst, template.label(lang)),
            hint=self._render(inst, template.hint(lang)),
            guidance_hint=template.guidance_hint(lang),
            choices=tuple(self._current_choices(inst)) if template.is_select else (),
            appearance=template.appearance,
            sensitive=template.sensitive,
            kind=template.kind,
            parameters=template.parameters,
        )

    def node(self, path: str) -> NodeState:
        """The state of one node, by instance path (or by name where it is unique)."""
        return self._state(self.tree.find(path))

    def nodes(self) -> list[NodeState]:
        """Every leaf (question, note, calculate, metadata) of the record in document order."""
        return [self._state(i) for i in self.tree.nodes() if i.template.is_leaf]

    def eval_nodes(self) -> list[NodeState]:
        """Questions and calculates (no metadata, no meta group): what ``forms eval`` prints."""
        return [
            self._state(i)
            for i in self.tree.nodes()
            if i.template.is_leaf
            and i.template.kind in {"question", "calculate", "note"}
            and not i.template.path.startswith(f"/{self.form.root}/meta/")
        ]

    def questions(self) -> list[NodeState]:
        """The visible questions and notes, in navigation (document) order."""
        out = []
        for inst in self.tree.nodes():
            template = inst.template
            if template.kind in {"question", "note"} and inst.relevant:
                out.append(self._state(inst))
        return out

    def problems(self) -> list[Problem]:
        """What stops finalizing: required answers missing, constraints not met."""
        out = []
        for inst in self.tree.nodes():
            if inst.template.kind not in {"question"}:
                continue
            state = self._state(inst)
            if state.required_empty:
                message = state.required_message or "an answer is required"
                out.append(Problem(state.path, state.name, message))
            elif not state.constraint_valid:
                message = state.constraint_message or "the answer is not allowed"
                out.append(Problem(state.path, state.name, message))
        return out

    def answers(self) -> dict[str, str]:
        """The raw answers (a draft): every leaf's value, kept even while non-relevant."""
        return {inst.path: inst.value for inst in self.tree.nodes() if inst.template.is_leaf}

    def submission(self) -> dict[str, str]:
        """What a finalized record holds: every leaf's text, empty where non-relevant."""
        end = _values.now_text(self._clock())
        out = {}
        for inst in self.tree.nodes():
            if not inst.template.is_leaf:
                continue
            text = inst.text()
            if inst.template.type == "end":
                text = end
            out[inst.path] = text
        return out


def _inside(node: InstanceNode, ids: set[int]) -> bool:
    """True when an ancestor of ``node`` is one of ``ids``."""
    parent = node.parent
    while parent is not None:
        if id(parent) in ids:
            return True
        parent = parent.parent
    return False
