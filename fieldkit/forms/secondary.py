"""The form's secondary instances: what ``instance('id')/root/item`` reads in expressions.

pyxform writes one secondary instance per choice list a question uses: id = the list name for
the choices sheet, the file name without its extension for ``select_*_from_file``
(``places.geojson`` → ``instance('places')``). Each choice is an ``item`` whose children are:

- choices sheet: ``name``, ``label`` (``itextId``, ``LIST-N``, when the labels are
  translated: the label then lives in the form's translations) and every other column;
- choice file: its columns as ODK reads the file (choice_files.py), e.g. a GeoJSON feature's
  ``geometry``, ``id`` and properties — so ``instance('places')/root/item[id=${place}]/geometry``
  gives the chosen place's location, as in ODK.

Built once per Form (the choices never change during a record) and shared by its sessions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fieldkit.forms.choice_files import CHOICE_FILE_SUFFIXES

if TYPE_CHECKING:
    from fieldkit.forms.model import Choice, Form
    from fieldkit.forms.xpath import StaticNode

__all__ = ["choice_item", "secondary_instances"]


def choice_item(choice: Choice, *, label: str, itext_id: str | None = None) -> StaticNode:
    """One choice as ODK's ``item`` element (``label`` is the text in the current language)."""
    from fieldkit.forms.xpath import StaticNode

    if choice.item:
        return StaticNode("item", children=[StaticNode(k, v) for k, v in choice.item])
    head = [StaticNode("itextId", itext_id)] if itext_id is not None else []
    head.append(StaticNode("name", choice.name))
    if itext_id is None:
        head.append(StaticNode("label", label))
    return StaticNode(
        "item", children=[*head, *(StaticNode(k, v) for k, v in choice.extra.items())]
    )


def secondary_instances(form: Form) -> dict[str, StaticNode]:
    """Instance id → its ``root`` element, for every choice list the form's questions use."""
    from fieldkit.forms.xpath import StaticNode

    out: dict[str, StaticNode] = {}
    for node in form.walk():
        list_name = node.list_name
        if not list_name or list_name.startswith("external:"):
            continue
        if list_name.lower().endswith(CHOICE_FILE_SUFFIXES):
            instance_id = Path(list_name).stem
        else:
            instance_id = list_name
        if instance_id in out:
            continue
        translated = any(lang != "default" for c in node.choices for lang in c.labels)
        items = [
            choice_item(
                choice,
                label=choice.label(form.initial_language),
                itext_id=f"{list_name}-{index}" if translated and not choice.item else None,
            )
            for index, choice in enumerate(node.choices)
        ]
        out[instance_id] = StaticNode("root", children=items)
    return out
