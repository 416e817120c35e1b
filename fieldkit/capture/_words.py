"""The interview's own words in English and French (issue 12: they follow ``:lang``).

Form text (labels, hints, messages) comes from the form in its own languages; these are the
words fieldkit adds around it. The language is taken from the form's current language
("French (fr)" → ``fr``); anything without a catalogue here falls back to English.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WORDS", "language_code", "say"]

# key: (English, French). Keep the {placeholders} identical in both.
WORDS: dict[str, tuple[str, str]] = {
    # heading of a question
    "question": ("Question {number}", "Question {number}"),
    "progress": (
        "{answered} answered · at most {left} to go",
        "{answered} répondue(s) · au plus {left} restante(s)",
    ),
    "progress_last": (
        "{answered} answered · last question",
        "{answered} répondue(s) · dernière question",
    ),
    "required": ("required", "obligatoire"),
    "help_hint": (":help", ":help"),
    "offers": ("{what}", "{what}"),
    "offers_dk": (":dk don't know", ":dk ne sait pas"),
    "offers_pn": (":pn prefer not to answer", ":pn préfère ne pas répondre"),
    # prompts
    "enter_continue": ("[Enter to continue] > ", "[Entrée pour continuer] > "),
    "answered_hidden": ("answered, hidden", "répondu, masqué"),
    "hint_select_one": ("number", "numéro"),
    "hint_select_multiple": (
        "numbers, separated by spaces or commas",
        "numéros, séparés par des espaces ou des virgules",
    ),
    "hint_rank": ("all numbers in order of preference", "tous les numéros par ordre de préférence"),
    "hint_integer": ("whole number", "nombre entier"),
    "hint_decimal": ("number", "nombre"),
    "hint_range": ("number from {start} to {end}", "nombre de {start} à {end}"),
    "hint_date": ("YYYY-MM-DD or today", "AAAA-MM-JJ ou aujourd'hui"),
    "hint_time": ("HH:MM", "HH:MM"),
    "hint_datetime": ("YYYY-MM-DD HH:MM", "AAAA-MM-JJ HH:MM"),
    "hint_geopoint": ("latitude longitude", "latitude longitude"),
    "hint_acknowledge": ("type ok", "tapez ok"),
    "hint_proposed": ("Enter keeps it", "Entrée pour le garder"),
    # choice lists
    "choices_page": (
        "choices {first}–{last} of {total} · > next page · < previous · letters filter",
        "choix {first} à {last} sur {total} · > page suivante · < précédente · des lettres "
        "filtrent",
    ),
    "choices_all": (
        "{total} choices · letters filter the list",
        "{total} choix · des lettres filtrent la liste",
    ),
    "choices_filtered": (
        "{count} of {total} match “{query}” · * whole list",
        "{count} sur {total} correspondent à « {query} » · * toute la liste",
    ),
    "choices_filtered_page": (
        "{first}–{last} of {count} matching “{query}” · > next · < previous · * whole list",
        "{first} à {last} sur {count} pour « {query} » · > suivant · < précédent · * toute la "
        "liste",
    ),
    "choices_none": (
        "nothing matches “{query}” · * whole list",
        "rien ne correspond à « {query} » · * toute la liste",
    ),
    "choices_collapsed": (
        "{total} choices: type part of a name to filter, or * to list them",
        "{total} choix : tapez une partie d'un nom pour filtrer, ou * pour les lister",
    ),
    "picked": ("→ {label}", "→ {label}"),
    # warnings
    "choose_number": (
        "choose a number from 1 to {count} (or =NAME for a choice by its name)",
        "choisissez un numéro de 1 à {count} (ou =NOM pour un choix par son nom)",
    ),
    "no_choice_name": ("no choice has that name", "aucun choix ne porte ce nom"),
    "required_no_pn": (
        "this question needs an answer and does not offer “prefer not to answer”",
        "cette question demande une réponse et ne propose pas « préfère ne pas répondre »",
    ),
    "required_no_dk": (
        "this question needs an answer and does not offer “don't know”",
        "cette question demande une réponse et ne propose pas « ne sait pas »",
    ),
    "optional_no_pn": (
        "this question does not offer “prefer not to answer”; :skip leaves it empty",
        "cette question ne propose pas « préfère ne pas répondre » ; :skip la laisse vide",
    ),
    "optional_no_dk": (
        "this question does not offer “don't know”; :skip leaves it empty",
        "cette question ne propose pas « ne sait pas » ; :skip la laisse vide",
    ),
    "whole_number": ("enter a whole number, e.g. 12", "entrez un nombre entier, par ex. 12"),
    "a_number": ("enter a number, e.g. 3.5", "entrez un nombre, par ex. 3,5"),
    "finite": ("enter a finite number", "entrez un nombre fini"),
    "date_and_time": (
        "enter a date and time as YYYY-MM-DD HH:MM",
        "entrez une date et une heure au format AAAA-MM-JJ HH:MM",
    ),
    "date_format": (
        "enter a date as YYYY-MM-DD, e.g. 2024-03-31, or today",
        "entrez une date au format AAAA-MM-JJ, par ex. 2024-03-31, ou aujourd'hui",
    ),
    "date_missing": (
        "that date does not exist; enter it as YYYY-MM-DD",
        "cette date n'existe pas ; entrez-la au format AAAA-MM-JJ",
    ),
    "time_format": (
        "enter a time as HH:MM, e.g. 14:30",
        "entrez une heure au format HH:MM, par ex. 14:30",
    ),
    "geopoint_format": (
        'enter a location as "latitude longitude", e.g. -1.28 36.82',
        "entrez un lieu sous la forme « latitude longitude », par ex. -1.28 36.82",
    ),
    "geopoint_range": (
        "latitude must be within -90..90 and longitude within -180..180",
        "la latitude doit être entre -90 et 90 et la longitude entre -180 et 180",
    ),
    "acknowledge": (
        "type ok to acknowledge, or press Enter to leave it",
        "tapez ok pour confirmer, ou Entrée pour laisser",
    ),
    "question_required": ("this question is required", "cette question est obligatoire"),
    "not_allowed": ("this answer is not allowed here", "cette réponse n'est pas permise ici"),
    "no_question_here": ("there is no question here to answer", "il n'y a pas de question ici"),
    "no_such_step": (
        "no visible question by that number or name; :review lists them",
        "aucune question visible avec ce numéro ou ce nom ; :review les liste",
    ),
    "languages": ("this form's languages: {offered}", "langues de ce formulaire : {offered}"),
    "language_now": ("Language: {language}", "Langue : {language}"),
    "language_intro": (
        "Language: {language} (also {others}: :lang CODE)",
        "Langue : {language} (aussi {others} : :lang CODE)",
    ),
    "file_prompt": (
        "path to the {kind} (Tab completes; Enter skips) > ",
        "chemin du fichier {kind} (Tab complète ; Entrée passe) > ",
    ),
    "file_answered": (
        "a file is taken: {name} (Enter keeps it)",
        "fichier pris : {name} (Entrée le garde)",
    ),
    "file_stripped": (
        "copied into the encrypted workspace ({size}); location, camera serial, owner and "
        "thumbnail removed",
        "copié dans l'espace chiffré ({size}) ; lieu, numéro de l'appareil, propriétaire et "
        "vignette retirés",
    ),
    "file_kept_metadata": (
        "copied into the encrypted workspace ({size}); its metadata is kept, as this form asks",
        "copié dans l'espace chiffré ({size}) ; ses métadonnées sont gardées, comme le "
        "demande ce formulaire",
    ),
    "file_copied": (
        "copied into the encrypted workspace ({size})",
        "copié dans l'espace chiffré ({size})",
    ),
    "file_delete": (
        "delete the original from the {folder} folder? [y/N] > ",
        "supprimer l'original du dossier {folder} ? [o/N] > ",
    ),
    "file_deleted": ("the original was deleted", "l'original a été supprimé"),
    "file_left": (
        "the original stays where it was (it is not encrypted there)",
        "l'original reste où il était (il n'y est pas chiffré)",
    ),
    "kind_image": ("photo", "photo"),
    "kind_audio": ("recording", "enregistrement"),
    "kind_video": ("video", "vidéo"),
    "kind_file": ("file", "fichier"),
    "form_media": (
        "this question has {what}: open it with `fieldkit forms media {form} {file} --out PATH`",
        "cette question a {what} : ouvrez-la avec "
        "`fieldkit forms media {form} {file} --out CHEMIN`",
    ),
    "media_image": ("a picture", "une image"),
    "media_big_image": ("a large picture", "une grande image"),
    "media_audio": ("a sound", "un son"),
    "media_video": ("a video", "une vidéo"),
    "media": (
        "a {kind} cannot be taken in the terminal: it stays empty",
        "un fichier {kind} ne peut pas être pris dans le terminal : il reste vide",
    ),
    "range": ("enter a number from {start} to {end}", "entrez un nombre de {start} à {end}"),
    "range_step": (
        "enter a number from {start} to {end} in steps of {step}",
        "entrez un nombre de {start} à {end} par pas de {step}",
    ),
    "not_in_repeat": (
        "this question is not inside a repeat",
        "cette question n'est pas dans une répétition",
    ),
    "answer_yn": ("answer y or n", "répondez o ou n"),
    "add_another": ("Add another {label}?", "Ajouter un autre élément « {label} » ?"),
    "add_first": ("Add a {label}?", "Ajouter un élément « {label} » ?"),
    "remove_instance": (
        "Remove this {label} and all its answers? (y/n)",
        "Supprimer cet élément « {label} » et toutes ses réponses ? (o/n)",
    ),
    "yn": ("(y/n)", "(o/n)"),
    "unknown_command": (
        "unknown command; type :help for the list",
        "commande inconnue ; :help donne la liste",
    ),
    # start, resume, leave
    "greet": ("form {form}", "formulaire {form}"),
    "greet_draft": ("draft {record}", "brouillon {record}"),
    "greet_edit": ("new version of {record}", "nouvelle version de {record}"),
    "greet_keys": (
        ":help for commands · :q or Ctrl-C to leave at once",
        ":help pour les commandes · :q ou Ctrl-C pour partir tout de suite",
    ),
    "resuming": (
        "Resuming at question {number}; earlier answers are kept (:review shows them).",
        "Reprise à la question {number} ; les réponses précédentes sont gardées (:review les "
        "montre).",
    ),
    "older_version": (
        "This draft was started on version {old} of the form; version {new} is now on this "
        "laptop. It continues on version {old}, the questions its answers were given to.",
        "Ce brouillon a été commencé avec la version {old} du formulaire ; la version {new} est "
        "maintenant sur cet ordinateur. Il continue avec la version {old}, celle des questions "
        "auxquelles ses réponses ont été données.",
    ),
    "saved": (
        "Draft saved. Resume with: fieldkit capture --resume {record}",
        "Brouillon enregistré. Pour reprendre : fieldkit capture --resume {record}",
    ),
    "finalized": ("Finalized. Record {record}", "Finalisé. Fiche {record}"),
    "finalized_case": (
        "Case code {code}: write it on the person's card.",
        "Code de dossier {code} : notez-le sur la carte de la personne.",
    ),
    # review
    "review": ("Review", "Relecture"),
    "review_question": ("question", "question"),
    "review_answer": ("answer", "réponse"),
    "review_missing": ("(missing)", "(manquante)"),
    "review_skipped": ("(skipped)", "(passée)"),
    "review_not_asked": ("(not asked yet)", "(pas encore posée)"),
    "review_sensitive": ("(sensitive)", "(sensible)"),
    "review_note": ("note", "note"),
    "review_computed": ("Computed by the form", "Calculé par le formulaire"),
    "review_keys": (
        "number = change that answer · f = finalize · s = show/hide sensitive answers · "
        "Enter = back to the questions · :q = quick exit",
        "numéro = modifier cette réponse · f = finaliser · s = montrer/masquer les réponses "
        "sensibles · Entrée = retour aux questions · :q = sortie rapide",
    ),
    "review_type": (
        "type a question number from the list, f, s or Enter",
        "tapez un numéro de question de la liste, f, s ou Entrée",
    ),
    "cannot_finalize": (
        "Cannot finalize yet: {problems}",
        "Finalisation impossible pour l'instant : {problems}",
    ),
    # the case and its consent
    "case_first": (
        "First the case code, so that the person's consent can be checked.",
        "D'abord le code de dossier, pour vérifier le consentement de la personne.",
    ),
    "case_proposed": (
        "fieldkit proposes the new case code {code}: Enter keeps it (write it on the person's "
        "card); a person who already has a code gives that one.",
        "fieldkit propose le nouveau code de dossier {code} : Entrée le garde (notez-le sur la "
        "carte de la personne) ; une personne qui a déjà un code donne celui-ci.",
    ),
    "case_bad": (
        "{code} is not a case code made by fieldkit (a letter or digit is wrong: the last "
        "character does not match).",
        "{code} n'est pas un code de dossier créé par fieldkit (une lettre ou un chiffre est "
        "faux : le dernier caractère ne correspond pas).",
    ),
    "case_unknown": (
        "No consent on this laptop for case code {code}.",
        "Aucun consentement sur cet ordinateur pour le code de dossier {code}.",
    ),
    "did_you_mean": ("Did you mean {codes}?", "Vouliez-vous dire {codes} ?"),
    "case_retype": (
        "Check the person's card and type the code again.",
        "Vérifiez la carte de la personne et tapez le code à nouveau.",
    ),
    "case_found": (
        "Consent of {day} found for case {code}: {scopes}.",
        "Consentement du {day} trouvé pour le dossier {code} : {scopes}.",
    ),
    "case_override": (
        "This form can still be finalized with a legal basis recorded ({question}).",
        "Ce formulaire peut quand même être finalisé si une base légale est enregistrée "
        "({question}).",
    ),
    "case_not_covered": (
        "The person's consent does not cover what this form needs: {reason}.",
        "Le consentement de la personne ne couvre pas ce dont ce formulaire a besoin : {reason}.",
    ),
    "case_not_covered_next": (
        "Ask the person when it is safe; a new consent with the same case code "
        "(fieldkit capture consent) records what they agree to. :q leaves.",
        "Demandez à la personne quand c'est sûr ; un nouveau consentement avec le même code "
        "(fieldkit capture consent) enregistre ce qu'elle accepte. :q pour partir.",
    ),
    "defaults_title": (
        "From the consent record of case {code} ({day}):",
        "Repris du consentement du dossier {code} ({day}) :",
    ),
    "defaults_ask": (
        "Enter = use these answers · n = answer each question (they are offered as defaults)",
        "Entrée = garder ces réponses · n = répondre à chaque question (elles sont proposées)",
    ),
    "defaults_today": ("today", "aujourd'hui"),
    "agency_ok": (
        "The person's consent lists this agency.",
        "Le consentement de la personne mentionne cet organisme.",
    ),
    "agency_not_listed": (
        "The person's consent does not list this agency (it lists: {partners}). This form "
        "can be finalized only with a legal basis recorded.",
        "Le consentement de la personne ne mentionne pas cet organisme (il mentionne : "
        "{partners}). Ce formulaire ne peut être finalisé qu'avec une base légale enregistrée.",
    ),
    "agency_no_consent": (
        "No consent on this laptop for this case: this form can be finalized only with a legal "
        "basis recorded.",
        "Aucun consentement sur cet ordinateur pour ce dossier : ce formulaire ne peut être "
        "finalisé qu'avec une base légale enregistrée.",
    ),
    "nobody": ("no partner", "aucun partenaire"),
    "scope_interview": ("answering questions", "répondre aux questions"),
    "scope_store": ("keeping the answers", "garder les réponses"),
    "scope_contact": ("being contacted again", "être recontacté(e)"),
    "scope_share": ("sharing with a named partner", "partage avec un partenaire nommé"),
    "scope_statistics": ("anonymous statistics", "statistiques anonymes"),
    "scopes_none": ("nothing", "rien"),
    "reason_not_given": (
        "the latest consent of this case refuses or withdraws consent",
        "le dernier consentement de ce dossier refuse ou retire le consentement",
    ),
    "reason_missing": (
        "the latest consent of this case does not include {scopes}",
        "le dernier consentement de ce dossier n'inclut pas : {scopes}",
    ),
    "case_existing": (
        "Case {code} already has a consent of {day} on this laptop: this one will be the latest.",
        "Le dossier {code} a déjà un consentement du {day} sur cet ordinateur : celui-ci sera le "
        "plus récent.",
    ),
    # emergencies
    "emergency_contacts": ("Emergency contacts", "Contacts d'urgence"),
    "emergency_none": (
        "No emergency contacts configured for this project: ask your coordinator.",
        "Aucun contact d'urgence configuré pour ce projet : demandez à votre coordinateur.",
    ),
    # drafts
    "drafts_none": ("No drafts on this laptop.", "Aucun brouillon sur cet ordinateur."),
    "drafts_title": ("Drafts on this laptop", "Brouillons sur cet ordinateur"),
    "drafts_pick": (
        "Draft number (Enter to cancel) > ",
        "Numéro du brouillon (Entrée pour annuler) > ",
    ),
    "drafts_bad": ("choose a number from 1 to {count}", "choisissez un numéro de 1 à {count}"),
    "case_column": ("case", "dossier"),
    "form_column": ("form", "formulaire"),
    "saved_column": ("saved", "enregistré"),
    "id_column": ("id", "id"),
}

# The help screen, one (keys, what) pair per line, in both languages.
HELP: tuple[tuple[str, str, str], ...] = (
    (
        "Enter",
        "keep the value shown in [brackets], or skip a question that is not required",
        "garder la valeur entre [crochets], ou passer une question non obligatoire",
    ),
    (":b  :back", "go back one question", "revenir à la question précédente"),
    (
        ":j N  :jump N|name",
        "go to question N (or by its name)",
        "aller à la question N (ou par son nom)",
    ),
    (
        ":r  :review",
        "review every answer; change one; finalize",
        "relire les réponses ; en modifier une ; finaliser",
    ),
    (
        ":l CODE  :lang CODE",
        "switch the form's language, e.g. :lang fr",
        "changer la langue du formulaire, par ex. :lang en",
    ),
    (
        ":skip",
        "leave this question empty (recorded as skipped, never as 'no')",
        "laisser cette question vide (noté comme passé, jamais comme « non »)",
    ),
    (
        ":dk  :pn",
        "don't know / prefer not to answer, where the question offers them",
        "ne sait pas / préfère ne pas répondre, quand la question les propose",
    ),
    (
        "=NAME",
        "a choice by its name instead of its number (=0 for the choice named 0)",
        "un choix par son nom plutôt que par son numéro (=0 pour le choix nommé 0)",
    ),
    (
        "> < *",
        "in a long list: next page, previous page, the whole list again; letters filter it",
        "dans une longue liste : page suivante, précédente, toute la liste ; des lettres la "
        "filtrent",
    ),
    (
        ":del",
        "remove this repeat entry (e.g. a household member added by mistake)",
        "supprimer cette répétition (par ex. un membre du ménage ajouté par erreur)",
    ),
    (
        ":s  :save",
        "save the draft and stop; resume later with --resume",
        "enregistrer le brouillon et arrêter ; reprendre plus tard avec --resume",
    ),
    (
        ":q  !!  Ctrl-C",
        "QUICK EXIT: save the draft, clear the screen, lock the workspace",
        "SORTIE RAPIDE : enregistrer, effacer l'écran, verrouiller l'espace de travail",
    ),
    (":h  :help", "this help", "cette aide"),
)


def language_code(lang: str | None) -> str:
    """``French (fr)`` → ``fr``; ``fr`` → ``fr``; anything unknown → ``en``."""
    if not lang:
        return "en"
    lowered = lang.strip().lower()
    code = lowered.rsplit("(", 1)[-1].rstrip(")").strip() if "(" in lowered else lowered
    if code.startswith("fr") or lowered.startswith("fran") or lowered.startswith("french"):
        return "fr"
    return "en"


def say(key: str, lang: str | None = None, **values: Any) -> str:
    """The interview's word ``key`` in the language of ``lang`` (a form language or a code)."""
    english, french = WORDS[key]
    text = french if language_code(lang) == "fr" else english
    return text.format(**values) if values else text


def help_lines(lang: str | None) -> list[tuple[str, str]]:
    """The help screen's lines in the language of ``lang``."""
    french = language_code(lang) == "fr"
    return [(keys, fr if french else en) for keys, en, fr in HELP]
