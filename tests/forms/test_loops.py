"""``begin loop over LIST``: one group per choice, ``%(name)s``/``%(label)s`` filled in everywhere.

pyxform fills them in every text of a loop's question and one level down in its dictionaries
(bind: relevant, constraint, calculation, messages; control; parameters). ODK's own engine on
the same form: diff_forms/loops.md in test_session_vs_odk.py.
"""

from __future__ import annotations

from collections.abc import Callable

from fieldkit.forms import Form, FormSession

LOOP = """\
| survey |
| | type | name | label::en | label::fr | relevant | constraint | constraint_message | calculation |
| | select_multiple transport | used | Used | Utilisé | | | | |
| | begin loop over transport | trip | Trips | Trajets | | | | |
| | integer | times | By %(label)s | En %(label)s | selected(${used}, '%(name)s') | . < 9 | No %(name)s | |
| | calculate | tag | | | | | | concat('%(name)s', '-', count-selected(${used})) |
| | end loop | | | | | | | |
| choices |
| | list_name | name | label::en | label::fr |
| | transport | bus | bus | bus |
| | transport | boat | boat | bateau |
"""  # noqa: E501


def test_loop_expressions_are_filled_per_choice(md_form: Callable[[str], Form]) -> None:
    form = md_form(LOOP)
    boat = form.node("/data/trip/boat/times")
    assert boat.relevant == "selected(${used}, 'boat')"
    assert boat.label("fr") == "En bateau" and boat.label("en") == "By boat"
    assert boat.constraint_message() == "No boat"
    session = FormSession(form)
    session.set("used", "boat")
    assert session.node("/data/trip/boat/times").relevant
    assert not session.node("/data/trip/bus/times").relevant
    assert session.node("/data/trip/bus/tag").value == "bus-1"
    session.set("/data/trip/boat/times", "12")
    boat_state = session.node("/data/trip/boat/times")
    assert not boat_state.constraint_valid and boat_state.constraint_message == "No boat"
