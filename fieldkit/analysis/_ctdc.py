"""Answers as CTDC codes: the bundled forms' ``ctdc`` column, written the way CTDC's global
dataset writes its variables (DOMAIN §6).

The survey column ``ctdc`` names the CTDC variable a field maps to. With ``--codes ctdc`` the
export writes that variable instead of the field, under the variable's name: categories as
CTDC spells them, yes/no items as 1/0, and -99 where CTDC has no value (blank, "don't know",
"prefer not", or a category CTDC does not list). An unknown country is ``00``, as in CTDC.
A multiple choice becomes CTDC's one-flag-per-category variables (``isForcedLabour``…); an
answer that names none of CTDC's categories is -99 in every flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["MISSING", "UNKNOWN_COUNTRY", "ctdc_columns", "known_variable"]

MISSING = -99
UNKNOWN_COUNTRY = "00"

_GENDER = {"female": "Female", "male": "Male"}
_AGE = {
    "0_8": "0--8",
    "9_17": "9--17",
    "18_20": "18--20",
    "21_23": "21--23",
    "24_26": "24--26",
    "27_29": "27--29",
    "30_38": "30--38",
    "39_47": "39--47",
    "48_plus": "48+",
}
_MAJORITY = {"yes": "Minor", "no": "Adult"}
_YES_NO = {"yes": 1, "no": 0}
# typeOfExploit (select_multiple exploitation_type) → CTDC's flag per type.
_EXPLOIT = {
    "forced_labour": "isForcedLabour",
    "sexual": "isSexualExploit",
    "forced_marriage": "isForcedMarriage",
    "forced_military": "isForcedMilitary",
    "organ_removal": "isOrganRemoval",
    "slavery": "isSlaveryAndPractices",
    "other": "isOtherExploit",
}
# typeOfLabour (select_one labour_sector) → CTDC's flag per sector.
_LABOUR = {
    "agriculture": "typeOfLabourAgriculture",
    "aquafarming": "typeOfLabourAquafarming",
    "begging": "typeOfLabourBegging",
    "construction": "typeOfLabourConstruction",
    "domestic_work": "typeOfLabourDomesticWork",
    "hospitality": "typeOfLabourHospitality",
    "illicit_activities": "typeOfLabourIllicitActivities",
    "manufacturing": "typeOfLabourManufacturing",
    "mining_drilling": "typeOfLabourMiningOrDrilling",
    "peddling": "typeOfLabourPeddling",
    "transportation": "typeOfLabourTransportation",
    "other": "typeOfLabourOther",
}
_CATEGORIES: dict[str, Mapping[str, str]] = {
    "gender": _GENDER,
    "ageBroad": _AGE,
    "majorityStatus": _MAJORITY,
    "majorityStatusAtExploit": _MAJORITY,
}
_FLAGS = {"typeOfExploit": _EXPLOIT, "typeOfLabour": _LABOUR}


def known_variable(variable: str) -> bool:
    """Whether ``variable`` (a form's ``ctdc`` value) has a coding here."""
    return (
        variable in _CATEGORIES
        or variable in _FLAGS
        or variable in ("citizenship", "CountryOfExploitation")
        or variable.startswith(("meansOfControl", "is", "recruiterRelation"))
    )


def ctdc_columns(variable: str, text: pd.Series[Any]) -> dict[str, pd.Series[Any]]:
    """The CTDC column(s) for a field's answers (names, blank where unanswered)."""
    import pandas as pd

    answers = text.astype("str")
    if variable in _CATEGORIES:
        mapping = _CATEGORIES[variable]
        coded = answers.map(lambda v: mapping.get(v, MISSING) if isinstance(v, str) else MISSING)
        return {variable: coded.astype("object")}
    if variable in ("citizenship", "CountryOfExploitation"):
        # ISO 3166 alpha-2 as CTDC has it; "00" (not known) stays; anything else has no code.

        def country(v: Any) -> Any:
            if not isinstance(v, str) or not v:
                return MISSING
            if v == UNKNOWN_COUNTRY or (len(v) == 2 and v.isalpha() and v.isupper()):
                return v
            return MISSING

        return {variable: answers.map(country).astype("object")}
    if variable in _FLAGS:
        flags = _FLAGS[variable]
        out: dict[str, pd.Series[Any]] = {}
        # An answer naming no CTDC category ("don't know", or the hotline's "child", which
        # says who, not which exploitation) is missing, never a 0 ("not this type") for all.
        tokens = answers.map(
            lambda v: set(v.split()) & set(flags) or None if isinstance(v, str) and v else None
        )
        for choice, name in flags.items():
            out[name] = pd.Series(
                [MISSING if t is None else int(choice in t) for t in tokens],
                index=text.index,
                dtype="Int64",
            )
        return out
    # A yes/no item (meansOfControl…, is…, recruiterRelation…): 1, 0, or -99.
    coded = answers.map(lambda v: _YES_NO.get(v, MISSING) if isinstance(v, str) else MISSING)
    return {variable: coded.astype("Int64")}
