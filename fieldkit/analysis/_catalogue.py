"""What each indicator means (DOMAIN §7, §9): the texts the report prints beside its figures.

One entry per indicator, keyed as in the JSON output; ``indicators.py`` computes the figures.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["CATALOGUE", "Meaning"]


class Meaning(NamedTuple):
    """An indicator's area, title, definition, numerator and denominator texts, and unit."""

    area: str
    title: str
    definition: str
    numerator: str
    denominator: str
    unit: str  # count | percent | days | per_case | points


CATALOGUE: dict[str, Meaning] = {
    "people_reached": Meaning(
        "prevention",
        "People reached by awareness work",
        "Sum of the people reached recorded on needs-assessment records of awareness events.",
        "people reached (awareness_reached, summed)",
        "—",
        "count",
    ),
    "warning_signs_3": Meaning(
        "prevention",
        "Respondents able to name at least 3 warning signs",
        (
            "Share of needs-assessment respondents who answered the warning-signs question and "
            'selected at least 3 signs ("none", "don\'t know" and "prefer not" are not signs).'
        ),
        "respondents selecting ≥ 3 warning signs",
        "respondents who answered the warning-signs question",
        "percent",
    ),
    "people_screened": Meaning(
        "protection",
        "People screened",
        (
            "Distinct people with an adult or youth screening result (positive, negative or "
            "inconclusive) in the period. A young person who declined the screening has no "
            "result and is not counted here (see the next indicator)."
        ),
        "people screened",
        "—",
        "count",
    ),
    "youth_screening_declined": Meaning(
        "protection",
        "Young people who declined the screening",
        (
            "Distinct young people who declined the youth screening (youth_refused = yes) and "
            'have no screening result in the period. "Youth refused" is a valid outcome; they '
            "are in neither the people screened nor the screen-positive rate."
        ),
        "young people who declined",
        "—",
        "count",
    ),
    "screen_positive_rate": Meaning(
        "protection",
        "Screen-positive rate",
        "Share of people screened with a result who screened positive at least once.",
        "people with a positive screen",
        "people with a screening result (positive, negative or inconclusive)",
        "percent",
    ),
    "presumed_victims": Meaning(
        "protection",
        "Presumed victims identified",
        "Distinct people with a positive adult or youth screening in the period.",
        "people with a positive screen",
        "—",
        "count",
    ),
    "referrals_made": Meaning(
        "protection",
        "Referrals made",
        (
            "Referral records that could be sent (consent or a recorded legal basis), by the "
            "services asked for (one referral may ask for several)."
        ),
        "referrals that could be sent",
        "—",
        "count",
    ),
    "referrals_accepted": Meaning(
        "protection",
        "Referrals accepted",
        "Share of referrals made whose status (as its case events left it) is accepted, in "
        "progress or done.",
        "referrals accepted, in progress or done",
        "referrals made",
        "percent",
    ),
    "referrals_completed": Meaning(
        "protection",
        "Referrals completed",
        "Share of referrals made whose status (as its case events left it) is done.",
        "referrals done",
        "referrals made",
        "percent",
    ),
    "emergency_requests": Meaning(
        "protection",
        "Emergency requests",
        "Referrals made that ask for shelter, emergency extraction or emergency transport.",
        "referrals asking for an emergency service",
        "—",
        "count",
    ),
    "identified_receiving_service": Meaning(
        "protection",
        "Identified people receiving at least one service",
        (
            "Share of people identified (positive screen) in the period with a referral whose "
            "service has started (a service start date, or status in progress or done), at any "
            "time up to the report."
        ),
        "identified people with a started service",
        "people identified",
        "percent",
    ),
    "days_to_first_service": Meaning(
        "protection",
        "Days from identification to first service",
        (
            "Median, over identified people with a service start on or after their first "
            "positive screen, of the days between the two; a service starts the day a case "
            "event moves its referral to in progress (or done), or on the referral's recorded "
            "start date."
        ),
        "days from first positive screen to first service start",
        "people counted",
        "days",
    ),
    "follow_ups_per_case": Meaning(
        "protection",
        "Follow-ups per case",
        "Follow-up visits done in the period, divided by the people with a follow-up due (or "
        "recorded) in it.",
        "follow-up visits done",
        "people with a follow-up due",
        "per_case",
    ),
    "follow_ups_on_time": Meaning(
        "protection",
        "Follow-ups done on time",
        (
            "Share of follow-ups due in the period that were done on or before their due date. "
            "From the cases: the visits scheduled 1, 3, 6 and 12 months after the screening, "
            "done, missed, or past their due day without a visit."
        ),
        "follow-ups done on or before the due date",
        "follow-ups done or missed",
        "percent",
    ),
    "case_closure_rate": Meaning(
        "protection",
        "Case closure rate",
        "Share of people with a follow-up due whose case is closed (closed by a case event, "
        "or at a follow-up visit, and not reopened).",
        "people whose case is closed",
        "people with a follow-up due",
        "percent",
    ),
    "active_referral_partners": Meaning(
        "partnership",
        "Active referral partners",
        (
            'Distinct receiving agencies named on referrals made in the period ("other" not '
            "counted). A count of organisations, not people: published as is."
        ),
        "agencies with at least one referral",
        "—",
        "count",
    ),
    "awareness_sessions": Meaning(
        "prevention",
        "Awareness sessions held",
        "Awareness-session records (one per workshop or outreach event) in the period.",
        "events recorded",
        "—",
        "count",
    ),
    "awareness_participants": Meaning(
        "prevention",
        "People reached by awareness sessions",
        (
            "Sum of the people counted at awareness sessions, by sex and by minor or adult "
            "(the session form counts under 18 and 18 and over). Aggregate counts with no person "
            "behind them: published as they are."
        ),
        "people counted at sessions (summed)",
        "—",
        "count",
    ),
    "awareness_warning_signs_3": Meaning(
        "prevention",
        "Session participants naming at least 3 warning signs",
        (
            "Of the participants who took a session's knowledge check, the share who named at "
            "least 3 warning signs unprompted. Sessions without a check are left out."
        ),
        "participants naming ≥ 3 signs (summed over sessions)",
        "participants who took the check (summed over sessions)",
        "percent",
    ),
    "hotline_contacts": Meaning(
        "protection",
        "Hotline contacts",
        (
            "Calls and messages recorded by the hotline in the period, including those whose "
            "caller declined to say more (counted by channel and caller type only)."
        ),
        "hotline records",
        "—",
        "count",
    ),
    "hotline_referred": Meaning(
        "protection",
        "Hotline contacts referred",
        (
            "Share of hotline contacts with a recorded action that were referred to the police, "
            "a shelter or a partner, or had an emergency response sent. Contacts with no action "
            "recorded are left out, never counted as not referred."
        ),
        "contacts referred",
        "contacts with an action recorded",
        "percent",
    ),
    "shelter_admissions": Meaning(
        "protection",
        "Shelter admissions",
        "Distinct people with a shelter-stay record in the period.",
        "people admitted",
        "—",
        "count",
    ),
    "shelter_length_of_stay": Meaning(
        "protection",
        "Length of shelter stay",
        "Median, over stays that ended, of the days from admission to exit.",
        "days from admission to exit",
        "stays that ended",
        "days",
    ),
    "shelter_safe_exit": Meaning(
        "protection",
        "Shelter exits to a safe destination",
        (
            "Share of stays that ended with a known destination where the person went back to "
            "family, to independent living or to another shelter. Leaving without notice is not "
            'safe; "other" destinations are left out (not known).'
        ),
        "exits to family, independent living or another shelter",
        "exits to a known destination",
        "percent",
    ),
    "shelter_reintegration": Meaning(
        "protection",
        "Settled at shelter exit",
        (
            "Share of stays that ended whose reintegration status at exit is settled (a safe "
            'place to live and income, work or school lined up). "Don\'t know" is left out.'
        ),
        "exits settled",
        "exits settled, partly settled or not settled",
        "percent",
    ),
    "prosecutions_convicted": Meaning(
        "prosecution",
        "Prosecutions ending in conviction",
        (
            "Share of people whose latest legal-outcome record has a verdict (conviction or "
            "acquittal) where the verdict is a conviction. Pending cases are left out."
        ),
        "people with a conviction",
        "people with a verdict",
        "percent",
    ),
    "victim_witness_support": Meaning(
        "prosecution",
        "Victim-witnesses supported",
        (
            "Share of people in legal proceedings (latest legal-outcome record answers the "
            "question yes or no) who received victim-witness support."
        ),
        "people who received support",
        "people for whom support is recorded yes or no",
        "percent",
    ),
    "trainees": Meaning(
        "partnership",
        "Professionals trained",
        (
            "Distinct trainees (by course code and training code, never a name) who took a pre- "
            "or post-test in the period."
        ),
        "trainees tested",
        "—",
        "count",
    ),
    "training_score_gain": Meaning(
        "partnership",
        "Mean test score gain",
        (
            "Mean, over trainees with both a pre-test and a post-test under the same course and "
            "training code, of the post-test score minus the pre-test score (percentage points; "
            "the latest test of each kind). Shown per course, never per person."
        ),
        "post-test minus pre-test score, in points",
        "trainees with both tests",
        "points",
    ),
}
